"""Pseudo-binary interfacial reaction energies, closed (chemical) or open to Li (electrochemical).

Closed system (chemical reactivity)
-----------------------------------
Normalise the reactants to one atom each (a = A/N_A, b = B/N_B) and mix them,
``m(x) = (1-x) a + x b``; x is the atom fraction of B. The reaction energy per atom of
mixture is

    E_rxn(x) = E_hull(m(x)) - x E(B) - (1-x) E(A)          (eV/atom)

E_hull along the line is convex and piecewise linear in x. Its kinks are found exactly by
:func:`analysis.piecewise.convex_kinks`: the oracle solves the hull LP of m(x) and returns
the slope ``mu . (b - a)`` from the LP dual (mu = element chemical potentials), so each kink
costs about two LP solves and nothing is sampled.

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
the side it is on. ``energy_eV_per_reaction`` is E_rxn for the reaction as written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from analysis.errors import InputError
from analysis.formula import formula_string, parse_formula, reduced_formula
from analysis.hull import Decomposition, PhaseSpace
from analysis.piecewise import convex_kinks
from analysis.reference import ReferenceSet
from analysis.window import LI, WindowCalculator, reaction_string

_X_EPS = 1e-9       # x closer than this to 0 or 1 counts as the end point
_PRODUCT_REL = 1e-7  # products below this atom fraction of the mixture are numerical dust


@dataclass
class Kink:
    x: float                      # atom fraction of B in the mixture of the normalised compositions
    energy_meV_per_atom: float    # E_rxn at x (per atom of mixture; per non-Li atom in the open system)
    reaction: str
    products: list[str]
    energy_eV_per_reaction: float = 0.0  # E_rxn of the reaction as written
    y: float = field(default=0.0, repr=False)  # the curve's own variable (= x in the closed system)

    def to_dict(self) -> dict:
        return {"x": self.x, "energy_meV_per_atom": self.energy_meV_per_atom, "reaction": self.reaction,
                "products": list(self.products), "energy_eV_per_reaction": self.energy_eV_per_reaction}


@dataclass
class ReactionResult:
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


def _x_of_y(y: float, fa: float, fb: float) -> float:
    den = y * fa + (1.0 - y) * fb
    return 0.0 if den <= 0 else y * fa / den


def _clean_formula_units(dec: Decomposition, total: float) -> list[tuple[str, float]]:
    """The assemblage as (reduced formula, formula units), numerical dust dropped."""
    keep = [(e, a) for e, a in dec.phases if a > _PRODUCT_REL * total]
    return Decomposition(dec.energy, keep, dec.mu, dec.open_amount, None).formula_units()


class ReactionCalculator:
    """Reaction curves of many pairs against one reference set.

    Phase spaces (and their persistent LPs) are shared through a :class:`WindowCalculator`
    cache keyed by element set: every pair of one chemical system reuses the same LPs.
    """

    def __init__(self, reference: ReferenceSet, exclude: Iterable[str] = (), windows: WindowCalculator | None = None):
        self.reference = reference
        self.exclude = tuple(exclude)
        self.windows = windows or WindowCalculator(reference, self.exclude)

    def space(self, elements: Iterable[str]) -> PhaseSpace:
        return self.windows.space(elements)

    # ------------------------------------------------------------------ energies
    def reactant_energy(self, comp: dict[str, float], space: PhaseSpace, given: float | None = None
                        ) -> tuple[float, str]:
        """(formation energy per atom, source) of a reactant composition."""
        if given is not None:
            return float(given), "given"
        own = self.reference.matching(comp, space.entries)
        if own:
            return own[0].energy_per_atom, "reference entry"
        return space.hull_energy_per_atom(comp), "hull (not in reference set)"

    # ------------------------------------------------------------------ main entry
    def react(self, a: str | dict, b: str | dict, potential: float | None = None,
              energy_a: float | None = None, energy_b: float | None = None,
              include_decomposition: bool = False) -> ReactionResult:
        """The reaction curve of A (electrolyte) and B (electrode or coating).

        ``potential``: None for the closed system, else V vs Li/Li+ (open to Li at mu_Li = -V).
        ``energy_a``/``energy_b``: formation energies (eV/atom) to use for the reactants.
        """
        comp_a = parse_formula(a) if isinstance(a, str) else dict(a)
        comp_b = parse_formula(b) if isinstance(b, str) else dict(b)
        name_a = a if isinstance(a, str) else formula_string(comp_a)
        name_b = b if isinstance(b, str) else formula_string(comp_b)
        if potential is None:
            return self._closed(comp_a, comp_b, name_a, name_b, energy_a, energy_b)
        return self._open(comp_a, comp_b, name_a, name_b, float(potential), energy_a, energy_b,
                          include_decomposition)

    # ------------------------------------------------------------------ closed system
    def _closed(self, comp_a, comp_b, name_a, name_b, energy_a, energy_b) -> ReactionResult:
        elements = set(comp_a) | set(comp_b)
        space = self.space(elements)
        va = space.vector(comp_a)
        vb = space.vector(comp_b)
        na, nb = float(va.sum()), float(vb.sum())
        a, b = va / na, vb / nb
        d = b - a
        ea, src_a = self.reactant_energy(comp_a, space, energy_a)
        eb, src_b = self.reactant_energy(comp_b, space, energy_b)

        def oracle(x: float):
            dec = space.hull(a + x * d)
            return dec.energy, float(dec.mu @ d), dec

        kinks = []
        for x, f, dec in convex_kinks(oracle, 0.0, 1.0):
            e = f - x * eb - (1.0 - x) * ea
            # per formula unit of A (of B at x = 1): scale the one-atom mixture
            if x < 1.0 - _X_EPS:
                s = na / (1.0 - x)
                reac = [(name_a, 1.0), (name_b, x * s / nb)]
            else:
                s = nb / x
                reac = [(name_a, (1.0 - x) * s / na), (name_b, 1.0)]
            prod = [(f_, c * s) for f_, c in _clean_formula_units(dec, 1.0)]
            kinks.append(Kink(x=float(x), energy_meV_per_atom=float(e * 1000.0),
                              reaction=reaction_string(reac, prod), products=[p for p, _ in prod],
                              energy_eV_per_reaction=float(e * s), y=float(x)))
        notes = []
        for name, src in ((name_a, src_a), (name_b, src_b)):
            if src.startswith("hull"):
                notes.append(f"{name} is not in the reference set: taken at its hull energy")
        res = ReactionResult(
            reactant_a=name_a, reactant_b=name_b, potential_V=None, minimum=_minimum(kinks), kinks=kinks,
            chemsys="-".join(sorted(elements)), energy_source_a=src_a, energy_source_b=src_b,
            energy_a_eV_per_atom=float(ea), energy_b_eV_per_atom=float(eb),
            normalisation="per atom of mixture; x = atom fraction of B",
            reactant_energies="closed system: reactants at their own energies", notes=notes)
        return res

    # ------------------------------------------------------------------ open system
    def _open(self, comp_a, comp_b, name_a, name_b, volts, energy_a, energy_b, include_decomposition
              ) -> ReactionResult:
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

        ea, src_a = self.reactant_energy(comp_a, space, energy_a)
        eb, src_b = self.reactant_energy(comp_b, space, energy_b)
        notes = []
        if include_decomposition:
            phi_a = (ea * na - mu * li_a) / ma          # per non-Li atom
            phi_b = (eb * nb - mu * li_b) / mb
            mode = (f"open to Li at {volts:g} V: reactants at their own grand potential (includes each "
                    f"reactant's decomposition by the Li reservoir; pymatgen include_no_mixing_energy=True)")
        else:
            phi_a = space.grand_hull(a, LI, mu).energy
            phi_b = space.grand_hull(b, LI, mu).energy
            mode = (f"open to Li at {volts:g} V: reactants at their grand-potential hull energy (mutual "
                    f"reaction only; pymatgen GrandPotentialInterfacialReactivity default)")
            if energy_a is not None or energy_b is not None:
                notes.append("given reactant energies are not used for the mutual reaction at a potential "
                             "(use include_decomposition)")

        def oracle(y: float):
            dec = space.grand_hull(a + y * d, LI, mu)
            return dec.energy, float(dec.mu @ d), dec

        kinks = []
        for y, f, dec in convex_kinks(oracle, 0.0, 1.0):
            e = f - y * phi_b - (1.0 - y) * phi_a
            if y < 1.0 - _X_EPS:
                s = ma / (1.0 - y)
                ca, cb = 1.0, y * s / mb
            else:
                s = mb / y
                ca, cb = (1.0 - y) * s / ma, 1.0
            reac = [(name_a, ca), (name_b, cb)]
            prod = [(f_, c * s) for f_, c in _clean_formula_units(dec, 1.0)]
            products = [p for p, _ in prod]
            li_in = ca * li_a + cb * li_b
            li_out = dec.open_amount * s
            if li_out - li_in > 1e-9:
                reac.append((LI, li_out - li_in))
            elif li_in - li_out > 1e-9:
                prod.append((LI, li_in - li_out))
            kinks.append(Kink(x=float(_x_of_y(y, fa, fb)), energy_meV_per_atom=float(e * 1000.0),
                              reaction=reaction_string(reac, prod),
                              products=products,
                              energy_eV_per_reaction=float(e * s), y=float(y)))
        for name, src in ((name_a, src_a), (name_b, src_b)):
            if src.startswith("hull") and include_decomposition:
                notes.append(f"{name} is not in the reference set: taken at its hull energy")
        res = ReactionResult(
            reactant_a=name_a, reactant_b=name_b, potential_V=volts, minimum=_minimum(kinks), kinks=kinks,
            chemsys="-".join(sorted(elements)), energy_source_a=src_a, energy_source_b=src_b,
            energy_a_eV_per_atom=float(ea), energy_b_eV_per_atom=float(eb),
            normalisation="per non-Li atom of mixture (pymatgen's grand-potential normalisation); "
                          "x = atom fraction of B in the mixture of the normalised full compositions",
            reactant_energies=mode, notes=notes, _fa=fa, _fb=fb)
        return res


def _minimum(kinks: list[Kink]) -> Kink:
    """The most negative kink; among equal ones (within 1e-6 meV) the first in x."""
    e_min = min(k.energy_meV_per_atom for k in kinks)
    return next(k for k in kinks if k.energy_meV_per_atom <= e_min + 1e-6)


def reaction_energy(a: str, b: str, reference: ReferenceSet, potential: float | None = None,
                    exclude: Iterable[str] = (), **kw) -> ReactionResult:
    """One reaction curve (see :class:`ReactionCalculator` for many pairs)."""
    return ReactionCalculator(reference, exclude).react(a, b, potential=potential, **kw)


__all__ = ["Kink", "ReactionResult", "ReactionCalculator", "reaction_energy", "reduced_formula"]
