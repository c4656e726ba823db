"""Check a structure-library phase: composition, space group, distances, CHGNet formation energy vs MP.

>>> validate_phase("Li15Si4")
{'name': 'Li15Si4', 'formula': 'Li15Si4', 'spacegroup_expected': 220, 'spacegroup_found': 220,
 'min_distance_ratio': 1.07, 'chgnet_formation_energy': -0.2..., 'mp_formation_energy': -0.233...,
 'deviation': ..., 'ok': True, ...}

The checks are those of ``tests/test_structures.py`` (formula of the file equals the index
formula; spglib space group at ``symprec=0.01`` equals the index one; no two atoms closer than
0.8 x the sum of their covalent radii, homonuclear molecular bonds excepted) plus the energy:

    E_f = (E_phase - sum_i n_i E_i) / N

with CHGNet energies of the phase and of the library's own elemental phases (``Li``, ``Si``,
``Cl2`` ...), all relaxed the same way (cell and positions, FIRE, the backend's fmax) through
``sseflow.workflows.calculators.get_calculator("chgnet")``. CHGNet energies are MP2020-compatible, so
E_f is compared directly with the lowest-energy row of the same reduced composition in the
Materials Project formation-energy table (``mp_formation_energies.csv``, read with
:func:`sseflow.analysis.reference.load_reference`). Elemental energies and the reference table are cached
per process, so validating many phases relaxes each element once.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import parse_formula, reduced_formula
from sseflow.workflows.calculators.registry import DEFAULT as DEFAULT_CALCULATOR
from sseflow.workflows.settings import settings

ROOT = Path(__file__).resolve().parents[2]

DISTANCE_FACTOR = 0.8     # minimum distance / (r_cov,a + r_cov,b), as in tests/test_structures.py
ENERGY_TOLERANCE = 0.1    # eV/atom, |CHGNet - MP| accepted

# Homonuclear molecules whose real bond is shorter than 0.8 x (2 x covalent radius): N≡N is
# 1.10 Å (0.77 of 2 x 0.71 Å). Only the intramolecular pair is exempt, at its real length.
MOLECULAR_BONDS = {"N2": ("N", 1.05, 1.15)}

_CALCULATORS: dict[tuple, object] = {}
_ELEMENT_ENERGIES: dict[tuple, dict] = {}
_REFERENCES: dict[str, object] = {}


def default_reference_csv() -> Path:
    """The shared Materials Project table: ``$SSEFLOW_SHARED/data`` or ``<repo>/../shared/data``."""
    shared = settings().shared
    base = Path(shared) if shared else ROOT.parent / "shared"
    return base / "data" / "mp_formation_energies.csv"


def _formula_of(structure) -> str:
    """sseflow's reduced formula (Li10GeP2S12, where pymatgen writes Li10Ge(PS6)2)."""
    return reduced_formula({el.symbol: amt for el, amt in structure.composition.items()})


def min_distance_ratio(structure, formula: str | None = None) -> float:
    """Smallest interatomic distance over the sum of covalent radii (molecular bonds excepted)."""
    import numpy as np
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius

    radii = CovalentRadius.radius
    sym = [site.specie.symbol for site in structure]
    if len(structure) < 2:
        return math.inf
    dm = structure.distance_matrix + np.eye(len(structure)) * 1e3
    rsum = np.array([[radii[a] + radii[b] for b in sym] for a in sym])
    ratio = dm / rsum
    exempt = MOLECULAR_BONDS.get(formula or "")
    if exempt:
        el, lo, hi = exempt
        is_el = np.array([s == el for s in sym])
        mask = np.outer(is_el, is_el) & (dm >= lo) & (dm <= hi)
        ratio = np.where(mask, np.inf, ratio)
    # periodic images of the atom itself (tiny cells) are not in distance_matrix: check the lattice
    shortest_lattice = min(structure.lattice.abc)
    self_ratio = min(shortest_lattice / (2 * radii[s]) for s in set(sym))
    return float(min(ratio.min(), self_ratio))


MIN_DISTANCE = 0.5  # Å: no two atoms (or periodic images) closer; H2's 0.74 Å is the shortest real bond


def closest_pair(obj, cutoff: float = MIN_DISTANCE):
    """``(i, j, distance, image)`` of the closest two atoms nearer than ``cutoff`` (Å), periodic
    images included (``image``: whether j is a periodic image); None when there is none.

    ``obj``: ASE Atoms or a pymatgen Structure.
    """
    import numpy as np
    from ase.neighborlist import neighbor_list

    if hasattr(obj, "lattice") and hasattr(obj, "sites"):
        from pymatgen.io.ase import AseAtomsAdaptor

        obj = AseAtomsAdaptor.get_atoms(obj)
    if len(obj) == 0:
        return None
    try:
        i, j, d, shifts = neighbor_list("ijdS", obj, float(cutoff), self_interaction=False)
    except Exception:  # noqa: BLE001 - a degenerate cell: nothing to say about distances
        return None
    if len(d) == 0:
        return None
    k = int(np.argmin(d))
    return int(i[k]), int(j[k]), float(d[k]), bool(np.any(shifts[k] != 0))


def check_min_distance(obj, minimum: float = MIN_DISTANCE, where: str | None = None) -> None:
    """InputError naming the two sites when atoms of ``obj`` (or their periodic images) are
    closer than ``minimum`` Å: such a structure is broken (overlapping atoms, wrong cell) and a
    calculation on it explodes instead of relaxing."""
    pair = closest_pair(obj, minimum)
    if pair is None:
        return
    i, j, d, image = pair
    sym = obj.get_chemical_symbols() if hasattr(obj, "get_chemical_symbols") else \
        [site.specie.symbol for site in obj]
    if i == j:
        what = f"site {i + 1} ({sym[i]}) is {d:.3f} Å from its own periodic image"
    elif image:
        what = f"site {i + 1} ({sym[i]}) and a periodic image of site {j + 1} ({sym[j]}) are {d:.3f} Å apart"
    else:
        what = f"sites {i + 1} ({sym[i]}) and {j + 1} ({sym[j]}) are {d:.3f} Å apart"
    raise InputError(f"{where + ': ' if where else ''}{what} (less than {minimum:g} Å): "
                     f"overlapping atoms or a wrong cell")


def _calculator(name: str = DEFAULT_CALCULATOR, **params):
    key = (name, tuple(sorted(params.items())))
    if key not in _CALCULATORS:
        import torch

        torch.set_num_threads(1)
        from sseflow.workflows.calculators import get_calculator

        _CALCULATORS[key] = get_calculator(name, **params)
    return _CALCULATORS[key]


def _energy(calc, structure, relax: bool, fmax: float | None, steps: int | None):
    """Total energy (eV) of ``structure`` (relaxed or single point) and the CalcResult."""
    result = calc.relax(structure, fmax=fmax, steps=steps) if relax else calc.static(structure)
    if result.status != "completed" or not math.isfinite(result.energy):
        raise InputError(f"{calc.name} calculation failed: {result.error}")
    return result.energy, result


def element_energies(elements, *, relax: bool = True, calculator: str = DEFAULT_CALCULATOR,
                     fmax: float | None = None, steps: int | None = None) -> dict[str, float]:
    """Energy per atom (eV) of each element's library phase, computed once per process."""
    from sseflow.workflows.structures.library import entry_for, get_structure

    key = (calculator, bool(relax), fmax, steps)
    cache = _ELEMENT_ENERGIES.setdefault(key, {})
    calc = None
    for el in sorted(set(elements)):
        if el in cache:
            continue
        row = entry_for(el)                      # "Li" -> Li, "Cl" -> Cl2 (molecular solid)
        if set(parse_formula(row["formula"])) != {el}:
            raise InputError(f"the library has no elemental phase for {el}")
        calc = calc or _calculator(calculator)
        s = get_structure(row["name"], primitive=True)
        e, _ = _energy(calc, s, relax, fmax, steps)
        cache[el] = e / len(s)
    return {el: cache[el] for el in elements}


def _reference(path: Path):
    key = str(Path(path).resolve())
    if key not in _REFERENCES:
        from sseflow.analysis.reference import load_reference

        _REFERENCES[key] = load_reference(path, cache_dir=settings().cache_dir)
    return _REFERENCES[key]


def mp_formation_energy(formula: str, reference_csv: str | os.PathLike | None = None) -> float | None:
    """Lowest formation energy (eV/atom) of ``formula``'s reduced composition in the table, or None."""
    path = Path(reference_csv) if reference_csv else default_reference_csv()
    if not path.is_file():
        if reference_csv:
            raise InputError(f"reference file not found: {path}")
        return None
    matches = _reference(path).matching(parse_formula(formula))
    return float(matches[0].energy_per_atom) if matches else None


def validate_phase(name: str, *, relax: bool = True, reference_csv: str | os.PathLike | None = None,
                   calculator: str = DEFAULT_CALCULATOR, fmax: float | None = None, steps: int | None = None,
                   tolerance: float = ENERGY_TOLERANCE) -> dict:
    """Validate one library phase (name, alias or formula); returns a flat dict of the checks.

    Keys: name, formula, spacegroup_expected, spacegroup_found, min_distance_ratio,
    chgnet_formation_energy, mp_formation_energy, deviation (CHGNet - MP, eV/atom), ok, and
    the details formula_found, nsites, relaxed, converged, n_steps, wall_s, notes (what failed or was not compared).
    ``ok`` needs every structural check to pass and |deviation| <= ``tolerance`` when the
    table has the composition (a composition missing from the table is reported, not failed).
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from sseflow.workflows.structures.library import entry_for, get_structure

    t0 = time.perf_counter()
    row = entry_for(name)
    s = get_structure(row["name"])
    notes: list[str] = []
    formula_found = _formula_of(s)
    if formula_found != row["formula"]:
        notes.append(f"file holds {formula_found}, index says {row['formula']}")
    if len(s) != row["nsites"]:
        notes.append(f"{len(s)} sites, index says {row['nsites']}")
    sg_found = SpacegroupAnalyzer(s, symprec=0.01).get_space_group_number()
    if sg_found != row["spacegroup"]:
        notes.append(f"space group {sg_found}, index says {row['spacegroup']}")
    ratio = min_distance_ratio(s, row["formula"])
    if ratio < DISTANCE_FACTOR:
        notes.append(f"atoms closer than {DISTANCE_FACTOR} x covalent radii (ratio {ratio:.3f})")

    comp = parse_formula(row["formula"])
    prim = get_structure(row["name"], primitive=True)
    calc = _calculator(calculator)
    e_total, result = _energy(calc, prim, relax, fmax, steps)
    mu = element_energies(comp, relax=relax, calculator=calculator, fmax=fmax, steps=steps)
    counts = {el.symbol: amt for el, amt in prim.composition.items()}
    e_form = (e_total - sum(n * mu[el] for el, n in counts.items())) / len(prim)
    if relax and not result.converged:
        notes.append(f"relaxation not converged in {result.n_steps} steps")

    mp = mp_formation_energy(row["formula"], reference_csv)
    deviation = None if mp is None else e_form - mp
    if deviation is not None and abs(deviation) > tolerance:
        notes.append(f"formation energy off MP by {deviation:+.3f} eV/atom")
    elif mp is None:
        notes.append(f"no {row['formula']} entry in the reference table (energy not compared)")
    structural_ok = formula_found == row["formula"] and sg_found == row["spacegroup"] \
        and ratio >= DISTANCE_FACTOR and len(s) == row["nsites"]
    ok = structural_ok and (deviation is None or abs(deviation) <= tolerance)
    return {
        "name": row["name"],
        "formula": row["formula"],
        "spacegroup_expected": row["spacegroup"],
        "spacegroup_found": sg_found,
        "min_distance_ratio": ratio,
        "chgnet_formation_energy": e_form,
        "mp_formation_energy": mp,
        "deviation": deviation,
        "ok": bool(ok),
        "formula_found": formula_found,
        "nsites": len(s),
        "relaxed": bool(relax),
        "converged": bool(result.converged),
        "n_steps": int(result.n_steps),
        "wall_s": time.perf_counter() - t0,
        "notes": notes,
    }
