"""One database client per process, shared by the results store and the FireWorks LaunchPad.

Two backends:

* **mongodb** — a real server given by a URI; :func:`connect` pings it with a server-selection
  and connect timeout of at most 5 s and raises :class:`StoreError` naming the host (never the
  password) when it cannot be reached.
* **embedded** — FireWorks' own file store: ``mongomock`` + ``mongomock-persistence``, selected,
  exactly as FireWorks does, by the environment variable ``MONGOMOCK_SERVERSTORE_FILE``. The
  whole database lives in memory and is serialised to one JSON file. Because every client holds
  its own copy and the last writer wins, this module guarantees:

  - one client per store file per process (:func:`connect` returns the same handle; the
    LaunchPad from :func:`get_launchpad` shares its in-memory server store);
  - an exclusive, non-blocking ``fcntl.flock`` on ``<store>.lock`` held for the life of the
    process (or until :func:`close`): a second process fails at once with
    :class:`StoreLockedError` naming the lock file and the PID holding it;
  - :func:`flush` writes the store to a temporary file in the same folder, fsyncs it and
    ``os.replace``-s it over the store, so a kill at any moment leaves either the previous or
    the new complete file. mongomock-persistence's own at-exit writer is replaced by the same
    atomic write, and copies of the store that are not this process's shared client (a
    ``LaunchPad.auto_load()`` elsewhere in the process) are not written at exit.
"""
from __future__ import annotations

import errno
import fcntl
import glob
import hashlib
import os
import socket
import stat
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflows.store.config import (
    _ENV_SET_BY_US,
    ConfigError,
    StoreConfig,
    StoreError,
    StoreLockedError,
    load_config,
    uri_password,
)

__all__ = ["StoreError", "StoreLockedError", "ConfigError", "StoreHandle", "connect", "get_database",
           "get_launchpad", "flush", "flush_all", "close", "close_all", "atomic_write_text", "lock_holder",
           "adopt_launchpad", "handle_for_launchpad"]

_LOCK = threading.RLock()
_HANDLES: dict[str, "StoreHandle"] = {}  # config identity -> handle
_OWNED_FILES: dict[str, "StoreHandle"] = {}  # realpath of an embedded store file -> its handle
_EVER_OWNED: set[str] = set()


@dataclass(eq=False)
class StoreHandle:
    """The process-wide client of one store and what goes with it."""

    config: StoreConfig
    client: Any
    server_store: Any = None  # embedded: mongomock ServerStore shared with the LaunchPad
    lock_fd: int | None = None
    pid: int = field(default_factory=os.getpid)
    last_digest: str | None = None
    launchpad: Any = None
    prev_env: str | None = None
    closed: bool = False

    @property
    def db(self):
        return self.client[self.config.database]

    @property
    def embedded(self) -> bool:
        return self.config.backend == "embedded"

    def flush(self) -> bool:
        """Write the embedded store atomically; return True when the file changed."""
        if not self.embedded or self.closed or self.pid != os.getpid():
            return False
        with _LOCK:
            text = _serialise(self.server_store)
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            if digest == self.last_digest and self.config.path.exists():
                return False
            try:
                atomic_write_text(self.config.path, text)
            except OSError as exc:
                raise StoreError(f"cannot write the embedded store {self.config.path}: {exc.strerror or exc}")
            self.last_digest = digest
            return True


# --------------------------------------------------------------------------- atomic file writes

def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a fsynced temporary file in the same folder and a rename."""
    path = Path(path)
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        except FileNotFoundError:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:  # some file systems cannot fsync a folder
        pass


def _serialise(server_store) -> str:
    """mongomock-persistence's own serialisation: ``json_util.dumps(ServerStore.to_dict())``."""
    from bson import json_util

    for attempt in range(5):  # a Firework's ping thread may update a document meanwhile
        try:
            return json_util.dumps(server_store.to_dict())
        except RuntimeError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- the lock

def _try_lock(lock_path: Path) -> int | None:
    """Take the exclusive lock; return its fd, or None when another process holds it."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return None
        raise
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {socket.gethostname()} {' '.join(sys.argv)[:200]}\n".encode())
    os.fsync(fd)
    return fd


def lock_holder(lock_path: str | os.PathLike) -> str:
    """The PID (and host) written in a lock file, or 'unknown'."""
    try:
        first = Path(lock_path).read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return "unknown"
    if not first:
        return "unknown"
    return first[0] + (f" on {first[1]}" if len(first) > 1 and first[1] != socket.gethostname() else "")


def _release_lock(fd: int | None) -> None:
    if fd is None:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- mongomock-persistence patch

def _guarded_to_file(server_store) -> None:
    """Replacement of mongomock-persistence's at-exit writer: atomic, and only for the shared copy."""
    filename = getattr(server_store, "_filename", None)
    if not filename:
        return
    real = os.path.realpath(filename)
    handle = _OWNED_FILES.get(real)
    if handle is not None:
        if handle.server_store is server_store:
            handle.flush()
        elif handle.pid == os.getpid():
            print(f"sseflow: warning: a second in-memory copy of {filename} was not written "
                  f"(use workflows.store.get_launchpad() to share the process's client)", file=sys.stderr)
        return
    if real in _EVER_OWNED:
        return  # the shared client was closed (and flushed); a stale copy must not overwrite it
    lock_path = Path(filename).with_name(Path(filename).name + ".lock")
    try:
        fd = _try_lock(lock_path)
    except OSError:
        fd = None
    if fd is None:
        print(f"sseflow: warning: {filename} is locked by PID {lock_holder(lock_path)}; "
              f"this process's changes to it were not written", file=sys.stderr)
        return
    try:
        atomic_write_text(filename, _serialise(server_store))
    finally:
        _release_lock(fd)


_PATCHED = False


def _patch_persistence():
    """Import mongomock-persistence (it patches mongomock's stores) and make its writer atomic."""
    global _PATCHED
    import mongomock_persistence
    from mongomock.store import ServerStore

    if not _PATCHED:
        ServerStore._to_file = _guarded_to_file
        _PATCHED = True
    return mongomock_persistence


# --------------------------------------------------------------------------- connecting

def connect(config: str | os.PathLike | StoreConfig | None = None) -> StoreHandle:
    """The process-wide handle of the configured store (created on first use)."""
    cfg = load_config(config)
    with _LOCK:
        handle = _HANDLES.get(cfg.identity)
        if handle is not None and not handle.closed and handle.pid == os.getpid():
            if handle.config.database != cfg.database:
                raise ConfigError(f"{cfg.location} is already open in this process with database "
                                  f"'{handle.config.database}', not '{cfg.database}'")
            return handle
        handle = _open_embedded(cfg) if cfg.backend == "embedded" else _open_mongodb(cfg)
        _HANDLES[cfg.identity] = handle
        return handle


def get_database(config: str | os.PathLike | StoreConfig | None = None):
    """The pymongo (or mongomock) ``Database`` of the configured store."""
    return connect(config).db


def _open_embedded(cfg: StoreConfig) -> StoreHandle:
    path = Path(cfg.path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder of the embedded store {path}: {exc.strerror}")
    lock_path = cfg.lock_path
    try:
        fd = _try_lock(lock_path)
    except OSError as exc:
        raise StoreError(f"cannot open the lock file {lock_path}: {exc.strerror}")
    if fd is None:
        raise StoreLockedError(
            f"embedded store {path} is in use by PID {lock_holder(lock_path)} (lock file {lock_path}); "
            f"wait for that process to finish, or use a MongoDB server (SSEFLOW_DB) to run several at once")
    try:
        return _load_embedded(cfg, path, fd)
    except BaseException:
        _release_lock(fd)
        raise


def _load_embedded(cfg: StoreConfig, path: Path, fd: int) -> StoreHandle:
    # temporary files left by a writer that was killed: we hold the lock, nobody else writes
    for tmp in glob.glob(os.path.join(glob.escape(str(path.parent)), f".{glob.escape(path.name)}.*.tmp")):
        try:
            os.unlink(tmp)
        except OSError:
            pass
    try:
        if not path.exists() or path.stat().st_size == 0:
            atomic_write_text(path, "{}")
        raw = path.read_bytes()
    except OSError as exc:
        raise StoreError(f"cannot use the embedded store {path}: {exc.strerror or exc}")
    persistence = _patch_persistence()
    prev_env = os.environ.get("MONGOMOCK_SERVERSTORE_FILE")
    os.environ["MONGOMOCK_SERVERSTORE_FILE"] = str(path)  # FireWorks' selector of the file store
    _ENV_SET_BY_US.add(str(path))
    try:
        client = persistence.MongoClient(tz_aware=False)
    except Exception as exc:  # a file that is not mongomock-persistence JSON
        _restore_env(prev_env, str(path))
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise StoreError(f"embedded store {path} cannot be loaded ({type(exc).__name__}: {first}); "
                         f"move it away or restore it with 'sseflow db import'")
    handle = StoreHandle(config=cfg, client=client, server_store=client._store, lock_fd=fd,
                         last_digest=hashlib.sha256(raw).hexdigest(), prev_env=prev_env)
    real = os.path.realpath(path)
    _OWNED_FILES[real] = handle
    _EVER_OWNED.add(real)
    return handle


def _restore_env(prev: str | None, ours: str) -> None:
    if os.environ.get("MONGOMOCK_SERVERSTORE_FILE") != ours:
        return
    if prev is None:
        os.environ.pop("MONGOMOCK_SERVERSTORE_FILE", None)
    else:
        os.environ["MONGOMOCK_SERVERSTORE_FILE"] = prev


def _scrub(text: str, cfg: StoreConfig) -> str:
    """One line, without the password of the URI."""
    line = " ".join(str(text).split())
    pw = uri_password(cfg.uri or "")
    if pw:
        from urllib.parse import quote_plus

        for form in {pw, quote_plus(pw)}:
            line = line.replace(form, "***")
    return line


def _mongo_kwargs(cfg: StoreConfig) -> dict:
    kwargs = dict(cfg.mongoclient_kwargs)
    kwargs["serverSelectionTimeoutMS"] = cfg.timeout_ms
    kwargs["connectTimeoutMS"] = cfg.timeout_ms
    return kwargs


def _open_mongodb(cfg: StoreConfig) -> StoreHandle:
    import pymongo
    from pymongo.errors import ConfigurationError as MongoConfigurationError
    from pymongo.errors import OperationFailure, PyMongoError, ServerSelectionTimeoutError

    where = f"MongoDB at {cfg.hosts}"
    client = None
    try:
        client = pymongo.MongoClient(cfg.uri, **_mongo_kwargs(cfg))
        client[cfg.database].command("ping")
    except ServerSelectionTimeoutError as exc:
        _close_quietly(client)
        reason = str(exc).split(", Timeout:")[0].split(" (configured timeouts")[0][:200]
        raise StoreError(_scrub(f"cannot reach {where} within {cfg.timeout_ms / 1000:g} s: {reason}", cfg)) from None
    except OperationFailure as exc:
        _close_quietly(client)
        if exc.code in (18, 13) or "auth" in str(exc).lower():
            raise StoreError(_scrub(f"{where} refused the credentials (authentication failed: "
                                    f"{exc.details.get('errmsg', exc) if exc.details else exc})", cfg)) from None
        raise StoreError(_scrub(f"{where}: {exc}", cfg)) from None
    except MongoConfigurationError as exc:
        _close_quietly(client)
        raise StoreError(_scrub(f"invalid or unresolvable MongoDB URI for {cfg.hosts}: {exc}", cfg)) from None
    except (PyMongoError, TypeError, ValueError) as exc:
        _close_quietly(client)
        raise StoreError(_scrub(f"cannot use {where}: {type(exc).__name__}: {exc}", cfg)) from None
    return StoreHandle(config=cfg, client=client)


def _close_quietly(client) -> None:
    if client is not None:
        try:
            client.close()
        except Exception:
            pass


# --------------------------------------------------------------------------- the LaunchPad

def _fireworks_use_mongomock(path: Path) -> None:
    """Make FireWorks select the mongomock file store, as its fw_config does at import.

    ``fireworks.fw_config`` reads ``MONGOMOCK_SERVERSTORE_FILE`` once, when it is imported; if
    FireWorks was imported before the store was opened, apply the same settings now.
    """
    import fireworks.core.launchpad as lpm
    import fireworks.fw_config as fwc

    persistence = _patch_persistence()
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
                  init: bool = True):
    """A FireWorks ``LaunchPad`` on the configured store's database (one per process).

    Embedded store: the LaunchPad's mongomock client is built with ``_store=`` the shared
    in-memory server store (``mongoclient_kwargs``, FireWorks' documented way to pass client
    options), so the LaunchPad and the results store read and write the same data and the
    store file is written once, by :func:`flush`. MongoDB: the LaunchPad gets its own pymongo
    client from the same URI and options (the server is the single source of truth).

    ``init``: on an empty database, create FireWorks' id counters and indexes (what
    ``lpad reset`` does, without deleting anything).
    """
    handle = connect(config)
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
    if init:
        empty = (lp.fw_id_assigner.count_documents({}) == 0 and lp.fireworks.count_documents({}) == 0
                 and lp.workflows.count_documents({}) == 0)
        if empty:
            lp._restart_ids(1, 1)
        if empty or handle.embedded:  # mongomock-persistence does not keep indexes
            lp.tuneup(bkground=True)
    handle.launchpad = lp
    return lp


# --------------------------------------------------------------------------- flush and close

def flush(config: str | os.PathLike | StoreConfig | None = None) -> bool:
    """Write the embedded store of ``config`` atomically (no-op for MongoDB or an unopened store).

    Returns True when the store file changed.
    """
    cfg = load_config(config)
    handle = _HANDLES.get(cfg.identity)
    return handle.flush() if handle is not None else False


def flush_all() -> int:
    """Flush every store this process opened; the number of files written. Cheap when unchanged."""
    with _LOCK:
        return sum(1 for h in list(_HANDLES.values()) if h.flush())


def close(config: str | os.PathLike | StoreConfig | None = None) -> None:
    """Flush and release a store: the lock is dropped and the client forgotten."""
    cfg = load_config(config)
    with _LOCK:
        handle = _HANDLES.pop(cfg.identity, None)
        if handle is not None:
            _close_handle(handle)


def close_all() -> None:
    with _LOCK:
        while _HANDLES:
            _close_handle(_HANDLES.pop(next(iter(_HANDLES))))


def _close_handle(handle: StoreHandle) -> None:
    if handle.closed:
        return
    try:
        handle.flush()
    finally:
        handle.closed = True
        if handle.embedded:
            finalizer = getattr(handle.server_store, "_finalizer", None)
            if finalizer is not None:
                finalizer.detach()
            real = os.path.realpath(handle.config.path)
            if _OWNED_FILES.get(real) is handle:
                del _OWNED_FILES[real]
            _restore_env(handle.prev_env, str(handle.config.path))
            if handle.pid == os.getpid():
                _release_lock(handle.lock_fd)
            handle.lock_fd = None
        else:
            _close_quietly(handle.client)


# --------------------------------------------------------------------------- a LaunchPad made by FireWorks

def adopt_launchpad(lp) -> StoreHandle:
    """Make an embedded LaunchPad's in-memory mongomock store the process's results store.

    FireWorks' ``rlaunch``/``qlaunch`` open the store file with their own mongomock client; a
    second client would hold a second copy of the database and one of them would be lost. The
    LaunchPad's copy becomes the store handle, with this module's lock and atomic flushes.
    """
    import weakref

    server_store = lp.connection._store
    path = Path(server_store._filename)
    cfg = StoreConfig(backend="embedded", path=path, database=lp.name, source="the Rocket's LaunchPad")
    with _LOCK:
        h = _HANDLES.get(cfg.identity)
        if h is not None and not h.closed and h.pid == os.getpid():
            if h.server_store is server_store:
                return h
            raise StoreError(f"{path} is open twice in this process (sseflow's client and a FireWorks "
                             f"LaunchPad): use workflows.store.get_launchpad()")
        fd = _try_lock(cfg.lock_path)
        if fd is None:
            raise StoreLockedError(f"embedded store {path} is in use by PID {lock_holder(cfg.lock_path)} "
                                   f"(lock file {cfg.lock_path})")
        _patch_persistence()
        # FireWorks made this store before sseflow patched mongomock-persistence: its at-exit
        # writer is the plain one; use the atomic, guarded writer instead
        old = getattr(server_store, "_finalizer", None)
        if old is not None:
            old.detach()
        server_store._finalizer = weakref.finalize(server_store, _guarded_to_file, server_store)
        h = StoreHandle(config=cfg, client=lp.connection, server_store=server_store, lock_fd=fd)
        h.launchpad = lp
        real = os.path.realpath(path)
        _HANDLES[cfg.identity] = h
        _OWNED_FILES[real] = h
        _EVER_OWNED.add(real)
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
