"""Figures for phonons and temperature-dependent windows: matplotlib Figures, optionally written as PNG/SVG/PDF.

Inputs are plain objects or dicts with the fields of a phonon result / document
(``formula``, ``dos_frequencies``/``dos_frequencies_THz``, ``dos``/``dos_states_per_atom_THz``,
``temperatures``/``temperatures_K``, ``free_energy``/``free_energy_eV_per_atom``, ``flagged``),
so this module does not depend on the ``workflows`` package.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from sseflow.analysis.plots import new_axes, save_figure
from sseflow.analysis.tables import latex_formula


def _get(obj, *names, default=None):
    for n in names:
        if isinstance(obj, dict):
            if obj.get(n) is not None:
                return obj[n]
        elif getattr(obj, n, None) is not None:
            return getattr(obj, n)
    return default


def _series(items):
    out = []
    for it in items:
        out.append({
            "formula": str(_get(it, "reduced_formula", "formula", default="?")),
            "freq": np.asarray(_get(it, "dos_frequencies", "dos_frequencies_THz", default=[]), dtype=float),
            "dos": np.asarray(_get(it, "dos", "dos_states_per_atom_THz", default=[]), dtype=float),
            "t": np.asarray(_get(it, "temperatures", "temperatures_K", default=[]), dtype=float),
            "f": np.asarray(_get(it, "free_energy", "free_energy_eV_per_atom", default=[]), dtype=float),
            "flagged": bool(_get(it, "flagged", default=False)),
        })
    return out


def plot_phonon_dos(ax, items, offset: float | None = None) -> None:
    """Phonon DOS per atom (states/THz/atom) of each phase, stacked with a vertical offset."""
    series = _series(items)
    top = max((s["dos"].max() for s in series if s["dos"].size), default=1.0)
    step = offset if offset is not None else 0.8 * top
    for i, s in enumerate(series):
        if not s["dos"].size:
            continue
        y0 = i * step
        ax.plot(s["freq"], s["dos"] + y0, lw=1.0, color=f"C{i % 10}")
        ax.fill_between(s["freq"], y0, s["dos"] + y0, alpha=0.25, color=f"C{i % 10}")
        label = latex_formula(s["formula"]) + (" (imaginary modes)" if s["flagged"] else "")
        ax.text(s["freq"].max(), y0 + 0.15 * step, label, ha="right", va="bottom", fontsize=7)
    ax.axvline(0.0, color="k", lw=0.6)
    ax.set_xlabel("Frequency (THz)")
    ax.set_ylabel("DOS (states/THz/atom), offset")
    ax.set_yticks([])


def plot_free_energy(ax, items) -> None:
    """F_vib(T) per atom (meV/atom, zero-point energy included)."""
    for i, s in enumerate(_series(items)):
        if not s["t"].size:
            continue
        ax.plot(s["t"], 1000.0 * s["f"], lw=1.2, color=f"C{i % 10}", ls="--" if s["flagged"] else "-",
                label=latex_formula(s["formula"]))
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xlabel("Temperature (K)")
    ax.set_ylabel("$F_\\mathrm{vib}$ (meV/atom)")
    ax.legend(fontsize=7, frameon=False)


def plot_phonons(items: Sequence, path: str | Path | None = None, t_max: float | None = 1000.0, axes=None):
    """Two panels, phonon DOS of every phase and F_vib(T); returns the Figure.

    ``axes``: two matplotlib Axes to draw into (else a new figure); ``path``: also write the
    figure there (PNG/SVG/PDF)."""
    if axes is not None:
        a1, a2 = axes
        fig = a1.figure
    else:
        fig, (a1, a2) = new_axes(figsize=(9.0, 0.5 * max(4, len(items)) + 2.0), ncols=2)
    plot_phonon_dos(a1, items)
    plot_free_energy(a2, items)
    if t_max:
        a2.set_xlim(0, t_max)
        lo = []
        for s in _series(items):
            m = s["t"] <= t_max
            if m.any():
                lo.append(1000.0 * s["f"][m].min())
        if lo:
            a2.set_ylim(min(lo) * 1.05 - 5, None)
    if axes is None:
        fig.tight_layout()
    save_figure(fig, path)
    return fig


def plot_windows_vs_temperature(rows: Sequence[dict], path: str | Path | None = None, vmax: float | None = None,
                                ax=None):
    """Windows as bars, one row per (material, temperature); ``rows`` need ``formula``,
    ``temperature_K`` (None: static), ``reduction_V``, ``oxidation_V``. Returns the Figure;
    ``ax``: draw into it; ``path``: also write the figure there."""
    n = len(rows)
    his = [r["oxidation_V"] for r in rows if r.get("oxidation_V") is not None]
    vmax = vmax or max(5.0, (max(his) + 0.5) if his else 5.0)
    fig, ax = new_axes(ax, figsize=(7.0, 0.4 * n + 1.3))
    labels = []
    for i, r in enumerate(rows):
        y = n - 1 - i
        lo = r["reduction_V"]
        hi = r["oxidation_V"] if r.get("oxidation_V") is not None else vmax
        ax.barh(y, vmax, left=0, color="#f2d7d5", height=0.6, zorder=1)
        ax.barh(y, hi - lo, left=lo, color="#2e86c1", height=0.6, zorder=2)
        ax.text(lo - 0.04, y, f"{lo:.3f}", ha="right", va="center", fontsize=7, zorder=3)
        if r.get("oxidation_V") is not None:
            ax.text(hi + 0.04, y, f"{hi:.3f}", ha="left", va="center", fontsize=7, zorder=3)
        t = r.get("temperature_K")
        labels.append(latex_formula(r.get("formula", r.get("material", "?"))) + ("  static" if t is None else f"  {t:g} K"))
    ax.set_yticks(range(n))
    ax.set_yticklabels(labels[::-1], fontsize=8)
    ax.set_xlim(0, vmax)
    ax.set_xlabel("Potential vs Li/Li$^+$ (V)")
    ax.set_title("Stability windows with vibrational free energies", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
    return fig
