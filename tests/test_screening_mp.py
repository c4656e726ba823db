"""Interlayer screening on the shared Materials Project set."""
import json

import pytest

from sseflow.analysis.reactions import ReactionCalculator
from sseflow.analysis.screening import screen

from helpers import run_cli


@pytest.fixture(scope="module")
def rc(mp_reference):
    return ReactionCalculator(mp_reference)


def test_li6ps5cl_on_li_metal(mp_reference, rc):
    res = screen("Li6PS5Cl", "Li", mp_reference, calculator=rc)
    rows = {r["candidate"]: r for r in res.rows}
    # the Li halides and Li2S are in equilibrium with both Li metal and the argyrodite
    for c in ("LiF", "LiCl", "Li2S"):
        assert rows[c]["verdict"] == "stable on both sides", rows[c]
        assert rows[c]["rank"] <= 5
    # Li3N and Li2O: stable against Li, but they react with the sulfide
    for c in ("Li3N", "Li2O"):
        assert rows[c]["stable_vs_anode"] and not rows[c]["stable_vs_electrolyte"]
        assert rows[c]["rxn_electrolyte_meV"] < -100
    # Li3PO4 is reduced by Li metal (to Li3P + Li2O) in this data set
    assert not rows["Li3PO4"]["stable_vs_anode"]
    assert set(rows["Li3PO4"]["anode_products"]) == {"Li2O", "Li3P"}
    ranks = [r["rank"] for r in res.rows]
    assert ranks == sorted(ranks) == list(range(1, len(ranks) + 1))
    tiers = [(not r["stable_vs_anode"], not r["stable_vs_electrolyte"]) for r in res.rows]
    assert tiers == sorted(tiers, key=lambda t: (t[0], t[1]))
    # without a coating the argyrodite is reduced by Li
    assert res.baseline["energy_meV_per_atom"] < -400
    assert set(res.baseline["products"]) == {"Li2S", "Li3P", "LiCl"}


def test_alloy_anode_uses_its_plateau(mp_reference, rc):
    res = screen("Li3PS4", "Li15Si4", mp_reference, ["LiF", "Li3PO4", "Li2S"], calculator=rc)
    assert res.anode_potential_V == pytest.approx(0.0994, abs=2e-3)
    rows = {r["candidate"]: r for r in res.rows}
    assert rows["LiF"]["verdict"] == "stable on both sides"
    assert rows["Li3PO4"]["coating_reduction_V"] > res.anode_potential_V
    assert not rows["Li3PO4"]["window_reaches_anode"]


def test_cli_screen_on_shared_data(mp_csv):
    res = run_cli("screen", "Li6PS5Cl", "--anode", "Li", "--candidates", "LiF,Li3N,Li3PO4,Li2O,LiCl",
                  "--reference", mp_csv, "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["candidate"] for r in rows][:2] == ["LiF", "LiCl"]
    assert "without an interlayer" in res.stderr
