"""Reactions on the shared Materials Project set, checked against pymatgen on the same entries."""
import json

import pytest

from sseflow.analysis.formula import parse_formula
from sseflow.analysis.reactions import ReactionCalculator, pymatgen_reaction

from helpers import run_cli

pytest.importorskip("pymatgen")

TOL_MEV = 1.0


@pytest.fixture(scope="module")
def rc(mp_reference):
    return ReactionCalculator(mp_reference)


def pmg_minimum(rc, a, b, potential=None, **kw):
    els = set(parse_formula(a)) | set(parse_formula(b)) | ({"Li"} if potential is not None else set())
    ir = pymatgen_reaction(a, b, rc.reference.entries_in(els), potential=potential, **kw)
    x, e = ir.minimum
    return x, e * 1000.0, ir


def check_against_pymatgen(rc, a, b, potential=None, **kw):
    ours = rc.react(a, b, potential=potential, **kw)
    x, e, ir = pmg_minimum(rc, a, b, potential, **kw)
    assert ours.minimum.energy_meV_per_atom == pytest.approx(e, abs=TOL_MEV), (a, b, potential)
    if e < -TOL_MEV:
        assert ours.minimum.x == pytest.approx(x, abs=1e-6), (a, b, potential)
    assert len(ours.kinks) == len(ir.get_kinks())
    return ours


def test_li3ps4_li_gives_li2s_and_li3p(rc):
    r = check_against_pymatgen(rc, "Li3PS4", "Li")
    assert set(r.minimum.products) == {"Li2S", "Li3P"}
    assert r.minimum.reaction == "Li3PS4 + 8 Li -> 4 Li2S + Li3P"
    assert r.minimum.x == pytest.approx(0.5)
    assert r.minimum.energy_meV_per_atom == pytest.approx(-712.1, abs=0.1)
    assert r.energy_source_a == "reference entry"


@pytest.mark.parametrize("a, b", [("Li3PS4", "Si"), ("Li6PS5Cl", "Li15Si4")])
def test_si_and_li_si_against_sulfides_form_si_p_phases(rc, a, b):
    r = check_against_pymatgen(rc, a, b)
    assert r.reacts
    assert set(r.minimum.products) & {"SiP", "SiP2", "Li5SiP3"}, r.minimum.products


def test_si_p_phases_along_the_whole_li6ps5cl_li15si4_curve(rc):
    r = rc.react("Li6PS5Cl", "Li15Si4")
    seen = set().union(*(k.products for k in r.kinks))
    assert {"SiP", "SiP2", "Li5SiP3"} <= seen


@pytest.mark.parametrize("coating", ["Li2O", "LiF", "Li3N", "LiCl"])
def test_passivating_binaries_do_not_react_with_li(rc, coating):
    r = check_against_pymatgen(rc, coating, "Li")
    assert r.minimum.energy_meV_per_atom == pytest.approx(0.0, abs=TOL_MEV)
    assert not r.reacts


@pytest.mark.parametrize("a, b, v, incl", [
    ("Li3PS4", "Si", 0.5, False),
    ("Li3PS4", "Si", 0.5, True),
    ("Li3PS4", "LiCoO2", 3.0, False),
    ("Li6PS5Cl", "Li2O", 0.0, True),
    ("Li3PS4", "Li2O", 2.0, False),
])
def test_grand_potential_minima_agree_with_pymatgen(rc, a, b, v, incl):
    check_against_pymatgen(rc, a, b, potential=v, include_decomposition=incl)


def test_cli_react_on_shared_data(mp_csv):
    res = run_cli("react", "Li3PS4", "Li", "--reference", mp_csv, "--json")
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    assert set(d["minimum"]["products"]) == {"Li2S", "Li3P"}
    res = run_cli("react", "Li6PS5Cl", "--lithiation-path", "--reference", mp_csv)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    for alloy in ("Si", "LiSi", "Li12Si7", "Li13Si4", "Li15Si4", "Li21Si5"):
        assert any(ln.split()[0] == alloy for ln in lines[2:]), alloy
    assert "Li5SiP3" in res.stdout


@pytest.mark.parametrize("v", [None, 0.0, 2.0])
def test_parametric_walk_matches_lp_tangents(rc, v):
    pairs = [("Li10GeP2S12", "Li" if v is None else "Si"), ("Li7La3Zr2O12", "Li3PO4"), ("Li1.3Al0.3Ti1.7(PO4)3", "Li2S"),
             ("Li3InCl6", "LiSi"), ("Li2PO2N", "Li3N"), ("Li6PS5Cl", "Li15Si4")]
    for a, b in pairs:
        r1 = rc.react(a, b, potential=v)
        r2 = rc.react(a, b, potential=v, method="tangents")
        assert [(round(k.x, 8), round(k.energy_meV_per_atom, 5), k.products) for k in r1.kinks] == \
               [(round(k.x, 8), round(k.energy_meV_per_atom, 5), k.products) for k in r2.kinks], (a, b, v)
