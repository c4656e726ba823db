import json

import pytest

from helpers import run_cli

KEYS = {"formula", "reduction_V", "oxidation_V", "reduction_reaction", "oxidation_reaction",
        "reduction_products", "oxidation_products", "e_above_hull_meV", "in_reference",
        "decomposition_energy_0V_meV", "decomposition_energy_5V_meV", "profile"}


def test_window_json_contract(mp_csv):
    r = run_cli("window", "Li3PS4", "Li1.3Al0.3Ti1.7(PO4)3", "--reference", mp_csv, "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [x["formula"] for x in rows] == ["Li3PS4", "Li1.3Al0.3Ti1.7(PO4)3"]
    for x in rows:
        assert KEYS <= set(x)
        assert {"potential_V", "li_per_formula", "reaction"} <= set(x["profile"][0])
    assert rows[0]["reduction_V"] == pytest.approx(1.72, abs=0.01)
    assert rows[0]["reduction_reaction"] == "Li3PS4 + 5 Li -> 4 Li2S + P"
    assert rows[1]["in_reference"] is False and rows[1]["e_above_hull_meV"] is None


def test_table_formats_and_plot(mp_csv, tmp_path):
    png = tmp_path / "w.png"
    r = run_cli("table", "Li3PS4", "LiF", "--reference", mp_csv, "--format", "latex", "--plot", png)
    assert r.returncode == 0, r.stderr
    assert r"\begin{tabular}" in r.stdout and "Li$_{3}$PS$_{4}$ & 1.72 & 2.36" in r.stdout
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    r = run_cli("table", "Li3PS4", "--reference", mp_csv, "--format", "csv")
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("material,reduction_V,oxidation_V") and lines[1].startswith("Li3PS4,1.721,2.363")


@pytest.mark.parametrize("args,msg", [
    (["window", "Li3PQ4"], "unknown element 'Q'"),
    (["window", "Li3PS4("], "malformed formula"),
    (["window", "Li3PS4", "--exclude", "LiS4,Zz"], "unknown element 'Zz'"),
    (["window", "Li2Og"], "not covered by the reference data"),
    (["table", "Li3PS4", "--plot", "w.gif"], "must end in .png, .svg or .pdf"),
])
def test_bad_input_one_line_exit_2(mp_csv, args, msg):
    r = run_cli(*args, "--reference", mp_csv)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if not ln.startswith("note:")]
    assert len(lines) == 1 and msg in lines[0] and "Traceback" not in r.stderr


def test_bad_reference_files(tmp_path):
    r = run_cli("window", "Li3PS4", "--reference", tmp_path / "missing.csv")
    assert r.returncode == 2 and "reference file not found" in r.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("formula,name\nLi2S,foo\n")
    r = run_cli("window", "Li2S", "--reference", bad)
    assert r.returncode == 2 and "no usable energy column" in r.stderr and len(r.stderr.splitlines()) == 1
