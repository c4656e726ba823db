"""Shipped study files, queue/launchpad/FireWorker templates and calculator presets (data only).

Read them with :func:`importlib.resources.files`: ``files("sseflow.templates") / "calculators"``.
"""
