"""docs/python.md runs: every ```python block, in order, in one namespace, in a temporary folder with
its own SSEFLOW_HOME; then the values the examples computed are checked."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from sseflow.workflows.store import client as store_client

DOC = Path(__file__).resolve().parents[1] / "docs" / "python.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```\s*$", text, re.S | re.M)


@pytest.fixture(scope="module")
def ran(mp_csv, tmp_path_factory):
    """The namespace the page's examples leave behind."""
    mp = pytest.MonkeyPatch()
    work = tmp_path_factory.mktemp("python_docs")
    for var in ("SSEFLOW_DB", "SSEFLOW_CONFIG", "MONGOMOCK_SERVERSTORE_FILE", "FW_CONFIG_FILE"):
        mp.delenv(var, raising=False)
    mp.setenv("SSEFLOW_HOME", str(work / "home"))
    mp.setenv("SSEFLOW_MP_CSV", str(mp_csv))
    mp.chdir(work)
    ns: dict = {"__name__": "python_docs"}
    try:
        blocks = python_blocks(DOC.read_text(encoding="utf-8"))
        assert len(blocks) >= 10
        for i, code in enumerate(blocks):
            exec(compile(code, f"{DOC.name}, python block {i + 1}", "exec"), ns)
        yield ns
    finally:
        store_client.close_all()
        mp.undo()


def test_the_examples_read_the_mp_table_and_the_entry_routes_agree(ran):
    assert len(ran["mp"]) > 100_000
    n = len(ran["mp"].entries_in({"Li", "P", "S"}))
    assert len(ran["mine"]) == len(ran["from_pd"]) == n and not ran["mine"].notes


def test_the_li3ps4_window_is_the_same_from_every_input(ran):
    w = ran["window"]
    assert (round(w.reduction_V, 2), round(w.oxidation_V, 2)) == (1.72, 2.36)
    assert w.reduction_reaction == "Li3PS4 + 5 Li -> 4 Li2S + P"
    for how in ("Composition", "Structure", "ASE Atoms"):
        assert ran["windows"][how].to_dict() == w.to_dict(), how
    for how in ("from_entries", "from_phase_diagram"):   # the same energies, converted there and back
        other = ran["windows"][how]
        assert other.reduction_V == pytest.approx(w.reduction_V, abs=1e-9)
        assert other.oxidation_V == pytest.approx(w.oxidation_V, abs=1e-9)
        assert (other.reduction_reaction, other.oxidation_reaction) == (w.reduction_reaction, w.oxidation_reaction)
    assert ran["li3ps4"].composition.num_atoms > 8      # a cell, reduced to Li3PS4


def test_the_reaction_examples(ran):
    r = ran["r"]
    assert (r.reactant_a, r.reactant_b) == ("Li3PS4", "Li")
    assert r.min_energy_meV == pytest.approx(-712.1, abs=0.5)
    assert r.minimum.reaction == "Li3PS4 + 8 Li -> 4 Li2S + Li3P"
    minima = ran["minima"]
    assert len(minima) == 9 and all(m.energy_meV_per_atom < -100 for m in minima.values())
    assert minima["Li3PS4", "Li"].energy_meV_per_atom == pytest.approx(r.min_energy_meV, abs=1e-6)
    assert minima["Li6PS5Cl", "Li"].products == ["Li2S", "Li3P", "LiCl"]
    assert ran["nitride"].potential_V == 0.3 and ran["nitride"].min_energy_meV < -200


def test_the_screening_example(ran):
    rows = ran["ranked"].rows
    assert [r["candidate"] for r in rows[:2]] == ["LiF", "LiI"]
    assert all(r["verdict"] == "stable on both sides" for r in rows[:2])
    li3n = next(r for r in rows if r["candidate"] == "Li3N")
    assert li3n["stable_vs_anode"] and not li3n["stable_vs_electrolyte"]


def test_the_interface_example(ran):
    cell = ran["cell"]
    assert 2 <= cell["n_atoms"] <= 80 and cell["area_A2"] <= 60.0
    assert ran["candidates"][0].von_mises <= 0.05


def test_the_study_was_submitted_with_its_structure(ran):
    from pymatgen.core import Structure

    import sseflow

    names = [fw.name for fw in ran["workflow"].fws]
    assert "relax Li3PS4 (sevennet)" in names and "relax Li3PS4-gamma (sevennet)" not in names
    assert {"reaction Li3PS4 | Li", "reaction Li3PS4 | Si", "interface Li3PS4 | Li"} <= set(names)
    interface = next(fw for fw in ran["workflow"].fws if fw.name == "interface Li3PS4 | Li")
    assert Structure.from_dict(interface.tasks[0]["electrolyte"]) == ran["li3ps4"]
    # close() wrote the store file: a fresh LaunchPad on it finds the workflow
    lp = sseflow.get_launchpad()
    assert Path("home", "store.json").is_file()
    wf = lp.get_wf_by_fw_id(ran["wf_id"])
    assert wf.name == "li3ps4_python" and len(wf.fws) == len(names)
