"""Replace-or-insert many documents at once: bulk writes on MongoDB, linear work on the embedded store.

:func:`replace_many` takes ``(collection, documents)`` pairs and one rule:

* ``by="_id"`` (``db import``): a document replaces the stored one with the same ``_id``, and
  stored documents with the same natural ``key`` but another ``_id`` are removed; a document
  without ``_id`` is inserted;
* ``by="key"`` (storing results): a document replaces the stored one with the same ``key``,
  keeping its ``_id``; otherwise it is inserted.

Within one call, documents apply in order (a later one replaces an earlier one).

MongoDB: one ordered ``bulk_write`` of ``ReplaceOne(upsert=True)`` (and ``DeleteMany``) per
1,000 documents. Embedded store (mongomock): mongomock has no real indexes, so every
``replace_one`` and every unique-index check scans the whole collection (quadratic in the
number of documents). Here the outcome is worked out with dictionaries first (``_id`` and
``key`` maps, one pass over each collection), unique indexes are checked the same way, and
only then are the documents written, with one ``insert_many`` per collection: nothing is
written when a document conflicts, and the work is linear. Replaced documents keep their
place in the collection's order.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable, Sequence

__all__ = ["replace_many", "BATCH"]

BATCH = 1000


def replace_many(items: Sequence[tuple[Any, list[dict]]], by: str) -> int:
    """Write every ``(collection, documents)`` pair; the number of documents written.

    Raises pymongo's ``DuplicateKeyError``/``BulkWriteError`` on a unique-index conflict (on the
    embedded store before anything is written).
    """
    if by not in ("_id", "key"):
        raise ValueError("by must be '_id' or 'key'")
    items = [(coll, list(docs)) for coll, docs in items if docs]
    if not items:
        return 0
    if all(_is_mongomock(coll) and not _partial_unique(coll) for coll, _ in items):
        plans = [_Plan(coll, docs, by) for coll, docs in items]
        for plan in plans:
            plan.check_unique()
        done: list[_Plan] = []
        try:
            for plan in plans:
                plan.commit()
                done.append(plan)
        except BaseException:
            for plan in reversed(done):
                plan.rollback()
            raise
        return sum(len(docs) for _, docs in items)
    return sum(_bulk_write(coll, docs, by) for coll, docs in items)


def _is_mongomock(coll) -> bool:
    return type(coll).__module__.startswith("mongomock")


def _partial_unique(coll) -> bool:
    """A unique index with a filter: left to mongomock's own (slow) checks."""
    return any(ix.get("unique") and ix.get("partialFilterExpression") is not None
               for ix in coll._store.indexes.values())


def _bulk_write(coll, docs: list[dict], by: str) -> int:
    from pymongo import DeleteMany, InsertOne, ReplaceOne

    for start in range(0, len(docs), BATCH):
        ops: list = []
        for doc in docs[start:start + BATCH]:
            if by == "key":
                ops.append(ReplaceOne({"key": doc["key"]}, doc, upsert=True))
                continue
            if "_id" not in doc:
                ops.append(InsertOne(doc))
                continue
            if "key" in doc:
                ops.append(DeleteMany({"key": doc["key"], "_id": {"$ne": doc["_id"]}}))
            ops.append(ReplaceOne({"_id": doc["_id"]}, doc, upsert=True))
        coll.bulk_write(ops, ordered=True)
    return len(docs)


# --------------------------------------------------------------------------- mongomock

def _hid(value):
    """The key mongomock files a document under (a dict ``_id`` is hashed as mongomock does)."""
    if isinstance(value, dict):
        from mongomock import helpers

        return helpers.hashdict(value)
    return value


def _hashable(value):
    if isinstance(value, (dict, list)):
        from bson import json_util

        return json_util.dumps(value)
    return value


_MISSING = object()


class _Plan:
    """The outcome of writing ``docs`` into one mongomock collection, worked out before writing."""

    def __init__(self, coll, docs: Iterable[dict], by: str):
        from bson import ObjectId

        self.coll = coll
        self.store = coll._store  # mongomock's CollectionStore of the collection
        stored: "OrderedDict[Any, dict]" = self.store._documents
        key_to_id: dict[Any, Any] = {}
        id_to_key: dict[Any, Any] = {}
        for hid, doc in stored.items():
            k = doc.get("key", _MISSING)
            if k is not _MISSING:
                key_to_id[_hashable(k)] = hid
                id_to_key[hid] = _hashable(k)
        self.removed: set = set()  # stored documents that go away
        self.incoming: "OrderedDict[Any, dict]" = OrderedDict()  # what is written, by mongomock key

        def drop(hid) -> None:
            self.incoming.pop(hid, None)
            if hid in stored:
                self.removed.add(hid)
            k = id_to_key.pop(hid, _MISSING)
            if k is not _MISSING and key_to_id.get(k) == hid:
                del key_to_id[k]

        for doc in docs:
            k = _hashable(doc["key"]) if "key" in doc else _MISSING
            if by == "key":
                hid = key_to_id.get(k)
                if hid is None:
                    doc = {"_id": ObjectId(), **doc} if "_id" not in doc else doc
                    hid = _hid(doc["_id"])
                else:
                    original = self.incoming[hid]["_id"] if hid in self.incoming else stored[hid]["_id"]
                    doc = {"_id": original, **{f: v for f, v in doc.items() if f != "_id"}}
            else:
                if "_id" not in doc:
                    doc = {"_id": ObjectId(), **doc}
                hid = _hid(doc["_id"])
                if k is not _MISSING and key_to_id.get(k, hid) != hid:
                    drop(key_to_id[k])  # the same natural key under another _id
            if hid in self.incoming or (hid in stored and hid not in self.removed):
                drop(hid)
            self.removed.discard(hid)  # written again under the same _id: replaced in place
            self.incoming[hid] = doc
            if k is not _MISSING:
                key_to_id[k] = hid
                id_to_key[hid] = k

    def _final(self):
        stored = self.store._documents
        for hid, doc in stored.items():
            if hid not in self.removed and hid not in self.incoming:
                yield doc
        yield from self.incoming.values()

    def check_unique(self) -> None:
        """DuplicateKeyError when the outcome breaks a unique index (as mongomock would say)."""
        from mongomock import helpers
        from pymongo.errors import DuplicateKeyError

        for name, index in self.store.indexes.items():
            if not index.get("unique") or index.get("key") == [("_id", 1)]:
                continue
            seen: set = set()
            for doc in self._final():
                values = []
                for field, _ in index["key"]:
                    try:
                        values.append(_hashable(helpers.get_value_by_dot(doc, field)))
                    except KeyError:
                        values.append(None)
                if index.get("sparse") and all(v is None for v in values):
                    continue
                value = tuple(values)
                if value in seen:
                    raise DuplicateKeyError(f"E11000 duplicate key error collection: {self.coll.name} "
                                            f"index: {name} dup key: {dict(zip((f for f, _ in index['key']), values))}",
                                            11000)
                seen.add(value)

    def commit(self) -> None:
        """Write the outcome: replaced and removed documents go, then one ``insert_many`` (unique
        indexes set aside: they were checked), then replaced documents are put back in place."""
        store = self.store
        self._before = OrderedDict(store._documents)
        indexes = dict(store.indexes)
        try:
            for hid in self.removed:
                del store[hid]
            replaced = [hid for hid in self.incoming if hid in self._before]
            for hid in replaced:
                del store[hid]
            store.indexes = {n: ix for n, ix in indexes.items() if not ix.get("unique")}
            if self.incoming:
                self.coll.insert_many(list(self.incoming.values()), ordered=True)
            if replaced:  # back to their places; new documents stay at the end, in order
                now = store._documents
                order = [h for h in self._before if h not in self.removed]
                order += [h for h in self.incoming if h not in self._before]
                store._documents = OrderedDict((h, now[h]) for h in order)
        except BaseException:
            store._documents = self._before
            raise
        finally:
            store.indexes = indexes

    def rollback(self) -> None:
        self.store._documents = self._before
