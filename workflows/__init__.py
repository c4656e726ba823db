"""Everything that builds, runs and stores: CLI, config, structures, calculators, Firetasks, store."""
from sseflow import __version__  # noqa: F401  (one version: the installed distribution's)
