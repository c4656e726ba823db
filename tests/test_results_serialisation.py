"""Result objects round-trip through monty, carry balanced pymatgen Reactions and tabulate as
DataFrames: hand-made hulls with numbers worked out by hand, then the shared Materials Project set.

Li-P-S hull (formation energies per atom): Li2S -1.0 (-3 eV/fu), Li3P -0.5 (-2 eV/fu),
Li3PS4 -0.75 (-6 eV/fu), elements 0. Li3PS4 is on the hull (its best competing assemblage,
1.5 Li2S + P + 2.5 S, is -4.5 eV). With Li: Li3PS4 + 5 Li -> 4 Li2S + P (-6 eV, 1.2 V),
P + 3 Li -> Li3P (-2 eV, 2/3 V), so Li3PS4 + 8 Li -> 4 Li2S + Li3P (-8 eV); Li3PS4 -> P + 4 S
+ 3 Li costs 6 eV (2 V). Closed Li3PS4 | Li: kinks at x = 5/13 (-6/13 eV/atom) and x = 1/2
(-8/16 eV/atom).
"""
import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from monty.json import MontyDecoder, MontyEncoder
from pymatgen.analysis.reaction_calculator import Reaction
from pymatgen.core import Composition

from sseflow.analysis.anodes import AnodePhase, anode_phase, lithiation_series
from sseflow.analysis.entries import Entry
from sseflow.analysis.formula import parse_formula
from sseflow.analysis.reactions import Kink, ReactionCalculator, ReactionResult, pymatgen_reaction
from sseflow.analysis.reference import ReferenceSet
from sseflow.analysis.results import ReactionEquation
from sseflow.analysis.screening import Screening, screen
from sseflow.analysis.thermo import FreeEnergyTable, ThermoReport, einstein_free_energy, entries_at_temperature
from sseflow.analysis.window import ProfileStep, WindowCalculator, WindowResult

LPS = [("Li", 0.0), ("P", 0.0), ("S", 0.0), ("Li2S", -1.0), ("Li3P", -0.5), ("Li3PS4", -0.75)]
# A-B-C with Li: LiAlSb the only compound; at 0 V Al + Sb + Li -> LiAlSb, -0.9 eV per 2 non-Li atoms
AL_SB = [("Li", 0.0), ("Al", 0.0), ("Sb", 0.0), ("LiAlSb", -0.3)]
LI_SI = [("Li", 0.0), ("Si", 0.0), ("LiSi", -0.2), ("Li3Si", -0.15)]


@pytest.fixture(scope="module")
def lps():
    return ReactionCalculator(ReferenceSet.from_entries(LPS))


def monty_round_trip(obj):
    return json.loads(json.dumps(obj, cls=MontyEncoder), cls=MontyDecoder)


def assert_round_trips(obj):
    """as_dict/from_dict and MontyEncoder/MontyDecoder give back an equal object of the same class;
    as_dict is plain JSON."""
    d = obj.as_dict()
    assert d["@module"] == type(obj).__module__ and d["@class"] == type(obj).__name__
    text = json.dumps(d)                     # JSON-ready without monty's encoder
    back = type(obj).from_dict(d)
    assert type(back) is type(obj) and back == obj
    assert type(obj).from_dict(json.loads(text)) == obj
    again = monty_round_trip(obj)
    assert type(again) is type(obj) and again == obj
    assert json.dumps(again.as_dict()) == text   # and it serialises the same way again
    return again


def parse_reaction_string(text):
    """[(formula, signed coefficient)] of a display string, reactants negative."""
    def side(s, sign):
        out = []
        for term in s.split(" + "):
            parts = term.split(" ")
            coeff, formula = (1.0, parts[0]) if len(parts) == 1 else (float(parts[0]), parts[1])
            out.append((formula, sign * coeff))
        return out
    lhs, rhs = text.split(" -> ")
    return side(lhs, -1.0) + side(rhs, 1.0)


def assert_reaction_matches(rxn, equation, text):
    """``rxn`` (pymatgen Reaction) has the equation's compositions and coefficients, balanced, and
    the string shows them (to its 4 significant figures)."""
    assert isinstance(rxn, Reaction)
    assert str(equation) == text
    terms = equation.coefficients()
    assert [c.reduced_formula for c in rxn.all_comp] == [Composition(f).reduced_formula for f, _ in terms]
    assert rxn.coeffs == pytest.approx([c for _, c in terms], rel=1e-12, abs=0)
    # balanced, checked with pymatgen's own compositions
    total: dict[str, float] = {}
    for comp, c in zip(rxn.all_comp, rxn.coeffs):
        for el, n in comp.items():
            total[el.symbol] = total.get(el.symbol, 0.0) + c * n
    assert all(abs(v) < 1e-6 for v in total.values()), (text, total)
    # the string's coefficients, read back
    shown = parse_reaction_string(text)
    assert [f for f, _ in shown] == [f for f, _ in terms]
    for (_, cs), (_, ce) in zip(shown, terms):
        assert cs == pytest.approx(ce, rel=5e-4)


def unique_balance(equation) -> bool:
    """True when the compositions admit one balance only (up to scale)."""
    terms = equation.coefficients()
    els = sorted({el for f, _ in terms for el in parse_formula(f)})
    m = np.array([[parse_formula(f).get(el, 0.0) for f, _ in terms] for el in els])
    return len({f for f, _ in terms}) == len(terms) and np.linalg.matrix_rank(m) == len(terms) - 1


def assert_pymatgen_balances_alike(equation):
    """Where the balance is unique, pymatgen's own balancing of the same compositions, scaled to
    our first reactant, gives our coefficients."""
    if not unique_balance(equation):
        return
    own = Reaction([Composition(f) for f, _ in equation.reactants], [Composition(f) for f, _ in equation.products])
    f0, c0 = equation.reactants[0]
    own.normalize_to(Composition(f0), c0)
    assert own.coeffs == pytest.approx([c for _, c in equation.coefficients()], rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------- windows

def test_window_round_trip_and_reactions(lps):
    w = lps.windows.window("Li3PS4")
    assert w.reduction_V == pytest.approx(1.2) and w.oxidation_V == pytest.approx(2.0)
    again = assert_round_trips(w)
    assert [type(p) for p in again.profile] == [ProfileStep] * 4
    assert again.reduction_equation == w.reduction_equation
    # exact floats survive, not just close ones
    assert again.profile[1].potential_V == w.profile[1].potential_V
    assert again.decomposition_energy_5V_meV == w.decomposition_energy_5V_meV == pytest.approx(-1125.0)

    red, ox = w.reduction_pmg_reaction, w.oxidation_pmg_reaction
    assert_reaction_matches(red, w.reduction_equation, w.reduction_reaction)
    assert_reaction_matches(ox, w.oxidation_equation, w.oxidation_reaction)
    # Li a reactant at reduction, a product at oxidation, with the coefficients worked out by hand
    li, s, p, li2s = (Composition(x) for x in ("Li", "S", "P", "Li2S"))
    assert red.get_coeff(li) == pytest.approx(-5.0) and red.get_coeff(li2s) == pytest.approx(4.0)
    assert red.get_coeff(Composition("Li3PS4")) == pytest.approx(-1.0) and red.get_coeff(p) == pytest.approx(1.0)
    assert ox.get_coeff(li) == pytest.approx(3.0) and ox.get_coeff(s) == pytest.approx(4.0)
    assert str(red) == "Li3PS4 + 5 Li -> 4 Li2S + P" == w.reduction_reaction
    assert str(ox) == "Li3PS4 -> P + 4 S + 3 Li" == w.oxidation_reaction
    assert_pymatgen_balances_alike(w.reduction_equation)
    assert_pymatgen_balances_alike(w.oxidation_equation)
    # reaction energies from the Reaction itself: -6 eV at reduction (-5 mu_Li at 1.2 V balances it)
    energies = {Composition("Li3PS4"): -6.0, li2s: -3.0, p: 0.0, li: 0.0, s: 0.0}
    assert red.calculate_energy(energies) == pytest.approx(-6.0)
    assert ox.calculate_energy(energies) == pytest.approx(6.0)

    for step in w.profile:
        assert_reaction_matches(step.pmg_reaction, step.equation, step.reaction)
        assert_round_trips(step)
    # the display payload is unchanged: strings, no equations
    d = w.to_dict()
    assert "reduction_equation" not in d and "oxidation_equation" not in d
    assert d["reduction_reaction"] == "Li3PS4 + 5 Li -> 4 Li2S + P"
    assert set(d["profile"][0]) == {"potential_V", "li_per_formula", "reaction", "products"}


def test_window_without_a_limit_reaction(lps):
    w = lps.windows.window("P")                       # no Li: no oxidation; reduced to Li3P at 2/3 V
    assert w.oxidation_V is None and w.oxidation_equation is None and w.oxidation_pmg_reaction is None
    assert w.reduction_reaction == "P + 3 Li -> Li3P"
    assert w.reduction_pmg_reaction.get_coeff(Composition("Li")) == pytest.approx(-3.0)
    assert_round_trips(w)
    w = lps.windows.window("Li2S", profile=False)    # stable against Li metal
    assert w.reduction_reaction is None and w.reduction_pmg_reaction is None
    assert w.oxidation_reaction == "Li2S -> S + 2 Li"
    assert_round_trips(w)
    assert w.to_dataframe().empty and list(w.to_dataframe().columns) == [
        "potential_V", "li_per_formula", "reaction", "products", "pmg_reaction"]


def test_window_dataframe_is_the_profile(lps):
    w = lps.windows.window("Li3PS4")
    df = w.to_dataframe()
    assert list(df.columns) == ["potential_V", "li_per_formula", "reaction", "products", "pmg_reaction"]
    assert df["potential_V"].tolist() == pytest.approx([0.0, 2 / 3, 1.2, 2.0])
    assert df["li_per_formula"].tolist() == pytest.approx([8.0, 5.0, 0.0, -3.0], abs=1e-9)
    assert df["reaction"].tolist() == ["Li3PS4 + 8 Li -> 4 Li2S + Li3P", "Li3PS4 + 5 Li -> 4 Li2S + P",
                                       "Li3PS4 -> Li3PS4", "Li3PS4 -> P + 4 S + 3 Li"]
    assert df["products"].tolist() == [["Li2S", "Li3P"], ["Li2S", "P"], ["Li3PS4"], ["P", "S"]]
    assert [str(r) for r in df["pmg_reaction"]] == df["reaction"].tolist()
    assert df["pmg_reaction"][0].get_coeff(Composition("Li")) == pytest.approx(-8.0)
    assert df.attrs["formula"] == "Li3PS4" and df.attrs["oxidation_V"] == pytest.approx(2.0)


def test_nan_and_infinity_survive(lps):
    w = lps.windows.window("Li3PS4", profile=False)
    odd = dataclasses.replace(w, e_above_hull_meV=math.nan, decomposition_energy_5V_meV=-math.inf,
                              oxidation_V=math.inf)
    assert odd == odd and odd != w
    for back in (WindowResult.from_dict(json.loads(json.dumps(odd.as_dict()))), monty_round_trip(odd)):
        assert math.isnan(back.e_above_hull_meV)
        assert back.decomposition_energy_5V_meV == -math.inf and back.oxidation_V == math.inf
        assert back == odd
    k = Kink(x=0.25, energy_meV_per_atom=math.nan, reaction="A -> A", products=["A"],
             energy_eV_per_reaction=math.inf, y=-0.0)
    back = assert_round_trips(k)
    assert math.isnan(back.energy_meV_per_atom) and back.energy_eV_per_reaction == math.inf
    assert math.copysign(1.0, back.y) == -1.0


def test_equality_is_exact(lps):
    w = lps.windows.window("Li3PS4", profile=False)
    nudged = dataclasses.replace(w, reduction_V=np.nextafter(w.reduction_V, 2.0))
    assert nudged != w
    assert dataclasses.replace(w, notes=["x"]) != w
    assert dataclasses.replace(w, reduction_equation=None) != w


# ---------------------------------------------------------------- reaction curves

def test_closed_reaction_round_trip_reactions_and_dataframe(lps):
    r = lps.react("Li3PS4", "Li")
    again = assert_round_trips(r)
    assert [type(k) for k in again.kinks] == [Kink] * 4 and type(again.minimum) is Kink
    assert again.minimum == r.minimum and again.kinks[1].x == r.kinks[1].x == pytest.approx(5 / 13)
    assert again._fa == r._fa and again.energy_at(0.4) == r.energy_at(0.4)

    for k in r.kinks:
        assert_reaction_matches(k.pmg_reaction, k.equation, k.reaction)
        assert str(k.pmg_reaction) == k.reaction
        assert_pymatgen_balances_alike(k.equation)
        assert_round_trips(k)
    m = r.minimum.pmg_reaction
    assert m.get_coeff(Composition("Li")) == pytest.approx(-8.0)
    assert m.get_coeff(Composition("Li3P")) == pytest.approx(1.0)
    # E_rxn per reaction as written, from the Reaction and the formation energies per formula unit
    fu = {Composition("Li3PS4"): -6.0, Composition("Li"): 0.0, Composition("Li2S"): -3.0, Composition("Li3P"): -2.0,
          Composition("P"): 0.0}
    for k in r.kinks[1:3]:
        assert k.pmg_reaction.calculate_energy(fu) == pytest.approx(k.energy_eV_per_reaction, abs=1e-9)

    df = r.to_dataframe()
    assert list(df.columns) == ["x", "E_rxn (meV/atom)", "E_rxn (eV/reaction)", "reaction", "products", "pmg_reaction"]
    assert df["x"].tolist() == pytest.approx([0.0, 5 / 13, 0.5, 1.0])
    assert df["E_rxn (meV/atom)"].tolist() == pytest.approx([0.0, -6000 / 13, -500.0, 0.0], abs=1e-9)
    assert df["E_rxn (eV/reaction)"].tolist() == pytest.approx([0.0, -6.0, -8.0, 0.0], abs=1e-9)
    assert df["reaction"].tolist() == ["Li3PS4 -> Li3PS4", "Li3PS4 + 5 Li -> 4 Li2S + P",
                                       "Li3PS4 + 8 Li -> 4 Li2S + Li3P", "Li -> Li"]
    assert df["products"].tolist() == [["Li3PS4"], ["Li2S", "P"], ["Li2S", "Li3P"], ["Li"]]
    assert all(a == k.pmg_reaction for a, k in zip(df["pmg_reaction"], r.kinks))
    assert df.attrs["reactant_a"] == "Li3PS4" and df.attrs["potential_V"] is None
    assert df["E_rxn (meV/atom)"].idxmin() == 2


def test_open_reaction_round_trip_and_reservoir_li():
    c = ReactionCalculator(ReferenceSet.from_entries(AL_SB))
    r = c.react("Al", "Sb", potential=0.0)
    again = assert_round_trips(r)
    assert again.potential_V == 0.0 and again.minimum.energy_meV_per_atom == pytest.approx(-450.0)
    m = r.minimum
    assert m.reaction == "Al + Sb + Li -> LiAlSb"
    rxn = m.pmg_reaction
    assert_reaction_matches(rxn, m.equation, m.reaction)
    assert rxn.reactants == [Composition("Al"), Composition("Sb"), Composition("Li")]
    assert rxn.get_coeff(Composition("Li")) == pytest.approx(-1.0)
    # at 0 V mu_Li = 0: the Reaction's energy is the grand-potential E_rxn per reaction, -0.9 eV
    e = {Composition("Al"): 0.0, Composition("Sb"): 0.0, Composition("Li"): 0.0, Composition("LiAlSb"): -0.9}
    assert rxn.calculate_energy(e) == pytest.approx(m.energy_eV_per_reaction) == pytest.approx(-0.9)
    df = r.to_dataframe()
    assert df.attrs["potential_V"] == 0.0 and "non-Li" in df.attrs["normalisation"]
    assert df["E_rxn (meV/atom)"].min() == pytest.approx(-450.0)
    # Li given back to the reservoir is a product
    r3 = c.react("LiAlSb", "Al", potential=3.0)
    k0 = r3.kinks[0]
    assert k0.reaction == "LiAlSb -> Al + Sb + Li"
    assert k0.pmg_reaction.get_coeff(Composition("Li")) == pytest.approx(1.0)
    assert_round_trips(r3)


def test_open_reactions_with_more_phases_than_elements(lps):
    """A + B + Li -> two products in a ternary: the compositions admit many balances; the
    Reaction keeps the one computed here (that of the string)."""
    r = lps.react("Li3PS4", "S", potential=1.0)
    assert_round_trips(r)
    for k in r.kinks:
        assert_reaction_matches(k.pmg_reaction, k.equation, k.reaction)
    # (pymatgen's own balancing of these compositions gives Li3PS4 + S + 7 Li -> 5 Li2S + P)
    eq = ReactionEquation([("Li3PS4", 1), ("S", 2), ("Li", 9)], [("Li2S", 6), ("P", 1)])
    assert eq.is_balanced() and not unique_balance(eq)
    rxn = eq.to_pymatgen()
    assert rxn.coeffs == [-1.0, -2.0, -9.0, 6.0, 1.0]
    assert str(rxn) == str(eq) == "Li3PS4 + 2 S + 9 Li -> 6 Li2S + P"


def test_reaction_equation_terms_and_balance():
    eq = ReactionEquation([("Li1.5S", 1.0), ("Li", np.float64(0.5)), ("S", 1e-12)], [("Li2S", 1.0)])
    assert eq.reactants == [("Li1.5S", 1.0), ("Li", 0.5)]          # dust left out, as in the string
    assert type(eq.reactants[1][1]) is float
    assert str(eq) == "Li1.5S + 0.5 Li -> Li2S" and eq.is_balanced()
    assert eq.to_pymatgen().get_coeff(Composition("Li1.5S")) == -1.0
    assert_round_trips(eq)
    bad = ReactionEquation([("Li2S", 1.0)], [("LiS", 1.0)])
    assert not bad.is_balanced() and bad.imbalance() == {"Li": -1.0, "S": 0.0}
    identity = ReactionEquation([("Li2S", 1.0)], [("Li2S", 1.0)])
    assert identity.to_pymatgen().coeffs == [-1.0, 1.0] and str(identity.to_pymatgen()) == "Li2S -> Li2S"


# ---------------------------------------------------------------- screening, anodes, thermo

def test_screening_round_trip_and_dataframe(lps):
    res = screen("Li3PS4", "Li", lps.reference, ["Li2S", "Li3P", "S", "LiCl", "Li2S2"], calculator=lps)
    assert res.skipped == [("LiCl", "its chemical system is not covered by the reference set"),
                           ("Li2S2", "not in the reference set")]
    again = assert_round_trips(res)
    assert again.skipped == res.skipped and type(again.skipped[0]) is tuple
    assert again.notes == res.notes and again.rows == res.rows
    df = res.to_dataframe()
    assert len(df) == 3 and list(df.columns) == list(res.rows[0])
    assert df["candidate"].tolist() == ["Li2S", "Li3P", "S"] and df["rank"].tolist() == [1, 2, 3]
    s = df.set_index("candidate")
    assert s.loc["S", "rxn_anode_meV"] == pytest.approx(-1000.0)        # S + 2 Li -> Li2S: -3 eV / 3 atoms
    assert s.loc["S", "anode_reaction"] == "S + 2 Li -> Li2S"
    assert s.loc["Li2S", "verdict"] == "stable on both sides"
    assert s.loc["Li3P", "electrolyte_products"] == res.rows[1]["electrolyte_products"]
    assert df.attrs == {"electrolyte": "Li3PS4", "anode": "Li", "anode_potential_V": 0.0}


def test_anode_phases_round_trip():
    calc = WindowCalculator(ReferenceSet.from_entries(LI_SI))
    series = lithiation_series(calc)
    assert [p.formula for p in series] == ["Si", "LiSi", "Li3Si"]
    back = monty_round_trip(series)
    assert back == series and all(type(p) is AnodePhase for p in back)
    for p in series + [anode_phase(calc, "Li")]:
        assert_round_trips(p)
    assert series[1].to_dict()["potential_V"] == pytest.approx(0.1)     # LiSi + 2 Li -> Li3Si: 0.2 eV / 2 Li


def test_thermo_report_and_free_energy_tables_round_trip():
    T = np.arange(0.0, 1001.0, 50.0)
    tables = [FreeEnergyTable(f, T, einstein_free_energy(T, th), source="einstein") for f, th in
              (("Li", 300), ("S", 250), ("Li2S", 380))]
    entries = [Entry(f, parse_formula(f), e, f) for f, e in (("Li", 0.0), ("S", 0.0), ("Li2S", -1.0), ("LiS", -0.9))]
    shifted, report = entries_at_temperature(entries, 600.0, tables)
    assert report.with_free_energy == ["Li", "Li2S", "S"] and report.missing == ["LiS"]
    assert type(assert_round_trips(report)) is ThermoReport
    for tab in tables:
        back = assert_round_trips(tab)
        assert isinstance(back.temperatures, np.ndarray) and back.free_energy.dtype == np.float64
        assert np.array_equal(back.free_energy, tab.free_energy) and back([333.0]) == tab([333.0])
        assert hash(back) == hash(tab)
    odd = FreeEnergyTable("Li2S", np.array([0.0, 300.0]), np.array([np.nan, -np.inf]), flagged=True, note="n")
    back = assert_round_trips(odd)
    assert np.isnan(back.free_energy[0]) and back.free_energy[1] == -np.inf and back.flagged
    assert FreeEnergyTable("Li2S", np.array([0.0, 300.0]), np.array([0.0, -0.1])) != odd
    assert len({tables[0], assert_round_trips(tables[0])}) == 1


def test_results_in_one_json_document(lps):
    doc = {"window": lps.windows.window("Li3PS4"), "curves": [lps.react("Li3PS4", "Li"), lps.react("Li2S", "P")]}
    back = monty_round_trip(doc)
    assert back == doc and type(back["curves"][1]) is ReactionResult


def test_importing_window_stays_light():
    code = ("import sys, sseflow.analysis.window, sseflow.analysis.reactions, sseflow.analysis.screening; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'pymatgen', 'fireworks', 'pymongo'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- Materials Project set

def _net(rxn) -> dict[str, float]:
    """Reduced formula -> net coefficient (per formula unit of the reduced formula)."""
    out: dict[str, float] = {}
    for comp, c in zip(rxn.all_comp, rxn.coeffs):
        f, factor = comp.get_reduced_formula_and_factor()
        out[f] = out.get(f, 0.0) + c * factor
    return {f: c for f, c in out.items() if abs(c) > 1e-6}


@pytest.mark.parametrize("a, b, potential", [("Li3PS4", "Li", None), ("Li6PS5Cl", "Si", 0.3),
                                             ("Li3PS4", "Li4Ti5O12", None), ("Li3PS4", "Li4Ti5O12", 1.0)])
def test_mp_reactions_round_trip_and_match_pymatgen(mp_reference, a, b, potential):
    rc = ReactionCalculator(mp_reference)
    r = rc.react(a, b, potential=potential)
    assert_round_trips(r)
    ours = {}
    for k in r.kinks:
        assert_reaction_matches(k.pmg_reaction, k.equation, k.reaction)
        assert_pymatgen_balances_alike(k.equation)
        ours[round(k.x, 6)] = _net(k.pmg_reaction)
    ir = pymatgen_reaction(a, b, rc.space(set(r.chemsys.split("-"))).entries, potential=potential)
    theirs = {round(x, 6): _net(rxn) for _, x, _, rxn, _ in ir.get_kinks()}
    assert ours.keys() == theirs.keys()
    ra, rb = Composition(a).reduced_formula, Composition(b).reduced_formula
    for x, mine in ours.items():
        other = theirs[x]
        assert mine.keys() == other.keys(), x
        if not mine:                                      # A -> A at an end point
            continue
        ref = ra if ra in mine else rb                    # the same reaction, up to scale
        scale = mine[ref] / other[ref]
        assert {f: c / scale for f, c in mine.items()} == pytest.approx(other, rel=1e-6), x
    df = r.to_dataframe()
    assert len(df) == len(r.kinks) and df["E_rxn (meV/atom)"].min() == pytest.approx(r.min_energy_meV)


def test_mp_windows_and_screening_round_trip(mp_reference):
    calc = WindowCalculator(mp_reference)
    for f in ("Li3PS4", "Li6PS5Cl", "Li7La3Zr2O12"):
        w = calc.window(f)
        assert_round_trips(w)
        assert_reaction_matches(w.reduction_pmg_reaction, w.reduction_equation, w.reduction_reaction)
        assert_reaction_matches(w.oxidation_pmg_reaction, w.oxidation_equation, w.oxidation_reaction)
        assert w.reduction_pmg_reaction.get_coeff(Composition("Li")) < 0
        assert w.oxidation_pmg_reaction.get_coeff(Composition("Li")) > 0
        for step in w.profile:
            assert_reaction_matches(step.pmg_reaction, step.equation, step.reaction)
        assert w.to_dataframe()["potential_V"].tolist() == [p.potential_V for p in w.profile]
    res = screen("Li3PS4", "Li", mp_reference, ["LiF", "Li3N", "Li2O", "LiCl", "Li3PO4"])
    assert_round_trips(res)
    assert res.to_dataframe()["candidate"].tolist() == [r["candidate"] for r in res.rows]
