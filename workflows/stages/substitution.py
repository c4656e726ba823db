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
                              "options": {"correction_scheme": result.correction_scheme,
                                          **({"fraction": result.fraction, "supercell": result.supercell}
                                             if result.fraction < 1 else {})}})
    return [store.put(SubstitutionDocument.from_row(row, host=result.host, site=result.site,
                                                    calculator=result.calculator, inputs=inputs))
            for row in result.rows]


def substitution_for_host(host, site: str, substituents: list[str] | None, auto: int | None, ref: dict,
                          calculator: str, preset: dict | None, fw_spec: dict, study: str | None = None,
                          compensations: list[str] | None = None, store=None, fraction: float = 1.0,
                          orderings: int = 3, exclude_elements: list[str] | None = None, any_element: bool = False):
    """Screen the substitutions of one host (a Firework of ``compute.substitution``); returns the
    keys of the stored SubstitutionDocuments and the :class:`~sseflow.workflows.substitution.SubstitutionScreen`.
    ``fraction``, ``orderings``: a partial substitution; ``exclude_elements``, ``any_element``: the
    element filter of ``auto`` proposals (``screen_substitutions``)."""
    from sseflow.workflows.store.documents import SubstitutionDocument  # noqa: F401 - fail early
    from sseflow.workflows.substitution import screen_substitutions

    store = store or task_store(fw_spec)
    if isinstance(host, dict):  # a study's structure_dict
        from pymatgen.core import Structure

        host = Structure.from_dict(host)
    result = screen_substitutions(host, site, substituents, auto=auto, reference=ref["file"], calculator=calculator,
                                  preset=preset, correction_scheme=ref.get("correction_scheme"),
                                  energy_column=ref.get("energy_column"), exclude=list(ref.get("exclude") or []),
                                  compensations=compensations, store=store, fraction=fraction, orderings=orderings,
                                  exclude_elements=list(exclude_elements or []), any_element=any_element)
    return store_screen(result, store, study=study), result


def interface_picks(rows: list[dict], n: int, with_host: bool = True) -> list[dict]:
    """The rows whose interfaces a study builds: the ``n`` best-ranked charge-balanced candidates,
    and the host first when ``with_host`` (the study's own interfaces may already hold it)."""
    host = [r for r in rows if r["compensation"] == "host"] if with_host else []
    cands = [r for r in rows if r["compensation"] != "host" and r["charge_balanced"]][:max(0, int(n))]
    return host + cands


def interface_detour(result, interfaces: dict, study: str | None, spec: dict):
    """The interface (and Schottky) Fireworks of the picked candidates with each anode, as a
    Workflow to run before the study's report (a FireWorks detour); None when nothing is picked.

    ``interfaces``: ``{"n": N, "anodes": [...], "config": workflow_build.interface_config(study),
    "host": bool}``. Each candidate's relaxed structure is the interface's electrolyte; its labels
    are the candidate's formula, so the report lists the interfaces next to the study's own."""
    from fireworks import Firework, Workflow

    from sseflow.workflows.workflow_build import interface_pair_tasks

    structures = result.structures()
    fws, links = [], {}
    for row in interface_picks(result.rows, interfaces.get("n", 0), interfaces.get("host", True)):
        s = structures.get(row["label"])
        if s is None:
            continue
        for anode in interfaces.get("anodes") or []:
            prev = None
            for tasks, name in interface_pair_tasks(s.as_dict(), row["formula"], anode, interfaces["config"], study):
                f = Firework(tasks, spec=dict(spec), name=name)
                fws.append(f)
                if prev is not None:
                    links[prev.fw_id] = [f.fw_id]
                prev = f
    return Workflow(fws, links_dict=links) if fws else None
