"""The FireWorks LaunchPad on the results store's database, and LaunchPads made by FireWorks itself.

* :func:`get_launchpad` — the process's LaunchPad: on the embedded store it shares the store
  handle's in-memory server store, on MongoDB it has its own client to the same database;
* :func:`adopt_launchpad` / :func:`handle_for_launchpad` — inside ``rlaunch``, the Rocket's
  LaunchPad (made by FireWorks) becomes the process's store handle, with the lock and the
  checked, atomic saves of :mod:`sseflow.workflows.store.client`.
"""
from __future__ import annotations

import os
import weakref
from pathlib import Path

from sseflow.workflows.store import locking
from sseflow.workflows.store.client import (
    _HANDLES,
    _LOCK,
    _OWNED_FILES,
    StoreHandle,
    _locked_message,
    _mongo_kwargs,
    connect,
)
from sseflow.workflows.store.config import StoreConfig, StoreError, StoreLockedError
from sseflow.workflows.store.files import read_state, real_path
from sseflow.workflows.store.persistence import install, write_back

__all__ = ["get_launchpad", "adopt_launchpad", "handle_for_launchpad"]


# --------------------------------------------------------------------------- the LaunchPad

def _fireworks_use_mongomock(path: Path) -> None:
    """Make FireWorks select the mongomock file store, as its fw_config does at import.

    ``fireworks.fw_config`` reads ``MONGOMOCK_SERVERSTORE_FILE`` once, when it is imported; if
    FireWorks was imported before the store was opened, apply the same settings now.
    """
    import fireworks.core.launchpad as lpm
    import fireworks.fw_config as fwc

    persistence = install()
    if lpm.MongoClient is not persistence.MongoClient or fwc.MongoClient is not persistence.MongoClient:
        fwc.MONGOMOCK_SERVERSTORE_FILE = str(path)
        fwc.MongoClient = persistence.MongoClient
        lpm.MongoClient = persistence.MongoClient
        if fwc.GRIDFS_FALLBACK_COLLECTION:
            import mongomock.gridfs

            mongomock.gridfs.enable_gridfs_integration()


def _fireworks_use_pymongo() -> None:
    import fireworks.core.launchpad as lpm
    import fireworks.fw_config as fwc
    import pymongo

    if lpm.MongoClient is not pymongo.MongoClient:
        fwc.MONGOMOCK_SERVERSTORE_FILE = None
        fwc.MongoClient = pymongo.MongoClient
        lpm.MongoClient = pymongo.MongoClient


def get_launchpad(config: str | os.PathLike | StoreConfig | None = None, strm_lvl: str = "WARNING",
                  init: bool = True, mode: str = "write"):
    """A FireWorks ``LaunchPad`` on the configured store's database (one per process).

    Embedded store: the LaunchPad's mongomock client is built with ``_store=`` the shared
    in-memory server store (``mongoclient_kwargs``, FireWorks' documented way to pass client
    options), so the LaunchPad and the results store read and write the same data and the
    store file is written by :func:`flush`. MongoDB: the LaunchPad gets its own pymongo
    client from the same URI and options (the server is the single source of truth).

    ``init``: on an empty database, create FireWorks' id counters and indexes (what
    ``lpad reset`` does, without deleting anything); only in ``mode="write"``. ``mode``: see
    :func:`connect` (``"snapshot"``: a LaunchPad on a read-only copy, for reports).
    """
    from sseflow.workflows import fw_names

    fw_names.register()  # workflows stored under the old module names still load
    handle = connect(config, mode)
    if handle.launchpad is not None:
        return handle.launchpad
    cfg = handle.config
    if handle.embedded:
        _fireworks_use_mongomock(cfg.path)
        from fireworks.core.launchpad import LaunchPad

        lp = LaunchPad(host="localhost", port=27017, name=cfg.database, strm_lvl=strm_lvl,
                       mongoclient_kwargs={"_store": handle.server_store})
        lp.mongoclient_kwargs.pop("_store", None)  # keep to_dict() serialisable
        if lp.connection._store is not handle.server_store:  # pragma: no cover - FireWorks changed
            raise StoreError("FireWorks did not share the embedded store's client; see docs/store.md")
    else:
        _fireworks_use_pymongo()
        from fireworks.core.launchpad import LaunchPad

        lp = LaunchPad(host=cfg.uri, uri_mode=True, name=cfg.database, strm_lvl=strm_lvl,
                       mongoclient_kwargs=_mongo_kwargs(cfg))
    if init and mode == "write":
        empty = (lp.fw_id_assigner.count_documents({}) == 0 and lp.fireworks.count_documents({}) == 0
                 and lp.workflows.count_documents({}) == 0)
        if empty:
            lp._restart_ids(1, 1)
        if empty or handle.embedded:  # mongomock-persistence does not keep indexes
            lp.tuneup(bkground=True)
    handle.launchpad = lp
    return lp


# --------------------------------------------------------------------------- a LaunchPad made by FireWorks

def adopt_launchpad(lp) -> StoreHandle:
    """Make an embedded LaunchPad's in-memory mongomock store the process's results store.

    FireWorks' ``rlaunch``/``qlaunch`` open the store file with their own mongomock client; a
    second client would hold a second copy of the database and one of them would be lost. The
    LaunchPad's copy becomes the store handle, with this module's lock and checked, atomic saves.
    """
    server_store = lp.connection._store
    path = Path(server_store._filename)
    cfg = StoreConfig(backend="embedded", path=path, database=lp.name, source="the Rocket's LaunchPad")
    with _LOCK:
        h = _HANDLES.get(cfg.identity)
        if h is not None and not h.closed and h.pid == os.getpid():
            if h.server_store is server_store:
                return h
            raise StoreError(f"{path} is open twice in this process (sseflow's client and a FireWorks "
                             f"LaunchPad): use sseflow.workflows.store.get_launchpad()")
        lock = cfg.lock_path
        try:
            fd = locking.acquire(lock)
        except OSError as exc:
            raise StoreError(f"cannot open the lock file {lock}: {exc.strerror}")
        if fd is None:
            raise StoreLockedError(_locked_message(cfg))
        install()
        # what FireWorks loaded (recorded when sseflow's loader made the store), else the file now
        loaded = getattr(server_store, "_sseflow_loaded", None)
        disk = loaded.file if loaded is not None else read_state(real_path(path))[1]
        old = getattr(server_store, "_finalizer", None)
        if old is not None:
            old.detach()
        server_store._finalizer = weakref.finalize(server_store, write_back, server_store)
        h = StoreHandle(config=cfg, client=lp.connection, server_store=server_store, lock_fd=fd, disk=disk)
        h.launchpad = lp
        _HANDLES[cfg.identity] = h
        _OWNED_FILES[str(real_path(path))] = h
        return h


def handle_for_launchpad(lp) -> StoreHandle:
    """The store handle of a FireWorks LaunchPad's database: the open handle that made it, the
    adopted embedded store (:func:`adopt_launchpad`), or a client to its MongoDB server."""
    from urllib.parse import quote_plus

    for h in list(_HANDLES.values()):
        if h.closed or h.pid != os.getpid():
            continue
        if h.launchpad is lp or (h.embedded and getattr(lp.connection, "_store", None) is h.server_store):
            return h
    if type(lp.connection).__module__.startswith("mongomock"):
        return adopt_launchpad(lp)
    if getattr(lp, "uri_mode", False):
        uri = lp.host
    else:
        cred = ""
        if lp.username:
            cred = quote_plus(str(lp.username)) + (f":{quote_plus(str(lp.password))}" if lp.password else "") + "@"
        uri = f"mongodb://{cred}{lp.host}:{lp.port}/{lp.name}"
        if lp.username:
            uri += f"?authSource={quote_plus(str(lp.authsource or lp.name))}"
    kwargs = {k: v for k, v in (lp.mongoclient_kwargs or {}).items() if k not in ("_store",)}
    return connect(StoreConfig(backend="mongodb", uri=uri, database=lp.name, mongoclient_kwargs=kwargs,
                               source="the Rocket's LaunchPad"))
