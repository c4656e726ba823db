"""Relaxations and single points with dedupe: a stored task computing the same thing is reused;
a new one is stored as a :class:`~sseflow.workflows.store.documents.TaskDocument` built by
``TaskDocument.from_calc_result``."""
from __future__ import annotations

import os
from pathlib import Path

from sseflow.analysis.errors import InputError
from sseflow.workflows.stages.worker import resolve_preset, task_store, work_dir

TRAJECTORY = "relax.traj"


def expected_parameters(calculator: str, preset: dict | None, task_type: str = "relax", relax_cell: bool = True) -> dict:
    """The physics parameters a task of this calculator and preset records (dedupe key)."""
    from sseflow.workflows.calculators.base import deep_merge, load_preset
    from sseflow.workflows.calculators.registry import backend_class
    from sseflow.workflows.dedupe import physics_parameters

    cls = backend_class(calculator)
    params = deep_merge(load_preset(cls.name, getattr(cls, "defaults", {})), preset or {})
    if task_type == "relax":
        params = deep_merge(params, {"fmax": float(params.get("fmax", 0.05)), "relax_cell": bool(relax_cell)})
    return physics_parameters(params)


def find_task(store, structure, calculator: str, task_type: str, parameters: dict) -> dict | None:
    """A completed stored task computing the same thing (StructureMatcher + physics parameters)."""
    from sseflow.workflows.dedupe import find_existing

    cands = store.find("tasks", {"formula": structure.composition.reduced_formula, "calculator": calculator,
                                 "task_type": task_type, "status": "completed"})
    return find_existing(structure, calculator, parameters, cands) if cands else None


def checkpoint(path: Path):
    """The last complete frame of a trajectory left by a killed relaxation, or None."""
    if not path.is_file() or path.stat().st_size == 0:
        return None, 0
    try:
        from ase.io.trajectory import Trajectory

        traj = Trajectory(str(path))
        n = len(traj)
    except Exception:
        return None, 0
    for i in range(n - 1, -1, -1):
        try:
            atoms = traj[i]
            atoms.calc = None
            return atoms, n
        except Exception:
            continue
    return None, 0

def _task_document(result, input_structure, label: str, fw_spec: dict, extra: dict | None = None):
    from sseflow.workflows.store.documents import TaskDocument

    return TaskDocument.from_calc_result(result, input_structure, label=label, fw_id=fw_spec.get("_sseflow_fw_id"),
                                         launch_dir=os.getcwd(), **(extra or {}))

def as_structure(obj):
    """A pymatgen Structure from a spec value (FireWorks decodes monty dicts itself)."""
    from pymatgen.core import Structure

    return obj if isinstance(obj, Structure) else Structure.from_dict(obj)


def relax_phase(structure: dict, label: str, calculator: str, preset: dict | None, fw_spec: dict,
                relax_cell: bool = True, store=None) -> tuple[str, bool]:
    """Relax one phase (or reuse a stored identical relaxation); returns (task key, reused).

    A relaxation that was killed leaves ``relax.traj`` in its launch folder; a rerun in that
    folder (``sseflow rerun --lost`` reruns in the previous folder) continues from its last
    frame. The task document is keyed by the *input* structure, so a rerun replaces the
    document instead of adding one. A calculation that fails is stored as failed and raises
    (the Firework FIZZLES with that error).
    """
    from sseflow.workflows.calculators import get_calculator

    store = store or task_store(fw_spec)
    s = as_structure(structure)
    hit = find_task(store, s, calculator, "relax", expected_parameters(calculator, preset, "relax", relax_cell))
    if hit is not None:
        return hit["key"], True
    store.flush()  # the RUNNING state and launch folder are on disk: a killed worker is found as lost
    backend = get_calculator(calculator, preset=resolve_preset(preset, fw_spec, calculator))
    traj = Path.cwd() / TRAJECTORY
    start, frames = checkpoint(traj)
    extra = {}
    if start is not None:
        extra["restarted_from"] = {"trajectory": str(traj), "frames": frames}
    result = backend.relax(start if start is not None else s, relax_cell=relax_cell,
                           directory=work_dir(fw_spec, label), trajectory=traj)
    doc = _task_document(result, s, label, fw_spec, extra)
    key = store.put(doc)
    if result.outcome != "completed":  # stored as failed / not_converged, never as completed
        store.flush()
        if result.outcome == "not_converged":  # the error says so: "relaxation not converged in N steps ..."
            raise RuntimeError(f"{label}: {calculator} {result.error}")
        raise RuntimeError(f"{label}: {calculator} relaxation failed: {result.error}")
    return key, False


def static_phase(relax_key: str, label: str, calculator: str, preset: dict | None, fw_spec: dict,
                 store=None) -> tuple[str, bool]:
    """Single point on a stored relaxed structure (or reuse a stored one); returns (task key, reused)."""
    from pymatgen.core import Structure

    from sseflow.workflows.calculators import get_calculator

    store = store or task_store(fw_spec)
    relaxed = store.get("task", relax_key)
    if relaxed is None:
        raise InputError(f"{label}: relaxation {relax_key} is not in the store")
    s = Structure.from_dict(relaxed.get("output_structure") or relaxed["structure"])
    hit = find_task(store, s, calculator, "static", expected_parameters(calculator, preset, "static"))
    if hit is not None:
        return hit["key"], True
    store.flush()
    backend = get_calculator(calculator, preset=resolve_preset(preset, fw_spec, calculator))
    result = backend.static(s, directory=work_dir(fw_spec, label))
    doc = _task_document(result, s, label, fw_spec, {"relax_task_id": relax_key})
    key = store.put(doc)
    if result.status != "completed":
        store.flush()
        raise RuntimeError(f"{label}: {calculator} static calculation failed: {result.error}")
    return key, False
