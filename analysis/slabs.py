"""Geometry of slabs and interfaces along the normal of the a-b plane.

The normal is the direction the layers stack in; heights are measured along it, so a cell
whose third vector is tilted still has the height :func:`normal_length`. Cells are 3x3 arrays
(ASE ``Atoms.cell`` or a pymatgen lattice matrix); atoms are ASE ``Atoms`` or pymatgen Structures.
"""
from __future__ import annotations

import numpy as np

#: A slab has vacuum when its largest empty stretch along the normal exceeds this (Å).
VACUUM_MIN_GAP = 6.0


def normal_length(cell) -> float:
    """Height of the cell along the normal of the a-b plane (``cell[2, 2]`` for a slab cell)."""
    cell = np.asarray(cell, dtype=float)
    return float(abs(np.linalg.det(cell)) / np.linalg.norm(np.cross(cell[0], cell[1])))


def _cell_and_fractional_z(atoms) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(atoms, "lattice") and hasattr(atoms, "frac_coords"):  # pymatgen Structure
        return np.asarray(atoms.lattice.matrix, dtype=float), np.asarray(atoms.frac_coords, dtype=float)[:, 2]
    return np.asarray(atoms.cell, dtype=float), atoms.get_scaled_positions(wrap=False)[:, 2]


def vacuum_gap(atoms) -> tuple[float, float]:
    """(width Å, start height Å) of the largest stretch without atoms along the normal
    (heights from the origin, atoms wrapped into the cell along the third cell vector)."""
    cell, fz = _cell_and_fractional_z(atoms)
    c = normal_length(cell)
    zs = np.sort(np.mod(fz, 1.0) * c)
    gaps = np.diff(np.concatenate([zs, [zs[0] + c]]))
    i = int(np.argmax(gaps))
    return float(gaps[i]), float(zs[i])


def has_vacuum(atoms, min_gap: float = VACUUM_MIN_GAP) -> bool:
    """True for a slab: a stretch of more than ``min_gap`` Å without atoms along the normal
    of the a-b plane (:func:`vacuum_gap`); False for a periodic stack."""
    return vacuum_gap(atoms)[0] > min_gap


def plane_groups(z, tol: float = 0.5) -> np.ndarray:
    """Plane index of each height (0 = lowest): a new plane starts after a gap larger than ``tol``."""
    z = np.asarray(z, dtype=float)
    order = np.argsort(z)
    out = np.empty(len(z), dtype=int)
    k = 0
    for i, idx in enumerate(order):
        if i and z[idx] - z[order[i - 1]] > tol:
            k += 1
        out[idx] = k
    return out
