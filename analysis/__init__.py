"""Pure science on entries and arrays: phase diagrams, windows, reactions, tables, plots.

Never imports FireWorks or pymongo (the ``workflows`` package may import this one,
never the reverse).
"""
__version__ = "0.1.0"
