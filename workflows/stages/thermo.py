"""Reference sets of the chemical systems (computed entries stored as EntryDocuments, or a
reference file) and the stability windows on them (WindowDocuments)."""
from __future__ import annotations

from typing import Any, Iterable

from sseflow.analysis.errors import InputError
from sseflow.workflows.stages.worker import task_store


def _entries_from_docs(docs: Iterable[dict]):
    from sseflow.analysis.entries import Entry

    out = []
    for d in docs:
        src = d.get("source") or {}
        out.append(Entry(d["formula"], dict(d["composition"]), float(d["energy_per_atom"]),
                         str(src.get("task_id") or src.get("entry_id") or d["key"]), d.get("correction_scheme")))
    return out


def _file_reference(ref: dict):
    from sseflow.analysis.reference import load_reference
    from sseflow.workflows.settings import settings

    return load_reference(ref["file"], energy_column=ref.get("energy_column"), cache_dir=settings().cache_dir)


def reference_for(ref: dict, info: dict, store):
    """The reference set a thermodynamics Firework built (``info``: its ``reference_sets`` entry)."""
    from sseflow.analysis.reference import ReferenceSet

    if info["source"] == "file":
        rs = _file_reference(ref)
    else:
        docs = [store.get("entry", k) for k in info["entry_ids"]]
        missing = [k for k, d in zip(info["entry_ids"], docs) if d is None]
        if missing:
            raise InputError(f"entries {', '.join(missing[:3])} are not in the store (rerun the thermodynamics "
                             f"Firework of {info['chemsys']})")
        entries = _entries_from_docs(docs)
        if info["source"] == "both":
            entries = merge_file_entries(entries, ref, info["chemsys"], _task_structures(info.get("task_ids"), store))
        elif ref.get("correction_scheme"):
            entries = computed_on_scale(entries, ref, _task_structures(info.get("task_ids"), store))
        rs = ReferenceSet.from_entries(entries, source=f"{info['source']}:{info['chemsys']}")
    if rs.content_hash != info["hash"]:
        raise InputError(f"the reference set of {info['chemsys']} changed since it was built "
                         f"({rs.content_hash[:12]} != {info['hash'][:12]}): rerun its thermodynamics Firework")
    return rs


def _task_structures(task_ids, store) -> dict:
    """{task id: structure dict} of stored tasks (anion typing of the entries made from them)."""
    out = {}
    for k in task_ids or []:
        d = store.get("task", k)
        if d is not None and d.get("structure"):
            out[str(k)] = d["structure"]
    return out


def reference_scheme(ref: dict, rs=None) -> tuple[str | None, str]:
    """(correction scheme, how it is known) of a study's reference file: ``correction_scheme`` as
    given, else what the file declares (a ``<file>.scheme`` sidecar, or a known table by its
    SHA-256; :func:`sseflow.analysis.schemes.declared_scheme`); (None, "") when neither says."""
    if ref.get("correction_scheme"):
        return str(ref["correction_scheme"]), "given"
    if not ref.get("file"):
        return None, ""
    from sseflow.analysis.schemes import declared_scheme

    return declared_scheme(ref["file"], content_hash=getattr(rs, "content_hash", None))


def merge_file_entries(computed, ref: dict, chemsys: str, structures: dict | None = None):
    """The reference file's entries of ``chemsys`` and the computed ones put on the file's scale
    (:func:`sseflow.workflows.computed_entries.entries_on_scale`; ``structures``: {entry id:
    structure} for anion typing). InputError (one line) when the file's scheme is unknown or the
    computed entries' scheme cannot be converted to it."""
    from sseflow.workflows.computed_entries import entries_on_scale, merge_entries

    file_rs = _file_reference(ref)
    scheme, _how = reference_scheme(ref, file_rs)
    if scheme is None:
        from sseflow.analysis.schemes import scheme_names

        raise InputError(f"reference file {ref.get('file')} does not declare its correction scheme: give it "
                         f"({scheme_names()}; study key reference.correction_scheme) to mix computed entries with it")
    theirs = file_rs.entries_in(chemsys.split("-"))
    ours = entries_on_scale(computed, scheme, structures)
    return merge_entries(theirs, ours, scheme_of_unlabelled=scheme)


def computed_on_scale(entries, ref: dict, structures: dict):
    """Computed entries put on ``reference.correction_scheme`` (source 'computed': the scale the
    study reports on, e.g. ``MP-legacy`` to compare with a table on that scale)."""
    from sseflow.workflows.computed_entries import entries_on_scale

    return entries_on_scale(entries, str(ref["correction_scheme"]), structures)


def _reference_label(ref: dict, calculator: str) -> str:
    if ref["source"] == "file":
        return str(ref["file"])
    if ref["source"] == "both":
        return f"computed:{calculator}+{ref['file']}"
    return f"computed:{calculator}"


def build_reference(chemsys: str, ref: dict, calculator: str, task_ids: dict, store) -> tuple[Any, dict]:
    """(reference set, info) of one chemical system; computed entries are stored as EntryDocuments."""
    from sseflow.analysis.reference import ReferenceSet
    from sseflow.workflows.computed_entries import entries_from_results
    from sseflow.workflows.store.documents import EntryDocument

    els = set(chemsys.split("-"))
    info: dict[str, Any] = {"chemsys": chemsys, "source": ref["source"], "reference": _reference_label(ref, calculator)}
    if ref["source"] == "file":
        rs = _file_reference(ref)
        info.update(hash=rs.content_hash, entry_ids=[], task_ids=[])
        return rs, info
    rows = []
    for label, key in sorted(task_ids.items()):
        d = store.get("task", key)
        if d is None:
            raise InputError(f"task {key} of {label} is not in the store")
        if not set(d.get("elements") or []) <= els:
            continue
        rows.append({**d, "task_id": key})
    entries = entries_from_results(rows, calculator)
    keys = []
    for e in entries:
        keys.append(store.put(EntryDocument.from_entry(e, task_id=e.entry_id)))
    info["entry_ids"] = keys
    info["task_ids"] = [r["task_id"] for r in rows]
    rebuilt = _entries_from_docs(store.get("entry", k) for k in keys)  # exactly what the children rebuild
    structures = {str(r["task_id"]): r.get("structure") for r in rows}
    if ref["source"] == "both":
        rebuilt = merge_file_entries(rebuilt, ref, chemsys, structures)
        info["scheme"] = reference_scheme(ref)[0]
    elif ref.get("correction_scheme"):
        rebuilt = computed_on_scale(rebuilt, ref, structures)
        info["scheme"] = str(ref["correction_scheme"])
    rs = ReferenceSet.from_entries(rebuilt, source=f"{ref['source']}:{chemsys}")
    info["hash"] = rs.content_hash
    return rs, info


def thermo_for_system(chemsys: str, ref: dict, calculator: str, task_ids: dict, windows: list[str],
                      fw_spec: dict, temperatures: list[float] | None = None, study: str | None = None,
                      store=None) -> tuple[dict, dict]:
    """Entries of one chemical system and the windows of the electrolytes assigned to it.

    Returns (reference info for the children, {formula: window document key}).
    """
    from sseflow.analysis.window import WindowCalculator
    from sseflow.workflows.store.documents import Inputs, WindowDocument

    store = store or task_store(fw_spec)
    rs, info = build_reference(chemsys, ref, calculator, task_ids, store)
    exclude = list(ref.get("exclude") or [])
    window_ids: dict[str, str] = {}
    if windows:
        calc = WindowCalculator(rs, exclude)
        base = {"reference": info["reference"], "reference_hash": info["hash"], "exclude": exclude,
                "task_ids": info["task_ids"], "entry_ids": info["entry_ids"], "study": study,
                "reference_source": info["source"]}
        for f in windows:
            doc = WindowDocument.from_payload(calc.window(f).to_dict(), Inputs.from_any(base))
            window_ids[f] = store.put(doc)
        if temperatures:
            window_ids.update(_windows_at_temperatures(windows, rs, temperatures, chemsys, calculator, base, store))
    return info, window_ids


def _windows_at_temperatures(formulas, rs, temperatures, chemsys, calculator, base, store) -> dict[str, str]:
    from sseflow.workflows.store.documents import Inputs, WindowDocument
    from sseflow.workflows.temperature import load_phonon_docs, windows_at_temperatures

    docs = load_phonon_docs(chemsys, config=store.config, calculator=calculator)
    rows = windows_at_temperatures(formulas, rs, list(temperatures), docs, exclude=base["exclude"], profile=True)
    out = {}
    for r in rows:
        t = r.pop("temperature_K")
        inputs = Inputs.from_any({**base, "temperature": t, "phonon_ids": [d.get("key") for d in docs]
                                  if docs and isinstance(docs[0], dict) else []})
        out[f"{r['formula']}@{t:g}K".replace(".", "p")] = store.put(WindowDocument.from_payload(r, inputs))
    return out
