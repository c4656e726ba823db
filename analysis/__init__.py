"""Pure science on entries and arrays: phase diagrams, windows, reactions, tables, plots.

Never imports FireWorks or pymongo (``sseflow.workflows`` may import this one,
never the reverse).
"""
from sseflow import __version__  # noqa: F401  (one version: the installed distribution's)
