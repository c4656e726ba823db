"""Bad input is one line on stderr with exit status 2 (never a traceback, never accepted silently);
calculations that did not converge are never stored as completed; Ctrl-C stops ``sseflow run``.

Commands run in-process on a temporary embedded store (each ended as a process would: store
flushed, lock released), or in a fresh process where the point is what reaches a real stderr
(library warnings, at-exit tracebacks, signals).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from bson import json_util

from sseflow.analysis.errors import InputError
from helpers import SSEFLOW, default_sigint, run_cli, sseflow
from sseflow.workflows.store import client as store_client

ROOT = Path(__file__).resolve().parents[1]


STUDY = """name: tiny
electrolytes: [LiAlO2]
anodes: [Li]
phases:
  auto: false
  include: [{struct}]
calculators:
  relax: {{name: emt, preset: {preset}}}
reference: {{source: both, file: ref.csv, correction_scheme: none}}
compute: {{windows: true, reactions: false}}
output: {output}
"""


def one_line_error(rc, out, err, *needles) -> str:
    """Exit 2, nothing on stdout, exactly one 'sseflow: error:' line on stderr holding ``needles``."""
    assert rc == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sseflow: error: "), err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def stored(home: Path) -> dict:
    data = json_util.loads((home / "store.json").read_text())
    return {name: [d for _, d in coll["documents"]] for name, coll in data.get("sseflow", {}).items()}


def _write(atoms, path: Path) -> Path:
    from pymatgen.io.ase import AseAtomsAdaptor

    AseAtomsAdaptor.get_structure(atoms).to(filename=str(path))
    return path


def cu_cell(rattle: float = 0.0):
    from ase.build import bulk

    a = bulk("Cu", "fcc", a=3.6, cubic=True)
    if rattle:
        a = a.repeat(2)
        a.rattle(rattle, seed=1)
    return a


def overlapping_cu():
    a = cu_cell()
    a.positions[1] = a.positions[0] + [0.06, 0.0, 0.0]
    return a


def al_cif(path: Path) -> str:
    from ase.build import bulk

    _write(bulk("Al", "fcc", a=4.1), path)
    return path.name


def write_study(tmp_path: Path, preset: str = "{fmax: 0.05, max_steps: 100}", struct: str | None = None,
                output: str = "out") -> Path:
    struct = struct or al_cif(tmp_path / "al.cif")
    p = tmp_path / "tiny.yaml"
    p.write_text(STUDY.format(struct=struct, preset=preset, output=output))
    return p


# =========================================================================== broken structures

def test_overlapping_atoms_are_rejected_before_calculating(home, tmp_path, capsys):
    cif = _write(overlapping_cu(), tmp_path / "close.cif")
    rc, out, err = sseflow(capsys, "relax", cif, "-c", "emt", "--as-given", "--store")
    one_line_error(rc, out, err, str(cif), "sites 1 (Cu) and 2 (Cu) are 0.060 Å apart")
    assert not (home / "store.json").exists() or stored(home).get("tasks", []) == []


def test_periodic_images_count_and_the_backend_checks_too():
    from ase import Atoms

    from sseflow.workflows.calculators import get_calculator

    tiny = Atoms("Cu", cell=[0.3, 4.0, 4.0], pbc=True)
    with pytest.raises(InputError, match=r"site 1 \(Cu\) is 0.300 Å from its own periodic image"):
        get_calculator("emt").relax(tiny)
    a = cu_cell()
    a.positions[1] = a.positions[0] + [3.6 - 0.05, 0.0, 0.0]  # close only through the cell boundary
    with pytest.raises(InputError, match=r"a periodic image of site 2 \(Cu\) are 0.050 Å apart"):
        get_calculator("emt").static(a)


# =========================================================================== unconverged results

def test_relaxation_out_of_steps_is_not_stored_as_completed(home, tmp_path, capsys):
    cif = _write(cu_cell(rattle=0.2), tmp_path / "rattled.cif")
    rc, out, err = sseflow(capsys, "relax", cif, "-c", "emt", "--as-given", "--steps", "3", "--json", "--store")
    assert rc == 1, err
    doc = json.loads(out)
    assert doc["status"] == "not_converged" and doc["converged"] is False and doc["n_steps"] == 3
    assert doc["max_force"] > 0.05 and "not converged in 3 steps" in doc["error"]
    (task,) = stored(home)["tasks"]
    assert task["status"] == "not_converged" and task["converged"] is False
    # the same relaxation with enough steps is computed, not "reused" from the unconverged one
    rc, out, err = sseflow(capsys, "relax", cif, "-c", "emt", "--as-given", "--json", "--store")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["status"] == "completed" and doc["converged"] and doc["max_force"] < 0.05
    assert sorted(t["status"] for t in stored(home)["tasks"]) == ["completed", "not_converged"]


class _NaNCalculator:
    """An ASE calculator whose results are NaN (a potential that blew up)."""

    def __new__(cls):
        from ase.calculators.calculator import Calculator, all_changes

        class NaN(Calculator):
            implemented_properties = ["energy", "forces", "stress"]

            def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
                super().calculate(atoms, properties, system_changes)
                n = len(self.atoms)
                self.results = {"energy": float("nan"), "forces": np.full((n, 3), np.nan),
                                "stress": np.full(6, np.nan)}

        return NaN()


def test_non_finite_results_are_failed_not_completed():
    from sseflow.workflows.calculators import get_calculator

    calc = get_calculator("emt")
    calc.ase_calculator = lambda directory=None: _NaNCalculator()
    res = calc.static(cu_cell())
    assert res.status == "failed" and "non-finite" in res.error
    doc = res.task_document()
    assert doc["status"] == "failed" and doc["energy"] is None
    assert res.to_store_document().status == "failed"


def test_unconverged_relax_firework_fizzles_and_stores_no_completed_task(home, tmp_path, capsys):
    from ase.build import bulk

    a = bulk("Al", "fcc", a=4.1, cubic=True).repeat(2)
    a.rattle(0.1, seed=3)
    struct = _write(a, tmp_path / "al_rattled.cif").name
    study = write_study(tmp_path, preset="{fmax: 0.0001, max_steps: 2}", struct=struct)
    rc, out, err = sseflow(capsys, "study", study)
    assert rc == 1, err
    assert "al_rattled: emt relaxation not converged in 2 steps: max force" in err
    (task,) = stored(home)["tasks"]
    assert task["status"] == "not_converged" and task["converged"] is False
    assert not list((tmp_path / "out").glob("*"))  # no report from unconverged energies


# =========================================================================== bad values of options

@pytest.mark.parametrize("args, needle", [
    (["relax", "Cu", "-c", "emt", "--fmax", "nan"], "'--fmax': 'nan' is not a finite number"),
    (["relax", "Cu", "-c", "emt", "--fmax", "0"], "'--fmax'"),
    (["relax", "Cu", "-c", "emt", "--steps", "-1"], "'--steps': -1 is not in the range x>=0"),
    (["relax", "Cu", "-c", "emt", "--set", "nonsense_key=1"], "unknown parameter 'nonsense_key' for calculator 'emt'"),
    (["relax", "Cu", "-c", "emt", "--set", "fmaxx=0.1"], "did you mean 'fmax'?"),
    (["relax", "Cu", "-c", "emt", "--set", "optimizer=NoSuchOptimizer"], "unknown ASE optimizer 'NoSuchOptimizer'"),
    (["run", "--max", "-1"], "'--max': -1 is not in the range x>=0"),
    (["run", "--wait", "-5"], "'--wait': -5.0 is not in the range x>=0"),
    (["run", "--wait", "nan"], "'--wait': 'nan' is not a finite number"),
    (["rerun", "--lost", "--expiration", "-5"], "'--expiration': -5.0 is not in the range x>0"),
    (["rerun", "--lost", "--expiration", "0"], "'--expiration'"),
    (["interface", "build", "LiF", "Li", "--fmax", "nan"], "'--fmax'"),
    (["interface", "build", "LiF", "Li", "--electronic", "gpaw", "--set", "ecutt=300"],
     "unknown parameter 'ecutt' for calculator 'gpaw' (did you mean 'ecut'?)"),
    (["phonons", "Li", "--temperatures", "nan"], "--temperatures"),
])
def test_nonsense_values_are_one_line(home, capsys, args, needle):
    rc, out, err = sseflow(capsys, *args)
    one_line_error(rc, out, err, needle)


# =========================================================================== files and paths

def test_malformed_cif_in_interface_build(home, tmp_path, capsys):
    bad = tmp_path / "bad.cif"
    bad.write_text("data_bad\n_cell_length_a 4\n_cell_length_b x\nloop_\n_atom_site_label\nLi1\n")
    rc, out, err = sseflow(capsys, "interface", "build", bad, "Li", "--no-scan")
    one_line_error(rc, out, err, f"cannot read structure from {bad}")


def test_output_paths_that_cannot_be_written(home, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder\n")
    cif = _write(cu_cell(rattle=0.05), tmp_path / "cu.cif")
    rc, out, err = sseflow(capsys, "relax", cif, "-c", "emt", "-o", blocker / "relaxed.cif")
    one_line_error(rc, out, err, f"--output {blocker / 'relaxed.cif'}", "is a file, not a folder")
    rc, out, err = sseflow(capsys, "interface", "build", "LiF", "Li", "--no-scan", "-o", blocker / "dir")
    one_line_error(rc, out, err, f"--output {blocker / 'dir'}")
    rc, out, err = sseflow(capsys, "interface", "build", "LiF", "Li", "--no-scan", "--plot", blocker / "sub" / "p")
    one_line_error(rc, out, err, f"--plot {blocker / 'sub' / 'p'}_structure.png")
    rc, out, err = sseflow(capsys, "run", "--launch-dir", blocker / "launches")
    one_line_error(rc, out, err, f"--launch-dir {blocker / 'launches'}")
    study = write_study(tmp_path)
    rc, out, err = sseflow(capsys, "study", study, "--launch-dir", blocker / "launches")
    one_line_error(rc, out, err, f"--launch-dir {blocker / 'launches'}")


def test_study_output_folder_is_checked_at_submit(home, tmp_path, capsys):
    (tmp_path / "a_file").write_text("x\n")
    study = write_study(tmp_path, output="a_file/report")
    for cmd in ("submit", "study"):
        rc, out, err = sseflow(capsys, cmd, study)
        one_line_error(rc, out, err, f"output folder {tmp_path / 'a_file' / 'report'}", "is a file, not a folder")
    rc, out, err = sseflow(capsys, "submit", write_study(tmp_path), "--output", tmp_path / "a_file" / "x")
    one_line_error(rc, out, err, f"--output {tmp_path / 'a_file' / 'x'}")
    rc, out, err = sseflow(capsys, "status", "--json")
    assert rc == 0 and json.loads(out) == []  # nothing was added


@pytest.mark.parametrize("preset, needle", [
    ("{fmax: 0.05, optimizer: NoSuchOptimizer}", "unknown ASE optimizer 'NoSuchOptimizer'"),
    ("{fmaxx: 0.05}", "unknown parameter 'fmaxx' for calculator 'emt' (did you mean 'fmax'?)"),
    ("{fmax: -0.05}", "fmax must be a positive number"),
    ("{max_steps: 2.5}", "max_steps must be a whole number"),
])
def test_calculator_presets_are_checked_at_submit(home, tmp_path, capsys, preset, needle):
    study = write_study(tmp_path, preset=preset)
    rc, out, err = sseflow(capsys, "submit", study)
    one_line_error(rc, out, err, "calculators.relax", needle)


def test_overlapping_atoms_in_a_study_are_rejected_at_submit(home, tmp_path, capsys):
    from ase.build import bulk

    a = bulk("Al", "fcc", a=4.1, cubic=True)
    a.positions[2] = a.positions[1] + [0.0, 0.0, 0.04]
    study = write_study(tmp_path, struct=_write(a, tmp_path / "bad_al.cif").name)
    rc, out, err = sseflow(capsys, "submit", study)
    one_line_error(rc, out, err, "bad_al.cif", "sites 2 (Al) and 3 (Al) are 0.040 Å apart")


# =========================================================================== the store

def test_missing_tls_key_file_in_uri(tmp_path):
    p = run_cli("db", "status", "--config",
                "mongodb://127.0.0.1:1/x?tls=true&tlsCertificateKeyFile=/nonexistent.pem",
                env={"SSEFLOW_HOME": str(tmp_path)})
    one_line_error(p.returncode, p.stdout, p.stderr, "tlsCertificateKeyFile", "/nonexistent.pem")


def test_bad_auth_mechanism_is_one_line_without_warnings(tmp_path):
    p = run_cli("db", "status", "--config", "mongodb://127.0.0.1:1/x?authMechanism=BOGUS",
                env={"SSEFLOW_HOME": str(tmp_path)})
    line = one_line_error(p.returncode, p.stdout, p.stderr, "authMechanism")
    assert "Warning" not in p.stderr and "127.0.0.1" not in line  # refused before connecting


DISK_FULL = """
import errno, sys
import sseflow.workflows.store.client  # noqa: F401  (loads every store module that writes files)

def full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")

for name, mod in list(sys.modules.items()):  # every store module that writes through it
    if name.startswith("sseflow.workflows.store") and hasattr(mod, "atomic_write_text"):
        mod.atomic_write_text = full
from sseflow.workflows.cli.main import main
main(sys.argv[1:])
"""


def test_disk_full_is_one_line_without_retries_at_exit(tmp_path):
    env = {**os.environ, "SSEFLOW_HOME": str(tmp_path / "home")}
    for var in ("SSEFLOW_DB", "SSEFLOW_CONFIG", "MONGOMOCK_SERVERSTORE_FILE"):
        env.pop(var, None)
    cif = _write(cu_cell(rattle=0.05), tmp_path / "cu.cif")
    p = run_cli("relax", cif, "-c", "emt", "--store", env=env)  # the store file exists
    assert p.returncode == 0, p.stderr
    p = subprocess.run([sys.executable, "-c", DISK_FULL, "relax", str(cif), "-c", "emt", "--fmax", "0.02",
                        "--store"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and "Exception ignored" not in p.stderr, p.stderr
    (line,) = p.stderr.strip().splitlines()
    assert line.startswith("sseflow: error: cannot write the embedded store") and "No space left" in line


# =========================================================================== Ctrl-C

def _sleepy_workflow(n: int, seconds: float) -> list[int]:
    from fireworks import Firework, Workflow
    from fireworks.user_objects.firetasks.script_task import PyTask

    from sseflow.workflows.store import get_launchpad

    fws = [Firework([PyTask(func="time.sleep", args=[seconds])], name=f"sleep {i}") for i in range(n)]
    lp = get_launchpad()
    mapping = lp.add_wf(Workflow(fws, name="sleepy"))
    store_client.close_all()
    return sorted(mapping.values())


def test_ctrl_c_stops_run_and_the_next_run_picks_the_firework_up(home, tmp_path, capsys):
    ids = _sleepy_workflow(4, 20.0)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([SSEFLOW, "run", "--quiet"], cwd=tmp_path, env=env, preexec_fn=default_sigint,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if list((home / "launches").glob("launcher_*/FW.json")):
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "set back to READY" in err and err.strip().splitlines()[-1] == "sseflow: interrupted"

    from sseflow.workflows.store import get_launchpad

    lp = get_launchpad()
    fws = {d["fw_id"]: d for d in lp.fireworks.find({}, {"fw_id": 1, "state": 1, "launches": 1,
                                                         "archived_launches": 1})}
    assert {i: fws[i]["state"] for i in ids} == {i: "READY" for i in ids}
    tried = [i for i in ids if fws[i]["launches"] or fws[i].get("archived_launches")]
    assert len(tried) == 1  # only the interrupted Firework was started
    assert lp.launches.count_documents({}) == 1
    lp.update_spec(ids, {"_tasks.0.args": [0]})
    store_client.close_all()

    rc, out, err = sseflow(capsys, "run", "--quiet")
    assert rc == 0 and "4/4 completed" in err, err
    lp = get_launchpad()
    assert lp.fireworks.find_one({"fw_id": tried[0]})["state"] == "COMPLETED"
    assert lp.launches.count_documents({}) == 5  # the interrupted launch and one per Firework
