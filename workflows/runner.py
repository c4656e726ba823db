"""Running study workflows in this process: FireWorks rapid-fire with the store flushed as it goes,
the FireWorker of this machine, and reruns of failed or lost Fireworks.

The engine of ``sseflow run``, ``sseflow study`` and ``sseflow rerun`` (:mod:`sseflow.workflows.cli.flow`,
which only parses options and prints). The flush policy travels in the FireWorker's ``env``: the
:class:`Runner` marks the worker it drives (:data:`~sseflow.workflows.stages.worker.RUNNER_FLUSHES_KEY`)
and flushes the embedded store after each Rocket, so the Firetasks do not.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
import warnings
from pathlib import Path

from sseflow.workflows.stages.worker import FLUSH_INTERVAL_KEY, RUNNER_FLUSHES_KEY

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def thread_defaults() -> None:
    """One BLAS/OpenMP thread unless the user says otherwise: small cells are several times slower
    with more (measured: a CHGNet relaxation of Li3PS4 7 s with one OpenBLAS thread, 44 s with two
    on two busy cores); CHGNet's torch threads come from its preset / the FireWorker's env. Called
    by the commands that run Fireworks before they load any calculator."""
    for var in THREAD_VARIABLES:
        os.environ.setdefault(var, "1")


def with_env(fworker, extra: dict):
    """A copy of ``fworker`` whose ``env`` also holds ``extra``."""
    from fireworks import FWorker

    return FWorker(name=fworker.name, category=fworker.category, query=fworker._query,
                   env={**(fworker.env or {}), **extra})


def fworker_for(path: str | None):
    """``--fworker FILE``, else ``$SSEFLOW_HOME/my_fworker.yaml``, else FireWorks' FWORKER_LOC, else a default."""
    from fireworks import FWorker
    from fireworks.fw_config import FWORKER_LOC

    from sseflow.workflows.store.config import sseflow_home

    for cand in (path, sseflow_home() / "my_fworker.yaml", FWORKER_LOC):
        if cand and Path(cand).is_file():
            return read_fworker(Path(cand))
    if path:
        from sseflow.analysis.errors import InputError

        raise InputError(f"FireWorker file not found: {path}")
    return FWorker(name=f"sseflow@{socket.gethostname()}")


def read_fworker(path: Path):
    """A FireWorker file; unlike ``FWorker.from_file`` it may leave out category, query and env."""
    import yaml
    from fireworks import FWorker

    from sseflow.analysis.errors import InputError

    try:
        d = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"FireWorker file {path} cannot be read: {str(exc).splitlines()[0]}") from None
    if not isinstance(d, dict):
        raise InputError(f"FireWorker file {path} must be a mapping (name, category, query, env)")
    query = d.get("query") or {}
    if isinstance(query, str):
        try:
            query = json.loads(query)
        except ValueError:
            raise InputError(f"FireWorker file {path}: query must be JSON (a MongoDB query)") from None
    env = d.get("env") or {}
    if not isinstance(env, dict):
        raise InputError(f"FireWorker file {path}: env must be a mapping")
    return FWorker(name=str(d.get("name") or f"sseflow@{socket.gethostname()}"), category=d.get("category") or "",
                   query=query, env=env)


def restrict(fworker, fw_ids: list[int] | None):
    from fireworks import FWorker

    if not fw_ids:
        return fworker
    q = dict(fworker._query or {})
    q["fw_id"] = {"$in": sorted(fw_ids)}
    return FWorker(name=fworker.name, category=fworker.category, query=q, env=fworker.env)


def wf_ids(lp, wf: int | None) -> list[int] | None:
    from sseflow.analysis.errors import InputError

    if wf is None:
        return None
    doc = lp.workflows.find_one({"nodes": int(wf)}, {"nodes": 1})
    if doc is None:
        raise InputError(f"no workflow with Firework {wf} on this LaunchPad")
    return list(doc["nodes"])


def active_scope(lp) -> list[int]:
    ids: list[int] = []
    for d in lp.workflows.find({"state": {"$nin": ["COMPLETED", "ARCHIVED", "DEFUSED"]}}, {"nodes": 1}):
        ids.extend(d["nodes"])
    return ids


def archived_ids(lp) -> set[int]:
    """Firework ids of the archived workflows (FireWorks ``archive_wf``)."""
    ids: set[int] = set()
    for d in lp.workflows.find({"state": "ARCHIVED"}, {"nodes": 1}):
        ids.update(d["nodes"])
    return ids


def archive_workflows(lp, wf_ids_: list[int]) -> list[int]:
    """``LaunchPad.archive_wf`` on each workflow (by the id of its first Firework); returns those archived."""
    done = []
    for i in wf_ids_:
        lp.archive_wf(int(i))
        done.append(int(i))
    return done


def error_line(lp, fw: dict) -> str | None:
    """The last line of the exception of a Firework's last launch (None when it has none)."""
    for lid in reversed(fw.get("launches") or []):
        launch = lp.launches.find_one({"launch_id": lid}, {"action": 1, "state": 1})
        if not launch:
            continue
        stored = ((launch.get("action") or {}).get("stored_data") or {})
        exc = stored.get("_exception") or {}
        tb = exc.get("_stacktrace") or ""
        lines = [ln.strip() for ln in str(tb).strip().splitlines() if ln.strip()]
        if lines:
            return lines[-1]
        if launch.get("state") == "FIZZLED":
            return stored.get("_message") or "fizzled (no exception recorded: marked lost or killed)"
    return None


def home_launches() -> Path:
    from sseflow.workflows.store.config import sseflow_home

    return sseflow_home() / "launches"


class Runner:
    """Rapid-fire Rockets in this process, on the process's LaunchPad, flushing the store as it goes.

    The store is flushed after a Rocket when ``flush_interval`` seconds (and 20 times the
    duration of the last flush, so that writing a big store takes at most ~5% of the run) have
    passed since the last flush: a Firework that runs longer than that is always followed by a
    flush, trivial ones are batched. And at the end. Calculation Firetasks also flush when they start,
    so a worker killed mid-calculation leaves its Firework RUNNING on disk for ``rerun --lost``.
    """

    def __init__(self, lp, fworker, launch_root: Path, flush_interval: float = 1.0, progress: bool = True):
        self.lp = lp
        # the worker's env tells the Firetasks that this runner flushes the store after each Rocket
        self.fworker = with_env(fworker, {RUNNER_FLUSHES_KEY: True, FLUSH_INTERVAL_KEY: float(flush_interval)})
        self.launch_root = Path(launch_root)
        self.flush_interval = float(flush_interval)
        self.progress = progress
        self.ran: list[int] = []
        self.errors_log = self.launch_root / "fizzled.log"

    def _flush(self) -> None:
        from sseflow.workflows.store import flush_all

        t = time.monotonic()
        flush_all()
        self._last_flush = time.monotonic()
        self._flush_cost = self._last_flush - t

    def _flush_due(self) -> bool:
        # at most ~5% of the run goes to writing the store: a big store is written less often
        return time.monotonic() - self._last_flush >= max(self.flush_interval, 20.0 * self._flush_cost)

    def run(self, max_fw: int = 0, scope: list[int] | None = None) -> dict:
        import fireworks.core.rocket as rocket_mod
        from fireworks.core.rocket_launcher import launch_rocket
        from fireworks.utilities.fw_utilities import create_datestamp_dir, get_fw_logger

        self.launch_root.mkdir(parents=True, exist_ok=True)
        rocket_mod.ROCKET_STREAM_LOGLEVEL = "CRITICAL"  # the progress bar reports instead
        logger = get_fw_logger("sseflow.run", stream_level="CRITICAL")
        scope = list(scope) if scope is not None else active_scope(self.lp)
        total = len(scope)
        states = self._states(scope)
        done0 = states.get("COMPLETED", 0)
        fizzled0 = states.get("FIZZLED", 0)
        t0 = time.monotonic()
        self._last_flush, self._flush_cost = t0, 0.0
        # Embedded store: this process holds the store's lock, so nobody else can see a ping and
        # a RUNNING Firework found by a later command is lost by definition (rerun --lost uses
        # expiration 0 there). The Rocket's ping thread would only race the main thread on
        # mongomock, which is not thread-safe: no ping thread on the embedded store.
        prev_ping = rocket_mod.start_ping_launch
        if type(self.lp.connection).__module__.startswith("mongomock"):
            rocket_mod.start_ping_launch = lambda launchpad, launch_id: None
        cwd = os.getcwd()
        bar = _Progress(total, done0, self.progress)
        interrupt = _StopOnInterrupt()
        try:
            with _blas_threads(), open(self.errors_log, "a", encoding="utf-8") as errf, \
                    open(self.launch_root / "warnings.log", "a", encoding="utf-8") as warnf, \
                    warnings.catch_warnings():
                # library warnings of the calculations go to a log, not over the progress bar
                warnings.showwarning = lambda msg, cat, fn, ln, file=None, line=None: warnf.write(
                    warnings.formatwarning(msg, cat, fn, ln, line))
                while not max_fw or len(self.ran) < max_fw:
                    # the Rocket picks the Firework (FireWorks' own query and priority order); the
                    # launch id it will get tells which one it was
                    counter = self.lp.fw_id_assigner.find_one({}, {"next_launch_id": 1})
                    next_launch = counter.get("next_launch_id") if counter else None
                    ldir = create_datestamp_dir(str(self.launch_root), logger, prefix="launcher_")
                    os.chdir(ldir)
                    try:
                        ran = launch_rocket(self.lp, self.fworker, strm_lvl="CRITICAL", err_file=errf)
                    except KeyboardInterrupt:  # outside the Firetask (checkout, bookkeeping)
                        interrupt.caught = True
                    finally:
                        os.chdir(cwd)
                        try:
                            if not os.listdir(ldir):
                                os.rmdir(ldir)
                        except OSError:
                            pass
                    if interrupt.caught:  # the Rocket recorded Ctrl-C as a failure: run it again next time
                        bar.close()
                        note = self._requeue(next_launch)
                        if note:
                            _say(note)
                        raise KeyboardInterrupt
                    if not ran:
                        break
                    launch = self.lp.launches.find_one({"launch_id": next_launch}, {"fw_id": 1, "state": 1})
                    fw = self.lp.fireworks.find_one({"fw_id": launch["fw_id"]}, {"fw_id": 1, "name": 1, "state": 1}) \
                        if launch else None
                    self.ran.append(fw["fw_id"] if fw else -1)
                    bar.grow(self._follow(scope))
                    bar.finished(fw["name"] if fw else "?", fw["state"] if fw else "?")
                    if self._flush_due():
                        self._flush()
        finally:
            interrupt.restore()
            rocket_mod.start_ping_launch = prev_ping
            os.chdir(cwd)
            self._flush()
            bar.close()
        states = self._states(scope)
        return {"ran": len(self.ran), "seconds": time.monotonic() - t0, "total": len(scope),
                "completed": states.get("COMPLETED", 0), "fizzled_now": states.get("FIZZLED", 0) - fizzled0,
                "fizzled": states.get("FIZZLED", 0), "states": states}

    def _requeue(self, launch_id) -> str | None:
        """After Ctrl-C: the Firework of launch ``launch_id``, stopped mid-run (FIZZLED by the Rocket,
        or still RUNNING), back to READY, to run again in the same launch folder (a relaxation then
        continues from its trajectory). Returns the line telling the user, None if it had finished."""
        launch = None if launch_id is None else self.lp.launches.find_one(
            {"launch_id": launch_id}, {"fw_id": 1, "launch_dir": 1, "state": 1})
        if launch is None:
            return None
        fw = self.lp.fireworks.find_one({"fw_id": launch["fw_id"]}, {"fw_id": 1, "name": 1, "state": 1})
        if fw is None or fw["state"] not in ("RUNNING", "RESERVED", "FIZZLED"):
            return None
        if launch.get("state") in ("RUNNING", "RESERVED"):
            self.lp.mark_fizzled(launch_id)
        try:
            self.lp.rerun_fw(fw["fw_id"], recover_launch=launch_id, recover_mode="prev_dir")
        except ValueError:  # no checkpoint recorded: plain rerun, in the same folder
            self.lp.rerun_fw(fw["fw_id"])
            if launch.get("launch_dir"):
                self.lp.update_spec([fw["fw_id"]], {"_launch_dir": launch["launch_dir"]})
        return (f"interrupted: Firework {fw['fw_id']} ({fw['name']}) stopped and set back to READY; "
                f"'sseflow run' (or 'sseflow study') runs it again")

    def _follow(self, scope: list[int]) -> int:
        """Extend ``scope`` (in place) by the Fireworks that those run added to their workflows
        (FWAction detours and additions, e.g. interfaces of the best substitution candidates), and
        the FireWorker's restriction with it; returns how many were added."""
        ids = set(scope)
        for d in self.lp.workflows.find({"nodes": {"$in": list(scope)}}, {"nodes": 1}):
            ids.update(d["nodes"])
        new = sorted(ids - set(scope))
        if new:
            scope.extend(new)
            if "fw_id" in (self.fworker._query or {}):
                self.fworker = restrict(self.fworker, scope)
        return len(new)

    def _states(self, scope: list[int]) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.lp.fireworks.find({"fw_id": {"$in": scope}}, {"state": 1}):
            out[d["state"]] = out.get(d["state"], 0) + 1
        return out


class _StopOnInterrupt:
    """Ctrl-C while Rockets run. The first one raises KeyboardInterrupt as usual (the running
    Firetask stops; the Rocket records that as a failure) and tells the Runner to stop after it
    instead of starting the next Firework; further ones are ignored while the Runner puts that
    Firework back. Only in the main thread, and not when SIGINT is ignored (a background job)."""

    def __init__(self):
        import signal
        import threading

        self.caught = False
        self._prev = None
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._prev = signal.signal(signal.SIGINT, self._handler)

    def _handler(self, signum, frame):
        if self.caught:
            return
        self.caught = True
        raise KeyboardInterrupt

    def restore(self) -> None:
        import signal

        if self._prev is not None:
            signal.signal(signal.SIGINT, self._prev)
            self._prev = None


class _Progress:
    """A rich progress bar on a terminal; one line per finished Firework otherwise."""

    def __init__(self, total: int, done: int, enabled: bool):
        self.total, self.done = total, done
        self.tty = enabled and sys.stderr.isatty()
        self.enabled = enabled
        self.bar = None
        if self.tty:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("[bold]Fireworks"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), TextColumn("{task.description}"),
                                console=Console(stderr=True), transient=False)
            self.task = self.bar.add_task("", total=total, completed=done)
            self.bar.start()

    def grow(self, n: int) -> None:
        """``n`` more Fireworks to run (added by Fireworks that ran)."""
        if n:
            self.total += n
            if self.bar is not None:
                self.bar.update(self.task, total=self.total)

    def finished(self, name: str, state: str) -> None:
        if state == "COMPLETED":
            self.done += 1
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, description=name if state == "COMPLETED"
                            else f"[red]{name}: {state}")
        elif self.enabled:
            _say(f"[{self.done}/{self.total}] {state:9s} {name}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _blas_threads():
    """BLAS limited to ``OPENBLAS_NUM_THREADS`` threads while Rockets run (numpy may have been
    imported before :func:`thread_defaults`, e.g. in the tests)."""
    import contextlib

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    try:
        n = max(1, int(os.environ.get("OPENBLAS_NUM_THREADS", "1")))
    except ValueError:
        n = 1
    return threadpool_limits(limits=n, user_api="blas")


def run_fireworks(lp, fworker=None, max_fw: int = 0, scope: list[int] | None = None, launch_root=None,
                  progress: bool = True, flush_interval: float | None = None) -> dict:
    """Run READY Fireworks here (the engine of ``sseflow run`` and ``sseflow study``)."""
    thread_defaults()
    fworker = fworker or fworker_for(None)
    if scope is not None:
        fworker = restrict(fworker, scope)
    if flush_interval is None:
        flush_interval = float((fworker.env or {}).get(FLUSH_INTERVAL_KEY, 1.0))
    runner = Runner(lp, fworker, Path(launch_root) if launch_root else home_launches(), flush_interval, progress)
    return runner.run(max_fw, scope)


def rerun_fireworks(lp, fizzled: bool, lost: bool, wf: int | None = None, expiration: float | None = None,
                    embedded: bool = False) -> dict:
    """Rerun FIZZLED Fireworks and/or lost runs; returns {"fizzled": [...], "lost": [...]}."""
    scope = wf_ids(lp, wf)
    # an archived workflow (superseded by a newer version of its study) is never run again
    archived = archived_ids(lp)
    if scope is not None:
        scope = [i for i in scope if i not in archived]
    query = {"fw_id": {"$in": scope}} if scope is not None else (
        {"fw_id": {"$nin": sorted(archived)}} if archived else None)
    out: dict[str, list] = {"fizzled": [], "lost": []}
    if lost:
        if expiration is None:
            # the embedded store is held by this process: nothing else can be running its Fireworks
            from fireworks.fw_config import RUN_EXPIRATION_SECS

            expiration = 0 if embedded else RUN_EXPIRATION_SECS
        _, lost_ids, _ = lp.detect_lostruns(expiration_secs=expiration, fizzle=True, query=query, refresh=True)
        for fw_id in lost_ids:
            try:  # in the previous launch folder: a relaxation continues from its trajectory
                lp.rerun_fw(fw_id, recover_launch="last", recover_mode="prev_dir")
            except ValueError:
                lp.rerun_fw(fw_id)
            out["lost"].append(fw_id)
    if fizzled:
        q = {"state": "FIZZLED", **({"fw_id": {"$in": scope}} if scope is not None else {})}
        for d in lp.fireworks.find(q, {"fw_id": 1}).sort("fw_id", 1):
            if d["fw_id"] in out["lost"] or d["fw_id"] in archived:
                continue
            lp.rerun_fw(d["fw_id"])
            out["fizzled"].append(d["fw_id"])
    return out
