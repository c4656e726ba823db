"""sseflow's settings from the environment: every ``SSEFLOW_*`` variable in one place.

Each field is read from the environment variable ``SSEFLOW_<FIELD>`` (``home`` from
``SSEFLOW_HOME``, ``db`` from ``SSEFLOW_DB`` ...). An unset or empty variable leaves the field
``None``, and the module that uses it applies its default (``~/.sseflow`` for ``home``, the
embedded store for ``db`` ...), so what a variable means stays documented where it is used.

:func:`settings` reads the environment afresh on every call: a changed environment (a test's
``monkeypatch.setenv``, a CLI that sets a variable before it runs a stage) is seen at once.

Every module of ``workflows/`` reads these variables through :func:`settings` only: the store
configuration (``home``, ``db``, ``config``, ``reference``), the calculators (``templates`` in
``calculators/base.py``; ``vasp_cmd`` and ``qe_cmd`` through ``resolve_command``, which the VASP
electronic statics use too; ``qe_pseudo_dir``) and the reference loaders (``cache_dir``).

``${VAR}`` expansion in the config file (``SSEFLOW_DB_PASSWORD``) reads whatever variable the
file names and is not a setting here; the other programs' variables (``ASE_ESPRESSO_COMMAND``,
``ESPRESSO_PSEUDO``, ``GPAW_SETUP_PATH``, ``PMG_VASP_PSP_DIR``) are not settings either.
``analysis/`` does not import ``workflows``: its reference loader takes the cache folder as an
argument (``load_reference(..., cache_dir=settings().cache_dir)``); without one, for direct
library use, it falls back to the same variable
(:func:`sseflow.analysis.reference.default_cache_dir`), so ``SSEFLOW_CACHE_DIR`` means the same
thing either way.
"""
from __future__ import annotations

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SseflowSettings(BaseSettings):
    """The ``SSEFLOW_*`` environment variables (``None``: unset or empty)."""

    model_config = SettingsConfigDict(env_prefix="SSEFLOW_", extra="ignore")

    home: str | None = None
    """The sseflow folder (config.yaml, store.json, my_fworker.yaml, launches); default ``~/.sseflow``."""
    db: str | None = None
    """The store: a MongoDB URI, ``embedded`` or ``embedded:PATH``; before any config file."""
    config: str | None = None
    """The sseflow YAML config file; default ``$SSEFLOW_HOME/config.yaml``."""
    reference: str | None = None
    """The default reference-energy file; before ``reference:`` in the config file."""
    shared: str | None = None
    """The shared folder whose ``data/`` holds the Materials Project table; default ``<repo>/../shared``."""
    cache_dir: str | None = None
    """The cache of parsed reference tables; default ``$XDG_CACHE_HOME/sseflow`` or ``~/.cache/sseflow``."""
    templates: str | None = None
    """Another ``templates`` folder of calculator presets (a study's own)."""
    vasp_cmd: str | None = None
    """The command that runs VASP (``srun vasp_std``), when the preset gives none."""
    qe_cmd: str | None = None
    """The command that runs Quantum ESPRESSO's pw.x, when the preset gives none (before ``ASE_ESPRESSO_COMMAND``)."""
    qe_pseudo_dir: str | None = None
    """The folder of Quantum ESPRESSO pseudopotentials, when the preset gives none (before ``ESPRESSO_PSEUDO``)."""

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unset(cls, value):
        """An empty variable counts as unset (a blank one is kept: its user checks it)."""
        if value == "":
            return None
        return value


def settings() -> SseflowSettings:
    """The settings as the environment holds them now (a new instance on each call)."""
    return SseflowSettings()
