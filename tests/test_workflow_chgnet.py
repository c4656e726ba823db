"""``sseflow study`` with CHGNet on the shipped structure library: a Li-F study (three small cells).

The path of the README's main job (library phases, computed reference, CHGNet, report), small
enough for the test suite; the second run reuses every stored relaxation.
"""
from __future__ import annotations

import json

import pytest
from bson import json_util

from helpers import sseflow

pytest.importorskip("chgnet", reason="CHGNet is not installed (pip install chgnet==0.4.2)")

STUDY = """name: lif_li
electrolytes: [LiF]
anodes: [Li]
calculators:
  relax: {name: chgnet, preset: {fmax: 0.1, max_steps: 100}}
reference: {source: computed}
output: results/lif_li
"""


def test_study_with_chgnet_on_the_library(tmp_path, monkeypatch, capsys):
    for var in ("SSEFLOW_DB", "SSEFLOW_CONFIG", "MONGOMOCK_SERVERSTORE_FILE"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("SSEFLOW_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lif.yaml").write_text(STUDY)

    rc, out, err = sseflow(capsys, "study", "lif.yaml")
    assert rc == 0, err
    assert "6 Fireworks (3 relax, 1 thermodynamics, 1 reaction, 1 report)" in err
    assert "6/6 completed" in err
    lines = out.splitlines()
    row = next(ln for ln in lines if ln.startswith("LiF "))
    v_red, v_ox = float(row.split()[1]), float(row.split()[2])
    assert v_red == pytest.approx(0.0, abs=0.01)      # LiF is stable against Li metal
    assert 5.0 < v_ox < 7.5                           # F2 evolution (MP: 6.4 V)
    react = next(ln for ln in lines if ln.startswith("LiF ") and "chemical" in ln)
    assert "no reaction" in react                      # LiF | Li: no reaction (0 meV/atom)
    rep = json.loads((tmp_path / "results" / "lif_li" / "report.json").read_text())
    assert rep["reactions"][0]["minimum"]["energy_meV_per_atom"] == pytest.approx(0.0, abs=1.0)
    assert (tmp_path / "results" / "lif_li" / "windows.png").is_file()
    data = json_util.loads((home / "store.json").read_text())["sseflow"]
    tasks = [d for _, d in data["tasks"]["documents"]]
    assert sorted(t["formula"] for t in tasks) == ["F2", "Li", "LiF"]
    assert all(t["calculator"] == "chgnet" and t["status"] == "completed" for t in tasks)

    rc, out, err = sseflow(capsys, "study", "lif.yaml", "--new")   # a new workflow: calculations from the store
    assert rc == 0 and "3 Fireworks" in err and "3 calculation(s) reused from the store" in err, err
    data = json_util.loads((home / "store.json").read_text())["sseflow"]
    assert len(data["tasks"]["documents"]) == 3 and len(data["windows"]["documents"]) == 1

    # the same relaxations on the pre-2020 scale: the LiF -> F2 limit moves by the difference of the
    # two schemes' fluoride corrections per F (pymatgen's classes), nothing else changes
    from pymatgen.core import Structure

    from sseflow.analysis.schemes import scheme_correction

    (tmp_path / "lif.yaml").write_text(STUDY.replace("{source: computed}", "{source: computed, correction_scheme: MP-legacy}"))
    rc, out2, err = sseflow(capsys, "study", "lif.yaml")
    assert rc == 0 and "3 calculation(s) reused from the store" in err, err
    row = next(ln for ln in out2.splitlines() if ln.startswith("LiF "))
    lif = Structure.from_dict(next(t for t in tasks if t["formula"] == "LiF")["structure"])
    n_f = lif.composition["F"]
    shift = -(scheme_correction(lif, "MP-legacy") - scheme_correction(lif, "MP2020")) / n_f
    assert shift == pytest.approx(0.029, abs=0.002)
    assert float(row.split()[2]) - v_ox == pytest.approx(shift, abs=0.011)    # the table prints 2 decimals
    assert float(row.split()[1]) == pytest.approx(v_red, abs=0.005)
    rep = json.loads((tmp_path / "results" / "lif_li" / "report.json").read_text())
    assert rep["windows"][0]["oxidation_V"] - v_ox == pytest.approx(shift, abs=0.006)
