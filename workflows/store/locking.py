"""The write lock of an embedded store: ``fcntl.flock`` on ``<real store file>.lock``.

The lock file is named after the *real* store file (symbolic links resolved), so a process that
reaches the store through a link and one that uses the real path take the same lock. The holder
writes its PID, host and command line into the lock file. Readers never create the lock file:
:func:`held_by_other` only opens it read-only to ask whether a writer holds it.
"""
from __future__ import annotations

import errno
import fcntl
import os
import socket
import sys
import time
from pathlib import Path

__all__ = ["lock_path_for", "acquire", "release", "holder", "held_by_other", "still_held"]

_BUSY = (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)
_RETRY_S = 0.3  # a reader probing the lock holds it for microseconds: retry that long, not longer


def lock_path_for(real_store: str | os.PathLike) -> Path:
    """The lock file of a store file (give the real path: see :func:`sseflow.workflows.store.files.real_path`)."""
    p = Path(real_store)
    return p.with_name(p.name + ".lock")


def acquire(lock_path: str | os.PathLike) -> int | None:
    """Take the exclusive lock; its file descriptor, or None when another process holds it.

    Raises OSError when the lock file cannot be created or opened (read-only folder ...).
    The file locked is the one at ``lock_path`` when this returns: a lock file removed or
    replaced meanwhile is not mistaken for the current one.
    """
    deadline = time.monotonic() + _RETRY_S
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in _BUSY:
                raise
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)
            continue
        if still_held(fd, lock_path):
            break
        os.close(fd)  # removed or replaced between open and flock: lock the current one
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {socket.gethostname()} {' '.join(sys.argv)[:200]}\n".encode())
    os.fsync(fd)
    return fd


def release(fd: int | None) -> None:
    if fd is None:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def still_held(fd: int, lock_path: str | os.PathLike) -> bool:
    """True when ``fd`` is still the file at ``lock_path`` (nobody removed or replaced it)."""
    try:
        st = os.stat(lock_path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def holder(lock_path: str | os.PathLike) -> str:
    """The PID (and host, when not this one) written in a lock file, or 'unknown'."""
    try:
        first = Path(lock_path).read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return "unknown"
    if not first:
        return "unknown"
    return first[0] + (f" on {first[1]}" if len(first) > 1 and first[1] != socket.gethostname() else "")


def held_by_other(lock_path: str | os.PathLike) -> bool:
    """True when a process holds the write lock (this one included, through another handle).

    Opens the lock file read-only and never creates it, so it works on a read-only file system.
    """
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except OSError:  # no lock file: nobody ever wrote here, or it cannot be read
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in _BUSY:
                return True
            return False
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
