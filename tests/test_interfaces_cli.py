"""``sseflow interface`` through the CLI entry point (matching + building; no relaxation, no DFT)."""
import json

import numpy as np

import pytest

from sseflow.workflows.cli.main import main

pytest.importorskip("pymatgen.analysis.interfaces.zsl")

def run(args) -> int:
    try:
        main(args)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


ARGS = ["interface", "Li3PS4", "Si", "--electrolyte-miller", "100", "--electrode-miller", "111",
        "--max-atoms", "80", "--max-area", "110", "--no-scan"]


@pytest.fixture
def store_spec(tmp_path, monkeypatch):
    for var in ("SSEFLOW_DB", "SSEFLOW_CONFIG", "MONGOMOCK_SERVERSTORE_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SSEFLOW_HOME", str(tmp_path / "home"))
    yield f"embedded:{tmp_path / 'db' / 'store.json'}"
    from sseflow.workflows.store import client as store_client

    store_client.close_all()


def test_interface_cli_json_files_plot_and_store(tmp_path, capsys, store_spec):
    out = tmp_path / "out"
    assert run(ARGS + ["--json", "-o", str(out), "--plot", str(tmp_path / "fig"), "--store", "--config", store_spec]) == 0
    cap = capsys.readouterr()
    data = json.loads(cap.out)
    assert "stored 1 document(s)" in cap.err
    cands = data["candidates"]
    assert cands[0]["rank"] == 1 and cands[0]["von_mises_strain"] <= 0.05
    s = data["interface"]
    assert s["n_atoms"] == s["electrolyte_atoms"] + s["electrode_atoms"] <= 80
    assert s["strained_side"] == "electrode" and s["strain"]["electrolyte"]["von_mises"] == 0
    assert s["min_distance_ratio"] >= 0.7
    for f in ("interface_built.extxyz", "interface_built.cif", "summary.json"):
        assert (out / f).is_file()
    assert (tmp_path / "fig_structure.png").stat().st_size > 1000
    from sseflow.workflows.store.api import open_store

    with open_store(store_spec) as st:
        docs = st.query("interfaces")
    assert len(docs) == 1
    d = docs[0]
    assert d["electrolyte"] == "Li3PS4" and d["anode"] == "Si" and d["anode_miller"] == [1, 1, 1]
    assert d["area_A2"] == pytest.approx(s["area_A2"], rel=1e-6)


def test_interface_cli_text_and_bad_input(capsys):
    assert run(ARGS + ["--list", "2"]) == 0
    out = capsys.readouterr().out
    assert "lattice matches of Li3PS4 | Si" in out and "vM strain" in out and "interface Li3PS4(100)" in out
    assert run(ARGS + ["--candidate", "99"]) == 2
    assert "--candidate 99" in capsys.readouterr().err
    assert run(["interface", "Li3PS4", "Si", "--electrolyte-miller", "1x0"]) == 2
    assert run(["interface", "Li3PS4", "NoSuchThing"]) == 2
    err = capsys.readouterr().err
    assert "1x0" in err and "NoSuchThing" in err


def test_build_subcommand_stores_a_tagged_interface_that_schottky_can_find(tmp_path, capsys, store_spec):
    """``interface build --store`` keeps side tags in the stored structure; ``interface schottky``
    finds the document by a key prefix and rebuilds the tagged cell from it."""
    out = tmp_path / "b"
    assert run(["interface", "build", *ARGS[1:], "--json", "-o", str(out), "--store", "--config", store_spec]) == 0
    cap = capsys.readouterr()
    data = json.loads(cap.out)
    key = data["interface_key"]
    assert key.startswith("interface:") and key in cap.err
    assert json.loads((out / "summary.json").read_text())["interface_key"] == key
    from sseflow.workflows.interfaces.stages import from_directory, from_document
    from sseflow.workflows.store.api import open_store

    with open_store(store_spec) as st:
        src = from_document(st, key[:16])
        with pytest.raises(Exception, match="no interface document"):
            from_document(st, "interface:ffffffffffff")
    s = data["interface"]
    side = src.atoms.arrays["side"]
    assert (side == 0).sum() == s["electrolyte_atoms"] and (side == 1).sum() == s["electrode_atoms"]
    assert src.electrolyte == "Li3PS4" and src.electrode == "Si" and src.interface_key == key
    assert src.periods["electrolyte"] == pytest.approx(s["electrolyte_period_A"], abs=1e-3)
    # the folder route gives the same cell
    d = from_directory(out)
    assert d.atoms.get_chemical_symbols() == src.atoms.get_chemical_symbols()
    assert np.allclose(d.atoms.positions, src.atoms.positions, atol=1e-6)


def test_schottky_bad_targets_are_one_line_errors(tmp_path, capsys, store_spec):
    (tmp_path / "empty").mkdir()
    assert run(["interface", "schottky", str(tmp_path / "empty")]) == 2
    assert "no summary.json" in capsys.readouterr().err
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert run(["interface", "schottky", str(f)]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert run(["interface", "schottky", "interface:0000", "--config", store_spec]) == 2
    err = capsys.readouterr().err
    assert "no interface document" in err and "Traceback" not in err
