"""The report of a study: tables (md, csv, tex), figures (PNG) and ``report.json``, written from
stored documents alone.

A report is described by its *manifest*: the study summary, the output folder, the reference
settings and the keys of the stored window, reaction, screening, interface and Schottky
documents, the reference sets (source, label, hash, task ids) and the anodes with their
potentials. The report Firework builds the manifest (:func:`report_manifest`), keeps it in its
launch's ``stored_data`` and writes the report from it (:func:`write_report`);
``sseflow report --from-db`` reads the manifest back (:func:`stored_manifest`) and calls the
same function, so both give the same files byte for byte. Nothing here recomputes a window,
a reaction curve or a hull: tables and figures are drawn from the stored payloads.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sseflow.analysis.errors import InputError

__all__ = ["report_manifest", "write_report", "stored_manifest", "reaction_table", "interface_table"]

MANIFEST_KEYS = ("study", "output", "reference", "window_ids", "reaction_ids", "screening_ids", "reference_sets",
                 "interface_ids", "schottky_ids", "anodes", "calculators", "coverage")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)


def reaction_table(rows: list[dict], fmt: str) -> str:
    """Reaction minima (payloads, stored documents or ``report.json`` rows) as md, csv, latex or text;
    one convention: the mutual reaction energy (see :mod:`sseflow.analysis.tables`)."""
    from sseflow.analysis.tables import format_reactions, reaction_rows

    return format_reactions(reaction_rows(rows), fmt)


def interface_table(docs: list[dict], schottky: list[dict], fmt: str) -> str:
    from sseflow.workflows.firetasks import interface_table as table

    return table(docs, schottky, fmt)


# --------------------------------------------------------------------------- the manifest

def _anode_potentials(anodes: list[str], reference_sets: dict, ref: dict, store) -> list[list]:
    """[[anode, potential vs Li/Li+ or None], ...]: 0 V for Li, the alloy's plateau from the
    reference set that holds it (computed once, here, and kept in the manifest)."""
    from sseflow.analysis.formula import parse_formula

    out = []
    for a in anodes:
        v = None
        try:
            els = set(parse_formula(a))
            if els == {"Li"}:
                v = 0.0
            else:
                from sseflow.analysis.anodes import anode_potential
                from sseflow.analysis.window import WindowCalculator
                from sseflow.workflows.firetasks import reference_for

                cands = [cs for cs in reference_sets if els | {"Li"} <= set(cs.split("-"))]
                if cands:
                    cs = min(cands, key=lambda c: len(c.split("-")))
                    rs = reference_for(ref, reference_sets[cs], store)
                    v = round(float(anode_potential(WindowCalculator(rs, list(ref.get("exclude") or [])), a)), 6)
        except (InputError, ValueError, KeyError):
            v = None
        out.append([a, v])
    return out


def _calculators(reference_sets: dict, interface_ids: dict, store) -> list[str]:
    """Calculators that ran for the study: those of the tasks behind its entries and of its interfaces."""
    names = set()
    for info in reference_sets.values():
        for k in info.get("task_ids") or []:
            d = store.get("task", k)
            if d is not None and d.get("calculator"):
                names.add(str(d["calculator"]))
    for k in (interface_ids or {}).values():
        d = store.get("interface", k)
        if d is not None and d.get("calculator"):
            names.add(str(d["calculator"]))
    return sorted(names)


def report_manifest(output: str, study: dict, reference: dict, spec: dict, store) -> dict:
    """What :func:`write_report` needs, from the report Firework's spec (the keys its parents passed)."""
    reference_sets = {k: {kk: v.get(kk) for kk in ("chemsys", "source", "reference", "scheme", "hash", "entry_ids", "task_ids")}
                      for k, v in (spec.get("reference_sets") or {}).items()}
    interface_ids = dict(spec.get("interface_ids") or {})
    return {
        "study": study, "output": str(output), "reference": reference,
        "window_ids": dict(spec.get("window_ids") or {}), "reaction_ids": dict(spec.get("reaction_ids") or {}),
        "screening_ids": sorted(set(spec.get("screening_ids") or [])), "reference_sets": reference_sets,
        "interface_ids": interface_ids, "schottky_ids": sorted(set(spec.get("schottky_ids") or [])),
        "anodes": _anode_potentials(list(study.get("anodes") or []), spec.get("reference_sets") or {}, reference,
                                    store),
        "calculators": _calculators(reference_sets, interface_ids, store),
        **({"coverage": _coverage(reference_sets, reference, store)} if reference.get("source") == "computed" else {}),
        **({"substitution_ids": sorted(set(spec["substitution_ids"]))} if spec.get("substitution_ids") else {}),
    }


def _coverage(reference_sets: dict, reference: dict, store) -> dict:
    """Which hull and near-hull phases of the reference file (the configured default) the study's
    computed entries hold, per chemical system (computed once, here, and kept in the manifest)."""
    from sseflow.analysis.formula import parse_formula, reduced_formula
    from sseflow.workflows.structures.coverage import coverage, coverage_reference

    ref, where = coverage_reference(reference.get("file"))
    if not ref:
        return {"reference": None, "note": f"no reference file to compare with: {where}", "systems": {}}
    from sseflow.analysis.reference import load_reference
    from sseflow.workflows.settings import settings

    try:
        rs = load_reference(ref, cache_dir=settings().cache_dir)
    except InputError as exc:
        return {"reference": str(ref), "note": f"reference not read: {exc}", "systems": {}}
    systems = {}
    for cs, info in sorted(reference_sets.items()):
        formulas = set()
        for k in info.get("task_ids") or []:
            d = store.get("task", k)
            if d is not None and d.get("formula"):
                formulas.add(reduced_formula(parse_formula(str(d["formula"]))))
        try:
            cov = coverage(cs, rs, formulas, exclude=list(reference.get("exclude") or []))
        except InputError as exc:
            systems[cs] = {"note": str(exc)}
            continue
        systems[cs] = {"searched": [r["formula"] for r in cov["hull_present"] + cov["near_hull_present"]
                                    if r["searched"]],
                       "hull_present": [r["formula"] for r in cov["hull_present"]],
                       "near_hull_present": [[r["formula"], r["e_above_hull_meV"]] for r in cov["near_hull_present"]],
                       "missing": [[r["formula"], r["e_above_hull_meV"]] for r in cov["missing"]]}
    return {"reference": str(ref), "tolerance_meV": 25.0, "systems": systems}


def _coverage_footnote(cov: dict | None) -> str:
    """The line under windows.md / reactions.md naming the hull phases the computed hulls lack."""
    if not cov:
        return ""
    if not cov.get("systems"):
        return f"\nHull coverage not checked: {cov.get('note', 'no reference file')}.\n"
    parts = []
    for cs, c in cov["systems"].items():
        if "note" in c:
            parts.append(f"{cs}: not checked")
            continue
        miss = ", ".join(f"{f} ({e:g})" for f, e in c["missing"]) or "none"
        searched = f" (searched or ordered structures: {', '.join(c['searched'])})" if c.get("searched") else ""
        parts.append(f"{cs}: {len(c['hull_present'])} hull and {len(c['near_hull_present'])} near-hull phases "
                     f"computed{searched}; missing {miss}")
    return (f"\nHull coverage vs {Path(cov['reference']).name} (phases within {cov['tolerance_meV']:g} meV/atom "
            f"of its hull; E_hull in meV/atom): " + "; ".join(parts) + ".\n")


def stored_manifest(lp, study: str | None = None) -> dict:
    """The manifest of the latest completed report of ``study`` (any study when None) on the LaunchPad."""
    query: dict[str, Any] = {"state": "COMPLETED"}
    query["name"] = f"report {study}" if study else {"$regex": "^report "}
    fws = list(lp.fireworks.find(query, {"fw_id": 1, "name": 1}).sort("fw_id", -1))
    for fw in fws:
        launch = lp.launches.find_one({"fw_id": fw["fw_id"], "state": "COMPLETED"}, sort=[("launch_id", -1)])
        manifest = (((launch or {}).get("action") or {}).get("stored_data") or {}).get("manifest")
        if manifest:
            return manifest
    what = f"study '{study}'" if study else "any study"
    raise InputError(f"the database holds no completed report of {what} (run the study first)")


# --------------------------------------------------------------------------- writing

def _get(store, kind: str, key: str) -> dict:
    d = store.get(kind, key)
    if d is None:
        raise InputError(f"{kind} {key} is not in the database (the report needs it)")
    return d


def write_report(manifest: dict, store, output: str | Path | None = None) -> dict:
    """Tables (md, csv, tex), figures (PNG) and ``report.json`` of a study, from stored documents."""
    from sseflow.analysis.plots import plot_windows
    from sseflow.analysis.reaction_plots import plot_reaction, plot_screening
    from sseflow.analysis.screening import format_screening
    from sseflow.analysis.tables import format_table, reaction_rows, window_rows
    from sseflow.workflows.store.documents import ReactionDocument, WindowDocument

    study = dict(manifest["study"])
    window_ids, reaction_ids = manifest.get("window_ids") or {}, manifest.get("reaction_ids") or {}
    reference_sets = manifest.get("reference_sets") or {}
    calculators = list(manifest.get("calculators") or [])
    if not calculators:
        study.pop("calculator", None)  # no calculation ran: the energies all came from the reference file
    out = Path(output if output is not None else manifest["output"])
    out.mkdir(parents=True, exist_ok=True)
    footnote = _coverage_footnote(manifest.get("coverage"))
    written: list[str] = []

    def write(name: str, text: str) -> None:
        (out / name).write_text(text, encoding="utf-8")
        written.append(name)

    windows = []
    for f in study.get("electrolytes") or []:
        key = window_ids.get(f)
        if key:
            windows.append(WindowDocument.from_mongo(_get(store, "window", key)).payload())
    temp_windows = []
    for label, key in sorted(window_ids.items()):
        if "@" in label:
            d = _get(store, "window", key)
            temp_windows.append({**WindowDocument.from_mongo(d).payload(),
                                 "material": f"{d['formula']} ({d['inputs'].get('temperature_K'):g} K)"})
    labels = sorted({v.get("reference") for v in reference_sets.values() if v.get("reference")})
    if windows:
        rows = window_rows(windows)
        for fmt, ext in (("md", "md"), ("csv", "csv"), ("latex", "tex")):
            write(f"windows.{ext}", format_table(rows, fmt) + (footnote if ext == "md" else ""))
        plot_windows(rows, out / "windows.png", anodes=[tuple(a) for a in manifest.get("anodes") or []],
                     reference="; ".join(labels) or None)
        written.append("windows.png")
    if temp_windows:
        rows = window_rows(temp_windows)
        write("windows_temperature.md", format_table(rows, "md"))
        write("windows_temperature.csv", format_table(rows, "csv"))
    reactions = [ReactionDocument.from_mongo(_get(store, "reaction", reaction_ids[k])).payload()
                 for k in sorted(reaction_ids)]
    order = {f: i for i, f in enumerate(study.get("electrolytes") or [])}
    reactions.sort(key=lambda r: (order.get(r["reactant_a"], 99), r["reactant_b"],
                                  -1.0 if r["potential_V"] is None else r["potential_V"]))
    table_rows = reaction_rows(reactions)
    if reactions:
        from sseflow.analysis.tables import format_reactions

        for fmt, ext in (("md", "md"), ("csv", "csv"), ("latex", "tex")):
            write(f"reactions.{ext}", format_reactions(table_rows, fmt) + (footnote if ext == "md" else ""))
        pairs: dict[tuple, list] = {}
        for r in reactions:
            pairs.setdefault((r["reactant_a"], r["reactant_b"]), []).append(r)
        for (a, b), rr in pairs.items():
            name = f"reaction_{_safe(a)}_{_safe(b)}.png"
            plot_reaction(rr if len(rr) > 1 else rr[0], out / name)
            written.append(name)
    screening = []
    if manifest.get("screening_ids"):
        groups: dict[tuple, list] = {}
        for k in manifest["screening_ids"]:
            r = _get(store, "screening", k)["row"]
            groups.setdefault((r["electrolyte"], r["anode"]), []).append(r)
        for (e, a), rr in sorted(groups.items()):
            rr.sort(key=lambda r: r["rank"])
            screening += rr
            stem = f"screening_{_safe(e)}_{_safe(a)}"
            note = ("\nE_rxn: mutual reaction energy (both reactants at their hull energy: a reactant's own "
                    "decomposition is not counted), most negative over the mixing ratio, meV/atom of mixture.\n")
            write(f"{stem}.md", format_screening(rr, "md") + note)
            write(f"{stem}.csv", format_screening(rr, "csv"))
            plot_screening(rr, out / f"{stem}.png", electrolyte=e, anode=a)
            written.append(f"{stem}.png")
    interfaces = [_get(store, "interface", k) for k in sorted(set((manifest.get("interface_ids") or {}).values()))]
    if interfaces:
        sk = [_get(store, "schottky", k) for k in manifest.get("schottky_ids") or []]
        write("interfaces.md", interface_table(interfaces, sk, "md"))
        write("interfaces.csv", interface_table(interfaces, sk, "csv"))
    substitutions = _substitution_report(manifest.get("substitution_ids") or [], store, out, write, written)
    summary = {"study": study, "windows": windows, "windows_at_temperature": temp_windows,
               "interfaces": [{k: d.get(k) for k in ("electrolyte", "anode", "electrolyte_miller", "anode_miller",
                                                     "termination", "area_A2", "strain_percent",
                                                     "work_of_adhesion_J_m2", "key")} for d in interfaces],
               "reactions": [{**{k: r[k] for k in ("reactant_a", "reactant_b", "potential_V", "minimum")},
                              "mutual": row} for r, row in zip(reactions, table_rows)],
               "reaction_convention": "mutual" if reactions else None,
               "anodes": [{"anode": a, "potential_V": v} for a, v in manifest.get("anodes") or []],
               "reference_sets": {k: {kk: v[kk] for kk in ("source", "reference", "hash")}
                                  for k, v in reference_sets.items()},
               "files": sorted(written + ["report.json"])}
    if calculators:
        summary["calculators"] = calculators
    if manifest.get("coverage") is not None:
        summary["coverage"] = manifest["coverage"]
    if not reactions:
        summary.pop("reaction_convention")
    if substitutions:
        summary["substitutions"] = substitutions
    write("report.json", json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def _substitution_report(keys: list[str], store, out: Path, write, written: list[str]) -> list[dict]:
    """``substitution_<host>_<site>.{md,csv,png}`` of the stored substitution candidates (ranked rows)."""
    if not keys:
        return []
    from sseflow.analysis.substitution import format_substitution, plot_substitution

    groups: dict[tuple, list] = {}
    for k in keys:
        d = _get(store, "substitution", k)
        groups.setdefault((d["host"], d["site"]), []).append(d["row"])
    rows_all = []
    for (host, site), rows in sorted(groups.items()):
        rows.sort(key=lambda r: r["rank"])
        stem = f"substitution_{_safe(host)}_{_safe(site)}"
        note = ("\nEvery site substituted; E_hull against the reference file with the computed candidate added "
                "(formation energies from the same calculator's elemental phases); reaction energies chemical, "
                "most negative point, meV/atom of mixture; NO: not charge balanced (net charge per formula unit).\n")
        write(f"{stem}.md", format_substitution(rows, "md") + note)
        write(f"{stem}.csv", format_substitution(rows, "csv"))
        plot_substitution(rows, out / f"{stem}.png", title=f"{host}: substitution of {site}")
        written.append(f"{stem}.png")
        rows_all += [{"host": host, "site": site, **{c: r.get(c) for c in (
            "rank", "formula", "compensation", "charge_balanced", "e_above_hull_meV", "reduction_V", "oxidation_V",
            "rxn_li_meV", "rxn_alloy_meV")}} for r in rows]
    return rows_all
