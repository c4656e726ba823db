"""The worker a Firework runs on: its settings (FireWorker ``env``), launch folder, results store
and flush policy.

Per-worker settings come from the FireWorker's ``env`` (``my_fworker.yaml``), as atomate's
``env_chk`` does: a preset value written ``">>key<<"`` is replaced by ``env[key]`` of the worker
that runs the Firework (and dropped, so the backend default applies, when that worker has no
such key). Keys sseflow itself reads: ``scratch_dir`` (where file-based codes run; default: the
launch folder), ``torch_threads``, ``sseflow_db`` (the store outside a Rocket),
``sseflow_flush_interval`` (seconds between the flushes of :class:`sseflow.workflows.runner.Runner`,
which marks the worker it drives with ``sseflow_runner_flushes``: it then flushes the embedded store
itself, so the Firetasks do not); backends read their run
commands (``vasp_cmd``, ``qe_cmd`` ...) the same way.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sseflow.analysis.errors import InputError

FLUSH_INTERVAL_KEY = "sseflow_flush_interval"  # seconds between the runner's flushes
RUNNER_FLUSHES_KEY = "sseflow_runner_flushes"  # set by the runner on the worker it drives


def env_chk(value: Any, fw_spec: dict, strict: bool = True, default: Any = None) -> Any:
    """atomate's env_chk: ``">>key<<"`` -> ``fw_spec["_fw_env"][key]``; anything else unchanged.

    Without such a key in the FireWorker's env: ``default`` when given, else KeyError when
    ``strict``, else None.
    """
    if isinstance(value, str) and value.startswith(">>") and value.endswith("<<"):
        key = value[2:-2]
        env = fw_spec.get("_fw_env") or {}
        if key in env:
            return env[key]
        if default is not None or not strict:
            return default
        raise InputError(f"'{value}' is not set in this FireWorker's env (my_fworker.yaml, env: {{{key}: ...}})")
    return value


def resolve_preset(preset: dict | None, fw_spec: dict, calculator: str | None = None) -> dict:
    """A preset with its ``>>key<<`` values taken from the worker's env (dropped when it has none);
    the worker's ``torch_threads`` goes to the machine-learned potentials."""
    def resolve(d: dict) -> dict:
        out = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out[k] = resolve(v)
                continue
            r = env_chk(v, fw_spec, strict=False)
            if r is not None or v is None:
                out[k] = r
        return out

    out = resolve(preset or {})
    env = fw_spec.get("_fw_env") or {}
    if env.get("torch_threads") and "torch_threads" not in out and calculator in ("chgnet", "sevennet"):
        out["torch_threads"] = int(env["torch_threads"])
    return out


def work_dir(fw_spec: dict, label: str) -> Path:
    """Where a calculation writes its files: ``<scratch_dir>/<label>-<pid>`` or the launch folder."""
    scratch = env_chk(">>scratch_dir<<", fw_spec, strict=False)
    if scratch:
        d = Path(os.path.expandvars(os.path.expanduser(str(scratch)))) / f"{label}-{os.getpid()}"
    else:
        d = Path.cwd()
    d.mkdir(parents=True, exist_ok=True)
    return d

def task_store(fw_spec: dict | None = None, launchpad=None):
    """The :class:`ResultsStore` for a Firetask: the database of ``launchpad``.

    ``launchpad``: the Rocket's, which FireWorks gives a Firetask whose spec sets
    ``_add_launchpad_and_fw_id`` (``self.launchpad``). Without one (a stage called directly), the
    configured store (``fw_env['sseflow_db']``, else SSEFLOW_DB, config files, embedded).
    """
    from sseflow.workflows.store.client import connect
    from sseflow.workflows.store.results import ResultsStore

    if launchpad is not None:
        from sseflow.workflows.store.client import handle_for_launchpad

        return ResultsStore(handle_for_launchpad(launchpad))
    cfg = (fw_spec or {}).get("_fw_env", {}).get("sseflow_db") if fw_spec else None
    return ResultsStore(connect(cfg))


def runner_flushes(fw_spec: dict) -> bool:
    """Whether the process driving this worker flushes the store itself: the FireWorker ``env`` of
    :class:`sseflow.workflows.runner.Runner` says ``sseflow_runner_flushes: true`` (``rlaunch`` and
    queued jobs run workers without it, so each Firework flushes)."""
    return bool((fw_spec.get("_fw_env") or {}).get(RUNNER_FLUSHES_KEY))


def end_of_firework(store, fw_spec: dict) -> None:
    """Flush the embedded store at the end of a Firework, unless the runner driving the worker does."""
    if not runner_flushes(fw_spec):
        store.flush()
