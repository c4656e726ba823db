"""The structure library: every shipped phase checked; lookup, bad input, CLI."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers import SSEFLOW
from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import parse_formula, reduced_formula
from sseflow.workflows.structures import library
from sseflow.workflows.structures.library import get_structure, list_phases, phases

ROOT = Path(__file__).resolve().parents[1]

# Homonuclear molecules whose real bond is shorter than 0.8 x (2 x covalent radius): N≡N is 1.10 Å
# (0.77 of 2 x 0.71 Å). Only the intramolecular pair is exempt, at its real length.
MOLECULAR_BONDS = {"N2": ("N", 1.05, 1.15)}

REQUIRED = {  # the phases the library must hold, by reduced formula
    "Li", "Si", "P", "S", "Li2S", "Li3P", "Li3PS4", "Li2PS3", "Li6PS5Cl", "LiCl", "Li15Si4",
    "Li7La3Zr2O12", "Li2O", "La2O3", "ZrO2", "LiF", "Li3N", "Li3PO4", "Li10GeP2S12",
}


def _formula(s) -> str:
    """sseflow's reduced formula (Li10GeP2S12, where pymatgen writes Li10Ge(PS6)2)."""
    return reduced_formula({el.symbol: a for el, a in s.composition.items()})


def test_library_covers_the_required_phases():
    formulas = {r["formula"] for r in phases()}
    assert REQUIRED <= formulas, REQUIRED - formulas


@pytest.mark.parametrize("row", phases(), ids=lambda r: r["name"])
def test_library_phase_is_sound(row):
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    s = get_structure(row["name"])
    # composition: the file holds the formula the index claims, ordered, no vacancies
    assert s.is_ordered and _formula(s) == row["formula"]
    assert len(s) == row["nsites"]
    # space group by spglib
    assert SpacegroupAnalyzer(s, symprec=0.01).get_space_group_number() == row["spacegroup"]
    # no two atoms closer than 0.8 x the sum of covalent radii
    radii = CovalentRadius.radius
    sym = [site.specie.symbol for site in s]
    dm = s.distance_matrix + np.eye(len(s)) * 1e3
    limit = np.array([[0.8 * (radii[a] + radii[b]) for b in sym] for a in sym])
    bad = np.argwhere(dm < limit)
    for i, j in bad:
        el, lo, hi = MOLECULAR_BONDS.get(row["formula"], (None, 0, 0))
        assert sym[i] == sym[j] == el and lo <= dm[i, j] <= hi, (row["name"], sym[i], sym[j], dm[i, j])
    # a citation in the file and in the index
    head = (library.DATA_DIR / row["file"]).read_text()[:2000]
    assert "# Source:" in head and row["source"] and len(row["source"]) > 20


def test_lookup_by_name_alias_and_formula():
    assert get_structure("Li3PS4").properties["sseflow_library"] == "Li3PS4-gamma"
    assert get_structure("gamma-Li3PS4").composition.reduced_formula == "Li3PS4"
    assert get_structure("Li12P4S16").properties["sseflow_library"] == "Li3PS4-gamma"   # unreduced
    assert _formula(get_structure("LGPS")) == "Li10GeP2S12"
    assert get_structure("Cl").composition.reduced_formula == "Cl2"                     # element -> molecule
    assert len(get_structure("Li2S", primitive=True)) == 3


def test_li_bcc_and_si_diamond_cells():
    li = get_structure("Li")
    assert li.get_space_group_info()[1] == 229 and li.lattice.a == pytest.approx(3.49)
    si = get_structure("Si")
    assert si.get_space_group_info()[1] == 227 and si.lattice.a == pytest.approx(5.431)


def test_unknown_and_malformed_input(tmp_path):
    with pytest.raises(InputError, match="no structure for Li7P3S11|no structure for"):
        get_structure("LiAlCl4")
    with pytest.raises(InputError, match="unknown structure 'Xx3'|unknown element"):
        get_structure("Xx3")
    bad = tmp_path / "bad.cif"
    bad.write_text("data_x\n_cell_length_a 3\nloop_\n_atom_site_label\n")
    with pytest.raises(InputError, match="cannot read structure"):
        get_structure(str(bad))
    with pytest.raises(InputError, match="structure file not found"):
        library.read_structure(tmp_path / "missing.cif")


def test_list_phases_by_chemical_system():
    lps = list_phases("Li-P-S")
    formulas = {_formula(get_structure(n)) for n in lps}
    assert {"Li", "P", "S", "Li2S", "Li3P", "Li3PS4", "Li2PS3"} <= formulas
    assert not formulas & {"Li6PS5Cl", "LiCl", "Li2O"}
    assert lps[:3] == sorted(lps[:3]) and all(len(parse_formula(f)) == 1 for f in ("Li", "P", "S"))
    assert "Li6PS5Cl" in list_phases("S-P-Cl-Li")
    assert set(list_phases("Li-Si")) >= {"Li", "Si", "Li15Si4"}
    assert "Li7La3Zr2O12" in list_phases("Li-La-Zr-O")
    with pytest.raises(InputError, match="unknown element 'Qq'"):
        list_phases("Li-Qq")


def test_fetch_mp_phases_with_recorded_response():
    """mp-api is optional: a recorded summary response stands in for the network."""
    from types import SimpleNamespace

    recorded = [SimpleNamespace(material_id="mp-1153", structure=get_structure("Li2S"), energy_above_hull=0.0),
                SimpleNamespace(material_id="mp-135", structure=get_structure("Li"), energy_above_hull=0.0),
                SimpleNamespace(material_id="mp-1000", structure=get_structure("Li2S"), energy_above_hull=0.3)]
    asked = {}

    class Summary:
        def search(self, chemsys, fields):
            asked["chemsys"], asked["fields"] = chemsys, fields
            return list(reversed(recorded))

    client = SimpleNamespace(materials=SimpleNamespace(summary=Summary()))
    out = library.fetch_mp_phases("S-Li", client=client)
    assert asked["chemsys"] == ["Li", "S", "Li-S"] and "structure" in asked["fields"]
    assert [m for m, _, _ in out][-1] == "mp-1000" and out[0][2] == 0.0


def test_fetch_mp_phases_needs_a_key(monkeypatch):
    monkeypatch.delenv("MP_API_KEY", raising=False)
    with pytest.raises(InputError, match="MP_API_KEY"):
        library.fetch_mp_phases("Li-S")


# ------------------------------------------------------------------ CLI

def _sseflow(*args, env_home=None):
    import os

    env = {k: v for k, v in os.environ.items()
           if k not in ("SSEFLOW_DB", "SSEFLOW_CONFIG", "MONGOMOCK_SERVERSTORE_FILE")}
    if env_home:
        env["SSEFLOW_HOME"] = str(env_home)
    return subprocess.run([SSEFLOW, *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600)


def test_cli_phases_json(tmp_path):
    p = _sseflow("phases", "Li-P-S", "--json", "--no-store")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["chemsys"] == "Li-P-S"
    assert {r["formula"] for r in data["library"]} >= {"Li2S", "Li3P", "Li3PS4", "Li2PS3"}


def test_cli_bad_input_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.cif"
    bad.write_text("not a cif\n")
    for args in (["relax", str(bad)], ["relax", "Li2S", "--calculator", "abinit"], ["relax", "Qq2S"],
                 ["phases", "Li-Qq"]):
        p = _sseflow(*args, env_home=tmp_path / "home")
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("sseflow: error:"), (args, p.stderr)


@pytest.mark.skipif(__import__("importlib").util.find_spec("chgnet") is None, reason="chgnet not installed")
def test_cli_relax_chgnet_json_and_store(tmp_path):
    home = tmp_path / "home"
    p = _sseflow("relax", "Li", "--calculator", "chgnet", "--json", "--store", env_home=home)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["status"] == "completed" and doc["calculator"] == "chgnet" and doc["converged"]
    assert doc["correction_scheme"].startswith("MP2020")
    from pymatgen.core import Structure

    s = Structure.from_dict(doc["structure"])
    a_conv = (2 * s.volume / len(s)) ** (1 / 3)
    assert abs(a_conv - 3.44) / 3.44 < 0.02
    assert doc["task_id"]
    # the second run finds the stored task (StructureMatcher + parameters) instead of recomputing
    p2 = _sseflow("relax", "Li", "--calculator", "chgnet", "--json", "--store", env_home=home)
    assert p2.returncode == 0, p2.stderr
    doc2 = json.loads(p2.stdout)
    assert doc2["task_id"] == doc["task_id"] and doc2["energy"] == pytest.approx(doc["energy"])
    p3 = _sseflow("phases", "Li-S", "--json", env_home=home)
    tasks = json.loads(p3.stdout)["tasks"]
    assert [t["formula"] for t in tasks] == ["Li"] and tasks[0]["calculator"] == "chgnet"


def test_cli_relax_cif_with_emt(tmp_path):
    from pymatgen.core import Lattice, Structure

    cif = tmp_path / "cu.cif"
    Structure(Lattice.cubic(3.70), ["Cu"] * 4, [[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0]]).to(filename=str(cif))
    out = tmp_path / "relaxed.cif"
    p = _sseflow("relax", str(cif), "--calculator", "emt", "--fmax", "0.01", "--json", "-o", str(out),
                 env_home=tmp_path / "home")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["calculator"] == "emt" and doc["converged"] and doc["reduced_formula"] == "Cu"
    relaxed = library.read_structure(out)
    a_conv = (4 * relaxed.volume / len(relaxed)) ** (1 / 3)
    assert a_conv == pytest.approx(3.59, abs=0.02)       # EMT's fcc Cu
    p = _sseflow("relax", str(cif), "--calculator", "emt", "--static", env_home=tmp_path / "home")
    assert p.returncode == 0 and "completed" in p.stdout


@pytest.mark.skipif(__import__("importlib").util.find_spec("chgnet") is None, reason="chgnet not installed")
def test_validate_phase_reports_every_check():
    """sseflow.workflows.structures.validate: the structural checks and a CHGNet formation energy (single points)."""
    from sseflow.workflows.structures.validate import default_reference_csv, validate_phase

    ref = default_reference_csv()
    r = validate_phase("Li15Si4", relax=False, reference_csv=ref if ref.is_file() else None)
    assert {"name", "formula", "spacegroup_expected", "spacegroup_found", "min_distance_ratio",
            "chgnet_formation_energy", "mp_formation_energy", "deviation", "ok"} <= set(r)
    assert r["formula"] == "Li15Si4" and r["spacegroup_found"] == r["spacegroup_expected"] == 220
    assert r["min_distance_ratio"] >= 0.8
    assert -0.5 < r["chgnet_formation_energy"] < 0.0
    if ref.is_file():
        assert r["mp_formation_energy"] == pytest.approx(-0.2334, abs=1e-3)
        assert r["deviation"] == pytest.approx(r["chgnet_formation_energy"] - r["mp_formation_energy"])
