"""Generations of the embedded store: every sseflow save is numbered, and a file that went back in
time (rewritten by a client that loaded an older copy) is noticed and undone on the next open.

A program that never imports sseflow uses mongomock-persistence unchanged: at exit it rewrites
the whole file with the copy it loaded, without the lock, even after only reading. To notice
such an overwrite, every sseflow save (:func:`save`) writes three files:

* the store file itself, holding one more database, ``_sseflow_store``, whose collection
  ``generation`` has one document ``{"_id": "generation", "generation", "digest", "saved_at",
  "pid"}`` (``digest``: SHA-256 of the content without that database). mongomock-persistence
  loads and writes it back like any other database, so a copy rewritten by another client
  carries the generation it loaded;
* ``<real>.sseflow-last``: a copy of the bytes written (a copy, not a hard link: the other
  clients rewrite the file in place, which would change a link too);
* ``<real>.sseflow-last.json``: the record of that save, ``{"generation", "digest"}``
  (``digest``: SHA-256 of the bytes written), written last.

:func:`check` runs whenever sseflow loads the store. A file whose generation is lower than the
last one sseflow wrote was overwritten by a stale copy: in write mode (the lock held) the
overwriting copy is saved to ``<real>.overwritten-<time>.json`` and the last state sseflow wrote
is put back, atomically; in read mode nothing is written and the last state sseflow wrote is
read instead. One line on stderr says so. When the overwriting copy holds documents (by
database, collection and ``_id``) that the last state sseflow wrote lacks, the other client
really added something (``lpad add``): nothing is changed and the open is refused until the two
are reconciled (automatic merging could give two Fireworks the same ``fw_id``). A file with the
same or a higher generation is current (a client that loaded the newest copy may have changed
it); a file without the ``_sseflow_store`` database, or without a record beside it, is adopted
as generation 0.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sseflow.workflows.store.config import StoreError
from sseflow.workflows.store.files import FileState, atomic_write_text, digest, read_state

__all__ = ["META_DB", "META_COLL", "snapshot_path", "record_path", "split_meta", "stamped", "save", "check",
           "Checked", "forget"]

META_DB = "_sseflow_store"
META_COLL = "generation"


def snapshot_path(real: Path) -> Path:
    return real.with_name(real.name + ".sseflow-last")


def record_path(real: Path) -> Path:
    return real.with_name(real.name + ".sseflow-last.json")


def split_meta(dct: dict) -> tuple[dict, int]:
    """Remove the generation database from a loaded store dict; returns (dict, generation)."""
    meta = dct.pop(META_DB, None)
    try:
        doc = meta[META_COLL]["documents"][0][1]
        return dct, int(doc["generation"])
    except (TypeError, KeyError, IndexError, ValueError):
        return dct, 0


def stamped(content: str, generation: int) -> str:
    """The file text of ``content`` (a serialised store, see persistence.serialise) at ``generation``."""
    doc = {"_id": "generation", "generation": generation, "digest": digest(content),
           "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "pid": os.getpid()}
    meta = json.dumps({META_COLL: {"name": META_COLL, "documents": [["generation", doc]]}})
    body = content.strip()
    if body == "{}":
        return "{" + json.dumps(META_DB) + ": " + meta + "}"
    return body[:-1] + ", " + json.dumps(META_DB) + ": " + meta + "}"


def _record(real: Path) -> dict | None:
    try:
        rec = json.loads(record_path(real).read_text(encoding="utf-8"))
        return {"generation": int(rec["generation"]), "digest": str(rec["digest"])}
    except (OSError, ValueError, TypeError, KeyError):
        return None


def forget(real: Path) -> None:
    """Drop the record of the last save (a store file created anew)."""
    try:
        os.unlink(record_path(real))
    except OSError:
        pass


def save(real: Path, content: str, base: int) -> tuple[FileState, int]:
    """Write ``content`` to the store file (lock held) as the generation after ``base`` and after
    the last one recorded; then the copy and the record beside it. Returns (state, generation)."""
    rec = _record(real)
    generation = max(base, rec["generation"] if rec else 0) + 1
    text = stamped(content, generation)
    state = atomic_write_text(real, text)
    try:  # the store is written; without its copy an overwrite is not undone, nothing else fails
        atomic_write_text(snapshot_path(real), text)
        atomic_write_text(record_path(real), json.dumps({"generation": generation, "digest": state.sha256}))
    except OSError:
        pass
    return state, generation


@dataclass
class Checked:
    data: bytes  # what to load
    state: FileState  # the store file as it now is
    generation: int  # the generation of ``data``


def _ids(dct: dict) -> set[tuple[str, str, str]]:
    from bson import json_util

    out = set()
    for db_name, db in dct.items():
        if not isinstance(db, dict):
            continue
        for coll_name, coll in db.items():
            for item in (coll or {}).get("documents", []) if isinstance(coll, dict) else []:
                out.add((db_name, coll_name, json_util.dumps(item[0])))
    return out


def _lacking(current: dict, last: dict) -> dict[str, int]:
    """Per collection, how many documents of ``current`` have an ``_id`` that ``last`` lacks."""
    counts: dict[str, int] = {}
    for db_name, coll_name, _ in _ids(current) - _ids(last):
        key = f"{db_name}.{coll_name}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def _parse(data: bytes) -> dict:
    from bson import json_util

    dct = json_util.loads(data)
    if not isinstance(dct, dict):
        raise ValueError("the file does not hold a JSON object")
    return dct


def check(real: Path, label: str, data: bytes, state: FileState, write: bool) -> Checked:
    """What to load from the store file ``real`` (``data``, ``state``: as just read; ``write``:
    the lock is held and the last state sseflow wrote may be put back)."""
    rec = _record(real)
    if rec is None or state.sha256 == rec["digest"]:
        return Checked(data, state, rec["generation"] if rec else _generation(data))
    try:
        current, generation = split_meta(_parse(data))
    except Exception:
        return Checked(data, state, 0)  # not a store: the loader says so
    if generation >= rec["generation"]:
        return Checked(data, state, generation)
    snap = snapshot_path(real)
    try:
        last_data, _ = read_state(snap)
    except OSError:
        last_data = None
    if last_data is None or digest(last_data) != rec["digest"]:
        print(f"sseflow: warning: embedded store {label} holds generation {generation} but sseflow last wrote "
              f"generation {rec['generation']}, and the copy of that state ({snap}) is missing or changed: "
              f"using the file as it is", file=sys.stderr)
        return Checked(data, state, generation)
    last, _ = split_meta(_parse(last_data))
    what = (f"embedded store {label} was overwritten by a program that loaded an older copy (generation "
            f"{generation}; sseflow last wrote generation {rec['generation']})")
    extra = _lacking(current, last)
    if extra:
        listed = ", ".join(f"{n} in {k}" for k, n in sorted(extra.items()))
        raise StoreError(f"{what}, and that copy holds documents the last state written by sseflow lacks "
                         f"({listed}); nothing was changed: reconcile {real} with {snap} (the last state "
                         f"sseflow wrote) before using the store: copy {snap} over {real} and add those "
                         f"documents again, or remove {record_path(real)} to keep {real} as it is")
    if not write:
        print(f"sseflow: note: {what}; showing the last state sseflow wrote ({snap}), read-only; the next "
              f"sseflow command that writes the store puts it back", file=sys.stderr)
        return Checked(last_data, state, rec["generation"])
    aside = _save_overwritten(real, data)
    new_state = atomic_write_text(real, last_data.decode("utf-8"))
    kept = (f"the overwriting copy was saved to {aside}" if aside is not None
            else "the overwriting copy could not be saved anywhere")
    print(f"sseflow: note: {what}; the last state sseflow wrote was put back; {kept}", file=sys.stderr)
    return Checked(last_data, new_state, rec["generation"])


def _generation(data: bytes) -> int:
    try:
        return split_meta(_parse(data))[1]
    except Exception:
        return 0


def _save_overwritten(real: Path, data: bytes) -> Path | None:
    import tempfile

    name = f"{real.name}.overwritten-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.json"
    for folder in (real.parent, Path(tempfile.gettempdir())):
        try:
            atomic_write_text(folder / name, data.decode("utf-8"))
            return folder / name
        except OSError:
            continue
    return None
