"""Slab geometry along the normal of the a-b plane: heights, vacuum, planes."""
import numpy as np
import pytest
from ase.build import bulk, fcc111
from pymatgen.io.ase import AseAtomsAdaptor

from sseflow.analysis.slabs import has_vacuum, normal_length, plane_groups, vacuum_gap


def test_normal_length_of_a_tilted_cell():
    cell = np.array([[3.0, 0.0, 0.0], [0.0, 4.0, 0.0], [1.0, 2.0, 7.5]])
    assert normal_length(cell) == pytest.approx(7.5)


def test_vacuum_along_the_normal_for_atoms_and_structures():
    slab = fcc111("Al", size=(1, 1, 4), vacuum=5.0)       # 10 Å of vacuum
    periodic = bulk("Si", "diamond", a=5.47)
    for s in (slab, AseAtomsAdaptor.get_structure(slab)):
        assert has_vacuum(s) and vacuum_gap(s)[0] == pytest.approx(10.0, abs=1e-6)
    assert not has_vacuum(periodic) and not has_vacuum(AseAtomsAdaptor.get_structure(periodic))
    assert not has_vacuum(slab, min_gap=12.0)


def test_plane_groups_split_at_gaps_larger_than_tol():
    assert plane_groups([0.0, 0.2, 2.0, 2.1, 5.0], tol=0.5).tolist() == [0, 0, 1, 1, 2]
    assert plane_groups([5.0, 0.0, 0.3], tol=0.5).tolist() == [1, 0, 0]
