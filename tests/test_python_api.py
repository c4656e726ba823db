"""The Python API with what pymatgen and ASE users hold: Compositions, Structures, Atoms, entries and
dicts give the same windows, reactions and screenings as the formula; reference sets from pymatgen
entries and PhaseDiagrams agree with pymatgen; studies take structures."""
from __future__ import annotations

import json

import pytest
from pymatgen.analysis.phase_diagram import GrandPotentialPhaseDiagram, PDEntry, PhaseDiagram
from pymatgen.core import Composition, Element, Lattice, Structure
from pymatgen.entries.computed_entries import ComputedEntry, ComputedStructureEntry
from pymatgen.io.ase import AseAtomsAdaptor

import sseflow
from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import parse_formula
from sseflow.analysis.hull import PhaseSpace
from sseflow.analysis.inputs import as_composition_dict, as_formula, named_composition
from sseflow.analysis.reference import ReferenceSet

# Formation energies (eV/atom) of a small Li-P-S set: made-up, with a metastable Li3PS4 polymorph
# and a compound above the hull (LiS4), so windows, reactions and hulls have something to do.
LI_P_S = [("Li", 0.0), ("P", 0.0), ("S", 0.0), ("Li2S", -1.50), ("Li3P", -0.70), ("LiP", -0.45),
          ("Li3PS4", -1.25), ("Li3PS4", -1.21), ("Li7PS6", -1.28), ("P4S3", -0.30), ("P2S5", -0.33),
          ("LiS4", 0.10)]


@pytest.fixture(scope="module")
def ref() -> ReferenceSet:
    return ReferenceSet.from_entries(LI_P_S)


@pytest.fixture(scope="module")
def li3ps4_cell() -> Structure:
    """gamma-Li3PS4 from the structure library, doubled: 32 atoms, Li12P4S16."""
    s = sseflow.get_structure("Li3PS4-gamma", primitive=True).copy()
    s.make_supercell([2, 1, 1])
    return s


def _same(a, b) -> bool:
    """Equal results: floats to 1e-9 (a reused calculator's warm-started LPs differ in the last bits)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a))
    return a == b


def _inputs(cell: Structure) -> dict:
    return {
        "Composition": Composition("Li3PS4"),
        "Structure": cell,
        "Atoms": AseAtomsAdaptor.get_atoms(cell),
        "PDEntry": PDEntry(cell.composition, -100.0),
        "ComputedEntry": ComputedEntry("Li6P2S8", -50.0),
        "ComputedStructureEntry": ComputedStructureEntry(cell, -400.0),
        "dict": {"Li": 3, "P": 1, "S": 4},
        "dict of Elements": {Element("Li"): 3.0, Element("P"): 1.0, Element("S"): 4.0},
    }


# ----------------------------------------------------------------------------- compositions

def test_cells_give_their_reduced_formula_compositions_keep_their_amounts(li3ps4_cell):
    assert li3ps4_cell.composition.formula.replace(" ", "") == "Li12P4S16"
    assert named_composition(li3ps4_cell) == ("Li3PS4", {"Li": 3.0, "P": 1.0, "S": 4.0})
    assert as_formula(AseAtomsAdaptor.get_atoms(li3ps4_cell)) == "Li3PS4"
    assert as_formula(Composition("Li6P2S8")) == "Li6P2S8"          # amounts as given, like a formula
    assert as_formula(PDEntry(Composition("Li4O4"), -1.0)) == "Li2O2"  # reduced as pymatgen names it
    assert as_composition_dict(PDEntry(Composition("O8"), -1.0)) == {"O": 2.0}
    assert as_formula(Composition({"Li+": 2, "O2-": 1})) == "Li2O"    # species count as their element
    assert as_formula("Li3PS4") == "Li3PS4"


def test_amounts_four_decimals_cannot_carry_are_kept_exactly():
    comp = {"Li": 1 / 3, "S": 2 / 3}
    name, amounts = named_composition(comp)
    assert amounts == comp
    back = parse_formula(name)
    assert abs(back["Li"] / back["S"] - 0.5) < 1e-9


@pytest.mark.parametrize("bad, words", [
    ([1, 2], "cannot use list as a"),
    (None, "cannot use NoneType"),
    (3.5, "cannot use float"),
    (b"Li3PS4", "cannot use bytes"),
    (object(), "cannot use object"),
    ({"Xx": 1}, "unknown element 'Xx'"),
    ({"Li": -1}, "must be a finite number >= 0"),
    ({"Li": "3"}, "must be a number"),
    ({"Li": float("nan")}, "must be a finite number"),
    ({"Li": 0}, "has no elements"),
    (Composition(), "has no elements"),
    (Structure(Lattice.cubic(3), [], []), "empty Structure"),
])
def test_a_bad_input_is_one_input_error_line(ref, bad, words):
    for call in (lambda: sseflow.stability_window(bad, ref),
                 lambda: sseflow.reaction_energy("Li3PS4", bad, ref),
                 lambda: sseflow.screen(bad, "Li", ref, candidates=["Li2S"])):
        with pytest.raises(InputError) as exc:
            call()
        assert words in str(exc.value) and "\n" not in str(exc.value)


def test_bad_input_names_the_argument(ref):
    with pytest.raises(InputError, match="^reactant B: unknown element 'Qq'"):
        sseflow.reaction_energy("Li3PS4", {"Qq": 1}, ref)
    with pytest.raises(InputError, match="^cannot use list as a candidate"):
        sseflow.screen("Li3PS4", "Li", ref, candidates=[["Li2S"]])


# ----------------------------------------------------------------------------- same results

def test_every_input_type_gives_the_formula_window(ref, li3ps4_cell):
    expected = sseflow.stability_window("Li3PS4", ref).to_dict()
    assert 0.5 < expected["reduction_V"] < expected["oxidation_V"]      # a real window to compare
    calc = sseflow.WindowCalculator(ref)
    for kind, x in _inputs(li3ps4_cell).items():
        assert sseflow.stability_window(x, ref).to_dict() == expected, kind
        assert _same(calc.window(x).to_dict(), expected), kind


def test_every_input_type_gives_the_formula_reaction(ref, li3ps4_cell):
    rc = sseflow.ReactionCalculator(ref)
    closed = rc.react("Li3PS4", "Li").to_dict()
    assert closed["minimum"]["energy_meV_per_atom"] < -100.0
    opened = rc.react("Li3PS4", "P4S3", potential=1.0).to_dict()
    for kind, x in _inputs(li3ps4_cell).items():
        assert _same(rc.react(x, Composition("Li")).to_dict(), closed), kind
        assert _same(sseflow.reaction_energy(x, {"Li": 1}, ref).to_dict(), closed), kind
        assert _same(rc.react(x, PDEntry(Composition("P8S6"), -1.0), potential=1.0).to_dict(), opened), kind


def test_screening_takes_structures_compositions_and_entries(ref, li3ps4_cell):
    expected = sseflow.screen("Li3PS4", "Li", ref, candidates=["Li2S", "Li3P", "P4S3"])
    got = sseflow.screen(li3ps4_cell, Composition("Li"), ref,
                         candidates=[Composition("Li2S"), PDEntry(Composition("Li6P2"), -1.0), {"P": 4, "S": 3}])
    assert _same(got.rows, expected.rows)
    assert [r["candidate"] for r in got.rows][0] == "Li2S"   # Li2S is stable against Li and the electrolyte


# ----------------------------------------------------------------------------- reference sets

# Total energies per atom of the elements (made-up, not zero, so formation energies must be computed)
MU = {"Li": -1.91, "P": -5.41, "S": -4.13}


def _total_entries(cls=PDEntry) -> list:
    """LI_P_S as total-energy entries, plus an elemental Li polymorph 50 meV/atom above bcc Li."""
    out = []
    for f, ef in LI_P_S + [("Li", 0.05)]:
        c = Composition(f)
        out.append(cls(c, sum(MU[str(el)] * n for el, n in c.items()) + ef * c.num_atoms))
    return out


def test_from_phase_diagram_gives_pymatgens_hull_energies():
    pd = PhaseDiagram(_total_entries())
    rs = ReferenceSet.from_phase_diagram(pd)
    assert len(rs) == len(pd.all_entries)
    space = PhaseSpace(rs.entries_in({"Li", "P", "S"}, hull_candidates=True), ["Li", "P", "S"])
    for e in rs.entries:
        k = int(e.entry_id.rsplit(":", 1)[1])
        pmg = pd.all_entries[k]
        assert e.energy_per_atom == pytest.approx(pd.get_form_energy_per_atom(pmg), abs=1e-12)
        b = space.vector(e.composition)
        hull = space.hull(b / b.sum())
        assert e.energy_per_atom - hull.energy == pytest.approx(pd.get_e_above_hull(pmg), abs=1e-9), e.name
        decomp = {d.composition.reduced_formula for d in pd.get_decomposition(pmg.composition)}
        assert set(hull.products) == decomp, e.name
    # and the window pymatgen reads from the same diagram's Li profile
    from sseflow.analysis.crosscheck import pymatgen_window

    v_red, v_ox, _ = pymatgen_window("Li3PS4", None, pd=pd)
    w = sseflow.stability_window("Li3PS4", rs)
    assert (w.reduction_V, w.oxidation_V) == pytest.approx((v_red, v_ox), abs=1e-9)
    assert w.e_above_hull_meV == pytest.approx(0.0, abs=1e-9)


def test_from_entries_takes_total_energy_entries_against_their_elements():
    formation = ReferenceSet.from_entries(LI_P_S)
    for cls in (PDEntry, ComputedEntry):
        rs = ReferenceSet.from_entries(_total_entries(cls))
        w, w0 = sseflow.stability_window("Li3PS4", rs), sseflow.stability_window("Li3PS4", formation)
        assert (w.reduction_V, w.oxidation_V) == pytest.approx((w0.reduction_V, w0.oxidation_V), abs=1e-9)
        li2s = rs.matching({"Li": 2, "S": 1})[0]
        assert li2s.energy_per_atom == pytest.approx(-1.50, abs=1e-12)
    # a PhaseDiagram handed to from_entries is read as one
    pd = PhaseDiagram(_total_entries())
    assert [(e.name, e.energy_per_atom) for e in ReferenceSet.from_entries(pd).entries] == \
        [(e.name, e.energy_per_atom) for e in ReferenceSet.from_phase_diagram(pd).entries]


def test_from_entries_counts_corrections_and_structure_entries(li3ps4_cell):
    """``entry.energy`` (corrections included) is the energy used; a ComputedStructureEntry is an entry."""
    ents = [ComputedEntry("Li", MU["Li"]), ComputedEntry("S", MU["S"]), ComputedEntry("P", MU["P"]),
            ComputedEntry("Li2S", 3 * (MU["Li"] * 2 / 3 + MU["S"] / 3) - 3 * 1.0, correction=-1.5),
            ComputedStructureEntry(li3ps4_cell, 4 * (3 * MU["Li"] + MU["P"] + 4 * MU["S"]) - 32 * 1.2)]
    rs = ReferenceSet.from_entries(ents)
    assert rs.matching({"Li": 2, "S": 1})[0].energy_per_atom == pytest.approx(-1.5, abs=1e-12)
    assert rs.matching({"Li": 3, "P": 1, "S": 4})[0].energy_per_atom == pytest.approx(-1.2, abs=1e-12)


def test_entries_without_their_elements_say_so():
    rs = ReferenceSet.from_entries([PDEntry(Composition("Li"), -1.9), PDEntry(Composition("Li2S"), -12.0)])
    assert any("no elemental entry for S" in n for n in rs.notes)
    with pytest.raises(InputError, match="not covered by the reference data"):
        sseflow.stability_window("Li2S", rs)


def test_from_phase_diagram_refuses_what_is_not_a_closed_phase_diagram():
    ents = _total_entries()
    with pytest.raises(InputError, match="expected a pymatgen PhaseDiagram, not list"):
        ReferenceSet.from_phase_diagram(ents)
    gpd = GrandPotentialPhaseDiagram(ents, {Element("Li"): MU["Li"] - 0.5})
    with pytest.raises(InputError, match="grand-potential phase diagram"):
        ReferenceSet.from_phase_diagram(gpd)
    with pytest.raises(InputError, match="cannot make a reference set from int"):
        ReferenceSet.from_entries(3)


# ----------------------------------------------------------------------------- studies

def _workflow_tasks(wf) -> dict:
    return {fw.name: fw.tasks[0] for fw in wf.fws}


def test_a_study_takes_a_structure_and_its_workflow_carries_it(li3ps4_cell):
    from fireworks import Workflow
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from sseflow.workflows.workflow_build import build_workflow

    st = sseflow.Study(name="py", electrolytes=[li3ps4_cell], anodes=["Li", Composition("Li15Si4")],
                       compute={"windows": True, "reactions": True, "interfaces": True})
    ph = st.electrolytes[0]
    assert (ph.structure_dict is not None, ph.formula, ph.cif, ph.library) == (True, None, None, None)
    assert ph.label() == "Li3PS4" and st.electrolyte_formulas() == [("Li3PS4", "Li3PS4")]
    assert st.anodes == ["Li", "Li15Si4"]
    assert Structure.from_dict(ph.structure_dict) == li3ps4_cell
    json.dumps(st.model_dump())                       # the study is plain data

    wf, plan = build_workflow(st)
    tasks = _workflow_tasks(wf)
    relaxed = Structure.from_dict(tasks["relax Li3PS4 (sevennet)"]["structure"])   # the default calculator
    assert len(relaxed) == 16 and StructureMatcher().fit(relaxed, li3ps4_cell)  # primitive cell of the given one
    assert {"thermodynamics Li-P-S", "reaction Li3PS4 | Li", "reaction Li3PS4 | Li15Si4"} <= set(tasks)
    interface = tasks["interface Li3PS4 | Li"]["electrolyte"]
    assert Structure.from_dict(interface) == li3ps4_cell            # the interface is built from it
    back = Workflow.from_format(wf.to_format("json"), "json")      # what a LaunchPad stores and reads back
    assert len(back.fws) == len(wf.fws)


def test_a_study_takes_atoms_compositions_and_entries():
    s = sseflow.get_structure("LiF", primitive=True)
    st = sseflow.Study(name="py2", electrolytes=[AseAtomsAdaptor.get_atoms(s), Composition("Li3PS4"),
                                                 PDEntry(Composition("Li12P4S16"), -1.0),
                                                 {"name": "mine", "structure_dict": s}])
    kinds = [(p.structure_dict is not None, p.formula) for p in st.electrolytes]
    assert kinds == [(True, None), (False, "Li3PS4"), (False, "Li3PS4"), (True, None)]
    assert [p.label() for p in st.electrolytes] == ["LiF", "Li3PS4", "Li3PS4", "mine"]


def test_a_given_structure_takes_the_place_of_the_library_phase_of_its_name():
    from sseflow.workflows.workflow_build import plan_study

    mine = sseflow.get_structure("Li2S", primitive=True).copy()
    mine.scale_lattice(mine.volume * 1.1)
    plan = plan_study(sseflow.Study(name="li2s", electrolytes=[mine]))
    li2s = [p for p in plan.phases if p.label == "Li2S"]
    assert len(li2s) == 1 and li2s[0].origin == "study"
    assert li2s[0].structure.volume == pytest.approx(mine.volume)


def test_a_study_structure_is_checked_like_a_structure_file():
    from sseflow.workflows.study import StudyError, check_before_submit, parse_study

    close = Structure(Lattice.cubic(4.0), ["Li", "Li"], [[0, 0, 0], [0.05, 0, 0]])
    st = sseflow.Study(name="bad", electrolytes=[close], reference={"source": "file", "file": "x.csv"})
    with pytest.raises(StudyError, match="structure Li: .*0.200 Å apart"):
        check_before_submit(st)
    disordered = Structure(Lattice.cubic(4.0), [{"Li": 0.5, "Na": 0.5}], [[0, 0, 0]])
    with pytest.raises(StudyError, match="partial occupancies") as exc:
        sseflow.Study(name="bad", electrolytes=[disordered])
    assert "\n" not in str(exc.value)
    with pytest.raises(StudyError, match=r"^study: electrolytes\[0\]: cannot use list as a phase"):
        sseflow.Study(name="bad", electrolytes=[[1, 2]])
    # a study file may hold a structure as its pymatgen dict (JSON is YAML)
    lif = sseflow.get_structure("LiF", primitive=True)
    text = f"name: s\nelectrolytes:\n  - {{name: lif, structure_dict: {lif.to_json()}}}\n"
    st = parse_study(text)
    assert st.electrolytes[0].structure(primitive=False) == lif


def test_an_interface_builds_from_a_structure_its_dict_or_atoms():
    """What a study's interface Firework receives (the structure's dict) builds the same cell."""
    from sseflow.workflows.interfaces.stages import find_and_build

    lif = sseflow.get_structure("LiF")
    settings = {"max_strain": 0.05, "max_area": 60.0, "max_atoms": 80}
    built = [find_and_build(x, "Li", settings)[1].summary()
             for x in (lif, lif.as_dict(), AseAtomsAdaptor.get_atoms(lif))]
    assert built[0]["n_atoms"] <= 80 and built[0]["label"].startswith("LiF(")
    assert built[1] == built[0] and built[2]["formula"] == built[0]["formula"]
    with pytest.raises(InputError, match=r"^no LiF \| Li lattice match"):
        find_and_build(lif.as_dict(), "Li", {**settings, "max_area": 5.0})
