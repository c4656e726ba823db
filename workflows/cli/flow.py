"""``sseflow submit | run | status | rerun | study``: study workflows on the FireWorks LaunchPad.

These commands wrap FireWorks, they do not replace it: the LaunchPad is the results store's
database (``sseflow.workflows.store.get_launchpad``), so FireWorks' own ``lpad``, ``rlaunch`` and
``qlaunch`` see the same Fireworks (docs/workflows.md says how they find the configuration).

* ``submit STUDY.yaml``: validate, build (stored calculations are reused), add; prints the
  workflow id (the id of its first Firework, which ``lpad get_wflows -i`` also takes);
* ``run [--max N]``: FireWorks rapid-fire on this machine, in this process (so the embedded
  store is shared by the Rockets), with a progress bar of Fireworks done/total;
* ``status [WF]``: state of each workflow / Firework, and the error line of every failure;
* ``rerun --fizzled | --lost``: ``LaunchPad.rerun_fw`` / ``detect_lostruns``; a lost run is
  rerun in its previous launch folder, so a relaxation continues from its last geometry;
* ``study STUDY.yaml``: submit (or resume the unfinished workflow of the same study file), run,
  and print the report.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
import warnings
from pathlib import Path

import click

from sseflow.workflows.cli.common import COUNT, NON_NEGATIVE, POSITIVE

FINAL = ("COMPLETED", "FIZZLED", "DEFUSED", "ARCHIVED")

# One BLAS/OpenMP thread unless the user says otherwise: small cells are several times slower
# with more (measured: a CHGNet relaxation of Li3PS4 7 s with one OpenBLAS thread, 44 s with two
# on two busy cores); CHGNet's torch threads come from its preset / the FireWorker's env.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

config_option = click.option("--config", default=None, metavar="PATH|URI",
                             help="Store/LaunchPad configuration (YAML file, mongodb:// URI, embedded[:PATH]).")


# =========================================================================== helpers

def _err(msg: str) -> None:
    click.echo(msg, err=True)


def _launchpad(config, wait: float = 0.0):
    """The LaunchPad on the store's database; with ``wait``, retry while another process holds the
    embedded store (a queued job started while the submitting command still held it)."""
    from sseflow.workflows.store import get_launchpad
    from sseflow.workflows.store.config import StoreLockedError

    deadline = time.monotonic() + max(0.0, wait)
    while True:
        try:
            return get_launchpad(config)
        except StoreLockedError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def _store(config):
    from sseflow.workflows.store.client import connect
    from sseflow.workflows.store.results import ResultsStore

    return ResultsStore(connect(config))


def _fworker(path: str | None):
    """``--fworker FILE``, else ``$SSEFLOW_HOME/my_fworker.yaml``, else FireWorks' FWORKER_LOC, else a default."""
    from fireworks import FWorker
    from fireworks.fw_config import FWORKER_LOC

    from sseflow.workflows.store.config import sseflow_home

    for cand in (path, sseflow_home() / "my_fworker.yaml", FWORKER_LOC):
        if cand and Path(cand).is_file():
            return _read_fworker(Path(cand))
    if path:
        from sseflow.analysis.errors import InputError

        raise InputError(f"FireWorker file not found: {path}")
    return FWorker(name=f"sseflow@{socket.gethostname()}")


def _read_fworker(path: Path):
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


def _restrict(fworker, fw_ids: list[int] | None):
    from fireworks import FWorker

    if not fw_ids:
        return fworker
    q = dict(fworker._query or {})
    q["fw_id"] = {"$in": sorted(fw_ids)}
    return FWorker(name=fworker.name, category=fworker.category, query=q, env=fworker.env)


def _wf_ids(lp, wf: int | None) -> list[int] | None:
    from sseflow.analysis.errors import InputError

    if wf is None:
        return None
    doc = lp.workflows.find_one({"nodes": int(wf)}, {"nodes": 1})
    if doc is None:
        raise InputError(f"no workflow with Firework {wf} on this LaunchPad")
    return list(doc["nodes"])


def _active_scope(lp) -> list[int]:
    ids: list[int] = []
    for d in lp.workflows.find({"state": {"$nin": ["COMPLETED", "ARCHIVED", "DEFUSED"]}}, {"nodes": 1}):
        ids.extend(d["nodes"])
    return ids


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


def _short_error(line: str | None) -> str:
    """An error line for a table: the exception's class without its module path."""
    if not line:
        return ""
    head, sep, rest = line.partition(": ")
    if sep and "." in head and head.replace(".", "").replace("_", "").isalnum():
        return f"{head.rsplit('.', 1)[1]}: {rest}"
    return line


def _home_launches() -> Path:
    from sseflow.workflows.store.config import sseflow_home

    return sseflow_home() / "launches"


# =========================================================================== running Rockets

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
        self.fworker = fworker
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

        import sseflow.workflows.firetasks as ft

        self.launch_root.mkdir(parents=True, exist_ok=True)
        rocket_mod.ROCKET_STREAM_LOGLEVEL = "CRITICAL"  # the progress bar reports instead
        logger = get_fw_logger("sseflow.run", stream_level="CRITICAL")
        scope = list(scope) if scope is not None else _active_scope(self.lp)
        total = len(scope)
        states = self._states(scope)
        done0 = states.get("COMPLETED", 0)
        fizzled0 = states.get("FIZZLED", 0)
        t0 = time.monotonic()
        self._last_flush, self._flush_cost = t0, 0.0
        prev_flag = ft.RUNNER_FLUSHES
        ft.RUNNER_FLUSHES = True
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
                            _err(note)
                        raise KeyboardInterrupt
                    if not ran:
                        break
                    launch = self.lp.launches.find_one({"launch_id": next_launch}, {"fw_id": 1, "state": 1})
                    fw = self.lp.fireworks.find_one({"fw_id": launch["fw_id"]}, {"fw_id": 1, "name": 1, "state": 1}) \
                        if launch else None
                    self.ran.append(fw["fw_id"] if fw else -1)
                    bar.finished(fw["name"] if fw else "?", fw["state"] if fw else "?")
                    if self._flush_due():
                        self._flush()
        finally:
            interrupt.restore()
            ft.RUNNER_FLUSHES = prev_flag
            rocket_mod.start_ping_launch = prev_ping
            os.chdir(cwd)
            self._flush()
            bar.close()
        states = self._states(scope)
        return {"ran": len(self.ran), "seconds": time.monotonic() - t0, "total": total,
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


def _blas_threads():
    """BLAS limited to ``OPENBLAS_NUM_THREADS`` threads while Rockets run (numpy may have been
    imported before the environment default above, e.g. in the tests)."""
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

    def finished(self, name: str, state: str) -> None:
        if state == "COMPLETED":
            self.done += 1
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, description=name if state == "COMPLETED"
                            else f"[red]{name}: {state}")
        elif self.enabled:
            _err(f"[{self.done}/{self.total}] {state:9s} {name}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def run_fireworks(lp, fworker=None, max_fw: int = 0, scope: list[int] | None = None, launch_root=None,
                  progress: bool = True, flush_interval: float | None = None) -> dict:
    """Run READY Fireworks here (the engine of ``sseflow run`` and ``sseflow study``)."""
    fworker = fworker or _fworker(None)
    if scope is not None:
        fworker = _restrict(fworker, scope)
    if flush_interval is None:
        flush_interval = float((fworker.env or {}).get("sseflow_flush_interval", 1.0))
    runner = Runner(lp, fworker, Path(launch_root) if launch_root else _home_launches(), flush_interval, progress)
    return runner.run(max_fw, scope)


def _print_run(lp, res: dict, scope: list[int] | None) -> None:
    _err(f"ran {res['ran']} Firework(s) in {res['seconds']:.1f} s: {res['completed']}/{res['total']} completed"
         + (f", {res['fizzled']} fizzled" if res["fizzled"] else ""))
    if res["fizzled"]:
        q = {"state": "FIZZLED"} if scope is None else {"state": "FIZZLED", "fw_id": {"$in": scope}}
        for fw in lp.fireworks.find(q, {"fw_id": 1, "name": 1, "launches": 1}).sort("fw_id", 1):
            _err(f"  FIZZLED {fw['fw_id']} {fw['name']}: {error_line(lp, fw)}")
        _err("  fix the cause, then: sseflow rerun --fizzled && sseflow run")
    waiting = res["states"].get("WAITING", 0) + res["states"].get("READY", 0)
    if waiting and not res["fizzled"]:
        _err(f"  {waiting} Firework(s) still waiting or ready")


# =========================================================================== submit

def submit_study(study_file: str, config: str | None = None, output: str | None = None, dry_run: bool = False):
    """(workflow id or None, Plan, Workflow): validate, build with dedupe against the store, add."""
    from sseflow.workflows.builders import build_workflow
    from sseflow.workflows.study import load_study

    study = load_study(study_file)
    _check_submission(study, output)
    lp = _launchpad(config)
    wf, plan = build_workflow(study, _store(config), Path(output).resolve() if output else None)
    if dry_run:
        return None, plan, wf
    mapping = lp.add_wf(wf)
    return min(mapping.values()), plan, wf


def _check_submission(study, output: str | None) -> Path:
    """Checks before a study's Fireworks are added: its calculator presets and structure files
    (:func:`sseflow.workflows.study.check_before_submit`) and its report folder, which the last Firework
    writes. Returns the report folder."""
    from sseflow.analysis.errors import InputError
    from sseflow.workflows.cli.common import folder_problem
    from sseflow.workflows.study import check_before_submit

    check_before_submit(study)
    out = Path(output).resolve() if output else study.output_dir()
    problem = folder_problem(out)
    if problem:
        what = f"--output {output}" if output else f"{study.source or study.name}: output folder {out}"
        raise InputError(f"{what}: cannot write there, {problem}")
    return out


def _check_launch_dir(launch_dir: str | None) -> None:
    if launch_dir:
        from sseflow.workflows.cli.common import check_output_folder

        check_output_folder(launch_dir, "--launch-dir")


def _describe(wf, plan) -> str:
    counts: dict[str, int] = {}
    for fw in wf.fws:
        kind = fw.name.split(" ", 1)[0]
        counts[kind] = counts.get(kind, 0) + 1
    parts = ", ".join(f"{n} {k}" for k, n in counts.items())
    reused = [p.label for p in plan.phases if p.task_id]
    return (f"{len(wf.fws)} Fireworks ({parts})" + (f"; {len(reused)} calculation(s) reused from the store"
                                                     if reused else ""))


@click.command()
@click.argument("study_file", metavar="STUDY.yaml", type=click.Path(dir_okay=False))
@click.option("--output", default=None, type=click.Path(file_okay=False),
              help="Report folder (default: the study's 'output', else results/<name>).")
@click.option("--dry-run", is_flag=True, help="Validate and print the plan; add nothing.")
@config_option
def submit(study_file, output, dry_run, config):
    """Add the workflow of a study to the LaunchPad; prints its id."""
    wf_id, plan, wf = submit_study(study_file, config, output, dry_run)
    if dry_run:
        click.echo(json.dumps({"fireworks": [fw.name for fw in wf.fws], **plan.summary()}, indent=1))
        return
    _err(f"submitted '{wf.name}': {_describe(wf, plan)}")
    for note in plan.notes:
        _err(f"note: {note}")
    click.echo(wf_id)


# =========================================================================== run

@click.command()
@click.option("--max", "max_fw", type=COUNT, default=0, show_default=True, metavar="N",
              help="Stop after N Fireworks (0: until none is ready).")
@click.option("--wf", type=int, default=None, metavar="ID", help="Only this workflow's Fireworks.")
@click.option("--fworker", default=None, type=click.Path(dir_okay=False),
              help="FireWorker file (name, category, query, env); default $SSEFLOW_HOME/my_fworker.yaml.")
@click.option("--launch-dir", default=None, type=click.Path(file_okay=False),
              help="Folder of the launch folders (default $SSEFLOW_HOME/launches).")
@click.option("--wait", type=NON_NEGATIVE, default=0.0, metavar="SECONDS",
              help="Wait this long for the embedded store while another process holds it (queued jobs).")
@click.option("--quiet", is_flag=True, help="No progress bar or per-Firework lines.")
@config_option
def run(max_fw, wf, fworker, launch_dir, wait, quiet, config):
    """Run READY Fireworks on this machine (FireWorks rapid-fire), with a progress bar."""
    from sseflow.workflows.store.client import connect

    _check_launch_dir(launch_dir)
    lp = _launchpad(config, wait)
    scope = _wf_ids(lp, wf)
    if connect(config).embedded:  # this process holds the store: a RUNNING Firework has no worker
        q = {"state": "RUNNING", **({"fw_id": {"$in": scope}} if scope else {})}
        stuck = [d["fw_id"] for d in lp.fireworks.find(q, {"fw_id": 1})]
        if stuck:
            _err(f"note: Firework(s) {', '.join(map(str, stuck))} are RUNNING with no worker (it stopped): "
                 f"'sseflow rerun --lost' reruns them in place")
    res = run_fireworks(lp, _fworker(fworker), max_fw, scope, launch_dir, progress=not quiet)
    _print_run(lp, res, scope)
    return 1 if res["fizzled_now"] > 0 else 0


# =========================================================================== status

def workflow_status(lp, wf: int | None = None) -> list[dict]:
    """Per workflow: id, name, state, counts by state, and its Fireworks (id, name, state, error)."""
    q = {} if wf is None else {"nodes": int(wf)}
    out = []
    for w in lp.workflows.find(q, {"nodes": 1, "name": 1, "state": 1, "metadata": 1, "updated_on": 1}).sort("_id", 1):
        fws = []
        counts: dict[str, int] = {}
        for fw in lp.fireworks.find({"fw_id": {"$in": w["nodes"]}},
                                    {"fw_id": 1, "name": 1, "state": 1, "launches": 1}).sort("fw_id", 1):
            counts[fw["state"]] = counts.get(fw["state"], 0) + 1
            row = {"fw_id": fw["fw_id"], "name": fw["name"], "state": fw["state"]}
            if fw["state"] == "FIZZLED":
                row["error"] = error_line(lp, fw)
            fws.append(row)
        out.append({"id": min(w["nodes"]), "name": w.get("name"), "state": w.get("state"), "counts": counts,
                    "study": (w.get("metadata") or {}).get("study"), "fireworks": fws})
    return out


@click.command()
@click.argument("wf", type=int, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@config_option
def status(wf, as_json, config):
    """States of the workflows (or of the Fireworks of workflow WF), with the error of each failure.

    Read-only: on the embedded store, the last saved state, also while a run holds the store.
    """
    from sseflow.analysis.errors import InputError
    from sseflow.workflows.store.launchpad import get_launchpad

    lp = get_launchpad(config, mode="snapshot")
    rows = workflow_status(lp, wf)
    if wf is not None and not rows:
        raise InputError(f"no workflow with Firework {wf} on this LaunchPad")
    if as_json:
        click.echo(json.dumps(rows, indent=1, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console(width=max(100, Console().width))
    if not rows:
        con.print("no workflows on this LaunchPad (sseflow submit STUDY.yaml adds one)")
        return
    t = Table(title="Workflows")
    for col in ("id", "name", "state", "Fireworks"):
        t.add_column(col)
    for w in rows:
        t.add_row(str(w["id"]), str(w["name"]), w["state"],
                  ", ".join(f"{n} {s.lower()}" for s, n in sorted(w["counts"].items())))
    con.print(t)
    show = rows if wf is not None else [w for w in rows if w["state"] not in ("COMPLETED",)]
    for w in show:
        ft = Table(title=f"Fireworks of workflow {w['id']} ({w['name']})")
        for col in ("fw_id", "name", "state", "error"):
            ft.add_column(col, overflow="fold")
        for fw in w["fireworks"]:
            if wf is None and fw["state"] == "COMPLETED":
                continue
            style = {"FIZZLED": "red", "RUNNING": "yellow", "COMPLETED": "green"}.get(fw["state"])
            ft.add_row(str(fw["fw_id"]), fw["name"], f"[{style}]{fw['state']}[/]" if style else fw["state"],
                       _short_error(fw.get("error")))
        con.print(ft)


# =========================================================================== rerun

def rerun_fireworks(lp, fizzled: bool, lost: bool, wf: int | None = None, expiration: float | None = None,
                    embedded: bool = False) -> dict:
    """Rerun FIZZLED Fireworks and/or lost runs; returns {"fizzled": [...], "lost": [...]}."""
    scope = _wf_ids(lp, wf)
    query = {"fw_id": {"$in": scope}} if scope else None
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
        q = {"state": "FIZZLED", **({"fw_id": {"$in": scope}} if scope else {})}
        for d in lp.fireworks.find(q, {"fw_id": 1}).sort("fw_id", 1):
            if d["fw_id"] in out["lost"]:
                continue
            lp.rerun_fw(d["fw_id"])
            out["fizzled"].append(d["fw_id"])
    return out


@click.command()
@click.option("--fizzled", is_flag=True, help="Rerun every FIZZLED Firework.")
@click.option("--lost", is_flag=True, help="Find runs whose worker died (detect_lostruns) and rerun them in place.")
@click.option("--wf", type=int, default=None, metavar="ID", help="Only in this workflow.")
@click.option("--expiration", type=POSITIVE, default=None, metavar="SECONDS",
              help="A RUNNING Firework is lost when not pinged for this long (default: 0 on the embedded store, "
                   "which this command holds; FireWorks' RUN_EXPIRATION_SECS on MongoDB).")
@config_option
def rerun(fizzled, lost, wf, expiration, config):
    """Rerun fizzled or lost Fireworks (LaunchPad.rerun_fw, detect_lostruns)."""
    from sseflow.analysis.errors import InputError
    from sseflow.workflows.store.client import connect

    if not (fizzled or lost):
        raise InputError("say what to rerun: --fizzled and/or --lost")
    lp = _launchpad(config)
    res = rerun_fireworks(lp, fizzled, lost, wf, expiration, embedded=connect(config).embedded)
    for kind in ("lost", "fizzled"):
        if (kind == "lost" and lost) or (kind == "fizzled" and fizzled):
            ids = res[kind]
            _err(f"{kind}: {len(ids)} Firework(s) set to run again" + (f": {', '.join(map(str, ids))}" if ids else ""))
    if res["lost"] or res["fizzled"]:
        _err("run them with: sseflow run")


# =========================================================================== study

def _find_unfinished(lp, study) -> int | None:
    if study.source is None:
        return None
    doc = lp.workflows.find_one({"metadata.study_file": str(study.source), "metadata.study": study.name,
                                 "metadata.study_hash": study.content_hash,
                                 "state": {"$nin": ["COMPLETED", "ARCHIVED", "DEFUSED"]}},
                                {"nodes": 1}, sort=[("_id", -1)])
    return None if doc is None else min(doc["nodes"])


def print_report(output: Path) -> None:
    from sseflow.analysis.tables import format_table, window_rows
    from sseflow.workflows.firetasks import reaction_table

    path = output / "report.json"
    if not path.is_file():
        _err(f"no report in {output}")
        return
    rep = json.loads(path.read_text())
    if rep.get("windows"):
        click.echo("Electrochemical stability windows (V vs Li/Li+):")
        click.echo(format_table(window_rows(rep["windows"]), "text"), nl=False)
    if rep.get("windows_at_temperature"):
        click.echo("\nWindows at temperature:")
        click.echo(format_table(window_rows(rep["windows_at_temperature"]), "text"), nl=False)
    if rep.get("reactions"):
        click.echo("\nInterfacial reactions (most negative E_rxn, meV/atom of mixture; x = atom fraction of partner):")
        click.echo(reaction_table(rep["reactions"], "text"), nl=False)
    if rep.get("interfaces"):
        click.echo("\nInterface cells:")
        for d in rep["interfaces"]:
            w = d.get("work_of_adhesion_J_m2")
            click.echo(f"  {d['electrolyte']} | {d['anode']}: {d['termination']}, {d['area_A2']:.1f} A2, "
                       f"strain {d['strain_percent']:.2f}%" + ("" if w is None else f", W_ad {w:.3f} J/m2"))
    refs = rep.get("reference_sets") or {}
    if refs:
        labels = {(v["reference"], v["hash"]) for v in refs.values()}
        if len(labels) == 1:
            (label, h), = labels
            click.echo(f"\nreference: {label} ({h[:12]})")
        else:
            click.echo("\nreference: " + "; ".join(f"{cs}: {v['reference']} ({v['hash'][:12]})"
                                                   for cs, v in refs.items()))
    click.echo(f"files in {output}: {', '.join(rep.get('files', []))}")


@click.command()
@click.argument("study_file", metavar="STUDY.yaml", type=click.Path(dir_okay=False))
@click.option("--max", "max_fw", type=COUNT, default=0, metavar="N", help="Stop after N Fireworks (0: all).")
@click.option("--new", is_flag=True, help="Always submit a new workflow (default: resume the unfinished one "
                                          "built from this very study file, unchanged).")
@click.option("--output", default=None, type=click.Path(file_okay=False), help="Report folder.")
@click.option("--fworker", default=None, type=click.Path(dir_okay=False), help="FireWorker file.")
@click.option("--launch-dir", default=None, type=click.Path(file_okay=False), help="Folder of the launch folders.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@config_option
def study(study_file, max_fw, new, output, fworker, launch_dir, quiet, config):
    """Submit, run and report a study in one command (on this machine)."""
    from sseflow.workflows.builders import build_workflow
    from sseflow.workflows.study import load_study
    from sseflow.workflows.store.client import connect

    t0 = time.monotonic()
    st = load_study(study_file)
    _check_launch_dir(launch_dir)
    lp = _launchpad(config)
    wf_id = None if new else _find_unfinished(lp, st)
    if wf_id is not None:
        scope = _wf_ids(lp, wf_id)
        res = rerun_fireworks(lp, False, True, wf_id, None, embedded=connect(config).embedded)
        _err(f"resuming workflow {wf_id} of {st.name}" + (f" (lost runs rerun: {res['lost']})" if res["lost"] else ""))
        meta = lp.workflows.find_one({"nodes": wf_id}, {"metadata": 1})["metadata"]
        out_dir = Path(meta["output"])
    else:
        out_dir = _check_submission(st, output)
        wf, plan = build_workflow(st, _store(config), out_dir)
        mapping = lp.add_wf(wf)
        wf_id = min(mapping.values())
        scope = sorted(mapping.values())
        _err(f"workflow {wf_id} '{st.name}': {_describe(wf, plan)}")
        for note in plan.notes:
            _err(f"note: {note}")
    res = run_fireworks(lp, _fworker(fworker), max_fw, scope, launch_dir, progress=not quiet)
    _print_run(lp, res, scope)
    states = res["states"]
    if states.get("COMPLETED", 0) == res["total"]:
        print_report(out_dir)
        _err(f"study {st.name} done in {time.monotonic() - t0:.1f} s")
        return 0
    if res["fizzled"]:
        return 1
    _err(f"study {st.name} not finished: run 'sseflow run --wf {wf_id}' to continue")
    return 0
