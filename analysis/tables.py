"""Stability-window and reaction tables as Markdown, CSV, LaTeX, JSON or plain text.

LaTeX tables use booktabs (``\\usepackage{booktabs}``: ``\\toprule``, ``\\midrule``,
``\\bottomrule``), a real minus (``$-$``), a ``table`` float with ``\\caption`` and
``\\label`` stubs, and ``--`` (never words) in numeric columns.

Flags (Markdown and LaTeX: a marker after the material and a footnote; CSV/JSON: the
``in_reference`` and ``e_above_hull_meV`` columns):

* ``a``: the composition is not in the reference set (its energy is the hull energy at that
  composition, so it has no E_hull of its own);
* ``b``: the material is above the convex hull (by at least :data:`ABOVE_HULL_MEV`).

Reaction tables (:func:`reaction_rows`, :func:`format_reactions`) use one convention, stated
in their caption: the *mutual* reaction energy, measured from the line joining the end
points of the curve, so that a reactant above the hull does not lend its own decomposition
energy to the reaction (the same convention as the interlayer screening). Each reactant's
own decomposition energy (the curve at x = 0 and x = 1) is given in separate columns.
"""
from __future__ import annotations

import csv
import io
import json
import re
from typing import Sequence

COLUMNS = ("material", "reduction_V", "oxidation_V", "reduction_products", "oxidation_products", "e_above_hull_meV")
HEADERS = {
    "material": "Material",
    "reduction_V": "Reduction (V)",
    "oxidation_V": "Oxidation (V)",
    "reduction_products": "Products at reduction",
    "oxidation_products": "Products at oxidation",
    "e_above_hull_meV": "E_hull (meV/atom)",
}


#: A material this far above the hull (meV/atom) or more is flagged as above the hull.
ABOVE_HULL_MEV = 0.5
MARKS = {"not_in_reference": "a", "above_hull": "b"}
FOOTNOTES = {
    "not_in_reference": "not in the reference set: energy taken as the hull energy at its composition",
    "above_hull": "above the convex hull (metastable): the window is that of the metastable phase",
}
WINDOW_CAPTION = ("Electrochemical stability windows (V vs Li/Li$^+$) and the phases formed at each limit; "
                  "$E_\\mathrm{hull}$: energy above the convex hull.")


def flags(row: dict) -> list[str]:
    """``not_in_reference`` and/or ``above_hull`` for a window row (or payload)."""
    out = []
    if row.get("in_reference") is False or ("in_reference" not in row and row.get("e_above_hull_meV") is None):
        out.append("not_in_reference")
    e = row.get("e_above_hull_meV")
    if e is not None and e >= ABOVE_HULL_MEV:
        out.append("above_hull")
    return out


def flagged_name(name: str, row: dict, fmt: str) -> str:
    """``name`` with the flag marks of ``row`` (see :func:`flags`) for a Markdown or LaTeX cell."""
    return _marked(name, row, fmt)


def flag_notes(rows: Sequence[dict], fmt: str) -> list[str]:
    """The footnotes of the flags used in ``rows`` (Markdown or LaTeX)."""
    return _footnotes(rows, fmt)


def _marked(name: str, row: dict, fmt: str) -> str:
    m = ",".join(MARKS[f] for f in flags(row))
    if not m:
        return name
    return f"{name}$^{{{m}}}$" if fmt == "latex" else f"{name}<sup>{m}</sup>"


def _footnotes(rows: Sequence[dict], fmt: str) -> list[str]:
    used = [f for f in MARKS if any(f in flags(r) for r in rows)]
    if fmt == "latex":
        return [f"$^{{{MARKS[f]}}}$ {FOOTNOTES[f]}" for f in used]
    return [f"<sup>{MARKS[f]}</sup> {FOOTNOTES[f]}" for f in used]


def tex_number(text: str) -> str:
    """A number cell for LaTeX: a real minus sign, ``--`` for a missing value."""
    if text in ("", "-", "--", "n/a", None):
        return "--"
    return f"$-${text[1:]}" if text.startswith("-") else text


def latex_table(spec: str, head: list[str], body: list[list[str]], caption: str, label: str,
                notes: Sequence[str] = ()) -> str:
    """A booktabs table float: caption and label stubs, footnotes under the rule."""
    lines = ["% booktabs table: needs \\usepackage{booktabs}", r"\begin{table}", r"\centering",
             rf"\caption{{{caption}}}", rf"\label{{{label}}}", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(head) + r" \\", r"\midrule"]
    lines += [" & ".join(b) + r" \\" for b in body]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if notes:
        lines += [r"\par\smallskip", r"{\footnotesize " + r" \\ ".join(notes) + "}"]
    lines += [r"\end{table}"]
    return "\n".join(lines) + "\n"


def window_rows(results: Sequence[dict]) -> list[dict]:
    """Table rows from window payloads (``WindowResult.to_dict()`` or stored documents)."""
    rows = []
    for r in results:
        rows.append({
            "material": r.get("material") or r["formula"],
            "reduction_V": r["reduction_V"],
            "oxidation_V": r["oxidation_V"],
            "reduction_products": list(r.get("reduction_products") or []),
            "oxidation_products": list(r.get("oxidation_products") or []),
            "e_above_hull_meV": r.get("e_above_hull_meV"),
            "in_reference": r.get("in_reference", True),
        })
        if "temperature_K" in r:
            rows[-1]["temperature_K"] = r["temperature_K"]
    return rows


def _t(row) -> str:
    t = row.get("temperature_K")
    return "static" if t is None else f"{t:g}"


def _with_t(rows, cells: list[str], value: str) -> list[str]:
    """Insert the temperature cell after the material when the table has temperatures."""
    if any("temperature_K" in r for r in rows):
        return [cells[0], value, *cells[1:]]
    return cells


def _num(x, digits=2) -> str:
    if x is None:
        return "-"
    return f"{x:.{digits}f}"


def _ehull(row) -> str:
    if row["e_above_hull_meV"] is None:
        return "n/a (not in reference)"
    return f"{row['e_above_hull_meV']:.0f}"


def _cells(row, products_sep=", ") -> list[str]:
    return [row["material"], _num(row["reduction_V"]), _num(row["oxidation_V"]),
            products_sep.join(row["reduction_products"]) or "stable vs Li",
            products_sep.join(row["oxidation_products"]) or "-", _ehull(row)]


def latex_formula(formula: str) -> str:
    """Subscripted amounts for LaTeX and matplotlib's mathtext: ``Li7P3S11`` -> ``Li$_{7}$P$_{3}$S$_{11}$``."""
    return re.sub(r"(\d+(?:\.\d+)?)", r"$_{\1}$", formula)


def text_table(head: Sequence[str], body: Sequence[Sequence[str]], rstrip: bool = True) -> str:
    """A plain-text table: cells left-aligned in columns two spaces apart, one line per row
    (``rstrip``: without trailing blanks)."""
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in [head, *body]]
    return "\n".join(line.rstrip() if rstrip else line for line in lines) + "\n"


def format_table(rows: Sequence[dict], fmt: str) -> str:
    fmt = fmt.lower()
    has_t = any("temperature_K" in r for r in rows)
    if fmt == "json":
        return json.dumps([{k: r[k] for k in (*COLUMNS, "in_reference", "temperature_K") if k in r}
                           for r in rows], indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(_with_t(rows, list(COLUMNS), "temperature_K"))
        for r in rows:
            w.writerow(_with_t(rows, [r["material"], _num(r["reduction_V"], 3), _num(r["oxidation_V"], 3),
                                      " + ".join(r["reduction_products"]), " + ".join(r["oxidation_products"]),
                                      "" if r["e_above_hull_meV"] is None else f"{r['e_above_hull_meV']:.1f}"],
                               "" if r.get("temperature_K") is None else f"{r['temperature_K']:g}"))
        return buf.getvalue()
    if fmt == "md":
        head = _with_t(rows, [HEADERS[c] for c in COLUMNS], "T (K)")
        align = _with_t(rows, ["---"] + ["---:"] * 2 + ["---"] * 2 + ["---:"], "---:")
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
        for r in rows:
            c = _cells(r)
            c[0] = _marked(c[0], r, "md")
            lines.append("| " + " | ".join(_with_t(rows, c, _t(r))) + " |")
        notes = _footnotes(rows, "md")
        if notes:
            lines += [""] + [n + "  " if i < len(notes) - 1 else n for i, n in enumerate(notes)]
        return "\n".join(lines) + "\n"
    if fmt == "latex":
        spec = "lrrrllr" if has_t else "lrrllr"
        head = _with_t(rows, ["Material", r"$V_\mathrm{red}$ (V)", r"$V_\mathrm{ox}$ (V)", "Reduction products",
                              "Oxidation products", r"$E_\mathrm{hull}$ (meV/atom)"], "$T$ (K)")
        body = []
        for r in rows:
            c = _cells(r)
            red = ", ".join(latex_formula(p) for p in r["reduction_products"]) or "--"
            ox = ", ".join(latex_formula(p) for p in r["oxidation_products"]) or "--"
            eh = "--" if r["e_above_hull_meV"] is None else f"{r['e_above_hull_meV']:.0f}"
            t = "--" if r.get("temperature_K") is None else f"{r['temperature_K']:g}"
            body.append(_with_t(rows, [_marked(latex_formula(c[0]), r, "latex"), tex_number(c[1]),
                                       tex_number(c[2]), red, ox, tex_number(eh)], t))
        notes = ["Reduction products ``--'': stable against Li metal; oxidation products ``--'': no "
                 "oxidation limit."] + _footnotes(rows, "latex")
        return latex_table(spec, head, body, WINDOW_CAPTION, "tab:windows", notes)
    if fmt == "text":
        head = _with_t(rows, ["material", "V_red", "V_ox", "E_hull meV/at", "reduction products",
                              "oxidation products"], "T (K)")
        body = [_with_t(rows, [r["material"], _num(r["reduction_V"]), _num(r["oxidation_V"]), _ehull(r),
                               " + ".join(r["reduction_products"]) or "stable vs Li",
                               " + ".join(r["oxidation_products"]) or "-"], _t(r)) for r in rows]
        return text_table(head, body, rstrip=False)
    raise ValueError(f"unknown table format '{fmt}'")


# --------------------------------------------------------------------------- reactions

REACTION_CONVENTION = ("mutual reaction energy: measured from the line joining the end points of the curve, so "
                       "that neither reactant's own decomposition (listed separately at x = 0 and x = 1) is counted")
REACTION_COLUMNS = ("electrolyte", "partner", "potential_V", "x_min", "E_mutual_meV_per_atom", "products",
                    "reaction", "E_self_electrolyte_meV_per_atom", "E_self_partner_meV_per_atom")
NO_REACTION_MEV = 1.0


def non_li_fraction(formula: str) -> float:
    """Atom fraction of the elements other than Li in ``formula``."""
    from sseflow.analysis.formula import parse_formula

    comp = parse_formula(formula)
    n = sum(comp.values())
    return (n - comp.get("Li", 0.0)) / n if n else 1.0


def curve_variable(x: float, potential, fa: float, fb: float) -> float:
    """The variable E_rxn is piecewise linear in: x (closed system), the non-Li fraction y (open)."""
    if potential is None:
        return x
    den = (1.0 - x) * fa + x * fb
    return 0.0 if den <= 0 else x * fb / den


def reaction_rows(payloads: Sequence[dict]) -> list[dict]:
    """Table rows (one convention: mutual reaction energy) from reaction payloads or stored documents.

    Rows already in table form (from ``report.json``) are returned unchanged.
    """
    rows = []
    for p in payloads:
        if "E_mutual_meV_per_atom" in p or "mutual" in p:
            rows.append(dict(p.get("mutual") or p))
            continue
        kinks = list(p.get("kinks") or [])
        if not kinks:
            m = p["minimum"]
            kinks = [{"x": 0.0, "energy_meV_per_atom": 0.0, "products": [], "reaction": ""}, m,
                     {"x": 1.0, "energy_meV_per_atom": 0.0, "products": [], "reaction": ""}]
        kinks = sorted(kinks, key=lambda k: k["x"])
        v = p.get("potential_V")
        fa, fb = non_li_fraction(p["reactant_a"]), non_li_fraction(p["reactant_b"])
        e0, e1 = kinks[0]["energy_meV_per_atom"], kinks[-1]["energy_meV_per_atom"]
        e0, e1 = (0.0 if abs(e0) < 0.05 else e0), (0.0 if abs(e1) < 0.05 else e1)
        best, best_e = None, 0.0
        for k in kinks:
            y = curve_variable(k["x"], v, fa, fb)
            e = k["energy_meV_per_atom"] - (1.0 - y) * e0 - y * e1
            if best is None or e < best_e - 1e-9:
                best, best_e = k, e
        reacts = best_e < -NO_REACTION_MEV
        rows.append({"electrolyte": p["reactant_a"], "partner": p["reactant_b"], "potential_V": v,
                     "x_min": best["x"] if reacts else None, "E_mutual_meV_per_atom": 0.0 if abs(best_e) < 0.05 else best_e,
                     "products": list(best["products"]) if reacts else [],
                     "reaction": best["reaction"] if reacts else "",
                     "E_self_electrolyte_meV_per_atom": e0, "E_self_partner_meV_per_atom": e1})
    return rows


def _pot(v) -> str:
    return "chemical" if v is None else f"{v:g}"


def format_reactions(rows: Sequence[dict], fmt: str) -> str:
    """Reaction table (rows of :func:`reaction_rows`) as md, csv, latex or text; states its convention."""
    fmt = fmt.lower()
    if fmt == "json":
        return json.dumps(list(rows), indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(REACTION_COLUMNS)
        for r in rows:
            w.writerow([r["electrolyte"], r["partner"], "" if r["potential_V"] is None else f"{r['potential_V']:g}",
                        "" if r["x_min"] is None else f"{r['x_min']:.4f}", f"{r['E_mutual_meV_per_atom']:.1f}",
                        " + ".join(r["products"]), r["reaction"], f"{r['E_self_electrolyte_meV_per_atom']:.1f}",
                        f"{r['E_self_partner_meV_per_atom']:.1f}"])
        return buf.getvalue()
    cells = [[r["electrolyte"], r["partner"], _pot(r["potential_V"]), _num(r["x_min"], 4),
              f"{r['E_mutual_meV_per_atom']:.1f}", " + ".join(r["products"]) or "no reaction", r["reaction"] or "-",
              f"{r['E_self_electrolyte_meV_per_atom']:.1f}", f"{r['E_self_partner_meV_per_atom']:.1f}"] for r in rows]
    at_v = any(r["potential_V"] is not None for r in rows)
    unit = "meV/atom of mixture" + ("; per non-Li atom at a potential" if at_v else "")
    if fmt == "md":
        titles = ["Electrolyte", "Partner", "Potential (V)", "x at minimum", "E_rxn mutual (meV/atom)", "Products",
                  "Reaction", "E_self electrolyte (x=0)", "E_self partner (x=1)"]
        lines = ["| " + " | ".join(titles) + " |", "|---|---|---:|---:|---:|---|---|---:|---:|"]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        lines += ["", f"E_rxn: {REACTION_CONVENTION} ({unit}); x: atom fraction of the partner; potential "
                      "'chemical': closed system, otherwise open to Li at that potential (V vs Li/Li+)."]
        return "\n".join(lines) + "\n"
    if fmt == "latex":
        head = ["Electrolyte", "Partner", "$V$ (V)", r"$x_\mathrm{min}$", r"$E_\mathrm{rxn}$ (meV/atom)", "Products",
                r"$E_\mathrm{self}^\mathrm{SE}$", r"$E_\mathrm{self}^\mathrm{partner}$"]
        body = []
        for r, c in zip(rows, cells):
            prods = ", ".join(latex_formula(p) for p in r["products"]) or "--"
            body.append([latex_formula(c[0]), latex_formula(c[1]), "--" if r["potential_V"] is None else c[2], tex_number(c[3]),
                         tex_number(c[4]), prods, tex_number(c[7]), tex_number(c[8])])
        caption = (rf"Interfacial reactions: most negative $E_\mathrm{{rxn}}$ ({unit}), {REACTION_CONVENTION}; "
                   r"$E_\mathrm{self}$: the curve at $x = 0$ (electrolyte) and $x = 1$ (partner).")
        notes = [r"$V$ ``--'': chemical reaction (closed system); otherwise open to Li at $V$ vs Li/Li$^+$. "
                 r"Products ``--'': no reaction."]
        return latex_table("llrrrlrr", head, body, caption, "tab:reactions", notes)
    if fmt == "text":
        head = ["electrolyte", "partner", "potential_V", "x_min", "E_mutual_meV", "products"]
        return text_table(head, [c[:6] for c in cells])
    raise ValueError(f"unknown table format '{fmt}'")
