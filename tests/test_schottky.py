"""Schottky-barrier methods on synthetic DOS and potential profiles with a known answer (pure arrays)."""
import math

import numpy as np
import pytest

from sseflow.analysis.errors import InputError
from sseflow.analysis.schottky import (
    GAP_WARNING,
    band_edges,
    bulk_like_layers,
    electrolyte_region,
    group_layers,
    layer_dos_barrier,
    macroscopic_average,
    planar_average,
    potential_lineup_barrier,
    schottky_report,
)

E = np.arange(-12.0, 10.0, 0.005)


def insulator_dos(vbm, cbm, migs=0.0, ef=None, vb_width=4.0, cb_width=5.0):
    """sqrt band onsets (3D van Hove) with a flat in-gap density ``migs`` (metal-induced gap states)."""
    d = np.zeros_like(E)
    vb = (E <= vbm) & (E >= vbm - vb_width)
    d[vb] = 0.8 * np.sqrt(vbm - E[vb])
    cb = (E >= cbm) & (E <= cbm + cb_width)
    d[cb] = 0.3 * np.sqrt(E[cb] - cbm)
    gap = (E > vbm) & (E < cbm)
    d[gap] += migs
    return d


def slab_layers(ef, vbm, cbm, depths, migs0=0.6, decay=1.2, bend=0.25, bend_decay=0.8):
    """Layers of an electrolyte slab: MIGS and band bending decaying away from the boundaries."""
    rows = []
    for dep in depths:
        b = bend * math.exp(-dep / bend_decay)
        rows.append(insulator_dos(vbm + b, cbm + b, migs=migs0 * math.exp(-dep / decay), ef=ef))
    return np.array(rows)


# ----------------------------------------------------------------- band edges


def test_band_edges_of_a_clean_gap():
    v, c = band_edges(E, insulator_dos(-0.7, 1.9), 0.3, threshold=0.02)
    assert v == pytest.approx(-0.7, abs=0.01)
    assert c == pytest.approx(1.9, abs=0.01)


def test_band_edges_metallic_layer_pins_to_fermi_level():
    d = insulator_dos(-0.7, 1.9, migs=0.5)
    v, c = band_edges(E, d, 0.3, threshold=0.02)
    assert v == pytest.approx(0.3) and c == pytest.approx(0.3)


def test_band_edges_absolute_threshold_and_bad_input():
    v, c = band_edges(E, insulator_dos(-1.0, 2.0), 0.0, threshold=0.01, absolute=True)
    assert v == pytest.approx(-1.0, abs=0.01) and c == pytest.approx(2.0, abs=0.01)
    with pytest.raises(InputError):
        band_edges(E, insulator_dos(-1.0, 2.0), 50.0)
    with pytest.raises(InputError):
        band_edges(E[::-1], insulator_dos(-1.0, 2.0), 0.0)


# ----------------------------------------------------------------- method (a)


@pytest.mark.parametrize("ef,vbm,cbm", [(0.0, -0.85, 1.45), (2.31, 1.2, 4.9), (-1.0, -1.13, 0.77)])
def test_layer_dos_method_returns_the_barrier_it_was_built_with(ef, vbm, cbm):
    # a slab 16 Å thick: depth = distance from the nearer boundary
    centres = np.arange(0.5, 16.0, 2.0)
    depths = np.minimum(centres, 16.0 - centres)
    ld = slab_layers(ef, vbm, cbm, depths)
    r = layer_dos_barrier(E, ld, depths, ef, threshold=0.02, tol=0.05)
    assert r["converged"]
    assert r["barrier_p"] == pytest.approx(ef - vbm, abs=0.01)
    assert r["barrier_n"] == pytest.approx(cbm - ef, abs=0.01)
    assert r["gap"] == pytest.approx(cbm - vbm, abs=0.01)
    # the layers next to the boundaries carry gap states and are not used
    used = set(r["bulk_layers"])
    assert 0 not in used and len(depths) - 1 not in used
    assert all(row["bulk_like"] == (i in used) for i, row in enumerate(r["layers"]))


def test_layer_dos_method_flags_a_too_thin_electrolyte():
    depths = np.array([0.5, 1.5, 0.5])
    ld = slab_layers(0.0, -0.8, 1.5, depths, migs0=0.6, decay=3.0, bend=0.4, bend_decay=2.0)
    r = layer_dos_barrier(E, ld, depths, 0.0, threshold=0.02, tol=0.05)
    assert not r["converged"]
    assert any("thicker" in w or "metallic" in w for w in r["warnings"])


def test_bulk_like_layers_walk_stops_at_first_unconverged_layer():
    depth = np.array([0.5, 2.5, 4.5, 6.5, 4.5, 2.5, 0.5])
    vbm = np.array([0.0, -0.5, -0.79, -0.8, -0.78, -0.55, 0.0])
    cbm = vbm + 2.0
    idx = bulk_like_layers(depth, vbm, cbm, tol=0.05)
    assert sorted(idx.tolist()) == [2, 3, 4]


def test_group_layers_bins_atoms_by_height_and_depth():
    z = np.array([0.0, 0.4, 3.0, 3.3, 6.0, 6.2, 9.0, 12.0])
    side = np.array([1, 1, 1, 1, 1, 1, 0, 0]) == 1
    vals = np.arange(8 * 3, dtype=float).reshape(8, 3)
    out, depth, centre, count = group_layers(vals, z, side, period=3.0)
    assert count.sum() == 6 and len(out) == 3
    assert depth[1] == pytest.approx(min(centre[1] - 0.0, 6.2 - centre[1]))
    assert np.allclose(out[0], vals[:2].mean(axis=0))


# ----------------------------------------------------------------- method (b)


def synthetic_potential(L=31.7, n=3170, period=3.3, z0=4.0, z1=22.0, v_el=-2.0, v_m=0.9, amp=1.5):
    """Planar potential: an electrolyte region [z0, z1] oscillating with ``period`` around v_el,
    metal elsewhere around v_m (with its own oscillation), smooth tanh steps in between."""
    z = np.arange(n) * L / n
    s = 0.5 * (np.tanh((z - z0) / 0.4) - np.tanh((z - z1) / 0.4))
    v = s * (v_el + amp * np.cos(2 * np.pi * (z - z0) / period)) + (1 - s) * (v_m + 0.7 * np.cos(2 * np.pi * z / 2.5))
    return z, v


def test_macroscopic_average_removes_the_period_exactly():
    z, v = synthetic_potential()
    vm = macroscopic_average(z, v, 3.3)
    mid = (z > 9) & (z < 17)
    assert np.allclose(vm[mid], -2.0, atol=1e-3)
    # a constant is unchanged; the mean is conserved
    assert np.allclose(macroscopic_average(z, np.full_like(z, 1.5), 2.0), 1.5)
    assert vm.mean() == pytest.approx(v.mean(), abs=1e-9)
    with pytest.raises(InputError):
        macroscopic_average(z, v, 100.0)


@pytest.mark.parametrize("ef,p", [(2.3, 0.8), (1.6, 0.1), (3.4, 1.9)])
def test_potential_lineup_returns_the_barrier_it_was_built_with(ef, p):
    z, v = synthetic_potential()
    # bulk calculation: VBM 3.1 eV and CBM 5.3 eV over a mean potential of -0.4 eV
    bulk_vbm, bulk_cbm, bulk_v = 3.1, 5.3, -0.4
    vbm_interface = ef - p
    # place the electrolyte plateau where it gives that VBM: vbm_int = bulk_vbm - bulk_v + V_el
    v_el = vbm_interface - bulk_vbm + bulk_v
    z, v = synthetic_potential(v_el=v_el)
    region = electrolyte_region(4.0, 22.0, 3.3)
    r = potential_lineup_barrier(z, v, ef, period=3.3, region=region, bulk_vbm=bulk_vbm, bulk_cbm=bulk_cbm,
                                 bulk_potential=bulk_v)
    assert r["flat"]
    assert r["barrier_p"] == pytest.approx(p, abs=0.01)
    assert r["barrier_n"] == pytest.approx(2.2 - p, abs=0.01)
    assert r["gap"] == pytest.approx(2.2)


def test_potential_lineup_from_a_3d_grid_and_wrapped_region():
    z, v = synthetic_potential(z0=20.0, z1=38.0, L=40.0, n=4000)  # electrolyte crosses the cell boundary
    z = np.arange(4000) * 40.0 / 4000
    s = lambda x: 0.5 * (np.tanh((x - 20.0) / 0.4) - np.tanh((x - 38.0) / 0.4))  # noqa: E731
    # wrap: move everything by 15 Å so the electrolyte spans 35 -> 13 (through 40 = 0)
    zz = np.mod(z - 15.0, 40.0)
    v1 = s(zz) * (-2.0 + 1.5 * np.cos(2 * np.pi * (zz - 20.0) / 3.3)) + (1 - s(zz)) * 0.9
    grid = np.broadcast_to(v1, (4, 5, 4000))
    vp = planar_average(grid, axis=2)
    r = potential_lineup_barrier(z, vp, 1.0, period=3.3, region=(39.0, 46.0), bulk_vbm=0.0, bulk_cbm=2.0,
                                 bulk_potential=0.0)
    assert r["plateau_potential"] == pytest.approx(-2.0, abs=0.01)
    assert r["barrier_p"] == pytest.approx(3.0, abs=0.01)


def test_potential_lineup_warns_without_plateau():
    z, v = synthetic_potential(z0=4.0, z1=9.0)
    r = potential_lineup_barrier(z, v, 0.0, period=3.3, region=(3.0, 11.0), bulk_vbm=0.0, bulk_cbm=1.0,
                                 bulk_potential=0.0)
    assert not r["flat"] and r["warnings"]


# ----------------------------------------------------------------- both


def test_both_methods_agree_on_one_synthetic_interface_and_report_carries_the_gap_warning():
    ef, vbm, cbm = 0.4, -0.6, 1.6
    centres = np.arange(0.5, 18.0, 2.0)
    depths = np.minimum(centres, 18.0 - centres)
    layer = layer_dos_barrier(E, slab_layers(ef, vbm, cbm, depths), depths, ef, threshold=0.02, tol=0.05)
    z, v = synthetic_potential(v_el=vbm - 3.1 - 0.4)
    lineup = potential_lineup_barrier(z, v, ef, period=3.3, region=electrolyte_region(4.0, 22.0, 3.3),
                                      bulk_vbm=3.1, bulk_cbm=5.3, bulk_potential=-0.4)
    rep = schottky_report(layer, lineup, bulk_gap=2.2)
    assert rep["barrier_p"]["layer_dos"] == pytest.approx(1.0, abs=0.01)
    assert rep["barrier_p"]["potential_lineup"] == pytest.approx(1.0, abs=0.01)
    assert abs(rep["difference_p"]) < 0.01 and abs(rep["difference_n"]) < 0.01
    assert rep["gaps"]["bulk_gap"] == 2.2
    assert rep["warnings"][0] == GAP_WARNING and "lower bounds" in GAP_WARNING


def test_layer_method_reports_threshold_sensitivity():
    centres = np.arange(0.5, 16.0, 2.0)
    depths = np.minimum(centres, 16.0 - centres)
    r = layer_dos_barrier(E, slab_layers(0.0, -0.85, 1.45, depths), depths, 0.0, threshold=0.02, tol=0.05)
    sens = r["threshold_sensitivity"]
    assert set(sens) == {"0.01", "0.04"}
    for v in sens.values():  # sharp sqrt onsets: the threshold hardly matters
        assert v["barrier_p"] == pytest.approx(0.85, abs=0.02) and v["barrier_n"] == pytest.approx(1.45, abs=0.02)
