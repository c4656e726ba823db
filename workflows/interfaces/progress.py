"""Progress of ``sseflow interface build`` on a terminal: surfaces, matching, the gap/shift scan,
relaxation.

:func:`terminal_progress` gives a rich progress display on stderr when stderr is a terminal and a
silent one otherwise (piped, redirected, tests), so stdout and logs never carry it. The stages
call ``progress.stage(name, total)`` then ``progress.advance()``; ``None`` (the default of the
library functions) means no progress at all.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Iterator


class QuietProgress:
    """Progress that shows nothing (also the interface of :class:`TerminalProgress`)."""

    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


class TerminalProgress(QuietProgress):
    """One rich task per stage, on stderr: ``name k/N`` with a bar, or a spinner without ``total``."""

    def __init__(self, console=None):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(),
                                  console=console or Console(stderr=True), transient=False)
        self._task = None

    def __enter__(self):
        self._progress.start()
        return self

    def __exit__(self, *exc):
        self._finish()
        self._progress.stop()

    def _finish(self):
        if self._task is not None:
            t = self._progress.tasks[-1]
            if t.total is not None:
                self._progress.update(self._task, completed=t.total)
            else:
                self._progress.update(self._task, total=t.completed or 1, completed=t.completed or 1)

    def stage(self, name: str, total: int | None = None) -> None:
        self._finish()
        self._task = self._progress.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def terminal_progress(enabled: bool | None = None) -> Iterator[QuietProgress]:
    """A :class:`TerminalProgress` when ``enabled`` (default: stderr is a terminal), else a quiet one."""
    if enabled is None:
        enabled = stderr_is_terminal()
    if not enabled:
        yield QuietProgress()
        return
    with TerminalProgress() as p:
        yield p
