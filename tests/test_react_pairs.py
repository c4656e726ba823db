"""``sseflow react`` with many pairs in one process: ``A [A2 ..] --with B[,B2 ..]`` and ``--pairs FILE``.

Every command runs as a fresh process (``run_cli``) on the shared Materials Project set, except
the check that one ReactionCalculator serves every pair (in-process, to count what is built).
"""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading

import pytest

from helpers import ROOT, SSEFLOW, run_cli

PAIR_COLUMNS = ["reactant_a", "reactant_b", "potential_V", "x_min", "E_min_meV_per_atom", "reaction", "products"]


def _ok(r) -> str:
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return r.stdout


def _single(mp_csv, a, b, *extra) -> dict:
    return json.loads(_ok(run_cli("react", a, b, "--reference", mp_csv, "--json", *extra)))


def _one_error_line(r) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("sseflow: error: ")
    return lines[0]


# ------------------------------------------------------------------ --with

def test_with_gives_the_minima_of_separate_single_pair_runs(mp_csv):
    docs = json.loads(_ok(run_cli("react", "Li3PS4", "Li6PS5Cl", "--with", "Li,Si", "--with", "Li15Si4",
                                  "--reference", mp_csv, "--json")))
    assert [(d["reactant_a"], d["reactant_b"]) for d in docs] == [
        ("Li3PS4", "Li"), ("Li3PS4", "Si"), ("Li3PS4", "Li15Si4"),
        ("Li6PS5Cl", "Li"), ("Li6PS5Cl", "Si"), ("Li6PS5Cl", "Li15Si4")]
    by_pair = {(d["reactant_a"], d["reactant_b"]): d for d in docs}
    for a, b in [("Li3PS4", "Li"), ("Li6PS5Cl", "Li15Si4"), ("Li3PS4", "Si")]:
        one = _single(mp_csv, a, b)
        many = by_pair[(a, b)]
        assert many["minimum"]["energy_meV_per_atom"] == pytest.approx(one["minimum"]["energy_meV_per_atom"],
                                                                       abs=1e-9)
        assert many["minimum"]["x"] == pytest.approx(one["minimum"]["x"], abs=1e-12)
        assert many["minimum"]["products"] == one["minimum"]["products"]
        assert len(many["kinks"]) == len(one["kinks"])
    # the numbers themselves (docs/reactions.md): Li3PS4 | Li -> Li2S + Li3P at x = 1/2
    m = by_pair[("Li3PS4", "Li")]["minimum"]
    assert m["energy_meV_per_atom"] == pytest.approx(-712.118, abs=1e-3) and m["x"] == pytest.approx(0.5)
    m = by_pair[("Li6PS5Cl", "Li15Si4")]["minimum"]
    assert m["energy_meV_per_atom"] == pytest.approx(-442.558, abs=1e-3) and "Li5SiP3" in m["products"]


def test_many_pairs_json_and_csv_parse_strictly(mp_csv):
    args = ["react", "Li3PS4", "LiF", "Li2O", "--with", "Li,Si", "--reference", mp_csv]
    docs = json.loads(_ok(run_cli(*args, "--json")))       # the whole of stdout is one document
    assert isinstance(docs, list) and len(docs) == 6
    single = _single(mp_csv, "Li3PS4", "Li")
    assert all(set(d) == set(single) for d in docs)         # the single-pair document, one per pair
    e = {(d["reactant_a"], d["reactant_b"]): d["minimum"]["energy_meV_per_atom"] for d in docs}
    assert e[("LiF", "Li")] == pytest.approx(0.0, abs=1e-6) and e[("Li2O", "Li")] == pytest.approx(0.0, abs=1e-6)
    assert e[("Li3PS4", "Li")] == pytest.approx(-712.118, abs=1e-3)

    out = _ok(run_cli(*args, "--format", "csv"))
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == PAIR_COLUMNS
    assert len(rows) == 7 and all(len(r) == len(PAIR_COLUMNS) for r in rows)
    for r, d in zip((dict(zip(rows[0], r)) for r in rows[1:]), docs):
        assert (r["reactant_a"], r["reactant_b"], r["potential_V"]) == (d["reactant_a"], d["reactant_b"], "")
        assert float(r["E_min_meV_per_atom"]) == pytest.approx(d["minimum"]["energy_meV_per_atom"], abs=1e-4)
        assert float(r["x_min"]) == pytest.approx(d["minimum"]["x"], abs=1e-6)
        assert r["reaction"] == d["minimum"]["reaction"]
        assert r["products"].split(" + ") == d["minimum"]["products"]


def test_text_table_one_row_per_pair(mp_csv):
    out = _ok(run_cli("react", "Li3PS4", "LiF", "--with", "Li", "--reference", mp_csv))
    lines = out.splitlines()
    assert lines[0].startswith("2 pair(s)") and lines[1].split()[:5] == ["A", "B", "V", "x_min", "E_min"]
    assert lines[2].split()[:5] == ["Li3PS4", "Li", "-", "0.5000", "-712.1"]
    assert "Li3PS4 + 8 Li -> 4 Li2S + Li3P" in lines[2]
    assert lines[3].split()[:5] == ["LiF", "Li", "-", "0.0000", "0.0"] and "no reaction" in lines[3]


# ------------------------------------------------------------------ --pairs FILE

def test_pairs_file_with_header_and_potential_column(mp_csv, tmp_path):
    f = tmp_path / "pairs.csv"
    f.write_text("electrolyte,anode,potential\n"
                 "Li3PS4,Li\n"
                 "Li3PS4,Si,1.0\n"
                 "# a comment, then a blank line\n\n"
                 "Li6PS5Cl, Li15Si4 ,\n")
    docs = json.loads(_ok(run_cli("react", "--pairs", f, "--reference", mp_csv, "--json")))
    assert [(d["reactant_a"], d["reactant_b"], d["potential_V"]) for d in docs] == [
        ("Li3PS4", "Li", None), ("Li3PS4", "Si", 1.0), ("Li6PS5Cl", "Li15Si4", None)]
    at_1V = _single(mp_csv, "Li3PS4", "Si", "--potential", "1.0")
    assert docs[1]["minimum"]["energy_meV_per_atom"] == pytest.approx(at_1V["minimum"]["energy_meV_per_atom"],
                                                                      abs=1e-9)
    assert "SiP" in docs[1]["minimum"]["products"]
    assert docs[1]["minimum"]["energy_meV_per_atom"] < -1.0
    assert docs[2]["minimum"]["energy_meV_per_atom"] == pytest.approx(-442.558, abs=1e-3)


def test_pairs_file_blank_separated_default_and_chemical_potential(mp_csv, tmp_path):
    """Without a header; an empty potential takes --potential, '-' asks for the chemical reaction."""
    f = tmp_path / "pairs.txt"
    f.write_text("Li3PS4  Si\nLi3PS4\tLi\t-\nLi3PS4 Si 0\n")
    docs = json.loads(_ok(run_cli("react", "--pairs", f, "--reference", mp_csv, "--potential", "1.0", "--json")))
    assert [d["potential_V"] for d in docs] == [1.0, None, 0.0]
    assert docs[0]["minimum"]["energy_meV_per_atom"] == pytest.approx(
        _single(mp_csv, "Li3PS4", "Si", "--potential", "1.0")["minimum"]["energy_meV_per_atom"], abs=1e-9)
    assert docs[1]["minimum"]["energy_meV_per_atom"] == pytest.approx(-712.118, abs=1e-3)


@pytest.mark.parametrize("content, line, message", [
    ("A,B\nLi3PS4,Li\nLi3PS4\n", 3, "expected 2 or 3 columns"),
    ("Li3PS4 Li\nLi3PS4 Si 1.0 extra\n", 2, "expected 2 or 3 columns"),
    ("Li3PS4 Li\nLi3PS4 Sx\n", 2, "unknown element 'Sx'"),
    ("Li3PS4,Li\nLi3PS4,Si,abc\n", 2, "potential 'abc' is not a number"),
    ("# pairs\nLi3PS4,Si,-2\n", 2, "must be >= 0"),
    ("Li3PS4,Si,1e9\n", 1, "out of range"),
    ("Li3PS4,Li,0.5\n", 1, "reservoir"),
    ("Li3PS4,,1\n", 1, "column B is empty"),
])
def test_malformed_pairs_file_names_the_line(mp_csv, tmp_path, content, line, message):
    f = tmp_path / "pairs.csv"
    f.write_text(content)
    err = _one_error_line(run_cli("react", "--pairs", f, "--reference", mp_csv, "--json"))
    assert f"{f} line {line}: " in err and message in err


def test_pairs_file_without_pairs_or_not_text(mp_csv, tmp_path):
    f = tmp_path / "pairs.csv"
    f.write_text("A,B,potential\n\n")
    assert "no pairs" in _one_error_line(run_cli("react", "--pairs", f, "--reference", mp_csv))
    f.write_bytes(b"\xff\xfe\x00L")
    assert "not a text file" in _one_error_line(run_cli("react", "--pairs", f, "--reference", mp_csv))
    assert "does not exist" in _one_error_line(run_cli("react", "--pairs", tmp_path / "none.csv",
                                                       "--reference", mp_csv))


def test_a_pair_the_reference_cannot_cover_names_its_line(tmp_path):
    ref = tmp_path / "lisn.csv"
    ref.write_text("formula,energy\nLi,0\nSn,0\nLiSn,-0.4\n")
    f = tmp_path / "pairs.csv"
    f.write_text("Sn,Li\nSn,Fe\n")
    err = _one_error_line(run_cli("react", "--pairs", f, "--reference", ref))
    assert f"{f} line 2: Sn | Fe: " in err and "not covered" in err


@pytest.mark.parametrize("args, message", [
    (["Li3PS4", "--with", "Li", "--lithiation-path"], "--lithiation-path cannot be combined"),
    (["Li3PS4", "Li", "--pairs", "PAIRS"], "give no compositions"),
    (["Li3PS4", "Li", "Si"], "3 compositions given"),
    (["Li3PS4", "--with", "Li", "--energy-a", "-1"], "for one pair"),
    (["Li3PS4", "--with", " , "], "--with is empty"),
    (["--with", "Li"], "at least one composition A"),
    (["Li3PS4", "--with", "Si", "--include-decomposition"], "needs --potential"),
    (["Li3PS4", "--with", "Li,Si", "--potential", "1"], "Li3PS4 | Li: Li cannot be a reactant at a potential"),
])
def test_bad_many_pair_arguments(mp_csv, tmp_path, args, message):
    f = tmp_path / "pairs.csv"
    f.write_text("Li3PS4,Li\n")
    args = [str(f) if a == "PAIRS" else a for a in args]
    assert message in _one_error_line(run_cli("react", *args, "--reference", mp_csv))


# ------------------------------------------------------------------ one calculator, store, figures

def test_one_calculator_and_one_phase_space_per_chemical_system(mp_csv, monkeypatch):
    from click.testing import CliRunner

    import sseflow.analysis.reactions as R
    import sseflow.analysis.window as W
    from sseflow.workflows.cli.react import react

    made = {"calculators": 0, "spaces": []}

    class CountingCalculator(R.ReactionCalculator):
        def __init__(self, *a, **k):
            made["calculators"] += 1
            super().__init__(*a, **k)

    class CountingSpace(W.PhaseSpace):
        def __init__(self, entries, elements=None, prune=True):
            made["spaces"].append(frozenset(elements))
            super().__init__(entries, elements, prune)

    monkeypatch.setattr(R, "ReactionCalculator", CountingCalculator)
    monkeypatch.setattr(W, "PhaseSpace", CountingSpace)
    res = CliRunner().invoke(react, ["Li3PS4", "Li6PS5Cl", "--with", "Li,Si,LiSi,Li15Si4",
                                     "--reference", str(mp_csv), "--json"])
    assert res.exit_code == 0, res.output
    assert made["calculators"] == 1
    # 8 pairs, 4 chemical systems (Li-P-S, Li-P-S-Si, Cl-Li-P-S, Cl-Li-P-S-Si): each built once
    assert sorted("-".join(sorted(s)) for s in made["spaces"]) == [
        "Cl-Li-P-S", "Cl-Li-P-S-Si", "Li-P-S", "Li-P-S-Si"]


def test_store_writes_every_pair(mp_csv, tmp_path):
    spec = f"embedded:{tmp_path / 'store.json'}"
    r = run_cli("react", "Li3PS4", "Li2S", "--with", "Li,Si", "--reference", mp_csv, "--json", "--store",
                "--config", spec)
    assert len(json.loads(_ok(r))) == 4 and "stored 4 reaction document(s)" in r.stderr
    stored = json.loads(_ok(run_cli("query", "reactions", "--json", "--config", spec)))
    assert sorted((d["reactant_a"], d["reactant_b"]) for d in stored) == [
        ("Li2S", "Li"), ("Li2S", "Si"), ("Li3PS4", "Li"), ("Li3PS4", "Si")]


def test_plot_writes_one_figure_per_pair(mp_csv, tmp_path):
    fig = tmp_path / "rxn.png"
    r = run_cli("react", "Li3PS4", "--with", "LiSi,Si", "--potential", "0.3", "--reference", mp_csv,
                "--plot", fig, "--format", "csv")
    _ok(r)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["rxn_Li3PS4_LiSi_0.3V.png", "rxn_Li3PS4_Si_0.3V.png"]
    assert all((tmp_path / n).stat().st_size > 1000 for n in written)
    assert "wrote 2 figure(s)" in r.stderr


# ------------------------------------------------------------------ progress

ELECTROLYTES = ["Li3PS4", "Li6PS5Cl", "Li7La3Zr2O12", "LiF", "Li3N", "Li2O", "Li2S"]   # x 4 anodes = 28 pairs


def test_piped_output_has_no_progress(mp_csv):
    r = run_cli("react", *ELECTROLYTES, "--with", "Li,Si,LiSi,Li15Si4", "--reference", mp_csv, "--json")
    assert len(json.loads(_ok(r))) == 28
    assert all(line.startswith("note: ") for line in r.stderr.splitlines()), r.stderr
    assert "\x1b" not in r.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminal test")
def test_progress_on_a_terminal(mp_csv):
    import pty

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    env.update(TERM="xterm", COLUMNS="120")
    proc = subprocess.Popen([SSEFLOW, "react", *ELECTROLYTES, "--with",
                             "Li,Si,LiSi,Li15Si4", "--reference", str(mp_csv), "--json"],
                            stdout=subprocess.PIPE, stderr=slave, env=env, cwd=ROOT)
    os.close(slave)
    chunks = []

    def read():
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=120)
    reader.join(timeout=10)
    os.close(master)
    assert proc.returncode == 0
    assert len(json.loads(out)) == 28          # stdout untouched by the bar
    err = b"".join(chunks).decode(errors="replace")
    assert "reactions" in err and "28/28" in err
