"""Anodes as first-class reactants: Li metal, Si and the Li-Si alloys.

* An anode is given by formula (``Li``, ``Si``, ``Li15Si4`` ...); the words ``lithium`` and
  ``silicon`` are accepted too.
* Its potential vs Li/Li+ is the *lower end of its own stability range against Li*
  (:func:`anode_potential`): 0 V for Li metal; for a Li-Si phase on the hull, the plateau
  at which it takes up more Li (e.g. Li13Si4 -> Li21Si5); for a phase above the hull
  (Li15Si4 in the Materials Project set, 1 meV/atom above), the plateau of its two-phase
  assemblage. It is the most reducing potential the electrode presents to what touches
  it, so it is the conservative value to compare a coating's reduction limit with.
* The lithiation series (:func:`lithiation_series`) is either the Li-Si phases of the
  reference set on or within ``tol_meV`` (5 meV/atom) of the hull, plus Si (``"hull"``,
  the default), or the documented default list :data:`LI_SI_DEFAULT`, or a list of
  formulas. Li metal is not part of the series (react with ``Li`` for it).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import parse_formula, reduced_formula
from sseflow.analysis.results import MSONResult
from sseflow.analysis.window import LI, WindowCalculator

SI = "Si"
#: Default Li-Si lithiation series (Si first), used when asked for "default".
LI_SI_DEFAULT: tuple[str, ...] = ("Si", "LiSi", "Li12Si7", "Li7Si3", "Li13Si4", "Li15Si4")
ALIASES = {"lithium": "Li", "li-metal": "Li", "li_metal": "Li", "silicon": "Si"}
HULL_TOL_MEV = 5.0


@dataclass(eq=False)
class AnodePhase(MSONResult):
    formula: str                 # reduced formula
    li_per_si: float | None      # x in LixSi (None for non Li-Si anodes)
    potential_V: float           # lower end of its stability range vs Li (see module notes)
    upper_V: float | None        # upper end (Li is extracted above it); None when it holds no Li
    e_above_hull_meV: float | None
    in_reference: bool

    def to_dict(self) -> dict:
        return asdict(self)


def anode_formula(name: str) -> str:
    """Normalise an anode name: ``lithium`` -> ``Li``; formulas are validated and kept as given."""
    key = name.strip()
    if key.lower() in ALIASES:
        return ALIASES[key.lower()]
    parse_formula(key)
    return key


def is_li_si(comp: dict[str, float]) -> bool:
    return bool(comp) and set(comp) <= {LI, SI}


def anode_phase(calc: WindowCalculator, name: str) -> AnodePhase:
    """Potential (and stability range) of one anode composition."""
    f = anode_formula(name)
    comp = parse_formula(f)
    li_per_si = comp.get(LI, 0.0) / comp[SI] if is_li_si(comp) and SI in comp else None
    if set(comp) == {LI}:
        return AnodePhase("Li", None, 0.0, 0.0, 0.0, True)
    w = calc.window(comp, profile=False)
    return AnodePhase(reduced_formula(comp), li_per_si, float(w.reduction_V), w.oxidation_V,
                      w.e_above_hull_meV, w.in_reference)


def anode_potential(calc: WindowCalculator, name: str) -> float:
    """Potential vs Li/Li+ (V) an anode imposes: 0 for Li, its lithiation plateau for an alloy."""
    return anode_phase(calc, name).potential_V


def lithiation_series(calc: WindowCalculator, source: str | Sequence[str] = "hull",
                      tol_meV: float = HULL_TOL_MEV) -> list[AnodePhase]:
    """The Li-Si series from Si to the most lithiated alloy, ordered by Li content.

    ``source``: ``"hull"`` (the reference set's Li-Si phases within ``tol_meV`` of the hull,
    plus Si), ``"default"`` (:data:`LI_SI_DEFAULT`), or a list of formulas. Formulas of the
    default list that the reference set lacks are kept and evaluated on the hull
    (``in_reference`` False).
    """
    if isinstance(source, str) and source.lower() == "hull":
        space = calc.space([LI, SI])
        best: dict[str, float] = {}
        for e in space.entries:
            if e.elements != frozenset((LI, SI)):
                continue
            rf = e.reduced_formula
            if rf not in best or e.energy_per_atom < best[rf]:
                best[rf] = e.energy_per_atom
        phases = [anode_phase(calc, SI)]
        for rf in best:
            ph = anode_phase(calc, rf)
            if ph.e_above_hull_meV is not None and ph.e_above_hull_meV <= tol_meV:
                phases.append(ph)
    else:
        names: Iterable[str] = LI_SI_DEFAULT if isinstance(source, str) and source.lower() == "default" else \
            ([source] if isinstance(source, str) else source)
        phases = []
        for n in names:
            comp = parse_formula(anode_formula(n))
            if not is_li_si(comp) or SI not in comp:
                raise InputError(f"{n} is not a Li-Si phase (the lithiation series holds Si and LixSi alloys)")
            phases.append(anode_phase(calc, n))
    seen: set[str] = set()
    out = []
    for ph in sorted(phases, key=lambda p: (p.li_per_si or 0.0, p.formula)):
        if ph.formula not in seen:
            seen.add(ph.formula)
            out.append(ph)
    return out
