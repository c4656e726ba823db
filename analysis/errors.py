"""Exceptions raised for bad user input.

``InputError`` carries a one-line message meant for the user; the CLI prints it
to stderr and exits with status 2. It lives in :mod:`analysis` so that both
packages can raise it (``workflows`` may import ``analysis``, never the reverse).
"""


class InputError(ValueError):
    """Bad input from the user: a malformed formula, unknown element, missing file ..."""
