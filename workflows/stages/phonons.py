"""Harmonic phonons of one phase (PhononDocument)."""
from __future__ import annotations

from sseflow.workflows.stages.calculations import as_structure
from sseflow.workflows.stages.worker import resolve_preset, task_store


def phonons_of_phase(structure: dict, label: str, calculator: str, preset: dict | None, settings: dict | None,
                     temperatures: list[float], fw_spec: dict, store=None) -> str:
    """Harmonic phonons of one phase (reused when stored); the phonon document key."""
    from sseflow.workflows.calculators import get_calculator
    from sseflow.workflows.phonons import phonons_for

    store = store or task_store(fw_spec)
    store.flush()
    backend = get_calculator(calculator, preset=resolve_preset(preset, fw_spec, calculator))
    res = phonons_for(as_structure(structure), backend, settings or None, temperatures=temperatures,
                      store=True, config=store.config)
    doc = res.to_document()
    return getattr(doc, "key", None) or doc.get("key")
