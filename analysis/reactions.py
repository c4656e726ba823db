"""Pseudo-binary interfacial reaction energies, closed (chemical) or open to Li (electrochemical).

Closed system (chemical reactivity)
-----------------------------------
Normalise the reactants to one atom each (a = A/N_A, b = B/N_B) and mix them,
``m(x) = (1-x) a + x b``; x is the atom fraction of B. The reaction energy per atom of
mixture is

    E_rxn(x) = E_hull(m(x)) - x E(B) - (1-x) E(A)          (eV/atom)

E_hull along the line is convex and piecewise linear in x; its kinks are found exactly,
nothing is sampled. Two exact methods give the same kinks (tests and the benchmark check it):

* ``method="simplex"`` (default): E_hull(m(x)) = min{e.w : X w = m(x), w >= 0} is a
  linear program whose right-hand side moves along a line, so it is walked by parametric
  simplex (:func:`_parametric`): start from the elemental basis (always feasible), make it
  optimal at x = 0, then move x; the basis stays optimal while its phase amounts
  w_B(x) = B^-1 m(x) stay >= 0, a linear piece of E_hull with slope mu.(b - a), mu = c_B B^-1
  the element chemical potentials; where a phase runs out (an exact ratio test) one
  dual-simplex pivot brings in the phase the mixture forms next. One small dense pivot per
  breakpoint (the LPs have one row per element), about 20x cheaper than a HiGHS solve.
* ``method="tangents"``: :func:`sseflow.analysis.piecewise.convex_kinks` with an oracle that solves
  the hull LP of m(x) with HiGHS and returns the slope mu.(b - a) from the LP dual (about
  two LP solves per kink). It is also the fallback should the walk fail numerically.

Reactant energies E(A), E(B) (formation energies per atom): a value the caller gives;
otherwise the lowest-energy entry of the reference set with the same reduced composition;
otherwise (not in the reference set) the hull energy of the composition. The result says
which (``energy_source_a``/``energy_source_b``). A reactant above the hull therefore starts
its curve below zero (E_rxn(0) = E_hull(A) - E(A)), as in pymatgen's
``InterfacialReactivity(use_hull_energy=False)``.

Open system (electrochemical reactivity at a potential V vs Li/Li+)
-------------------------------------------------------------------
Li is exchanged with a reservoir at mu_Li = -V (formation-energy scale, Li metal = 0).
Following pymatgen's ``GrandPotentialInterfacialReactivity``, both reactants lose their Li
and are normalised to one non-Li atom (a', b'); y is the non-Li atom fraction of B and

    E_rxn(y) = Phi_hull(m'(y)) - y Phi(B) - (1-y) Phi(A)    (eV per non-Li atom)

with Phi the grand potential E - mu_Li N_Li. By default (pymatgen's default,
``include_no_mixing_energy=False``) Phi(A), Phi(B) are the grand-potential hull energies
of the reactants: each reactant is first equilibrated with the reservoir and E_rxn is
their *mutual* reaction (Zhu, He & Mo 2016 "mutual reaction energy"). With
``include_decomposition=True`` (pymatgen's ``include_no_mixing_energy=True``)
Phi(A) = (E(A) - mu_Li N_Li(A)) / N_nonLi(A) with E(A) as in the closed system, so each
reactant's own reduction/oxidation by the reservoir is part of E_rxn (the curve then
need not start at zero). The reported x is converted back to the atom fraction of B in the
mixture of the normalised *full* compositions, as pymatgen does; the energies stay per
non-Li atom of mixture.

Reactions are written per formula unit of A as given (coefficient 1), or per formula unit
of B at x = 1; in the open system the Li exchanged with the reservoir appears as ``Li`` on
the side it is on. ``energy_eV_per_reaction`` is E_rxn for the reaction as written. Each kink keeps
the exact coefficients of its reaction (``Kink.equation``; the string shows 4 significant figures)
and gives it as a pymatgen ``Reaction`` (``Kink.pmg_reaction``); ``ReactionResult.to_dataframe()``
tabulates the kinks, and results serialise with monty (:mod:`sseflow.analysis.results`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import formula_string, parse_formula, reduced_formula_and_size
from sseflow.analysis.hull import PhaseSpace
from sseflow.analysis.lp import INF, HighsLP
from sseflow.analysis.piecewise import convex_kinks
from sseflow.analysis.reference import ReferenceSet
from sseflow.analysis.results import MSONResult, ReactionEquation
from sseflow.analysis.window import LI, WindowCalculator

_X_EPS = 1e-9       # x closer than this to 0 or 1 counts as the end point
_PRODUCT_REL = 1e-7  # products below this atom fraction of the mixture are numerical dust


@dataclass(eq=False)
class Kink(MSONResult):
    x: float                      # atom fraction of B in the mixture of the normalised compositions
    energy_meV_per_atom: float    # E_rxn at x (per atom of mixture; per non-Li atom in the open system)
    reaction: str
    products: list[str]
    energy_eV_per_reaction: float = 0.0  # E_rxn of the reaction as written
    y: float = field(default=0.0, repr=False)  # the curve's own variable (= x in the closed system)
    equation: ReactionEquation | None = field(default=None, repr=False)  # ``reaction``, exact coefficients

    @property
    def pmg_reaction(self):
        """The reaction as written, as a pymatgen ``Reaction`` (per formula unit of A, of B at
        x = 1; Li of the reservoir as reactant or product); None without an equation."""
        return None if self.equation is None else self.equation.to_pymatgen()

    def to_dict(self) -> dict:
        return {"x": self.x, "energy_meV_per_atom": self.energy_meV_per_atom, "reaction": self.reaction,
                "products": list(self.products), "energy_eV_per_reaction": self.energy_eV_per_reaction}


@dataclass(eq=False)
class ReactionResult(MSONResult):
    reactant_a: str
    reactant_b: str
    potential_V: float | None
    minimum: Kink
    kinks: list[Kink]
    chemsys: str
    energy_source_a: str
    energy_source_b: str
    energy_a_eV_per_atom: float     # formation energy per atom of A used (closed-system meaning)
    energy_b_eV_per_atom: float
    normalisation: str
    reactant_energies: str
    notes: list[str] = field(default_factory=list)

    @property
    def min_energy_meV(self) -> float:
        return self.minimum.energy_meV_per_atom

    @property
    def reacts(self) -> bool:
        """True when the most negative point is more than 1 meV/atom below zero."""
        return self.minimum.energy_meV_per_atom < -1.0

    def energy_at(self, x: float) -> float:
        """E_rxn (meV/atom) at atom fraction ``x`` of B, from the kinks (exact between them)."""
        return float(np.interp(self._y_of_x(x), [k.y for k in self.kinks],
                               [k.energy_meV_per_atom for k in self.kinks]))

    def curve(self, per_segment: int = 24) -> tuple[np.ndarray, np.ndarray]:
        """(x, E_rxn meV/atom) points for drawing: the kinks, and in the open system points
        in between (the curve is straight in the non-Li fraction, not in x)."""
        if self.potential_V is None or per_segment <= 1:
            return (np.array([k.x for k in self.kinks]), np.array([k.energy_meV_per_atom for k in self.kinks]))
        xs, es = [], []
        for k0, k1 in zip(self.kinks[:-1], self.kinks[1:]):
            for s in np.linspace(0.0, 1.0, per_segment, endpoint=False):
                y = k0.y + s * (k1.y - k0.y)
                xs.append(self._x_of_y(y))
                es.append(k0.energy_meV_per_atom + s * (k1.energy_meV_per_atom - k0.energy_meV_per_atom))
        xs.append(self.kinks[-1].x)
        es.append(self.kinks[-1].energy_meV_per_atom)
        return np.array(xs), np.array(es)

    # x <-> y for the open system: f = non-Li atom fraction of each normalised reactant
    _fa: float = field(default=1.0, repr=False)
    _fb: float = field(default=1.0, repr=False)

    def _x_of_y(self, y: float) -> float:
        return _x_of_y(y, self._fa, self._fb)

    def _y_of_x(self, x: float) -> float:
        den = (1.0 - x) * self._fa + x * self._fb
        return 0.0 if den <= 0 else x * self._fb / den

    def to_dict(self) -> dict:
        return {
            "reactant_a": self.reactant_a,
            "reactant_b": self.reactant_b,
            "potential_V": self.potential_V,
            "minimum": self.minimum.to_dict(),
            "kinks": [k.to_dict() for k in self.kinks],
            "chemsys": self.chemsys,
            "energy_source_a": self.energy_source_a,
            "energy_source_b": self.energy_source_b,
            "energy_a_eV_per_atom": self.energy_a_eV_per_atom,
            "energy_b_eV_per_atom": self.energy_b_eV_per_atom,
            "normalisation": self.normalisation,
            "reactant_energies": self.reactant_energies,
            "notes": list(self.notes),
        }

    def to_dataframe(self):
        """The kinks as a pandas DataFrame (the data of pymatgen's
        ``InterfacialReactivity.get_dataframe``), one row per kink in x: ``x`` (atom fraction of
        B), ``E_rxn (meV/atom)`` (per non-Li atom in the open system), ``E_rxn (eV/reaction)``,
        ``reaction`` (as displayed), ``products`` and ``pmg_reaction`` (pymatgen ``Reaction``).
        ``attrs`` hold the reactants, the potential and the normalisation."""
        import pandas as pd

        columns = ["x", "E_rxn (meV/atom)", "E_rxn (eV/reaction)", "reaction", "products", "pmg_reaction"]
        df = pd.DataFrame([[k.x, k.energy_meV_per_atom, k.energy_eV_per_reaction, k.reaction, list(k.products),
                            k.pmg_reaction] for k in self.kinks], columns=columns)
        df.attrs.update(reactant_a=self.reactant_a, reactant_b=self.reactant_b, potential_V=self.potential_V,
                        normalisation=self.normalisation)
        return df


def _x_of_y(y: float, fa: float, fb: float) -> float:
    den = y * fa + (1.0 - y) * fb
    return 0.0 if den <= 0 else y * fa / den


class _LineLP:
    """The hull LP of one phase space, closed or open to Li at a chemical potential: the same
    LP as :meth:`PhaseSpace.hull` / :meth:`PhaseSpace.grand_hull` on the space's own ``X`` and
    ``e`` (rows ``rows`` of X, costs ``c``), for the parametric walk; the HiGHS model behind
    :meth:`solve` (tangent method and fallback) is made on first use."""

    def __init__(self, space: PhaseSpace, open_element: str | None = None):
        self.space = space
        self.k = None if open_element is None else space.index[open_element]
        self.rows = np.array([i for i in range(len(space.elements)) if i != self.k])
        self.mu = 0.0
        self.A = space.X[self.rows]
        self.c = np.array(space.e, dtype=float)    # e - mu X[Li] with mu = 0
        self._lp: HighsLP | None = None
        self._idx = np.arange(len(self.rows))
        # the elemental columns: a feasible (identity) basis for any composition
        single = (space.X > 0).sum(axis=0) == 1
        self.basis0 = []
        for i in self.rows:
            cols = np.flatnonzero(single & (space.X[i] > 0))
            self.basis0.append(int(cols[np.argmin(space.e[cols])]))

    @property
    def lp(self) -> HighsLP:
        if self._lp is None:
            n = self.A.shape[1]
            b0 = np.zeros(len(self.rows))
            self._lp = HighsLP(self.c, self.A, b0, b0, np.zeros(n), np.full(n, INF))
        return self._lp

    def set_mu(self, mu: float) -> None:
        if self.k is not None and mu != self.mu:
            self.c = self.space.e - mu * self.space.X[self.k]
            if self._lp is not None:
                self._lp.set_costs(self.c)
            self.mu = mu

    def solve(self, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(energy or grand potential, element chemical potentials of the kept rows, weights)."""
        r = b[self.rows]
        self.lp.set_row_bounds(self._idx, r, r)
        res = self.lp.solve()
        if res.status != "optimal":
            raise InputError(f"hull LP failed for composition {b}: {res.status}")
        return res.objective, res.row_dual, res.x


class ReactionCalculator:
    """Reaction curves of many pairs against one reference set.

    Phase spaces are shared through a :class:`WindowCalculator` cache keyed by element set
    (pass ``windows`` to share it with window calculations); the LP data of each space (and
    its HiGHS model, when the fallback needs one) are kept per space, so every pair of one
    chemical system reuses them.
    """

    def __init__(self, reference: ReferenceSet, exclude: Iterable[str] = (), windows: WindowCalculator | None = None):
        self.reference = reference
        self.exclude = tuple(exclude)
        self.windows = windows or WindowCalculator(reference, self.exclude)
        self._lines: dict[tuple, _LineLP] = {}
        self._fu: dict[int, tuple[str, float]] = {}
        self._own: dict[tuple, list] = {}   # reduced composition -> matching reference entries

    def space(self, elements: Iterable[str]) -> PhaseSpace:
        return self.windows.space(elements)

    def _line(self, space: PhaseSpace, open_element: str | None = None) -> _LineLP:
        key = (id(space), open_element)
        line = self._lines.get(key)
        if line is None or line.space is not space:
            line = self._lines[key] = _LineLP(space, open_element)
        return line

    def _formula_units(self, space: PhaseSpace, w: np.ndarray, total: float) -> list[tuple[str, float]]:
        """(reduced formula, formula units) of the phases of weights ``w``; numerical dust dropped."""
        out: dict[str, float] = {}
        for j in np.flatnonzero(w > _PRODUCT_REL * total):
            e = space.entries[j]
            fu = self._fu.get(id(e))
            if fu is None:
                fu = self._fu[id(e)] = reduced_formula_and_size(e.composition)
            out[fu[0]] = out.get(fu[0], 0.0) + float(w[j]) / fu[1]
        return sorted(out.items())

    def _hull_note(self, name: str) -> str:
        from sseflow.analysis.formula import reduced_formula_of

        if reduced_formula_of(name) in {reduced_formula_of(f) for f in self.exclude}:
            return f"{name} is excluded (--exclude): taken at its hull energy"
        return f"{name} is not in the reference set: taken at its hull energy"

    # ------------------------------------------------------------------ energies
    def reactant_energy(self, comp: dict[str, float], space: PhaseSpace, given: float | None = None,
                        use_hull_energy: bool = False, hull: float | None = None) -> tuple[float, str]:
        """(formation energy per atom, source) of a reactant composition; ``hull``: its hull
        energy per atom when already known."""
        if given is not None:
            return float(given), "given"
        if not use_hull_energy:
            n = sum(comp.values())
            key = tuple(sorted((el, round(v / n, 9)) for el, v in comp.items()))
            own = self._own.get(key)
            if own is None:
                own = self._own[key] = self.reference.matching(comp, self.exclude)
            if own:
                return own[0].energy_per_atom, "reference entry"
        if hull is None:
            b = space.vector(comp)
            hull = self._line(space).solve(b / b.sum())[0]
        return hull, "hull (use_hull_energy)" if use_hull_energy else "hull (not in reference set)"

    def _curve(self, line: _LineLP, a: np.ndarray, d: np.ndarray, method: str):
        """[(t, f, w)] at t = 0, every kink and t = 1 of the hull along a + t d."""
        pts = _parametric(line.A, line.c, line.basis0, a[line.rows], d[line.rows]) if method == "simplex" else None
        if pts is not None:
            return _corners(pts)
        dr = d[line.rows]

        def oracle(t: float):
            f, mu, w = line.solve(a + t * d)
            return f, float(mu @ dr), w

        return _kinks(oracle)

    # ------------------------------------------------------------------ main entry
    def react(self, a, b, potential: float | None = None,
              energy_a: float | None = None, energy_b: float | None = None,
              include_decomposition: bool = False, use_hull_energy: bool = False,
              method: str = "simplex") -> ReactionResult:
        """The reaction curve of A (electrolyte) and B (electrode or coating).

        ``a``, ``b``: formula strings, pymatgen Compositions, Structures or entries, ASE Atoms or
        dicts {element: amount} (:mod:`sseflow.analysis.inputs`).
        ``potential``: None for the closed system, else V vs Li/Li+ (open to Li at mu_Li = -V).
        ``energy_a``/``energy_b``: formation energies (eV/atom) to use for the reactants.
        ``include_decomposition``: open system only, see the module notes.
        ``use_hull_energy``: take both reactants at their hull energy (pymatgen's option of
        that name): the curve then starts and ends at zero and measures only the mutual
        reaction, even for reactants above the hull.
        ``method``: ``"simplex"`` (default: parametric simplex along the line, one pivot per
        breakpoint) or ``"tangents"`` (:func:`sseflow.analysis.piecewise.convex_kinks` on HiGHS LPs,
        about two LPs per kink); both are exact and give the same kinks.
        """
        if method not in ("simplex", "tangents"):
            raise InputError(f"unknown kink method '{method}': use simplex or tangents")
        if isinstance(a, str) and isinstance(b, str):
            comp_a, comp_b, name_a, name_b = parse_formula(a), parse_formula(b), a, b
        else:
            from sseflow.analysis.inputs import named_composition

            name_a, comp_a = named_composition(a, "reactant A")
            name_b, comp_b = named_composition(b, "reactant B")
        if potential is None:
            return self._closed(comp_a, comp_b, name_a, name_b, energy_a, energy_b, use_hull_energy, method)
        return self._open(comp_a, comp_b, name_a, name_b, float(potential), energy_a, energy_b,
                          include_decomposition, use_hull_energy, method)

    # ------------------------------------------------------------------ closed system
    def _closed(self, comp_a, comp_b, name_a, name_b, energy_a, energy_b, use_hull, method) -> ReactionResult:
        elements = set(comp_a) | set(comp_b)
        space = self.space(elements)
        va = space.vector(comp_a)
        vb = space.vector(comp_b)
        na, nb = float(va.sum()), float(vb.sum())
        a, b = va / na, vb / nb
        d = b - a
        line = self._line(space)
        pts = self._curve(line, a, d, method)
        ea, src_a = self.reactant_energy(comp_a, space, energy_a, use_hull, hull=pts[0][1])
        eb, src_b = self.reactant_energy(comp_b, space, energy_b, use_hull, hull=pts[-1][1])
        kinks = []
        for x, f, w in pts:
            e = f - x * eb - (1.0 - x) * ea
            # per formula unit of A (of B at x = 1): scale the one-atom mixture
            if x < 1.0 - _X_EPS:
                s = na / (1.0 - x)
                reac = [(name_a, 1.0), (name_b, x * s / nb)]
            else:
                s = nb / x
                reac = [(name_a, (1.0 - x) * s / na), (name_b, 1.0)]
            prod = [(f_, c * s) for f_, c in self._formula_units(space, w, 1.0)]
            eq = ReactionEquation(reac, prod)
            kinks.append(Kink(x=float(x), energy_meV_per_atom=float(e * 1000.0),
                              reaction=str(eq), products=[p for p, _ in prod],
                              energy_eV_per_reaction=float(e * s), y=float(x), equation=eq))
        notes = []
        for name, src in ((name_a, src_a), (name_b, src_b)):
            if src.startswith("hull (not"):
                notes.append(self._hull_note(name))
        res = ReactionResult(
            reactant_a=name_a, reactant_b=name_b, potential_V=None, minimum=_minimum(kinks), kinks=kinks,
            chemsys="-".join(sorted(elements)), energy_source_a=src_a, energy_source_b=src_b,
            energy_a_eV_per_atom=float(ea), energy_b_eV_per_atom=float(eb),
            normalisation="per atom of mixture; x = atom fraction of B",
            reactant_energies="closed system: reactants at their hull energies (mutual reaction only)" if use_hull
            else "closed system: reactants at their own energies", notes=notes)
        return res

    # ------------------------------------------------------------------ open system
    def _open(self, comp_a, comp_b, name_a, name_b, volts, energy_a, energy_b, include_decomposition, use_hull,
              method) -> ReactionResult:
        if not np.isfinite(volts) or volts < 0:
            raise InputError(f"potential must be >= 0 V vs Li/Li+ (got {volts:g}); below 0 V Li metal plates")
        for name, comp in ((name_a, comp_a), (name_b, comp_b)):
            if not (set(comp) - {LI}):
                raise InputError(f"{name} cannot be a reactant at a potential: Li is the reservoir of the "
                                 f"open system (drop --potential for the chemical reaction with Li)")
        mu = -volts
        elements = set(comp_a) | set(comp_b) | {LI}
        space = self.space(elements)
        k = space.index[LI]
        va, vb = space.vector(comp_a), space.vector(comp_b)
        na, nb = float(va.sum()), float(vb.sum())
        li_a, li_b = float(va[k]), float(vb[k])
        ma, mb = na - li_a, nb - li_b                   # non-Li atoms per formula as given
        a, b = va.copy(), vb.copy()
        a[k] = b[k] = 0.0
        a /= ma
        b /= mb
        d = b - a
        fa, fb = ma / na, mb / nb                       # non-Li atom fraction of each reactant

        ea, src_a = self.reactant_energy(comp_a, space, energy_a, use_hull)
        eb, src_b = self.reactant_energy(comp_b, space, energy_b, use_hull)
        line = self._line(space, LI)
        line.set_mu(mu)
        pts = self._curve(line, a, d, method)
        notes = []
        if include_decomposition:
            phi_a = (ea * na - mu * li_a) / ma          # per non-Li atom
            phi_b = (eb * nb - mu * li_b) / mb
            mode = (f"open to Li at {volts:g} V: reactants at their own grand potential (includes each "
                    f"reactant's decomposition by the Li reservoir; pymatgen include_no_mixing_energy=True)")
        else:
            phi_a, phi_b = pts[0][1], pts[-1][1]
            mode = (f"open to Li at {volts:g} V: reactants at their grand-potential hull energy (mutual "
                    f"reaction only; pymatgen GrandPotentialInterfacialReactivity default)")
            if energy_a is not None or energy_b is not None:
                notes.append("given reactant energies are not used for the mutual reaction at a potential "
                             "(use include_decomposition)")

        kinks = []
        for y, f, w in pts:
            e = f - y * phi_b - (1.0 - y) * phi_a
            if y < 1.0 - _X_EPS:
                s = ma / (1.0 - y)
                ca, cb = 1.0, y * s / mb
            else:
                s = mb / y
                ca, cb = (1.0 - y) * s / ma, 1.0
            reac = [(name_a, ca), (name_b, cb)]
            prod = [(f_, c * s) for f_, c in self._formula_units(space, w, 1.0)]
            products = [p for p, _ in prod]
            li_in = ca * li_a + cb * li_b
            li_out = float(space.X[k] @ w) * s
            if li_out - li_in > 1e-9:
                reac.append((LI, li_out - li_in))
            elif li_in - li_out > 1e-9:
                prod.append((LI, li_in - li_out))
            eq = ReactionEquation(reac, prod)
            kinks.append(Kink(x=float(_x_of_y(y, fa, fb)), energy_meV_per_atom=float(e * 1000.0),
                              reaction=str(eq),
                              products=products,
                              energy_eV_per_reaction=float(e * s), y=float(y), equation=eq))
        for name, src in ((name_a, src_a), (name_b, src_b)):
            if src.startswith("hull (not") and include_decomposition:
                notes.append(self._hull_note(name))
        res = ReactionResult(
            reactant_a=name_a, reactant_b=name_b, potential_V=volts, minimum=_minimum(kinks), kinks=kinks,
            chemsys="-".join(sorted(elements)), energy_source_a=src_a, energy_source_b=src_b,
            energy_a_eV_per_atom=float(ea), energy_b_eV_per_atom=float(eb),
            normalisation="per non-Li atom of mixture (pymatgen's grand-potential normalisation); "
                          "x = atom fraction of B in the mixture of the normalised full compositions",
            reactant_energies=mode, notes=notes, _fa=fa, _fb=fb)
        return res


def _parametric(A: np.ndarray, c: np.ndarray, basis: list[int], a: np.ndarray, d: np.ndarray,
                max_pivots: int = 2000):
    """Every kink of f(t) = min{c.w : A w = a + t d, w >= 0} on [0, 1] by parametric simplex.

    ``basis``: a feasible starting basis for t = 0 (the elemental columns: A restricted to
    them is the identity, so w = a >= 0). A primal simplex makes it optimal at t = 0; then
    the right-hand side moves along d: the basis stays optimal while w_B(t) = B^-1 (a + t d)
    >= 0 (a linear piece of f, with slope y.d, y = c_B B^-1 the chemical potentials); where a
    phase runs out (ratio test, exact) one dual-simplex pivot brings in the phase that the
    mixture forms next. The LPs are tiny (one row per element), so this is dense numpy, with
    B^-1 recomputed at every step. Returns [(t, f, w)] for t = 0, every breakpoint and t = 1
    (non-kinks are dropped by :func:`_corners`); None when it fails numerically (the caller
    then uses the LP-based method).
    """
    m, n = A.shape
    B = list(basis)
    tol = 1e-12
    try:
        Binv = np.linalg.inv(A[:, B])
    except np.linalg.LinAlgError:
        return None
    since_inv = 0

    def pivot(i: int, j: int) -> bool:
        """Column j replaces B[i]; B^-1 by an eta update, refactored every 8 pivots."""
        nonlocal Binv, since_inv
        B[i] = j
        since_inv += 1
        if since_inv >= 8:
            since_inv = 0
            try:
                Binv = np.linalg.inv(A[:, B])
            except np.linalg.LinAlgError:
                return False
            return True
        col = Binv @ A[:, j]
        if abs(col[i]) < 1e-12:
            return False
        row = Binv[i] / col[i]
        Binv = Binv - np.outer(col, row)
        Binv[i] = row
        return True

    # ---- primal simplex at t = 0
    degenerate = 0
    for _ in range(max_pivots):
        w = Binv @ a
        r = c - (c[B] @ Binv) @ A
        r[B] = 0.0
        neg = np.flatnonzero(r < -1e-11)
        if neg.size == 0:
            break
        j = int(neg[0]) if degenerate > 2 * m else int(neg[np.argmin(r[neg])])   # Bland when stalling
        col = Binv @ A[:, j]
        pos = np.flatnonzero(col > tol)
        if pos.size == 0:
            return None
        ratios = np.maximum(w[pos], 0.0) / col[pos]
        k = ratios.min()
        ties = pos[ratios <= k + 1e-15]
        i = int(ties[np.argmin([B[q] for q in ties])])
        degenerate = degenerate + 1 if k <= 1e-15 else 0
        if not pivot(i, j):
            return None
    else:
        return None
    # ---- parametric walk in t
    pts = []
    t = 0.0
    for _ in range(max_pivots):
        beta = Binv @ a
        gamma = Binv @ d
        cB = c[B]
        if not pts:
            pts.append((0.0, float(cB @ beta), _full(np.maximum(beta, 0.0), B, n)))
        down = np.flatnonzero(gamma < -tol)
        if down.size:
            ratios = -beta[down] / gamma[down]
            rmin = ratios.min()
            t_hi = max(t, float(rmin))
        else:
            t_hi = np.inf
        if t_hi >= 1.0 - 1e-9:                  # (a breakpoint closer to 1 is the end point)
            w1 = beta + gamma
            pts.append((1.0, float(cB @ w1), _full(np.maximum(w1, 0.0), B, n)))
            return pts
        wt = beta + t_hi * gamma
        pts.append((t_hi, float(cB @ wt), _full(np.maximum(wt, 0.0), B, n)))
        ties = down[ratios <= rmin + 1e-15]
        i = int(ties[0]) if ties.size == 1 else int(ties[np.argmin([B[q] for q in ties])])
        # dual ratio test: the phase that enters when B[i] runs out
        r = c - (cB @ Binv) @ A
        alpha = Binv[i] @ A
        alpha[B] = 0.0
        cand = np.flatnonzero(alpha < -1e-12)
        if cand.size == 0:
            return None
        theta = np.maximum(r[cand], 0.0) / -alpha[cand]
        jt = cand[theta <= theta.min() + 1e-15]
        if not pivot(i, int(jt.min())):
            return None
        t = t_hi
    return None


def _full(wB: np.ndarray, B: list[int], n: int) -> np.ndarray:
    w = np.zeros(n)
    w[B] = wB
    return w


def _corners(pts, x_tol: float = 1e-9, slope_tol: float = 1e-7):
    """From points (t, f, payload) sorted by t and spanning [0, 1]: the end points and the
    points where the slope changes by more than ``slope_tol`` (eV per unit t); points closer
    than ``x_tol`` to a kept neighbour are duplicates."""
    first, last = pts[0], pts[-1]
    inner = []
    for p in pts[1:-1]:
        if p[0] - (inner[-1][0] if inner else first[0]) > x_tol and last[0] - p[0] > x_tol:
            inner.append(p)
    out = [first] + inner + [last]
    changed = True
    while changed and len(out) > 2:
        changed = False
        for i in range(1, len(out) - 1):
            (ta, fa, _), (tb, fb, _), (tc, fc, _) = out[i - 1], out[i], out[i + 1]
            if (fc - fb) / (tc - tb) - (fb - fa) / (tb - ta) <= slope_tol:
                del out[i]
                changed = True
                break
    return out


def _kinks(oracle):
    """The same kinks by :func:`sseflow.analysis.piecewise.convex_kinks` (tangent intersections with
    the LP dual's slope, about two LPs per kink): the reference method, kept for
    cross-checks (``method="tangents"``)."""
    return _corners(convex_kinks(oracle, 0.0, 1.0))


def _minimum(kinks: list[Kink]) -> Kink:
    """The most negative kink; among equal ones (within 1e-6 meV) the first in x."""
    e_min = min(k.energy_meV_per_atom for k in kinks)
    return next(k for k in kinks if k.energy_meV_per_atom <= e_min + 1e-6)


def reaction_energy(a, b, reference: ReferenceSet, potential: float | None = None,
                    exclude: Iterable[str] = (), **kw) -> ReactionResult:
    """One reaction curve of A and B (formula strings, pymatgen Compositions, Structures or
    entries, ASE Atoms or dicts {element: amount}; see :class:`ReactionCalculator` for many pairs)."""
    return ReactionCalculator(reference, exclude).react(a, b, potential=potential, **kw)


def pymatgen_reaction(a: str, b: str, entries, potential: float | None = None, include_decomposition: bool = False,
                      use_hull_energy: bool = False, pd=None):
    """The pymatgen route on the same entries, for validation and benchmarks.

    Returns pymatgen's ``InterfacialReactivity`` (closed) or
    ``GrandPotentialInterfacialReactivity`` (open to Li at mu_Li = -V) with c1 = B and c2 = A,
    so that its mixing ratio is the atom fraction of B, as here. ``entries``:
    :class:`sseflow.analysis.entries.Entry` objects of the chemical system (formation energies);
    ``pd``: a ready ``PhaseDiagram`` of them.
    """
    import warnings

    from pymatgen.analysis.interface_reactions import GrandPotentialInterfacialReactivity, InterfacialReactivity
    from pymatgen.analysis.phase_diagram import GrandPotentialPhaseDiagram, PhaseDiagram
    from pymatgen.core import Composition, Element

    from sseflow.analysis.crosscheck import pmg_entries

    pe = None
    if pd is None:
        pe = pmg_entries(entries)
        pd = PhaseDiagram(pe)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if potential is None:
            return InterfacialReactivity(Composition(b), Composition(a), pd, norm=True,
                                         use_hull_energy=use_hull_energy)
        gpd = GrandPotentialPhaseDiagram(pe if pe is not None else pd.all_entries, {Element(LI): -float(potential)})
        return GrandPotentialInterfacialReactivity(Composition(b), Composition(a), gpd, pd,
                                                   include_no_mixing_energy=include_decomposition, norm=True,
                                                   use_hull_energy=use_hull_energy)


__all__ = ["Kink", "ReactionResult", "ReactionCalculator", "reaction_energy", "pymatgen_reaction"]
