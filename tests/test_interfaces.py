"""Interface matching and building: strain, distinct terminations, ranking, distance check, tags."""
import math

import numpy as np
import pytest

from sseflow.analysis.errors import InputError

pytest.importorskip("pymatgen.analysis.interfaces.zsl")

from sseflow.workflows.interfaces.build import (  # noqa: E402
    EV_PER_A2_TO_J_PER_M2,
    build_interface,
    check_distances,
    min_distance_ratio,
)
from sseflow.workflows.interfaces.matching import (  # noqa: E402
    find_candidates,
    load_structure,
    strain_2d,
    surface_terminations,
)
from sseflow.workflows.interfaces.relax import contact_analysis, work_of_adhesion  # noqa: E402


@pytest.fixture(scope="module")
def li3ps4():
    return load_structure("Li3PS4")


@pytest.fixture(scope="module")
def li_candidates():
    # two electrolyte surfaces (one polar, one not) against Li(110): a few seconds
    return find_candidates("Li3PS4", "Li", max_strain=0.05, max_atoms=200, max_area=150,
                           electrolyte_millers=[(0, 0, 1), (1, 1, 0)], electrode_millers=[(1, 1, 0)])


@pytest.fixture(scope="module")
def si_candidates():
    return find_candidates("Li3PS4", "Si", max_strain=0.05, max_atoms=80, max_area=110,
                           electrolyte_millers=[(1, 0, 0)], electrode_millers=[(1, 1, 1)])


# ----------------------------------------------------------------- strain


def test_strain_2d_per_axis_and_von_mises():
    a = np.array([[3.0, 0, 0], [0, 4.0, 0]])
    b = np.array([[3.06, 0, 0], [0, 3.96, 0]])
    s = strain_2d(a, b)
    assert s["a"] == pytest.approx(0.02) and s["b"] == pytest.approx(-0.01)
    exx, eyy = (1.02 ** 2 - 1) / 2, (0.99 ** 2 - 1) / 2
    assert s["tensor"][0][0] == pytest.approx(exx) and s["tensor"][1][1] == pytest.approx(eyy)
    mean = (exx + eyy) / 3
    vm = math.sqrt(2 / 3 * ((exx - mean) ** 2 + (eyy - mean) ** 2 + mean ** 2))
    assert s["von_mises"] == pytest.approx(vm)
    # rotating the target lattice in 3D changes nothing
    t = np.radians(30)
    R = np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])
    s2 = strain_2d(a, b @ R.T)
    assert s2["von_mises"] == pytest.approx(s["von_mises"]) and s2["a"] == pytest.approx(0.02)
    assert strain_2d(a, a)["von_mises"] == pytest.approx(0.0, abs=1e-12)


# ----------------------------------------------------------------- terminations


def test_polar_slab_keeps_both_inequivalent_terminations(li3ps4):
    # gamma-Li3PS4 (Pmn2_1) is polar along c: the two faces of a (001) slab differ.
    # pymatgen's CoherentInterfaceBuilder with its defaults keeps only one of them.
    terms = surface_terminations(li3ps4, (0, 0, 1))
    tops = {t.top for t in terms}
    assert len(terms) >= 2 and len(tops) >= 2, [t.label for t in terms]
    assert {t.flipped for t in terms} == {False, True}
    assert all(not t.symmetric for t in terms)
    labels = [t.label for t in terms]
    assert len(set(labels)) == len(labels)


def test_asymmetric_slab_faces_and_intact_polyhedra(li3ps4):
    terms = surface_terminations(li3ps4, (1, 0, 1))
    assert len({t.top for t in terms}) >= 3            # LiS, Li, S faces
    assert not any(t.breaks_polyhedra for t in terms)  # PS4 units are not cut
    # a symmetric slab is not turned over
    si = load_structure("Si")
    si_terms = surface_terminations(si, (1, 1, 1))
    assert all(t.symmetric and not t.flipped for t in si_terms)
    assert len(si_terms) == 2                          # the two (111) cuts (shuffle / glide plane)


# ----------------------------------------------------------------- candidates


def test_li_candidates_are_ranked_within_limits(li_candidates):
    cs = li_candidates
    assert cs, "no Li3PS4 | Li match"
    assert [c.rank for c in cs] == list(range(1, len(cs) + 1))
    assert all(a.score <= b.score for a, b in zip(cs, cs[1:]))
    for c in cs:
        assert c.n_atoms <= 200 and c.area <= 150 + 1e-6
        assert c.strained_side == "electrode"
        assert c.strain["electrolyte"]["von_mises"] == 0.0
        s = c.strain["electrode"]
        assert s["von_mises"] <= 0.05 and abs(s["a"]) <= 0.05 and abs(s["b"]) <= 0.05
        assert c.electrolyte_thickness > 5 and c.electrode_thickness > 4
        d = c.as_dict()
        assert {"area_A2", "n_atoms", "strain", "electrolyte_thickness_A", "electrode_thickness_A",
                "electrolyte_termination", "electrode_termination"} <= set(d)


def test_both_polar_terminations_reach_the_candidate_list(li_candidates):
    polar = [c for c in li_candidates if c.electrolyte_miller == (0, 0, 1)]
    assert polar, "no (001) match with Li(110)"
    tops = {c.electrolyte_termination.top for c in polar}
    assert len(tops) >= 2, tops
    # the same lattice match appears once per termination pair, with the same strain
    by_match = {}
    for c in polar:
        by_match.setdefault((round(c.area, 3), round(c.von_mises, 6)), set()).add(c.electrolyte_termination.index)
    assert max(len(v) for v in by_match.values()) >= 2


def test_si_candidates_rank_and_strain_on_the_electrode(si_candidates):
    cs = si_candidates
    assert cs
    best = cs[0]
    assert best.electrode_miller == (1, 1, 1) and best.von_mises < 0.03
    assert {c.electrode_termination.index for c in cs} == {1, 2}
    flipped = find_candidates("Li3PS4", "Si", max_strain=0.05, max_atoms=80, max_area=110,
                              electrolyte_millers=[(1, 0, 0)], electrode_millers=[(1, 1, 1)], strain_on="electrolyte")
    assert flipped and all(c.strain["electrode"]["von_mises"] == 0.0 for c in flipped)
    with pytest.raises(InputError):
        find_candidates("Li3PS4", "Si", strain_on="both")


# ----------------------------------------------------------------- building


def test_build_vacuum_cell_tags_layers_and_fixed_atoms(si_candidates):
    c = si_candidates[0]
    b = build_interface(c, gap=2.2, stacking="vacuum", vacuum=10.0, fixed_layers=2)
    a = b.atoms
    assert len(a) == c.n_atoms
    side, layer = a.arrays["side"], a.arrays["layer"]
    assert (side == 0).sum() == c.electrolyte_atoms and (side == 1).sum() == c.electrode_atoms
    assert set(a.get_chemical_symbols()[i] for i in np.where(side == 1)[0]) == {"Si"}
    assert np.all(a.get_tags()[side == 0] < 0) and np.all(a.get_tags()[side == 1] > 0)
    z = a.get_positions()[:, 2]
    # contact planes are layer 1 on both sides, the gap is as asked
    assert z[side == 1].min() - z[side == 0].max() == pytest.approx(2.2, abs=1e-6)
    assert z[(side == 0) & (layer == 1)].max() == pytest.approx(z[side == 0].max())
    assert z[(side == 1) & (layer == 1)].min() == pytest.approx(z[side == 1].min())
    # fixed atoms: the electrolyte layers farthest from the interface
    assert b.fixed and all(side[i] == 0 for i in b.fixed)
    assert max(z[b.fixed]) < np.median(z[side == 0])
    assert a.constraints and sorted(a.constraints[0].index.tolist()) == sorted(b.fixed)
    # in-plane cell: the electrolyte's (unstrained) superlattice
    assert b.area == pytest.approx(c.area, rel=1e-6)
    assert a.cell[2, 2] == pytest.approx(z.max() - z.min() + 10.0, abs=1e-6)
    s = b.structure
    assert set(s.site_properties["side"]) == {"electrolyte", "electrode"}
    assert sum(s.site_properties["fixed"]) == len(b.fixed)
    summ = b.summary()
    assert summ["n_interfaces"] == 1 and summ["min_distance_ratio"] >= 0.7


def test_build_periodic_cell_and_isolated_slabs(si_candidates):
    c = si_candidates[0]
    b = build_interface(c, gap=2.0, stacking="periodic", fixed_layers=1)
    a = b.atoms
    z = a.get_positions()[:, 2]
    side = a.arrays["side"]
    assert b.n_interfaces == 2
    # both interfaces at the gap: top of the electrode to the periodic image of the electrolyte
    assert a.cell[2, 2] - (z[side == 1].max() - z[side == 0].min()) == pytest.approx(2.0, abs=1e-6)
    # fixed layer in the middle of the electrolyte
    ze = z[side == 0]
    assert all(abs(z[i] - 0.5 * (ze.min() + ze.max())) < 0.5 * (ze.max() - ze.min()) for i in b.fixed)
    slab = b.side_atoms("electrode")
    assert len(slab) == c.electrode_atoms and slab.cell[2, 2] > a.cell[2, 2] - 2.0 + 10.0 - 1e-6 - 20
    zz = slab.get_positions()[:, 2]
    assert slab.cell[2, 2] - (zz.max() - zz.min()) == pytest.approx(12.0, abs=1e-6)
    # the electrolyte slab holds the fixed layer: moved with the rest, still fixed, the slab intact
    el = b.side_atoms("electrolyte")
    ze_new = el.get_positions()[:, 2]
    assert np.allclose(np.sort(ze_new) - ze_new.min(), np.sort(ze) - ze.min(), atol=1e-6)
    assert el.cell[2, 2] - (ze_new.max() - ze_new.min()) == pytest.approx(12.0, abs=1e-6)
    (fix,) = el.constraints
    assert len(fix.index) == len(b.fixed)


def test_distance_check_rejects_a_bad_cell(si_candidates):
    c = si_candidates[0]
    with pytest.raises(InputError, match="covalent radii"):
        build_interface(c, gap=0.3)
    from ase import Atoms

    bad = Atoms("LiS", positions=[[0, 0, 0], [0, 0, 1.0]], cell=[8, 8, 8], pbc=True)
    assert min_distance_ratio(bad) < 0.7
    with pytest.raises(InputError):
        check_distances(bad)
    check_distances(Atoms("LiS", positions=[[0, 0, 0], [0, 0, 2.4]], cell=[8, 8, 8], pbc=True))


def test_shift_scan_scores_and_skips_rejected_cells(si_candidates):
    from ase.calculators.lj import LennardJones

    c = si_candidates[0]
    calc = LennardJones(sigma=2.0, epsilon=0.05, rc=5.0)
    b = build_interface(c, scan=True, scan_grid=2, scan_gaps=(0.2, 2.0, 2.6), calculator=calc)
    assert len(b.scan) == 2 * 2 * 3
    assert any("rejected" in r for r in b.scan)
    assert all(("rejected" in r) == (r["min_distance_ratio"] < 0.7) for r in b.scan)
    assert all(("energy" in r) != ("rejected" in r) for r in b.scan)
    scored = [r for r in b.scan if "energy" in r]
    best = min(scored, key=lambda r: r["energy"])
    assert best["relative_energy"] == 0.0
    assert b.gap == best["gap"] and np.allclose(b.in_plane_offset, best["offset"], atol=1e-4)


# ----------------------------------------------------------------- energies and contact chemistry


def test_work_of_adhesion_units():
    # 1 eV over 16.0217... Å^2 is 1 J/m^2
    assert work_of_adhesion(-10.0, -20.0, -31.0, EV_PER_A2_TO_J_PER_M2) == pytest.approx(1.0)
    assert work_of_adhesion(-10.0, -20.0, -32.0, EV_PER_A2_TO_J_PER_M2, n_interfaces=2) == pytest.approx(1.0)
    with pytest.raises(InputError):
        work_of_adhesion(0, 0, 0, 0.0)


def test_contact_analysis_sees_a_broken_ps_bond_and_a_new_li_p_contact():
    from ase import Atoms

    # PS4-like unit (electrolyte) and two Li atoms of the electrode above it
    pos = [[5, 5, 5], [5, 5, 7.05], [6.9, 5, 4.3], [4.05, 6.6, 4.3], [4.05, 3.4, 4.3], [5, 8, 10.5], [8, 8, 10.5]]
    before = Atoms("PS4Li2", positions=pos, cell=[12, 12, 20], pbc=True)
    before.arrays["side"] = np.array([0, 0, 0, 0, 0, 1, 1])
    before.arrays["layer"] = np.array([2, 1, 2, 2, 2, 1, 1])
    after = before.copy()
    p = after.get_positions()
    p[1] = [5, 7.6, 8.2]   # S pulled away from P, towards the Li
    p[5] = [5, 6.2, 7.0]   # Li next to P
    after.set_positions(p)
    r = contact_analysis(before, after)
    assert r["former_anion_bonds_before"] == 4 and r["former_anion_bonds_broken"] == 1
    assert r["electrode_contact_changes"].get("Li*-P", 0) >= 1
    assert any("P" in n and "reduction" in n for n in r["notes"])


def test_relax_interface_work_of_adhesion_with_emt():
    # EMT (Cu | Ni) stands in for CHGNet so the relaxation path runs in seconds
    from sseflow.workflows.interfaces.relax import relax_interface

    cs = find_candidates("Cu", "Ni", max_atoms=40, max_area=30, electrolyte_millers=[(1, 0, 0)],
                         electrode_millers=[(1, 0, 0)], electrolyte_thickness=5, electrode_thickness=4)
    b = build_interface(cs[0], scan=True, scan_grid=2, scan_gaps=(1.6, 2.0), calculator="emt")
    r = relax_interface(b, "emt", steps=100)
    s = r.summary()
    assert r.converged and r.calculator == "emt"
    assert 0.5 < s["work_of_adhesion_J_m2"] < 6.0 and 0.5 < s["work_of_adhesion_rigid_J_m2"] < 6.0
    e = r.energies_slabs
    assert s["work_of_adhesion_J_m2"] == pytest.approx(
        work_of_adhesion(e["electrolyte"], e["electrode"], r.energy, b.area), rel=1e-9)
    # fixed atoms did not move; side/layer labels survive the relaxation
    assert np.allclose(r.atoms.get_positions()[b.fixed], b.atoms.get_positions()[b.fixed])
    assert np.array_equal(r.atoms.arrays["side"], b.atoms.arrays["side"])
    assert s["contact"]["former_anion_bonds_before"] == 0 and s["contact"]["notes"]
