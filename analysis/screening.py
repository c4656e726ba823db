"""Interlayer (coating) screening between a solid electrolyte and an anode.

For each candidate coating C between electrolyte E and anode M (Li, Si, a Li-Si alloy):

* ``rxn_anode_meV``: the most negative chemical reaction energy of C | M (closed system,
  meV/atom of mixture, :class:`sseflow.analysis.reactions.ReactionCalculator`), with both reactants
  at their hull energy (``use_hull_energy``): the *mutual* reaction. A reactant above the
  hull (Li6PS5Cl is 83 meV/atom above it in the Materials Project set, Li15Si4 1 meV/atom)
  would otherwise lend its own decomposition energy to every candidate; the coating's own
  metastability is reported separately (``coating_e_above_hull_meV``);
* ``rxn_electrolyte_meV``: the same for E | C;
* the coating's own window [``coating_reduction_V``, ``coating_oxidation_V``] vs Li/Li+;
* ``anode_potential_V``: the anode's potential (:func:`sseflow.analysis.anodes.anode_potential`:
  0 V for Li, the lithiation plateau of an alloy).

Criteria (STABLE_TOL_MEV = 1 meV/atom, POTENTIAL_TOL_V = 1 mV):

* stable vs anode: ``rxn_anode_meV >= -1`` AND ``coating_reduction_V <= anode_potential_V``
  (the coating's window reaches down to the anode's potential);
* stable vs electrolyte: ``rxn_electrolyte_meV >= -1``;
* ``bridges_electrolyte`` (reported, not in the verdict): the coating's oxidation limit is
  at or above the electrolyte's reduction limit, so some potential keeps both stable.

Ranking: stable on both sides first, then stable vs anode only, then stable vs electrolyte
only, then neither; within a tier the least negative of the two reaction energies first,
then the higher coating oxidation limit (none = no Li to extract, ranked as high), then the
formula.

Candidates the reference set does not cover (no entry with that composition, an element it
lacks, or excluded) are skipped with a note; the default list is :data:`DEFAULT_CANDIDATES`.
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from sseflow.analysis.anodes import anode_formula, anode_phase
from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import parse_formula, reduced_formula, reduced_formula_of
from sseflow.analysis.reactions import ReactionCalculator
from sseflow.analysis.reference import ReferenceSet
from sseflow.analysis.results import MSONResult
from sseflow.analysis.tables import latex_formula, text_table
from sseflow.analysis.window import WindowCalculator

#: Coatings and interlayers reported for Li and Si anodes with sulfide, oxide and halide
#: electrolytes: Li binaries (the passivating interphase products), Li oxysalts used as
#: cathode/anode coatings, an antiperovskite, and two Li-free ALD/ interlayer materials.
DEFAULT_CANDIDATES: tuple[str, ...] = (
    "LiF", "Li3N", "Li3PO4", "Li2O", "LiCl", "Li3P", "Li2S", "LiAlO2", "Li3OCl", "Li2CO3", "LiI", "LiBr",
    "Li3BO3", "Li2SiO3", "Li4SiO4", "LiNbO3", "Li2ZrO3", "LiTaO3", "Li4Ti5O12", "Li3AlF6", "Li3BN2",
    "Al2O3", "MgF2",
)
STABLE_TOL_MEV = 1.0
POTENTIAL_TOL_V = 1e-3


@dataclass(eq=False)
class Screening(MSONResult):
    electrolyte: str
    anode: str
    anode_potential_V: float
    rows: list[dict]
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (candidate, why)
    baseline: dict | None = None      # the electrolyte's own reaction with the anode

    def __post_init__(self):
        self.skipped = [tuple(s) for s in self.skipped]   # JSON gives (candidate, why) back as lists

    def to_dataframe(self):
        """The ranked rows as a pandas DataFrame, one row per candidate in rank order, one column
        per row key (``rank``, ``candidate``, ``coating_reduction_V`` ... ``verdict``). ``attrs``
        hold the electrolyte, the anode and its potential."""
        import pandas as pd

        df = pd.DataFrame([dict(r) for r in self.rows], columns=list(self.rows[0]) if self.rows else None)
        df.attrs.update(electrolyte=self.electrolyte, anode=self.anode, anode_potential_V=self.anode_potential_V)
        return df

    @property
    def notes(self) -> list[str]:
        out = [f"{c}: skipped ({why})" for c, why in self.skipped]
        if self.baseline is not None:
            b = self.baseline
            out.insert(0, f"without an interlayer, {self.electrolyte} | {self.anode}: "
                          f"{b['energy_meV_per_atom']:.1f} meV/atom ({', '.join(b['products'])})")
        return out


def _covered(calc: WindowCalculator, formula: str) -> str | None:
    """None when the reference set has an entry of this composition, else why not."""
    comp = parse_formula(formula)
    if reduced_formula(comp) in {reduced_formula_of(f) for f in calc.exclude}:
        return "excluded"
    try:
        calc.space(comp)
    except InputError:
        return "its chemical system is not covered by the reference set"
    if not calc.reference.matching(comp, calc.exclude):
        return "not in the reference set"
    return None


def screen(electrolyte, anode, reference: ReferenceSet, candidates: Sequence | None = None,
           exclude: Iterable[str] = (), calculator: ReactionCalculator | None = None) -> Screening:
    """Rank ``candidates`` (default :data:`DEFAULT_CANDIDATES`) as interlayers between
    ``electrolyte`` and ``anode``. Each may be a formula string, a pymatgen Composition,
    Structure or entry, an ASE Atoms or a dict {element: amount}; structures, Atoms and entries
    are screened as their reduced formula (:mod:`sseflow.analysis.inputs`)."""
    from sseflow.analysis.inputs import as_formula

    rc = calculator or ReactionCalculator(reference, exclude)
    calc = rc.windows
    electrolyte = as_formula(electrolyte, "electrolyte")
    anode = anode_formula(anode if isinstance(anode, str) else as_formula(anode, "anode"))
    cands = [as_formula(c, "candidate") for c in candidates] if candidates else list(DEFAULT_CANDIDATES)
    an = anode_phase(calc, anode)
    v_anode = an.potential_V
    el_window = calc.window(electrolyte, profile=False)
    base = rc.react(electrolyte, anode, use_hull_energy=True).minimum.to_dict()

    rows: list[dict] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for c in cands:
        if c in seen:
            continue
        seen.add(c)
        why = _covered(calc, c)
        if why:
            skipped.append((c, why))
            continue
        r_an = rc.react(c, anode, use_hull_energy=True).minimum
        r_el = rc.react(electrolyte, c, use_hull_energy=True).minimum
        w = calc.window(c, profile=False)
        reaches = w.reduction_V <= v_anode + POTENTIAL_TOL_V
        ok_an = r_an.energy_meV_per_atom >= -STABLE_TOL_MEV and reaches
        ok_el = r_el.energy_meV_per_atom >= -STABLE_TOL_MEV
        bridges = w.oxidation_V is None or w.oxidation_V >= el_window.reduction_V - POTENTIAL_TOL_V
        rows.append({
            "rank": 0,
            "candidate": c,
            "electrolyte": electrolyte,
            "anode": anode,
            "anode_potential_V": round(v_anode, 6),
            "coating_reduction_V": w.reduction_V,
            "coating_oxidation_V": w.oxidation_V,
            "coating_e_above_hull_meV": w.e_above_hull_meV,
            "rxn_anode_meV": r_an.energy_meV_per_atom,
            "anode_x": r_an.x,
            "anode_reaction": r_an.reaction,
            "anode_products": r_an.products,
            "rxn_electrolyte_meV": r_el.energy_meV_per_atom,
            "electrolyte_x": r_el.x,
            "electrolyte_reaction": r_el.reaction,
            "electrolyte_products": r_el.products,
            "window_reaches_anode": bool(reaches),
            "stable_vs_anode": bool(ok_an),
            "stable_vs_electrolyte": bool(ok_el),
            "bridges_electrolyte": bool(bridges),
            "verdict": _verdict(ok_an, ok_el, r_an.energy_meV_per_atom, r_el.energy_meV_per_atom, reaches,
                                w.reduction_V, v_anode),
        })
    if not rows:
        raise InputError("no candidate is covered by the reference set: "
                         + "; ".join(f"{c} ({why})" for c, why in skipped))
    rows.sort(key=_rank_key)
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    return Screening(electrolyte, anode, v_anode, rows, skipped, base)


def _verdict(ok_an, ok_el, e_an, e_el, reaches, v_red, v_anode) -> str:
    if ok_an and ok_el:
        return "stable on both sides"
    parts = []
    if e_an < -STABLE_TOL_MEV:
        parts.append(f"reacts with anode ({e_an:.0f} meV/atom)")
    elif not reaches:
        parts.append(f"reduced above the anode potential ({v_red:.2f} V > {v_anode:.2f} V)")
    if not ok_el:
        parts.append(f"reacts with electrolyte ({e_el:.0f} meV/atom)")
    if ok_an:
        parts.insert(0, "stable vs anode")
    elif ok_el:
        parts.append("stable vs electrolyte")
    return "; ".join(parts)


def _rank_key(r: dict):
    tier = {(True, True): 0, (True, False): 1, (False, True): 2, (False, False): 3}[
        (r["stable_vs_anode"], r["stable_vs_electrolyte"])]
    worst = min(r["rxn_anode_meV"], r["rxn_electrolyte_meV"])
    v_ox = r["coating_oxidation_V"]
    return (tier, -round(worst, 3), -(math.inf if v_ox is None else round(v_ox, 4)), r["candidate"])


# ---------------------------------------------------------------------------- tables
COLUMNS = ("rank", "candidate", "coating_reduction_V", "coating_oxidation_V", "coating_e_above_hull_meV",
           "rxn_anode_meV", "anode_products", "rxn_electrolyte_meV", "electrolyte_products", "verdict")
HEADERS = ("Rank", "Coating", "V_red (V)", "V_ox (V)", "E_hull (meV/atom)", "E_rxn anode (meV/atom)",
           "Products with anode", "E_rxn electrolyte (meV/atom)", "Products with electrolyte", "Verdict")


def _v(x, d=2) -> str:
    return "-" if x is None else f"{x:.{d}f}"


def _e(x) -> str:
    return f"{0.0 if abs(x) < 0.05 else x:.1f}"


def _cells(r: dict, sep=", ") -> list[str]:
    no_rx = "none"
    return [str(r["rank"]), r["candidate"], _v(r["coating_reduction_V"]), _v(r["coating_oxidation_V"]),
            _v(r["coating_e_above_hull_meV"], 0), _e(r["rxn_anode_meV"]),
            sep.join(r["anode_products"]) if r["rxn_anode_meV"] < -STABLE_TOL_MEV else no_rx,
            _e(r["rxn_electrolyte_meV"]),
            sep.join(r["electrolyte_products"]) if r["rxn_electrolyte_meV"] < -STABLE_TOL_MEV else no_rx,
            r["verdict"]]


def _products(r: dict, side: str) -> str:
    """Products at the minimum, empty when there is no reaction."""
    return " + ".join(r[f"{side}_products"]) if r[f"rxn_{side}_meV"] < -STABLE_TOL_MEV else ""


def format_screening(rows: Sequence[dict], fmt: str = "text") -> str:
    """The ranked table as ``text``, ``md``, ``csv``, ``latex`` or ``json``."""
    fmt = fmt.lower()
    if fmt == "json":
        return json.dumps(list(rows), indent=2, allow_nan=False)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([r["rank"], r["candidate"], _v(r["coating_reduction_V"], 3), _v(r["coating_oxidation_V"], 3),
                        _v(r["coating_e_above_hull_meV"], 1), f"{r['rxn_anode_meV']:.2f}", _products(r, "anode"),
                        f"{r['rxn_electrolyte_meV']:.2f}", _products(r, "electrolyte"), r["verdict"]])
        return buf.getvalue()
    from sseflow.analysis.tables import flagged_name, flag_notes

    coating = [{"e_above_hull_meV": r.get("coating_e_above_hull_meV")} for r in rows]
    if fmt == "md":
        lines = ["| " + " | ".join(HEADERS) + " |",
                 "|" + "|".join(["---:", "---", "---:", "---:", "---:", "---:", "---", "---:", "---", "---"]) + "|"]
        for r, c in zip(rows, coating):
            cells = _cells(r)
            cells[1] = flagged_name(cells[1], c, "md")
            lines.append("| " + " | ".join(cells) + " |")
        notes = flag_notes(coating, "md")
        return "\n".join(lines) + "\n" + ("\n" + "<br>\n".join(notes) + "\n" if notes else "")
    if fmt == "latex":
        lines = [r"\begin{tabular}{rlrrrrlrll}", r"\toprule",
                 r"Rank & Coating & $V_\mathrm{red}$ (V) & $V_\mathrm{ox}$ (V) & $E_\mathrm{hull}$ (meV/atom) & "
                 r"$E_\mathrm{rxn}^\mathrm{anode}$ (meV/atom) & Products & "
                 r"$E_\mathrm{rxn}^\mathrm{SE}$ (meV/atom) & Products & Verdict \\", r"\midrule"]
        for r, flag_row in zip(rows, coating):
            c = _cells(r)
            c[1] = flagged_name(latex_formula(c[1]), flag_row, "latex")
            c[6] = ", ".join(latex_formula(p) for p in c[6].split(", "))
            c[8] = ", ".join(latex_formula(p) for p in c[8].split(", "))
            c[3] = "--" if c[3] == "-" else c[3]
            c[4] = "--" if c[4] == "-" else c[4]
            lines.append(" & ".join(c) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        notes = flag_notes(coating, "latex")
        if notes:
            lines += [r"\par\smallskip", r"{\footnotesize " + r" \\ ".join(notes) + "}"]
        return "\n".join(lines) + "\n"
    if fmt == "text":
        head = ["#", "coating", "V_red", "V_ox", "E_hull", "E_anode", "products (anode)", "E_SE",
                "products (electrolyte)", "verdict"]
        body = [_cells(r, " + ") for r in rows]
        return text_table(head, body)
    raise InputError(f"unknown table format '{fmt}': use text, md, csv, latex or json")
