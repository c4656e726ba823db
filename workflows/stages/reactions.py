"""Interfacial reactions (ReactionDocuments) and interlayer screening (ScreeningDocuments) of
electrolyte | partner pairs on a stored reference set."""
from __future__ import annotations

from sseflow.workflows.stages.thermo import reference_for
from sseflow.workflows.stages.worker import task_store


def pair_label(a: str, b: str, potential: float | None = None) -> str:
    """Key of a reaction in specs: no '.', which MongoDB field names cannot hold."""
    p = "chem" if potential is None else f"{potential:g}V".replace(".", "p")
    return f"{a}__{b}__{p}"


def reaction_results(electrolyte: str, partner: str, rs, exclude: list[str], potentials: list[float]):
    """The ReactionResults of one pair: chemical, then open to Li at each potential."""
    from sseflow.analysis.formula import parse_formula
    from sseflow.analysis.reactions import ReactionCalculator

    rc = ReactionCalculator(rs, exclude)
    out = [rc.react(electrolyte, partner)]
    li_only = set(parse_formula(partner)) == {"Li"} or set(parse_formula(electrolyte)) == {"Li"}
    for v in potentials:
        if not li_only:  # Li is the reservoir of the open system: no open reaction with Li metal
            out.append(rc.react(electrolyte, partner, potential=float(v)))
    return out


def react_pair(electrolyte: str, partner: str, chemsys: str, ref: dict, info: dict, potentials: list[float],
               fw_spec: dict, study: str | None = None, store=None) -> dict[str, str]:
    """Reaction curves of one electrolyte | partner pair, stored; {pair label: reaction document key}."""
    from sseflow.workflows.store.documents import Inputs, ReactionDocument

    store = store or task_store(fw_spec)
    rs = reference_for(ref, info, store)
    exclude = list(ref.get("exclude") or [])
    out = {}
    # the same options as ``sseflow react --store``: the workflow's documents and the command's share keys
    options = {"include_decomposition": False, "use_hull_energy": False, "energy_a": None, "energy_b": None}
    for r in reaction_results(electrolyte, partner, rs, exclude, potentials):
        inputs = Inputs.from_any({"reference": info["reference"], "reference_hash": info["hash"], "exclude": exclude,
                                  "options": options, "task_ids": info["task_ids"], "entry_ids": info["entry_ids"],
                                  "study": study})
        out[pair_label(electrolyte, partner, r.potential_V)] = store.put(ReactionDocument.from_payload(r.to_dict(), inputs))
    return out


def screen_pair(electrolyte: str, anode: str, candidates: list[str], ref: dict, info: dict, fw_spec: dict,
                study: str | None = None, store=None) -> list[str]:
    """Interlayer screening of one electrolyte | anode pair, stored; the screening document keys."""
    from sseflow.analysis.screening import screen
    from sseflow.workflows.store.documents import Inputs, ScreeningDocument

    store = store or task_store(fw_spec)
    rs = reference_for(ref, info, store)
    exclude = list(ref.get("exclude") or [])
    res = screen(electrolyte, anode, rs, candidates=candidates, exclude=exclude)
    inputs = Inputs.from_any({"reference": info["reference"], "reference_hash": info["hash"], "exclude": exclude,
                              "entry_ids": info["entry_ids"], "study": study, "notes": res.notes})
    return [store.put(ScreeningDocument.from_row(r, inputs)) for r in res.rows]
