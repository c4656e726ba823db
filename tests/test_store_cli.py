"""``sseflow db`` and ``sseflow query`` through the CLI entry point (embedded store and a MongoDB server)."""
from __future__ import annotations

import json
import re
import uuid

import pytest

from helpers import INPUTS, ROWS, drop_database, uri_with_db
from sseflow.workflows.cli.main import main
from sseflow.workflows.store import client as store_client
from sseflow.workflows.store.api import store_results



@pytest.fixture(params=["embedded", pytest.param("mongodb", marks=pytest.mark.mongodb)])
def spec_of(request, tmp_path, monkeypatch):
    """Factory of fresh store specs for ``--config``."""
    for var in ("SSEFLOW_DB", "SSEFLOW_CONFIG", "MONGOMOCK_SERVERSTORE_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SSEFLOW_HOME", str(tmp_path / "home"))
    server = request.getfixturevalue("mongodb_uri") if request.param == "mongodb" else None
    made = []

    def make(name: str) -> str:
        if server is None:
            spec = f"embedded:{tmp_path / name / 'store.json'}"
        else:
            spec = uri_with_db(server, f"sseflow_cli_{name}_{uuid.uuid4().hex[:8]}")
        made.append(spec)
        return spec

    yield make
    store_client.close_all()
    for spec in made:
        drop_database(spec)


def sseflow(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def test_db_init_status_export_import(spec_of, capsys, tmp_path):
    a, b = spec_of("a"), spec_of("b")
    rc, out, err = sseflow(capsys, "db", "init", "--config", a)
    assert rc == 0, err
    assert "initialised" in out and "LaunchPad" in out
    store_results("window", ROWS, INPUTS, config=a)
    rc, out, _ = sseflow(capsys, "db", "init", "--config", a)  # again: nothing is deleted
    assert rc == 0
    rc, out, _ = sseflow(capsys, "db", "status", "--config", a, "--json")
    st = json.loads(out)
    assert rc == 0 and st["collections"]["windows"] == 2 and st["collections"]["fw_id_assigner"] == 1
    rc, out, _ = sseflow(capsys, "db", "status", "--config", a)
    assert re.search(r"windows\s+2", out) and "database:  " in out
    rc, out, err = sseflow(capsys, "db", "export", str(tmp_path / "dump.jsonl"), "--config", a)
    assert rc == 0 and "exported 3 documents" in out, err
    rc, out, err = sseflow(capsys, "db", "import", str(tmp_path / "dump.jsonl"), "--config", b)
    assert rc == 0 and "imported 3 documents" in out, err
    rc, _, _ = sseflow(capsys, "db", "export", str(tmp_path / "again.jsonl"), "--config", b)
    # the first line names the source database; the documents themselves must match exactly
    assert (tmp_path / "again.jsonl").read_text().split("\n", 1)[1] == \
        (tmp_path / "dump.jsonl").read_text().split("\n", 1)[1]
    rc, out, _ = sseflow(capsys, "db", "export", "-", "--config", b, "--collection", "windows")
    assert rc == 0 and len(out.splitlines()) == 3 and all('"windows"' in x for x in out.splitlines()[1:])


def test_query_commands(spec_of, capsys):
    a = spec_of("a")
    store_results("window", ROWS, INPUTS, config=a)
    rc, out, err = sseflow(capsys, "query", "windows", "--config", a)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["formula", "reduction", "V"] and len(lines) == 3
    assert lines[1].split()[:3] == ["Li3PS4", "1.71", "2.31"]
    rc, out, _ = sseflow(capsys, "query", "windows", "--chemsys", "Zr-O-Li-La", "--json", "--config", a)
    docs = json.loads(out)
    assert [d["formula"] for d in docs] == ["Li7La3Zr2O12"] and docs[0]["created_at"].endswith("Z")
    rc, out, _ = sseflow(capsys, "query", "windows", "--formula", "Li6P2S8", "--formula", "LiF", "--json",
                         "--config", a)
    assert [d["formula"] for d in json.loads(out)] == ["Li3PS4"]
    rc, out, err = sseflow(capsys, "query", "tasks", "--calculator", "chgnet", "--config", a)
    assert rc == 0 and out == "" and "no tasks match" in err
    rc, out, _ = sseflow(capsys, "query", "reactions", "--json", "--config", a)
    assert rc == 0 and json.loads(out) == []


@pytest.mark.parametrize("args, message", [
    (["query", "windows", "--chemsys", "Li-Qq"], "malformed chemical system 'Li-Qq'"),
    (["query", "windows", "--formula", "Li3(PS4"], "malformed formula"),
    (["db", "import", "missing.jsonl"], "cannot read missing.jsonl"),
    (["query", "windows", "--config", "nowhere.yaml"], "config file nowhere.yaml does not exist"),
])
def test_bad_input_is_one_line_and_status_2(spec_of, capsys, args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = spec_of("a")
    if "--config" not in args:
        args = [*args, "--config", a]
    rc, out, err = sseflow(capsys, *args)
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and message in err and err.startswith("sseflow: error: ")


def test_import_of_a_damaged_export_names_the_line(spec_of, capsys, tmp_path):
    a = spec_of("a")
    f = tmp_path / "d.jsonl"
    f.write_text('{"sseflow_export": 1}\n{"collection": "windows", "document": {"a": 1}}\n{oops\n')
    rc, _, err = sseflow(capsys, "db", "import", str(f), "--config", a)
    assert rc == 2 and f"{f}:3: not a JSON line" in err
    rc, out, _ = sseflow(capsys, "db", "status", "--json", "--config", a)
    assert json.loads(out)["collections"]["windows"] == 0  # nothing written
