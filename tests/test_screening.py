"""Interlayer screening on a hand-made Li-F-Mg-S-N-Si set (numbers worked out by hand)."""
import csv
import io
import json

import pytest

from sseflow.analysis.errors import InputError
from sseflow.analysis.reference import ReferenceSet
from sseflow.analysis.screening import DEFAULT_CANDIDATES, format_screening, screen

from helpers import run_cli

# eV/atom. LiF | Li, Li3N | Li, Li2S | Li: no reaction. MgF2 + 2 Li -> 2 LiF + Mg: -0.5 eV over 5 atoms
# (-100 meV/atom at x = 0.4); MgF2 is reduced below 0.25 V. Li2S + Li3N -> Li5SN: -0.5 eV over 7 atoms
# (-71.4 meV/atom at x = 4/7). MgF2 + Li2S -> 2 LiF + MgS costs +2 eV: no reaction.
# Li-Si: Si | LiSi plateau 0.4 V, LiSi | Li3Si 0.1 V; MgF2 + 2 LiSi -> 2 LiF + Mg + 2 Si costs +0.3 eV.
ROWS = [("LiF", -2.0), ("MgF2", -2.5), ("Li2S", -1.5), ("MgS", -1.0), ("Li3N", -0.5), ("Li5SN", -1.0),
        ("LiSi", -0.2), ("Li3Si", -0.15)]


@pytest.fixture(scope="module")
def rs():
    return ReferenceSet.from_entries(ROWS)


def by_name(result):
    return {r["candidate"]: r for r in result.rows}


def test_ranking_verdicts_and_numbers(rs):
    res = screen("Li2S", "Li", rs, ["MgF2", "Li3N", "LiF", "LiCl", "Li2MgF4"])
    assert [r["candidate"] for r in res.rows] == ["LiF", "Li3N", "MgF2"]
    assert [r["rank"] for r in res.rows] == [1, 2, 3]
    rows = by_name(res)
    lif, li3n, mgf2 = rows["LiF"], rows["Li3N"], rows["MgF2"]
    assert lif["verdict"] == "stable on both sides"
    assert lif["coating_reduction_V"] == pytest.approx(0.0, abs=1e-9)
    assert lif["coating_oxidation_V"] == pytest.approx(4.0)
    assert li3n["stable_vs_anode"] and not li3n["stable_vs_electrolyte"]
    assert li3n["rxn_electrolyte_meV"] == pytest.approx(-500 / 7)
    assert li3n["electrolyte_x"] == pytest.approx(4 / 7)
    assert li3n["electrolyte_products"] == ["Li5SN"]
    assert li3n["coating_oxidation_V"] == pytest.approx(2.0 / 3)
    assert li3n["verdict"].startswith("stable vs anode; reacts with electrolyte")
    assert mgf2["rxn_anode_meV"] == pytest.approx(-100.0)
    assert mgf2["anode_x"] == pytest.approx(0.4)
    assert sorted(mgf2["anode_products"]) == ["LiF", "Mg"]
    assert mgf2["coating_reduction_V"] == pytest.approx(0.25)
    assert mgf2["coating_oxidation_V"] is None
    assert mgf2["rxn_electrolyte_meV"] == pytest.approx(0.0, abs=1e-9)
    assert not mgf2["stable_vs_anode"] and mgf2["stable_vs_electrolyte"]
    assert mgf2["verdict"] == "reacts with anode (-100 meV/atom); stable vs electrolyte"
    assert dict(res.skipped) == {"LiCl": "its chemical system is not covered by the reference set",
                                 "Li2MgF4": "not in the reference set"}
    assert res.anode_potential_V == 0.0
    assert res.baseline["energy_meV_per_atom"] == pytest.approx(0.0, abs=1e-9)


def test_window_must_reach_the_alloy_potential(rs):
    # LiSi sits at 0.1 V (its lower plateau): MgF2 does not react with LiSi chemically (+0.3 eV),
    # but its window starts at 0.25 V, above the anode potential
    res = screen("Li2S", "LiSi", rs, ["MgF2", "LiF"])
    assert res.anode_potential_V == pytest.approx(0.1)
    mgf2 = by_name(res)["MgF2"]
    assert mgf2["rxn_anode_meV"] == pytest.approx(0.0, abs=1e-9)
    assert not mgf2["window_reaches_anode"] and not mgf2["stable_vs_anode"]
    assert mgf2["verdict"].startswith("reduced above the anode potential (0.25 V > 0.10 V)")
    assert by_name(res)["LiF"]["verdict"] == "stable on both sides"


def test_excluded_and_uncovered_candidates(rs):
    res = screen("Li2S", "Li", rs, ["LiF", "Li3N"], exclude=["Li3N"])
    assert [r["candidate"] for r in res.rows] == ["LiF"]
    assert dict(res.skipped) == {"Li3N": "excluded"}
    with pytest.raises(InputError, match="no candidate is covered"):
        screen("Li2S", "Li", rs, ["LiCl"])
    # the default list: only what the set covers
    res = screen("Li2S", "Li", rs)
    assert {r["candidate"] for r in res.rows} == {"LiF", "Li3N", "Li2S", "MgF2"}
    assert len(res.skipped) == len(DEFAULT_CANDIDATES) - 4


def test_formats(rs):
    rows = screen("Li2S", "Li", rs, ["MgF2", "Li3N", "LiF"]).rows
    md = format_screening(rows, "md")
    assert md.splitlines()[0].startswith("| Rank | Coating |")
    assert len(md.splitlines()) == 2 + 3
    got = list(csv.DictReader(io.StringIO(format_screening(rows, "csv"))))
    assert [g["candidate"] for g in got] == ["LiF", "Li3N", "MgF2"]
    assert got[2]["anode_products"] == "LiF + Mg" and got[0]["anode_products"] == ""
    tex = format_screening(rows, "latex")
    assert r"\begin{tabular}" in tex and "MgF$_{2}$" in tex
    assert json.loads(format_screening(rows, "json"))[0]["candidate"] == "LiF"
    text = format_screening(rows, "text")
    assert text.splitlines()[1].split()[:2] == ["1", "LiF"]
    with pytest.raises(InputError):
        format_screening(rows, "xls")


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    p = tmp_path_factory.mktemp("screen") / "small.csv"
    p.write_text("formula,energy\n" + "".join(f"{f},{e}\n" for f, e in ROWS))
    return p


def test_cli_screen_json_formats_and_plot(small_csv, tmp_path):
    fig = tmp_path / "screen.svg"
    res = run_cli("screen", "Li2S", "--anode", "Li", "--candidates", "LiF,Li3N,MgF2,LiCl",
                  "--reference", small_csv, "--json", "--plot", fig)
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["candidate"] for r in rows] == ["LiF", "Li3N", "MgF2"]
    for key in ("rxn_anode_meV", "rxn_electrolyte_meV", "coating_reduction_V", "coating_oxidation_V", "verdict"):
        assert key in rows[0]
    assert "LiCl: skipped" in res.stderr
    assert fig.stat().st_size > 1000
    res = run_cli("screen", "Li2S", "--candidates", "LiF,MgF2", "--reference", small_csv, "--format", "md")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("| Rank | Coating |")


@pytest.mark.parametrize("args, message", [
    (["Li2S", "--candidates", "LiF,Lq2O"], "unknown element"),
    (["Li2S)", "--candidates", "LiF"], "malformed formula"),
    (["Li2S", "--candidates", "LiCl"], "no candidate is covered"),
    (["Li2S", "--anode", "Fe"], "not covered"),
    (["Li2S", "--plot", "s.jpg"], ".png, .svg or .pdf"),
])
def test_cli_screen_bad_input(small_csv, args, message):
    res = run_cli("screen", *args, "--reference", small_csv)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr
