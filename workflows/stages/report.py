"""Report glue: the study report from stored documents (:mod:`sseflow.workflows.report`) and its
interface and reaction tables."""
from __future__ import annotations

from sseflow.workflows.stages.worker import task_store


def interface_table(docs: list[dict], schottky: list[dict], fmt: str) -> str:
    """Interface cells (and Schottky barriers) as md or csv."""
    import csv
    import io

    head = ["electrolyte", "anode", "electrolyte_miller", "anode_miller", "termination", "area_A2", "strain_percent",
            "work_of_adhesion_J_m2", "barrier_n_eV_layer_dos", "barrier_p_eV_layer_dos", "barrier_n_eV_lineup",
            "barrier_p_eV_lineup", "band_gap_eV"]
    rows = []
    for d in docs:
        sk = [s for s in schottky if s["electrolyte"] == d["electrolyte"] and s["anode"] == d["anode"]
              and (s.get("parameters") or {}).get("interface_key") in (None, d.get("key"))]
        layer = next((s for s in sk if s.get("method") == "layer-resolved DOS"), {})
        lineup = next((s for s in sk if s.get("method") == "potential line-up"), {})
        rows.append([d["electrolyte"], d["anode"], "".join(map(str, d.get("electrolyte_miller") or [])),
                     "".join(map(str, d.get("anode_miller") or [])), d.get("termination") or "",
                     _fmt(d.get("area_A2"), 1), _fmt(d.get("strain_percent"), 2), _fmt(d.get("work_of_adhesion_J_m2"), 3),
                     _fmt(layer.get("barrier_n_eV"), 2), _fmt(layer.get("barrier_p_eV"), 2),
                     _fmt(lineup.get("barrier_n_eV"), 2), _fmt(lineup.get("barrier_p_eV"), 2),
                     _fmt(lineup.get("band_gap_eV"), 2)])
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(head)
        w.writerows(rows)
        return buf.getvalue()
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"

def _fmt(x, digits=2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def reaction_table(rows: list[dict], fmt: str) -> str:
    """Reaction minima as md, csv, latex or text (mutual reaction energy; see :mod:`sseflow.workflows.report`)."""
    from sseflow.workflows.report import reaction_table as table

    return table(rows, fmt)


def write_report(output: str, study: dict, spec: dict, reference: dict, store=None) -> dict:
    """The study's report in ``output``, from stored documents (:mod:`sseflow.workflows.report`):
    the manifest built from the spec, written by the same function as ``sseflow report --from-db``."""
    from sseflow.workflows.report import report_manifest
    from sseflow.workflows.report import write_report as write

    store = store or task_store(spec)
    manifest = report_manifest(output, study, reference, spec, store)
    summary = write(manifest, store)
    return {**summary, "manifest": manifest}
