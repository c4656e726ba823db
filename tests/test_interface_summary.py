"""``sseflow interface build``: summary.json paths, repeated candidates, the gap range of the scan,
progress on a terminal only (matching + building, no relaxation)."""
import copy
import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from helpers import SSEFLOW
from sseflow.workflows.cli.main import main

pytest.importorskip("pymatgen.analysis.interfaces.zsl")

ARGS = ["interface", "build", "Li3PS4", "Si", "--electrolyte-miller", "100", "--electrode-miller", "111",
        "--max-atoms", "80", "--max-area", "110", "--no-scan"]
SETTINGS = {"max_strain": 0.05, "max_area": 110, "max_atoms": 80, "electrolyte_miller": [(1, 0, 0)],
            "electrode_miller": [(1, 1, 1)], "stacking": "vacuum", "fixed_layers": 1}


def run(args) -> int:
    try:
        main(args)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


@pytest.fixture(scope="module")
def candidates():
    from sseflow.workflows.interfaces.matching import find_candidates

    return find_candidates("Li3PS4", "Si", max_area=110, max_atoms=80, electrolyte_millers=[(1, 0, 0)],
                           electrode_millers=[(1, 1, 1)])


def test_summary_paths_are_relative_to_the_folder(tmp_path, capsys):
    out = tmp_path / "out"
    assert run(ARGS + ["-o", str(out), "--plot", str(tmp_path / "fig"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)["files"]
    saved = json.loads((out / "summary.json").read_text())["files"]
    assert "interface_built.extxyz" in saved and "summary.json" in saved
    inside = [f for f in saved if not f.startswith("/")]
    outside = [f for f in saved if f.startswith("/")]
    assert outside == [str(tmp_path / "fig_structure.png")]  # a file outside the folder stays absolute
    moved = shutil.move(str(out), str(tmp_path / "elsewhere"))
    for f in inside:
        assert (tmp_path / "elsewhere" / f).is_file(), f
    assert str(out / "summary.json") in printed  # the command's own JSON keeps the paths as given


def test_identical_candidates_are_listed_once(candidates):
    from sseflow.workflows.interfaces.matching import _merge_identical

    twin = copy.copy(candidates[0])
    merged = _merge_identical([candidates[0], twin] + candidates[1:])
    assert len(merged) == len(candidates) and merged[0] is candidates[0] and merged[0].merged == 1
    other = copy.copy(candidates[0])
    other.electrolyte_sl_vectors = candidates[0].electrolyte_sl_vectors + 0.5  # another cell: kept
    assert len(_merge_identical([candidates[0], other])) == 2
    labels = [c.label for c in candidates]
    assert len(set(labels)) == len(labels)


def test_table_tells_equal_rows_apart_by_their_cuts(candidates):
    from sseflow.workflows.cli.interface import format_candidates

    assert len(candidates) >= 2  # the faces of Li3PS4(100) and Si(111) cut at different heights
    text = format_candidates(candidates, 10)
    head, *rows = text.splitlines()
    assert "cuts" in head
    cuts = [r.split("  ")[-1].strip() for r in rows]
    assert len(set(cuts)) == len(cuts)  # every row now differs
    assert "flipped" in text
    assert "cuts" not in format_candidates(candidates[:1], 10)  # nothing to tell apart


def test_gap_range_parsing():
    from sseflow.analysis.errors import InputError
    from sseflow.workflows.cli.interface import _gap_range

    assert _gap_range(None) == (1.6, 2.0, 2.4, 2.8, 3.2)
    assert _gap_range("1.2,2.0") == (1.2, 1.6, 2.0)
    assert _gap_range("1,2,0.3") == (1.0, 1.3, 1.6, 1.9, 2.0)
    for bad in ("3,2", "1", "a,b", "0,2", "1,2,0", "1,2,nan", "1,100,0.1"):
        with pytest.raises(InputError):
            _gap_range(bad)


@pytest.mark.parametrize("value", ["3,2", "x"])
def test_bad_gap_range_is_one_line_and_exit_2(tmp_path, value):
    r = subprocess.run([SSEFLOW, *ARGS, "--gap-range", value],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "--gap-range" in r.stderr


class _Pull:
    """A toy calculator whose energy falls as the two sides move apart: the best gap is the widest."""

    def __new__(cls):
        from ase.calculators.calculator import Calculator, all_changes

        class Pull(Calculator):
            implemented_properties = ["energy", "forces"]

            def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
                super().calculate(atoms, properties, system_changes)
                z = atoms.get_positions()[:, 2]
                self.results = {"energy": -float(z.max() - z.min()), "forces": np.zeros((len(atoms), 3))}

        return Pull()


def test_scan_uses_the_gap_range_and_says_how_to_widen_it():
    from sseflow.workflows.interfaces.stages import find_and_build

    st = dict(SETTINGS, scan=True, scan_gaps=[1.8, 2.2])
    _, built = find_and_build("Li3PS4", "Si", st, _Pull())
    gaps = sorted({r["gap"] for r in built.scan})
    assert gaps == [1.8, 2.2] and built.gap == 2.2
    (w,) = [w for w in built.warnings if "edge" in w]
    assert "1.8-2.2" in w and "--gap-range" in w


def test_progress_on_a_terminal_and_quiet_when_piped(monkeypatch):
    from rich.console import Console

    from sseflow.workflows.interfaces import progress as prog
    from sseflow.workflows.interfaces.stages import find_and_build

    buf = io.StringIO()
    with prog.TerminalProgress(console=Console(file=buf, force_terminal=True, width=100)) as p:
        find_and_build("Li3PS4", "Si", dict(SETTINGS, scan=True, scan_gaps=[2.0]), _Pull(), progress=p)
    shown = buf.getvalue()
    for stage in ("surfaces", "matching", "gap/shift scan"):
        assert stage in shown
    assert "9/9" in shown  # 1 gap x 3x3 shifts
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    with prog.terminal_progress() as p:
        assert type(p) is prog.QuietProgress


def test_cli_piped_stderr_has_no_progress(tmp_path):
    r = subprocess.run([SSEFLOW, *ARGS, "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    json.loads(r.stdout)
    assert "surfaces" not in r.stderr and "matching" not in r.stderr and "\x1b[" not in r.stderr


def test_relaxation_reports_each_relaxation(monkeypatch):
    from sseflow.workflows.interfaces import relax as relax_mod
    from sseflow.workflows.interfaces.stages import find_and_build

    class Done:
        status, converged, n_steps, error = "completed", True, 1, None

        def __init__(self, atoms):
            self.atoms = atoms.copy()
            atoms.calc = _Pull()
            self.energy = float(atoms.get_potential_energy())

        def task_document(self):
            return {}

    class Backend:
        name, parameters = "toy", {}

        def ase_calculator(self):
            return _Pull()

        def relax(self, atoms, on_step=None, **kw):
            if on_step is not None:  # two optimizer steps
                on_step(1)
                on_step(2)
            return Done(atoms)

    class Record:
        def __init__(self):
            self.events = []

        def stage(self, name, total=None):
            self.events.append((name.split(" ")[0], total))

        def advance(self, n=1):
            self.events.append("+")

    monkeypatch.setattr(relax_mod, "calculator_backend", lambda calculator, **kw: Backend())
    _, built = find_and_build("Li3PS4", "Si", dict(SETTINGS, scan=False))
    rec = Record()
    relax_mod.relax_interface(built, "toy", progress=rec, rattle=0, steps=50)
    assert rec.events == [("relaxation:", 50), "+", "+", ("relaxation:", 50), "+", "+", ("relaxation:", 50), "+", "+"]
