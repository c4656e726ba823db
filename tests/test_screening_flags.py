"""Screening tables flag coatings above the hull or outside the reference set (Markdown and LaTeX)."""
from __future__ import annotations

from sseflow.analysis.screening import format_screening, screen


def test_above_hull_and_unreferenced_coatings_are_marked(mp_reference):
    rows = [dict(r) for r in screen("Li3PS4", "Li", mp_reference, candidates=["LiF", "Li3N"]).rows]
    assert all("<sup>" not in line for line in format_screening(rows, "md").splitlines())
    rows[0]["coating_e_above_hull_meV"] = 30.0
    rows[1]["coating_e_above_hull_meV"] = None
    md = format_screening(rows, "md")
    assert f"| {rows[0]['candidate']}<sup>b</sup> |" in md and f"| {rows[1]['candidate']}<sup>a</sup> |" in md
    assert "<sup>a</sup> not in the reference set" in md and "<sup>b</sup> above the convex hull" in md
    tex = format_screening(rows, "latex")
    assert "$^{b}$" in tex and "$^{a}$ not in the reference set" in tex
    assert format_screening(rows, "csv").count("<sup>") == 0  # CSV keeps plain names
