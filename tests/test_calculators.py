"""Calculator interface, CHGNet/EMT backends, presets, dedupe and computed entries."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from ase.build import bulk

from sseflow.analysis.errors import InputError
from sseflow.workflows.calculators import BACKENDS, CalcResult, get_calculator
from sseflow.workflows.calculators.base import resolve_command, template_dir

ROOT = Path(__file__).resolve().parents[1]
HAS_CHGNET = importlib.util.find_spec("chgnet") is not None
needs_chgnet = pytest.mark.skipif(not HAS_CHGNET, reason="chgnet not installed (pip install torch==2.13.0 chgnet==0.4.2)")

TASK_KEYS = {"formula", "reduced_formula", "chemsys", "structure", "calculator", "parameters", "energy",
             "energy_per_atom", "max_force", "stress", "n_steps", "converged", "wall_time_s", "status", "files",
             "structure_match_fingerprint", "correction_scheme"}


@pytest.fixture(scope="module")
def chgnet():
    if not HAS_CHGNET:
        pytest.skip("chgnet not installed (pip install torch==2.13.0 chgnet==0.4.2)")
    return get_calculator("chgnet")


# ------------------------------------------------------------------ registry and presets

def test_unknown_calculator_is_input_error():
    with pytest.raises(InputError, match="unknown calculator 'abinit'"):
        get_calculator("abinit")


def test_every_backend_has_a_preset_matching_its_defaults():
    from sseflow.workflows.calculators.registry import backend_class

    for name in BACKENDS:
        path = template_dir() / f"{name}.yaml"
        assert path.is_file(), path
        data = yaml.safe_load(path.read_text())
        assert data.pop("backend") == name
        data.pop("description")
        cls = backend_class(name)
        # the YAML and the built-in defaults hold the same keys and values
        assert data == cls.defaults, name


def test_preset_and_overrides_merge(tmp_path, monkeypatch):
    (tmp_path / "calculators").mkdir()
    (tmp_path / "calculators" / "emt.yaml").write_text("fmax: 0.2\nmax_steps: 7\n")
    monkeypatch.setenv("SSEFLOW_TEMPLATES", str(tmp_path))
    calc = get_calculator("emt", preset={"max_steps": 9}, optimizer="BFGS")
    assert calc.parameters == {"optimizer": "BFGS", "fmax": 0.2, "max_steps": 9}


def test_broken_preset_is_input_error(tmp_path, monkeypatch):
    (tmp_path / "calculators").mkdir()
    (tmp_path / "calculators" / "emt.yaml").write_text("fmax: [0.2\n")
    monkeypatch.setenv("SSEFLOW_TEMPLATES", str(tmp_path))
    with pytest.raises(InputError, match="not valid YAML"):
        get_calculator("emt")


def test_resolve_command_like_env_chk(monkeypatch):
    monkeypatch.delenv("SSEFLOW_VASP_CMD", raising=False)
    assert resolve_command(None, "vasp_cmd") is None
    assert resolve_command(">>vasp_cmd<<", "vasp_cmd", {"vasp_cmd": "srun vasp_std"}) == "srun vasp_std"
    monkeypatch.setenv("SSEFLOW_VASP_CMD", "mpirun vasp_std")
    assert resolve_command(">>vasp_cmd<<", "vasp_cmd", {}) == "mpirun vasp_std"
    assert resolve_command("vasp_gam", "vasp_cmd") == "vasp_gam"


# ------------------------------------------------------------------ EMT (workflow-test backend)

def test_emt_relax_fcc_cu_lattice_and_document():
    calc = get_calculator("emt")
    res = calc.relax(bulk("Cu", "fcc", a=3.7), fmax=0.01)
    assert isinstance(res, CalcResult)
    assert res.converged and res.status == "completed"
    a = res.atoms.cell.cellpar()[0] * math.sqrt(2)  # primitive fcc -> conventional
    assert a == pytest.approx(3.59, abs=0.02)   # EMT's Cu lattice constant
    doc = res.task_document()
    assert set(doc) == TASK_KEYS
    assert doc["correction_scheme"] == "none" and doc["calculator"] == "emt"
    assert doc["max_force"] < 0.01 and len(doc["stress"]) == 6
    assert doc["structure_match_fingerprint"].startswith("Cu|225|")


def test_emt_rejects_elements_it_does_not_know():
    with pytest.raises(InputError, match="no parameters for Li"):
        get_calculator("emt").static(bulk("Li", "bcc", a=3.44))


def test_failed_calculation_is_a_failed_result_not_a_crash():
    calc = get_calculator("emt")
    calc.ase_calculator = lambda directory=None: _Exploding()
    res = calc.static(bulk("Cu", "fcc", a=3.6))
    assert res.status == "failed" and "did not converge" in res.error
    assert res.task_document()["energy"] is None


class _Exploding:
    def get_potential_energy(self, atoms=None, force_consistent=False):
        raise RuntimeError("SCF did not converge")

    def get_property(self, name, atoms=None, allow_calculation=True):
        raise RuntimeError("SCF did not converge")


# ------------------------------------------------------------------ CHGNet

@needs_chgnet
def test_chgnet_li_bcc_relaxed_lattice(chgnet):
    import torch

    assert torch.get_num_threads() == 1
    res = chgnet.relax(bulk("Li", "bcc", a=3.60, cubic=True), fmax=0.02)
    assert res.converged
    a = res.atoms.cell.cellpar()[0]
    assert abs(a - 3.44) / 3.44 < 0.02, a
    assert res.energy_per_atom == pytest.approx(-1.88, abs=0.05)  # MP-scale Li (mp-135: -1.909 eV/atom)
    assert res.correction_scheme == "MP2020-compatible (CHGNet trained on MPtrj)"
    assert chgnet.correction_scheme == res.correction_scheme


@needs_chgnet
def test_chgnet_static_si_forces_vanish_by_symmetry(chgnet):
    res = chgnet.static(bulk("Si", "diamond", a=5.43))
    assert res.n_steps == 0 and res.max_force < 1e-4
    # MP mp-149: -5.425 eV/atom at a = 5.469 Å; CHGNet 0.3.0 gives -5.312 at the experimental 5.43 Å
    assert res.energy_per_atom == pytest.approx(-5.425, abs=0.15)
    assert np.allclose(res.stress[3:], 0, atol=1e-5)


@needs_chgnet
def test_chgnet_ase_calculator_is_plain_ase(chgnet):
    from ase.calculators.calculator import Calculator

    calc = chgnet.ase_calculator()
    assert isinstance(calc, Calculator)
    atoms = bulk("Li", "bcc", a=3.44, cubic=True)
    atoms.calc = calc
    atoms.positions[0] += [0.1, 0, 0]
    f = atoms.get_forces()
    assert f.shape == (2, 3) and abs(f.sum(axis=0)).max() < 1e-4 and f[0, 0] < 0  # restoring force


# ------------------------------------------------------------------ dedupe

def test_fingerprint_ignores_noise_setting_and_supercell():
    from pymatgen.core import Lattice, Structure

    from sseflow.workflows.dedupe import find_existing, fingerprint

    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.708), ["S", "Li"], [[0, 0, 0], [.25, .25, .25]])
    prim = s.get_primitive_structure()
    noisy = s.copy()
    noisy.perturb(0.02, min_distance=0.0)
    sup = prim * (2, 1, 1)
    assert fingerprint(s) == fingerprint(prim) == fingerprint(noisy) == fingerprint(sup) == "Li2S|225|3"
    other = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.61), ["O", "Li"], [[0, 0, 0], [.25, .25, .25]])
    assert fingerprint(other) != fingerprint(s)

    params = {"model": "0.3.0", "fmax": 0.05, "torch_threads": 1}
    cand = {"calculator": "chgnet", "status": "completed", "structure": prim.as_dict(),
            "parameters": {"model": "0.3.0", "fmax": 0.05, "torch_threads": 4, "relax_cell": True}}
    # a strained copy (relaxed volume) of the same crystal is found; threads do not matter
    strained = noisy.copy()
    strained.scale_lattice(noisy.volume * 1.06)
    assert find_existing(strained, "chgnet", params, [cand]) is cand
    assert find_existing(strained, "chgnet", {**params, "fmax": 0.01}, [cand]) is None
    assert find_existing(strained, "sevennet", params, [cand]) is None
    assert find_existing(other, "chgnet", params, [cand]) is None
    assert find_existing(strained, "chgnet", params, [{**cand, "status": "failed"}]) is None


def test_fingerprint_rejects_non_structures():
    from sseflow.workflows.dedupe import fingerprint

    with pytest.raises(InputError):
        fingerprint("Li2S")


# ------------------------------------------------------------------ computed entries

def _fake(formula_struct, epa, calc="chgnet", scheme="MP2020-compatible (CHGNet trained on MPtrj)"):
    from sseflow.workflows.calculators.base import to_atoms

    atoms = to_atoms(formula_struct)
    n = len(atoms)
    return CalcResult(atoms=atoms, structure=formula_struct, energy=epa * n, energy_per_atom=epa,
                      forces=np.zeros((n, 3)), stress=np.zeros(6), n_steps=1, converged=True, wall_time_s=0.1,
                      calculator=calc, parameters={}, correction_scheme=scheme)


def test_entries_from_results_reference_own_elements():
    from sseflow.analysis.reference import ReferenceSet
    from sseflow.workflows.computed_entries import entries_from_results
    from sseflow.workflows.structures.library import get_structure

    li, s, li2s = get_structure("Li"), get_structure("S"), get_structure("Li2S")
    results = [_fake(li, -1.90), _fake(s, -4.10), _fake(s, -4.00), _fake(li2s, -4.00)]
    entries = entries_from_results(results, "chgnet")
    by = {e.reduced_formula: e for e in entries if e.energy_per_atom == min(
        x.energy_per_atom for x in entries if x.reduced_formula == e.reduced_formula)}
    # Li2S: -4.00 - (2*-1.90 + -4.10)/3 = -1.3667
    assert by["Li2S"].energy_per_atom == pytest.approx(-4.00 - (2 * -1.90 - 4.10) / 3)
    assert by["Li"].energy_per_atom == 0 and by["S"].energy_per_atom == 0
    assert all(e.correction_scheme == "MP2020-compatible (CHGNet trained on MPtrj)" for e in entries)
    rs = ReferenceSet.from_entries(entries)
    assert {e.reduced_formula for e in rs.entries_in(["Li", "S"])} == {"Li", "S", "Li2S"}


def test_entries_refuse_mixed_schemes_and_missing_elements():
    from sseflow.workflows.computed_entries import entries_from_results, merge_entries
    from sseflow.workflows.structures.library import get_structure

    li, s, li2s = get_structure("Li"), get_structure("S"), get_structure("Li2S")
    with pytest.raises(InputError, match="cannot mix calculators"):
        entries_from_results([_fake(li, -1.9), _fake(s, -4.1, calc="gpaw", scheme="none (GPAW PBE)")], "chgnet")
    with pytest.raises(InputError, match="cannot mix correction schemes"):
        entries_from_results([_fake(li, -1.9), _fake(s, -4.1, scheme="none")], "chgnet")
    with pytest.raises(InputError, match="no chgnet result for elemental S"):
        entries_from_results([_fake(li, -1.9), _fake(li2s, -4.0)], "chgnet")
    ours = entries_from_results([_fake(li, -1.9), _fake(s, -4.1), _fake(li2s, -4.0)], "chgnet")
    from sseflow.analysis.entries import Entry

    mp = [Entry("Li2S", {"Li": 2, "S": 1}, -1.45, "mp", "MP2020")]
    assert len(merge_entries(ours, mp)) == 4          # MP2020 family on both sides
    legacy = [Entry("Li2S", {"Li": 2, "S": 1}, -1.45, "old", "MaterialsProjectCompatibility")]
    with pytest.raises(InputError, match="incompatible correction schemes"):
        merge_entries(ours, legacy)
    with pytest.raises(InputError, match="incompatible correction schemes"):
        merge_entries(ours, [Entry("Li2S", {"Li": 2, "S": 1}, -1.45, "table")])   # unlabelled table
    assert len(merge_entries(ours, [Entry("Li2S", {"Li": 2, "S": 1}, -1.45, "table")],
                             scheme_of_unlabelled="MP2020")) == 4


MP_CSV = ROOT.parent / "shared" / "data" / "mp_formation_energies.csv"


def mp_lowest(formulas: set[str]) -> dict[str, float]:
    """Lowest MP formation energy per atom for each reduced formula (the ground-state polymorph row)."""
    import csv

    from sseflow.analysis.formula import reduced_formula_of

    best: dict[str, float] = {}
    with open(MP_CSV, newline="") as fh:
        for row in csv.DictReader(fh):
            f = row["formula"]
            try:
                red = reduced_formula_of(f)
            except InputError:
                continue
            if red in formulas:
                best[red] = min(best.get(red, math.inf), float(row["target"]))
    return best


@needs_chgnet
@pytest.mark.skipif(not MP_CSV.is_file(), reason="shared MP data (../shared/data/mp_formation_energies.csv) absent")
def test_chgnet_formation_energies_match_mp(chgnet):
    """Relax small library phases and their elements with CHGNet through sseflow: formation
    energies within 0.1 eV/atom of the Materials Project's."""
    from sseflow.workflows.computed_entries import entries_from_results
    from sseflow.workflows.structures.library import get_structure

    # the full table (every library phase) is in docs/backends.md; here the cheap ones (~40 s CPU)
    compounds = ["Li2S", "LiF", "Li2O"]
    mp = mp_lowest(set(compounds))
    assert set(mp) == set(compounds)
    names = ["Li", "S", "F2", "O2", *compounds]
    results = [chgnet.relax(get_structure(n, primitive=True), fmax=0.05, steps=400) for n in names]
    entries = {e.reduced_formula: e.energy_per_atom for e in entries_from_results(results, chgnet)}
    for formula, ref in mp.items():
        assert entries[formula] == pytest.approx(ref, abs=0.1), (formula, entries[formula], ref)


# ------------------------------------------------------------------ SevenNet (optional extra)

@pytest.mark.skipif(importlib.util.find_spec("sevenn") is None,
                    reason="sevenn not installed (optional extra: pip install sevenn==0.13.0)")
def test_sevennet_li_bcc():
    calc = get_calculator("sevennet")
    res = calc.relax(bulk("Li", "bcc", a=3.60, cubic=True), fmax=0.02)
    assert res.converged and abs(res.atoms.cell.cellpar()[0] - 3.44) / 3.44 < 0.02
    assert res.energy_per_atom == pytest.approx(-1.91, abs=0.05)
    assert res.correction_scheme == "none (SevenNet, uncorrected MPtrj GGA/GGA+U energies)"


def test_sevennet_missing_is_input_error(monkeypatch):
    if importlib.util.find_spec("sevenn") is not None:
        import builtins

        real = builtins.__import__

        def fake(name, *a, **k):
            if name == "sevenn" or name.startswith("sevenn."):
                raise ImportError(name)
            return real(name, *a, **k)

        monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(InputError, match="pip install sevenn"):
        get_calculator("sevennet")


def test_one_thread_for_torch_and_blas(chgnet):
    """The CHGNet backend pins torch and the BLAS pools numpy loaded to the thread count asked."""
    import torch
    from threadpoolctl import threadpool_info

    from sseflow.workflows.calculators.chgnet import set_torch_threads

    before = torch.get_num_threads()
    try:
        set_torch_threads(1)
        assert torch.get_num_threads() == 1
        blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == 1 for p in blas)
    finally:
        set_torch_threads(before)


def test_relax_reports_each_optimizer_step():
    """``on_step`` sees 1, 2, ... n_steps: what the terminal progress of relaxations counts."""
    from ase.build import bulk

    from sseflow.workflows.calculators import get_calculator

    a = bulk("Cu", "fcc", a=3.7, cubic=True)
    a.rattle(0.05, seed=1)
    seen: list[int] = []
    res = get_calculator("emt").relax(a, fmax=0.05, steps=50, relax_cell=False, on_step=seen.append)
    assert res.n_steps > 1 and seen == list(range(1, res.n_steps + 1))
