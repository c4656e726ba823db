"""Validation against the shared Materials Project set and the published windows.

Skipped with a reason when ../shared is absent.
"""
import csv

import pytest

from sseflow.analysis.crosscheck import pymatgen_window
from sseflow.analysis.formula import parse_formula
from sseflow.analysis.window import WindowCalculator

from helpers import LIT_CSV

OXIDES = {"LLZO", "LiPON", "LATP", "Li2O"}


def literature():
    if not LIT_CSV.is_file():
        return []
    with open(LIT_CSV) as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def calc(mp_reference):
    return WindowCalculator(mp_reference)


@pytest.mark.parametrize("row", literature(), ids=lambda r: r["material"])
def test_published_windows(calc, row):
    w = calc.window(row["formula"], profile=False)
    assert w.reduction_V == pytest.approx(float(row["reduction_V"]), abs=0.05)
    if row["material"] in OXIDES or row["formula"] == "LiF":
        assert w.oxidation_V == pytest.approx(float(row["oxidation_V"]), abs=0.05)


@pytest.mark.parametrize("row", literature(), ids=lambda r: r["material"])
def test_agrees_with_pymatgen_element_profile(calc, row):
    f = row["formula"]
    w = calc.window(f, profile=False)
    space = calc.space(set(parse_formula(f)) | {"Li"})
    vr, vo, _ = pymatgen_window(f, space.entries)
    assert abs(w.reduction_V - vr) < 1e-3
    assert abs(w.oxidation_V - vo) < 1e-3


def test_latp_flagged_and_li6ps5cl_metastable(calc):
    latp = calc.window("Li1.3Al0.3Ti1.7(PO4)3", profile=False)
    assert not latp.in_reference and latp.e_above_hull_meV is None
    argy = calc.window("Li6PS5Cl", profile=False)
    assert argy.in_reference and 60 < argy.e_above_hull_meV < 100


def test_li3ps4_profile_and_products(calc):
    w = calc.window("Li3PS4")
    assert w.reduction_products == ["Li2S", "P"]
    first = w.profile[0]
    assert first.potential_V == 0.0 and first.li_per_formula == pytest.approx(8.0)
    assert first.products == ["Li2S", "Li3P"]
    # the step with no Li exchange is the window itself
    zero = [i for i, p in enumerate(w.profile) if abs(p.li_per_formula) < 1e-6]
    assert len(zero) == 1
    i = zero[0]
    assert w.profile[i].potential_V == pytest.approx(w.reduction_V, abs=1e-6)
    assert w.profile[i + 1].potential_V == pytest.approx(w.oxidation_V, abs=1e-6)
    pots = [p.potential_V for p in w.profile]
    assert pots == sorted(pots)


def test_sulfide_oxidation_with_and_without_odd_entries(mp_reference):
    plain = WindowCalculator(mp_reference).window("Li3PS4", profile=False)
    clean = WindowCalculator(mp_reference, exclude=["LiS4", "P2S7"]).window("Li3PS4", profile=False)
    assert "LiS4" in plain.oxidation_products
    assert "LiS4" not in clean.oxidation_products and "P2S7" not in clean.oxidation_products
    assert clean.oxidation_V > plain.oxidation_V + 0.1  # the odd S-rich entries lower the limit
    assert clean.reduction_V == pytest.approx(plain.reduction_V, abs=1e-9)
