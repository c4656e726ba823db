"""Stability-window tables as Markdown, CSV, LaTeX, JSON or plain text."""
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


def _latex_formula(f: str) -> str:
    return re.sub(r"(\d+(?:\.\d+)?)", r"$_{\1}$", f)


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
        lines += ["| " + " | ".join(_with_t(rows, _cells(r), _t(r))) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    if fmt == "latex":
        spec = "lrrrllr" if has_t else "lrrllr"
        head = _with_t(rows, ["Material", r"$V_\mathrm{red}$ (V)", r"$V_\mathrm{ox}$ (V)", "Reduction products",
                              "Oxidation products", r"$E_\mathrm{hull}$ (meV/atom)"], "$T$ (K)")
        lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(head) + r" \\", r"\midrule"]
        for r in rows:
            c = _cells(r)
            red = ", ".join(_latex_formula(p) for p in r["reduction_products"]) or "stable vs Li"
            ox = ", ".join(_latex_formula(p) for p in r["oxidation_products"]) or "--"
            eh = "--" if r["e_above_hull_meV"] is None else f"{r['e_above_hull_meV']:.0f}"
            cells = _with_t(rows, [_latex_formula(c[0]), c[1], c[2], red, ox, eh], _t(r))
            lines.append(" & ".join(cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines) + "\n"
    if fmt == "text":
        head = _with_t(rows, ["material", "V_red", "V_ox", "E_hull meV/at", "reduction products",
                              "oxidation products"], "T (K)")
        body = [_with_t(rows, [r["material"], _num(r["reduction_V"]), _num(r["oxidation_V"]), _ehull(r),
                               " + ".join(r["reduction_products"]) or "stable vs Li",
                               " + ".join(r["oxidation_products"]) or "-"], _t(r)) for r in rows]
        widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
        out = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
        out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in body]
        return "\n".join(out) + "\n"
    raise ValueError(f"unknown table format '{fmt}'")
