"""Benchmark: per-Firework overhead of sseflow's path vs bare FireWorks, on the embedded store.

Both sides run N trivial Fireworks (one Firetask that returns an ``FWAction`` with a little
``stored_data``) on the same kind of store: the embedded mongomock-persistence store opened by
``sseflow.workflows.store.get_launchpad()`` (one client, one lock), in a fresh temporary folder per run.

* bare FireWorks: ``rocket_launcher.rapidfire(lp, FWorker(), m_dir=...)`` with a plain
  ``FiretaskBase`` task; the store is flushed once at the end (what makes the result durable;
  mongomock-persistence alone writes it only at interpreter exit);
* sseflow: ``sseflow.workflows.cli.flow.run_fireworks`` (what ``sseflow run`` / ``sseflow study`` call:
  FireWorker query, launch folders, per-Firework state, progress bookkeeping, warnings log,
  flushes every ``sseflow_flush_interval`` s and at the end) with a task derived from sseflow's
  Firetask base (``context()``: the store of the Rocket's LaunchPad, the Firework id).

Each side runs in its own fresh store, alternating which goes first, ``--repeat`` times; the
reported time per Firework is the median and the best run, as process CPU time (less disturbed
on a shared machine) and as wall time. The overhead is (sseflow - bare) / bare.

Run:  .venv/bin/python benchmarks/workflow_overhead.py [-n 200] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fireworks import Firework, FiretaskBase, FWAction, FWorker, Workflow, explicit_serialize  # noqa: E402

from sseflow.workflows.firetasks import _StudyTask  # noqa: E402


@explicit_serialize
class BareNoop(FiretaskBase):
    """A trivial FireWorks task."""

    def run_task(self, fw_spec):
        return FWAction(stored_data={"i": self.get("i")})


@explicit_serialize
class StudyNoop(_StudyTask):
    """The same, through sseflow's Firetask base (store of the Rocket's LaunchPad, fw id)."""

    def run_task(self, fw_spec):
        store, spec = self.context(fw_spec)
        return FWAction(stored_data={"i": self.get("i"), "fw_id": spec["_sseflow_fw_id"]})


def _workflow(n: int, task_cls, flag: bool) -> Workflow:
    spec = {"_add_launchpad_and_fw_id": True} if flag else {}
    return Workflow([Firework([task_cls(i=i)], spec=dict(spec), name=f"noop {i}", fw_id=-(i + 1))
                     for i in range(n)], name="overhead")


def _fresh_store(root: Path):
    from sseflow.workflows.store import client

    client.close_all()
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    os.environ["SSEFLOW_HOME"] = str(root / "home")
    for var in ("SSEFLOW_DB", "SSEFLOW_CONFIG", "MONGOMOCK_SERVERSTORE_FILE"):
        os.environ.pop(var, None)
    from sseflow.workflows.store import get_launchpad

    return get_launchpad()


def run_bare(root: Path, n: int) -> float:
    from fireworks.core.rocket_launcher import rapidfire

    from sseflow.workflows.store import flush_all

    lp = _fresh_store(root)
    lp.add_wf(_workflow(n, BareNoop, False))
    mdir = root / "bare"
    mdir.mkdir()
    cwd = os.getcwd()
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        rapidfire(lp, FWorker(), m_dir=str(mdir), nlaunches=0, max_loops=1, strm_lvl="CRITICAL")
        flush_all()
    finally:
        os.chdir(cwd)  # rapidfire leaves the process in m_dir
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    assert lp.fireworks.count_documents({"state": "COMPLETED"}) == n
    return dt, dc


def run_sseflow(root: Path, n: int) -> float:
    from sseflow.workflows.cli.flow import run_fireworks

    lp = _fresh_store(root)
    ids = sorted(lp.add_wf(_workflow(n, StudyNoop, True)).values())
    t0, c0 = time.perf_counter(), time.process_time()
    res = run_fireworks(lp, FWorker(name="bench"), 0, ids, launch_root=root / "launches", progress=False)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    assert res["completed"] == n, res
    return dt, dc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=200, help="Fireworks per run (default 200)")
    ap.add_argument("--repeat", type=int, default=4, help="runs per side (default 4)")
    args = ap.parse_args()

    import fireworks.core.rocket as rocket_mod

    rocket_mod.ROCKET_STREAM_LOGLEVEL = "CRITICAL"
    tmp = Path(tempfile.mkdtemp(prefix="sseflow_overhead_"))
    bare, ours = [], []
    try:
        run_bare(tmp / "warm", 10)  # imports, first-use costs
        run_sseflow(tmp / "warm", 10)
        for r in range(args.repeat):
            order = (("bare", run_bare), ("sseflow", run_sseflow)) if r % 2 == 0 else \
                (("sseflow", run_sseflow), ("bare", run_bare))
            for name, fn in order:
                dt, dc = fn(tmp / f"{name}{r}", args.n)
                (bare if name == "bare" else ours).append((dt, dc))
                print(f"run {r + 1} {name:8s} {args.n} Fireworks in {dt:6.2f} s wall, {dc:6.2f} s CPU  "
                      f"({1000 * dt / args.n:6.1f} ms/FW wall, {1000 * dc / args.n:6.1f} ms/FW CPU)", flush=True)
    finally:
        from sseflow.workflows.store import client

        client.close_all()
        shutil.rmtree(tmp, ignore_errors=True)
    for i, what in ((1, "CPU time"), (0, "wall time")):
        for stat, fn in (("median", statistics.median), ("best", min)):
            b = fn(x[i] for x in bare)
            s = fn(x[i] for x in ours)
            print(f"per Firework, {what}, {stat} of {args.repeat}: bare FireWorks {1000 * b / args.n:.1f} ms, "
                  f"sseflow {1000 * s / args.n:.1f} ms; sseflow adds {100 * (s - b) / b:+.1f}% (goal <= 10%)")


if __name__ == "__main__":
    main()
