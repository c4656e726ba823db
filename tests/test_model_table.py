"""benchmarks/backends.py --models: model specs, phase list and MP lookup (no model is run)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("sseflow_bench_backends", ROOT / "benchmarks" / "backends.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_parse_model(bench):
    assert bench.parse_model("chgnet") == ("chgnet", "chgnet", {})
    assert bench.parse_model("sevennet") == ("sevennet:7net-0", "sevennet", {"model": "7net-0"})
    assert bench.parse_model(" SevenNet:7net-l3i5 ") == ("sevennet:7net-l3i5", "sevennet", {"model": "7net-l3i5"})
    assert bench.parse_model("7net-l3i5") == ("sevennet:7net-l3i5", "sevennet", {"model": "7net-l3i5"})
    with pytest.raises(SystemExit, match="unknown model"):
        bench.parse_model("mace")


def test_table_phases_and_their_elements_are_in_the_library(bench):
    from sseflow.analysis.formula import parse_formula
    from sseflow.workflows.structures.library import get_structure

    formulas = {get_structure(n).composition.reduced_formula for n in bench.TABLE_PHASES}
    assert len(formulas) == len(bench.TABLE_PHASES) == 12
    assert bench.OUTLIER in formulas
    for el in {e for f in formulas for e in parse_formula(f)}:
        s = get_structure(bench.ELEMENT_PHASES[el])
        assert [str(x) for x in s.composition.elements] == [el]


@pytest.mark.skipif(not (ROOT.parent / "shared" / "data" / "mp_formation_energies.csv").is_file(),
                    reason="shared MP table not here")
def test_mp_lowest_takes_the_lowest_row_of_each_reduced_formula(bench):
    mp = bench.mp_lowest(["Li2PS3", "Li3PS4"])
    # Li2PS3: rows Li4P2S6 (-1.0536) and Li8P4S12 (-1.0543); Li3PS4: two Li12P4S16 rows
    assert mp["Li2PS3"][1] == 2 and mp["Li2PS3"][0] == pytest.approx(-1.05428, abs=1e-4)
    assert mp["Li3PS4"][1] == 2 and mp["Li3PS4"][0] == pytest.approx(-1.26568, abs=1e-4)


def test_lowest_takes_the_lowest_entry_of_each_phase_formula(bench):
    from sseflow.analysis.entries import Entry

    entries = [Entry("Li2S", {"Li": 2, "S": 1}, -1.40, "a"), Entry("Li4S2", {"Li": 4, "S": 2}, -1.45, "b"),
               Entry("Li", {"Li": 1}, 0.0, "c")]
    assert bench._lowest(entries, {"Li2S": "Li2S"}, ["Li2S"]) == {"Li2S": -1.45}


# ------------------------------------------------------------------ benchmarks/gpaw_check.py (no DFT run)

@pytest.fixture(scope="module")
def gcheck():
    spec = importlib.util.spec_from_file_location("sseflow_bench_gpaw_check", ROOT / "benchmarks" / "gpaw_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_check_reactions_are_balanced_and_scheme_free(gcheck):
    from sseflow.analysis.formula import parse_formula

    for label, coeffs in gcheck.REACTIONS:
        totals: dict[str, float] = {}
        s_in_compounds = 0.0
        for f, c in coeffs.items():
            comp = parse_formula(f)
            for el, a in comp.items():
                totals[el] = totals.get(el, 0.0) + c * a
            if len(comp) > 1:
                s_in_compounds += c * comp.get("S", 0.0)
        assert all(abs(v) < 1e-9 for v in totals.values()), (label, totals)
        assert s_in_compounds == 0, label          # the sulfide correction cancels


def test_check_reaction_energy_from_formation_energies(gcheck):
    # 2 Li3PS4 + 2 Li -> Li4P2S6 + 2 Li2S with made-up formation energies (eV/atom)
    ef = {"Li3PS4": -1.25, "Li2PS3": -1.10, "Li2S": -1.55}
    coeffs = dict(gcheck.REACTIONS[0][1])
    expected = 2 * 6 * -1.10 + 2 * 3 * -1.55 - 2 * 8 * -1.25
    assert gcheck.reaction_energy(ef, coeffs) == pytest.approx(expected)
    assert gcheck.reaction_energy({"Li3PS4": -1.25}, coeffs) is None


def test_check_gpaw_entries_reference_their_own_elements(gcheck):
    from pymatgen.core import Lattice, Structure

    li = Structure(Lattice.cubic(3.44), ["Li"], [[0, 0, 0]])
    s = Structure(Lattice.cubic(4.0), ["S"], [[0, 0, 0]])
    li2s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.7), ["S", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    res = {"Li": {"structure": li.as_dict(), "energy_per_atom": -1.9},
           "S": {"structure": s.as_dict(), "energy_per_atom": -1.0},
           "Li2S": {"structure": li2s.as_dict(), "energy_per_atom": -3.0}}
    ents = {e.reduced_formula: e for e in gcheck.gpaw_entries(res)}
    assert ents["Li2S"].energy_per_atom == pytest.approx(-3.0 - (2 * -1.9 - 1.0) / 3)
    assert ents["Li2S"].correction_scheme == "uncorrected" and ents["Li"].energy_per_atom == 0.0
    del res["S"]
    assert set(e.reduced_formula for e in gcheck.gpaw_entries(res)) == {"Li"}   # no S reference: left out
