"""DFT backends: VASP input writing and output parsing, Quantum ESPRESSO and GPAW end to end."""
from __future__ import annotations

import gzip
import importlib.util
import json
import math
import re
import shutil
from pathlib import Path

import ase.units
import numpy as np
import pytest
from ase.build import bulk

from sseflow.analysis.errors import InputError
from sseflow.workflows.calculators import get_calculator

DATA = Path(__file__).resolve().parent / "data"
HAS_PW = shutil.which("pw.x") is not None
DEBIAN_PSEUDO = Path("/usr/share/espresso/pseudo")
HAS_GPAW = importlib.util.find_spec("gpaw") is not None


# ------------------------------------------------------------------ VASP

@pytest.fixture
def li2s():
    from sseflow.workflows.structures.library import get_structure

    return get_structure("Li2S", primitive=True)


def test_vasp_relax_inputs_from_mprelaxset(tmp_path, li2s):
    calc = get_calculator("vasp", user_incar_settings={"KPAR": 2})
    files = calc.write_inputs(li2s, tmp_path, "relax", potcar_spec=True, fmax=0.02, steps=50)
    names = {Path(f).name for f in files}
    assert {"INCAR", "KPOINTS", "POSCAR", "POTCAR.spec"} <= names and "POTCAR" not in names
    from pymatgen.io.vasp import Incar

    incar = Incar.from_file(tmp_path / "INCAR")
    assert incar["ENCUT"] == 520 and incar["ISIF"] == 3 and incar["IBRION"] == 2
    assert incar["EDIFFG"] == pytest.approx(-0.02) and incar["NSW"] == 50 and incar["KPAR"] == 2
    assert incar["ISPIN"] == 2 and not incar.get("LDAU", False)      # no +U for Li-S
    spec = (tmp_path / "POTCAR.spec").read_text().split()
    assert spec == ["Li_sv", "S"]          # MP's POTCAR choice for Li and S


def test_vasp_static_inputs_and_fixed_cell(tmp_path, li2s):
    calc = get_calculator("vasp")
    calc.write_inputs(li2s, tmp_path / "static", "static", potcar_spec=True)
    from pymatgen.io.vasp import Incar

    incar = Incar.from_file(tmp_path / "static" / "INCAR")
    assert incar["NSW"] == 0 and incar["ISMEAR"] == -5 and incar["LORBIT"] == 11
    calc.write_inputs(li2s, tmp_path / "fixed", "relax", potcar_spec=True, relax_cell=False)
    assert Incar.from_file(tmp_path / "fixed" / "INCAR")["ISIF"] == 2


def test_vasp_without_potcars_or_command_is_input_error(tmp_path, li2s, monkeypatch):
    monkeypatch.delenv("SSEFLOW_VASP_CMD", raising=False)
    monkeypatch.delenv("PMG_VASP_PSP_DIR", raising=False)
    from pymatgen.core import SETTINGS

    monkeypatch.setitem(SETTINGS, "PMG_VASP_PSP_DIR", None)
    calc = get_calculator("vasp")
    with pytest.raises(InputError, match="PMG_VASP_PSP_DIR"):
        calc.write_inputs(li2s, tmp_path, "relax")
    with pytest.raises(InputError, match="SSEFLOW_VASP_CMD"):
        calc.relax(li2s)


def test_vasp_command_from_fireworker_env():
    calc = get_calculator("vasp", command=">>vasp_cmd<<", fw_env={"vasp_cmd": "srun -n 64 vasp_std"})
    assert calc.command == "srun -n 64 vasp_std"


# A real VASP 5.4.1 run shipped in the atomate 0.5.0 sdist (tests/data/vasp_real/README.md):
# the MP static of Si2 (PBE, ENCUT 520, ISPIN 2, 8x8x8 Gamma mesh). Expected numbers are read here
# from the OUTCAR, INCAR and raw XML of the same run, not from the parser under test.
VASP_SI = DATA / "vasp_real" / "atomate_si_static"


def _outcar_float(pattern: str) -> float:
    text = gzip.open(VASP_SI / "OUTCAR.gz", "rt").read()
    return float(re.findall(pattern, text)[-1])


def test_vasp_parse_vasprun_real_si_static():
    import xml.etree.ElementTree as ET

    calc = get_calculator("vasp")
    res = calc.parse_outputs(VASP_SI, task="static")
    e0 = _outcar_float(r"energy\(sigma->0\) =\s*(-?\d+\.\d+)")       # last ionic step of the OUTCAR
    assert e0 == pytest.approx(-10.84678256, abs=1e-8)
    assert res.energy == pytest.approx(e0, abs=1e-7)
    root = ET.parse(gzip.open(VASP_SI / "vasprun.xml.gz")).getroot()
    n_atoms = int(root.find("atominfo/atoms").text)
    assert len(res.structure) == n_atoms == 2 and res.structure.composition.reduced_formula == "Si"
    assert res.energy_per_atom == pytest.approx(e0 / n_atoms, abs=1e-7)
    basis = np.array([[float(x) for x in v.text.split()]
                      for v in root.find("structure[@name='finalpos']/crystal/varray[@name='basis']")])
    assert np.allclose(res.structure.lattice.matrix, basis, atol=1e-6)
    assert res.structure.lattice.a == pytest.approx(np.linalg.norm(basis[0]))
    assert res.max_force < 1e-6 and res.converged       # OUTCAR TOTAL-FORCE: 0 on both atoms (diamond Si)
    # OUTCAR 'in kB' XX = -0.04768 (VASP: pressure positive) -> +0.004768 GPa tensile in ASE's sign, eV/Å^3
    kb_xx = _outcar_float(r"in kB\s+(-?\d+\.\d+)")
    assert res.stress[0] == pytest.approx(-0.1 * kb_xx * ase.units.GPa, rel=1e-3)
    incar = gzip.open(VASP_SI / "INCAR.gz", "rt").read()
    encut = float(re.search(r"ENCUT\s*=\s*(\d+)", incar).group(1))
    assert res.parameters["run_type"] == "GGA" and res.parameters["incar"]["ENCUT"] == encut == 520
    doc = res.task_document()
    assert doc["correction_scheme"] == "MP2020" and doc["structure_match_fingerprint"] == "Si|227|2"   # diamond Si, Fd-3m


def test_vasp_computed_entry_gets_mp2020_corrections():
    calc = get_calculator("vasp")
    si = calc.computed_entry(VASP_SI)
    toten = _outcar_float(r"free  energy   TOTEN\s*=\s*(-?\d+\.\d+)")
    assert si.energy == pytest.approx(toten, abs=1e-7) and si.correction == 0    # no MP2020 correction for Si
    # an oxide from pymatgen's own MP entries (Li2O, mp-1960): MP2020 adds the oxide correction
    from monty.json import MontyDecoder

    import pymatgen.analysis.compatibility as pkg

    raw = json.load(gzip.open(Path(pkg.__file__).parent / "calc_compounds.json.gz"))
    li2o = MontyDecoder().process_decoded(raw["Li2O"])
    from sseflow.workflows.calculators.vasp import apply_mp2020

    corrected = apply_mp2020(li2o)
    assert corrected.correction == pytest.approx(-0.687, abs=0.01)   # one O2- at -0.687 eV
    assert corrected.energy == pytest.approx(-14.26360048 - 0.687, abs=0.01)


def test_vasp_parse_errors_are_input_errors(tmp_path):
    calc = get_calculator("vasp")
    with pytest.raises(InputError, match="no vasprun.xml"):
        calc.parse_outputs(tmp_path)
    (tmp_path / "vasprun.xml").write_text("<modeling><generator>")
    with pytest.raises(InputError, match="cannot parse"):
        calc.parse_outputs(tmp_path)


# ------------------------------------------------------------------ Quantum ESPRESSO

def test_qe_missing_pseudo_folder_is_input_error(tmp_path):
    with pytest.raises(InputError, match="pseudopotential folder not found"):
        get_calculator("qe", pseudo_dir=str(tmp_path / "nope"))


def test_qe_picks_pbe_pseudopotentials_and_reports_missing_elements(tmp_path):
    from sseflow.workflows.calculators.qe import find_pseudopotentials

    for name in ("Si.pbe-rrkj.UPF", "Si.pbesol-n-kjpaw.UPF", "si_pbe_v1.uspp.F.UPF", "Li.pbe-s-kjpaw_psl.1.0.0.UPF"):
        (tmp_path / name).write_text("<UPF/>")
    pp = find_pseudopotentials(tmp_path)
    assert pp["Li"] == "Li.pbe-s-kjpaw_psl.1.0.0.UPF" and pp["Si"] in ("Si.pbe-rrkj.UPF", "si_pbe_v1.uspp.F.UPF")
    calc = get_calculator("qe", pseudo_dir=str(tmp_path), command="pw.x")
    with pytest.raises(InputError, match="no pseudopotential for S"):
        calc.static(bulk("Li2S", "fluorite", a=5.7))


@pytest.mark.skipif(not HAS_PW, reason="pw.x not installed (Debian: apt-get install quantum-espresso)")
@pytest.mark.skipif(not (DEBIAN_PSEUDO / "Si.pbe-rrkj.UPF").is_file(), reason="Debian's Si.pbe-rrkj.UPF missing")
def test_qe_si_static_end_to_end(tmp_path):
    calc = get_calculator("qe", pseudo_dir=str(DEBIAN_PSEUDO), pseudopotentials={"Si": "Si.pbe-rrkj.UPF"},
                          ecutwfc=20, kpoint_density=2.0)
    res = calc.static(bulk("Si", "diamond", a=5.43), directory=tmp_path)
    assert res.status == "completed", res.error
    assert math.isfinite(res.energy) and res.energy_per_atom == pytest.approx(-107.05, abs=0.5)  # ~ -7.87 Ry/atom
    assert res.max_force < 1e-3                      # zero by symmetry
    assert np.allclose(res.stress[3:], 0, atol=1e-4)
    assert (tmp_path / "espresso.pwo").is_file() and any(f.endswith("espresso.pwo") for f in res.files)
    assert "K_POINTS automatic\n5 5 5" in (tmp_path / "espresso.pwi").read_text()


# ------------------------------------------------------------------ GPAW

@pytest.mark.skipif(not HAS_GPAW, reason="GPAW not installed (see docs/install_backends.md)")
def test_gpaw_bulk_li_and_li2s_energies(tmp_path):
    import time

    calc = get_calculator("gpaw", ecut=300, kpoint_density=2.0)
    t0 = time.process_time()
    li = calc.static(bulk("Li", "bcc", a=3.44), directory=tmp_path / "li")
    li2s = calc.static(bulk("Li2S", "fluorite", a=5.70), directory=tmp_path / "li2s")
    assert time.process_time() - t0 < 120
    assert li.status == li2s.status == "completed"
    # GPAW energies are relative to the isolated reference atoms: about minus the cohesive energy
    assert li.energy_per_atom == pytest.approx(-1.89, abs=0.1)
    assert li2s.energy_per_atom == pytest.approx(-3.73, abs=0.15)
    assert li2s.max_force < 1e-3
    assert (tmp_path / "li" / "gpaw.txt").is_file()
