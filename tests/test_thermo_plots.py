"""Phonon and temperature-window figures: returned as matplotlib objects, drawn into given axes, files optional."""
from __future__ import annotations

import numpy as np

from sseflow.analysis.thermo_plots import plot_phonons, plot_windows_vs_temperature

ITEMS = [{"formula": "Li2S", "dos_frequencies_THz": np.linspace(0, 10, 50), "dos_states_per_atom_THz": np.ones(50),
          "temperatures_K": np.linspace(0, 1000, 11), "free_energy_eV_per_atom": -np.linspace(0, 0.2, 11)},
         {"formula": "Li3P", "dos_frequencies_THz": np.linspace(0, 8, 40), "dos_states_per_atom_THz": np.ones(40),
          "temperatures_K": np.linspace(0, 1000, 11), "free_energy_eV_per_atom": -np.linspace(0, 0.1, 11),
          "flagged": True}]
ROWS = [{"formula": "Li3PS4", "temperature_K": None, "reduction_V": 1.72, "oxidation_V": 2.36},
        {"formula": "Li3PS4", "temperature_K": 600, "reduction_V": 1.65, "oxidation_V": 2.40}]


def test_phonon_figure_is_returned_and_optionally_written(tmp_path):
    fig = plot_phonons(ITEMS)
    a1, a2 = fig.axes
    assert len(a2.get_lines()) == 3  # two F_vib(T) curves and the zero line
    assert not list(tmp_path.iterdir())
    plot_phonons(ITEMS, tmp_path / "ph.png")
    assert (tmp_path / "ph.png").stat().st_size > 1000


def test_phonons_into_given_axes():
    from matplotlib.figure import Figure

    host = Figure()
    axes = host.subplots(1, 2)
    assert plot_phonons(ITEMS, axes=axes) is host
    assert "(imaginary modes)" in " ".join(t.get_text() for t in axes[0].texts)


def test_windows_vs_temperature_into_an_axes(tmp_path):
    from matplotlib.figure import Figure

    host = Figure()
    ax = host.subplots()
    assert plot_windows_vs_temperature(ROWS, ax=ax) is host
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any("600 K" in x for x in labels) and any("static" in x for x in labels)
    fig = plot_windows_vs_temperature(ROWS, tmp_path / "w.svg")
    assert (tmp_path / "w.svg").is_file() and fig.axes
