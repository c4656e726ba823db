"""A phase found by a structure search inside a study (``phases.search``): the search with the
study's relax calculator, its result written next to the report, then the lowest candidate
relaxed and stored like any phase (:func:`~sseflow.workflows.stages.calculations.relax_phase`)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sseflow.analysis.errors import InputError
from sseflow.workflows.stages.worker import resolve_preset, task_store


def _inputs_digest(options: dict, calculator: str, preset: dict | None) -> str:
    blob = json.dumps({"options": options, "calculator": calculator, "preset": preset or {}}, sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def search_phase(options: dict, label: str, calculator: str, preset: dict | None, fw_spec: dict,
                 output: str | None = None, store=None) -> tuple[str, dict]:
    """(task key of the relaxed best candidate, provenance of the search).

    ``options``: :class:`~sseflow.workflows.study.SearchSpec` options (formula, spacegroup,
    formula_units, max_atoms, trials, seed, units, lattice, lattice_source). The result is written
    to ``OUTPUT/searched/LABEL.{cif,json}``; a second run with the same options, calculator and
    preset reads the written result instead of searching again. InputError when no candidate is
    acceptable.
    """
    from pymatgen.core import Structure

    from sseflow.workflows.stages.calculations import relax_phase
    from sseflow.workflows.structures import search as ss

    store = store or task_store(fw_spec)
    digest = _inputs_digest(options, calculator, preset)
    folder = Path(output) / "searched" if output else None
    side = folder / f"{label}.json" if folder else None
    best = prov = None
    if side is not None and side.is_file():
        try:
            saved = json.loads(side.read_text())
            if saved.get("inputs_digest") == digest:
                best, prov = Structure.from_dict(saved["best_structure"]), saved["provenance"]
        except (OSError, ValueError, KeyError):
            best = None
    if best is None:
        opts = dict(options)
        res = ss.search(opts.pop("formula"), calculator=calculator,
                        calculator_params=resolve_preset(preset, fw_spec, calculator) or {}, **opts)
        if res.best is None:
            raise InputError(f"{label}: the structure search found no acceptable structure in {res.trials} trials")
        best, prov = res.best.structure, res.provenance()
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{label}.cif").write_text(ss.cif_text(res))
            tmp = side.with_suffix(".json.tmp")
            tmp.write_text(json.dumps({"inputs_digest": digest, "label": label, "provenance": prov,
                                       "table": res.table(),
                                       "best_structure": best.as_dict()}, default=str, indent=1))
            tmp.replace(side)          # never a half-written result
    key, _reused = relax_phase(best.as_dict(), label, calculator, preset, fw_spec, store=store)
    return key, prov
