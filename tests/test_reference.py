import json
import time

import pytest

from sseflow.analysis.errors import InputError
from sseflow.analysis.reference import ReferenceSet, load_reference


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_single_numeric_column_elements_added(tmp_path):
    p = write(tmp_path, "t.csv", "formula,id,e_form\nLi2S,a,-1.0\nLi4S2,b,-0.9\nLiS,c,nan\nLi2S,d,-1.0\n")
    rs = load_reference(p)
    names = sorted(e.name for e in rs.entries)
    # the polymorph Li4S2 stays, the exact duplicate Li2S row is used once, NaN is dropped, Li and S added
    assert names == ["Li", "Li2S", "Li4S2", "S"]
    assert any("non-finite" in n for n in rs.notes)
    assert any("duplicate" in n for n in rs.notes)
    assert any("elemental references" in n for n in rs.notes)
    assert {e.name: e.energy_per_atom for e in rs.entries}["Li"] == 0.0


def test_csv_column_choice(tmp_path):
    p = write(tmp_path, "t.csv", "formula,e1,e2\nLi2S,-1.0,-2.0\n")
    with pytest.raises(InputError, match="several numeric columns"):
        load_reference(p)
    rs = load_reference(p, energy_column="e2")
    assert [e.energy_per_atom for e in rs.entries if e.name == "Li2S"] == [-2.0]
    with pytest.raises(InputError, match="no column 'e3'"):
        load_reference(p, energy_column="e3")


def test_csv_bad_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_reference(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="no 'formula' column"):
        load_reference(write(tmp_path, "a.csv", "name,e\nLi,0\n"))
    with pytest.raises(InputError, match="no usable energy column"):
        load_reference(write(tmp_path, "b.csv", "formula,e\nLi,abc\n"))


def test_chemsys_not_covered(tmp_path):
    rs = load_reference(write(tmp_path, "t.csv", "formula,e\nLi2S,-1.0\n"))
    with pytest.raises(InputError, match="no entries for element P"):
        rs.entries_in(["Li", "P", "S"])


def test_index_picks_subsystems_fast(mp_reference):
    t = time.perf_counter()
    ents = mp_reference.entries_in(["Li", "P", "S"])
    dt = time.perf_counter() - t
    assert {frozenset(e.composition) for e in ents} <= {frozenset(s) for s in
                                                         (["Li"], ["P"], ["S"], ["Li", "P"], ["Li", "S"],
                                                          ["P", "S"], ["Li", "P", "S"])}
    assert sum(1 for e in ents if e.reduced_formula == "Li3PS4") >= 2  # polymorphs kept
    assert dt < 0.5


def test_pymatgen_entries_json(tmp_path):
    from pymatgen.entries.computed_entries import ComputedEntry

    entries = [ComputedEntry("Li", -1.9), ComputedEntry("Li", -1.8), ComputedEntry("S2", -8.2),
               ComputedEntry("Li2S", -3 * 1.9 - 4.1 - 3.0)]
    p = tmp_path / "entries.json"
    p.write_text(json.dumps([e.as_dict() for e in entries]))
    rs = load_reference(p)
    ef = {e.name: e.energy_per_atom for e in rs.entries}
    # Li2S: (3*-1.9 - 4.1 - 3 - 2*(-1.9) - (-4.1)) / 3 atoms
    assert ef["Li2S"] == pytest.approx((-3 * 1.9 - 4.1 - 3.0 - 2 * -1.9 - -4.1) / 3)
    li = sorted(e.energy_per_atom for e in rs.entries if e.composition.keys() == {"Li"})
    assert li == pytest.approx([0.0, 0.1])  # referenced to the lowest elemental entry


def test_python_entries_missing_element():
    from pymatgen.entries.computed_entries import ComputedEntry

    rs = ReferenceSet.from_entries([ComputedEntry("Li", -1.9), ComputedEntry("Li2S", -9.0)])
    with pytest.raises(InputError, match="no entries for element S"):
        rs.entries_in(["Li", "S"])
