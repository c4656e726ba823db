"""Figures written as files (PNG/SVG/PDF): stability windows as horizontal bars."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from sseflow.analysis.errors import InputError

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
# Typical cathode operating potentials (V vs Li/Li+), marked on the window figure.
CATHODES = (("LiFePO4", 3.45), ("LiCoO2", 3.9), ("NMC811", 4.2))


def check_figure_path(path: str | Path) -> Path:
    p = Path(path)
    if p.suffix.lower() not in FIGURE_SUFFIXES:
        raise InputError(f"figure file must end in .png, .svg or .pdf: {path}")
    if not p.parent.exists():
        raise InputError(f"folder for the figure does not exist: {p.parent}")
    return p


def _mathtext(formula: str) -> str:
    """Li7La3Zr2O12 -> Li$_{7}$La$_{3}$... for axis labels."""
    import re

    return re.sub(r"(\d+(?:\.\d+)?)", r"$_{\1}$", formula)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_windows(rows: Sequence[dict], path: str | Path, vmax: float = 6.0) -> Path:
    """Windows as horizontal bars on a 0-6 V axis (after Zhu, He & Mo 2015, Fig. 2)."""
    p = check_figure_path(path)
    plt = _pyplot()
    n = len(rows)
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * n + 1.4))
    for i, r in enumerate(rows):
        y = n - 1 - i
        lo = r["reduction_V"]
        hi = r["oxidation_V"] if r["oxidation_V"] is not None else vmax
        ax.barh(y, vmax, left=0, color="#f2d7d5", height=0.6, zorder=1)
        ax.barh(y, hi - lo, left=lo, color="#2e86c1", height=0.6, zorder=2)
        if lo > 0.45:
            ax.text(lo - 0.05, y, f"{lo:.2f}", ha="right", va="center", fontsize=7, zorder=3)
        else:
            ax.text(lo + 0.05, y, f"{lo:.2f}", ha="left", va="center", fontsize=7, color="white", zorder=3)
        if r["oxidation_V"] is not None:
            if hi < vmax - 0.45:
                ax.text(hi + 0.05, y, f"{hi:.2f}", ha="left", va="center", fontsize=7, zorder=3)
            else:
                ax.text(min(hi, vmax) - 0.05, y, f"{hi:.2f}", ha="right", va="center", fontsize=7,
                        color="white", zorder=3)
    ax.axvline(0.0, color="k", lw=1.2)
    ax.text(0.02, n - 0.3, "Li/Li$^+$", fontsize=8, va="bottom")
    for name, v in CATHODES:
        ax.axvline(v, color="#7d3c98", lw=0.8, ls="--")
        ax.text(v, n - 0.3, name, rotation=90, fontsize=7, va="bottom", ha="right", color="#7d3c98")
    ax.set_yticks(range(n))
    ax.set_yticklabels([_mathtext(r["material"]) for r in rows][::-1])
    ax.set_xlim(0, vmax)
    ax.set_ylim(-0.6, n + 0.9)
    ax.set_xlabel("Potential vs Li/Li$^+$ (V)")
    ax.set_title("Electrochemical stability windows (blue: stable)", fontsize=9)
    fig.tight_layout()
    fig.savefig(p, dpi=200)
    plt.close(fig)
    return p
