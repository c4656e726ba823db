"""The embedded (mongomock-persistence) store: lock, atomic flush, at-exit writes, FireWorks sharing.

These properties exist only for the file store, so they run on it alone; every test works
in a temporary folder, with child Python processes where a second process is the point.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helpers import SSEFLOW
from sseflow.workflows.store import client as store_client
from sseflow.workflows.store.config import StoreLockedError

ROOT = Path(__file__).resolve().parents[1]


def child_env(tmp_path) -> dict:
    e = {k: v for k, v in os.environ.items() if k not in ("SSEFLOW_DB", "SSEFLOW_CONFIG",
                                                          "MONGOMOCK_SERVERSTORE_FILE", "FW_CONFIG_FILE")}
    e["SSEFLOW_HOME"] = str(tmp_path / "home")
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def run_py(code: str, tmp_path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=tmp_path,
                          env=child_env(tmp_path), capture_output=True, text=True, timeout=timeout)


def load_file(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def docs_of(saved: dict, coll: str, db: str = "sseflow") -> list[dict]:
    return [d for _, d in saved.get(db, {}).get(coll, {}).get("documents", [])]


def test_first_use_creates_an_empty_store_and_default_path(env):
    h = store_client.connect()
    path = env / "home" / "store.json"
    assert h.config.path == path and h.config.source == "default"
    assert path.read_text() == "{}"
    assert os.environ["MONGOMOCK_SERVERSTORE_FILE"] == str(path)  # FireWorks' selector of the file store
    assert store_client.connect() is h  # one client per process
    assert store_client.flush_all() == 0  # nothing changed: the file is not rewritten
    h.db.windows.insert_one({"formula": "Li3PS4"})
    assert store_client.flush_all() == 1
    assert docs_of(load_file(path), "windows")[0]["formula"] == "Li3PS4"
    store_client.close_all()
    assert "MONGOMOCK_SERVERSTORE_FILE" not in os.environ


def test_second_process_fails_at_once_with_the_lock_holder(env):
    spec = f"embedded:{env / 'store.json'}"
    store_client.connect(spec)
    t0 = time.monotonic()
    r = subprocess.run([SSEFLOW, "db", "status", "--config", spec],
                       cwd=env, env=child_env(env), capture_output=True, text=True, timeout=30)
    elapsed = time.monotonic() - t0
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert str(env / "store.json.lock") in lines[0] and f"PID {os.getpid()}" in lines[0]
    assert elapsed < 10
    # in-process, a second handle on the same file is the same client, never a second lock
    assert store_client.connect(spec) is store_client.connect(f"embedded:{env}/./store.json")
    store_client.close_all()  # released: the next process gets it
    r = subprocess.run([SSEFLOW, "db", "status", "--config", spec],
                       cwd=env, env=child_env(env), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "embedded" in r.stdout


def test_lock_error_class_in_process(env):
    spec = f"embedded:{env / 'store.json'}"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time
        from sseflow.workflows.store import client
        client.connect(sys.argv[1]); print("held", flush=True); time.sleep(30)
        """), spec], cwd=env, env=child_env(env), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreLockedError, match=f"PID {holder.pid}"):
            store_client.connect(spec)
    finally:
        holder.kill()
        holder.wait()
    store_client.connect(spec)  # a killed holder releases the lock


WRITER = """
import os, sys, time
from sseflow.workflows.store import client
h = client.connect(sys.argv[1])
stall_at = int(sys.argv[2]) if len(sys.argv) > 2 else -1
db = h.db
if db.pad.count_documents({}) == 0:
    db.pad.insert_many([{"i": i, "blob": "x" * 1500, "vals": list(range(40))} for i in range(600)])
    client.flush_all()
k = db.seq.count_documents({})
real_fsync = os.fsync
while True:
    db.seq.insert_one({"n": k, "blob": "y" * 1000})
    if k == stall_at:  # stop inside the flush: new data written to disk, not yet renamed
        def stalled_fsync(fd):
            real_fsync(fd)
            print("stalled", flush=True)
            time.sleep(60)
        os.fsync = stalled_fsync
    client.flush_all()
    print(k, flush=True)
    k += 1
"""


def _writer(spec: str, env_dir, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, spec, *args], cwd=env_dir, env=child_env(env_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_inside_a_flush_keeps_the_previous_complete_file(env):
    path = env / "store.json"
    spec = f"embedded:{path}"
    p = _writer(spec, env, "3")
    try:
        out = [p.stdout.readline().strip() for _ in range(4)]
        assert out == ["0", "1", "2", "stalled"], p.stderr.read() if p.poll() is not None else out
        tmp = list(env.glob(".store.json.*.tmp"))
        assert len(tmp) == 1 and tmp[0].stat().st_size > path.stat().st_size  # the new state, not yet renamed
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    saved = load_file(path)
    assert sorted(d["n"] for d in docs_of(saved, "seq")) == [0, 1, 2]  # the last complete flush
    h = store_client.connect(spec)
    assert h.db.seq.count_documents({}) == 3 and not list(env.glob(".store.json.*.tmp"))


def test_kill_at_random_moments_never_corrupts_the_file(env):
    path = env / "store.json"
    spec = f"embedded:{path}"
    rng = random.Random(4)
    last = -1
    for round_ in range(3):
        p = _writer(spec, env)
        try:
            want = rng.randint(2, 5)
            lines = []
            while len(lines) < want:
                line = p.stdout.readline()
                assert line, p.stderr.read()
                lines.append(int(line))
            time.sleep(rng.uniform(0.0, 0.05))
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
            lines += [int(x) for x in p.stdout.read().split()]
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert p.returncode == -signal.SIGKILL
        saved = load_file(path)  # a complete JSON document, whatever the moment of the kill
        seq = sorted(d["n"] for d in docs_of(saved, "seq"))
        assert len(docs_of(saved, "pad")) == 600
        assert lines[-1] > last
        # every flush that was reported is in the file; at most one more completed unreported
        assert seq == list(range(len(seq))) and len(seq) - 1 in (lines[-1], lines[-1] + 1)
        last = seq[-1]
    h = store_client.connect(spec)  # the store opens and temporary files of killed writers are gone
    assert h.db.seq.count_documents({}) == last + 1
    assert not list(env.glob(".store.json.*.tmp"))


def test_normal_exit_writes_and_hard_exit_keeps_the_last_flush(env):
    spec = f"embedded:{env / 'store.json'}"
    code = """
        import os, sys
        from sseflow.workflows.store import client
        db = client.connect(sys.argv[1]).db
        db.windows.insert_one({"formula": "Li3PS4"})
        client.flush_all()
        db.windows.insert_one({"formula": sys.argv[2]})
        if sys.argv[2] == "hard":
            os._exit(0)
    """
    r = run_py(code, env, spec, "LiF")
    assert r.returncode == 0, r.stderr
    assert [d["formula"] for d in docs_of(load_file(env / "store.json"), "windows")] == ["Li3PS4", "LiF"]
    r = run_py(code, env, spec, "hard")
    assert r.returncode == 0, r.stderr
    # the unflushed write of a process that did not exit normally is lost, the flushed state is intact
    assert [d["formula"] for d in docs_of(load_file(env / "store.json"), "windows")] == ["Li3PS4", "LiF",
                                                                                        "Li3PS4"]


def test_a_second_in_memory_copy_never_overwrites_the_shared_one(env):
    spec = f"embedded:{env / 'store.json'}"
    r = run_py("""
        import sys
        from sseflow.workflows.store import client
        db = client.connect(sys.argv[1]).db
        import mongomock_persistence
        stray = mongomock_persistence.MongoClient()  # loads its own copy, as a second LaunchPad would
        stray.sseflow.windows.insert_one({"formula": "stray"})
        db.windows.insert_one({"formula": "shared"})
    """, env, spec)
    assert r.returncode == 0, r.stderr
    assert "second in-memory copy" in r.stderr
    assert [d["formula"] for d in docs_of(load_file(env / "store.json"), "windows")] == ["shared"]


def test_launchpad_when_fireworks_was_imported_first_and_plain_fireworks_reads_the_file(env):
    spec = f"embedded:{env / 'store.json'}"
    r = run_py("""
        import sys
        import pymongo
        import fireworks.core.launchpad as lpm
        assert lpm.MongoClient is pymongo.MongoClient  # imported before the store was configured
        from fireworks import Firework, ScriptTask
        from sseflow.workflows.store import get_launchpad, open_store
        lp = get_launchpad(sys.argv[1])
        lp.add_wf(Firework(ScriptTask.from_str("echo hi"), name="probe"))
        with open_store(sys.argv[1]) as store:
            assert store.db.fireworks.count_documents({}) == 1
    """, env, spec)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == ""
    # FireWorks alone (what lpad / rlaunch do) selects the same file with MONGOMOCK_SERVERSTORE_FILE
    e = child_env(env)
    e["MONGOMOCK_SERVERSTORE_FILE"] = str(env / "store.json")
    r = subprocess.run([sys.executable, "-c", "from fireworks import LaunchPad\n"
                        "lp = LaunchPad(name='sseflow')\nprint(lp.get_fw_ids(), lp.get_fw_by_id(1).name)"],
                       cwd=env, env=e, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["[1]", "probe"]


def test_corrupt_store_file_is_a_store_error(env):
    from sseflow.workflows.store.config import StoreError

    path = env / "store.json"
    path.write_text('{"sseflow": {"windows": ')
    with pytest.raises(StoreError, match="cannot be loaded") as e:
        store_client.connect(f"embedded:{path}")
    assert type(e.value).__name__ == "StoreError"
    assert path.read_text() == '{"sseflow": {"windows": '  # left for the user to inspect
    path.write_text("{}")
    store_client.connect(f"embedded:{path}")  # the failed open released the lock


def test_rows_stored_by_one_process_are_read_by_the_next(env):
    rows = [{"formula": f, "reduction_V": 1.0 + i / 10, "oxidation_V": None if i == 2 else 2.5,
             "reduction_reaction": "r", "oxidation_reaction": "o", "reduction_products": ["Li2S"],
             "oxidation_products": [], "e_above_hull_meV": None, "in_reference": i % 2 == 0,
             "decomposition_energy_0V_meV": -1.0 * i, "decomposition_energy_5V_meV": 0.0,
             "profile": [{"potential_V": 0.0, "li_per_formula": 2 * i, "reaction": "p"}], "chemsys": "x"}
            for i, f in enumerate(["Li3PS4", "Li6PS5Cl", "Li10GeP2S12", "Li7La3Zr2O12", "LiF"])]
    r = run_py("""
        import json, sys
        from sseflow.workflows.store import store_results
        print(store_results("window", json.loads(sys.argv[1]), {"reference_hash": "h", "exclude": []}))
    """, env, json.dumps(rows))  # default store: $SSEFLOW_HOME/store.json
    assert r.returncode == 0 and r.stdout.strip() == "5", r.stderr
    from sseflow.workflows.store import load_window_rows

    assert load_window_rows() == rows
    assert [x["formula"] for x in load_window_rows(["LiF", "Li3PS4"])] == ["LiF", "Li3PS4"]
