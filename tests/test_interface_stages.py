"""Interface stages without a calculator: layer polarisation of a relaxation, which cell the
Schottky stage takes, tagged structures through the store format."""
import json

import numpy as np
import pytest

from sseflow.analysis.errors import InputError
from sseflow.workflows.interfaces.relax import E_OVER_EPS0, layer_polarisation
from sseflow.workflows.interfaces.stages import atoms_from_tagged, choose_cell, from_directory, tagged_structure


def lif_slab(n_layers=6, a=4.027):
    """LiF(100) layers (2 ion pairs each, sqrt2 x sqrt2 cell) as the electrolyte, two Li on top."""
    from ase import Atoms

    s = a / np.sqrt(2)
    sym, pos, side, layer = [], [], [], []
    for k in range(n_layers):
        sym += ["Li", "F"] if k % 2 == 0 else ["F", "Li"]
        pos += [[0, 0, k * a / 2], [s / 2, s / 2, k * a / 2]]
        side += [0, 0]
        layer += [k, k]
    top = (n_layers - 1) * a / 2
    sym += ["Li", "Li"]
    pos += [[0, 0, top + 2.5], [s / 2, s / 2, top + 4.2]]
    side += [1, 1]
    layer += [n_layers, n_layers + 1]
    at = Atoms(sym, positions=pos, cell=[s, s, top + 6.5], pbc=True)
    at.arrays["side"] = np.array(side)
    at.arrays["layer"] = np.array(layer)
    return at


def test_polarised_rumpling_is_measured_and_flagged():
    before = lif_slab(6)
    after = before.copy()
    sym = np.array(before.get_chemical_symbols())
    el = before.arrays["side"] == 0
    lay = before.arrays["layer"]
    u = 0.05
    # bottom half: Li up, F down; top half reversed (the CHGNet pattern of a periodic LiF | Li cell)
    sign = np.where(lay < 3, 1.0, -1.0)
    dz = np.where(sym == "Li", u, -u) * sign * el
    p = after.get_positions()
    p[:, 2] += dz + 0.3  # a rigid shift on top changes nothing
    after.set_positions(p)
    pol = layer_polarisation(before, after)
    # per layer: one Li (+1) up by u and one F (-1) down by u -> 2u e·Å, sign by half
    assert pol["layer_dipoles_eA"] == pytest.approx([2 * u] * 3 + [-2 * u] * 3, abs=1e-9)
    area = before.cell[0, 0] * before.cell[1, 1]
    assert pol["max_excursion_V"] == pytest.approx(E_OVER_EPS0 * 6 * u / area, abs=1e-3)
    assert pol["net_dipole_eA"] == pytest.approx(0.0, abs=1e-9)
    assert pol["max_excursion_V"] > 1.0 and "polarised the electrolyte" in pol["warning"]
    # a rigid translation and an unchanged cell: nothing
    shifted = before.copy()
    shifted.translate([0, 0, 0.7])
    quiet = layer_polarisation(before, shifted)
    assert quiet["max_excursion_V"] == pytest.approx(0.0, abs=1e-9) and "warning" not in quiet


def test_choose_cell_and_the_build_folder(tmp_path):
    from ase.io import write

    assert choose_cell("auto", None, True) == ("relaxed", [])
    assert choose_cell("auto", None, False) == ("built", [])
    warned = {"contact": {"polarisation": {"max_excursion_V": 4.7, "warning": "polarised"}}}
    which, notes = choose_cell("auto", warned, True)
    assert which == "built" and "4.7 V" in notes[0]
    assert choose_cell("relaxed", warned, True) == ("relaxed", [])
    with pytest.raises(InputError, match="cell must be"):
        choose_cell("both", None, True)
    built = lif_slab(4)
    relaxed = built.copy()
    relaxed.positions[-1, 2] += 0.8
    write(str(tmp_path / "interface_built.extxyz"), built)
    write(str(tmp_path / "interface_relaxed.extxyz"), relaxed)
    summary = {"electrolyte": "LiF", "electrode": "Li", "interface": {"label": "toy", "electrolyte_period_A": 2.0135},
               "relaxation": warned}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    src = from_directory(tmp_path)
    assert src.cell == "built" and np.allclose(src.atoms.positions, built.positions)
    src = from_directory(tmp_path, "relaxed")
    assert src.cell == "relaxed" and np.allclose(src.atoms.positions, relaxed.positions)
    assert list(src.atoms.arrays["side"]) == list(built.arrays["side"])


def test_tagged_structure_round_trip():
    at = lif_slab(4)
    d = tagged_structure(at).as_dict()
    back = atoms_from_tagged(json.loads(json.dumps(d)))
    assert back.get_chemical_symbols() == at.get_chemical_symbols()
    assert np.allclose(back.positions, at.positions)
    assert list(back.arrays["side"]) == list(at.arrays["side"])
    assert list(back.arrays["layer"]) == list(at.arrays["layer"])
    d["sites"][0]["properties"].pop("side")
    for site in d["sites"]:
        site["properties"].pop("side", None)
    with pytest.raises(InputError, match="no 'side' tags"):
        atoms_from_tagged(d)


def test_stored_relaxed_interface_keeps_both_cells(tmp_path, monkeypatch):
    """A relaxed interface document carries the relaxed and the built cell, both tagged;
    from_document picks either by key prefix (EMT Cu | Ni stands in for CHGNet)."""
    from sseflow.workflows.interfaces.build import build_interface
    from sseflow.workflows.interfaces.matching import find_candidates
    from sseflow.workflows.interfaces.relax import relax_interface
    from sseflow.workflows.interfaces.stages import from_document, store_interface
    from sseflow.workflows.store import client as store_client
    from sseflow.workflows.store.api import open_store

    for var in ("SSEFLOW_DB", "SSEFLOW_CONFIG", "MONGOMOCK_SERVERSTORE_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SSEFLOW_HOME", str(tmp_path / "home"))
    cfg = f"embedded:{tmp_path / 'db' / 'store.json'}"
    cs = find_candidates("Cu", "Ni", max_atoms=40, max_area=30, electrolyte_millers=[(1, 0, 0)],
                         electrode_millers=[(1, 0, 0)], electrolyte_thickness=5, electrode_thickness=4)
    b = build_interface(cs[0], scan=False, gap=1.8)
    r = relax_interface(b, "emt", steps=60)
    try:
        with open_store(cfg) as st:
            key = store_interface(st, {"interface": b.summary(), "relaxation": r.summary()}, b, r)
            rel = from_document(st, key[:14])
            blt = from_document(st, key, "built")
        assert rel.cell == "relaxed" and blt.cell == "built"
        assert np.allclose(rel.atoms.positions, r.atoms.positions, atol=1e-6)
        assert np.allclose(blt.atoms.positions, b.atoms.positions, atol=1e-6)
        assert not np.allclose(rel.atoms.positions, blt.atoms.positions, atol=1e-3)
        assert list(rel.atoms.arrays["side"]) == list(b.atoms.arrays["side"])
        assert rel.periods["electrolyte"] == pytest.approx(b.electrolyte_period, abs=1e-3)
    finally:
        store_client.close_all()
