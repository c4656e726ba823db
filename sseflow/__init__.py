"""sseflow: first-principles workflows for solid-electrolyte | anode interface stability.

The package holds three parts, each importable on its own:

* :mod:`sseflow.analysis`: pure science on entries and arrays (hulls, windows, reactions,
  screening, tables, plots); never imports FireWorks or pymongo;
* :mod:`sseflow.workflows`: everything that builds, runs and stores (CLI, study files,
  structures, calculators, Firetasks, the results store);
* :mod:`sseflow.templates`: study files, queue/launchpad templates and calculator presets.

The names below are loaded on first use, so ``import sseflow`` stays cheap.
"""
from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sseflow")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

_EXPORTS = {
    # reference data
    "ReferenceSet": "sseflow.analysis.reference",
    "load_reference": "sseflow.analysis.reference",
    # thermodynamics
    "stability_window": "sseflow.analysis.window",
    "WindowCalculator": "sseflow.analysis.window",
    "WindowResult": "sseflow.analysis.window",
    "reaction_energy": "sseflow.analysis.reactions",
    "ReactionCalculator": "sseflow.analysis.reactions",
    "ReactionResult": "sseflow.analysis.reactions",
    "screen": "sseflow.analysis.screening",
    "InputError": "sseflow.analysis.errors",
    "SseflowError": "sseflow.analysis.errors",
    # compositions from pymatgen / ASE objects
    "as_formula": "sseflow.analysis.inputs",
    "as_composition_dict": "sseflow.analysis.inputs",
    # structures, studies, the store
    "get_structure": "sseflow.workflows.structures.library",
    "Study": "sseflow.workflows.study",
    "load_study": "sseflow.workflows.study",
    "build_workflow": "sseflow.workflows.workflow_build",
    "open_store": "sseflow.workflows.store",
    "get_launchpad": "sseflow.workflows.store",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'sseflow' has no attribute '{name}'")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
