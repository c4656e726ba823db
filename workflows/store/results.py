"""The results store: typed documents in collections, idempotent writes, queries, JSON-lines dumps.

>>> from sseflow.workflows.store import open_store
>>> with open_store() as store:                       # doctest: +SKIP
...     store.put(WindowDocument.from_payload(row, inputs))
...     store.query("windows", chemsys="Li-P-S")

Collections: ``tasks``, ``entries``, ``windows``, ``reactions``, ``screening``,
``interfaces``, ``schottky``, ``phonons`` (the FireWorks LaunchPad's collections live in
the same database). Each has a unique index on ``key`` (the natural key) and indexes on
``created_at`` and on ``formula``/``chemsys``/``calculator``/the electrolyte-anode pair where
the documents have them.
"""
from __future__ import annotations

import io
import json
import os
import sys
from typing import Any, Iterable, Iterator, Sequence

from sseflow.analysis.errors import InputError
from sseflow.workflows.store.client import StoreHandle
from sseflow.workflows.store.config import StoreConfig, StoreError
from sseflow.workflows.store.documents import (
    COLLECTIONS,
    DOCUMENT_CLASSES,
    SCHEMA_VERSION,
    StoredDocument,
    WindowDocument,
    document_class,
)

EXPORT_FORMAT = 1

_COMMON_INDEX_FIELDS = ("formula", "reduced_formula", "chemsys", "calculator")


def normalise_chemsys(text: str) -> str:
    """``S-Li-P`` -> ``Li-P-S``; raises InputError for anything that is not element symbols."""
    from sseflow.analysis.formula import parse_formula

    parts = [p.strip() for p in str(text).replace(",", "-").split("-") if p.strip()]
    if not parts:
        raise InputError(f"malformed chemical system '{text}': use elements joined by '-', e.g. Li-P-S")
    for p in parts:
        try:
            comp = parse_formula(p)
        except InputError:
            comp = {}
        if list(comp) != [p] or comp[p] != 1:
            raise InputError(f"malformed chemical system '{text}': '{p}' is not an element symbol")
    return "-".join(sorted(set(parts)))


def normalise_formula(text: str) -> str:
    from sseflow.analysis.formula import reduced_formula_of

    return reduced_formula_of(str(text))


class ResultsStore:
    """Typed access to the results collections of one store (see :func:`sseflow.workflows.store.open_store`)."""

    def __init__(self, handle: StoreHandle):
        self.handle = handle
        if not getattr(handle, "_sseflow_indexed", False):
            self.ensure_indexes()
            handle._sseflow_indexed = True

    # ------------------------------------------------------------------ basics
    @property
    def config(self) -> StoreConfig:
        return self.handle.config

    @property
    def db(self):
        return self.handle.db

    def collection(self, kind: str):
        return self.db[document_class(kind).COLLECTION]

    def flush(self) -> bool:
        """Write the embedded store file atomically (no-op on MongoDB)."""
        return self.handle.flush()

    def ensure_indexes(self) -> None:
        """Create the indexes (idempotent; the embedded store does not keep them across processes)."""
        from pymongo import ASCENDING

        for cls in DOCUMENT_CLASSES:
            coll = self.db[cls.COLLECTION]
            coll.create_index([("key", ASCENDING)], unique=True, sparse=True, name="key_unique")
            coll.create_index([("created_at", ASCENDING)])
            for f in _COMMON_INDEX_FIELDS:
                if f in cls.model_fields:
                    coll.create_index([(f, ASCENDING)])
            for keys, opts in cls.INDEXES:
                coll.create_index(list(keys), **opts)

    # ------------------------------------------------------------------ writes
    def put(self, doc: StoredDocument) -> str:
        """Store ``doc``, replacing the stored document with the same natural key; returns the key."""
        self.db[doc.COLLECTION].replace_one({"key": doc.key}, doc.to_mongo(), upsert=True)
        return doc.key

    def put_many(self, docs: Iterable[StoredDocument]) -> int:
        """Store many documents with bulk writes (same rule as :meth:`put`); returns their number."""
        from pymongo.errors import BulkWriteError, DuplicateKeyError

        from sseflow.workflows.store.bulk import replace_many

        groups: dict[str, list[dict]] = {}
        for doc in docs:
            groups.setdefault(doc.COLLECTION, []).append(doc.to_mongo())
        try:
            return replace_many([(self.db[name], rows) for name, rows in groups.items()], by="key")
        except (DuplicateKeyError, BulkWriteError) as exc:
            raise StoreError(f"storing into {', '.join(groups)} conflicts with a stored document: "
                             f"{' '.join(str(exc).split())[:200]}") from None

    # ------------------------------------------------------------------ reads
    def get(self, kind: str, key: str) -> dict | None:
        return self.collection(kind).find_one({"key": key})

    def find(self, kind: str, filter: dict | None = None, limit: int = 0) -> list[dict]:
        """Raw documents of a kind, in storage order (``_id``)."""
        cur = self.collection(kind).find(filter or {}).sort("_id", 1)
        if limit:
            cur = cur.limit(int(limit))
        return list(cur)

    def count(self, kind: str, filter: dict | None = None) -> int:
        return self.collection(kind).count_documents(filter or {})

    def build_filter(self, kind: str, formula: str | None = None, chemsys: str | None = None,
                     calculator: str | None = None, reference_hash: str | None = None,
                     electrolyte: str | None = None, anode: str | None = None) -> dict:
        """The query of ``sseflow query``: every given criterion must hold."""
        import re

        cls = document_class(kind)
        fields = cls.model_fields
        clauses: list[dict] = []
        if formula:
            red = normalise_formula(formula)
            if cls.KIND == "reaction":
                clauses.append({"$or": [{"reactant_a": formula}, {"reactant_b": formula}, {"pair": red}]})
            elif cls.KIND == "screening":
                clauses.append({"$or": [{"candidate": formula}, {"electrolyte": formula}, {"anode": formula}]})
            elif cls.KIND in ("interface", "schottky"):
                clauses.append({"$or": [{"electrolyte": formula}, {"anode": formula}]})
            elif "reduced_formula" in fields:
                clauses.append({"$or": [{"formula": formula}, {"reduced_formula": red}]})
            else:  # tasks: formula is the reduced formula
                clauses.append({"formula": red})
        if chemsys:
            if "chemsys" not in fields:
                raise InputError(f"{cls.COLLECTION} cannot be filtered by chemical system")
            clauses.append({"chemsys": normalise_chemsys(chemsys)})
        if calculator:
            if "calculator" not in fields:
                raise InputError(f"{cls.COLLECTION} have no calculator: --calculator applies to tasks, "
                                 f"phonons, interfaces and schottky")
            clauses.append({"calculator": {"$regex": f"^{re.escape(calculator)}$", "$options": "i"}})
        if reference_hash:
            if "inputs" not in fields:
                raise InputError(f"{cls.COLLECTION} have no reference set")
            # a prefix is enough (tables show the first characters)
            clauses.append({"inputs.reference_hash": {"$regex": f"^{re.escape(reference_hash)}"}})
        if electrolyte:
            if "electrolyte" not in fields:
                raise InputError(f"{cls.COLLECTION} have no electrolyte")
            clauses.append({"electrolyte": electrolyte})
        if anode:
            if "anode" not in fields:
                raise InputError(f"{cls.COLLECTION} have no anode")
            clauses.append({"anode": anode})
        if not clauses:
            return {}
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def query(self, kind: str, limit: int = 0, **criteria: Any) -> list[dict]:
        return self.find(kind, self.build_filter(kind, **criteria), limit=limit)

    # ------------------------------------------------------------------ windows for tables
    def window_documents(self, formulas: Sequence[str] | None = None, reference_hash: str | None = None,
                         exclude: Sequence[str] | None = None) -> list[WindowDocument]:
        """The stored window of each formula (the most recent one when several inputs were stored).

        With ``formulas``: in that order, matched by the formula as given, else by reduced
        formula; a formula without a stored window raises InputError. Without: every stored
        formula, in storage order. Rows from different reference sets are refused unless
        ``reference_hash`` picks one.
        """
        flt: dict[str, Any] = {}
        if reference_hash:
            flt["inputs.reference_hash"] = reference_hash
        if exclude is not None:
            flt["inputs.exclude"] = sorted({str(x) for x in exclude})
        docs = self.find("windows", flt)
        if formulas:
            chosen: list[dict] = []
            missing = []
            for f in formulas:
                exact = [d for d in docs if d.get("formula") == f]
                red = normalise_formula(f)
                cands = exact or [d for d in docs if d.get("reduced_formula") == red]
                if not cands:
                    missing.append(f)
                    continue
                chosen.append(max(cands, key=lambda d: (d.get("created_at"), d["_id"])))
            if missing:
                where = f" for reference {reference_hash[:12]}" if reference_hash else ""
                raise InputError(f"no stored window{where} for {', '.join(missing)} in {self.config.location} "
                                 f"(store them with 'sseflow window ... --store')")
        else:
            latest: dict[str, dict] = {}
            for d in docs:
                cur = latest.get(d["formula"])
                if cur is None or (d.get("created_at"), d["_id"]) > (cur.get("created_at"), cur["_id"]):
                    latest[d["formula"]] = d
            chosen = sorted(latest.values(), key=lambda d: d["_id"])
        hashes = {d.get("inputs", {}).get("reference_hash") for d in chosen}
        if len(hashes) > 1 and not reference_hash:
            shown = ", ".join(sorted(str(h)[:12] for h in hashes))
            raise InputError(f"the stored windows come from {len(hashes)} reference sets ({shown}); "
                             f"pick one with its reference hash")
        return [WindowDocument.from_mongo(d) for d in chosen]

    def window_rows(self, formulas: Sequence[str] | None = None, reference_hash: str | None = None,
                    exclude: Sequence[str] | None = None) -> list[dict]:
        """The stored window payloads (the dicts ``sseflow window --json`` emits)."""
        return [d.payload() for d in self.window_documents(formulas, reference_hash, exclude)]

    # ------------------------------------------------------------------ status
    def collection_names(self) -> list[str]:
        return sorted(n for n in self.db.list_collection_names() if not n.startswith("system."))

    def counts(self) -> dict[str, int]:
        names = set(self.collection_names()) | set(COLLECTIONS)
        return {n: self.db[n].count_documents({}) for n in sorted(names)}

    def status(self) -> dict[str, Any]:
        cfg = self.config
        out: dict[str, Any] = cfg.describe()
        if cfg.backend == "embedded":
            try:
                out["file_bytes"] = cfg.path.stat().st_size
            except OSError:
                out["file_bytes"] = None
            out["lock_file"] = str(cfg.lock_path)
        out["schema_version"] = SCHEMA_VERSION
        out["collections"] = self.counts()
        return out

    # ------------------------------------------------------------------ export / import
    def iter_export(self, collections: Sequence[str] | None = None) -> Iterator[str]:
        """JSON lines (MongoDB Extended JSON, canonical): a header, then one line per document."""
        from bson import json_util

        names = self.collection_names()
        if collections:
            unknown = [c for c in collections if c not in names and c not in COLLECTIONS]
            if unknown:
                raise InputError(f"no collection {', '.join(unknown)} in {self.config.location}")
            names = [c for c in names if c in collections]
        opts = json_util.CANONICAL_JSON_OPTIONS
        yield json.dumps({"sseflow_export": EXPORT_FORMAT, "database": self.config.database,
                          "schema_version": SCHEMA_VERSION})
        for name in names:
            for doc in self.db[name].find({}):
                if "_id" in doc:  # MongoDB keeps _id first; mongomock appends it on insert
                    doc = {"_id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}
                yield json_util.dumps({"collection": name, "document": doc}, json_options=opts)

    def export_jsonl(self, path: str | os.PathLike, collections: Sequence[str] | None = None) -> int:
        """Write every document to ``path`` (``-``: stdout) atomically; returns the number of documents."""
        from sseflow.workflows.store.files import atomic_write_text

        lines = list(self.iter_export(collections))
        text = "\n".join(lines) + "\n"
        if str(path) == "-":
            sys.stdout.write(text)
        else:
            try:
                atomic_write_text(os.fspath(path), text)
            except OSError as exc:
                raise InputError(f"cannot write {path}: {exc.strerror or exc}")
        return len(lines) - 1

    def import_jsonl(self, path: str | os.PathLike) -> int:
        """Load an export; documents keep their ``_id`` and replace stored ones with the same ``_id`` or key.

        Returns the number of documents imported. The whole file is read and checked before
        anything is written; then each collection gets bulk writes (see
        :mod:`sseflow.workflows.store.bulk`: linear on the embedded store). Importing an export into an
        empty database and exporting again gives the same file.
        """
        from bson import json_util
        from pymongo.errors import BulkWriteError, DuplicateKeyError

        from sseflow.workflows.store.bulk import replace_many

        if str(path) == "-":
            fh: io.TextIOBase = sys.stdin
        else:
            try:
                fh = open(path, "r", encoding="utf-8")
            except OSError as exc:
                raise InputError(f"cannot read {path}: {exc.strerror or exc}")
        opts = json_util.CANONICAL_JSON_OPTIONS
        records: list[tuple[str, dict]] = []  # parse everything first: a bad line writes nothing
        try:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json_util.loads(line, json_options=opts)
                except Exception as exc:
                    raise InputError(f"{path}:{lineno}: not a JSON line ({type(exc).__name__})")
                if not isinstance(rec, dict):
                    raise InputError(f"{path}:{lineno}: expected a JSON object")
                if "sseflow_export" in rec:
                    if rec["sseflow_export"] != EXPORT_FORMAT:
                        raise InputError(f"{path}:{lineno}: unsupported export format {rec['sseflow_export']}")
                    continue
                name, doc = rec.get("collection"), rec.get("document")
                if not isinstance(name, str) or not name or name.startswith("system.") or "$" in name \
                        or not isinstance(doc, dict):
                    raise InputError(f"{path}:{lineno}: expected {{\"collection\": NAME, \"document\": {{...}}}}")
                records.append((name, doc))
        except UnicodeDecodeError:
            raise InputError(f"{path}: not a UTF-8 text file")
        finally:
            if fh is not sys.stdin:
                fh.close()
        groups: dict[str, list[dict]] = {}
        for name, doc in records:
            groups.setdefault(name, []).append(doc)
        try:
            return replace_many([(self.db[name], docs) for name, docs in groups.items()], by="_id")
        except (DuplicateKeyError, BulkWriteError) as exc:
            raise StoreError(f"import into {', '.join(groups)} conflicts with a stored document: "
                             f"{' '.join(str(exc).split())[:200]}") from None
