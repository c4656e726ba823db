"""``sseflow config show|fireworks`` and the default reference file: plain ``lpad``/``rlaunch``
on the files sseflow writes, for the embedded store and a MongoDB server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from helpers import ROOT, drop_database, run_cli, uri_with_db

BIN = Path(sys.executable).parent
SSEFLOW_VARS = ("SSEFLOW_DB", "SSEFLOW_CONFIG", "SSEFLOW_HOME", "SSEFLOW_REFERENCE", "MONGOMOCK_SERVERSTORE_FILE",
                "FW_CONFIG_FILE")


def clean_env(tmp_path: Path, **extra: str) -> dict:
    """The environment without sseflow's or FireWorks' variables, with a home of its own."""
    env = {k: v for k, v in os.environ.items() if k not in SSEFLOW_VARS}
    home = tmp_path / "userhome"
    home.mkdir(exist_ok=True)
    env["HOME"] = str(home)  # no ~/.fireworks/FW_config.yaml, no ~/.sseflow
    env.update(extra)
    return env


def sseflow(tmp_path: Path, *args, **env) -> subprocess.CompletedProcess:
    return run_cli(*args, env={**clean_env(tmp_path), **env})


def fireworks_tool(tool: str, tmp_path: Path, fw_config: Path, *args) -> subprocess.CompletedProcess:
    """Plain ``lpad``/``rlaunch``: only FW_CONFIG_FILE tells it where the store is."""
    cwd = tmp_path / "fwcwd"
    cwd.mkdir(exist_ok=True)
    env = clean_env(tmp_path, FW_CONFIG_FILE=str(fw_config))
    env = {k: v for k, v in env.items() if k not in SSEFLOW_VARS or k == "FW_CONFIG_FILE"}
    return subprocess.run([str(BIN / tool), *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=180)


def add_trivial_workflow(spec: str, name: str) -> int:
    """A one-Firework workflow added by sseflow's LaunchPad, in a fresh process (the store closed
    at its exit); returns the Firework id."""
    code = f"""
from fireworks import Firework, PyTask, Workflow
from sseflow.workflows.store import get_launchpad
from sseflow.workflows.store import client
lp = get_launchpad({spec!r})
fw = Firework([PyTask(func="os.getcwd")], name="trivial")
ids = lp.add_wf(Workflow([fw], name={name!r}))
client.close_all()
print(list(ids.values())[0])
"""
    env = {k: v for k, v in os.environ.items() if k not in SSEFLOW_VARS}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return int(r.stdout.strip().splitlines()[-1])


def fw_state(spec: str, fw_id: int) -> str:
    code = f"""
from sseflow.workflows.store import get_launchpad
print(get_launchpad({spec!r}, mode="snapshot").get_fw_by_id({fw_id}).state)
"""
    env = {k: v for k, v in os.environ.items() if k not in SSEFLOW_VARS}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


def test_embedded_lpad_and_rlaunch_on_written_files(tmp_path):
    store = tmp_path / "proj" / "store.json"
    spec = f"embedded:{store}"
    fw_id = add_trivial_workflow(spec, "trivial-wf")
    out = tmp_path / "fw"
    r = sseflow(tmp_path, "config", "fireworks", "-o", out, "--config", spec)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    fw_config = out / "FW_config.yaml"
    assert f"export FW_CONFIG_FILE={fw_config}" in r.stderr and "lpad get_wflows" in r.stderr
    import yaml

    cfg = yaml.safe_load(fw_config.read_text())
    assert cfg["MONGOMOCK_SERVERSTORE_FILE"] == os.path.realpath(store)
    assert cfg["LAUNCHPAD_LOC"] == str(out / "my_launchpad.yaml")
    assert cfg["FWORKER_LOC"] == str(out / "my_fworker.yaml")
    assert cfg["FW_NAME_UPDATES"]["{{workflows.firetasks.RelaxTask}}"] == "{{sseflow.workflows.firetasks.RelaxTask}}"

    r = fireworks_tool("lpad", tmp_path, fw_config, "get_wflows", "-d", "more")
    assert r.returncode == 0, r.stderr
    wfs = json.loads(r.stdout)
    wfs = wfs if isinstance(wfs, list) else [wfs]
    assert [w["name"] for w in wfs] == [f"trivial-wf--{fw_id}"]
    assert wfs[0]["states"] == {f"trivial--{fw_id}": "READY"}

    r = fireworks_tool("rlaunch", tmp_path, fw_config, "singleshot")
    assert r.returncode == 0, r.stderr
    assert fw_state(spec, fw_id) == "COMPLETED"


def test_refuses_to_overwrite_and_unwritable(tmp_path):
    spec = f"embedded:{tmp_path / 'store.json'}"
    out = tmp_path / "fw"
    out.mkdir()
    (out / "my_fworker.yaml").write_text("name: mine\n")
    r = sseflow(tmp_path, "config", "fireworks", "-o", out, "--config", spec)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "my_fworker.yaml" in r.stderr and "--force" in r.stderr
    assert (out / "my_fworker.yaml").read_text() == "name: mine\n"
    assert not (out / "FW_config.yaml").exists()
    r = sseflow(tmp_path, "config", "fireworks", "-o", out, "--config", spec, "--force")
    assert r.returncode == 0, r.stderr
    assert "name: mine" not in (out / "my_fworker.yaml").read_text()

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    r = sseflow(tmp_path, "config", "fireworks", "-o", blocker / "sub", "--config", spec)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert str(blocker) in r.stderr


def test_password_is_never_written_or_shown(tmp_path, monkeypatch):
    uri = "mongodb://alice:s3cr%40tPW@db.example.org:27017/labdb?authSource=admin"
    out = tmp_path / "fw"
    r = sseflow(tmp_path, "config", "fireworks", "-o", out, "--config", uri)
    assert r.returncode == 0, r.stderr
    assert "s3cr" not in r.stderr + r.stdout
    for name in ("my_launchpad.yaml", "my_fworker.yaml", "FW_config.yaml"):
        assert "s3cr" not in (out / name).read_text()
    import yaml

    lp = yaml.safe_load((out / "my_launchpad.yaml").read_text())
    assert lp["uri_mode"] is True and lp["name"] == "labdb"
    assert lp["host"] == "mongodb://alice:${SSEFLOW_DB_PASSWORD}@db.example.org:27017/labdb?authSource=admin"
    assert "MONGOMOCK_SERVERSTORE_FILE" not in yaml.safe_load((out / "FW_config.yaml").read_text())
    # sseflow reads the written file back, the password from the environment
    from sseflow.workflows.store.config import from_file

    monkeypatch.setenv("SSEFLOW_DB_PASSWORD", "s3cr%40tPW")  # as written in a URI: percent-encoded
    assert from_file(out / "my_launchpad.yaml").uri == uri

    for args in (("config", "show"), ("config", "show", "--json")):
        r = sseflow(tmp_path, *args, SSEFLOW_DB=uri)
        assert r.returncode == 0, r.stderr
        assert "s3cr" not in r.stdout + r.stderr
    info = json.loads(r.stdout)
    assert info["uri"] == "mongodb://alice:***@db.example.org:27017/labdb?authSource=admin"
    assert info["source"] == "SSEFLOW_DB" and info["backend"] == "mongodb" and info["database"] == "labdb"


def test_show_names_the_file_and_the_default_reference(tmp_path, mp_csv):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(f"db:\n  embedded: data/store.json\nreference: {mp_csv}\n")
    r = sseflow(tmp_path, "config", "show", "--json", SSEFLOW_HOME=str(home))
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["config_file"] == str(home / "config.yaml")
    assert info["store_path"] == str(home / "data" / "store.json")
    assert info["sseflow_home"] == str(home)
    assert info["reference"] == str(mp_csv) and "config.yaml" in info["reference_source"]
    r = sseflow(tmp_path, "config", "show", "--json", SSEFLOW_HOME=str(home), SSEFLOW_REFERENCE="/x/other.csv")
    assert json.loads(r.stdout)["reference"] == "/x/other.csv"
    assert json.loads(r.stdout)["reference_source"] == "SSEFLOW_REFERENCE"
    r = sseflow(tmp_path, "config", "show", SSEFLOW_HOME=str(home))
    assert r.returncode == 0 and "config.yaml" in r.stdout and str(mp_csv) in r.stdout


def test_default_reference_replaces_the_option(tmp_path, mp_csv):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(f"reference: {mp_csv}\n")
    given = sseflow(tmp_path, "window", "Li3PS4", "--json", "--no-profile", "--reference", mp_csv)
    assert given.returncode == 0, given.stderr
    from_file = sseflow(tmp_path, "window", "Li3PS4", "--json", "--no-profile", SSEFLOW_HOME=str(home))
    assert from_file.returncode == 0, from_file.stderr
    assert json.loads(from_file.stdout) == json.loads(given.stdout)
    from_env = sseflow(tmp_path, "window", "Li3PS4", "--json", "--no-profile", SSEFLOW_REFERENCE=str(mp_csv))
    assert from_env.returncode == 0, from_env.stderr
    assert json.loads(from_env.stdout) == json.loads(given.stdout)
    # the environment wins over the file: a missing file named there is reported
    r = sseflow(tmp_path, "window", "Li3PS4", SSEFLOW_HOME=str(home), SSEFLOW_REFERENCE=str(tmp_path / "no.csv"))
    assert r.returncode == 2 and "no.csv" in r.stderr


def test_missing_reference_names_both_ways(tmp_path):
    for cmd in (("window", "Li3PS4"), ("react", "Li3PS4", "Li"), ("screen", "Li3PS4")):
        r = sseflow(tmp_path, *cmd, SSEFLOW_HOME=str(tmp_path / "emptyhome"))
        assert r.returncode == 2, (cmd, r.stderr)
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
        assert "--reference" in r.stderr and "SSEFLOW_REFERENCE" in r.stderr and "reference: PATH" in r.stderr


@pytest.mark.mongodb
def test_mongodb_lpad_on_written_files(tmp_path, mongodb_uri):
    spec = uri_with_db(mongodb_uri, f"sseflow_cfg_{uuid.uuid4().hex[:8]}")
    try:
        fw_id = add_trivial_workflow(spec, "trivial-mongo")
        out = tmp_path / "fw"
        r = sseflow(tmp_path, "config", "fireworks", "-o", out, "--config", spec)
        assert r.returncode == 0, r.stderr
        import yaml

        assert "MONGOMOCK_SERVERSTORE_FILE" not in yaml.safe_load((out / "FW_config.yaml").read_text())
        r = fireworks_tool("lpad", tmp_path, out / "FW_config.yaml", "get_wflows", "-d", "more")
        assert r.returncode == 0, r.stderr
        wfs = json.loads(r.stdout)
        wfs = wfs if isinstance(wfs, list) else [wfs]
        assert [w["name"] for w in wfs] == [f"trivial-mongo--{fw_id}"]
        assert wfs[0]["states"] == {f"trivial--{fw_id}": "READY"}
    finally:
        drop_database(spec)
