"""Exceptions that carry a one-line message for the user.

:class:`SseflowError` is the base of every such error: the CLI prints its message to stderr
and exits with status 2. ``InputError`` (bad user input) lives here in :mod:`analysis` so that
both packages can raise it (``workflows`` may import ``analysis``, never the reverse); the store's
errors (``StoreError``, ``ConfigError`` ...) and ``StudyError`` derive from the same base.
"""


class SseflowError(Exception):
    """An error whose message is meant for the user as it is (one line)."""


class InputError(SseflowError, ValueError):
    """Bad input from the user: a malformed formula, unknown element, missing file ..."""
