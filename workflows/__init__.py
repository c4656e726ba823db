"""Everything that builds, runs and stores: CLI, config, structures, calculators, Firetasks, store."""
__version__ = "0.1.0"
