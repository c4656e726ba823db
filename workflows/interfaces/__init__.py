"""Electrolyte | electrode interface cells: lattice matching, building, relaxation, electronic structure.

* :mod:`sseflow.workflows.interfaces.matching` -- low-index surfaces, distinct terminations, ZSL lattice
  matches under strain / area / atom-count limits, ranked (:func:`find_candidates`);
* :mod:`sseflow.workflows.interfaces.build` -- the chosen cell with a gap, a rigid-shift / distance scan
  scored by quick single points, vacuum or periodic stacking, fixed layers, tags
  (:func:`build_interface`);
* :mod:`sseflow.workflows.interfaces.relax` -- relaxation (CHGNet by default), work of adhesion, contact
  chemistry, and the electronic static (GPAW: layer DOS, electrostatic potential, Fermi level)
  that :mod:`sseflow.analysis.schottky` turns into Schottky barriers.

Heavy imports (pymatgen's surface code, torch, GPAW) happen inside the functions.
"""
from __future__ import annotations

__all__ = ["find_candidates", "build_interface", "relax_interface", "electronic_structure", "load_structure"]


def __getattr__(name):  # lazy re-exports
    if name in ("find_candidates", "load_structure", "surface_terminations"):
        from sseflow.workflows.interfaces import matching

        return getattr(matching, name)
    if name in ("build_interface",):
        from sseflow.workflows.interfaces import build

        return getattr(build, name)
    if name in ("relax_interface", "work_of_adhesion"):
        from sseflow.workflows.interfaces import relax

        return getattr(relax, name)
    if name in ("electronic_structure", "bulk_reference", "schottky_from_electronic"):
        from sseflow.workflows.interfaces import electronic

        return getattr(electronic, name)
    raise AttributeError(name)
