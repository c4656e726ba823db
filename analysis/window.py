"""Electrochemical stability windows against Li, computed exactly from LPs.

Conventions: potentials are V vs Li/Li+, V = -(mu_Li - mu_Li(metal))/e, so
Li metal is 0 V and oxidising conditions are high V. Energies are formation energies
per atom, so mu_Li(metal) = 0 and V = -mu_Li.

* The window [V_red, V_ox] is the range of -mu_Li over the optimal face of the
  chemical-potential LP of the composition's phase assemblage (two LPs). For a
  metastable phase or a composition that is not in the reference set this is the
  assemblage convention of Zhu, He & Mo (2015) and pymatgen's ``get_element_profile``.
* The Li evolution profile is the set of kinks of f(n) = E_hull(composition without
  Li + n Li), a convex piecewise-linear function of n found exactly by
  :func:`sseflow.analysis.piecewise.convex_kinks`.
* Decomposition energies at a potential V are grand-potential differences
  (Phi_hull - Phi_phase) at mu_Li = -V, per atom of the composition, in meV/atom.
* The reactions at the limits and of each profile step keep their exact coefficients
  (``reduction_equation``, ``oxidation_equation``, ``ProfileStep.equation``) and are given as
  pymatgen ``Reaction`` objects (``reduction_pmg_reaction``, ``oxidation_pmg_reaction``,
  ``ProfileStep.pmg_reaction``); results serialise with monty (:mod:`sseflow.analysis.results`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, asdict
from typing import Iterable, Sequence

import numpy as np

from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import formula_string, parse_formula, chemsys as chemsys_of
from sseflow.analysis.hull import Decomposition, PhaseSpace
from sseflow.analysis.piecewise import convex_kinks
from sseflow.analysis.reference import ReferenceSet
from sseflow.analysis.results import MSONResult, ReactionEquation, format_reaction

LI = "Li"
_DELTA = 1e-6  # eV: step off a critical potential to read the neighbouring assemblage


@dataclass(eq=False)
class ProfileStep(MSONResult):
    potential_V: float       # lower end of the potential range where this assemblage is in equilibrium
    li_per_formula: float    # Li taken up (+) or released (-) per formula unit of the composition
    reaction: str
    products: list[str]
    equation: ReactionEquation | None = field(default=None, repr=False)   # ``reaction``, exact coefficients

    @property
    def pmg_reaction(self):
        """The step's reaction as a pymatgen ``Reaction`` (Li as reactant or product, as in
        ``reaction``); None when the step carries no equation."""
        return None if self.equation is None else self.equation.to_pymatgen()

    def to_dict(self) -> dict:
        return {"potential_V": self.potential_V, "li_per_formula": self.li_per_formula,
                "reaction": self.reaction, "products": self.products}


@dataclass(eq=False)
class WindowResult(MSONResult):
    formula: str
    chemsys: str
    reduction_V: float
    oxidation_V: float | None
    reduction_reaction: str | None
    oxidation_reaction: str | None
    reduction_products: list[str]
    oxidation_products: list[str]
    e_above_hull_meV: float | None
    in_reference: bool
    decomposition_energy_0V_meV: float
    decomposition_energy_5V_meV: float
    profile: list[ProfileStep] = field(default_factory=list)
    phase_assemblage: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # the reactions at the two limits with their exact coefficients (None: no reaction)
    reduction_equation: ReactionEquation | None = field(default=None, repr=False)
    oxidation_equation: ReactionEquation | None = field(default=None, repr=False)

    @property
    def reduction_pmg_reaction(self):
        """``reduction_reaction`` as a pymatgen ``Reaction`` (Li a reactant), or None."""
        return None if self.reduction_equation is None else self.reduction_equation.to_pymatgen()

    @property
    def oxidation_pmg_reaction(self):
        """``oxidation_reaction`` as a pymatgen ``Reaction`` (Li a product), or None."""
        return None if self.oxidation_equation is None else self.oxidation_equation.to_pymatgen()

    def to_dict(self) -> dict:
        """The display payload (CLI, tables, stored documents): strings, no equations; for a
        full, loss-free dict use ``as_dict()``."""
        d = asdict(self)
        d["profile"] = [p.to_dict() for p in self.profile]
        del d["reduction_equation"], d["oxidation_equation"]
        return d

    def to_dataframe(self):
        """The Li evolution profile as a pandas DataFrame, one row per step from 0 V upwards:
        ``potential_V``, ``li_per_formula``, ``reaction``, ``products``, ``pmg_reaction``
        (pymatgen ``Reaction``). ``attrs`` hold the formula and the window."""
        import pandas as pd

        df = pd.DataFrame([{"potential_V": p.potential_V, "li_per_formula": p.li_per_formula,
                            "reaction": p.reaction, "products": list(p.products),
                            "pmg_reaction": p.pmg_reaction} for p in self.profile],
                          columns=["potential_V", "li_per_formula", "reaction", "products", "pmg_reaction"])
        df.attrs.update(formula=self.formula, reduction_V=self.reduction_V, oxidation_V=self.oxidation_V)
        return df


def reaction_string(reactants: Sequence[tuple[str, float]], products: Sequence[tuple[str, float]]) -> str:
    """'Li3PS4 + 8 Li -> 4 Li2S + Li3P' from (formula, coefficient) pairs."""
    return format_reaction(reactants, products)


def li_equation(name: str, dec: Decomposition, li_gained: float) -> ReactionEquation:
    """'name + n Li -> products' (Li taken up) or 'name -> products + n Li' (Li released)."""
    reac = [(name, 1.0)]
    prod = dec.formula_units()
    if li_gained > 1e-9:
        reac.append((LI, li_gained))
    elif li_gained < -1e-9:
        prod = prod + [(LI, -li_gained)]
    return ReactionEquation(reac, prod)


def li_reaction(name: str, dec: Decomposition, li_gained: float) -> str:
    """The string of :func:`li_equation`."""
    return str(li_equation(name, dec, li_gained))


class WindowCalculator:
    """Windows of many compositions against one reference set (phase spaces are cached)."""

    def __init__(self, reference: ReferenceSet, exclude: Iterable[str] = ()):
        self.reference = reference
        self.exclude = tuple(exclude)
        self._spaces: dict[frozenset, PhaseSpace] = {}

    def space(self, elements: Iterable[str]) -> PhaseSpace:
        key = frozenset(elements)
        if key not in self._spaces:
            entries = self.reference.entries_in(key, self.exclude, hull_candidates=True)
            self._spaces[key] = PhaseSpace(entries, sorted(key), prune=False)
        return self._spaces[key]

    # ------------------------------------------------------------------
    def window(self, formula, profile: bool = True) -> WindowResult:
        """``formula``: a formula string, a pymatgen Composition, Structure or entry, an ASE Atoms
        or a dict {element: amount} (:mod:`sseflow.analysis.inputs`)."""
        if isinstance(formula, str):
            comp, name = parse_formula(formula), formula
        else:
            from sseflow.analysis.inputs import named_composition

            name, comp = named_composition(formula)
        elements = set(comp) | {LI}
        space = self.space(elements)
        b = space.vector(comp)
        natoms = float(b.sum())
        k = space.index[LI]
        hull = space.hull(b)
        notes: list[str] = []

        own = self.reference.matching(comp, self.exclude)
        if own:
            e_own = own[0].energy_per_atom * natoms
            e_hull_meV = max(0.0, (e_own - hull.energy) / natoms * 1000.0)
        else:
            e_own = hull.energy
            e_hull_meV = None
            notes.append("not in the reference set: evaluated as its equilibrium phase assemblage")

        mu_min, mu_max = space.mu_range(hull, LI)
        mu_max = min(mu_max, 0.0)
        v_red = max(0.0, -mu_max)
        v_ox = None if mu_min is None else -mu_min
        if v_ox is None:
            notes.append("contains no Li: no oxidation by Li extraction (oxidation_V is null)")

        def step(mu: float) -> Decomposition:
            return space.grand_hull(b, LI, mu)

        def rxn(dec: Decomposition) -> ReactionEquation:
            return li_equation(name, dec, dec.open_amount - b[k])

        if v_red <= 1e-9:
            red_rxn, red_products = None, []
            notes.append("stable against Li metal (reduction limit 0 V)")
        else:
            dec = step(mu_max + _DELTA)
            red_rxn, red_products = rxn(dec), dec.products
        if v_ox is None:
            ox_rxn, ox_products = None, []
        else:
            dec = step(mu_min - _DELTA)
            ox_rxn, ox_products = rxn(dec), dec.products

        def decomposition_energy(volts: float) -> float:
            mu = -volts
            phi_hull = step(mu).energy
            phi_own = e_own - mu * b[k]
            return min(0.0, (phi_hull - phi_own) / natoms * 1000.0)

        result = WindowResult(
            formula=name,
            chemsys=chemsys_of(dict.fromkeys(elements)),
            reduction_V=v_red,
            oxidation_V=v_ox,
            reduction_reaction=None if red_rxn is None else str(red_rxn),
            oxidation_reaction=None if ox_rxn is None else str(ox_rxn),
            reduction_products=red_products,
            oxidation_products=ox_products,
            e_above_hull_meV=e_hull_meV,
            in_reference=bool(own),
            decomposition_energy_0V_meV=decomposition_energy(0.0),
            decomposition_energy_5V_meV=decomposition_energy(5.0),
            phase_assemblage=hull.products,
            notes=notes,
            reduction_equation=red_rxn,
            oxidation_equation=ox_rxn,
        )
        if profile:
            result.profile = self.profile(comp, name)
        return result

    # ------------------------------------------------------------------
    def profile(self, comp: dict[str, float], name: str | None = None) -> list[ProfileStep]:
        """The Li evolution profile: one step per kink, from 0 V upwards."""
        name = name or formula_string(comp)
        space = self.space(set(comp) | {LI})
        b = space.vector(comp)
        k = space.index[LI]
        base = b.copy()
        base[k] = 0.0
        unit = np.zeros_like(b)
        unit[k] = 1.0

        def oracle(n: float):
            dec = space.hull(base + n * unit)
            return dec.energy, float(dec.mu[k]), dec

        # full lithiation: the Li uptake just above 0 V; one more Li puts the end on the flat Li-metal segment
        n_full = space.grand_hull(b, LI, -_DELTA).open_amount
        n_hi = max(n_full, float(b[k])) + 1.0
        kinks = convex_kinks(oracle, 0.0, n_hi)
        # the upper end lies on the flat Li-metal segment: not a kink
        if len(kinks) >= 2:
            (ta, fa, _), (tb, fb, _) = kinks[-2], kinks[-1]
            if abs((fb - fa) / (tb - ta)) < 1e-7:
                kinks = kinks[:-1]
        steps: list[ProfileStep] = []
        for i in range(len(kinks) - 1, -1, -1):
            t, f, dec = kinks[i]
            if i == len(kinks) - 1:
                v = 0.0
            else:
                t2, f2, _ = kinks[i + 1]
                v = max(0.0, -(f2 - f) / (t2 - t))
            dli = t - b[k]
            eq = li_equation(name, dec, dli)
            steps.append(ProfileStep(v, float(dli), str(eq), dec.products, eq))
        return steps


def stability_window(formula, reference: ReferenceSet, exclude: Iterable[str] = (),
                     profile: bool = True) -> WindowResult:
    """Stability window of one composition: a formula string, a pymatgen Composition, Structure
    or entry, an ASE Atoms or a dict {element: amount} (see :class:`WindowCalculator` for many)."""
    return WindowCalculator(reference, exclude).window(formula, profile=profile)
