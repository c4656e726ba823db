"""Machine-readable output holds that output and nothing else.

Every command with ``--json`` or ``--format json|csv`` runs as a fresh process (so that anything a
native library prints on its file descriptors is seen) and its stdout is parsed strictly: one JSON
document, JSON lines, or a rectangular CSV table with the expected header. Notes go to stderr.
"""
from __future__ import annotations

import csv
import io
import json

import pytest

from helpers import run_cli


def strict_json(out: str):
    """The whole of stdout is one JSON document (json.loads rejects anything around it)."""
    assert out.strip(), "nothing on stdout"
    return json.loads(out)


def strict_jsonl(out: str) -> list:
    """Every line of stdout is one MongoDB Extended JSON document (the export format)."""
    from bson import json_util

    lines = out.splitlines()
    assert lines, "nothing on stdout"
    return [json_util.loads(line) for line in lines]


def strict_csv(out: str, first_column: str) -> list[dict]:
    rows = list(csv.reader(io.StringIO(out)))
    assert rows and rows[0] and rows[0][0] == first_column, f"not a CSV header: {rows[:1]}"
    assert len(rows) > 1, "a header without rows"
    assert all(len(r) == len(rows[0]) for r in rows), "ragged CSV: something else is on stdout"
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def test_highs_is_silent_on_the_file_descriptor(capfd):
    """The solver object is made in one place, and nothing it prints reaches fd 1."""
    from sseflow.analysis.lp import HighsLP, new_highs

    new_highs()
    lp = HighsLP([1.0, 1.0], [[1.0, 1.0]], [1.0], [1.0], [0.0, 0.0], [1.0, 1.0])
    assert lp.solve().status == "optimal"
    out, _ = capfd.readouterr()
    assert out == ""


def test_stdout_around_the_solver_is_kept_in_order(capfd):
    from sseflow.analysis.lp import new_highs

    print("before", flush=False)
    new_highs()
    print("after")
    out, _ = capfd.readouterr()
    assert out == "before\nafter\n"


@pytest.fixture(scope="module")
def store_spec(tmp_path_factory, mp_csv):
    """An embedded store holding one stored window and one stored reaction."""
    spec = f"embedded:{tmp_path_factory.mktemp('contract') / 'store.json'}"
    r = run_cli("window", "Li3PS4", "--reference", mp_csv, "--store", "--config", spec)
    assert r.returncode == 0, r.stderr
    r = run_cli("react", "Li3PS4", "Li", "--reference", mp_csv, "--store", "--config", spec)
    assert r.returncode == 0, r.stderr
    return spec


def _ok(r):
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return r.stdout


def test_window_json(mp_csv):
    rows = strict_json(_ok(run_cli("window", "Li3PS4", "Li6PS5Cl", "--reference", mp_csv, "--json")))
    assert [r["formula"] for r in rows] == ["Li3PS4", "Li6PS5Cl"]
    assert 1.6 < rows[0]["reduction_V"] < 1.8


def test_window_json_not_in_the_data(mp_csv):
    """A formula absent from the reference set (its window from the hull energy) is one more LP."""
    rows = strict_json(_ok(run_cli("window", "Li10GeP2S12", "--reference", mp_csv, "--json")))
    assert rows[0]["formula"] == "Li10GeP2S12"


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_table(mp_csv, fmt):
    out = _ok(run_cli("table", "Li3PS4", "Li7La3Zr2O12", "--reference", mp_csv, "--format", fmt))
    if fmt == "json":
        rows = strict_json(out)
    else:
        rows = strict_csv(out, "material")
        assert float(rows[0]["reduction_V"]) == pytest.approx(1.72, abs=0.01)
    assert [r["material"] for r in rows] == ["Li3PS4", "Li7La3Zr2O12"]


def test_react_json_at_a_potential(mp_csv):
    doc = strict_json(_ok(run_cli("react", "Li3PS4", "Si", "--reference", mp_csv, "--potential", "1.0",
                                  "--json")))
    assert doc["potential_V"] == 1.0 and "SiP" in doc["minimum"]["products"]


def test_react_json_reactant_not_in_the_data(mp_csv):
    doc = strict_json(_ok(run_cli("react", "Li10GeP2S12", "Si", "--reference", mp_csv, "--potential", "0.5",
                                  "--json")))
    assert doc["reactant_a"] == "Li10GeP2S12" and doc["potential_V"] == 0.5


@pytest.mark.parametrize("args", [["--json"], ["--format", "json"], ["--format", "csv"]])
def test_screen(mp_csv, args):
    out = _ok(run_cli("screen", "Li3PS4", "--anode", "Li", "--candidates", "LiF,Li3N,Li3PO4",
                      "--reference", mp_csv, *args))
    rows = strict_csv(out, "rank") if "csv" in args else strict_json(out)
    assert sorted(r["candidate"] for r in rows) == ["Li3N", "Li3PO4", "LiF"]


@pytest.mark.parametrize("kind", ["windows", "reactions", "tasks"])
def test_query_json(store_spec, kind):
    docs = strict_json(_ok(run_cli("query", kind, "--json", "--config", store_spec)))
    assert isinstance(docs, list)
    if kind != "tasks":
        assert docs and docs[0]["formula" if kind == "windows" else "reactant_a"] == "Li3PS4"


def test_db_status_json(store_spec):
    st = strict_json(_ok(run_cli("db", "status", "--json", "--config", store_spec)))
    assert st["collections"]["windows"] == 1


def test_db_export_to_stdout(store_spec):
    recs = strict_jsonl(_ok(run_cli("db", "export", "-", "--config", store_spec)))
    assert recs[0]["sseflow_export"] == 1
    assert {r["collection"] for r in recs[1:]} >= {"windows", "reactions"}


def test_workflow_status_json(store_spec):
    assert strict_json(_ok(run_cli("status", "--json", "--config", store_spec))) == []
