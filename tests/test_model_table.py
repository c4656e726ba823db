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
