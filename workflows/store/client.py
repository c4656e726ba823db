"""One database client per process, shared by the results store and the FireWorks LaunchPad.

Two backends:

* **mongodb** — a real server given by a URI; :func:`connect` pings it with a server-selection
  and connect timeout of at most 5 s and raises :class:`StoreError` naming the host (never the
  password) when it cannot be reached.
* **embedded** — FireWorks' own file store: ``mongomock`` + ``mongomock-persistence``, selected,
  exactly as FireWorks does, by the environment variable ``MONGOMOCK_SERVERSTORE_FILE``. The
  whole database lives in memory and is serialised to one JSON file. This module guarantees:

  - one client per store file per process (:func:`connect` returns the same handle; the
    LaunchPad from :func:`get_launchpad` shares its in-memory server store);
  - one writer per store file: an exclusive ``fcntl.flock`` on ``<real store file>.lock``
    (:mod:`sseflow.workflows.store.locking`; symbolic links resolved, so every route to the file takes
    the same lock), held for the life of the process or until :func:`close`; a second writer
    fails at once with :class:`StoreLockedError` naming the lock file and the PID holding it;
  - saves (:func:`flush`) write the real file atomically (:mod:`sseflow.workflows.store.files`), only
    when the content changed, and only after checking that the file on disk is still the one
    this process loaded or last wrote (inode, size, mtime, else its bytes): a file changed
    behind the process's back is never overwritten; the save is refused with
    :class:`StoreError` and the process's copy is saved beside the store;
  - read-only opening (``mode="read"`` / ``"snapshot"``): the last saved state, loaded without
    the lock and without creating any file, never written; ``"snapshot"`` also while another
    process holds the lock (with one note on stderr saying how old that state is);
  - FireWorks' own clients in this process go through the same checks
    (:mod:`sseflow.workflows.store.persistence`);
  - every save is numbered, and a file put back in time by a client that loaded an older copy
    is noticed and undone when the store is next opened (:mod:`sseflow.workflows.store.generations`).
"""
from __future__ import annotations

import errno
import glob
import os
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from sseflow.workflows.store import generations, locking
from sseflow.workflows.store.config import (
    _ENV_SET_BY_US,
    ConfigError,
    StoreConfig,
    StoreError,
    StoreLockedError,
    load_config,
    uri_password,
)
from sseflow.workflows.store.files import FileState, atomic_write_text, changed_since, digest, read_state, real_path
from sseflow.workflows.store.persistence import Loaded, install, load_server_store, save_aside, serialise, write_back

__all__ = ["StoreError", "StoreLockedError", "ConfigError", "StoreHandle", "connect", "get_database",
           "get_launchpad", "flush", "flush_all", "close", "close_all", "atomic_write_text", "lock_holder",
           "adopt_launchpad", "handle_for_launchpad", "owner_of", "MODES"]

MODES = ("write", "read", "snapshot")

_LOCK = threading.RLock()
_HANDLES: dict[str, "StoreHandle"] = {}  # config identity -> the process's client
_SNAPSHOTS: dict[str, "StoreHandle"] = {}  # config identity -> a read-only copy of an embedded store
_OWNED_FILES: dict[str, "StoreHandle"] = {}  # real path of an embedded store file -> its writing handle

lock_holder = locking.holder

_READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)


@dataclass(eq=False)
class StoreHandle:
    """The process-wide client of one store and what goes with it."""

    config: StoreConfig
    client: Any
    server_store: Any = None  # embedded: mongomock ServerStore shared with the LaunchPad
    lock_fd: int | None = None
    pid: int = field(default_factory=os.getpid)
    disk: FileState | None = None  # embedded: the store file as this process last read or wrote it
    last_digest: str | None = None  # digest of the content last loaded or saved (None: unknown)
    launchpad: Any = None
    prev_env: str | None = None
    closed: bool = False
    readonly: bool = False  # a copy that is never written
    note: str | None = None  # read-only copy of a store in use by another process: how old it is
    saves: int = 0  # files written by flush()
    refusal: str | None = None  # why the last save was refused
    aside: Path | None = None  # where the refused copy was saved

    @property
    def db(self):
        return self.client[self.config.database]

    @property
    def embedded(self) -> bool:
        return self.config.backend == "embedded"

    @property
    def real_path(self) -> Path:
        return real_path(self.config.path)

    def flush(self, final: bool = False) -> bool:
        """Write the embedded store atomically when its content changed; True when written.

        Refused (:class:`StoreError`, one line) when the file on disk is no longer the one this
        process loaded or last wrote, or when another process holds the store's lock: the store
        file is left as it is and this process's copy is saved beside it. ``final`` (close, exit):
        after a refusal already raised, only that copy is brought up to date, silently.
        """
        if not self.embedded or self.closed or self.readonly or self.pid != os.getpid():
            return False
        with _LOCK:
            text = serialise(self.server_store)
            content = digest(text)
            if content == self.last_digest:
                return False
            if self.refusal is not None and final:  # already reported: keep the newest copy aside
                self._save_aside(text)
                return False
            real = self.real_path
            self._keep_lock(text)
            if self.disk is None or changed_since(real, self.disk):
                self._refuse("another process changed or replaced the file after this process loaded it", text)
            try:
                self.disk, self.server_store._sseflow_generation = generations.save(
                    real, text, getattr(self.server_store, "_sseflow_generation", 0))
            except OSError as exc:
                raise StoreError(f"cannot write the embedded store {self.config.path}: {exc.strerror or exc}")
            self.last_digest = content
            self.server_store._sseflow_loaded = Loaded(self.disk, content)
            self.saves += 1
            return True

    def _keep_lock(self, text: str) -> None:
        """Make sure this process still holds the store's lock (a removed lock file is taken again)."""
        lock = self.config.lock_path
        if self.lock_fd is not None and locking.still_held(self.lock_fd, lock):
            return
        try:
            fd = locking.acquire(lock)
        except OSError as exc:
            self._refuse(f"its lock file {lock} was removed and cannot be created again ({exc.strerror or exc})",
                         text)
        if fd is None:
            self._refuse(f"its lock file {lock} was removed while this process held it and PID "
                         f"{locking.holder(lock)} holds the new one", text)
        locking.release(self.lock_fd)
        self.lock_fd = fd

    def _save_aside(self, text: str) -> Path | None:
        if self.aside is not None:
            try:
                atomic_write_text(self.aside, text)
                return self.aside
            except OSError:
                pass
        self.aside = save_aside(self.real_path, text)
        return self.aside

    def _refuse(self, reason: str, text: str) -> NoReturn:
        aside = self._save_aside(text)
        kept = (f"this process's copy was saved to {aside} (read it with --config embedded:{aside})"
                if aside is not None else "this process's copy could not be saved anywhere")
        self.refusal = f"embedded store {self.config.path} not written: {reason}; {kept}"
        raise StoreError(self.refusal)


def owner_of(real: str | os.PathLike) -> StoreHandle | None:
    """The open writing handle of an embedded store file in this process (real path)."""
    h = _OWNED_FILES.get(str(real))
    return h if h is not None and not h.closed and h.pid == os.getpid() else None


# --------------------------------------------------------------------------- connecting

def connect(config: str | os.PathLike | StoreConfig | None = None, mode: str = "write") -> StoreHandle:
    """The process-wide handle of the configured store (created on first use).

    ``mode``: ``"write"`` (the embedded store's lock is taken), ``"read"`` (embedded: a
    read-only copy of the last saved state, without the lock and without creating any file;
    refused while another process holds the lock) or ``"snapshot"`` (as ``"read"``, also while
    another process holds the lock; a one-line note on stderr says how old the state is). A
    read-only copy is loaded once per process (:func:`close` forgets it); a store this process
    already holds for writing is returned in every mode. On MongoDB every mode is the one client.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    cfg = load_config(config)
    with _LOCK:
        handle = _HANDLES.get(cfg.identity)
        if handle is not None and not handle.closed and handle.pid == os.getpid():
            if handle.config.database != cfg.database:
                raise ConfigError(f"{cfg.location} is already open in this process with database "
                                  f"'{handle.config.database}', not '{cfg.database}'")
            return handle
        if cfg.backend == "embedded" and mode != "write":
            snap = _SNAPSHOTS.get(cfg.identity)
            if snap is None or snap.pid != os.getpid() or snap.config.database != cfg.database \
                    or (snap.note is not None and mode == "read"):
                snap = _open_snapshot(cfg, while_in_use=mode == "snapshot")
                _SNAPSHOTS[cfg.identity] = snap
            return snap
        handle = _open_embedded(cfg) if cfg.backend == "embedded" else _open_mongodb(cfg)
        _HANDLES[cfg.identity] = handle
        return handle


def get_database(config: str | os.PathLike | StoreConfig | None = None, mode: str = "write"):
    """The pymongo (or mongomock) ``Database`` of the configured store."""
    return connect(config, mode).db


def _locked_message(cfg: StoreConfig) -> str:
    lock = cfg.lock_path
    return (f"embedded store {cfg.path} is in use by PID {locking.holder(lock)} (lock file {lock}); "
            f"wait for that process to finish, or use a MongoDB server (SSEFLOW_DB) to run several at once")


def _read_only_message(cfg: StoreConfig, why: str) -> str:
    return (f"embedded store {cfg.path} is read-only ({why}): it can be read (sseflow query, sseflow status, "
            f"sseflow db status/export) but not written")


def _mongomock_client(server_store):
    import mongomock

    return mongomock.MongoClient(tz_aware=False, _store=server_store)


def _load_error(cfg: StoreConfig, exc: Exception) -> StoreError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
    return StoreError(f"embedded store {cfg.path} cannot be loaded ({type(exc).__name__}: {first}); "
                      f"move it away or restore it with 'sseflow db import'")


def _open_embedded(cfg: StoreConfig) -> StoreHandle:
    path = Path(cfg.path)
    real = real_path(path)
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno in _READ_ONLY_ERRNOS:
            raise StoreError(_read_only_message(cfg, f"cannot create {real.parent}: {exc.strerror}"))
        raise StoreError(f"cannot create the folder of the embedded store {path}: {exc.strerror}")
    if not os.access(real.parent, os.W_OK):
        raise StoreError(_read_only_message(cfg, f"folder {real.parent} is not writable"))
    if real.exists() and not os.access(real, os.W_OK):
        raise StoreError(_read_only_message(cfg, "the file is not writable"))
    lock = cfg.lock_path
    try:
        fd = locking.acquire(lock)
    except OSError as exc:
        if exc.errno in _READ_ONLY_ERRNOS:
            raise StoreError(_read_only_message(cfg, f"cannot create the lock file {lock}: {exc.strerror}"))
        raise StoreError(f"cannot open the lock file {lock}: {exc.strerror}")
    if fd is None:
        raise StoreLockedError(_locked_message(cfg))
    try:
        return _load_embedded(cfg, real, fd)
    except BaseException:
        locking.release(fd)
        raise


def _load_embedded(cfg: StoreConfig, real: Path, fd: int) -> StoreHandle:
    # temporary files left by a writer that was killed: we hold the lock, nobody else writes
    for tmp in glob.glob(os.path.join(glob.escape(str(real.parent)), f".{glob.escape(real.name)}.*.tmp")):
        try:
            os.unlink(tmp)
        except OSError:
            pass
    try:
        data, state = read_state(real)
        if data is None or not data.strip():
            state = atomic_write_text(real, "{}")
            data = b"{}"
            generations.forget(real)  # a new store: the record of a removed one does not apply
        checked = generations.check(real, str(cfg.path), data, state, write=True)  # lock held
        data, state = checked.data, checked.state
    except OSError as exc:
        raise StoreError(f"cannot use the embedded store {cfg.path}: {exc.strerror or exc}")
    install()
    try:
        server_store = load_server_store(data, filename=str(cfg.path))
    except Exception as exc:  # a file that is not mongomock-persistence JSON
        raise _load_error(cfg, exc)
    # at normal exit the store is written as flush() writes it (mongomock-persistence's place)
    server_store._finalizer = weakref.finalize(server_store, write_back, server_store)
    prev_env = os.environ.get("MONGOMOCK_SERVERSTORE_FILE")
    os.environ["MONGOMOCK_SERVERSTORE_FILE"] = str(cfg.path)  # FireWorks' selector of the file store
    _ENV_SET_BY_US.add(str(cfg.path))
    content = digest(serialise(server_store))
    server_store._sseflow_loaded = Loaded(state, content)
    handle = StoreHandle(config=cfg, client=_mongomock_client(server_store), server_store=server_store,
                         lock_fd=fd, disk=state, last_digest=content, prev_env=prev_env)
    _OWNED_FILES[str(real)] = handle
    return handle


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _open_snapshot(cfg: StoreConfig, while_in_use: bool) -> StoreHandle:
    """A read-only copy of the last saved state: no lock taken, no file created, never written."""
    real = real_path(cfg.path)
    lock = cfg.lock_path
    in_use = locking.held_by_other(lock)
    if in_use and not while_in_use:
        raise StoreLockedError(_locked_message(cfg))
    try:
        data, state = read_state(real)
        if data and data.strip():
            data = generations.check(real, str(cfg.path), data, state, write=False).data
    except OSError as exc:
        raise StoreError(f"cannot read the embedded store {cfg.path}: {exc.strerror or exc}")
    install()
    try:
        server_store = load_server_store(data if data and data.strip() else b"{}")
    except Exception as exc:
        raise _load_error(cfg, exc)
    note = None
    if in_use:
        saved = ("nothing saved yet" if state.stamp is None else
                 f"the state saved {_age(time.time() - state.stamp.mtime_ns / 1e9)} ago")
        note = (f"store {cfg.path} is in use by another process (PID {locking.holder(lock)}); "
                f"showing {saved}, read-only")
        print(f"sseflow: note: {note}", file=sys.stderr)
    return StoreHandle(config=cfg, client=_mongomock_client(server_store), server_store=server_store,
                       disk=state, readonly=True, note=note)


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
        _SNAPSHOTS.pop(cfg.identity, None)
        handle = _HANDLES.pop(cfg.identity, None)
        if handle is not None:
            _close_handle(handle)


def close_all() -> None:
    with _LOCK:
        _SNAPSHOTS.clear()
        while _HANDLES:
            _close_handle(_HANDLES.pop(next(iter(_HANDLES))))


def _close_handle(handle: StoreHandle) -> None:
    if handle.closed:
        return
    try:
        handle.flush(final=True)
    finally:
        handle.closed = True
        if handle.embedded:
            finalizer = getattr(handle.server_store, "_finalizer", None)
            if finalizer is not None:
                finalizer.detach()
            real = str(handle.real_path)
            if _OWNED_FILES.get(real) is handle:
                del _OWNED_FILES[real]
            _restore_env(handle.prev_env, str(handle.config.path))
            if handle.pid == os.getpid():
                locking.release(handle.lock_fd)
            handle.lock_fd = None
        else:
            _close_quietly(handle.client)


def _restore_env(prev: str | None, ours: str) -> None:
    if os.environ.get("MONGOMOCK_SERVERSTORE_FILE") != ours:
        return
    if prev is None:
        os.environ.pop("MONGOMOCK_SERVERSTORE_FILE", None)
    else:
        os.environ["MONGOMOCK_SERVERSTORE_FILE"] = prev


def __getattr__(name: str):  # the FireWorks side lives in sseflow.workflows.store.launchpad
    if name in ("get_launchpad", "adopt_launchpad", "handle_for_launchpad"):
        from sseflow.workflows.store import launchpad

        return getattr(launchpad, name)
    raise AttributeError(f"module 'sseflow.workflows.store.client' has no attribute '{name}'")
