"""What the window / react / screen / table commands call to use the results store.

* :func:`store_results` — ``sseflow window|react|screen ... --store``;
* :func:`load_window_rows` — ``sseflow table --from-db``;
* :func:`open_store` — anything else (a context manager that flushes on exit).

Each call uses the process-wide client of the configured store (see
:mod:`sseflow.workflows.store.client`), so it is cheap to call them several times in one command.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from sseflow.analysis.errors import InputError
from sseflow.workflows.store.client import connect
from sseflow.workflows.store.config import StoreConfig
from sseflow.workflows.store.documents import Inputs, ReactionDocument, ScreeningDocument, StoredDocument, WindowDocument
from sseflow.workflows.store.results import ResultsStore

_KINDS = {
    "window": "window", "windows": "window",
    "reaction": "reaction", "reactions": "reaction", "react": "reaction",
    "screening": "screening", "screen": "screening",
}


@contextmanager
def open_store(config: str | os.PathLike | StoreConfig | None = None, mode: str = "write") -> Iterator[ResultsStore]:
    """The :class:`ResultsStore` of the configured store; the embedded file is flushed on exit.

    The client stays open (it is shared by the whole process, LaunchPad included); the
    flush happens also when the block raises, so what was stored before the error is kept.
    ``mode="read"``/``"snapshot"``: a read-only copy of the embedded store, never written
    (see :func:`sseflow.workflows.store.client.connect`).
    """
    store = ResultsStore(connect(config, mode))
    try:
        yield store
    finally:
        store.flush()


def _documents(kind: str, rows: Sequence[dict], inputs: Inputs) -> list[StoredDocument]:
    if kind == "window":
        return [WindowDocument.from_payload(r, inputs) for r in rows]
    if kind == "reaction":
        return [ReactionDocument.from_payload(r, inputs) for r in rows]
    return [ScreeningDocument.from_row(r, inputs) for r in rows]


def store_results(kind: str, rows: list[dict], inputs: dict | None = None,
                  config: str | os.PathLike | StoreConfig | None = None) -> int:
    """Store result rows as documents; returns the number of documents written.

    ``kind``: ``window``, ``reaction`` or ``screening``. ``rows``: the payloads the command
    prints with ``--json`` (window: one per formula; reaction: one per reactant pair and
    potential; screening: one per candidate). ``inputs``: ``reference`` (path),
    ``reference_hash`` (``ReferenceSet.content_hash``), ``exclude`` (list), ``temperature``
    (K), ``options`` (dict of settings that change the result), ``task_ids``/``entry_ids``;
    other keys are recorded but are not part of the natural key.

    Every row is validated before anything is written; storing the same rows with the same
    inputs again replaces them (same count, no duplicates). The embedded store is flushed.
    """
    k = _KINDS.get(str(kind).lower())
    if k is None:
        raise InputError(f"cannot store results of kind '{kind}': use window, reaction or screening")
    if not isinstance(rows, (list, tuple)):
        raise InputError(f"{k} results must be a list of mappings")
    inp = Inputs.from_any(inputs)
    docs = _documents(k, rows, inp)
    with open_store(config) as store:
        return store.put_many(docs)


def load_window_rows(formulas: list[str] | None = None, config: str | os.PathLike | StoreConfig | None = None,
                     reference_hash: str | None = None, *, exclude: Sequence[str] | None = None) -> list[dict]:
    """The stored window payloads, as ``sseflow window --json`` emitted them.

    Ordered as ``formulas`` (matched as given, else by reduced formula) or, without
    formulas, in storage order; the most recent document wins when one formula was stored
    with several inputs. Raises InputError for a formula without a stored window, or when
    the rows come from different reference sets and ``reference_hash`` does not pick one.
    """
    with open_store(config) as store:
        return store.window_rows(formulas, reference_hash=reference_hash, exclude=exclude)


def load_rows(kind: str, config: str | os.PathLike | StoreConfig | None = None, **criteria: Any) -> list[dict]:
    """Stored payloads of any kind (``window``, ``reaction``, ``screening``) matching ``criteria``
    (``formula``, ``chemsys``, ``reference_hash``, ``electrolyte``, ``anode``), in storage order."""
    from sseflow.workflows.store.documents import document_class

    cls = document_class(kind)
    with open_store(config) as store:
        docs = store.query(cls.COLLECTION, **criteria)
    return [cls.from_mongo(d).payload() if hasattr(cls, "payload") else d for d in docs]
