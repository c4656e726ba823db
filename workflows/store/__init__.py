"""The results database and the FireWorks LaunchPad: one configuration, one client per process.

Public API (imported lazily, so ``import sseflow.workflows.store`` is cheap)::

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
:func:`sseflow.workflows.store.client.connect`). Importing this package in a process where FireWorks
uses the embedded store (``MONGOMOCK_SERVERSTORE_FILE``) guards FireWorks' own clients
(:mod:`sseflow.workflows.store.persistence`). See docs/store.md.
"""
from __future__ import annotations

import importlib
import os
import sys

_EXPORTS = {
    "StoreError": "sseflow.workflows.store.config",
    "StoreLockedError": "sseflow.workflows.store.config",
    "ConfigError": "sseflow.workflows.store.config",
    "StoreConfig": "sseflow.workflows.store.config",
    "load_config": "sseflow.workflows.store.config",
    "sseflow_home": "sseflow.workflows.store.config",
    "connect": "sseflow.workflows.store.client",
    "get_database": "sseflow.workflows.store.client",
    "get_launchpad": "sseflow.workflows.store.launchpad",
    "flush": "sseflow.workflows.store.client",
    "flush_all": "sseflow.workflows.store.client",
    "close": "sseflow.workflows.store.client",
    "close_all": "sseflow.workflows.store.client",
    "ResultsStore": "sseflow.workflows.store.results",
    "open_store": "sseflow.workflows.store.api",
    "store_results": "sseflow.workflows.store.api",
    "load_window_rows": "sseflow.workflows.store.api",
    "load_rows": "sseflow.workflows.store.api",
    "TaskDocument": "sseflow.workflows.store.documents",
    "EntryDocument": "sseflow.workflows.store.documents",
    "WindowDocument": "sseflow.workflows.store.documents",
    "ReactionDocument": "sseflow.workflows.store.documents",
    "ScreeningDocument": "sseflow.workflows.store.documents",
    "InterfaceDocument": "sseflow.workflows.store.documents",
    "SchottkyDocument": "sseflow.workflows.store.documents",
    "PhononDocument": "sseflow.workflows.store.documents",
    "Inputs": "sseflow.workflows.store.documents",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'sseflow.workflows.store' has no attribute '{name}'")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


# FireWorks uses (or will use) its file store in this process: guard the clients it makes itself
# (rlaunch's LaunchPad, auto_load ...), before or after this import. The one patch of
# mongomock-persistence: see sseflow.workflows.store.persistence and docs/architecture.md.
if "mongomock_persistence" in sys.modules or os.environ.get("MONGOMOCK_SERVERSTORE_FILE"):
    importlib.import_module("sseflow.workflows.store.persistence").install()
