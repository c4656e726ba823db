"""File primitives of the embedded store: the real path, atomic writes, and what a file on disk was.

* :func:`real_path` — the file a path leads to (symbolic links resolved, also a link whose target
  does not exist yet), so that every route to one store names the same file;
* :func:`atomic_write_text` — write through a fsynced temporary file in the folder of the *real*
  file and ``os.replace`` it onto the real file: a symbolic link stays a link;
* :class:`FileState` — what a file on disk was when this process last read or wrote it (inode,
  size, modification time and SHA-256 of its bytes), to tell whether someone else changed it.
"""
from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["real_path", "atomic_write_text", "digest", "Stamp", "stamp_of", "FileState", "read_state",
           "changed_since"]


def real_path(path: str | os.PathLike) -> Path:
    """``path`` with every symbolic link resolved (the target of a dangling link too)."""
    return Path(os.path.realpath(os.path.expanduser(os.fspath(path))))


def digest(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Stamp:
    """Identity of one version of a file: a rewrite in place or a replacement changes it."""

    dev: int
    ino: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> "Stamp":
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def stamp_of(path: str | os.PathLike) -> Stamp | None:
    try:
        return Stamp.of(os.stat(path))
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class FileState:
    """A file as this process last read or wrote it."""

    stamp: Stamp | None  # None: the file did not exist
    sha256: str | None


def read_state(path: str | os.PathLike) -> tuple[bytes | None, FileState]:
    """The bytes of ``path`` (None when it does not exist) and their :class:`FileState`,
    taken from one open file so that the two belong together."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return None, FileState(None, None)
    with fh:
        st = os.fstat(fh.fileno())
        data = fh.read()
    return data, FileState(Stamp.of(st), digest(data))


def changed_since(path: str | os.PathLike, known: FileState) -> bool:
    """True when ``path`` is no longer the file described by ``known``.

    Same inode, size and modification time: unchanged. Otherwise the bytes decide (a file
    touched or copied back unchanged is still the same store).
    """
    now = stamp_of(path)
    if now == known.stamp:
        return False
    if now is None or known.stamp is None:
        return True
    data, state = read_state(path)
    return state.sha256 != known.sha256


def atomic_write_text(path: str | os.PathLike, text: str) -> FileState:
    """Write ``text`` to the real file of ``path`` atomically; returns the new file's state.

    The temporary file is created in the folder of the real file (never next to a symbolic link
    that leads elsewhere), fsynced, given the mode of the file it replaces and renamed onto it;
    then the folder is fsynced. A kill at any moment leaves the previous or the new file.
    """
    target = real_path(path)
    folder = target.parent
    data = text.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            try:
                os.fchmod(fh.fileno(), stat.S_IMODE(os.stat(target).st_mode))
            except FileNotFoundError:
                os.fchmod(fh.fileno(), 0o644)
            written = Stamp.of(os.fstat(fh.fileno()))
        os.replace(tmp, target)
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
    return FileState(written, digest(data))
