"""Figures written as files (PNG/SVG/PDF): stability windows as horizontal bars."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from sseflow.analysis.errors import InputError
from sseflow.analysis.tables import latex_formula

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


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def new_axes(ax=None, figsize=(7.0, 4.0), **subplots):
    """(figure, axes): ``ax`` and its figure when given, else a new figure outside pyplot
    (nothing to close, nothing kept alive by pyplot)."""
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(**subplots)


#: Metadata left out of figure files so that the same figure gives the same bytes.
_METADATA = {".png": {"Software": None}, ".pdf": {"Creator": None, "Producer": None, "CreationDate": None},
             ".svg": {"Creator": None, "Date": None}}


def save_figure(fig, path: str | Path | None, dpi: int = 200, **kw) -> Path | None:
    """Write ``fig`` to ``path`` (PNG/SVG/PDF) without time stamps or version strings: the
    same figure gives the same bytes. Nothing is written when ``path`` is None."""
    if path is None:
        return None
    p = check_figure_path(path)
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "sseflow"}):
        fig.savefig(p, dpi=dpi, metadata=_METADATA.get(p.suffix.lower()), **kw)
    return p


def plot_windows(rows: Sequence[dict], path: str | Path | None = None, vmax: float = 6.0, ax=None,
                 anodes: Sequence[tuple[str, float | None]] = (), reference: str | None = None):
    """Windows as horizontal bars on a 0-6 V axis (after Zhu, He & Mo 2015, Fig. 2); returns the Figure.

    Li metal (0 V) and the anodes (name, potential vs Li/Li+) are marked with vertical lines;
    ``reference`` (where the energies came from) is named under the axis. A bar that runs past
    ``vmax`` is clipped and says so; materials not in the reference set or above the hull are
    hatched and annotated. ``path``: also write the figure there.
    """
    from sseflow.analysis.tables import flags

    if path is not None:
        check_figure_path(path)
    n = len(rows)
    fig, ax = new_axes(ax, figsize=(7.0, 0.45 * n + 1.8))
    clipped = []
    for i, r in enumerate(rows):
        y = n - 1 - i
        lo = r["reduction_V"]
        hi = r["oxidation_V"] if r["oxidation_V"] is not None else vmax
        fl = flags(r)
        ax.barh(y, vmax, left=0, color="#f2d7d5", height=0.6, zorder=1)
        ax.barh(y, min(hi, vmax) - lo, left=lo, color="#2e86c1", height=0.6, zorder=2,
                hatch="///" if fl else None, edgecolor="white" if fl else None, linewidth=0)
        if lo > 0.45:
            ax.text(lo - 0.05, y, f"{lo:.2f}", ha="right", va="center", fontsize=7, zorder=3)
        else:
            ax.text(lo + 0.05, y, f"{lo:.2f}", ha="left", va="center", fontsize=7, color="white", zorder=3)
        if r["oxidation_V"] is None or hi > vmax:
            clipped.append(r["material"])
            what = "no oxidation limit" if r["oxidation_V"] is None else f"{hi:.2f} (clipped)"
            ax.text(vmax - 0.05, y, f"{what} \u25b6", ha="right", va="center", fontsize=7, color="white", zorder=3)
        elif hi < vmax - 0.45:
            ax.text(hi + 0.05, y, f"{hi:.2f}", ha="left", va="center", fontsize=7, zorder=3)
        else:
            ax.text(hi - 0.05, y, f"{hi:.2f}", ha="right", va="center", fontsize=7, color="white", zorder=3)
        if fl:
            note = " and ".join({"not_in_reference": "not in reference", "above_hull":
                                 f"{r.get('e_above_hull_meV') or 0:.0f} meV/atom above hull"}[f] for f in fl)
            ax.text(vmax / 2, y - 0.38, note, ha="center", va="center", fontsize=6, color="#7b241c", zorder=3)
    ax.axvline(0.0, color="k", lw=1.2)
    ax.text(0.02, n - 0.3, "Li/Li$^+$ (0 V)", fontsize=8, va="bottom")
    for name, v in anodes:
        if v is None or name == "Li" or not (0.0 < v < vmax):
            continue
        ax.axvline(v, color="#b9770e", lw=1.0, ls=":")
        ax.text(v + 0.03, -0.55, f"{latex_formula(name)} anode ({v:.2f} V)", fontsize=6, va="bottom", ha="left",
                color="#b9770e", zorder=4)
    for name, v in CATHODES:
        ax.axvline(v, color="#7d3c98", lw=0.8, ls="--")
        ax.text(v, n - 0.3, name, rotation=90, fontsize=7, va="bottom", ha="right", color="#7d3c98")
    ax.set_yticks(range(n))
    ax.set_yticklabels([latex_formula(r["material"]) for r in rows][::-1])
    ax.set_xlim(0, vmax)
    ax.set_ylim(-0.6, n + 0.9)
    xlabel = "Potential vs Li/Li$^+$ (V)"
    if reference:
        xlabel += f"\nenergies: {reference}"
    if clipped:
        xlabel += f"\n\u25b6: bar clipped at {vmax:g} V"
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_title("Electrochemical stability windows (blue: stable; hatched: not in reference or above hull)",
                 fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    return fig
