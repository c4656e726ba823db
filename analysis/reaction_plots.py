"""Figures for reactions and screening (PNG/SVG/PDF, matplotlib Agg).

* :func:`plot_reaction`: E_rxn(x) of one pair with every kink marked and labelled by its
  products, the minimum starred (after pymatgen's ``InterfacialReactivity.plot``); given
  several results (a lithiation path), one curve per partner with its minimum labelled.
* :func:`plot_screening`: the screening as two panels: both reaction energies per coating
  (left) and each coating's stability window against the anode potential (right).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from sseflow.analysis.plots import check_figure_path, new_axes, save_figure
from sseflow.analysis.tables import latex_formula
from sseflow.analysis.reactions import Kink, ReactionResult


def as_reaction_result(obj) -> ReactionResult:
    """A ReactionResult from itself, a ``to_dict()`` payload or a stored reaction document
    (its kinks with x, energies, reactions and products are all a figure needs)."""
    if isinstance(obj, ReactionResult):
        return obj
    if hasattr(obj, "payload") and callable(obj.payload):
        obj = obj.payload()
    from sseflow.analysis.tables import curve_variable, non_li_fraction

    d = dict(obj)
    v = d.get("potential_V")
    fa, fb = non_li_fraction(d["reactant_a"]), non_li_fraction(d["reactant_b"])

    def kink(k: dict) -> Kink:
        return Kink(x=float(k["x"]), energy_meV_per_atom=float(k["energy_meV_per_atom"]),
                    reaction=str(k.get("reaction") or ""), products=list(k.get("products") or []),
                    energy_eV_per_reaction=float(k.get("energy_eV_per_reaction") or 0.0),
                    y=curve_variable(float(k["x"]), v, fa, fb))

    kinks = [kink(k) for k in sorted(d.get("kinks") or [d["minimum"]], key=lambda k: k["x"])]
    m = d["minimum"]
    minimum = min(kinks, key=lambda k: (abs(k.x - m["x"]), abs(k.energy_meV_per_atom - m["energy_meV_per_atom"])))
    return ReactionResult(reactant_a=d["reactant_a"], reactant_b=d["reactant_b"], potential_V=v, minimum=minimum,
                          kinks=kinks, chemsys=str(d.get("chemsys") or ""),
                          energy_source_a=str(d.get("energy_source_a") or ""),
                          energy_source_b=str(d.get("energy_source_b") or ""),
                          energy_a_eV_per_atom=float(d.get("energy_a_eV_per_atom") or 0.0),
                          energy_b_eV_per_atom=float(d.get("energy_b_eV_per_atom") or 0.0),
                          normalisation=str(d.get("normalisation") or ""),
                          reactant_energies=str(d.get("reactant_energies") or ""), notes=list(d.get("notes") or []),
                          _fa=fa, _fb=fb)


def _title(r: ReactionResult) -> str:
    mode = "chemical" if r.potential_V is None else f"open to Li at {r.potential_V:g} V"
    return f"{latex_formula(r.reactant_a)} | {latex_formula(r.reactant_b)} ({mode})"


def _ylabel(rs: Sequence[ReactionResult]) -> str:
    kinds = {r.potential_V is None for r in rs}
    if kinds == {True}:
        return "E$_\\mathrm{rxn}$ (meV/atom)"
    if kinds == {False}:
        return "E$_\\mathrm{rxn}$ (meV per non-Li atom)"
    return "E$_\\mathrm{rxn}$ (meV/atom; per non-Li atom at a potential)"


def plot_reaction(results, path: str | Path | None = None, ax=None):
    """E_rxn(x), x = atom fraction of B; kinks labelled with their products; returns the Figure.

    ``results``: one result (a ReactionResult, its payload or a stored reaction document) or a
    sequence of them (one curve each). ``path``: also write the figure there. The dashed line
    joins the end points: a reactant above the hull decomposes on its own (curve below zero at
    x = 0 or 1); the mutual reaction energy is measured from that line.
    """
    if path is not None:
        check_figure_path(path)
    many = isinstance(results, (list, tuple))
    rs = [as_reaction_result(r) for r in results] if many else [as_reaction_result(results)]
    fig, ax = new_axes(ax, figsize=(10.0, 4.8) if not many else (8.0, 4.8))
    ymin = min(min(k.energy_meV_per_atom for k in r.kinks) for r in rs)
    ymax = max(0.0, max(max(k.energy_meV_per_atom for k in r.kinks) for r in rs))
    span = max(ymax - ymin, 10.0)
    if not many:
        r = rs[0]
        x, e = r.curve()
        ax.plot(x, e, "-", color="navy", lw=2, zorder=1)
        ax.plot([k.x for k in r.kinks], [k.energy_meV_per_atom for k in r.kinks], "o", color="navy", ms=5, zorder=2)
        ax.plot([r.minimum.x], [r.minimum.energy_meV_per_atom], "*", color="crimson", ms=16, zorder=3)
        e0, e1 = r.kinks[0].energy_meV_per_atom, r.kinks[-1].energy_meV_per_atom
        if abs(e0) > 0.05 or abs(e1) > 0.05:
            ax.plot([r.kinks[0].x, r.kinks[-1].x], [e0, e1], "--", color="0.4", lw=1.0, zorder=1,
                    label="reactants' own decomposition")
            ax.legend(fontsize=7, loc="lower right")
        # kinks numbered on the curve, their products in a key beside the axes (never overlapping)
        key = []
        for i, k in enumerate(r.kinks, 1):
            hot = k is r.minimum
            ax.annotate(str(i), xy=(k.x, k.energy_meV_per_atom), xytext=(0, -11 if i % 2 else 7),
                        textcoords="offset points", fontsize=7, ha="center", va="center",
                        color="crimson" if hot else "black", fontweight="bold" if hot else "normal")
            key.append((f"{i}. x={k.x:.3f}, {k.energy_meV_per_atom:.0f}: "
                        + (", ".join(latex_formula(f) for f in k.products) or "-"), hot))
        for j, (line, hot) in enumerate(key):
            ax.text(1.02, 1.0 - j * min(0.065, 0.95 / max(len(key), 1)), line, transform=ax.transAxes,
                    fontsize=7, va="top", ha="left", color="crimson" if hot else "black")
        ax.set_title(_title(r), fontsize=10)
        ax.set_xlabel(f"x in (1-x) {latex_formula(r.reactant_a)} + x {latex_formula(r.reactant_b)} (atom fraction)")
    else:
        import matplotlib

        cmap = matplotlib.colormaps["viridis"]
        same_b = len({r.reactant_b for r in rs}) == 1
        same_v = len({r.potential_V for r in rs}) == 1

        def label(r: ReactionResult) -> str:
            v = "chemical" if r.potential_V is None else f"{r.potential_V:g} V"
            if same_b:
                return v
            return latex_formula(r.reactant_b) if same_v else f"{latex_formula(r.reactant_b)} ({v})"

        for i, r in enumerate(rs):
            c = cmap(i / max(len(rs) - 1, 1))
            x, e = r.curve()
            m = r.minimum
            products = ", ".join(latex_formula(f) for f in m.products) if m.energy_meV_per_atom < -1.0 else "no reaction"
            ax.plot(x, e, "-", color=c, lw=1.6, label=f"{label(r)}: {m.energy_meV_per_atom:.0f} ({products})")
            ax.plot([k.x for k in r.kinks], [k.energy_meV_per_atom for k in r.kinks], "o", color=c, ms=3)
            ax.plot([m.x], [m.energy_meV_per_atom], "*", color=c, ms=11, mec="k", mew=0.4)
        what = "potential" if same_b else "partner B"
        ax.legend(fontsize=7, title=f"{what}: minimum (products)", title_fontsize=7, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        if same_b:
            ax.set_title(f"{latex_formula(rs[0].reactant_a)} | {latex_formula(rs[0].reactant_b)}", fontsize=10)
            ax.set_xlabel(f"x in (1-x) {latex_formula(rs[0].reactant_a)} + x {latex_formula(rs[0].reactant_b)} "
                          f"(atom fraction)")
        else:
            ax.set_title(f"{latex_formula(rs[0].reactant_a)} against each partner"
                         + (f" at {rs[0].potential_V:g} V" if same_v and rs[0].potential_V is not None else ""),
                         fontsize=10)
            ax.set_xlabel("x (atom fraction of the partner)")
    ax.axhline(0.0, color="0.5", lw=0.8, ls="--")
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(ymin - 0.12 * span, ymax + 0.08 * span)
    ax.set_ylabel(_ylabel(rs))
    fig.tight_layout()
    save_figure(fig, path, bbox_inches="tight")
    return fig


def plot_screening(rows: Sequence[dict], path: str | Path | None = None, electrolyte: str | None = None,
                   anode: str | None = None, anode_potential_V: float | None = None, vmax: float = 6.0,
                   ax=None):
    """Ranked coatings: reaction energies (left) and windows vs the anode potential (right); returns
    the Figure. The anode and its potential come from the rows when not given. ``ax``: a pair of
    axes to draw on; ``path``: also write the figure there."""
    if path is not None:
        check_figure_path(path)
    n = len(rows)
    if anode is None and rows:
        anode = rows[0].get("anode")
    if anode_potential_V is None and rows:
        anode_potential_V = rows[0].get("anode_potential_V")
    if ax is not None:
        ax1, ax2 = ax
        fig = ax1.figure
    else:
        fig, (ax1, ax2) = new_axes(None, figsize=(10.0, 0.38 * n + 1.8), ncols=2, sharey=True,
                                   gridspec_kw={"width_ratios": [1.2, 1.0]})
    ys = [n - 1 - i for i in range(n)]
    h = 0.38
    ax1.barh([y + h / 2 for y in ys], [r["rxn_anode_meV"] for r in rows], height=h, color="#c0392b",
             label=f"with anode{f' ({latex_formula(anode)})' if anode else ''}")
    ax1.barh([y - h / 2 for y in ys], [r["rxn_electrolyte_meV"] for r in rows], height=h, color="#2e86c1",
             label=f"with electrolyte{f' ({latex_formula(electrolyte)})' if electrolyte else ''}")
    ax1.axvline(0.0, color="k", lw=0.8)
    ax1.set_xlabel("most negative E$_\\mathrm{rxn}$ (meV/atom)")
    ax1.legend(fontsize=7, loc="upper left")
    for y, r in zip(ys, rows):
        ok = r["stable_vs_anode"] and r["stable_vs_electrolyte"]
        ax1.text(0.0, y, "stable on both sides  " if ok else "", va="center", ha="right", fontsize=7,
                 color="#1e8449")
    for y, r in zip(ys, rows):
        lo = r["coating_reduction_V"]
        hi = r["coating_oxidation_V"] if r["coating_oxidation_V"] is not None else vmax
        color = "#1e8449" if r["window_reaches_anode"] else "#7f8c8d"
        ax2.barh(y, min(hi, vmax) - lo, left=lo, color=color, height=0.6)
    if anode_potential_V is not None:
        ax2.axvline(anode_potential_V, color="#c0392b", lw=1.2, ls="--")
        ax2.text(anode_potential_V, n - 0.4, f" {latex_formula(anode) if anode else 'anode'} {anode_potential_V:.2f} V", fontsize=7, color="#c0392b",
                 va="bottom")
    ax2.set_xlim(0, vmax)
    ax2.set_xlabel("coating window (V vs Li/Li$^+$)")
    ax2.set_title("green: window reaches the anode potential", fontsize=8)
    ax1.set_yticks(ys)
    ax1.set_yticklabels([f"{r['rank']}. {latex_formula(r['candidate'])}" for r in rows])
    ax1.set_ylim(-0.8, n + 0.2)
    title = "Interlayer screening"
    if electrolyte and anode:
        title += f": {latex_formula(electrolyte)} | coating | {latex_formula(anode)}"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, bbox_inches="tight")
    return fig
