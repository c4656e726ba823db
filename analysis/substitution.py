"""Aliovalent and isovalent substitution of an electrolyte site: oxidation-state bookkeeping,
charge balance and its compensation, candidate proposal, ranking.

Everything here works on compositions and numbers; building and relaxing the structures is
done in :mod:`sseflow.workflows.substitution`.

Conventions
-----------

* **Full substitution** (the default, x = 1 of Li10(Ge1-xMx)P2S12). Every site of the site
  element is replaced; formulas are per formula unit of the host (Li10GeP2S12 -> Li10SrP2S12).
* **Partial substitution** (``fraction`` x, 0 < x < 1). k = x N of the N site atoms of the cell
  are replaced; when x N is not a whole number (within 0.01 atom), the smallest diagonal
  supercell of at most ``MAX_SUPERCELL_CELLS`` (4) host cells in which it is (:func:`cells_for_fraction`:
  the fewest cells, hence the fewest atoms) is used, and when none of them does it is an
  InputError. The formula of a partial composition is the reduced integer formula of the cell
  (Li10Ge0.5Sn0.5P2S12 per host formula unit is Li20GeSnP4S24, the substituent written after the
  site element); ``formula_per_host_fu`` keeps the per-formula-unit form; the charge balance is
  per unit of the formula shown. The charge difference and every compensation count scale with
  k (D = k dq); which k sites are replaced is a structural rule of
  :mod:`sseflow.workflows.substitution` (symmetry-distinct orderings ranked by Ewald energy,
  the lowest relaxed).
* **Oxidation states.** The host's come from pymatgen's ``Composition.oxi_state_guesses``
  (its most probable assignment; Li10GeP2S12: Li+ Ge4+ P5+ S2-), or are given. The
  substituent's state is the one of its common oxidation states (pymatgen
  ``Element.common_oxidation_states``) with the cation sign that is closest to the site's; a
  tie goes to the higher state (Sb: 3 and 5 for a 4+ site -> 5). An element without a
  positive common state (a halogen, a noble gas) cannot take a cation site (InputError).
* **Charge balance.** Cation charge = sum of positive oxidation states x amounts, anion charge
  the sum of the negative ones; a composition is balanced when they cancel to 1e-6. Li10SrP2S12
  (Sr2+ on the Ge4+ site) has +22 against -24: *not* balanced.
* **Compensation** of a charge difference dq = q(substituent) - q(site) per substituted site
  (n sites, total D = n dq), each offered next to the plain substitution:

  - D < 0 (lower-valent substituent):
      ``li-interstitial``: |D| Li+ added (Li12SrP2S12); needs Li in the host;
      ``anion-vacancy``: |D| / |q(anion)| anions removed (Li10SrP2S11 for S2-), when it is a
      whole number (the host's most electronegative anion is the one removed);
  - D > 0 (higher-valent substituent): ``li-vacancy``: D Li+ removed (Nb5+ on Ge4+:
    Li9NbP2S12); needs D <= the host's Li;
  - D = 0: isovalent, only the plain substitution.

  Where the atoms go (void search, which anion) is a structural rule of
  :mod:`sseflow.workflows.substitution`.
* **Proposal** (``--auto N``): every cationic species X^q of pymatgen's substitution
  statistics (Hautier et al., Inorg. Chem. 50, 656 (2011); ``SubstitutionProbability``,
  data shipped with pymatgen) whose element is not already in the host is scored by

      score = P(X^q | site^q0) x exp(-(dr / r0)^2 / (2 x 0.15^2)) x 2^(-|q - q0|)

  P: pymatgen's conditional substitution probability of the site species by X^q (lambda table,
  alpha = -5); dr/r0: relative difference of the ionic radii (pymatgen ``Species.ionic_radius``;
  a species without a radius is skipped); the last factor halves the score per unit of charge
  difference (compensation needed). Radioactive elements (no stable isotope: Tc, Pm, Z > 83) and
  species whose state is not one of the element's common oxidation states are left out. Highest
  score first; ties by element symbol.

  **Element filter.** By default the proposals also leave out what a battery chemist would not
  put in an electrolyte (:data:`DEFAULT_EXCLUDED`): the precious metals Ru, Rh, Pd, Ag, Os, Ir,
  Pt, Au (:data:`PRECIOUS_METALS`) and the highly toxic Be, As, Cd, Hg, Tl, Pb
  (:data:`TOXIC_ELEMENTS`). ``exclude_elements`` adds to that list, ``any_element=True`` drops
  it (the radioactive elements stay out). The list returned carries ``skipped``: the filtered
  elements that would otherwise have been among the ``n`` best (for the proposal notes).
* **Ranking** of the computed candidates: charge-balanced compositions first, then the lowest
  E_hull, then the lowest reduction limit (the wider window towards the anode), then the least
  negative reaction energy with Li, then the formula.
"""
from __future__ import annotations

import csv
import io
import json
import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import formula_string, parse_formula, reduce_amounts

BALANCE_TOL = 1e-6
RADIUS_WIDTH = 0.15        # relative ionic-radius mismatch at which the score falls to exp(-1/2)
CHARGE_PENALTY = 0.5       # score factor per unit of oxidation-state difference
# Elements without a stable isotope (left out of proposals).
RADIOACTIVE = frozenset({"Tc", "Pm"}) | frozenset(
    ["Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm",
     "Md", "No", "Lr"])

# Default element filter of the proposals (``--auto``): precious metals and highly toxic elements.
PRECIOUS_METALS = frozenset({"Ru", "Rh", "Pd", "Ag", "Os", "Ir", "Pt", "Au"})
TOXIC_ELEMENTS = frozenset({"Be", "As", "Cd", "Hg", "Tl", "Pb"})
DEFAULT_EXCLUDED = PRECIOUS_METALS | TOXIC_ELEMENTS
FILTER_DESCRIPTION = ("precious metals Ru, Rh, Pd, Ag, Os, Ir, Pt, Au and highly toxic Be, As, Cd, Hg, Tl, Pb "
                      "left out by default")

MAX_SUPERCELL_CELLS = 4    # host cells in the largest supercell tried for a partial substitution
WHOLE_TOL = 0.01           # x N within this of a whole number of atoms counts as whole

LI_INTERSTITIAL = "li-interstitial"
ANION_VACANCY = "anion-vacancy"
LI_VACANCY = "li-vacancy"
PLAIN = "plain"
COMPENSATIONS = (LI_INTERSTITIAL, ANION_VACANCY, LI_VACANCY)


# --------------------------------------------------------------------------- oxidation states

def _element(symbol: str):
    from pymatgen.core import Element

    try:
        return Element(symbol)
    except (ValueError, KeyError):
        raise InputError(f"unknown element '{symbol}'") from None


def host_oxidation_states(composition: dict[str, float] | str) -> dict[str, float]:
    """The host's oxidation states by element: pymatgen's most probable guess (integers only)."""
    comp = parse_formula(composition) if isinstance(composition, str) else dict(composition)
    from pymatgen.core import Composition

    red, _ = reduce_amounts(comp)
    guesses = Composition(red).oxi_state_guesses(max_sites=-50)
    for g in guesses:
        if all(float(v).is_integer() for v in g.values()):
            return {el: float(v) for el, v in g.items()}
    raise InputError(f"no charge-balanced integer oxidation states for {formula_string(comp)}: "
                     "give them explicitly (e.g. {'Li': 1, 'Ge': 4, 'P': 5, 'S': -2})")


def substituent_oxidation_state(element: str, site_state: float) -> int:
    """The substituent's common oxidation state of the site's sign closest to ``site_state``
    (tie: the higher one)."""
    el = _element(element)
    sign = 1 if site_state > 0 else -1
    states = [int(q) for q in el.common_oxidation_states if q * sign > 0]
    if not states:
        kind = "cation" if sign > 0 else "anion"
        raise InputError(f"{element} has no common {kind} oxidation state: it cannot take a "
                         f"{'+' if sign > 0 else ''}{site_state:g} site")
    return sorted(states, key=lambda q: (abs(q - site_state), -q))[0]


@dataclass
class ChargeBalance:
    cation_charge: float
    anion_charge: float

    @property
    def net(self) -> float:
        return self.cation_charge + self.anion_charge

    @property
    def balanced(self) -> bool:
        return abs(self.net) <= BALANCE_TOL

    def describe(self) -> str:
        if self.balanced:
            return f"charge balanced ({_q(self.cation_charge)} / {_q(self.anion_charge)})"
        return (f"NOT charge balanced: {_q(self.cation_charge)} against {_q(self.anion_charge)} "
                f"(net {_q(self.net)} per formula unit)")

    def to_dict(self) -> dict:
        return {"cation_charge": self.cation_charge, "anion_charge": self.anion_charge, "net_charge": self.net,
                "balanced": self.balanced}


def _q(x: float) -> str:
    return f"{x:+g}" if abs(x - round(x)) > 1e-9 else f"{int(round(x)):+d}"


def charge_balance(composition: dict[str, float] | str, oxidation_states: dict[str, float]) -> ChargeBalance:
    """Cation and anion charge of a composition with the given oxidation states (InputError for
    an element without one)."""
    comp = parse_formula(composition) if isinstance(composition, str) else dict(composition)
    missing = sorted(set(comp) - set(oxidation_states))
    if missing:
        raise InputError(f"no oxidation state for {', '.join(missing)}")
    pos = sum(a * oxidation_states[el] for el, a in comp.items() if oxidation_states[el] > 0)
    neg = sum(a * oxidation_states[el] for el, a in comp.items() if oxidation_states[el] < 0)
    return ChargeBalance(float(pos), float(neg))


# --------------------------------------------------------------------------- variants

@dataclass
class Variant:
    """One composition of a substitution: the plain one or a compensated one."""

    substituent: str
    compensation: str                 # plain | li-interstitial | anion-vacancy | li-vacancy
    formula: str                      # per host formula unit (Li12SrP2S12)
    cell_composition: dict[str, float]  # of the host cell given (Li24Sr2P4S24)
    changes: dict[str, float]         # atoms added (+) / removed (-) per cell besides the substitution
    charge: ChargeBalance             # per host formula unit (partial: per unit of ``formula``)
    rule: str
    formula_per_host_fu: str = ""     # partial substitution: per host formula unit (Li10Ge0.5Sn0.5P2S12)
    n_substituted: int = 0            # site atoms of the cell replaced

    @property
    def label(self) -> str:
        return self.substituent if self.compensation == PLAIN else f"{self.substituent} ({self.compensation})"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["charge"] = self.charge.to_dict()
        d["label"] = self.label
        return d


@dataclass
class SubstitutionPlan:
    host_formula: str
    site: str
    substituent: str
    n_sites: int                      # substituted sites in the cell
    formula_units: float              # host formula units in the cell
    site_state: float
    substituent_state: int
    oxidation_states: dict[str, float]  # host's, and the substituent's
    variants: list[Variant]
    notes: list[str] = field(default_factory=list)
    site_atoms: int = 0               # site atoms in the cell (n_sites of them substituted)

    @property
    def fraction(self) -> float:
        """Fraction of the site atoms substituted (1: every one)."""
        return self.n_sites / self.site_atoms if self.site_atoms else 1.0

    @property
    def partial(self) -> bool:
        return 0 < self.n_sites < self.site_atoms

    @property
    def charge_difference(self) -> float:
        """Charge difference per cell, n_sites x (q(substituent) - q(site))."""
        return self.n_sites * (self.substituent_state - self.site_state)


def _per_fu(cell: dict[str, float], z: float, order: Sequence[str] = ()) -> str:
    """Formula per host formula unit, elements in ``order`` (the host's, the substituent in the
    site's place) and any others after them."""
    from sseflow.analysis.formula import _fmt_amount

    comp = {el: a / z for el, a in cell.items() if a > 1e-9}
    rest = [el for el in _order_of(comp) if el not in order]
    return "".join(f"{el}{_fmt_amount(comp[el])}" for el in [*[o for o in order if o in comp], *rest])


def _order_of(comp: dict[str, float]) -> list[str]:
    from sseflow.analysis.formula import _order

    return _order(comp)


def check_fraction(fraction) -> float:
    """``fraction`` as a float in (0, 1] (InputError otherwise: NaN, inf, <= 0, > 1)."""
    try:
        x = float(fraction)
    except (TypeError, ValueError):
        raise InputError(f"fraction must be a number in (0, 1] (got {fraction!r})") from None
    if not math.isfinite(x) or not 0 < x <= 1:
        raise InputError(f"fraction must be a number in (0, 1] (got {fraction!r})")
    return x


def cells_for_fraction(n_site_atoms: int, fraction: float, site: str = "site",
                       max_cells: int = MAX_SUPERCELL_CELLS) -> tuple[int, int]:
    """(host cells m, atoms replaced k) of a partial substitution: the smallest m <= ``max_cells``
    for which ``fraction`` x m x ``n_site_atoms`` is a whole number k (within ``WHOLE_TOL``) with
    0 < k < m x ``n_site_atoms``; ``fraction`` 1: (1, n_site_atoms). InputError when none."""
    x = check_fraction(fraction)
    n = int(n_site_atoms)
    if n < 1:
        raise InputError(f"the host cell has no {site} to substitute")
    if x == 1.0:
        return 1, n
    tried = []
    for m in range(1, int(max_cells) + 1):
        a = x * m * n
        k = int(round(a))
        tried.append(f"{a:.4g}")
        if abs(a - k) <= WHOLE_TOL and 0 < k < m * n:
            return m, k
    raise InputError(f"fraction {x:g} of {n} {site} per cell is not a whole number of atoms in any supercell of up "
                     f"to {max_cells} host cells ({', '.join(tried)} atoms): choose a fraction such as "
                     f"{_fraction_examples(n, max_cells)}")


def _fraction_examples(n: int, max_cells: int) -> str:
    from fractions import Fraction

    xs = sorted({Fraction(k, m * n) for m in range(1, max_cells + 1) for k in range(1, m * n)})
    picks = [xs[0], *[f for f in xs if f in (Fraction(1, 4), Fraction(1, 2), Fraction(3, 4))]]
    return ", ".join(dict.fromkeys(f"{float(f):.4g}" for f in picks))


def plan_substitution(host_cell: dict[str, float] | str, site: str, substituent: str,
                      oxidation_states: dict[str, float] | None = None,
                      compensations: Iterable[str] = COMPENSATIONS,
                      n_substituted: int | None = None) -> SubstitutionPlan:
    """The plain substitution of every ``site`` atom of the host cell by ``substituent`` (or of
    ``n_substituted`` of them: a partial substitution, module notes), and its charge-compensated
    variants (module notes).

    ``host_cell``: element amounts of the cell to be substituted (or a formula; for a partial
    substitution the supercell); ``compensations``: which of ``li-interstitial``,
    ``anion-vacancy``, ``li-vacancy`` to offer where they apply.
    """
    cell = parse_formula(host_cell) if isinstance(host_cell, str) else {k: float(v) for k, v in host_cell.items()}
    _element(site)
    _element(substituent)
    comps = tuple(compensations)
    bad = [c for c in comps if c not in COMPENSATIONS]
    if bad:
        raise InputError(f"unknown compensation '{bad[0]}' (choose from {', '.join(COMPENSATIONS)})")
    if site not in cell:
        raise InputError(f"site element {site} is not in the host {formula_string(cell)}")
    if substituent == site:
        raise InputError(f"substituent {substituent} is the site element itself")
    ox = dict(oxidation_states) if oxidation_states else host_oxidation_states(cell)
    missing = sorted(set(cell) - set(ox))
    if missing:
        raise InputError(f"no oxidation state for {', '.join(missing)} of the host")
    q0 = float(ox[site])
    if q0 == 0:
        raise InputError(f"site element {site} has oxidation state 0 in the host: nothing to substitute on")
    q = substituent_oxidation_state(substituent, q0)
    if substituent in cell and float(ox[substituent]) != q:
        raise InputError(f"{substituent} is in the host as {ox[substituent]:+g}, but would take the "
                         f"{site} site as {q:+d}")
    ox_all = {**ox, substituent: float(q)}
    _, z = reduce_amounts(cell)
    n = cell[site]
    if abs(n - round(n)) > 1e-9:
        raise InputError(f"the host cell has a fractional amount of {site} ({n:g}): give an ordered cell")
    n_all = int(round(n))
    n = n_all if n_substituted is None else int(n_substituted)
    if n_substituted is not None and (n != n_substituted or not 0 < n <= n_all):
        raise InputError(f"cannot substitute {n_substituted} of the {n_all} {site} of the cell")
    partial = n < n_all
    base = {k: v for k, v in cell.items() if k != site}
    if partial:
        base[site] = float(n_all - n)
    base[substituent] = base.get(substituent, 0.0) + n
    plan = SubstitutionPlan(formula_string(_reduced(cell)), site, substituent, n, float(z), q0, q, ox_all, [],
                            site_atoms=n_all)
    order = [substituent if el == site else el for el in _order_of(cell)]
    if partial:  # the substituent right after the site element: Li20GeSnP4S24
        order = list(dict.fromkeys(x for el in _order_of(cell) if el != substituent
                                   for x in ((site, substituent) if el == site else (el,))))

    def add(kind: str, changes: dict[str, float], rule: str) -> None:
        c = dict(base)
        for el, d in changes.items():
            c[el] = c.get(el, 0.0) + d
        c = {el: a for el, a in c.items() if a > 1e-9}
        if partial:  # the cell's reduced integer formula; charges per unit of it
            _, zc = reduce_amounts(c)
            formula = _per_fu(c, zc, order)
            per_unit = {el: a / zc for el, a in c.items()}
            plan.variants.append(Variant(substituent, kind, formula, c, dict(changes), charge_balance(per_unit, ox_all),
                                         rule, _per_fu(c, z, order), n))
            return
        per_fu = {el: a / z for el, a in c.items()}
        plan.variants.append(Variant(substituent, kind, _per_fu(c, z, order), c, dict(changes),
                                     charge_balance(per_fu, ox_all), rule, n_substituted=n))

    add(PLAIN, {}, (f"{n} of {n_all} {site} ({q0:+g}) per cell replaced by {substituent} ({q:+d})" if partial
                    else f"every {site} ({q0:+g}) replaced by {substituent} ({q:+d})"))
    d_total = n * (q - q0)
    if abs(d_total) < BALANCE_TOL:
        plan.notes.append(f"{substituent}{q:+d} is isovalent with {site}{q0:+g}: no compensation needed")
        return plan
    deficit = -d_total  # positive: charge missing
    if deficit > 0:
        if LI_INTERSTITIAL in comps:
            if "Li" in cell and ox.get("Li") == 1 and abs(deficit - round(deficit)) < 1e-9:
                add(LI_INTERSTITIAL, {"Li": float(round(deficit))},
                    f"{int(round(deficit))} Li+ per cell added in the largest voids")
            else:
                plan.notes.append("no Li-interstitial variant: the host has no Li+")
        if ANION_VACANCY in comps:
            anions = [el for el in cell if ox[el] < 0]
            if anions:
                an = max(anions, key=lambda el: (_element(el).X, el))
                k = deficit / -ox[an]
                if abs(k - round(k)) < 1e-9 and round(k) <= cell[an]:
                    add(ANION_VACANCY, {an: -float(round(k))},
                        f"{int(round(k))} {an}{ox[an]:+g} per cell removed next to the substituent")
                else:
                    plan.notes.append(f"no {an}-vacancy variant: {deficit:g} charges per cell are not a whole number "
                                      f"of {an}{ox[an]:+g} (use a larger cell)")
    else:
        if LI_VACANCY in comps:
            excess = -deficit
            if "Li" in cell and ox.get("Li") == 1 and abs(excess - round(excess)) < 1e-9 and excess <= cell["Li"]:
                add(LI_VACANCY, {"Li": -float(round(excess))}, f"{int(round(excess))} Li+ per cell removed "
                                                                 "next to the substituent")
            else:
                plan.notes.append("no Li-vacancy variant: the host has too little Li+")
    return plan


def _reduced(cell: dict[str, float]) -> dict[str, float]:
    red, _ = reduce_amounts(cell)
    return red


# --------------------------------------------------------------------------- proposals

@dataclass
class Proposal:
    element: str
    oxidation_state: int
    probability: float
    radius_A: float
    site_radius_A: float
    score: float

    def to_dict(self) -> dict:
        return asdict(self)


class Proposals(list):
    """The proposals, best first (a list of :class:`Proposal`), with ``excluded`` (the element
    filter applied) and ``skipped`` (filtered elements that would otherwise have been among the
    ``n`` best, best first)."""

    def __init__(self, items=(), excluded: Iterable[str] = (), skipped: Iterable[str] = ()):
        super().__init__(items)
        self.excluded = sorted(excluded)
        self.skipped = list(skipped)

    def filter_note(self) -> str:
        """One line for the proposal notes: the filter and what it skipped."""
        extra = sorted(set(self.excluded) - DEFAULT_EXCLUDED)
        if not set(DEFAULT_EXCLUDED) <= set(self.excluded):
            what = "element filter off (--any-element)" + (f", excluding {', '.join(extra)}" if extra else "")
        else:
            what = "element filter: " + FILTER_DESCRIPTION + (f", and {', '.join(extra)}" if extra else "")
        return f"{what}; skipped by the filter: {', '.join(self.skipped) if self.skipped else 'none'}"


def element_filter(exclude_elements: Iterable[str] = (), any_element: bool = False) -> frozenset[str]:
    """The elements the proposals leave out besides the radioactive ones: :data:`DEFAULT_EXCLUDED`
    (unless ``any_element``) plus ``exclude_elements`` (InputError for an unknown symbol)."""
    extra = [str(e).strip() for e in exclude_elements if str(e).strip()]
    for e in extra:
        _element(e)
    return frozenset(extra) | (frozenset() if any_element else DEFAULT_EXCLUDED)


def propose_substituents(host: dict[str, float] | str, site: str, n: int,
                         oxidation_states: dict[str, float] | None = None,
                         allowed: Iterable[str] | None = None, exclude_elements: Iterable[str] = (),
                         any_element: bool = False) -> Proposals:
    """The ``n`` best-scored substituents of the ``site`` element of the host (module notes).

    ``allowed``: only these elements (e.g. those a reference set covers); None: any.
    ``exclude_elements``: left out besides the default filter (precious metals, highly toxic
    elements); ``any_element``: no default filter (radioactive elements stay out).
    """
    if int(n) < 1:
        raise InputError(f"--auto needs a positive number of candidates (got {n})")
    excluded = element_filter(exclude_elements, any_element)
    comp = parse_formula(host) if isinstance(host, str) else dict(host)
    if site not in comp:
        raise InputError(f"site element {site} is not in the host {formula_string(comp)}")
    ox = dict(oxidation_states) if oxidation_states else host_oxidation_states(comp)
    q0 = int(round(ox[site]))
    from pymatgen.analysis.structure_prediction.substitution_probability import SubstitutionProbability
    from pymatgen.core import Species

    site_species = Species(site, q0)
    r0 = site_species.ionic_radius
    if r0 is None:
        raise InputError(f"no ionic radius for {site}{q0:+d}: cannot score substituents")
    sp = SubstitutionProbability()
    if site_species not in sp.species:
        raise InputError(f"{site}{q0:+d} is not in pymatgen's substitution statistics")
    allow = None if allowed is None else set(allowed)
    out: list[Proposal] = []
    for s in sp.species:
        el = s.element.symbol
        q = s.oxi_state
        if el in comp or el in RADIOACTIVE or q is None or q * q0 <= 0 or int(q) != q:
            continue
        if allow is not None and el not in allow:
            continue
        if q not in s.element.common_oxidation_states:
            continue
        with warnings.catch_warnings():  # "No ionic radius for Xe2+!" for exotic species
            warnings.simplefilter("ignore")
            r = s.ionic_radius
        if r is None:
            continue
        p = float(sp.cond_prob(s, site_species))
        if p <= 0:
            continue
        dr = (float(r) - float(r0)) / float(r0)
        score = p * math.exp(-0.5 * (dr / RADIUS_WIDTH) ** 2) * CHARGE_PENALTY ** abs(int(q) - q0)
        out.append(Proposal(el, int(q), p, float(r), float(r0), score))
    best: dict[str, Proposal] = {}
    for p in out:  # one state per element: its best-scored
        if p.element not in best or p.score > best[p.element].score:
            best[p.element] = p
    ranked = sorted(best.values(), key=lambda p: (-p.score, p.element))
    skipped = [p.element for p in ranked[:int(n)] if p.element in excluded]
    return Proposals([p for p in ranked if p.element not in excluded][:int(n)], excluded, skipped)


# --------------------------------------------------------------------------- thermodynamics

def energy_above_hull(reference, composition: dict[str, float] | str, energy_per_atom: float,
                      exclude: Iterable[str] = ()) -> float:
    """E_hull (meV/atom, >= 0) of a phase of formation energy ``energy_per_atom`` (eV/atom)
    against ``reference`` (a :class:`~sseflow.analysis.reference.ReferenceSet`)."""
    from sseflow.analysis.hull import PhaseSpace

    comp = parse_formula(composition) if isinstance(composition, str) else dict(composition)
    els = sorted(comp)
    space = PhaseSpace(reference.entries_in(els, exclude, hull_candidates=True), els, prune=False)
    b = space.vector(comp)
    n = float(b.sum())
    hull = space.hull(b)
    return max(0.0, (float(energy_per_atom) * n - hull.energy) / n * 1000.0)


# --------------------------------------------------------------------------- ranking and tables

def _sort_key(row: dict):
    def num(x, default):
        return default if x is None or (isinstance(x, float) and not math.isfinite(x)) else x

    return (0 if row.get("charge_balanced") else 1, num(row.get("e_above_hull_meV"), math.inf),
            num(row.get("reduction_V"), math.inf), -num(row.get("rxn_li_meV"), -math.inf), row.get("formula", ""))


def rank_rows(rows: Sequence[dict]) -> list[dict]:
    """Rows sorted by the ranking rule (module notes), with ``rank`` 1, 2, ... set."""
    out = sorted((dict(r) for r in rows), key=_sort_key)
    for i, r in enumerate(out, 1):
        r["rank"] = i
    return out


COLUMNS = ("rank", "label", "formula", "substituent", "compensation", "charge_balanced", "net_charge",
           "e_above_hull_meV", "e_above_hull_vs_host_meV", "reduction_V", "oxidation_V", "rxn_li_meV", "rxn_li_products",
           "rxn_alloy_meV", "rxn_alloy_products", "formation_energy_eV_per_atom", "relax_converged")


PARTIAL_COLUMNS = ("formula_per_host_fu", "fraction", "supercell", "orderings_distinct", "orderings_relaxed",
                   "ordering_gap_meV")


def _partial(rows: Sequence[dict]) -> bool:
    return any(r.get("fraction") is not None and r["fraction"] < 1 for r in rows)


def _f(x, digits: int) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _cells(r: dict, sep: str = ", ") -> list[str]:
    return [str(r["rank"]), r["label"], r["formula"],
            "yes" if r["charge_balanced"] else f"NO ({_q(r['net_charge'])})",
            _f(r.get("e_above_hull_meV"), 1), _f(r.get("e_above_hull_vs_host_meV"), 1), _f(r.get("reduction_V"), 2), _f(r.get("oxidation_V"), 2),
            _f(r.get("rxn_li_meV"), 1), sep.join(r.get("rxn_li_products") or []) or "none",
            _f(r.get("rxn_alloy_meV"), 1), sep.join(r.get("rxn_alloy_products") or []) or "none"]


def format_substitution(rows: Sequence[dict], fmt: str = "text", alloy: str = "Li15Si4") -> str:
    """The ranked table as ``text``, ``md``, ``csv`` or ``json`` (energies in meV/atom, V vs Li/Li+)."""
    fmt = fmt.lower()
    partial = _partial(rows)  # a partial substitution: the per-formula-unit composition too

    def cells(r: dict, sep: str = ", ") -> list[str]:
        c = _cells(r, sep)
        return c[:3] + [r.get("formula_per_host_fu") or r["formula"]] + c[3:] if partial else c

    if fmt == "json":
        return json.dumps(list(rows), indent=2, allow_nan=False)
    if fmt == "csv":
        cols = COLUMNS[:3] + PARTIAL_COLUMNS + COLUMNS[3:] if partial else COLUMNS
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow([("" if r.get(c) is None else " + ".join(r[c]) if isinstance(r.get(c), list) else r[c])
                        for c in cols])
        return buf.getvalue()
    fu = ["per host formula unit"] if partial else []
    head = ["#", "candidate", "formula", *fu, "charge balanced", "E_hull (meV/atom)", "E_hull - E_hull(host)",
            "V_red (V)", "V_ox (V)", "E_rxn Li (meV/atom)", "products (Li)", f"E_rxn {alloy} (meV/atom)",
            f"products ({alloy})"]
    if fmt == "md":
        lines = ["| " + " | ".join(head) + " |",
                 "|" + "|".join(["---:", "---", "---", *(["---"] if partial else []), "---", "---:", "---:", "---:",
                                 "---:", "---:", "---", "---:", "---"]) + "|"]
        lines += ["| " + " | ".join(cells(r)) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    if fmt == "text":
        from sseflow.analysis.tables import text_table

        short = ["#", "candidate", "formula", *(["per f.u."] if partial else []), "balanced", "E_hull", "dE_host",
                 "V_red", "V_ox", "E_Li", "products (Li)", "E_" + alloy, f"products ({alloy})"]
        return text_table(short, [cells(r, " + ") for r in rows])
    raise InputError(f"unknown table format '{fmt}': use text, md, csv or json")


# --------------------------------------------------------------------------- figure

def plot_substitution(rows: Sequence[dict], path=None, alloy: str = "Li15Si4", title: str | None = None):
    """Two panels: E_hull against the reduction limit (one labelled point per candidate; open
    markers for compositions that are not charge balanced), and the most negative reaction
    energy with Li and with ``alloy``. Returns the matplotlib Figure (written to ``path`` when given)."""
    import numpy as np

    from sseflow.analysis.plots import new_axes, save_figure

    fig, (ax1, ax2) = new_axes(figsize=(11.0, 4.4), ncols=2)
    pts = [(r.get("reduction_V"), r.get("e_above_hull_meV")) for r in rows]
    pts = [(x, y) for x, y in pts if x is not None and y is not None]
    xr = (max(p[0] for p in pts) - min(p[0] for p in pts)) or 1.0 if pts else 1.0
    yr = (max(p[1] for p in pts) - min(p[1] for p in pts)) or 1.0 if pts else 1.0
    placed: list[tuple[float, float]] = []
    for r in rows:
        x, y = r.get("reduction_V"), r.get("e_above_hull_meV")
        if x is None or y is None:
            continue
        crowded = sum(abs(x - px) < 0.03 * xr and abs(y - py) < 0.05 * yr for px, py in placed)
        placed.append((x, y))
        filled = bool(r.get("charge_balanced"))
        kind = r.get("compensation")
        marker, color = ("*", "C3") if kind == "host" else ("o" if kind == PLAIN else "s", "C0")
        ax1.scatter([x], [y], s=70 if kind == "host" else 40, marker=marker,
                    facecolors=(color if filled else "none"), edgecolors=color)
        ax1.annotate(r["formula"], (x, y), textcoords="offset points", xytext=(4, 3 - 9 * crowded), fontsize=7)
    ax1.set_xlabel("reduction limit (V vs Li/Li$^+$)")
    ax1.set_ylabel("E$_\\mathrm{hull}$ (meV/atom)")
    ax1.set_title("circle: plain, square: compensated, star: host; open: not charge balanced", fontsize=8)
    labels = [r["formula"] for r in rows]
    xs = np.arange(len(rows))
    li = [r.get("rxn_li_meV") or 0.0 for r in rows]
    al = [r.get("rxn_alloy_meV") or 0.0 for r in rows]
    ax2.bar(xs - 0.2, li, width=0.4, label="with Li")
    ax2.bar(xs + 0.2, al, width=0.4, label=f"with {alloy}")
    ax2.set_xticks(xs)
    ax2.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    ax2.set_ylabel("most negative E$_\\mathrm{rxn}$ (meV/atom)")
    ax2.axhline(0.0, color="k", lw=0.6)
    ax2.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return fig
