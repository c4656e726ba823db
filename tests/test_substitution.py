"""Substitution science: oxidation states, charge balance and compensation, proposals, E_hull,
ranking and tables (sseflow.analysis.substitution)."""
from __future__ import annotations

import csv
import io
import json
import math

import pytest

from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import parse_formula
from sseflow.analysis.substitution import (
    ANION_VACANCY, LI_INTERSTITIAL, LI_VACANCY, PLAIN, charge_balance, energy_above_hull, format_substitution,
    host_oxidation_states, plan_substitution, propose_substituents, rank_rows, substituent_oxidation_state)

LGPS_CELL = {"Li": 20, "Ge": 2, "P": 4, "S": 24}
OX = {"Li": 1, "Ge": 4, "P": 5, "S": -2, "Sr": 2, "Ca": 2, "Zr": 4, "Nb": 5, "Ga": 3}


def _net(formula: str) -> float:
    return sum(a * OX[el] for el, a in parse_formula(formula).items())


def test_host_oxidation_states_of_lgps():
    assert host_oxidation_states("Li10GeP2S12") == {"Li": 1, "Ge": 4, "P": 5, "S": -2}


def test_li10srp2s12_is_flagged_22_against_24():
    cb = charge_balance("Li10SrP2S12", OX)
    assert (cb.cation_charge, cb.anion_charge) == (22, -24)
    assert not cb.balanced
    text = cb.describe()
    assert "NOT charge balanced" in text and "+22" in text and "-24" in text


def test_lower_valent_substituent_gets_li_interstitial_and_s_vacancy_variants():
    plan = plan_substitution(LGPS_CELL, "Ge", "Sr")
    assert plan.substituent_state == 2 and plan.site_state == 4
    by = {v.compensation: v for v in plan.variants}
    assert set(by) == {PLAIN, LI_INTERSTITIAL, ANION_VACANCY}
    assert by[PLAIN].formula == "Li10SrP2S12" and not by[PLAIN].charge.balanced
    assert by[LI_INTERSTITIAL].formula == "Li12SrP2S12" and by[LI_INTERSTITIAL].changes == {"Li": 4.0}
    assert by[ANION_VACANCY].formula == "Li10SrP2S11" and by[ANION_VACANCY].changes == {"S": -2.0}
    for v in plan.variants:  # the flag agrees with an independent count of the charges
        assert v.charge.balanced == (abs(_net(v.formula)) < 1e-9)
        assert sum(v.cell_composition.values()) == 50 + sum(v.changes.values())


def test_isovalent_substituent_needs_no_compensation():
    plan = plan_substitution(LGPS_CELL, "Ge", "Zr")
    assert [v.formula for v in plan.variants] == ["Li10ZrP2S12"]
    assert plan.variants[0].charge.balanced
    assert "isovalent" in plan.notes[0]


def test_higher_valent_substituent_gets_li_vacancies():
    plan = plan_substitution(LGPS_CELL, "Ge", "Nb")
    by = {v.compensation: v for v in plan.variants}
    assert set(by) == {PLAIN, LI_VACANCY}
    assert by[PLAIN].charge.net == pytest.approx(_net("Li10NbP2S12")) == 1
    assert by[LI_VACANCY].formula == "Li9NbP2S12" and by[LI_VACANCY].charge.balanced


def test_half_anion_vacancy_per_formula_unit_is_kept_when_whole_per_cell():
    plan = plan_substitution(LGPS_CELL, "Ge", "Ga")
    by = {v.compensation: v for v in plan.variants}
    assert by[ANION_VACANCY].changes == {"S": -1.0}
    assert by[ANION_VACANCY].formula == "Li10GaP2S11.5" and by[ANION_VACANCY].charge.balanced
    one_fu = plan_substitution({"Li": 10, "Ge": 1, "P": 2, "S": 12}, "Ge", "Ga")
    assert ANION_VACANCY not in {v.compensation for v in one_fu.variants}
    assert any("whole number" in n for n in one_fu.notes)


def test_compensations_can_be_restricted():
    plan = plan_substitution(LGPS_CELL, "Ge", "Ca", compensations=[LI_INTERSTITIAL])
    assert [v.compensation for v in plan.variants] == [PLAIN, LI_INTERSTITIAL]


def test_substituent_state_is_the_closest_common_state_ties_to_the_higher():
    assert substituent_oxidation_state("Sn", 4) == 4    # common -4, 2, 4
    assert substituent_oxidation_state("Sb", 4) == 5    # 3 and 5 equally close
    assert substituent_oxidation_state("Sr", 4) == 2


@pytest.mark.parametrize("args, match", [
    (("Ge", "Xx"), "unknown element"),
    (("Sn", "Sr"), "not in the host"),
    (("Ge", "F"), "no common cation oxidation state"),
    (("Ge", "Ge"), "site element itself"),
])
def test_bad_input(args, match):
    with pytest.raises(InputError, match=match):
        plan_substitution(LGPS_CELL, *args)


def test_proposals_follow_the_stated_score():
    from pymatgen.analysis.structure_prediction.substitution_probability import SubstitutionProbability
    from pymatgen.core import Species

    props = propose_substituents("Li10GeP2S12", "Ge", 6)
    assert len(props) == 6
    assert [p.score for p in props] == sorted((p.score for p in props), reverse=True)
    sp = SubstitutionProbability()
    ge = Species("Ge", 4)
    for p in props:
        assert p.element not in ("Li", "Ge", "P", "S")
        prob = sp.cond_prob(Species(p.element, p.oxidation_state), ge)
        dr = (p.radius_A - p.site_radius_A) / p.site_radius_A
        assert p.score == pytest.approx(prob * math.exp(-0.5 * (dr / 0.15) ** 2) * 0.5 ** abs(p.oxidation_state - 4))
    only = propose_substituents("Li10GeP2S12", "Ge", 5, allowed={"Sn", "Zr", "Ca"})
    assert {p.element for p in only} <= {"Sn", "Zr", "Ca"} and len(only) == 3
    with pytest.raises(InputError):
        propose_substituents("Li10GeP2S12", "Ge", 0)


def test_energy_above_hull_by_hand():
    from sseflow.analysis.reference import ReferenceSet

    # Hull: Li (0), LiS (-1.0 eV/atom), S (0).
    rs = ReferenceSet.from_entries([("Li", 0.0), ("S", 0.0), ("LiS", -1.0)])
    # Li3S at x_S = 1/4: hull between Li and LiS -> -0.5 eV/atom; a phase at -0.4 is 100 meV above
    assert energy_above_hull(rs, "Li3S", -0.4) == pytest.approx(100.0)
    assert energy_above_hull(rs, "Li3S", -0.7) == 0.0   # below the hull


def _row(formula, balanced, ehull, vred=1.0, rli=-100.0):
    return {"label": formula, "formula": formula, "substituent": "X", "compensation": PLAIN,
            "charge_balanced": balanced, "net_charge": 0.0 if balanced else -2.0, "e_above_hull_meV": ehull,
            "reduction_V": vred, "oxidation_V": 2.0, "rxn_li_meV": rli, "rxn_li_products": ["Li2S"],
            "rxn_alloy_meV": rli / 2, "rxn_alloy_products": ["Li2S", "Si"], "formation_energy_eV_per_atom": -1.0,
            "relax_converged": True}


def test_ranking_puts_charge_balanced_first_then_e_hull_then_reduction_limit():
    rows = rank_rows([_row("A", False, 0.0), _row("B", True, 30.0), _row("C", True, 10.0, vred=1.8),
                      _row("D", True, 10.0, vred=1.2)])
    assert [r["formula"] for r in rows] == ["D", "C", "B", "A"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]


def test_tables():
    rows = rank_rows([_row("Li10SrP2S12", False, 5.0), _row("Li12SrP2S12", True, 12.5)])
    data = list(csv.DictReader(io.StringIO(format_substitution(rows, "csv"))))
    assert [d["formula"] for d in data] == ["Li12SrP2S12", "Li10SrP2S12"]
    assert data[1]["charge_balanced"] == "False" and float(data[0]["e_above_hull_meV"]) == 12.5
    assert json.loads(format_substitution(rows, "json"))[0]["formula"] == "Li12SrP2S12"
    text = format_substitution(rows, "text")
    assert "NO (-2)" in text
    md = format_substitution(rows, "md")
    assert md.count("\n") == 4
    with pytest.raises(InputError):
        format_substitution(rows, "latex")
