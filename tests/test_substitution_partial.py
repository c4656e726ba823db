"""Partial substitution (``--fraction``: supercell, symmetry-distinct orderings, Ewald ranking,
the lowest relaxed ordering kept, charge balance) and the element filter of ``--auto`` proposals."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers import FakeResult, sseflow

from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import parse_formula, reduced_formula
from sseflow.analysis.substitution import (
    ANION_VACANCY, DEFAULT_EXCLUDED, LI_INTERSTITIAL, LI_VACANCY, PLAIN, cells_for_fraction, plan_substitution,
    propose_substituents)

OX = {"Li": 1, "Ge": 4, "P": 5, "S": -2, "Sr": 2, "Sn": 4, "Nb": 5, "Zr": 4, "Si": 4, "As": 5, "Pt": 4}

# Stand-in calculator: elemental energies (eV/atom) and formation energies (eV/atom) by reduced formula.
MU = {"Li": -1.9, "Ge": -4.5, "P": -5.4, "S": -4.1, "Sr": -1.6, "Si": -5.4, "Sn": -3.8, "Zr": -8.5, "Nb": -10.1,
      "As": -4.6, "Pt": -6.0}
FORM = {"Li10GeP2S12": -1.10}
REF = "formula,e_form\n" + "".join(f"{el},0\n" for el in MU) + """Li2S,-1.50
Li3PS4,-1.10
Li10GeP2S12,-1.09
GeS2,-0.65
SrS,-2.30
SnS2,-0.50
Li3P,-0.70
Li15Si4,-0.25
SiS2,-0.60
"""


PENALTY = 0.005   # eV/atom of the stand-in for a substituent on a penalised site


class FakeBackend:
    """The model energy of the input structure (no relaxation), plus ``PENALTY`` when a Sn or Sr
    sits on one of ``penalised`` (Cartesian positions): it tells orderings apart."""

    name = "fake"
    correction_scheme = "MP2020"

    def __init__(self, penalised=()):
        self.penalised = [np.asarray(p) for p in penalised]

    def relax(self, structure, relax_cell=True):
        comp = {str(el): a for el, a in structure.composition.get_el_amt_dict().items()}
        n = sum(comp.values())
        form = 0.0 if len(comp) == 1 else FORM.get(reduced_formula(comp), -0.9)
        hit = any(np.linalg.norm(s.coords - p) < 1e-3 for s in structure if s.specie.symbol in ("Sn", "Sr")
                  for p in self.penalised)
        return FakeResult(structure, sum(a * MU[el] for el, a in comp.items()) / n + form + PENALTY * hit)


@pytest.fixture
def lgps():
    from sseflow.workflows.substitution import load_host

    return load_host("Li10GeP2S12")[0]


@pytest.fixture
def ref_csv(tmp_path):
    p = tmp_path / "ref.csv"
    p.write_text(REF)
    return p


def _toy(a=4.0, b=5.0, c=6.0):
    """An orthorhombic toy host with two Ge per cell (Li4Ge2S6)."""
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice.orthorhombic(a, b, c), ["Ge", "Ge", "S", "S", "S", "S", "S", "S", "Li", "Li", "Li", "Li"],
                     [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0, 0.5, 0.5],
                      [0.5, 0, 0.5], [0.5, 0.5, 0], [0.25, 0.25, 0.25], [0.75, 0.75, 0.25], [0.25, 0.75, 0.75],
                      [0.75, 0.25, 0.75]])


def _cscl(n=2):
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice.cubic(4.1), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]) * (n, n, n)


def _charge(structure, ox=OX) -> float:
    return sum(ox[s.specie.symbol] for s in structure)


# ------------------------------------------------------------------ compositions and supercells

def test_half_substitution_composition_and_count():
    cell = {"Li": 20, "Ge": 2, "P": 4, "S": 24}
    plan = plan_substitution(cell, "Ge", "Sn", n_substituted=1)
    (v,) = plan.variants
    assert v.cell_composition == {"Li": 20, "Ge": 1, "Sn": 1, "P": 4, "S": 24}
    assert v.formula == "Li20GeSnP4S24" and v.formula_per_host_fu == "Li10Ge0.5Sn0.5P2S12"
    assert v.n_substituted == 1 and plan.fraction == 0.5 and plan.partial
    assert v.charge.balanced
    # full substitution unchanged
    full = plan_substitution(cell, "Ge", "Sn")
    assert full.variants[0].formula == "Li10SnP2S12" and full.n_sites == 2 and not full.partial
    with pytest.raises(InputError, match="cannot substitute 3"):
        plan_substitution(cell, "Ge", "Sn", n_substituted=3)


def test_partial_aliovalent_charge_balance_scales_with_the_atoms_replaced():
    # 1 of 4 Ge (2x1x1 LGPS cell) by Sr2+: 2 charges missing per cell, not 4 or 8
    cell = {"Li": 40, "Ge": 4, "P": 8, "S": 48}
    plan = plan_substitution(cell, "Ge", "Sr", n_substituted=1)
    assert plan.charge_difference == -2
    by = {v.compensation: v for v in plan.variants}
    assert by[PLAIN].cell_composition == {"Li": 40, "Ge": 3, "Sr": 1, "P": 8, "S": 48}
    assert not by[PLAIN].charge.balanced and by[PLAIN].charge.net == -2     # per Li40Ge3SrP8S48
    assert "+94 against -96" in by[PLAIN].charge.describe()
    assert by[LI_INTERSTITIAL].changes == {"Li": 2.0} and by[LI_INTERSTITIAL].formula == "Li42Ge3SrP8S48"
    assert by[ANION_VACANCY].changes == {"S": -1.0} and by[ANION_VACANCY].formula == "Li40Ge3SrP8S47"
    for v in (by[LI_INTERSTITIAL], by[ANION_VACANCY]):
        assert v.charge.balanced
        assert sum(a * OX[el] for el, a in v.cell_composition.items()) == 0    # independent count
    # a higher-valent one: 3 of 4 Ge by Nb5+ -> 3 Li removed
    nb = plan_substitution(cell, "Ge", "Nb", n_substituted=3)
    li_vac = next(v for v in nb.variants if v.compensation == LI_VACANCY)
    assert li_vac.changes == {"Li": -3.0} and li_vac.formula == "Li37GeNb3P8S48"
    assert li_vac.formula_per_host_fu == "Li9.25Ge0.25Nb0.75P2S12" and li_vac.charge.balanced


@pytest.mark.parametrize("n, x, want", [(2, 0.5, (1, 1)), (2, 0.25, (2, 1)), (2, 0.75, (2, 3)), (2, 1 / 3, (3, 2)),
                                         (2, 0.333, (3, 2)), (3, 0.5, (2, 3)), (4, 0.125, (2, 1)), (1, 0.25, (4, 1)),
                                         (2, 1.0, (1, 2))])
def test_cells_for_fraction(n, x, want):
    assert cells_for_fraction(n, x) == want


@pytest.mark.parametrize("x, match", [(0.1, "not a whole number"), (0.0, r"in \(0, 1\]"), (1.5, r"in \(0, 1\]"),
                                      (float("nan"), r"in \(0, 1\]"), (float("inf"), r"in \(0, 1\]"),
                                      (-0.5, r"in \(0, 1\]")])
def test_cells_for_fraction_refuses(x, match):
    with pytest.raises(InputError, match=match):
        cells_for_fraction(2, x, "Ge")


def test_supercell_is_the_smallest_and_most_compact():
    from sseflow.workflows.substitution import choose_supercell

    toy = _toy(4.0, 5.0, 6.0)                     # two Ge per cell
    assert choose_supercell(toy, "Ge", 0.5) == ((1, 1, 1), 1)
    assert choose_supercell(toy, "Ge", 0.25) == ((2, 1, 1), 1)      # the shortest axis doubled
    assert choose_supercell(toy, "Ge", 1 / 3) == ((3, 1, 1), 2)
    assert choose_supercell(_toy(6.0, 4.0, 5.0), "Ge", 0.25) == ((1, 2, 1), 1)
    # four cells: 2x2x1 (shortest vector 6 A) beats 2x1x2 and 4x1x1 (5 A) and 1x2x2 (4 A)
    assert choose_supercell(toy, "Ge", 0.125) == ((2, 2, 1), 1)
    with pytest.raises(InputError, match="not a whole number"):
        choose_supercell(toy, "Ge", 0.1)


# ------------------------------------------------------------------ orderings

def _distinct_by_matcher(structure, site, sub, k):
    """Independent count: every choice built and grouped with pymatgen's StructureMatcher."""
    from itertools import combinations

    from pymatgen.analysis.structure_matcher import StructureMatcher

    idx = [i for i, s in enumerate(structure) if s.specie.symbol == site]
    built = []
    for c in combinations(idx, k):
        s = structure.copy()
        for i in c:
            s.replace(i, sub)
        built.append(s)
    return len(StructureMatcher().group_structures(built))


@pytest.mark.parametrize("k, want", [(1, 1), (2, 3), (3, 3), (4, 6)])
def test_symmetry_distinct_orderings_on_a_simple_cubic_sublattice(k, want):
    """k of the 8 Cs of a 2x2x2 CsCl cell: pairs at a, a*sqrt2, a*sqrt3 (3); 4 of the 8 cube
    vertices: 6 up to the cube's symmetry."""
    from math import comb

    from sseflow.workflows.substitution import rank_orderings

    s = _cscl(2)
    res = rank_orderings(s, "Cs", "K", k, {"Cs": 1, "Cl": -1}, top=10)
    assert res.combinations == comb(8, k)
    assert res.distinct == want == _distinct_by_matcher(s, "Cs", "K", k)
    assert sum(o.multiplicity for o in res.orderings) == comb(8, k)
    assert len(res.orderings) == want
    if k == 2:  # isovalent: equal Ewald energies, the most spread-out pair (body diagonal) first
        o = res.orderings[0]
        assert all(abs(x.ewald_eV - o.ewald_eV) < 1e-6 for x in res.orderings)
        i, j = o.indices
        assert s.get_distance(i, j) == pytest.approx(4.1 * math.sqrt(3))


def test_ewald_ranking_matches_pymatgen_for_an_aliovalent_substituent(lgps):
    from pymatgen.analysis.ewald import EwaldSummation

    from sseflow.workflows.substitution import rank_orderings

    sup = lgps * (2, 1, 1)
    res = rank_orderings(sup, "Ge", "Sr", 2, None, top=10)
    assert res.combinations == 6 and len(res.orderings) == res.distinct >= 2
    energies = []
    for o in res.orderings:   # the ranked energies are the Ewald energies of the ordered cells
        s = sup.copy()
        for i in o.indices:
            s.replace(i, "Sr")
        s.add_oxidation_state_by_element({"Li": 1, "Ge": 4, "Sr": 2, "P": 5, "S": -2})
        energies.append(EwaldSummation(s).total_energy)
    assert energies == sorted(energies)
    e0 = energies[0] - res.orderings[0].ewald_eV
    assert [e - e0 for e in energies] == pytest.approx([o.ewald_eV for o in res.orderings], abs=1e-6)
    assert res.orderings[0].ewald_eV < res.orderings[-1].ewald_eV - 1e-3


# ------------------------------------------------------------------ the screening

def test_partial_screening_keeps_the_lowest_relaxed_ordering(lgps, ref_csv):
    from sseflow.workflows.substitution import rank_orderings, screen_substitutions

    sup = lgps * (2, 1, 1)
    # the stand-in puts the Ewald-lowest ordering of each substituent 5 meV/atom above the next one
    first = [sup[i].coords for sub in ("Sn", "Sr") for i in rank_orderings(sup, "Ge", sub, 1).orderings[0].indices]
    res = screen_substitutions(lgps, "Ge", ["Sn", "Sr"], reference=ref_csv, calculator=FakeBackend(first),
                               correction_scheme="MP2020", fraction=0.25, orderings=5, compensations=[LI_INTERSTITIAL])
    assert (res.fraction, res.supercell, res.substituted, res.site_atoms) == (0.25, "2x1x1", 1, 4)
    rows = {r["label"]: r for r in res.rows}
    assert set(rows) == {"Li10GeP2S12 (host)", "Sn", "Sr", "Sr (li-interstitial)"}
    sn = rows["Sn"]
    assert sn["formula"] == "Li40Ge3SnP8S48" and sn["formula_per_host_fu"] == "Li10Ge0.75Sn0.25P2S12"
    assert sn["substituted_sites"] == 1 and sn["site_atoms"] == 4 and sn["cell_atoms"] == 100
    assert sn["orderings_combinations"] == 4 and sn["orderings_relaxed"] == sn["orderings_distinct"] == 2
    assert rows["Sr (li-interstitial)"]["formula"] == "Li42Ge3SrP8S48"
    assert rows["Sr (li-interstitial)"]["charge_balanced"] and not rows["Sr"]["charge_balanced"]
    assert rows["Sr"]["net_charge"] == -2
    for label in ("Sn", "Sr", "Sr (li-interstitial)"):
        r = rows[label]
        group = [c for c in res.calculations if c.kind in ("candidate", "ordering")
                 and (c.label == label or c.label.startswith(label + " [ordering"))]
        assert len(group) == r["orderings_relaxed"]
        e = sorted(c.result.energy_per_atom for c in group)
        kept = next(c for c in group if c.kind == "candidate")
        assert kept.result.energy_per_atom == e[0]                       # the lowest relaxed ordering
        assert r["ordering_rank_ewald"] == 2                              # not the Ewald-lowest one
        assert r["ordering_gap_meV"] == pytest.approx(1000 * (e[1] - e[0])) == pytest.approx(1000 * PENALTY)
        assert sum(s.specie.symbol == r["substituent"] for s in kept.structure) == 1
        assert abs(_charge(kept.structure)) == (0 if r["charge_balanced"] else 2)
        note = " ".join(n for n in res.notes if n.startswith(label + ":"))
        assert "2x1x1 supercell" in note and "kept Ewald rank 2; next ordering 5.0 meV/atom higher" in note
    csv_head = res.table("csv").splitlines()[0]
    assert "formula_per_host_fu" in csv_head and "ordering_gap_meV" in csv_head
    assert "per f.u." in res.table("text")


def test_orderings_limit_the_relaxations(lgps, ref_csv):
    from sseflow.workflows.substitution import screen_substitutions

    res = screen_substitutions(lgps, "Ge", ["Sn"], reference=ref_csv, calculator=FakeBackend(),
                               correction_scheme="MP2020", fraction=0.5, orderings=1, include_host=False,
                               compensations=[])
    (row,) = res.rows
    assert row["formula"] == "Li20GeSnP4S24" and row["supercell"] == "1x1x1"
    assert row["orderings_relaxed"] == 1 and row["ordering_gap_meV"] is None
    with pytest.raises(InputError, match="orderings"):
        screen_substitutions(lgps, "Ge", ["Sn"], reference=ref_csv, calculator=FakeBackend(),
                             correction_scheme="MP2020", fraction=0.5, orderings=0)


# ------------------------------------------------------------------ proposals

def test_auto_filter_leaves_out_precious_and_toxic_elements():
    props = propose_substituents("Li10GeP2S12", "Ge", 12)
    assert not {p.element for p in props} & DEFAULT_EXCLUDED
    assert {"Pt", "As", "Pb", "Au", "Cd", "Hg"}.isdisjoint(p.element for p in props) and len(props) == 12
    assert props.skipped[:2] == ["As", "Pt"]          # both would be among the 12 best otherwise
    assert "skipped by the filter: As, Pt" in props.filter_note()
    free = propose_substituents("Li10GeP2S12", "Ge", 12, any_element=True)
    assert {"As", "Pt"} <= {p.element for p in free} and free.skipped == []
    assert not {p.element for p in free} & {"U", "Th", "Tc", "Pm", "Po"}          # radioactive stay out
    more = propose_substituents("Li10GeP2S12", "Ge", 4, exclude_elements=["Ti"])
    assert [p.element for p in more] == ["Si", "Sn", "Mn", "Al"] and more.skipped == ["Ti", "As"]
    with pytest.raises(InputError, match="unknown element"):
        propose_substituents("Li10GeP2S12", "Ge", 3, exclude_elements=["Xx"])


# ------------------------------------------------------------------ the command

@pytest.fixture
def fake_cli(monkeypatch, home, ref_csv):
    import sseflow.workflows.stages.calculations as calcs
    import sseflow.workflows.substitution as sub

    monkeypatch.setattr(sub, "_backend", lambda calculator, preset: FakeBackend())
    monkeypatch.setattr(calcs, "expected_parameters", lambda *a, **k: {"fmax": 0.05})
    return ref_csv


def test_cli_fraction_json_is_pure(capsys, fake_cli):
    code, out, err = sseflow(capsys, "substitute", "Li10GeP2S12", "--site", "Ge", "--with", "Sn,Sr",
                             "--fraction", "0.5", "--compensation", "anion-vacancy", "--reference", fake_cli,
                             "--reference-scheme", "MP2020", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["fraction"], doc["supercell"], doc["substituted_sites"]) == (0.5, "1x1x1", 1)
    rows = {r["label"]: r for r in doc["rows"]}
    assert rows["Sn"]["formula"] == "Li20GeSnP4S24" and rows["Sr (anion-vacancy)"]["formula"] == "Li20GeSrP4S23"
    assert rows["Sr (anion-vacancy)"]["formula_per_host_fu"] == "Li10Ge0.5Sr0.5P2S11.5"
    assert rows["Sr"]["charge_balanced"] is False and rows["Sr"]["net_charge"] == -2


def test_cli_text_head_and_per_formula_unit_column(capsys, fake_cli):
    code, out, err = sseflow(capsys, "substitute", "Li10GeP2S12", "--site", "Ge", "--with", "Sn", "--fraction", "0.75",
                             "--reference", fake_cli, "--reference-scheme", "MP2020")
    assert code == 0, err
    assert out.startswith("Li10GeP2S12: 3 of 4 Ge (x = 0.75) in a 2x1x1 supercell of the host cell substituted")
    assert "Li40GeSn3P8S48" in out and "Li10Ge0.25Sn0.75P2S12" in out
    assert "symmetry-distinct" in err


def test_cli_default_fraction_is_the_full_substitution(capsys, fake_cli):
    argv = ["substitute", "Li10GeP2S12", "--site", "Ge", "--with", "Sr", "--reference", fake_cli,
            "--reference-scheme", "MP2020", "--format", "csv"]
    code, plain, err = sseflow(capsys, *argv)
    assert code == 0, err
    code, one, err = sseflow(capsys, *argv, "--fraction", "1", "--orderings", "7")
    assert code == 0 and one == plain
    assert plain.splitlines()[0].startswith("rank,label,formula,substituent,")
    assert "Li12SrP2S12" in plain


@pytest.mark.parametrize("args, match", [
    (["--fraction", "0"], "--fraction"),
    (["--fraction", "1.5"], "--fraction"),
    (["--fraction", "nan"], "not a finite number"),
    (["--fraction", "inf"], "--fraction"),
    (["--fraction", "-0.5"], "--fraction"),
    (["--fraction", "0.1"], "not a whole number"),
    (["--fraction", "0.5", "--orderings", "0"], "--orderings"),
    (["--exclude-elements", "Pt"], "use them with --auto"),
    (["--any-element"], "use them with --auto"),
])
def test_cli_bad_input_one_line_nothing_written(capsys, fake_cli, tmp_path, args, match):
    out_file, cifs = tmp_path / "t.txt", tmp_path / "cifs"
    code, out, err = sseflow(capsys, "substitute", "Li10GeP2S12", "--site", "Ge", "--with", "Sn", *args,
                             "--reference", fake_cli, "--reference-scheme", "MP2020", "-o", out_file,
                             "--structures", cifs)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and match in err and "Traceback" not in err
    assert not out_file.exists() and not cifs.exists()


def test_cli_auto_filter_and_any_element(capsys, fake_cli):
    base = ["substitute", "Li10GeP2S12", "--site", "Ge", "--auto", "4", "--no-host", "--compensation", "none",
            "--reference", fake_cli, "--reference-scheme", "MP2020", "--json"]
    code, out, err = sseflow(capsys, *base)
    assert code == 0, err
    doc = json.loads(out)
    subs = {r["substituent"] for r in doc["rows"]}
    assert subs and not subs & DEFAULT_EXCLUDED and "Pt" not in subs and "As" not in subs
    note = next(n for n in doc["notes"] if n.startswith("proposals: "))
    assert "skipped by the filter: As, Pt" in note
    code, out, err = sseflow(capsys, *base, "--any-element", "--exclude-elements", "Si")
    assert code == 0, err
    doc = json.loads(out)
    assert {r["substituent"] for r in doc["rows"]} >= {"As", "Pt"}
    assert "Si" not in {r["substituent"] for r in doc["rows"]}
    code, out, err = sseflow(capsys, *base, "--exclude-elements", "Xx")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "unknown element 'Xx'" in err
