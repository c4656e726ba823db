"""Study workflows end to end on the embedded store: submit, run, status, rerun, reports.

A tiny study with ASE's EMT (Al relaxed by the workflow; the Li-Al-O energies from a small
formation-energy table: ``reference.source: both`` with matching schemes), run for real through
the ``sseflow`` entry point in a temporary ``SSEFLOW_HOME``. Each command ends as a process would
(store flushed, lock released), so every step reads the store back from its file.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers import SSEFLOW, al_cif, sseflow, stored, write_study
from sseflow.workflows.store import client as store_client


def fw_states(capsys, wf) -> dict[str, str]:
    rc, out, err = sseflow(capsys, "status", wf, "--json")
    assert rc == 0, err
    (w,) = json.loads(out)
    return {fw["name"]: fw["state"] for fw in w["fireworks"]}


def test_submit_run_status_report_and_dedupe(home, tmp_path, capsys):
    study = write_study(tmp_path)
    rc, out, err = sseflow(capsys, "submit", study)
    assert rc == 0, err
    wf = out.strip()
    assert wf == "1"
    assert "4 Fireworks (1 relax, 1 thermodynamics, 1 reaction, 1 report)" in err
    states = fw_states(capsys, wf)
    assert states == {"relax al (emt)": "READY", "thermodynamics Al-Li-O": "WAITING",
                      "reaction LiAlO2 | Li": "WAITING", "report tiny": "WAITING"}
    rc, out, err = sseflow(capsys, "status")
    assert rc == 0 and "tiny" in out and "READY" in out

    rc, out, err = sseflow(capsys, "run", "--max", "1")
    assert rc == 0, err
    assert "[1/4] COMPLETED relax al (emt)" in err and "ran 1 Firework(s)" in err
    assert fw_states(capsys, wf)["thermodynamics Al-Li-O"] == "READY"

    rc, out, err = sseflow(capsys, "run")
    assert rc == 0, err
    assert "4/4 completed" in err
    assert set(fw_states(capsys, wf).values()) == {"COMPLETED"}

    db = stored(home)
    (task,) = db["tasks"]
    assert task["calculator"] == "emt" and task["status"] == "completed" and task["formula"] == "Al"
    assert task["fw_id"] == 1 and task["task_type"] == "relax" and "fmax" in task["parameters"]
    (window,) = db["windows"]
    assert window["formula"] == "LiAlO2" and window["inputs"]["reference"].startswith("computed:emt+")
    assert window["inputs"]["task_ids"] == [task["key"]] and window["reduction_V"] is not None
    (reaction,) = db["reactions"]
    assert (reaction["reactant_a"], reaction["reactant_b"], reaction["potential_V"]) == ("LiAlO2", "Li", None)
    assert reaction["minimum"]["energy_meV_per_atom"] < 0
    # the LaunchPad lives in the same database
    assert len(db["fireworks"]) == 4 and len(db["launches"]) == 4

    out_dir = tmp_path / "out"
    for name in ("windows.md", "windows.csv", "windows.tex", "windows.png", "reactions.md", "reactions.csv",
                 "reactions.tex", "reaction_LiAlO2_Li.png", "report.json"):
        assert (out_dir / name).stat().st_size > 0, name
    rep = json.loads((out_dir / "report.json").read_text())
    assert rep["windows"][0]["formula"] == "LiAlO2"
    assert rep["reactions"][0]["minimum"] == reaction["minimum"]
    assert "| LiAlO2<sup>b</sup> |" in (out_dir / "windows.md").read_text()  # 30 meV/atom above the hull: flagged

    # a second submission reuses the stored relaxation and replaces, never duplicates, results
    rc, out, err = sseflow(capsys, "submit", study)
    assert rc == 0 and out.strip() == "5", err
    assert "3 Fireworks (1 thermodynamics, 1 reaction, 1 report); 1 calculation(s) reused" in err
    rc, out, err = sseflow(capsys, "run")
    assert rc == 0 and "3/3 completed" in err, err
    db2 = stored(home)
    assert [len(db2[c]) for c in ("tasks", "windows", "reactions")] == [1, 1, 1]
    assert db2["windows"][0]["key"] == window["key"]


def test_fizzled_firework_error_and_rerun(home, tmp_path, capsys):
    study = write_study(tmp_path, preset="{fmax: 0.05}")
    rc, out, err = sseflow(capsys, "submit", study)
    wf = out.strip()
    # a preset broken after submission (submit itself refuses an unknown optimizer): the run fails
    from sseflow.workflows.store import get_launchpad

    lp = get_launchpad()
    relax_id = lp.fireworks.find_one({"name": {"$regex": "^relax"}})["fw_id"]
    lp.update_spec([relax_id], {"_tasks.0.preset.optimizer": "NoSuchOptimizer"})
    store_client.close_all()
    rc, out, err = sseflow(capsys, "run")
    assert rc == 1
    assert "FIZZLED" in err and "InputError: unknown ASE optimizer 'NoSuchOptimizer'" in err
    rc, out, err = sseflow(capsys, "status", wf, "--json")
    (w,) = json.loads(out)
    relax = next(fw for fw in w["fireworks"] if fw["name"].startswith("relax"))
    assert relax["state"] == "FIZZLED" and relax["error"] == "sseflow.analysis.errors.InputError: unknown ASE optimizer " \
                                                             "'NoSuchOptimizer'"
    rc, out, err = sseflow(capsys, "status", wf)
    assert "unknown ASE optimizer" in out
    assert stored(home).get("tasks", []) == []
    # `sseflow study` on the unchanged file resumes this workflow (and reports the failure again)
    rc, out, err = sseflow(capsys, "study", study)
    assert rc == 1 and f"resuming workflow {wf} of tiny" in err and "FIZZLED" in err

    # the user fixes the Firework (what `lpad update_fws` does) and reruns it
    get_launchpad().update_spec([relax["fw_id"]], {"_tasks.0.preset.optimizer": "FIRE"})
    store_client.close_all()
    rc, out, err = sseflow(capsys, "rerun", "--fizzled")
    assert rc == 0 and f"fizzled: 1 Firework(s) set to run again: {relax['fw_id']}" in err
    rc, out, err = sseflow(capsys, "run")
    assert rc == 0 and "4/4 completed" in err, err
    assert len(stored(home)["tasks"]) == 1
    rc, out, err = sseflow(capsys, "rerun", "--fizzled")
    assert "fizzled: 0 Firework(s)" in err


def test_bad_study_is_one_line_exit_2(home, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nelectrolytes: [LiAlO2]\ncompute: {windos: true}\n")
    rc, out, err = sseflow(capsys, "submit", bad)
    assert rc == 2 and out == ""
    assert err.strip() == f"sseflow: error: {bad}:3: unknown key 'windos' in compute (did you mean 'windows'?)"
    rc, out, err = sseflow(capsys, "rerun")
    assert rc == 2 and "--fizzled and/or --lost" in err
    rc, out, err = sseflow(capsys, "status", "99")
    assert rc == 2 and "no workflow with Firework 99" in err


def _frames(traj: Path) -> int:
    from ase.io.trajectory import Trajectory

    try:
        return len(Trajectory(str(traj)))
    except Exception:
        return 0


def test_killed_worker_is_lost_and_resumes_from_last_geometry(home, tmp_path, capsys):
    """A worker killed mid-relaxation: ``rerun --lost`` finds it, the rerun continues in the same
    folder from the last frame of its trajectory, and the task is stored once."""
    struct = al_cif(tmp_path / "al_big.cif", repeat=2, rattle=0.08)
    study = write_study(tmp_path, preset="{fmax: 0.0001, max_steps: 1000}", struct=struct)
    rc, out, err = sseflow(capsys, "submit", study)
    wf = out.strip()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([SSEFLOW, "run", "--quiet"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    launches = home / "launches"
    deadline = time.monotonic() + 120
    traj = None
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            found = list(launches.glob("launcher_*/relax.traj"))
            if found and _frames(found[0]) >= 3:
                traj = found[0]
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert traj is not None, proc.stderr.read().decode()[-2000:]
    states = fw_states(capsys, wf)
    assert states["relax al_big (emt)"] == "RUNNING"  # on disk: flushed when the relaxation started

    rc, out, err = sseflow(capsys, "rerun", "--lost")
    assert rc == 0 and "lost: 1 Firework(s) set to run again: 1" in err, err
    assert fw_states(capsys, wf)["relax al_big (emt)"] == "READY"
    rc, out, err = sseflow(capsys, "run")
    assert rc == 0 and "4/4 completed" in err, err
    db = stored(home)
    (task,) = db["tasks"]
    assert task["restarted_from"]["frames"] >= 3
    assert Path(task["launch_dir"]) == traj.parent  # rerun in the previous launch folder
    launch_dirs = {l["launch_dir"] for l in db["launches"] if l["fw_id"] == 1}
    assert launch_dirs == {str(traj.parent)}
    assert len(db["windows"]) == 1


def test_interface_firework(home, tmp_path, capsys):
    """compute.interfaces: one interface Firework per electrolyte | anode (matching and building
    here; relaxation and Schottky barriers are the interface module's own tests)."""
    pytest.importorskip("sseflow.workflows.interfaces.relax")
    (tmp_path / "if.yaml").write_text("""name: lif_interface
electrolytes: [LiF]
anodes: [Li]
calculators: {interfaces: emt}
compute: {windows: false, reactions: false, interfaces: true}
interface: {electrolyte_miller: [[1, 0, 0]], electrode_miller: [[1, 1, 0]], max_atoms: 40, max_area: 40,
            electrolyte_thickness: 7, electrode_thickness: 5, max_strain: 0.06, stacking: periodic,
            fixed_layers: 1, scan: false, relax: false}
output: out
""")
    rc, out, err = sseflow(capsys, "study", "if.yaml")
    assert rc == 0, err
    assert "2 Fireworks (1 interface, 1 report)" in err
    assert "LiF | Li: LiF(100)" in out
    (doc,) = stored(home)["interfaces"]
    assert (doc["electrolyte"], doc["anode"], doc["electrolyte_miller"], doc["anode_miller"]) == \
        ("LiF", "Li", [1, 0, 0], [1, 1, 0])
    assert doc["strain_percent"] <= 6.0 and doc["area_A2"] <= 40.0
    assert "LiF(100)" in (tmp_path / "out" / "interfaces.md").read_text()


def test_phonons_and_windows_at_temperature(home, tmp_path, capsys):
    """compute.phonons + temperatures: a phonon Firework per phase, windows stored per temperature."""
    study = write_study(tmp_path)
    text = study.read_text().replace("calculators:\n  relax:", "calculators:\n  phonons: emt\n  relax:")
    text = text.replace("compute: {windows: true, reactions: true}",
                        "compute: {windows: true, reactions: false, phonons: true, temperatures: [300]}")
    study.write_text(text)
    rc, out, err = sseflow(capsys, "study", study)
    assert rc == 0, err
    assert "4 Fireworks (1 relax, 1 phonons, 1 thermodynamics, 1 report)" in err
    assert "LiAlO2 (300 K)" in out
    db = stored(home)
    assert len(db["phonons"]) == 1 and db["phonons"][0]["calculator"] == "emt"
    temps = sorted(w["inputs"]["temperature_K"] is not None for w in db["windows"])
    assert temps == [False, True]
    assert (tmp_path / "out" / "windows_temperature.md").is_file()


def test_interface_and_schottky_fireworks_with_gpaw(home, tmp_path, capsys):
    """compute.schottky: the interface Firework stores the tagged cell, a child Schottky Firework
    runs the GPAW statics (cell and bulk LiF) and stores both barriers linked to it (a 12-atom
    LiF(100) | Li(110) cell, PW 200 eV, 2x2x1 k: plumbing, not converged numbers)."""
    pytest.importorskip("gpaw")
    (tmp_path / "sk.yaml").write_text("""name: lif_schottky
electrolytes: [LiF]
anodes: [Li]
calculators: {interfaces: emt, electronic: {name: gpaw, preset: {ecut: 200}}}
compute: {windows: false, reactions: false, interfaces: true, schottky: true}
interface: {electrolyte_miller: [[1, 0, 0]], electrode_miller: [[1, 1, 0]], max_atoms: 12, max_area: 20,
            electrolyte_thickness: 3, electrode_thickness: 3, max_strain: 0.2, stacking: periodic,
            fixed_layers: 1, scan: false, relax: false, kpts: [2, 2, 1], bulk_kpts: [2, 2, 2]}
output: out
""")
    rc, out, err = sseflow(capsys, "study", "sk.yaml")
    assert rc == 0, err
    assert "3 Fireworks (1 interface, 1 schottky, 1 report)" in err
    db = stored(home)
    (idoc,) = db["interfaces"]
    assert set(idoc["structure"]["sites"][0]["properties"]) >= {"side", "layer"}
    sk = db["schottky"]
    assert sorted(d["method"] for d in sk) == ["layer-resolved DOS", "potential line-up"]
    for d in sk:
        assert d["parameters"]["interface_key"] == idoc["key"] and d["calculator"] == "gpaw"
        assert d["parameters"]["ecut"] == 200
    # a 2-layer LiF slab has no bulk-like layer: the layer method says so instead of inventing one
    layer = next(d for d in sk if d["method"] == "layer-resolved DOS")
    assert layer["barrier_p_eV"] is None and not layer["details"]["converged"]
    lineup = next(d for d in sk if d["method"] == "potential line-up")
    assert lineup["barrier_p_eV"] + lineup["barrier_n_eV"] == pytest.approx(lineup["band_gap_eV"], abs=1e-6)
    assert 5.0 < lineup["band_gap_eV"] < 11.0  # PBE LiF at 200 eV, 2x2x2 k
    md = (tmp_path / "out" / "interfaces.md").read_text()
    assert "LiF(100)" in md and "barrier_p_eV_lineup" in md
    import csv

    (row,) = list(csv.DictReader((tmp_path / "out" / "interfaces.csv").open()))
    assert row["barrier_n_eV_lineup"] == f"{lineup['barrier_n_eV']:.2f}" and row["barrier_p_eV_layer_dos"] == "-"


def test_search_firework_finds_relaxes_and_feeds_the_hull(home, tmp_path, capsys):
    """phases.search: a structure search as a Firework of the study (EMT, Al in Fm-3m); its best
    candidate is relaxed, stored and enters the hull; a second run reads the written search."""
    from helpers import STUDY

    (tmp_path / "ref.csv").write_text(
        "formula,e_form\nLi2O,-2.07\nAl2O3,-3.43\nLiAlO2,-2.90\nLi5AlO4,-2.43\nLiAl5O8,-3.26\n")
    text = STUDY.replace("  include: [{STRUCT}]\n", "  search: [{{formula: Al, spacegroup: 225, formula_units: 1, "
                                                      "trials: 2, seed: 4}}]\n")
    (tmp_path / "s.yaml").write_text(text.format(PRESET="{fmax: 0.05, max_steps: 100}"))
    rc, out, err = sseflow(capsys, "study", "s.yaml")
    assert rc == 0, err
    assert "1 search" in err and "1 thermodynamics" in err, err
    db = stored(home)
    (task,) = db["tasks"]
    assert task["label"] == "Al-searched" and task["formula"] == "Al" and task["status"] == "completed"
    (window,) = db["windows"]
    assert window["inputs"]["task_ids"] == [task["key"]]        # the searched phase is in the hull
    side = json.loads((tmp_path / "out" / "searched" / "Al-searched.json").read_text())
    assert side["provenance"]["spacegroup"] == "Fm-3m" and side["provenance"]["trials"] == 2
    assert "SEARCHED" in (tmp_path / "out" / "searched" / "Al-searched.cif").read_text()

    from sseflow.workflows.structures import search as ss

    calls = []
    real = ss.search
    ss_search = lambda *a, **k: calls.append(1) or real(*a, **k)  # noqa: E731
    try:
        ss.search = ss_search
        rc, out, err = sseflow(capsys, "study", "s.yaml", "--new")
    finally:
        ss.search = real
    assert rc == 0, err
    assert calls == [] and len(stored(home)["tasks"]) == 1     # the written search and the stored relaxation


def test_search_needs_computed_entries(home, tmp_path, capsys):
    (tmp_path / "s.yaml").write_text("name: s\nelectrolytes: [LiAlO2]\nreference: {source: file, file: ref.csv}\n"
                                     "phases: {search: [{formula: Al, spacegroup: 225}]}\n")
    (tmp_path / "ref.csv").write_text("formula,e_form\nLiAlO2,-2.90\n")
    rc, out, err = sseflow(capsys, "study", "s.yaml")
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "phases.search" in err, err
