"""Calculator backends behind one interface: ``get_calculator(name).relax(...) -> CalcResult``.

Backends: sevennet (default), chgnet, vasp, qe, gpaw, emt. See docs/backends.md.
"""
from sseflow.workflows.calculators.base import Backend, CalcResult, load_preset
from sseflow.workflows.calculators.registry import BACKENDS, available_calculators, get_calculator

__all__ = ["Backend", "CalcResult", "BACKENDS", "available_calculators", "get_calculator", "load_preset"]
