"""FireWorks' file store (mongomock + mongomock-persistence): loading, serialising, and a guarded writer.

mongomock-persistence loads the whole file into memory when a client is made and, at
interpreter exit, writes the whole copy back with ``open(path, "w")``: a client that only read
rewrites the file, and one that loaded an older copy overwrites newer data. :func:`install`
replaces its loader and its at-exit writer in this process (every client FireWorks makes here,
``LaunchPad``, ``LaunchPad.auto_load()``, ``rlaunch``'s, goes through them):

* the loader records what the file was (:class:`~sseflow.workflows.store.files.FileState`) and a digest
  of the content it loaded;
* the writer writes nothing when the content is unchanged (reads create empty collections:
  they do not count, and empty collections are never saved); otherwise it takes the store's
  write lock, checks that the file is still the one it loaded and writes atomically through
  the real path, numbered (:mod:`sseflow.workflows.store.generations`). When the lock is held or the file changed, the store file is left alone, the
  client's copy is saved beside it and one line on stderr says where.

The process's own client (:class:`sseflow.workflows.store.client.StoreHandle`) is written by its handle,
with the same checks, at the points sseflow flushes and at exit.

This is a patch of third-party code (mongomock-persistence's own patch of mongomock's
``ServerStore``), kept because nothing else reaches the clients FireWorks makes: ``rlaunch``,
``LaunchPad.from_file`` and ``auto_load`` build ``mongomock_persistence.MongoClient()`` without
any option sseflow could set, and each such client registers its unguarded writer when it is
made. :func:`install` is the only function that applies it (idempotent; clients made before it
get the guarded writer too); it runs when ``sseflow.workflows.store`` is imported in a process
whose FireWorks uses the file store (``MONGOMOCK_SERVERSTORE_FILE`` set, or mongomock-persistence
imported), and when sseflow opens an embedded store (:func:`sseflow.workflows.store.client.connect`),
which is what selects the file store for FireWorks. docs/architecture.md lists it.
"""
from __future__ import annotations

import os
import sys
import weakref
from dataclasses import dataclass
from pathlib import Path

from sseflow.workflows.store import generations
from sseflow.workflows.store.config import StoreError, StoreLockedError
from sseflow.workflows.store.files import FileState, atomic_write_text, changed_since, digest, read_state, real_path

__all__ = ["Loaded", "serialise", "load_server_store", "install", "write_back", "save_aside", "one_line"]

_INSTALLED = False


@dataclass(frozen=True)
class Loaded:
    """What a client loaded: the file as it was, and the digest of its content (see :func:`serialise`)."""

    file: FileState
    content: str


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


# --------------------------------------------------------------------------- the file format

def _saved_dict(server_store) -> dict:
    """mongomock-persistence's ``ServerStore.to_dict()`` without empty collections and databases
    (and without the generation, which each save writes anew)."""
    out = {}
    for db_name, db in list(server_store._databases.items()):
        if db_name == generations.META_DB:  # loaded by a client made before install(): written anew
            continue
        colls = {}
        for name, coll in list(db._collections.items()):
            d = coll.to_dict()
            if d["documents"]:
                colls[name] = d
        if colls:
            out[db_name] = colls
    return out


def serialise(server_store) -> str:
    """The store file's text: mongomock-persistence's serialisation (``bson.json_util.dumps``)."""
    from bson import json_util

    for attempt in range(5):  # another thread may update a document meanwhile
        try:
            return json_util.dumps(_saved_dict(server_store))
        except RuntimeError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def load_server_store(data: bytes | str, filename: str | None = None):
    """A mongomock ``ServerStore`` holding the content of a store file (``filename``: where it
    is written back; None: a copy that is never written)."""
    import mongomock_persistence  # noqa: F401  (its DatabaseStore/CollectionStore.from_dict)
    from bson import json_util
    from mongomock.store import DatabaseStore, ServerStore

    dct = json_util.loads(data)
    if not isinstance(dct, dict):
        raise ValueError("the file does not hold a JSON object")
    dct, generation = generations.split_meta(dct)  # kept out of the data: see generations
    store = ServerStore.__new__(ServerStore)
    store._databases = {k: DatabaseStore.from_dict(v) for k, v in dct.items()}
    store._filename = filename
    store._sseflow_generation = generation
    return store


# --------------------------------------------------------------------------- the patch

def _loading_init(self, filename=None):
    """Replacement of mongomock-persistence's ``ServerStore.__init__`` (same selection of the file)."""
    self._filename = os.environ.get("MONGOMOCK_SERVERSTORE_FILE", filename)
    if not self._filename:
        self._databases = {}
        return
    real = real_path(self._filename)
    data, state = read_state(real)
    if data is None:
        raise FileNotFoundError(f"embedded store {self._filename} does not exist")
    data = generations.check(real, self._filename, data, state, write=False).data
    loaded = load_server_store(data)
    self._databases = loaded._databases
    self._sseflow_generation = loaded._sseflow_generation
    self._sseflow_loaded = Loaded(state, digest(serialise(self)))
    self._finalizer = weakref.finalize(self, write_back, self)


def install():
    """Guard mongomock-persistence in this process (idempotent); returns the module.

    Replaces ``ServerStore.__init__`` (the loader) and ``ServerStore._to_file`` (the at-exit
    writer) that mongomock-persistence put on mongomock's class, and gives clients loaded
    before this call the guarded writer. Where it is called: see the module docstring."""
    global _INSTALLED
    already = "mongomock_persistence" in sys.modules
    import mongomock_persistence
    from mongomock.store import ServerStore

    if not _INSTALLED:
        ServerStore.__init__ = _loading_init
        ServerStore._to_file = write_back
        _INSTALLED = True
        if already:
            _adopt_existing(ServerStore)
    return mongomock_persistence


def _adopt_existing(server_store_cls) -> None:
    """Clients made before :func:`install`: their at-exit writer becomes the guarded one. What
    they loaded is unknown; the file as it is now stands for it."""
    import gc

    for obj in gc.get_objects():
        if not isinstance(obj, server_store_cls):
            continue
        fin = getattr(obj, "_finalizer", None)
        filename = getattr(obj, "_filename", None)
        if fin is None or not filename or not fin.alive:
            continue
        fin.detach()
        data, state = read_state(real_path(filename))
        try:
            content = digest(serialise(load_server_store(data))) if data is not None else ""
        except Exception:
            content = ""
        obj._sseflow_loaded = Loaded(state, content)
        obj._finalizer = weakref.finalize(obj, write_back, obj)


# --------------------------------------------------------------------------- writing a client's copy

def save_aside(real: Path, text: str) -> Path | None:
    """Save a copy that may not overwrite the store next to it (or in the temporary folder)."""
    import tempfile
    import time

    name = f"{real.name}.unsaved-{os.getpid()}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    for folder in (real.parent, Path(tempfile.gettempdir())):
        try:
            atomic_write_text(folder / name, text)
            return folder / name
        except OSError:
            continue
    return None


def aside_note(real: Path, text: str) -> str:
    aside = save_aside(real, text)
    if aside is None:
        return "its changes could not be saved anywhere"
    return f"its copy was saved to {aside} (read it with --config embedded:{aside})"


def write_back(server_store) -> None:
    """The at-exit writer of every mongomock-persistence client in this process (never raises)."""
    try:
        _write_back(server_store)
    except StoreError as exc:
        print(f"sseflow: error: {one_line(exc)}", file=sys.stderr)
    except Exception as exc:  # at exit there is no one to raise to: one line
        print(f"sseflow: error: embedded store {getattr(server_store, '_filename', '?')} not written: "
              f"{type(exc).__name__}: {one_line(exc)}", file=sys.stderr)


def _write_back(server_store) -> None:
    from sseflow.workflows.store import client, locking

    filename = getattr(server_store, "_filename", None)
    if not filename:
        return
    real = real_path(filename)
    handle = client.owner_of(real)
    if handle is not None and handle.server_store is server_store:
        handle.flush(final=True)
        return
    text = serialise(server_store)
    loaded: Loaded | None = getattr(server_store, "_sseflow_loaded", None)
    if loaded is not None and digest(text) == loaded.content:
        return  # it only read: the file is not rewritten
    if handle is not None:
        print(f"sseflow: warning: a second in-memory copy of {filename} was not written (use "
              f"sseflow.workflows.store.get_launchpad() to share the process's client); {aside_note(real, text)}",
              file=sys.stderr)
        return
    lock = locking.lock_path_for(real)
    try:
        fd = locking.acquire(lock)
    except OSError as exc:
        raise StoreError(f"embedded store {filename} not written: cannot take its lock {lock} "
                         f"({exc.strerror or exc}); {aside_note(real, text)}")
    if fd is None:
        raise StoreLockedError(f"embedded store {filename} not written: it is in use by PID "
                               f"{locking.holder(lock)}; {aside_note(real, text)}")
    try:
        if loaded is None or changed_since(real, loaded.file):
            raise StoreError(f"embedded store {filename} not written: another process changed it after "
                             f"this client loaded it; {aside_note(real, text)}")
        _, server_store._sseflow_generation = generations.save(
            real, text, getattr(server_store, "_sseflow_generation", 0))
    finally:
        locking.release(fd)
