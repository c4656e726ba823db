"""ML structure search for phases the library has no citable coordinates for.

Random symmetric candidates (pyxtal ``from_random``: the formula's species, ``Z`` formula units in
the primitive cell, a space group given or drawn from those compatible with the composition) are
relaxed with a calculator backend (positions and cell, a short FIRE/BFGS run), screened (failed,
exploded, non-converged or with atoms closer than 0.5 Å: rejected), deduplicated with pymatgen's
``StructureMatcher`` and ranked by energy per atom. The result is a *searched* structure: a model
prediction of the potential, never an experimental frame; :func:`write_result` writes it as a CIF
whose header, and a side JSON, carry how it was found.

>>> res = search("Li2S", formula_units=1, trials=8, calculator="chgnet", seed=0)
>>> res.best.structure, res.table()
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from sseflow.analysis.errors import InputError

MAX_TRIALS = 1000
MAX_FORMULA_UNITS = 12
MAX_ATOMS = 64
MIN_DISTANCE = 0.5        # Å: a relaxed candidate with atoms closer than this is rejected
MAX_VOLUME_RATIO = 4.0    # a candidate whose volume grew or shrank by more than this exploded
DEFAULT_FMAX = 0.1        # eV/Å: a screening relaxation, not a production one
DEFAULT_STEPS = 300
SYMPREC = 0.1             # Å: SpacegroupAnalyzer tolerance for the relaxed space group
ATTEMPTS_PER_TRIAL = 20   # pyxtal draws tried before a trial is given up


def pyxtal_available() -> bool:
    try:
        import pyxtal  # noqa: F401
    except ImportError:
        return False
    return True


def _need_pyxtal():
    try:
        from pyxtal import pyxtal
    except ImportError:
        raise InputError("structure search needs pyxtal: pip install 'pyxtal>=1.0,<2'") from None
    return pyxtal


# ------------------------------------------------------------------ input

def parse_target(formula: str) -> tuple[list[str], list[int]]:
    """Species and their counts in one reduced formula unit; InputError for an unknown element."""
    from sseflow.analysis.formula import parse_formula

    comp = parse_formula(formula)
    if not comp:
        raise InputError(f"empty formula '{formula}'")
    counts = {}
    for el, n in comp.items():
        if abs(n - round(n)) > 1e-6 or round(n) <= 0:
            raise InputError(f"formula '{formula}': the search needs whole, positive atom counts")
        counts[el] = int(round(n))
    g = math.gcd(*counts.values())
    species = sorted(counts)
    return species, [counts[s] // g for s in species]


def _group(number: int):
    from pyxtal.symmetry import Group

    return Group(int(number))


def compatible(counts: list[int], z: int, number: int) -> bool:
    """Whether space group ``number`` has Wyckoff positions for ``z`` formula units (primitive cell)."""
    g = _group(number)
    n = [c * z * int(g.cellsize()) for c in counts]
    try:
        ok = g.check_compatible(n)
    except Exception:  # pyxtal raises for some impossible combinations
        return False
    return bool(ok[0] if isinstance(ok, tuple) else ok)


def compatible_groups(counts: list[int], z: int, groups=None) -> list[int]:
    """The space groups (of ``groups``, default 2-230) compatible with ``z`` formula units."""
    return [n for n in (groups or range(2, 231)) if compatible(counts, z, n)]


def formula_units_range(counts: list[int], z: int | None, max_atoms: int | None) -> list[int]:
    """The Z values searched: ``z`` alone, else every Z with at most ``max_atoms`` atoms (default
    ``MAX_ATOMS // 4`` atoms' worth, at most 4)."""
    per_fu = sum(counts)
    if z is not None and max_atoms is not None:
        raise InputError("give --formula-units or --max-atoms, not both")
    if z is not None:
        if not 1 <= z <= MAX_FORMULA_UNITS:
            raise InputError(f"--formula-units must be between 1 and {MAX_FORMULA_UNITS} (got {z})")
        if z * per_fu > MAX_ATOMS:
            raise InputError(f"--formula-units {z}: {z * per_fu} atoms, more than {MAX_ATOMS}")
        return [z]
    if max_atoms is None:
        max_atoms = min(MAX_ATOMS // 4, 4 * per_fu)
    if not 1 <= max_atoms <= MAX_ATOMS:
        raise InputError(f"--max-atoms must be between 1 and {MAX_ATOMS} (got {max_atoms})")
    zs = [z for z in range(1, MAX_FORMULA_UNITS + 1) if z * per_fu <= max_atoms]
    if not zs:
        raise InputError(f"--max-atoms {max_atoms}: one formula unit has {per_fu} atoms")
    return zs


# ------------------------------------------------------------------ result

@dataclass
class Candidate:
    trial: int
    z: int
    spacegroup_generated: int
    seed: int
    status: str = "pending"          # accepted / rejected
    reason: str | None = None
    energy_per_atom: float | None = None
    structure: object = None         # relaxed pymatgen Structure
    spacegroup_symbol: str | None = None
    spacegroup_number: int | None = None
    n_steps: int = 0
    wall_time_s: float = 0.0
    duplicates: int = 0              # other accepted candidates StructureMatcher merged into this one

    def row(self, e_min: float | None = None) -> dict:
        rel = None
        if self.energy_per_atom is not None and e_min is not None:
            rel = 1000.0 * (self.energy_per_atom - e_min)
        return {"trial": self.trial, "z": self.z, "spacegroup_generated": self.spacegroup_generated,
                "status": self.status, "reason": self.reason, "energy_per_atom": self.energy_per_atom,
                "relative_energy_meV": rel, "spacegroup": self.spacegroup_symbol,
                "spacegroup_number": self.spacegroup_number,
                "nsites": len(self.structure) if self.structure is not None else None,
                "n_steps": self.n_steps, "duplicates": self.duplicates,
                "wall_time_s": round(self.wall_time_s, 3)}


@dataclass
class SearchResult:
    formula: str
    species: list
    counts: list
    zs: list
    spacegroups: list | None         # the groups given, or None for "every compatible group"
    trials: int
    calculator: str
    model: str
    seed: int
    fmax: float
    steps: int
    candidates: list = field(default_factory=list)   # every trial, in trial order
    distinct: list = field(default_factory=list)     # accepted, deduplicated, lowest energy first
    wall_time_s: float = 0.0

    @property
    def best(self) -> Candidate | None:
        return self.distinct[0] if self.distinct else None

    @property
    def gap_meV(self) -> float | None:
        """Energy of the next distinct candidate above the best one (meV/atom)."""
        if len(self.distinct) < 2:
            return None
        return 1000.0 * (self.distinct[1].energy_per_atom - self.distinct[0].energy_per_atom)

    def table(self) -> list[dict]:
        """Ranked distinct candidates: energy/atom, relaxed space group, energy relative to the best."""
        e0 = self.best.energy_per_atom if self.best else None
        return [{"rank": i + 1, **c.row(e0)} for i, c in enumerate(self.distinct)]

    def provenance(self) -> dict:
        import sseflow

        b = self.best
        return {
            "origin": "searched",
            "note": "predicted by a random symmetric structure search relaxed with a machine-learned or "
                    "model potential; not an experimental structure",
            "formula": self.formula,
            "spacegroup": b.spacegroup_symbol if b else None,
            "spacegroup_number": b.spacegroup_number if b else None,
            "spacegroup_generated": b.spacegroup_generated if b else None,
            "spacegroups_searched": self.spacegroups or "all compatible",
            "z": b.z if b else None,
            "formula_units_searched": self.zs,
            "trials": self.trials,
            "accepted": sum(c.status == "accepted" for c in self.candidates),
            "distinct": len(self.distinct),
            "calculator": self.calculator,
            "model": self.model,
            "fmax_eV_A": self.fmax,
            "max_steps": self.steps,
            "energy_per_atom_eV": b.energy_per_atom if b else None,
            "energy_above_next_distinct_meV": (-self.gap_meV if self.gap_meV is not None else None),
            "gap_to_next_distinct_meV": self.gap_meV,
            "seed": self.seed,
            "trial": b.trial if b else None,
            "sseflow_version": sseflow.__version__,
            "pyxtal_version": _pyxtal_version(),
        }

    def to_dict(self) -> dict:
        return {"provenance": self.provenance(), "table": self.table(),
                "candidates": [c.row(self.best.energy_per_atom if self.best else None) for c in self.candidates],
                "wall_time_s": round(self.wall_time_s, 3)}


def _pyxtal_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("pyxtal")
    except Exception:
        return None


def _model_name(backend) -> str:
    p = backend.parameters
    if backend.name == "chgnet":
        return f"CHGNet {p.get('model', '0.3.0')}"
    if backend.name == "sevennet":
        return f"SevenNet {p.get('model', 'SevenNet-0')}"
    if backend.name == "emt":
        return "ASE EMT"
    return backend.name


# ------------------------------------------------------------------ search

def generate(species, counts, z, number, seed):
    """One random symmetric structure (pymatgen, reduced to its primitive cell) or None."""
    pyxtal = _need_pyxtal()
    g = _group(number)
    n = [c * z * int(g.cellsize()) for c in counts]
    import warnings

    import contextlib
    import io

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        c = pyxtal()
        try:
            c.from_random(3, int(number), list(species), n, random_state=int(seed))
        except Exception:
            return None
        if not c.valid:
            return None
        s = c.to_pymatgen()
    try:
        s = s.get_primitive_structure(tolerance=0.01)
    except Exception:
        pass
    return s.get_sorted_structure()


def _too_close(s) -> float | None:
    """The shortest distance (periodic images included) when below ``MIN_DISTANCE``, else None."""
    from sseflow.workflows.structures.validate import closest_pair

    pair = closest_pair(s, MIN_DISTANCE)
    return None if pair is None else float(pair[2])


def _screen(cand: Candidate, res, initial, fmax) -> str | None:
    """Why a relaxed candidate is rejected, or None."""
    if res.status != "completed":
        return f"failed: {res.error or res.status}"
    if not res.converged:
        return f"not converged in {res.n_steps} steps (max force {res.max_force:.2g} eV/Å > {fmax:g})"
    e = float(res.energy_per_atom)
    if not math.isfinite(e):
        return "non-finite energy"
    s = res.structure
    ratio = s.volume / initial.volume
    if not 1.0 / MAX_VOLUME_RATIO <= ratio <= MAX_VOLUME_RATIO:
        return f"exploded (volume x{ratio:.2f})"
    d = _too_close(s)
    if d is not None:
        return f"atoms {d:.2f} Å apart (< {MIN_DISTANCE} Å)"
    return None


def _spacegroup(s) -> tuple[str | None, int | None]:
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        a = SpacegroupAnalyzer(s, symprec=SYMPREC)
        return a.get_space_group_symbol(), int(a.get_space_group_number())
    except Exception:
        return None, None


def dedupe(cands: list[Candidate]) -> list[Candidate]:
    """Accepted candidates grouped with ``StructureMatcher``; one per group (the lowest in
    energy, its ``duplicates`` counting the rest), lowest energy first."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    sm = StructureMatcher()
    out: list[Candidate] = []
    for c in sorted(cands, key=lambda c: (c.energy_per_atom, c.trial)):
        for d in out:
            if sm.fit(d.structure, c.structure):
                d.duplicates += 1
                break
        else:
            out.append(c)
    return out


def search(formula: str, spacegroup: int | None = None, formula_units: int | None = None,
           max_atoms: int | None = None, trials: int = 8, calculator: str = "chgnet", seed: int = 0,
           fmax: float = DEFAULT_FMAX, steps: int = DEFAULT_STEPS, calculator_params: dict | None = None,
           progress: Callable[[Candidate], None] | None = None) -> SearchResult:
    """Random symmetric candidates of ``formula`` relaxed with ``calculator``; deterministic for a seed."""
    species, counts = parse_target(formula)
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= MAX_TRIALS:
        raise InputError(f"--trials must be between 1 and {MAX_TRIALS} (got {trials})")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"--seed must be a whole number >= 0 (got {seed})")
    zs = z_range = formula_units_range(counts, formula_units, max_atoms)
    _need_pyxtal()
    if spacegroup is not None:
        if not 1 <= int(spacegroup) <= 230:
            raise InputError(f"--spacegroup must be between 1 and 230 (got {spacegroup})")
        zs = [z for z in z_range if compatible(counts, z, spacegroup)]
        if not zs:
            sym = _group(spacegroup).symbol
            raise InputError(f"space group {spacegroup} ({sym}) has no Wyckoff positions for "
                             f"{_label(species, counts)} with Z = {', '.join(map(str, z_range))}")
        groups_by_z = {z: [int(spacegroup)] for z in zs}
    else:
        groups_by_z = {z: compatible_groups(counts, z) for z in zs}
        zs = [z for z in zs if groups_by_z[z]]
        if not zs:
            raise InputError(f"no space group fits {_label(species, counts)} with Z = "
                             f"{', '.join(map(str, z_range))}")

    from sseflow.workflows.calculators import get_calculator

    backend = get_calculator(calculator, **(calculator_params or {}))
    out = SearchResult(formula=_label(species, counts), species=species, counts=counts, zs=zs,
                       spacegroups=[int(spacegroup)] if spacegroup is not None else None, trials=trials,
                       calculator=backend.name, model=_model_name(backend), seed=seed, fmax=float(fmax),
                       steps=int(steps))
    rng = np.random.default_rng(seed)
    t_all = time.perf_counter()
    for k in range(trials):
        z = zs[k % len(zs)]
        t0 = time.perf_counter()
        s0 = None
        for _ in range(ATTEMPTS_PER_TRIAL):
            groups = groups_by_z[z]
            number = int(groups[int(rng.integers(len(groups)))])
            trial_seed = int(rng.integers(2**31 - 1))
            s0 = generate(species, counts, z, number, trial_seed)
            if s0 is not None:
                break
        cand = Candidate(trial=k + 1, z=z, spacegroup_generated=number, seed=trial_seed)
        if s0 is None:
            cand.status, cand.reason = "rejected", f"pyxtal found no structure in {ATTEMPTS_PER_TRIAL} draws"
        else:
            d0 = _too_close(s0)
            if d0 is not None:  # overlapping atoms in the draw; other InputErrors (the calculator's) propagate
                reason = f"atoms {d0:.2f} Å apart before relaxation (< {MIN_DISTANCE} Å)"
            else:
                res = backend.relax(s0, fmax=fmax, steps=steps, relax_cell=True)
                reason = _screen(cand, res, s0, fmax)
                cand.n_steps = int(res.n_steps)
            if reason:
                cand.status, cand.reason = "rejected", reason
            else:
                cand.status = "accepted"
                cand.structure = res.structure
                cand.energy_per_atom = float(res.energy_per_atom)
                cand.spacegroup_symbol, cand.spacegroup_number = _spacegroup(res.structure)
        cand.wall_time_s = time.perf_counter() - t0
        out.candidates.append(cand)
        if progress is not None:
            progress(cand)
    out.distinct = dedupe([c for c in out.candidates if c.status == "accepted"])
    out.wall_time_s = time.perf_counter() - t_all
    return out


def _label(species, counts) -> str:
    return "".join(f"{s}{n if n != 1 else ''}" for s, n in zip(species, counts))


# ------------------------------------------------------------------ output

def cif_text(result: SearchResult) -> str:
    """The best candidate as CIF (symmetrized), its provenance as ``#`` header lines."""
    from pymatgen.io.cif import CifWriter

    b = result.best
    if b is None:
        raise InputError("the search found no acceptable structure")
    p = result.provenance()
    try:
        body = str(CifWriter(b.structure, symprec=SYMPREC))
    except Exception:
        body = str(CifWriter(b.structure))
    gap = p["gap_to_next_distinct_meV"]
    head = [
        f"# {p['formula']}: SEARCHED structure (ML structure search), not an experimental structure",
        f"# searched: space group {p['spacegroup']} ({p['spacegroup_number']}) after relaxation, "
        f"generated in {p['spacegroup_generated']}; Z = {p['z']}",
        f"# searched: trials {p['trials']} ({p['accepted']} accepted, {p['distinct']} distinct); "
        f"space groups {p['spacegroups_searched']}; Z searched {p['formula_units_searched']}",
        f"# model: {p['model']} (calculator {p['calculator']}, fmax {p['fmax_eV_A']:g} eV/A, "
        f"max steps {p['max_steps']})",
        f"# energy per atom: {p['energy_per_atom_eV']:.6f} eV",
        "# energy above the next distinct candidate: "
        + (f"{-gap:.1f} meV/atom (next distinct candidate {gap:.1f} meV/atom higher)" if gap is not None
           else "n/a (one distinct candidate)"),
        f"# seed: {p['seed']} (trial {p['trial']})",
        f"# sseflow version: {p['sseflow_version']}; pyxtal {p['pyxtal_version']}",
    ]
    return "\n".join(head) + "\n" + body


def write_result(result: SearchResult, directory: str | Path) -> dict:
    """``<formula>_searched.cif`` and ``<formula>_searched.json`` in ``directory``; their paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    stem = f"{result.formula}_searched"
    paths = {}
    if result.best is not None:
        cif = d / f"{stem}.cif"
        cif.write_text(cif_text(result))
        paths["cif"] = str(cif)
    js = d / f"{stem}.json"
    from sseflow.workflows.calculators.base import jsonable

    js.write_text(json.dumps(jsonable({**result.to_dict(), "files": paths}), indent=1) + "\n")
    paths["json"] = str(js)
    return paths
