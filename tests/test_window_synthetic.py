"""The window mathematics on hand-made Li-S hulls whose answers are worked out by hand.

Entries (formation energy per atom): Li 0, S 0, Li2S -1.0 (-3 eV per Li2S), LiS -0.9
(-1.8 eV per LiS). Facets: Li|Li2S at mu_Li = 0; Li2S|LiS: 2mu_Li + mu_S = -3 and
mu_Li + mu_S = -1.8 give mu_Li = -1.2; LiS|S: mu_S = 0 gives mu_Li = -1.8.
"""
import numpy as np
import pytest

from sseflow.analysis.crosscheck import pymatgen_window
from sseflow.analysis.reference import ReferenceSet
from sseflow.analysis.window import WindowCalculator

BASE = [("Li", 0.0), ("S", 0.0), ("Li2S", -1.0), ("LiS", -0.9)]


def calc(extra=()):
    return WindowCalculator(ReferenceSet.from_entries(BASE + list(extra)))


def test_stable_compound():
    w = calc().window("Li2S")
    assert w.reduction_V == pytest.approx(0.0, abs=1e-9)
    assert w.oxidation_V == pytest.approx(1.2, abs=1e-7)
    assert w.reduction_products == [] and w.reduction_reaction is None
    assert w.oxidation_products == ["LiS"]
    assert w.oxidation_reaction == "Li2S -> LiS + Li"
    assert w.e_above_hull_meV == pytest.approx(0.0, abs=1e-6) and w.in_reference
    # at 5 V everything goes to S + Li: Phi(S) = 0, Phi(Li2S) = -3 + 5*2 = 7 eV per 3 atoms
    assert w.decomposition_energy_5V_meV == pytest.approx(-7000 / 3, abs=1e-3)
    assert w.decomposition_energy_0V_meV == pytest.approx(0.0, abs=1e-6)
    w2 = calc().window("LiS")
    assert (w2.reduction_V, w2.oxidation_V) == pytest.approx((1.2, 1.8), abs=1e-7)
    assert w2.reduction_products == ["Li2S"] and w2.oxidation_products == ["S"]
    assert w2.reduction_reaction == "LiS + Li -> Li2S"


def test_metastable_compound_uses_its_assemblage():
    # Li3S2 (x_S = 0.4): hull there is -0.96 eV/atom; put it 20 meV/atom above
    c = calc([("Li3S2", -0.94)])
    w = c.window("Li3S2")
    assert w.e_above_hull_meV == pytest.approx(20.0, abs=1e-6)
    assert w.in_reference
    assert w.reduction_V == pytest.approx(1.2, abs=1e-7) and w.oxidation_V == pytest.approx(1.2, abs=1e-7)
    assert w.phase_assemblage == ["Li2S", "LiS"]


def test_disordered_composition_not_in_reference():
    w = calc().window("Li1.5S")
    assert not w.in_reference and w.e_above_hull_meV is None
    assert any("not in the reference set" in n for n in w.notes)
    assert (w.reduction_V, w.oxidation_V) == pytest.approx((1.2, 1.2), abs=1e-7)
    # below 1.2 V it takes up 0.5 Li to Li2S, above it gives 0.5 Li to LiS
    assert w.reduction_products == ["Li2S"] and w.oxidation_products == ["LiS"]


def test_compound_without_li():
    w = calc().window("S")
    assert w.reduction_V == pytest.approx(1.8, abs=1e-7)
    assert w.oxidation_V is None and w.oxidation_products == []
    assert w.reduction_products == ["LiS"]


def test_tie_on_a_kink_and_profile():
    # Li3S2 exactly on the Li2S-LiS tie line: on the hull (E_hull 0) but not a vertex
    c = calc([("Li3S2", -0.96)])
    w = c.window("Li3S2")
    assert w.e_above_hull_meV == pytest.approx(0.0, abs=1e-6)
    assert w.reduction_V == pytest.approx(1.2, abs=1e-7) and w.oxidation_V == pytest.approx(1.2, abs=1e-7)
    prof = c.window("LiS").profile
    # kinks: Li2S (0 V), LiS (1.2 V), S (1.8 V); the collinear Li3S2 adds no step
    assert [round(p.potential_V, 6) for p in prof] == [0.0, 1.2, 1.8]
    assert [p.li_per_formula for p in prof] == pytest.approx([1.0, 0.0, -1.0])
    assert [p.products for p in prof] == [["Li2S"], ["LiS"], ["S"]]


def test_exclusion_changes_the_hull():
    c = WindowCalculator(ReferenceSet.from_entries(BASE), exclude=["LiS"])
    w = c.window("Li2S")
    # without LiS, Li2S oxidises straight to S: mu_Li = -3/2
    assert w.oxidation_V == pytest.approx(1.5, abs=1e-7)
    assert w.oxidation_products == ["S"]


def test_random_ternary_hulls_agree_with_pymatgen():
    """Random Li-Ge-S hulls: every window equals pymatgen's get_element_profile to 1e-6 V."""
    rng = np.random.default_rng(7)
    forms = ["Li2S", "GeS2", "GeS", "Li4GeS4", "Li2GeS3", "Li6Ge2S7", "LiGe", "Li15Ge4", "Li8GeS6", "Li2Ge3S7"]
    for trial in range(4):
        entries = [("Li", 0.0), ("Ge", 0.0), ("S", 0.0)]
        entries += [(f, float(-rng.uniform(0.1, 1.2))) for f in forms]
        rs = ReferenceSet.from_entries(entries)
        c = WindowCalculator(rs)
        space = c.space({"Li", "Ge", "S"})
        for f in ["Li4GeS4", "Li2GeS3", "Li8GeS6", "Li2.5Ge0.5S2"]:
            w = c.window(f, profile=False)
            vr, vo, _ = pymatgen_window(f, space.entries)
            assert w.reduction_V == pytest.approx(vr, abs=1e-6), (trial, f)
            assert w.oxidation_V == pytest.approx(vo, abs=1e-6), (trial, f)
