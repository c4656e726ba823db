"""Helpers the tests share (paths, the CLI in a subprocess or in-process, the tiny EMT study).

The fixtures live in ``conftest.py``; test modules import these with ``from helpers import ...``.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SSEFLOW_SHARED", ROOT.parent / "shared"))
MP_CSV = SHARED / "data" / "mp_formation_energies.csv"
LIT_CSV = SHARED / "data" / "literature_windows.csv"
# the installed ``sseflow`` entry point of the environment that runs the tests
SSEFLOW = str(Path(sys.executable).parent / "sseflow")


def uri_with_db(uri: str, db: str) -> str:
    """``uri`` with its database path replaced by ``db`` (the query string kept)."""
    m = re.match(r"^(mongodb(?:\+srv)?://[^/?]*)(/[^?]*)?(\?.*)?$", uri)
    assert m, f"not a MongoDB URI: {uri}"
    return f"{m.group(1)}/{db}{m.group(3) or ''}"


def drop_database(spec: str) -> None:
    """Drop the database a MongoDB store spec names (no-op for the embedded store)."""
    if not spec.startswith("mongodb"):
        return
    import pymongo

    from sseflow.workflows.store.config import load_config

    cfg = load_config(spec)
    client = pymongo.MongoClient(cfg.uri, serverSelectionTimeoutMS=4000)
    try:
        client.drop_database(cfg.database)
    finally:
        client.close()


def run_cli(*args, env=None, timeout=120):
    """Run the installed ``sseflow`` entry point in a fresh process."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([SSEFLOW, *map(str, args)],
                          capture_output=True, text=True, env=e, timeout=timeout, cwd=ROOT)


# The tiny EMT study (Al relaxed; the Li-Al-O energies from a small formation-energy table,
# ``reference.source: both`` with matching schemes); the ``home`` fixture writes REF_CSV.
REF_CSV = """formula,e_form
Li2O,-2.07
Al2O3,-3.43
LiAlO2,-2.90
Li5AlO4,-2.43
LiAl5O8,-3.26
LiAl,-0.17
Li3Al2,-0.14
Li9Al4,-0.11
"""

STUDY = """name: tiny
description: workflow test with EMT
electrolytes: [LiAlO2]
anodes: [Li]
phases:
  auto: false
  include: [{STRUCT}]
calculators:
  relax: {{name: emt, preset: {PRESET}}}
reference: {{source: both, file: ref.csv, correction_scheme: none}}
compute: {{windows: true, reactions: true}}
output: out
"""


def al_cif(path: Path, repeat: int = 1, rattle: float = 0.0) -> str:
    """Write fcc Al (a ``repeat``-fold cubic supercell, rattled) as a CIF; its file name."""
    from ase.build import bulk
    from pymatgen.io.ase import AseAtomsAdaptor

    a = bulk("Al", "fcc", a=4.1, cubic=repeat > 1)
    if repeat > 1:
        a = a.repeat((repeat, repeat, repeat))
    if rattle:
        a.rattle(rattle, seed=3)
    AseAtomsAdaptor.get_structure(a).to(filename=str(path))
    return path.name


def write_study(tmp_path: Path, preset: str = "{fmax: 0.05, max_steps: 100}", struct: str | None = None) -> Path:
    """The tiny study's YAML in ``tmp_path`` (with ``al.cif`` unless ``struct`` names a file)."""
    struct = struct or al_cif(tmp_path / "al.cif")
    p = tmp_path / "tiny.yaml"
    p.write_text(STUDY.format(STRUCT=struct, PRESET=preset))
    return p


def sseflow(capsys, *args) -> tuple[int, str, str]:
    """One ``sseflow`` command in-process, ended like a process: store flushed and released."""
    import pytest

    from sseflow.workflows.cli.main import main
    from sseflow.workflows.store import client as store_client

    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    store_client.close_all()
    out, err = capsys.readouterr()
    return e.value.code, out, err


def stored(home: Path) -> dict:
    """The embedded store file in ``home``, as written (collection -> documents)."""
    from bson import json_util

    data = json_util.loads((home / "store.json").read_text())
    return {name: [d for _, d in coll["documents"]] for name, coll in data["sseflow"].items()}


# Two stored window rows and their inputs, for the store tests.
ROWS = [
    {"formula": "Li3PS4", "chemsys": "Li-P-S", "reduction_V": 1.713, "oxidation_V": 2.314,
     "reduction_reaction": "r", "oxidation_reaction": "o", "reduction_products": ["Li2S", "Li3P"],
     "oxidation_products": ["S"], "e_above_hull_meV": 0.0, "in_reference": True,
     "decomposition_energy_0V_meV": -312.5, "decomposition_energy_5V_meV": -101.0, "profile": []},
    {"formula": "Li7La3Zr2O12", "chemsys": "La-Li-O-Zr", "reduction_V": 0.05, "oxidation_V": 2.91,
     "reduction_reaction": "r", "oxidation_reaction": "o", "reduction_products": ["Li2O"],
     "oxidation_products": ["O2"], "e_above_hull_meV": 6.0, "in_reference": False,
     "decomposition_energy_0V_meV": -20.0, "decomposition_energy_5V_meV": -80.0, "profile": []},
]
INPUTS = {"reference": "mp.csv", "reference_hash": "ref-aaaa", "exclude": []}


def default_sigint() -> None:
    """``preexec_fn`` of a child that a test interrupts with SIGINT, as a user's Ctrl-C: the
    default disposition, which a test run started in the background of a non-interactive shell
    would otherwise pass on as 'ignored'."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


class FakeResult:
    """A completed relaxation result with a given energy per atom, for tests that stand in a model
    energy for a calculator (the attributes sseflow's stages read from a ``CalcResult``)."""

    def __init__(self, structure, energy_per_atom, converged=True):
        import numpy as np

        self.structure = structure
        self.energy_per_atom = energy_per_atom
        self.energy = energy_per_atom * len(structure)
        self.calculator = "fake"
        self.correction_scheme = "MP2020"
        self.status = self.outcome = "completed"
        self.converged = converged
        self.n_steps = 0
        self.error = None
        self.forces = np.zeros((len(structure), 3))
        self.stress = np.zeros(6)
        self.task = "relax"
        self.wall_time_s = 0.0
        self.files = []
        self.parameters = {"fmax": 0.05}
