"""The results database and the FireWorks LaunchPad: one configuration, one client per process.

Public API (imported lazily, so ``import workflows.store`` is cheap)::

    open_store(config=None, mode="write")        -> context manager yielding a ResultsStore
    store_results(kind, rows, inputs, config=None) -> int
    load_window_rows(formulas=None, config=None, reference_hash=None) -> list[dict]
    get_launchpad(config=None, mode="write")     -> fireworks LaunchPad on the same database
    get_database(config=None, mode="write")      -> pymongo/mongomock Database
    flush(config=None) / flush_all()             -> write the embedded store atomically
    close(config=None) / close_all()             -> flush, release the lock, forget the client
    load_config(config=None)                     -> StoreConfig
    StoreError, StoreLockedError, ConfigError

``mode="read"``/``"snapshot"`` opens the embedded store read-only (see
:func:`workflows.store.client.connect`). Importing this package in a process where FireWorks
uses the embedded store (``MONGOMOCK_SERVERSTORE_FILE``) guards FireWorks' own clients
(:mod:`workflows.store.persistence`). See docs/store.md.
"""
from __future__ import annotations

import importlib
import os
import sys

_EXPORTS = {
    "StoreError": "workflows.store.config",
    "StoreLockedError": "workflows.store.config",
    "ConfigError": "workflows.store.config",
    "StoreConfig": "workflows.store.config",
    "load_config": "workflows.store.config",
    "sseflow_home": "workflows.store.config",
    "connect": "workflows.store.client",
    "get_database": "workflows.store.client",
    "get_launchpad": "workflows.store.launchpad",
    "flush": "workflows.store.client",
    "flush_all": "workflows.store.client",
    "close": "workflows.store.client",
    "close_all": "workflows.store.client",
    "ResultsStore": "workflows.store.results",
    "open_store": "workflows.store.hooks",
    "store_results": "workflows.store.hooks",
    "load_window_rows": "workflows.store.hooks",
    "load_rows": "workflows.store.hooks",
    "TaskDocument": "workflows.store.documents",
    "EntryDocument": "workflows.store.documents",
    "WindowDocument": "workflows.store.documents",
    "ReactionDocument": "workflows.store.documents",
    "ScreeningDocument": "workflows.store.documents",
    "InterfaceDocument": "workflows.store.documents",
    "SchottkyDocument": "workflows.store.documents",
    "PhononDocument": "workflows.store.documents",
    "Inputs": "workflows.store.documents",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'workflows.store' has no attribute '{name}'")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


if "mongomock_persistence" in sys.modules or os.environ.get("MONGOMOCK_SERVERSTORE_FILE"):
    importlib.import_module("workflows.store.persistence").install()
