"""Substitution screening as a stage: the candidates of ``compute.substitution`` (or of
``sseflow substitute --store``) relaxed with dedupe and stored as SubstitutionDocuments."""
from __future__ import annotations

from sseflow.workflows.stages.worker import task_store


def store_screen(result, store, study: str | None = None) -> list[str]:
    """One SubstitutionDocument per ranked row of a :class:`~sseflow.workflows.substitution.SubstitutionScreen`;
    returns their keys."""
    from sseflow.workflows.store.documents import Inputs, SubstitutionDocument

    task_ids = sorted(c.task_key for c in result.calculations if c.task_key)
    inputs = Inputs.from_any({"reference": result.reference, "reference_hash": result.reference_hash,
                              "exclude": list(result.exclude), "task_ids": task_ids, "study": study,
                              "options": {"correction_scheme": result.correction_scheme}})
    return [store.put(SubstitutionDocument.from_row(row, host=result.host, site=result.site,
                                                    calculator=result.calculator, inputs=inputs))
            for row in result.rows]


def substitution_for_host(host, site: str, substituents: list[str] | None, auto: int | None, ref: dict,
                          calculator: str, preset: dict | None, fw_spec: dict, study: str | None = None,
                          compensations: list[str] | None = None, store=None) -> list[str]:
    """Screen the substitutions of one host (a Firework of ``compute.substitution``); returns the
    keys of the stored SubstitutionDocuments."""
    from sseflow.workflows.store.documents import SubstitutionDocument  # noqa: F401 - fail early
    from sseflow.workflows.substitution import screen_substitutions

    store = store or task_store(fw_spec)
    if isinstance(host, dict):  # a study's structure_dict
        from pymatgen.core import Structure

        host = Structure.from_dict(host)
    result = screen_substitutions(host, site, substituents, auto=auto, reference=ref["file"], calculator=calculator,
                                  preset=preset, correction_scheme=ref.get("correction_scheme"),
                                  energy_column=ref.get("energy_column"), exclude=list(ref.get("exclude") or []),
                                  compensations=compensations, store=store)
    return store_screen(result, store, study=study)
