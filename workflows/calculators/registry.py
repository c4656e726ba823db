"""Backend names -> classes, imported lazily (CHGNet pulls in torch, GPAW its C extension)."""
from __future__ import annotations

import importlib

from sseflow.analysis.errors import InputError

BACKENDS: dict[str, tuple[str, str, str]] = {
    # name: (module, class, one-line description)
    "chgnet": ("sseflow.workflows.calculators.chgnet", "CHGNetBackend", "CHGNet 0.3.0 universal potential (offline, fastest)"),
    "sevennet": ("sseflow.workflows.calculators.sevennet", "SevenNetBackend", "SevenNet-0 universal potential (default, offline)"),
    "vasp": ("sseflow.workflows.calculators.vasp", "VASPBackend", "VASP via pymatgen MP input sets, MP2020 corrections"),
    "qe": ("sseflow.workflows.calculators.qe", "QEBackend", "Quantum ESPRESSO pw.x via ASE"),
    "gpaw": ("sseflow.workflows.calculators.gpaw", "GPAWBackend", "GPAW plane-wave PBE via ASE"),
    "emt": ("sseflow.workflows.calculators.emt", "EMTBackend", "ASE EMT (workflow tests only)"),
}

DEFAULT = "sevennet"   # the most accurate offline potential measured on the library (docs/backends.md)


def backend_class(name: str):
    key = (name or DEFAULT).strip().lower()
    if key not in BACKENDS:
        raise InputError(f"unknown calculator '{name}' (choose from {', '.join(BACKENDS)})")
    mod, cls, _ = BACKENDS[key]
    return getattr(importlib.import_module(mod), cls)


def get_calculator(name: str = DEFAULT, preset: dict | None = None, **overrides):
    """A ready backend: ``get_calculator("chgnet", fmax=0.02)``.

    ``preset`` is merged over the backend's YAML preset (templates/calculators/NAME.yaml),
    ``overrides`` over both. Raises InputError for an unknown name or a backend that cannot run.
    """
    if preset is not None and not isinstance(preset, dict):
        raise InputError("calculator preset must be a mapping")
    return backend_class(name)(preset=preset, **overrides)


def available_calculators() -> dict[str, bool]:
    """Which backends can be imported here (not whether their run command works)."""
    import importlib.util

    need = {"chgnet": "chgnet", "sevennet": "sevenn", "gpaw": "gpaw", "qe": "ase", "vasp": "pymatgen", "emt": "ase"}
    return {n: importlib.util.find_spec(m) is not None for n, m in need.items()}
