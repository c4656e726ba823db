"""Has this calculation been done already? Structure fingerprints and StructureMatcher matching.

:func:`fingerprint` is a cheap, coordinate-noise-proof key (reduced formula, spglib space group
at a loose tolerance, atoms in the primitive cell) used to narrow candidates; the decision is
made by pymatgen's ``StructureMatcher`` (Materials Project tolerances, volume scaled, so a relaxed
structure matches its starting point) plus the backend parameters that change the physics.
"""
from __future__ import annotations

import json
from typing import Iterable

from sseflow.analysis.errors import InputError

# Parameters that say how or where a calculation runs, not what it computes.
EXECUTION_KEYS = frozenset({
    "command", "fw_env", "torch_threads", "device", "txt", "timeout_s", "setup_path",
    "max_steps", "steps", "optimizer", "directory",
})

_SYMPREC = 0.1


def _structure(obj):
    if hasattr(obj, "lattice") and hasattr(obj, "sites"):
        return obj
    if isinstance(obj, dict) and "lattice" in obj and "sites" in obj:
        from pymatgen.core import Structure

        return Structure.from_dict(obj)
    from ase import Atoms

    if isinstance(obj, Atoms):
        from pymatgen.io.ase import AseAtomsAdaptor

        return AseAtomsAdaptor.get_structure(obj)
    raise InputError(f"cannot fingerprint {type(obj).__name__}: not a structure")


def fingerprint(structure) -> str:
    """``"Li3PS4|31|16"``: reduced formula | space group number | atoms in the primitive cell."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    s = _structure(structure)
    formula = s.composition.reduced_formula
    try:
        sga = SpacegroupAnalyzer(s, symprec=_SYMPREC)
        sg = sga.get_space_group_number()
        nprim = len(sga.find_primitive() or s)
    except Exception:  # spglib gives up on a badly broken cell: fall back to P1 and the cell as given
        sg, nprim = 1, len(s)
    return f"{formula}|{sg}|{nprim}"


def physics_parameters(parameters: dict | None) -> dict:
    """The parameters that change the result (execution settings dropped)."""
    return {k: v for k, v in (parameters or {}).items() if k not in EXECUTION_KEYS}


def _canon(v):
    return json.dumps(v, sort_keys=True, default=str)


def parameters_match(query: dict | None, candidate: dict | None) -> bool:
    """Every physics parameter of ``query`` has the same value in ``candidate``."""
    cand = candidate or {}
    for k, v in physics_parameters(query).items():
        if k not in cand or _canon(cand[k]) != _canon(v):
            return False
    return True


def matcher():
    from pymatgen.analysis.structure_matcher import StructureMatcher

    return StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5, primitive_cell=True, scale=True,
                            attempt_supercell=False)


def _get(c, key, default=None):
    if isinstance(c, dict):
        return c.get(key, default)
    return getattr(c, key, default)


def find_existing(structure, calculator: str, parameters: dict | None, candidates: Iterable):
    """The first completed candidate (task document dict or CalcResult) computing the same thing.

    Same calculator name, same physics parameters, same fingerprint, and StructureMatcher says
    the structures are the same (the candidate's ``input_structure`` is compared when it has one,
    else its ``structure``). Returns ``None`` when there is none.
    """
    s = _structure(structure)
    fp = fingerprint(s)
    sm = None
    name = getattr(calculator, "name", calculator)
    for c in candidates:
        if _get(c, "calculator") != name or _get(c, "status", "completed") != "completed":
            continue
        if not parameters_match(parameters, _get(c, "parameters")):
            continue
        other = _get(c, "input_structure") or _get(c, "structure")
        if other is None:
            continue
        other = _structure(other)
        cfp = _get(c, "fingerprint") or fingerprint(other)
        if cfp != fp and fingerprint(other) != fp:
            continue
        sm = sm or matcher()
        if sm.fit(s, other):
            return c
    return None
