"""The embedded store never loses a write silently.

Symbolic links are written through, every route to a store file takes one lock, a save never
overwrites a file that changed since this process loaded it, FireWorks' own clients cannot
rewrite or clobber the file, a stale copy written back by FireWorks alone is undone (or, when it
added documents, refused until reconciled), a read-only store can still be read, a store held by a run can be
queried read-only, and ``db import`` is linear with one save. Child processes are used wherever
another process is the point.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helpers import INPUTS, ROWS, SSEFLOW
from sseflow.workflows.store import client as store_client
from sseflow.workflows.store.config import StoreError, StoreLockedError
from sseflow.workflows.store.api import store_results

ROOT = Path(__file__).resolve().parents[1]



def child_env(tmp_path, **extra: str) -> dict:
    e = {k: v for k, v in os.environ.items() if k not in ("SSEFLOW_DB", "SSEFLOW_CONFIG",
                                                          "MONGOMOCK_SERVERSTORE_FILE", "FW_CONFIG_FILE")}
    e["SSEFLOW_HOME"] = str(tmp_path / "home")
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.update(extra)
    return e


def cli(tmp_path, *args: str, prefix: tuple[str, ...] = (), stdin: str | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, SSEFLOW, *args], cwd=tmp_path,
                          env=child_env(tmp_path), capture_output=True, text=True, input=stdin, timeout=timeout)


def start_py(code: str, tmp_path, *args: str, **extra_env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=tmp_path,
                            env=child_env(tmp_path, **extra_env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(p: subprocess.Popen, stdin: str = "") -> tuple[int, str, str]:
    try:
        out, err = p.communicate(stdin, timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return p.returncode, out, err


def saved(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def docs_of(path: Path, coll: str, db: str = "sseflow") -> list[dict]:
    return [d for _, d in saved(path).get(db, {}).get(coll, {}).get("documents", [])]


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def export_file(path: Path, formulas: list[str], start: int = 0) -> Path:
    lines = [json.dumps({"sseflow_export": 1, "database": "sseflow", "schema_version": 1})]
    for i, f in enumerate(formulas, start):
        lines.append(json.dumps({"collection": "windows", "document": {
            "_id": {"$oid": f"{i:024x}"}, "key": f"window:{i:032x}", "formula": f}}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


HOLDER = """
import sys
from sseflow.workflows.store import client
h = client.connect(sys.argv[1])
h.db.windows.insert_one({"formula": "held"})
client.flush_all()
print("held", flush=True)
sys.stdin.readline()
"""


def wait_for_lock(lock: Path, pid: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text().split()[:1] == [str(pid)]:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} did not take {lock}")


# --------------------------------------------------------------------------- symbolic links

def test_a_symlinked_store_is_written_through_the_link(env):
    real_dir, link_dir = env / "real", env / "links"
    real_dir.mkdir()
    link_dir.mkdir()
    (real_dir / "store.json").write_text("{}")
    link = link_dir / "store.json"
    link.symlink_to(real_dir / "store.json")
    h = store_client.connect(f"embedded:{link}")
    h.db.windows.insert_one({"formula": "Li3PS4"})
    assert store_client.flush_all() == 1
    h.db.windows.insert_one({"formula": "LiF"})
    assert store_client.flush_all() == 1  # the second save too: the link was not replaced
    assert link.is_symlink() and link.resolve() == real_dir / "store.json"
    assert [d["formula"] for d in docs_of(real_dir / "store.json", "windows")] == ["Li3PS4", "LiF"]
    assert (real_dir / "store.json.lock").exists() and not (link_dir / "store.json.lock").exists()
    assert sorted(p.name for p in link_dir.iterdir()) == ["store.json"]  # no temporary file beside the link


def test_the_real_path_and_a_symlink_share_one_lock(env):
    real = env / "real" / "store.json"
    real.parent.mkdir()
    link = env / "link.json"
    link.symlink_to(real)
    holder = start_py(HOLDER, env, f"embedded:{real}")
    try:
        assert holder.stdout.readline().strip() == "held", holder.stderr.read()
        with pytest.raises(StoreLockedError, match=f"PID {holder.pid}"):
            store_client.connect(f"embedded:{link}")
        r = cli(env, "db", "import", str(export_file(env / "x.jsonl", ["LiF"])), "--config", f"embedded:{link}")
        assert r.returncode == 2
        line = one_line(r.stderr)
        assert f"PID {holder.pid}" in line and str(real) + ".lock" in line
    finally:
        rc, _, err = finish(holder, "\n")
    assert rc == 0, err
    assert [d["formula"] for d in docs_of(real, "windows")] == ["held"]


# --------------------------------------------------------------------------- stale copies

def test_a_file_changed_behind_the_process_is_not_overwritten(env):
    path = env / "store.json"
    h = store_client.connect(f"embedded:{path}")
    h.db.windows.insert_one({"formula": "mine-1"})
    store_client.flush_all()
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # touched, same bytes: still the same store
    h.db.windows.insert_one({"formula": "mine-2"})
    assert store_client.flush_all() == 1
    newer = '{"sseflow": {"windows": {"name": "windows", "documents": [[1, {"_id": 1, "formula": "theirs"}]]}}}'
    tmp = env / "other.json"
    tmp.write_text(newer)
    os.replace(tmp, path)  # another program replaced the file without the lock
    h.db.windows.insert_one({"formula": "mine-3"})
    with pytest.raises(StoreError, match="changed or replaced the file") as e:
        store_client.flush_all()
    msg = str(e.value)
    assert "\n" not in msg
    assert path.read_text() == newer  # not overwritten
    aside = Path(msg.split("saved to ")[1].split(" ")[0])
    assert aside.parent == env and aside.name.startswith("store.json.unsaved-")
    assert [d["formula"] for d in docs_of(aside, "windows")] == ["mine-1", "mine-2", "mine-3"]  # nothing lost


def test_a_second_writer_let_in_by_a_deleted_lock_file_is_not_overwritten(env):
    path = env / "store.json"
    spec = f"embedded:{path}"
    store_results("window", ROWS[:1], INPUTS, config=spec)
    store_client.close_all()
    first = subprocess.Popen([SSEFLOW, "db", "import", "-", "--config", spec],
                             cwd=env, env=child_env(env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        lock = env / "store.json.lock"
        wait_for_lock(lock, first.pid)  # the first import holds the store and waits for its input
        lock.unlink()
        r = cli(env, "db", "import", str(export_file(env / "b.jsonl", ["second"], start=100)), "--config", spec)
        assert r.returncode == 0, r.stderr  # the second writer could not know
        rc, out, err = finish(first, export_file(env / "a.jsonl", ["first"]).read_text())
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert rc == 2
    line = one_line(err)
    assert line.startswith("sseflow: error: embedded store") and "changed or replaced" in line
    assert sorted(d["formula"] for d in docs_of(path, "windows")) == ["Li3PS4", "second"]
    aside = Path(line.split("saved to ")[1].split(" ")[0])
    assert sorted(d["formula"] for d in docs_of(aside, "windows")) == ["Li3PS4", "first"]


# --------------------------------------------------------------------------- FireWorks' own clients

FIREWORKS_CLIENT = """
import sys
order, action = sys.argv[1], sys.argv[2]
if order == "fireworks-first":
    from fireworks import LaunchPad
    lp = LaunchPad(name="sseflow")
    import sseflow.workflows.store
else:
    import sseflow.workflows.store
    from fireworks import LaunchPad
    lp = LaunchPad(name="sseflow")
print(len(lp.get_wf_ids()), flush=True)
sys.stdin.readline()
if action == "write":
    from fireworks import Firework, ScriptTask
    lp.add_wf(Firework(ScriptTask.from_str("echo f"), name="from-fireworks"))
"""


def _add_workflow(spec: str, name: str) -> None:
    from fireworks import Firework, ScriptTask

    store_client.get_launchpad(spec).add_wf(Firework(ScriptTask.from_str("echo hi"), name=name))
    store_client.close_all()


@pytest.mark.parametrize("order", ["sseflow-first", "fireworks-first"])
@pytest.mark.parametrize("action", ["read", "write"])
def test_a_fireworks_launchpad_left_open_cannot_rewrite_or_clobber_the_store(env, order, action):
    path = env / "store.json"
    spec = f"embedded:{path}"
    _add_workflow(spec, "first")
    fw = start_py(FIREWORKS_CLIENT, env, order, action, MONGOMOCK_SERVERSTORE_FILE=str(path))
    try:
        assert fw.stdout.readline().strip() == "1", fw.stderr.read()
        _add_workflow(spec, "study")  # sseflow adds a workflow while the LaunchPad is open
        before = path.read_bytes()
        rc, _, err = finish(fw, "\n")
    finally:
        if fw.poll() is None:
            fw.kill()
            fw.wait()
    assert rc == 0, err
    assert sorted(d["name"] for d in docs_of(path, "fireworks")) == ["first", "study"]
    assert len(docs_of(path, "workflows")) == 2
    if action == "read":
        assert err.strip() == ""
        assert path.read_bytes() == before  # a client that only read never rewrites the file
    else:
        line = one_line(err)
        assert "not written" in line and "changed" in line
        aside = Path(line.split("saved to ")[1].split(" ")[0])
        assert "from-fireworks" in [d["name"] for d in docs_of(aside, "fireworks")]


def test_a_fireworks_launchpad_that_wrote_to_a_current_file_saves_it(env):
    path = env / "store.json"
    spec = f"embedded:{path}"
    _add_workflow(spec, "first")
    fw = start_py(FIREWORKS_CLIENT, env, "sseflow-first", "write", MONGOMOCK_SERVERSTORE_FILE=str(path))
    rc, _, err = finish(fw, "\n")
    assert rc == 0 and err.strip() == "", err
    assert sorted(d["name"] for d in docs_of(path, "fireworks")) == ["first", "from-fireworks"]
    assert not list(env.glob("store.json.unsaved-*"))


# --------------------------------------------------------------------------- read-only stores

def _read_only_runner(kind: str, folder: Path) -> tuple[str, ...]:
    """A command prefix under which ``folder`` cannot be written (a read-only file system, or
    modes 0555/0444, which root may ignore: then without the capabilities that let it)."""
    if kind == "filesystem":
        unshare = shutil.which("unshare")
        script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" && exec "$@"'
        if unshare is None or subprocess.run([unshare, "-m", "sh", "-c", script, str(folder), "true"],
                                             capture_output=True).returncode != 0:
            pytest.skip("cannot mount a read-only file system here (unshare -m and mount are needed)")
        return (unshare, "-m", "sh", "-c", script, str(folder))
    for p in folder.iterdir():
        p.chmod(0o444)
    folder.chmod(0o555)
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    caps = "-dac_override,-dac_read_search"
    if setpriv is None or subprocess.run([setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", "touch",
                                          str(folder / "probe")], capture_output=True).returncode == 0:
        pytest.skip("running as root and cannot drop the capability to ignore file modes")
    return (setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}")


@pytest.mark.parametrize("kind", ["filesystem", "folder"])
def test_a_read_only_store_can_be_read_and_no_lock_file_is_created(env, kind):
    from fireworks import Firework, ScriptTask

    folder = env / "ro"
    path = folder / "store.json"
    spec = f"embedded:{path}"
    store_results("window", ROWS, INPUTS, config=spec)
    store_client.get_launchpad(spec).add_wf(Firework(ScriptTask.from_str("echo hi"), name="probe"))
    store_client.close_all()
    (folder / "store.json.lock").unlink()
    content = path.read_bytes()
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["store.json", "store.json.sseflow-last", "store.json.sseflow-last.json"]
    prefix = _read_only_runner(kind, folder)
    try:
        r = cli(env, "query", "windows", "--config", spec, "--json", prefix=prefix)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert sorted(d["formula"] for d in json.loads(r.stdout)) == ["Li3PS4", "Li7La3Zr2O12"]
        r = cli(env, "status", "--config", spec, "--json", prefix=prefix)
        assert r.returncode == 0, r.stderr
        assert [w["name"] for w in json.loads(r.stdout)] == ["probe"]
        r = cli(env, "db", "export", "-", "--config", spec, prefix=prefix)
        assert r.returncode == 0, r.stderr
        assert len(r.stdout.splitlines()) == 1 + 2 + 3  # header, windows, the LaunchPad's documents
        r = cli(env, "db", "status", "--config", spec, "--json", prefix=prefix)
        assert r.returncode == 0 and json.loads(r.stdout)["collections"]["windows"] == 2, r.stderr
        r = cli(env, "db", "import", str(export_file(env / "x.jsonl", ["LiF"])), "--config", spec, prefix=prefix)
        assert r.returncode == 2 and "read-only" in one_line(r.stderr)
    finally:
        folder.chmod(0o755)
    assert sorted(p.name for p in folder.iterdir()) == files  # no lock file, no temporary file
    assert path.read_bytes() == content


def test_query_and_status_read_the_saved_state_while_a_run_holds_the_store(env):
    from fireworks import Firework, ScriptTask

    path = env / "store.json"
    spec = f"embedded:{path}"
    store_results("window", ROWS[:1], INPUTS, config=spec)
    store_client.get_launchpad(spec).add_wf(Firework(ScriptTask.from_str("echo hi"), name="probe"))
    store_client.close_all()
    holder = start_py(HOLDER, env, spec)
    try:
        assert holder.stdout.readline().strip() == "held", holder.stderr.read()
        stamp = os.stat(path)
        r = cli(env, "query", "windows", "--config", spec, "--json")
        assert r.returncode == 0, r.stderr
        assert sorted(d["formula"] for d in json.loads(r.stdout)) == ["Li3PS4", "held"]  # stdout: JSON only
        line = one_line(r.stderr)
        assert f"in use by another process (PID {holder.pid})" in line
        assert "showing the state saved" in line and " ago" in line
        r = cli(env, "status", "--config", spec, "--json")
        assert r.returncode == 0, r.stderr
        assert [w["name"] for w in json.loads(r.stdout)] == ["probe"]
        assert f"PID {holder.pid}" in one_line(r.stderr)
        r = cli(env, "query", "windows", "--config", spec)  # table output, the note on stderr
        assert r.returncode == 0 and "Li3PS4" in r.stdout and "in use" in one_line(r.stderr)
        r = cli(env, "db", "import", str(export_file(env / "x.jsonl", ["LiF"])), "--config", spec)
        assert r.returncode == 2 and f"PID {holder.pid}" in one_line(r.stderr)  # writers still wait their turn
        after = os.stat(path)
        assert (after.st_ino, after.st_mtime_ns, after.st_size) == (stamp.st_ino, stamp.st_mtime_ns, stamp.st_size)
    finally:
        rc, _, err = finish(holder, "\n")
    assert rc == 0, err


# --------------------------------------------------------------------------- import

def test_import_of_thousands_of_documents_is_one_save_and_linear(env, capsys, monkeypatch):
    import mongomock.collection

    from sseflow.workflows.cli.main import main

    n = 3000
    dump = export_file(env / "dump.jsonl", [f"Li{i}S" for i in range(n)])
    path = env / "store.json"
    spec = f"embedded:{path}"
    calls = {"filter": 0, "saves": 0}
    real_filter, real_replace = mongomock.collection.filter_applies, os.replace

    def counting_filter(*args, **kwargs):
        calls["filter"] += 1
        return real_filter(*args, **kwargs)

    def counting_replace(src, dst, *args, **kwargs):  # every save ends with a rename onto the store
        if Path(dst) == path:
            calls["saves"] += 1
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(mongomock.collection, "filter_applies", counting_filter)
    monkeypatch.setattr(os, "replace", counting_replace)

    def sseflow(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as e:
            main(list(args))
        out, err = capsys.readouterr()
        return e.value.code, out, err

    bad = env / "bad.jsonl"
    bad.write_text(dump.read_text() + "{not json\n")
    rc, out, err = sseflow("db", "import", str(bad), "--config", spec)
    assert rc == 2 and f"bad.jsonl:{n + 2}: not a JSON line" in one_line(err)
    handle = store_client.connect(spec)
    assert handle.db.windows.count_documents({}) == 0  # nothing imported
    calls["saves"] = 0  # (the first use created the empty store file)
    newer = export_file(env / "newer.jsonl", [f"Na{i}S" for i in range(n)])  # the same _ids and keys
    for source, saves in ((dump, 1), (newer, 1), (newer, 0)):  # into an empty store, then replacing all
        calls["filter"] = calls["saves"] = 0
        rc, out, err = sseflow("db", "import", str(source), "--config", spec)
        assert rc == 0 and f"imported {n} documents" in out, err
        # mongomock compares documents one by one: a per-document scan would be n * n / 2 of them
        assert calls["filter"] < n, calls
        assert calls["saves"] == saves, calls  # one save per import; none when nothing changed
    stored = docs_of(path, "windows")
    assert [d["formula"] for d in stored] == [f"Na{i}S" for i in range(n)]
    assert handle.db.windows.count_documents({}) == n


# --------------------------------------------------------------------------- a stale copy written back by FireWorks alone

BARE_FIREWORKS = """
import sys
from fireworks import LaunchPad
lp = LaunchPad(name="sseflow")
if sys.argv[1] == "create":
    lp.reset("", require_password=False)
print(len(lp.get_wf_ids()), flush=True)
if sys.argv[1] != "create":
    sys.stdin.readline()  # the store is loaded: sseflow writes meanwhile
if sys.argv[1] in ("write", "create"):
    from fireworks import Firework, ScriptTask
    lp.add_wf(Firework(ScriptTask.from_str("echo f"), name="from-fireworks"))
assert not any(m.split(".")[0] == "sseflow" for m in sys.modules), "sseflow was imported"
"""


def _bare_fireworks_around(env, path: Path, action: str, between) -> None:
    """A FireWorks process that never imports sseflow loads the store, ``between()`` runs, then it exits."""
    bare = start_py(BARE_FIREWORKS, env, action, MONGOMOCK_SERVERSTORE_FILE=str(path))
    try:
        assert bare.stdout.readline().strip().isdigit(), bare.stderr.read()
        between()
        rc, _, err = finish(bare, "\n")
    finally:
        if bare.poll() is None:
            bare.kill()
            bare.wait()
    assert rc == 0 and err.strip() == "", err


def _generation_in(path: Path) -> int:
    return saved(path)["_sseflow_store"]["generation"]["documents"][0][1]["generation"]


def _wf_names(path: Path) -> list[str]:
    return sorted(d["name"] for d in docs_of(path, "fireworks"))


def test_a_stale_copy_written_back_by_fireworks_alone_is_undone_on_the_next_open(env, capsys):
    path = env / "store.json"
    spec = f"embedded:{path}"
    _add_workflow(spec, "first")
    _bare_fireworks_around(env, path, "read", lambda: _add_workflow(spec, "study"))
    assert _wf_names(path) == ["first"]  # its at-exit write put the file back in time
    stale = path.read_bytes()
    capsys.readouterr()

    lp = store_client.get_launchpad(spec, mode="read")  # reading: the last state sseflow wrote, nothing written
    assert len(lp.get_wf_ids()) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("sseflow: note: embedded store") and "overwritten" in line and "read-only" in line
    assert path.read_bytes() == stale and not list(env.glob("store.json.overwritten-*"))
    store_client.close_all()

    lp = store_client.get_launchpad(spec)  # writing: put back, the overwriting copy kept aside
    assert sorted(lp.get_wf_ids()) == [1, 2]
    line = one_line(capsys.readouterr().err)
    assert line.startswith("sseflow: note: embedded store") and "put back" in line
    aside = Path(line.split("saved to ")[1].split(" ")[0])
    assert aside.parent == env and aside.name.startswith("store.json.overwritten-")
    assert aside.read_bytes() == stale
    assert _wf_names(path) == ["first", "study"] and len(docs_of(path, "workflows")) == 2
    store_client.close_all()
    store_client.get_launchpad(spec)  # once undone, nothing more to say
    store_client.close_all()
    assert capsys.readouterr().err == ""
    assert _wf_names(path) == ["first", "study"]


def test_a_stale_copy_that_added_a_workflow_is_refused_until_reconciled(env):
    path = env / "store.json"
    spec = f"embedded:{path}"
    _add_workflow(spec, "first")
    _bare_fireworks_around(env, path, "write", lambda: _add_workflow(spec, "study"))
    theirs = path.read_bytes()
    assert _wf_names(path) == ["first", "from-fireworks"]  # "study" is only in sseflow's last state
    snapshot = env / "store.json.sseflow-last"
    for args in (("db", "import", str(export_file(env / "x.jsonl", ["LiF"]))), ("status", "--json")):
        r = cli(env, *args, "--config", spec)
        assert r.returncode == 2
        line = one_line(r.stderr)
        assert line.startswith("sseflow: error: embedded store") and "reconcile" in line
        assert str(path) in line and str(snapshot) in line and "sseflow.workflows" in line
        assert path.read_bytes() == theirs  # nothing changed, nothing lost
    assert "study" in [d["name"] for d in docs_of(snapshot, "fireworks")]
    shutil.copyfile(snapshot, path)  # reconciled: sseflow's last state, the other workflow added again
    _add_workflow(spec, "from-fireworks")
    assert _wf_names(path) == ["first", "from-fireworks", "study"]


def test_sseflow_alone_and_up_to_date_fireworks_clients_raise_no_alarm(env):
    path = env / "store.json"
    spec = f"embedded:{path}"
    _add_workflow(spec, "first")
    first = _generation_in(path)
    store_results("window", ROWS[:1], INPUTS, config=spec)
    store_client.close_all()
    assert _generation_in(path) == first + 1
    record = json.loads((env / "store.json.sseflow-last.json").read_text())
    assert record["generation"] == first + 1 and (env / "store.json.sseflow-last").read_bytes() == path.read_bytes()
    _bare_fireworks_around(env, path, "read", lambda: None)  # loaded the newest copy: its rewrite is current
    _bare_fireworks_around(env, path, "write", lambda: None)
    for args in (("status", "--json"), ("db", "import", str(export_file(env / "x.jsonl", ["LiF"])))):
        r = cli(env, *args, "--config", spec)
        assert r.returncode == 0 and r.stderr == "", r.stderr
    assert _wf_names(path) == ["first", "from-fireworks"]
    assert sorted(d["formula"] for d in docs_of(path, "windows")) == ["Li3PS4", "LiF"]
    assert _generation_in(path) == first + 2
    assert not list(env.glob("store.json.overwritten-*")) and not list(env.glob("store.json.unsaved-*"))


def test_a_store_created_by_fireworks_alone_is_adopted(env, capsys):
    path = env / "store.json"
    path.write_text("{}")
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(BARE_FIREWORKS), "create"], cwd=env,
                       env=child_env(env, MONGOMOCK_SERVERSTORE_FILE=str(path)), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "_sseflow_store" not in saved(path) and not (env / "store.json.sseflow-last.json").exists()
    _add_workflow(f"embedded:{path}", "study")
    assert capsys.readouterr().err == ""
    assert _wf_names(path) == ["from-fireworks", "study"]
    assert _generation_in(path) == 1
