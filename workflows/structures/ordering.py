"""Ordered models of a disordered prototype: supercell, Ewald-ranked orderings, ML relaxation.

A crystal whose sites are shared by several species (a published disordered structure, e.g.
Li5SiP3 as antifluorite with Li and Si on the tetrahedral sites) has no single ordered cell. This
module makes one:

1. supercells of the primitive disordered cell that hold whole atoms of every species
   (:func:`cell_multiple`: the smallest number of primitive cells; :func:`supercells`: every
   diagonal supercell of that many, or of the multiples asked for);
2. every ordering of each supercell ranked by its Ewald energy with formal charges (pymatgen
   ``OrderDisorderedStructureTransformation``, ``return_ranked_list``), pooled, ranked per atom
   and deduplicated with ``StructureMatcher``; the ``top`` lowest distinct orderings are kept;
3. each is relaxed with a calculator backend (positions and cell) and screened like a search
   candidate (:mod:`sseflow.workflows.structures.search`); the lowest in energy per atom wins.

The result is an *ordered model* of a disordered structure, chosen by a potential: never an
experimental frame. :func:`write_result` writes its CIF with the prototype, the ordering method and
the model in the header, and a side JSON with every ordering.

>>> proto = prototype(225, 5.84, {"4a": {"P": 1}, "8c": {"Li": 5 / 6, "Si": 1 / 6}})
>>> res = order(proto, cells=[3, 6], top=10, oxidation_states={"Li": 1, "Si": 4, "P": -3})
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable

from sseflow.analysis.errors import InputError
from sseflow.workflows.calculators.registry import DEFAULT as DEFAULT_CALCULATOR
from sseflow.workflows.structures.search import RankedStructures

MAX_CELLS = 64              # primitive cells in one supercell
MAX_SITES = 96              # sites in one supercell
DEFAULT_RANKED = 200        # orderings kept per supercell by the Ewald ranking before deduplication
DEFAULT_TOP = 10            # distinct orderings relaxed
OCC_TOL = 1e-3              # occupancy x cells within this of a whole number counts as whole


# ------------------------------------------------------------------ prototype

def prototype(spacegroup: int | str, lattice, sites: dict, coords: dict | None = None):
    """A (possibly disordered) structure from its space group and occupied Wyckoff positions.

    ``lattice``: a cubic lattice constant (Å), a pymatgen ``Lattice`` or a 3x3 matrix;
    ``sites``: ``{"4a": {"P": 1}, "8c": {"Li": 5/6, "Si": 1/6}}`` (Wyckoff letter with its
    multiplicity, occupancies); ``coords``: a representative coordinate per Wyckoff position when
    it has free parameters (positions without free parameters are read from pyxtal's tables).
    """
    from pymatgen.core import Lattice, Structure

    if isinstance(lattice, (int, float)):
        lattice = Lattice.cubic(float(lattice))
    elif not isinstance(lattice, Lattice):
        lattice = Lattice(lattice)
    species, frac = [], []
    for wp, occ in sites.items():
        if coords and wp in coords:
            xyz = list(coords[wp])
        else:
            xyz = _wyckoff_point(int(spacegroup), wp)
        species.append(dict(occ))
        frac.append(xyz)
    try:
        s = Structure.from_spacegroup(spacegroup, lattice, species, frac)
    except Exception as exc:
        raise InputError(f"cannot build the prototype in space group {spacegroup}: {exc}") from None
    return s


def _wyckoff_point(number: int, letter_with_mult: str) -> list[float]:
    """A representative point of a Wyckoff position without free parameters (pyxtal's tables)."""
    from pyxtal.symmetry import Group

    g = Group(number)
    letter = "".join(ch for ch in letter_with_mult if ch.isalpha())
    for wp in g.Wyckoff_positions:
        if wp.letter == letter:
            if wp.get_dof() != 0:
                raise InputError(f"Wyckoff position {letter_with_mult} of space group {number} has free "
                                 "parameters: give its coordinates")
            import numpy as np

            return [float(x) % 1.0 for x in wp.ops[0].operate(np.zeros(3))]
    raise InputError(f"space group {number} has no Wyckoff position '{letter_with_mult}'")


# ------------------------------------------------------------------ supercells

def cell_multiple(structure, max_cells: int = MAX_CELLS) -> int:
    """The smallest number of primitive cells in which every species on every set of equally
    occupied sites is a whole number of atoms."""
    prim = structure.get_primitive_structure(use_site_props=False)
    groups: dict = {}
    for site in prim:
        key = tuple(sorted((str(sp), round(float(o), 6)) for sp, o in site.species.items()))
        groups[key] = groups.get(key, 0) + 1
    need = 1
    for key, n in groups.items():
        for _, occ in key:
            f = Fraction(occ * n).limit_denominator(96)
            need = need * f.denominator // math.gcd(need, f.denominator)
    if need > max_cells:
        raise InputError(f"the occupancies need {need} primitive cells for whole atoms (more than {max_cells})")
    return need


def supercells(n: int) -> list[tuple[int, int, int]]:
    """The diagonal scalings (a <= b <= c, product ``n``) of the primitive cell."""
    out = []
    for a in range(1, n + 1):
        for b in range(a, n + 1):
            if n % (a * b) == 0 and n // (a * b) >= b:
                out.append((a, b, n // (a * b)))
    return out


# ------------------------------------------------------------------ result

@dataclass
class Ordering:
    rank_ewald: int                  # rank by Ewald energy per atom among the distinct orderings
    scaling: tuple
    ewald_per_atom: float            # eV/atom, formal charges
    initial: object = None           # ordered, unrelaxed pymatgen Structure
    status: str = "pending"
    reason: str | None = None
    energy_per_atom: float | None = None
    structure: object = None
    spacegroup_symbol: str | None = None
    spacegroup_number: int | None = None
    n_steps: int = 0
    wall_time_s: float = 0.0
    duplicates: int = 0              # equivalent orderings merged: in the Ewald pool, then after relaxation

    def row(self, e_min: float | None = None) -> dict:
        rel = None
        if self.energy_per_atom is not None and e_min is not None:
            rel = 1000.0 * (self.energy_per_atom - e_min)
        return {"rank_ewald": self.rank_ewald, "supercell": "x".join(map(str, self.scaling)),
                "ewald_eV_per_atom": round(self.ewald_per_atom, 5), "status": self.status, "reason": self.reason,
                "energy_per_atom": self.energy_per_atom, "relative_energy_meV": rel,
                "spacegroup": self.spacegroup_symbol, "spacegroup_number": self.spacegroup_number,
                "nsites": len(self.initial) if self.initial is not None else None, "n_steps": self.n_steps,
                "duplicates": self.duplicates, "wall_time_s": round(self.wall_time_s, 3)}


@dataclass
class OrderingResult(RankedStructures):
    formula: str
    prototype: str                   # how the disordered structure was given
    prototype_spacegroup: str
    cells: list
    scalings: list
    orderings_enumerated: int
    calculator: str
    model: str
    fmax: float
    steps: int
    oxidation_states: dict
    orderings: list = field(default_factory=list)    # relaxed, in Ewald order
    distinct: list = field(default_factory=list)     # accepted, deduplicated after relaxation, lowest first
    wall_time_s: float = 0.0

    def provenance(self) -> dict:
        import sseflow

        b = self.best
        return {
            "origin": "ordered prototype",
            "note": "ordered model of a disordered prototype: orderings ranked by Ewald energy (formal charges), "
                    "the lowest distinct ones relaxed with a machine-learned or model potential; not an "
                    "experimental structure",
            "formula": self.formula,
            "prototype": self.prototype,
            "prototype_spacegroup": self.prototype_spacegroup,
            "ordering_method": "pymatgen OrderDisorderedStructureTransformation (Ewald ranking, formal charges "
                               f"{self.oxidation_states}) over diagonal supercells of the primitive cell; "
                               "StructureMatcher deduplication",
            "cells": self.cells,
            "supercells": ["x".join(map(str, s)) for s in self.scalings],
            "orderings_enumerated": self.orderings_enumerated,
            "orderings_relaxed": len(self.orderings),
            "accepted": sum(o.status == "accepted" for o in self.orderings),
            "distinct": len(self.distinct),
            "spacegroup": b.spacegroup_symbol if b else None,
            "spacegroup_number": b.spacegroup_number if b else None,
            "supercell": "x".join(map(str, b.scaling)) if b else None,
            "nsites": len(b.structure) if b else None,
            "ewald_rank": b.rank_ewald if b else None,
            "calculator": self.calculator,
            "model": self.model,
            "fmax_eV_A": self.fmax,
            "max_steps": self.steps,
            "energy_per_atom_eV": b.energy_per_atom if b else None,
            "gap_to_next_distinct_meV": self.gap_meV,
            "sseflow_version": sseflow.__version__,
        }

    def to_dict(self) -> dict:
        e0 = self.best.energy_per_atom if self.best else None
        return {"provenance": self.provenance(), "table": self.table(),
                "orderings": [o.row(e0) for o in self.orderings], "wall_time_s": round(self.wall_time_s, 3)}


# ------------------------------------------------------------------ ordering

def _oxidise(s, oxidation_states: dict | None):
    s = s.copy()
    s.remove_oxidation_states()
    if oxidation_states is None:
        guesses = s.composition.oxi_state_guesses(max_sites=-50)
        if not guesses:
            raise InputError(f"no charge-balanced oxidation states for {s.composition.reduced_formula}: "
                             "give them (e.g. --oxidation Li=1,Si=4,P=-3)")
        oxidation_states = {k: int(round(v)) for k, v in guesses[0].items()}
    missing = {str(e) for e in s.composition.elements} - set(oxidation_states)
    if missing:
        raise InputError(f"oxidation states missing for {', '.join(sorted(missing))}")
    s.add_oxidation_state_by_element(oxidation_states)
    return s, dict(oxidation_states)


def enumerate_orderings(structure, cells=None, ranked: int = DEFAULT_RANKED, top: int = DEFAULT_TOP,
                        oxidation_states: dict | None = None, scalings=None):
    """The ``top`` lowest distinct orderings by Ewald energy per atom (unrelaxed, oxidation states
    removed) over the diagonal supercells of ``cells`` primitive cells each (default: the smallest
    whole multiple). Returns ``(orderings, info)``."""
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.transformations.standard_transformations import OrderDisorderedStructureTransformation

    if structure.is_ordered:
        raise InputError("the structure has no partial occupancies: nothing to order")
    if not 1 <= top <= 200:
        raise InputError(f"--top must be between 1 and 200 (got {top})")
    prim = structure.get_primitive_structure(use_site_props=False)
    base = cell_multiple(prim)
    cells = [base] if not cells else [int(c) for c in cells]
    for c in cells:
        if c < 1 or c % base:
            raise InputError(f"{c} primitive cells do not hold whole atoms: use a multiple of {base}")
        if c > MAX_CELLS or c * len(prim) > MAX_SITES:
            raise InputError(f"{c} primitive cells ({c * len(prim)} sites) is more than this enumeration allows "
                             f"({MAX_CELLS} cells, {MAX_SITES} sites)")
    prim_ox, ox = _oxidise(prim, oxidation_states)
    if scalings is None:
        scalings = [sc for c in cells for sc in supercells(c)]
    pool = []
    trans = OrderDisorderedStructureTransformation(algo=OrderDisorderedStructureTransformation.ALGO_FAST)
    import warnings

    for sc in scalings:
        sup = prim_ox * sc
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = trans.apply_transformation(sup, return_ranked_list=int(ranked))
        for d in got:
            s = d["structure"]
            pool.append((float(d["energy"]) / len(s), tuple(sc), s))
    pool.sort(key=lambda t: t[0])
    sm = StructureMatcher()
    kept: list[Ordering] = []
    for e, sc, s in pool:
        s = s.copy()
        s.remove_oxidation_states()
        for k in kept:
            if abs(k.ewald_per_atom - e) < 1e-4 and sm.fit(k.initial, s):
                k.duplicates += 1
                break
        else:
            kept.append(Ordering(rank_ewald=len(kept) + 1, scaling=sc, ewald_per_atom=e, initial=s.get_sorted_structure()))
            if len(kept) >= top:
                break
    info = {"cells": cells, "scalings": [tuple(s) for s in scalings], "enumerated": len(pool),
            "oxidation_states": ox, "base_cells": base}
    return kept, info


def order(structure, cells=None, top: int = DEFAULT_TOP, ranked: int = DEFAULT_RANKED,
          oxidation_states: dict | None = None, calculator: str = DEFAULT_CALCULATOR, fmax: float | None = None,
          steps: int | None = None, calculator_params: dict | None = None, prototype_label: str | None = None,
          relax: bool = True, progress: Callable[[Ordering], None] | None = None) -> OrderingResult:
    """Ordered models of the disordered ``structure`` relaxed with ``calculator``; lowest first.

    With ``relax=False`` the orderings are only enumerated and ranked (Ewald); no calculator runs."""
    from sseflow.workflows.structures import search as ss

    fmax = ss.DEFAULT_FMAX if fmax is None else float(fmax)
    steps = ss.DEFAULT_STEPS if steps is None else int(steps)
    t_all = time.perf_counter()
    kept, info = enumerate_orderings(structure, cells=cells, ranked=ranked, top=top,
                                     oxidation_states=oxidation_states)
    formula = kept[0].initial.composition.reduced_formula if kept else structure.composition.reduced_formula
    sga_sym = _proto_spacegroup(structure)
    backend = None
    if relax:
        from sseflow.workflows.calculators import get_calculator

        backend = get_calculator(calculator, **(calculator_params or {}))
    out = OrderingResult(formula=formula, prototype=prototype_label or structure.composition.formula,
                         prototype_spacegroup=sga_sym, cells=info["cells"], scalings=info["scalings"],
                         orderings_enumerated=info["enumerated"],
                         calculator=backend.name if backend else "none (Ewald only)",
                         model=ss._model_name(backend) if backend else "Ewald sum, formal charges",
                         fmax=fmax, steps=steps, oxidation_states=info["oxidation_states"])
    for o in kept:
        t0 = time.perf_counter()
        if backend is None:
            o.status, o.structure, o.energy_per_atom = "accepted", o.initial, o.ewald_per_atom
        else:
            res = backend.relax(o.initial, fmax=fmax, steps=steps, relax_cell=True)
            o.n_steps = int(res.n_steps)
            reason = ss._screen(None, res, o.initial, fmax)
            if reason:
                o.status, o.reason = "rejected", reason
            else:
                o.status, o.structure, o.energy_per_atom = "accepted", res.structure, float(res.energy_per_atom)
        if o.status == "accepted":
            o.spacegroup_symbol, o.spacegroup_number = ss._spacegroup(o.structure)
        o.wall_time_s = time.perf_counter() - t0
        out.orderings.append(o)
        if progress is not None:
            progress(o)
    out.distinct = _dedupe([o for o in out.orderings if o.status == "accepted"])
    out.wall_time_s = time.perf_counter() - t_all
    return out


def _dedupe(items: list[Ordering]) -> list[Ordering]:
    from pymatgen.analysis.structure_matcher import StructureMatcher

    sm = StructureMatcher()
    out: list[Ordering] = []
    for o in sorted(items, key=lambda o: (o.energy_per_atom, o.rank_ewald)):
        for d in out:
            if sm.fit(d.structure, o.structure):
                d.duplicates += 1
                break
        else:
            out.append(o)
    return out


def _proto_spacegroup(structure) -> str:
    """Space group of the disordered structure (pymatgen treats equal occupancies as one species)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        a = SpacegroupAnalyzer(structure, symprec=0.01)
        return f"{a.get_space_group_symbol()} ({a.get_space_group_number()})"
    except Exception:
        return "unknown"


# ------------------------------------------------------------------ output

def cif_text(result: OrderingResult) -> str:
    """The best ordering as CIF (symmetrized), its provenance as ``#`` header lines."""
    from sseflow.workflows.structures.search import symmetrized_cif

    b = result.best
    if b is None:
        raise InputError("no ordering relaxed to an acceptable structure")
    p = result.provenance()
    body = symmetrized_cif(b.structure)
    gap = p["gap_to_next_distinct_meV"]
    head = [
        f"# {p['formula']}: ORDERED MODEL of a disordered prototype, not an experimental structure",
        f"# prototype: {p['prototype']} ({p['prototype_spacegroup']})",
        f"# ordering: {p['ordering_method']}",
        f"# ordering: supercells {', '.join(p['supercells'])} of the primitive cell; {p['orderings_enumerated']} "
        f"orderings ranked, {p['orderings_relaxed']} distinct relaxed ({p['accepted']} accepted, "
        f"{p['distinct']} distinct after relaxation); chosen: Ewald rank {p['ewald_rank']}, supercell "
        f"{p['supercell']}",
        f"# model: {p['model']} (calculator {p['calculator']}, fmax {p['fmax_eV_A']:g} eV/A, max steps "
        f"{p['max_steps']}); space group after relaxation {p['spacegroup']} ({p['spacegroup_number']})",
        f"# energy per atom: {p['energy_per_atom_eV']:.6f} eV; next distinct ordering "
        + (f"{gap:.1f} meV/atom higher" if gap is not None else "n/a (one distinct ordering)"),
        f"# sseflow version: {p['sseflow_version']}",
    ]
    return "\n".join(head) + "\n" + body


def write_result(result: OrderingResult, directory: str | Path) -> dict:
    """``<formula>_ordered.cif`` and ``<formula>_ordered.json`` in ``directory``; their paths."""
    from sseflow.workflows.structures.search import write_ranked

    return write_ranked(result, directory, f"{result.formula}_ordered", cif_text)


def parse_oxidation(text: str | None) -> dict | None:
    """``"Li=1,Si=4,P=-3"`` -> ``{"Li": 1, "Si": 4, "P": -3}``; None for empty."""
    if not text:
        return None
    out = {}
    for part in text.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise InputError(f"--oxidation: '{part}' is not EL=N")
        el, v = part.split("=", 1)
        try:
            out[el.strip()] = int(v)
        except ValueError:
            raise InputError(f"--oxidation: '{part}' is not EL=N") from None
    return out
