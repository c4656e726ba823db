"""`sseflow study` run again: reuse of completed work, replacement of a superseded workflow, and
`sseflow status --all / --watch`.

The tiny EMT study of tests/helpers.py (Al relaxed by the workflow, Li-Al-O energies from a
small table) on the embedded store in a temporary ``SSEFLOW_HOME``.
"""
from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import SSEFLOW, al_cif, default_sigint, sseflow, stored, write_study


def _report_files(out_dir: Path) -> dict[str, str]:
    return {n: (out_dir / n).read_text() for n in ("windows.csv", "windows.md", "reactions.csv", "reactions.md")}


def _runs(home: Path) -> dict[str, int]:
    """Launches per kind of Firework (relax, thermodynamics, reaction, report)."""
    db = stored(home)
    names = {fw["fw_id"]: fw["name"].split(" ", 1)[0] for fw in db["fireworks"]}
    out: dict[str, int] = {}
    for launch in db["launches"]:
        kind = names[launch["fw_id"]]
        out[kind] = out.get(kind, 0) + 1
    return out


def test_unchanged_study_reports_from_the_database(home, tmp_path, capsys):
    study = write_study(tmp_path)
    rc, out1, err = sseflow(capsys, "study", study, "--quiet")
    assert rc == 0, err
    assert "4 Fireworks (1 relax, 1 thermodynamics, 1 reaction, 1 report)" in err
    out_dir = tmp_path / "out"
    first = _report_files(out_dir)
    rep1 = json.loads((out_dir / "report.json").read_text())
    runs1 = _runs(home)
    assert runs1 == {"relax": 1, "thermodynamics": 1, "reaction": 1, "report": 1}

    for name in first:  # the second run must write them again
        (out_dir / name).unlink()
    rc, out2, err = sseflow(capsys, "study", study, "--quiet")
    assert rc == 0, err
    assert "study tiny unchanged since workflow 1 (completed): report written from the database" in err
    db = stored(home)
    assert len(db["workflows"]) == 1 and len(db["fireworks"]) == 4
    assert _runs(home) == runs1  # no Firework ran
    assert _report_files(out_dir) == first
    assert json.loads((out_dir / "report.json").read_text()) == rep1
    assert out2 == out1  # the same tables on stdout

    # --new: a new workflow; calculations still come from the store, the rest is recomputed
    rc, out3, err = sseflow(capsys, "study", study, "--quiet", "--new")
    assert rc == 0, err
    assert "3 Fireworks (1 thermodynamics, 1 reaction, 1 report); 1 calculation(s) reused" in err
    assert _runs(home) == {"relax": 1, "thermodynamics": 2, "reaction": 2, "report": 2}
    assert _report_files(out_dir) == first


def test_changed_study_runs_only_the_new_parts(home, tmp_path, capsys):
    with (tmp_path / "ref.csv").open("a") as f:  # Si phases for the anode added below
        f.write("SiO2,-3.15\nLi2SiO3,-2.75\nLi12Si7,-0.19\n")
    study = write_study(tmp_path)
    rc, _, err = sseflow(capsys, "study", study, "--quiet")
    assert rc == 0, err
    before = (tmp_path / "out" / "reactions.csv").read_text().splitlines()
    (li_row,) = [ln for ln in before if ln.startswith("LiAlO2,Li,")]
    reaction_li = stored(home)["reactions"][0]
    windows_before = (tmp_path / "out" / "windows.csv").read_text()

    study.write_text(study.read_text().replace("anodes: [Li]", "anodes: [Li, Si]"))
    rc, out, err = sseflow(capsys, "study", study, "--quiet")
    assert rc == 0, err
    # the relaxation is in the store; the thermodynamics of Al-Li-O (the window) and the
    # LiAlO2 | Li reaction were done by the first workflow: only the new pair and the report run
    assert "workflow 5 'tiny': 3 Fireworks (1 thermodynamics, 1 reaction, 1 report); 1 calculation(s) reused " \
           "from the store; 2 Firework(s) done before, left out" in err, err
    assert _runs(home) == {"relax": 1, "thermodynamics": 2, "reaction": 2, "report": 2}
    db = stored(home)
    assert len(db["workflows"]) == 2 and len(db["windows"]) == 1
    assert sorted(r["reactant_b"] for r in db["reactions"]) == ["Li", "Si"]
    assert next(r for r in db["reactions"] if r["reactant_b"] == "Li")["minimum"] == reaction_li["minimum"]
    after = (tmp_path / "out" / "reactions.csv").read_text().splitlines()
    assert li_row in after and any(ln.startswith("LiAlO2,Si,") for ln in after)
    assert (tmp_path / "out" / "windows.csv").read_text() == windows_before
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert sorted(r["reactant_b"] for r in rep["reactions"]) == ["Li", "Si"]
    # window ids and reference sets passed on from the reused thermodynamics Firework
    assert [w["formula"] for w in rep["windows"]] == ["LiAlO2"]
    assert sorted(rep["reference_sets"]) == ["Al-Li-O", "Al-Li-O-Si"]

    # and that version, unchanged, is reported from the database
    rc, out2, err = sseflow(capsys, "study", study, "--quiet")
    assert rc == 0 and "unchanged since workflow 5" in err, err
    assert out2 == out


def test_replace_archives_the_fizzled_workflow(home, tmp_path, capsys):
    struct = al_cif(tmp_path / "al_big.cif", repeat=2, rattle=0.08)
    study = write_study(tmp_path, preset="{fmax: 0.0001, max_steps: 1}", struct=struct)
    rc, _, err = sseflow(capsys, "study", study, "--quiet")
    assert rc == 1 and "FIZZLED" in err, err

    # the study fixed: without --replace the old workflow is named, with --replace archived
    study.write_text(study.read_text().replace("{fmax: 0.0001, max_steps: 1}", "{fmax: 0.05, max_steps: 200}"))
    rc, _, err = sseflow(capsys, "study", study, "--quiet", "--replace", "--max", "1")
    assert rc == 0, err
    assert "archived workflow(s) 1 of tiny" in err
    assert "workflow 5 'tiny'" in err
    rc, _, err = sseflow(capsys, "study", study, "--quiet")
    assert rc == 0 and "resuming workflow 5 of tiny" in err, err
    assert "unfinished workflow(s)" not in err  # the archived one is not named again

    rc, out, err = sseflow(capsys, "status", "--json")
    assert rc == 0, err
    assert [(w["id"], w["state"]) for w in json.loads(out)] == [(5, "COMPLETED")]
    rc, out, err = sseflow(capsys, "status")
    assert rc == 0 and "ARCHIVED" not in out and "FIZZLED" not in out
    rc, out, err = sseflow(capsys, "status", "--all", "--json")
    rows = json.loads(out)
    assert [(w["id"], w["state"]) for w in rows] == [(1, "ARCHIVED"), (5, "COMPLETED")]
    assert set(fw["state"] for fw in rows[0]["fireworks"]) == {"ARCHIVED"}
    rc, out, err = sseflow(capsys, "status", "--all")
    assert rc == 0 and "ARCHIVED" in out

    rc, out, err = sseflow(capsys, "rerun", "--fizzled", "--lost")
    assert rc == 0 and "fizzled: 0 Firework(s)" in err and "lost: 0 Firework(s)" in err, err
    rc, out, err = sseflow(capsys, "rerun", "--fizzled", "--wf", "1")
    assert rc == 0 and "fizzled: 0 Firework(s)" in err, err
    db = stored(home)
    assert {fw["state"] for fw in db["fireworks"] if fw["fw_id"] < 5} == {"ARCHIVED"}


def test_unfinished_other_version_is_named(home, tmp_path, capsys):
    study = write_study(tmp_path)
    rc, out, err = sseflow(capsys, "submit", study)
    assert rc == 0 and out.strip() == "1", err
    study.write_text(study.read_text().replace("description: workflow test with EMT", "description: v2"))
    rc, _, err = sseflow(capsys, "study", study, "--quiet")
    assert rc == 0, err
    assert "note: unfinished workflow(s) of study tiny from other inputs: 1 (READY); " \
           "'sseflow study --replace' archives them" in err
    rc, out, _ = sseflow(capsys, "status", "--json")
    assert [w["state"] for w in json.loads(out)] == ["READY", "COMPLETED"]  # left as it was


def test_status_watch(home, tmp_path, capsys):
    rc, out, err = sseflow(capsys, "status", "--watch", "--json")
    assert rc == 2 and out == ""
    assert err.strip().count("\n") == 0 and "--watch" in err and "Traceback" not in err
    rc, out, err = sseflow(capsys, "status", "--watch", "0")
    assert rc == 2 and out == "" and "Traceback" not in err

    study = write_study(tmp_path)
    rc, out, err = sseflow(capsys, "submit", study)
    assert rc == 0, err
    t = time.monotonic()
    rc, out, err = sseflow(capsys, "status", "--watch", "0.1")  # stdout is not a terminal: once
    assert rc == 0, err
    assert out.count("Workflows") == 1 and "READY" in out
    assert time.monotonic() - t < 30
    rc, out, err = sseflow(capsys, "status", "1", "--watch")
    assert rc == 0 and out.count("Fireworks of workflow 1") == 1


def _cli(*args, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([SSEFLOW, *args], env=env, preexec_fn=default_sigint, **kw)


def test_status_watch_on_a_terminal_while_the_store_is_held(home, tmp_path, capsys):
    study = write_study(tmp_path)
    rc, out, err = sseflow(capsys, "submit", study)
    assert rc == 0, err
    # another process holds the embedded store (as `sseflow run` does)
    holder = subprocess.Popen([sys.executable, "-c", "from sseflow.workflows.store.client import connect; "
                               "connect(); print('held', flush=True); import time; time.sleep(120)"],
                              cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        rc, out, err = sseflow(capsys, "status", "--json")
        assert rc == 0, err
        assert json.loads(out)[0]["state"] == "READY"

        leader, follower = pty.openpty()
        proc = _cli("status", "--watch", "0.2", cwd=tmp_path, stdin=follower, stdout=follower,
                    stderr=subprocess.PIPE)
        os.close(follower)
        seen = b""
        deadline = time.monotonic() + 90
        try:
            while time.monotonic() < deadline and seen.count(b"Workflows") < 2 and proc.poll() is None:
                import select

                if select.select([leader], [], [], 0.5)[0]:
                    try:
                        seen += os.read(leader, 65536)
                    except OSError:
                        break
            assert seen.count(b"Workflows") >= 2, (seen[-2000:], proc.poll())  # refreshed
            proc.send_signal(signal.SIGINT)
            rc = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(leader)
        assert rc == 0, proc.stderr.read().decode()[-2000:]
    finally:
        holder.kill()
        holder.wait()


def test_a_changed_structure_library_is_a_changed_input(home, tmp_path, monkeypatch):
    """A study's phases come from the structure library: adding or changing a library file makes
    the study's inputs differ (it is rebuilt, its stored relaxations reused), an untouched one not."""
    import shutil

    from sseflow.workflows import workflow_build
    from sseflow.workflows.structures import library
    from sseflow.workflows.study import load_study

    lib = tmp_path / "lib"
    shutil.copytree(library.DATA_DIR, lib)
    monkeypatch.setattr(library, "DATA_DIR", lib)
    st = load_study(write_study(tmp_path), check_backends=False)
    before = workflow_build.inputs_hash(st)
    assert before is not None and workflow_build.inputs_hash(st) == before
    (lib / "Extra.cif").write_text((lib / "Li.cif").read_text())
    added = workflow_build.inputs_hash(st)
    assert added != before
    (lib / "Li.cif").write_text((lib / "Li.cif").read_text() + "\n")
    assert workflow_build.inputs_hash(st) not in (before, added)
