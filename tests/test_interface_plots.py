"""Interface figures: returned as matplotlib Figures, drawn into given axes, files only when asked."""
from __future__ import annotations

import numpy as np
from ase.build import bulk
from matplotlib.figure import Figure

from sseflow.analysis.interface_plots import (
    plot_all,
    plot_interface_structure,
    plot_layer_dos,
    plot_potential_profile,
)


def _cell():
    a = bulk("Li", "bcc", a=3.44, cubic=True).repeat((1, 1, 3))
    a.arrays["side"] = (a.positions[:, 2] > 4.0).astype(int)
    return a


def test_structure_side_view_into_an_axes(tmp_path):
    host = Figure()
    ax = host.subplots()
    assert plot_interface_structure(_cell(), ax=ax, repeat=(1, 1)) is host
    assert len(ax.patches) == len(_cell())  # one disc per atom
    assert not list(tmp_path.iterdir())
    assert plot_all(tmp_path / "li", atoms=_cell()) == [f"{tmp_path / 'li'}_structure.png"]
    assert (tmp_path / "li_structure.png").stat().st_size > 1000


def test_layer_dos_and_potential_profile_return_figures(tmp_path):
    e = np.linspace(-8, 6, 200)
    dos = np.vstack([np.exp(-((e - c) ** 2)) for c in (-2.0, -1.0, 0.5)])
    fig = plot_layer_dos(e, dos, [2.0, 6.0, 10.0], [0, 0, 1], 0.0, vbm=-1.5, cbm=1.0)
    (ax,) = fig.axes
    assert len(ax.get_lines()) >= 3 + 3  # three layers, E_F, VBM, CBM
    z = np.linspace(0, 20, 100, endpoint=False)
    v = np.sin(z)
    fig = plot_potential_profile(z, v, v * 0.5, 1.0, tmp_path / "p.svg", region=(5.0, 9.0), vbm=-1.0)
    assert (tmp_path / "p.svg").is_file() and fig.axes[0].get_xlim() == (0.0, z.max())
