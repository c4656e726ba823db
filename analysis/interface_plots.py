"""Figures of an interface: side view, layer-resolved DOS, averaged electrostatic potential.

Pure plotting from arrays and an ASE ``Atoms`` for the side view. Each function draws into
``ax`` (or a new figure), writes ``path`` when given, and returns the matplotlib Figure.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from sseflow.analysis.plots import new_axes, save_figure


def _finish(fig, ax, path, title: str | None, own: bool):
    """Title, layout (of a figure made here), write ``path`` when given; returns the Figure."""
    if title:
        ax.set_title(title, fontsize=9)
    if own:
        fig.tight_layout()
    save_figure(fig, path, dpi=130)
    return fig


def plot_interface_structure(atoms, path=None, *, title: str | None = None, repeat: tuple[int, int] = (2, 1),
                             ax=None):
    """Side view (the a-c plane, c up) of an interface cell, repeated ``repeat`` times in plane.

    Atoms of the electrode (``atoms.arrays["side"] == 1``) are drawn with a dark edge.
    """
    from ase.data import covalent_radii
    from ase.data.colors import jmol_colors

    from matplotlib.patches import Circle

    own = ax is None
    fig, ax = new_axes(ax, figsize=(5.5, 7.0))
    a = atoms.copy()
    a.set_constraint()
    side = np.asarray(a.arrays.get("side", np.zeros(len(a), int)))
    pos = a.get_positions()
    cell = a.cell.array
    pts = []
    for i in range(repeat[0]):
        for j in range(repeat[1]):
            shift = i * cell[0] + j * cell[1]
            pts.append(pos + shift)
    pts = np.concatenate(pts)
    nums = np.tile(a.numbers, repeat[0] * repeat[1])
    sides = np.tile(side, repeat[0] * repeat[1])
    order = np.argsort(pts[:, 1])[::-1]  # far atoms (large y) first
    for k in order:
        z = nums[k]
        r = 0.55 * covalent_radii[z]
        circ = Circle((pts[k, 0], pts[k, 2]), r, facecolor=jmol_colors[z],
                          edgecolor="k" if sides[k] == 1 else "0.45", lw=1.2 if sides[k] == 1 else 0.5)
        ax.add_patch(circ)
    # cell outline (projection on x-z)
    for i in range(repeat[0]):
        x0 = i * cell[0][0]
        ax.plot([x0, x0 + cell[0][0], x0 + cell[0][0] + cell[2][0], x0 + cell[2][0], x0],
                [0, cell[0][2], cell[0][2] + cell[2][2], cell[2][2], 0], color="0.6", lw=0.6, ls=":")
    ax.set_aspect("equal")
    ax.autoscale_view()
    ax.set_xlabel("x (Å)")
    ax.set_ylabel("z (Å)")
    symbols = sorted(set(a.get_chemical_symbols()))
    from ase.data import atomic_numbers

    for s in symbols:
        ax.scatter([], [], color=jmol_colors[atomic_numbers[s]], edgecolors="0.3", label=s, s=60)
    ax.legend(loc="upper right", fontsize=8, frameon=True)
    return _finish(fig, ax, path, title, own)


def plot_layer_dos(energies, layer_dos, centres, sides, fermi_level: float, path=None, *, vbm: float | None = None,
                   cbm: float | None = None, bulk_layers: Sequence[float] | None = None, erange=(-6.0, 5.0),
                   title: str | None = None, ax=None):
    """Layer-resolved DOS as stacked curves (one per layer, bottom to top of the cell), energies
    relative to E_F; E_F, and the electrolyte VBM/CBM of the layer method, are marked.

    ``sides``: 0 electrolyte (blue), 1 electrode (orange); ``bulk_layers``: centres of the
    layers the barrier was read from (drawn thicker).
    """
    e = np.asarray(energies, float) - fermi_level
    ld = np.asarray(layer_dos, float)
    c = np.asarray(centres, float)
    s = np.asarray(sides, int)
    order = np.argsort(c)
    sel = (e >= erange[0]) & (e <= erange[1])
    scale = np.percentile(ld[:, sel], 99) if ld[:, sel].size else 1.0
    scale = scale if scale > 0 else 1.0
    own = ax is None
    fig, ax = new_axes(ax, figsize=(6.0, 1.0 + 0.55 * len(order)))
    bulk = set(np.round(bulk_layers, 3).tolist()) if bulk_layers is not None else set()
    for rank, k in enumerate(order):
        y0 = rank * 1.1
        col = "tab:blue" if s[k] == 0 else "tab:orange"
        lw = 2.0 if round(float(c[k]), 3) in bulk else 0.9
        ax.fill_between(e[sel], y0, y0 + ld[k, sel] / scale, color=col, alpha=0.25, lw=0)
        ax.plot(e[sel], y0 + ld[k, sel] / scale, color=col, lw=lw)
        ax.text(erange[1] + 0.1, y0 + 0.1, f"{c[k]:.1f} Å", fontsize=7, va="bottom")
    ax.axvline(0.0, color="k", lw=1.0, label="E_F")
    if vbm is not None:
        ax.axvline(vbm - fermi_level, color="tab:green", ls="--", lw=1.0, label="VBM (layer DOS)")
    if cbm is not None:
        ax.axvline(cbm - fermi_level, color="tab:red", ls="--", lw=1.0, label="CBM (layer DOS)")
    ax.set_xlim(*erange)
    ax.set_ylim(-0.1, len(order) * 1.1 + 0.2)
    ax.set_yticks([])
    ax.set_xlabel("E - E_F (eV)")
    ax.set_ylabel("layers along the normal (electrolyte blue, electrode orange)")
    ax.legend(loc="upper left", fontsize=7)
    return _finish(fig, ax, path, title, own)


def plot_potential_profile(z, v_planar, v_macro, fermi_level: float, path=None, *, region=None,
                           vbm: float | None = None, cbm: float | None = None, electrolyte_range=None,
                           title: str | None = None, ax=None):
    """Planar and macroscopic averages of the electrostatic potential along the normal, with
    E_F and the aligned electrolyte band edges (potential line-up) over its bulk-like region."""
    z = np.asarray(z, float)
    own = ax is None
    fig, ax = new_axes(ax, figsize=(7.0, 3.8))
    ax.plot(z, v_planar, color="0.6", lw=0.8, label="planar average")
    ax.plot(z, v_macro, color="tab:blue", lw=1.6, label="macroscopic average")
    ax.axhline(fermi_level, color="k", lw=1.0, label="E_F")
    L = float(z[1] - z[0]) * len(z)
    if electrolyte_range is not None:
        for k, (a, b) in enumerate(_wrapped(electrolyte_range, L)):
            ax.axvspan(a, b, color="tab:blue", alpha=0.06, label="electrolyte" if k == 0 else None)
    if region is not None:
        for k, (a, b) in enumerate(_wrapped(region, L)):
            if vbm is not None:
                ax.hlines(vbm, a, b, color="tab:green", ls="--", label="VBM (line-up)" if k == 0 else None)
            if cbm is not None:
                ax.hlines(cbm, a, b, color="tab:red", ls="--", label="CBM (line-up)" if k == 0 else None)
            ax.axvspan(a, b, color="tab:green", alpha=0.08)
    ax.set_xlabel("z (Å)")
    ax.set_ylabel("energy (eV)")
    ax.set_xlim(z.min(), z.max())
    ax.legend(loc="best", fontsize=7)
    return _finish(fig, ax, path, title, own)


def _wrapped(rng, L: float) -> list[tuple[float, float]]:
    """A height range (possibly unwrapped past the cell) as one or two ranges inside [0, L]."""
    a, b = float(rng[0]), float(rng[1])
    if b - a >= L:
        return [(0.0, L)]
    a0 = a % L
    b0 = a0 + (b - a)
    return [(a0, b0)] if b0 <= L else [(a0, L), (0.0, b0 - L)]


def plot_all(prefix, atoms=None, electronic=None, schottky: dict | None = None, title: str | None = None) -> list[str]:
    """The figures there is data for: ``PREFIX_structure.png``, ``PREFIX_layer_dos.png``,
    ``PREFIX_potential.png``. ``electronic``: a mapping or object with the arrays of
    ``sseflow.workflows.interfaces.electronic.ElectronicStructure``; ``schottky``: its report."""
    from sseflow.analysis.schottky import macroscopic_average

    out = []
    prefix = str(prefix)
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    if atoms is not None:
        plot_interface_structure(atoms, f"{prefix}_structure.png", title=title)
        out.append(f"{prefix}_structure.png")
    if electronic is not None:
        g = (lambda k: electronic[k]) if isinstance(electronic, dict) else (lambda k: getattr(electronic, k))
        layer = (schottky or {}).get("layer_dos") or {}
        lineup = (schottky or {}).get("potential_lineup") or {}
        if g("layer_dos") is not None:
            plot_layer_dos(g("energies"), g("layer_dos"), g("layer_centres"), g("layer_side"), g("fermi_level"),
                           f"{prefix}_layer_dos.png", vbm=layer.get("vbm"), cbm=layer.get("cbm"),
                           bulk_layers=layer.get("bulk_layers"), title=title)
            out.append(f"{prefix}_layer_dos.png")
        period = (schottky or {}).get("period_A") or lineup.get("period") or 2.0
        vm = macroscopic_average(g("z"), g("potential"), period)
        from sseflow.analysis.schottky import layer_bins

        side = np.asarray(g("side"))
        erange = None
        if (side == 0).any():
            bins = layer_bins(g("positions_z"), side == 0, period=period, cell_length=g("cell_length"))
            erange = (bins["lo"], bins["hi"])
        plot_potential_profile(g("z"), g("potential"), vm, g("fermi_level"), f"{prefix}_potential.png",
                               region=lineup.get("region"), vbm=lineup.get("vbm"), cbm=lineup.get("cbm"),
                               electrolyte_range=erange, title=title)
        out.append(f"{prefix}_potential.png")
    return out
