"""VASP electronic step: readers on a real VASP run, INCAR overrides, input writing, runner plumbing.

The run is atomate 0.5.0's ``Si_static`` (VASP 5.4.1, PBE, ISPIN 2, LORBIT 11, LVHAR, 8x8x8
Gamma mesh; provenance in tests/data/vasp_real/README.md). Expected numbers come from
independent reads of the same run: the OUTCAR, EIGENVAL, DOSCAR, KPOINTS, the raw XML of
vasprun.xml (ElementTree) and the LOCPOT text (numpy), never from the reader under test.
"""
from __future__ import annotations

import gzip
import lzma
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from sseflow.analysis.errors import InputError
from sseflow.workflows.interfaces.electronic_vasp import (
    ELECTRONIC_INCAR,
    centre_of_mass_fractional,
    electronic_incar,
    has_vacuum,
    read_vasp_bulk,
    read_vasp_electronic,
    vasp_bulk_reference,
    vasp_electronic_structure,
    write_electronic_inputs,
)

SI = Path(__file__).resolve().parent / "data" / "vasp_real" / "atomate_si_static"
BULK_KEYS = {"vbm", "cbm", "gap", "mean_potential", "fermi_level", "energy_eV", "formula", "n_kpoints",
             "calculator", "parameters", "kpts", "wall_time_s"}


# ------------------------------------------------------------------ independent reads of the real run

@pytest.fixture(scope="module")
def xml_root():
    return ET.parse(gzip.open(SI / "vasprun.xml.gz")).getroot()


@pytest.fixture(scope="module")
def outcar():
    return gzip.open(SI / "OUTCAR.gz", "rt").read()


@pytest.fixture(scope="module")
def eigenval():
    """(eigenvalues (spin, k, band), occupations, k weights) from EIGENVAL (ISPIN 2 layout)."""
    lines = gzip.open(SI / "EIGENVAL.gz", "rt").read().splitlines()
    nel, nk, nb = (int(x) for x in lines[5].split())
    eig = np.zeros((2, nk, nb))
    occ = np.zeros((2, nk, nb))
    wk = np.zeros(nk)
    i = 7
    for k in range(nk):
        wk[k] = float(lines[i].split()[3])
        for b in range(nb):
            cols = lines[i + 1 + b].split()
            eig[:, k, b] = float(cols[1]), float(cols[2])
            occ[:, k, b] = float(cols[3]), float(cols[4])
        i += nb + 2
    return {"nelect": nel, "eig": eig, "occ": occ, "wk": wk}


@pytest.fixture(scope="module")
def edges(eigenval):
    e, o = eigenval["eig"], eigenval["occ"]
    return float(e[o > 0.5].max()), float(e[o <= 0.5].min())


@pytest.fixture(scope="module")
def locpot_raw():
    """First potential block of the LOCPOT text as (nz, ny, nx), plus the grid line."""
    text = lzma.open(SI / "LOCPOT.xz", "rt").read().splitlines()
    n_atoms = sum(int(x) for x in text[6].split())
    grid_line = 8 + n_atoms + 1                 # 'Direct' line 8, then positions, then a blank line
    nx, ny, nz = (int(x) for x in text[grid_line].split())
    values = np.array(" ".join(text[grid_line + 1: grid_line + 1 + (nx * ny * nz + 4) // 5]).split(), dtype=float)
    return values[: nx * ny * nz].reshape(nz, ny, nx), (nx, ny, nz)   # x runs fastest in the file


@pytest.fixture(scope="module")
def es():
    # 14 eV below E_F: the whole valence band (11.8 eV wide) plus its Gaussian tails is on the grid
    return read_vasp_electronic(SI, erange=(-14.0, 6.0))


@pytest.fixture(scope="module")
def bulk_ref():
    return read_vasp_bulk(SI)


# ------------------------------------------------------------------ reader

def test_reader_scalars_and_grid(es, xml_root, outcar, eigenval):
    e0 = float(re.findall(r"energy\(sigma->0\) =\s*(-?\d+\.\d+)", outcar)[-1])
    assert es.energy == pytest.approx(e0, abs=1e-7) and es.energy == pytest.approx(-10.84678256, abs=1e-7)
    ef_xml = float(xml_root.find("calculation/dos/i[@name='efermi']").text)
    ef_outcar = float(re.findall(r"E-fermi :\s*(-?\d+\.\d+)", outcar)[-1])
    assert es.fermi_level == pytest.approx(ef_xml, abs=1e-8) and ef_xml == pytest.approx(ef_outcar, abs=1e-4)
    n_atoms = int(xml_root.find("atominfo/atoms").text)
    assert len(es.symbols) == n_atoms == 2 and es.symbols == ["Si", "Si"] and es.calculator == "vasp"
    assert np.all(es.side == 0)                              # no atoms given: all electrolyte
    # grid: E_F - 14 eV in 0.01 eV steps up to 3 widths below the start of the highest band (band 8)
    top = eigenval["eig"][:, :, -1].min()
    assert es.energies[0] == pytest.approx(ef_xml - 14.0)
    assert np.allclose(np.diff(es.energies), 0.01)
    assert top - 3 * es.width - 0.01 <= es.energies[-1] <= top - 3 * es.width
    assert es.parameters["dos_complete_up_to"] == pytest.approx(top - ef_xml, abs=1e-3)
    assert es.pdos.shape == (n_atoms, len(es.energies))
    basis = np.array([[float(x) for x in v.text.split()]
                      for v in xml_root.find("structure[@name='finalpos']/crystal/varray[@name='basis']")])
    height = abs(np.linalg.det(basis)) / np.linalg.norm(np.cross(basis[0], basis[1]))
    assert es.cell_length == pytest.approx(height) and es.cell_length == pytest.approx(3.157737)
    pos = np.array([[float(x) for x in v.text.split()]
                    for v in xml_root.find("structure[@name='finalpos']/varray[@name='positions']")])
    assert np.allclose(es.positions_z, (pos @ basis)[:, 2])
    assert es.parameters["potential"].startswith("electrostatic") and es.parameters["pdos_from"] == "projections"
    assert es.parameters["kpts"] == [8, 8, 8] and es.parameters["n_kpoints"] == eigenval["eig"].shape[1] == 29


def test_potential_is_the_planar_average_of_locpot(es, locpot_raw):
    grid, (nx, ny, nz) = locpot_raw
    assert (nx, ny, nz) == (60, 60, 60)
    expected = grid.mean(axis=(1, 2))
    assert es.potential.shape == es.z.shape == (nz,)
    assert np.allclose(es.potential, expected, atol=1e-9)
    assert np.allclose(es.z, np.arange(nz) * es.cell_length / nz)
    # VASP puts the average electrostatic potential of a bulk cell at zero
    assert es.potential.mean() == pytest.approx(grid.mean(), abs=1e-9) and abs(grid.mean()) < 1e-6
    assert es.potential.min() < -5 and es.potential.max() > 5     # deep at the nuclei, high between them


def _raw_projections(root):
    """(occupied-weighted projection per ion, total per ion) from the raw <projected> block (ISPIN 2)."""
    wk = np.array([float(v.text) for v in root.find("kpoints/varray[@name='weights']")])
    proj = root.find("calculation/projected")
    occ_sets = proj.find("eigenvalues/array/set")
    arr_sets = proj.find("array/set")
    n_ions = int(root.find("atominfo/atoms").text)
    charge = np.zeros(n_ions)
    for s_occ, s_proj in zip(occ_sets.findall("set"), arr_sets.findall("set")):
        for k, (k_occ, k_proj) in enumerate(zip(s_occ.findall("set"), s_proj.findall("set"))):
            occ = [float(r.text.split()[1]) for r in k_occ.findall("r")]
            for b, band in enumerate(k_proj.findall("set")):
                rows = np.array([[float(x) for x in r.text.split()] for r in band.findall("r")])   # (ions, orbitals)
                charge += wk[k] * occ[b] * rows.sum(axis=1)
    return charge


def test_pdos_integrates_to_the_projected_occupied_charge(es, xml_root, edges, eigenval):
    vbm, cbm = edges
    below = es.energies <= 0.5 * (vbm + cbm)          # the mid-gap, > 3 widths from both edges
    per_atom = es.pdos[:, below].sum(axis=1) * 0.01
    expected = _raw_projections(xml_root)
    assert np.allclose(per_atom, expected, rtol=1e-3)
    assert per_atom[0] == pytest.approx(per_atom[1], rel=1e-3)     # the two Si are equivalent
    # the projections inside the PAW spheres hold part of the 8 valence electrons (the rest is interstitial)
    assert 0.3 * eigenval["nelect"] < per_atom.sum() < eigenval["nelect"]
    assert es.energies[0] < eigenval["eig"].min() - 6 * es.width      # no Gaussian tail cut at the bottom


def _doscar():
    lines = gzip.open(SI / "DOSCAR.gz", "rt").read().splitlines()
    n_ions = int(lines[0].split()[0])
    emax, emin, nedos, efermi = (float(x) for x in lines[5].split()[:4])
    nedos = int(nedos)
    tdos = np.array([[float(x) for x in ln.split()] for ln in lines[6:6 + nedos]])
    pdos = []
    start = 6 + nedos
    for _ in range(n_ions):
        block = np.array([[float(x) for x in ln.split()] for ln in lines[start + 1:start + 1 + nedos]])
        pdos.append(block)
        start += nedos + 1
    return tdos, pdos, efermi


def test_pdos_from_vasp_dos_agrees_with_doscar_and_projections(es, edges, eigenval):
    tdos, pdos_blocks, efermi = _doscar()
    vbm, cbm = edges
    mid = 0.5 * (vbm + cbm)
    # the file's energy range holds all the valence states: integrated total DOS = NELECT at E_F
    i_f = np.searchsorted(tdos[:, 0], mid)
    assert tdos[i_f, 3] + tdos[i_f, 4] == pytest.approx(eigenval["nelect"], abs=1e-3)
    de_v = np.mean(np.diff(tdos[:, 0]))
    doscar_charge = np.array([b[tdos[:, 0] <= mid, 1:].sum() * de_v for b in pdos_blocks])
    es_dos = read_vasp_electronic(SI, pdos_from="dos", erange=(-14.0, 6.0))
    assert es_dos.parameters["pdos_from"] == "dos"
    assert es_dos.parameters["dos_extra_width"] == pytest.approx(0.1)   # ISMEAR -5: all of the width added
    below = es_dos.energies <= mid
    charge = es_dos.pdos[:, below].sum(axis=1) * 0.01
    assert np.allclose(charge, doscar_charge, rtol=1e-2)
    # both routes give the same occupied projected charge and nearly the same curves
    assert np.allclose(charge, es.pdos[:, es.energies <= mid].sum(axis=1) * 0.01, rtol=1e-2)
    assert np.allclose(es_dos.energies, es.energies)


def test_atoms_order_side_and_mismatch():
    from ase.io import read

    atoms = read(SI / "POSCAR.gz", format="vasp")
    rev = atoms[::-1]
    rev.arrays["side"] = np.array([1, 0])
    plain = read_vasp_electronic(SI, pdos_from="dos")
    assert plain.energies[0] == pytest.approx(plain.fermi_level - 12.0)     # default window E_F - 12 eV
    es_rev = read_vasp_electronic(SI, rev, pdos_from="dos", periods={"electrolyte": 3.0})
    assert np.array_equal(es_rev.side, [1, 0]) and es_rev.periods == {"electrolyte": 3.0}
    assert np.allclose(es_rev.positions_z, plain.positions_z[::-1])
    assert np.allclose(es_rev.pdos, plain.pdos[::-1])
    moved = atoms.copy()
    moved.positions[1] += [0.0, 0.0, 1.0]
    with pytest.raises(InputError, match="do not match"):
        read_vasp_electronic(SI, moved, pdos_from="dos")
    with pytest.raises(InputError, match="atoms"):
        read_vasp_electronic(SI, atoms[:1], pdos_from="dos")


def test_missing_locpot_and_vasprun_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no vasprun.xml"):
        read_vasp_electronic(tmp_path)
    (tmp_path / "vasprun.xml.gz").write_bytes((SI / "vasprun.xml.gz").read_bytes())
    with pytest.raises(InputError, match="LVHAR"):
        read_vasp_electronic(tmp_path, pdos_from="dos")
    with pytest.raises(InputError, match="pdos_from"):
        read_vasp_electronic(SI, pdos_from="doscar")


# ------------------------------------------------------------------ bulk reference

def test_bulk_reference_from_the_real_run(bulk_ref, edges, xml_root, locpot_raw, outcar):
    vbm, cbm = edges                                  # EIGENVAL has 6 decimals, vasprun.xml 4
    assert set(bulk_ref) == BULK_KEYS
    assert bulk_ref["vbm"] == pytest.approx(vbm, abs=2e-4) and bulk_ref["cbm"] == pytest.approx(cbm, abs=2e-4)
    assert bulk_ref["gap"] == pytest.approx(cbm - vbm, abs=3e-4) and 0.55 < bulk_ref["gap"] < 0.75  # PBE Si
    assert bulk_ref["fermi_level"] == pytest.approx(float(xml_root.find("calculation/dos/i[@name='efermi']").text))
    assert bulk_ref["mean_potential"] == pytest.approx(locpot_raw[0].mean(), abs=1e-9)
    assert bulk_ref["energy_eV"] == pytest.approx(
        float(re.findall(r"free  energy   TOTEN\s*=\s*(-?\d+\.\d+)", outcar)[-1]), abs=1e-7)
    kpoints = gzip.open(SI / "KPOINTS.gz", "rt").read().split("\n")
    assert bulk_ref["kpts"] == [int(x) for x in kpoints[3].split()] == [8, 8, 8]
    assert bulk_ref["n_kpoints"] == 29 and bulk_ref["formula"] == "Si2" and bulk_ref["calculator"] == "vasp"


def test_schottky_of_a_cell_against_its_own_bulk(es, bulk_ref, edges):
    """The 'interface' is the bulk itself: the line-up must give E_F - VBM and CBM - E_F exactly."""
    from sseflow.workflows.interfaces.electronic import schottky_from_electronic

    vbm, cbm = edges
    rep = schottky_from_electronic(es, bulk_ref, source="atoms", period=es.cell_length)
    lineup = rep["potential_lineup"]
    assert lineup["flat"] and abs(lineup["alignment_shift"]) < 1e-6
    assert lineup["barrier_p"] == pytest.approx(es.fermi_level - vbm, abs=3e-4)
    assert lineup["barrier_n"] == pytest.approx(cbm - es.fermi_level, abs=3e-4)
    layer = rep["layer_dos"]
    assert layer["source"] == "PAW projections" and layer["layer_atoms"] == [2]
    # DOS-threshold edges of Gaussian-broadened DOS: within a few widths of the eigenvalue edges
    assert abs(layer["barrier_p"] - (es.fermi_level - vbm)) < 0.25
    assert abs(layer["barrier_n"] - (cbm - es.fermi_level)) < 0.25
    assert layer["gap"] >= (cbm - vbm) - 0.05


# ------------------------------------------------------------------ inputs

def _slab(shift: float = 0.0):
    from ase.build import fcc111

    slab = fcc111("Al", size=(1, 1, 4), vacuum=8.0)
    slab.positions[:, 2] += shift * slab.cell[2, 2]
    slab.wrap()
    return slab


def test_electronic_incar_dipole_on_and_off():
    slab = _slab()
    off = electronic_incar(slab, dipole=False)
    assert off == ELECTRONIC_INCAR
    assert off["LORBIT"] == 11 and off["LVHAR"] is True and off["NEDOS"] == 3001
    assert off["ISMEAR"] == 0 and off["SIGMA"] <= 0.05
    on = electronic_incar(slab, dipole=True)
    assert on["LDIPOL"] is True and on["IDIPOL"] == 3
    com_z = np.average(slab.get_scaled_positions()[:, 2], weights=slab.get_masses())
    assert on["DIPOL"][2] == pytest.approx(com_z, abs=1e-5) and on["DIPOL"][2] == pytest.approx(0.5, abs=1e-3)
    # a slab cut by the periodic boundary: the centre of mass is still the slab's middle (here at the boundary)
    cut = centre_of_mass_fractional(_slab(shift=0.5))
    assert min(cut[2], 1 - cut[2]) < 1e-3
    from ase.build import bulk

    assert has_vacuum(slab) and has_vacuum(_slab(shift=0.5)) and not has_vacuum(bulk("Si", "diamond", a=5.47))


@pytest.fixture
def no_potcars(monkeypatch):
    monkeypatch.delenv("PMG_VASP_PSP_DIR", raising=False)
    monkeypatch.delenv("SSEFLOW_VASP_CMD", raising=False)
    from pymatgen.core import SETTINGS

    monkeypatch.setitem(SETTINGS, "PMG_VASP_PSP_DIR", None)


def test_write_inputs_without_potcars_writes_spec_and_warns(tmp_path, no_potcars):
    from pymatgen.io.vasp import Incar, Kpoints

    from sseflow.workflows.calculators import get_calculator

    backend = get_calculator("vasp", user_incar_settings={"KPAR": 2})
    with pytest.warns(UserWarning, match="PMG_VASP_PSP_DIR"):
        out = write_electronic_inputs(_slab(), backend, tmp_path / "slab", kpts=(4, 4, 1))
    names = {Path(f).name for f in out["files"]}
    assert {"INCAR", "KPOINTS", "POSCAR", "POTCAR.spec"} <= names and "POTCAR" not in names
    assert out["potcar"] == "spec" and out["dipole"] is True and "POTCAR.spec" in out["message"]
    incar = Incar.from_file(tmp_path / "slab" / "INCAR")
    assert incar["LORBIT"] == 11 and incar["LVHAR"] is True and incar["NEDOS"] == 3001
    assert incar["ISMEAR"] == 0 and incar["SIGMA"] == pytest.approx(0.05) and incar["NSW"] == 0
    assert incar["LDIPOL"] is True and incar["IDIPOL"] == 3 and incar["DIPOL"][2] == pytest.approx(0.5, abs=1e-3)
    assert incar["KPAR"] == 2 and incar["ENCUT"] == 520            # the preset and MPStaticSet underneath
    kp = Kpoints.from_file(tmp_path / "slab" / "KPOINTS")
    assert tuple(kp.kpts[0]) == (4, 4, 1) and "gamma" in str(kp.style).lower()
    assert (tmp_path / "slab" / "POTCAR.spec").read_text().split() == ["Al"]
    # a bulk cell: no dipole correction by default; 'require' refuses to go on without POTCARs
    from ase.build import bulk

    out = write_electronic_inputs(bulk("Si", "diamond", a=5.47), "vasp", tmp_path / "bulk", potcar="spec")
    assert out["dipole"] is False and "LDIPOL" not in Incar.from_file(tmp_path / "bulk" / "INCAR")
    with pytest.raises(InputError, match="PMG_VASP_PSP_DIR"):
        write_electronic_inputs(bulk("Si", "diamond", a=5.47), "vasp", tmp_path / "req", potcar="require")
    with pytest.raises(InputError, match="vasp backend"):
        write_electronic_inputs(_slab(), get_calculator("emt"), tmp_path / "emt")


def test_runners_need_a_run_command(tmp_path, no_potcars):
    from ase.io import read

    atoms = read(SI / "POSCAR.gz", format="vasp")
    with pytest.raises(InputError, match="SSEFLOW_VASP_CMD"):
        vasp_electronic_structure(atoms, "vasp", directory=tmp_path)
    with pytest.raises(InputError, match="SSEFLOW_VASP_CMD"):
        vasp_bulk_reference(atoms, "vasp", directory=tmp_path)


def test_runner_plumbing_with_a_stand_in_command(tmp_path, no_potcars, monkeypatch, edges):
    """The command is a stand-in that drops the real run's outputs into the folder (no VASP here):
    the inputs are written by the backend, the command runs in the folder, the outputs are read."""
    from ase.io import read

    from sseflow.workflows.calculators import get_calculator
    from sseflow.workflows.calculators.vasp import VASPBackend

    original = VASPBackend.write_inputs

    def spec_only(self, structure, directory, task="relax", potcar_spec=False, **kw):   # no POTCARs here
        return original(self, structure, directory, task, potcar_spec=True, **kw)

    monkeypatch.setattr(VASPBackend, "write_inputs", spec_only)
    backend = get_calculator("vasp", command=f"cp {SI / 'vasprun.xml.gz'} {SI / 'LOCPOT.xz'} .")
    atoms = read(SI / "POSCAR.gz", format="vasp")
    atoms.arrays["side"] = np.array([0, 0])
    es = vasp_electronic_structure(atoms, backend, directory=tmp_path / "es", kpts=(8, 8, 8),
                                   pdos_from="dos")
    from pymatgen.io.vasp import Incar

    incar = Incar.from_file(tmp_path / "es" / "INCAR")
    assert incar["LVHAR"] is True and incar["LORBIT"] == 11 and "LDIPOL" not in incar   # bulk: no dipole
    assert es.energy == pytest.approx(-10.84678256, abs=1e-7) and es.parameters["kpts"] == [8, 8, 8]
    assert "run_wall_time_s" in es.parameters
    ref = vasp_bulk_reference(atoms, backend, directory=tmp_path / "bulk")
    assert ref["vbm"] == pytest.approx(edges[0], abs=2e-4) and set(ref) == BULK_KEYS


def test_electronic_structure_from_vasp_saves_and_loads(es, tmp_path):
    from sseflow.workflows.interfaces.electronic import ElectronicStructure

    back = ElectronicStructure.load(es.save(tmp_path / "es.npz"))
    assert back.fermi_level == es.fermi_level and back.calculator == "vasp"
    assert np.allclose(back.pdos, es.pdos) and np.allclose(back.potential, es.potential)
    assert back.parameters["potential"] == es.parameters["potential"] and back.layer_dos is None


def test_cli_schottky_reads_a_finished_vasp_run(tmp_path, edges, capsys):
    """``sseflow interface schottky DIR --from-run RUN --bulk-run RUN``: no calculation, the
    real run read for the cell of the build folder; the line-up gives E_F - VBM from EIGENVAL."""
    import json

    from ase.io import read, write

    from sseflow.workflows.cli.main import main

    atoms = read(gzip.open(SI / "POSCAR.gz", "rt"), format="vasp")
    atoms.arrays["side"] = np.zeros(len(atoms), int)
    d = tmp_path / "si"
    d.mkdir()
    write(str(d / "interface_built.extxyz"), atoms)
    period = read_vasp_electronic(SI, atoms).cell_length
    (d / "summary.json").write_text(json.dumps({"electrolyte": "Si", "electrode": "Li", "interface": {
        "label": "Si cell", "electrolyte_period_A": period, "electrode_period_A": 2.0}}))

    def run(args):
        try:
            main(args)
        except SystemExit as e:
            return int(e.code or 0)
        return 0

    assert run(["interface", "schottky", str(d), "--from-run", str(SI), "--bulk-run", str(SI), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    vbm, cbm = edges
    P = out["schottky"]["potential_lineup"]
    assert out["parameters"]["backend"] == "vasp"
    assert P["barrier_p"] + P["barrier_n"] == pytest.approx(cbm - vbm, abs=3e-4)
    assert (d / "electronic.npz").is_file() and (d / "bulk_reference.json").is_file()
    # the saved bulk reference is accepted as --bulk-run on its own
    assert run(["interface", "schottky", str(d), "--from-run", str(SI), "--bulk-run",
                str(d / "bulk_reference.json"), "--json"]) == 0
    P2 = json.loads(capsys.readouterr().out)["schottky"]["potential_lineup"]
    assert P2["barrier_p"] == pytest.approx(P["barrier_p"], abs=1e-9)
    # a folder that is no run at all is a one-line error
    assert run(["interface", "schottky", str(d), "--from-run", str(tmp_path)]) == 2
    assert "no vasprun.xml" in capsys.readouterr().err
