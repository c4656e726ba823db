"""``sseflow report --from-db``: a study's report rebuilt from stored documents, byte for byte.

The tiny EMT study of ``helpers.write_study`` (Al relaxed; Li-Al-O energies from a small table) runs on
the embedded store; its report is then regenerated into another folder from the database alone.
"""
from __future__ import annotations

import json

from helpers import sseflow, write_study
from sseflow.analysis.tables import format_reactions, format_table, reaction_rows, window_rows


def test_report_from_db_is_byte_identical(home, tmp_path, capsys):
    study = write_study(tmp_path)
    rc, out, err = sseflow(capsys, "study", study)
    assert rc == 0, err
    ref_dir, other = tmp_path / "out", tmp_path / "other"
    rc, out, err = sseflow(capsys, "report", "--from-db", "--study", "tiny", "-o", other)
    assert rc == 0, err
    assert out == ""  # messages go to stderr
    names = sorted(p.name for p in ref_dir.iterdir())
    assert sorted(p.name for p in other.iterdir()) == names
    for name in ("windows.md", "windows.csv", "windows.tex", "reactions.md", "reactions.csv", "reactions.tex",
                 "report.json", "windows.png", "reaction_LiAlO2_Li.png"):
        assert (other / name).read_bytes() == (ref_dir / name).read_bytes(), name

    for name in ("windows.tex", "reactions.tex"):
        tex = (ref_dir / name).read_text()
        assert "booktabs" in tex.splitlines()[0]
        for cmd in (r"\toprule", r"\midrule", r"\bottomrule", r"\caption{", r"\label{tab:"):
            assert cmd in tex, (name, cmd)
    tex = (ref_dir / "reactions.tex").read_text()
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0]
    assert "$-$" in body and " -" not in body.replace("--", "")  # LiAlO2 + Li reacts: a real minus
    assert "mutual reaction energy" in tex and "mutual reaction energy" in (ref_dir / "reactions.md").read_text()
    rep = json.loads((ref_dir / "report.json").read_text())
    assert rep["calculators"] == ["emt"] and rep["study"]["calculator"] == "emt"
    assert rep["reactions"][0]["mutual"]["E_mutual_meV_per_atom"] < -1.0
    assert rep["anodes"] == [{"anode": "Li", "potential_V": 0.0}]


def test_report_from_db_without_a_report_is_one_line_exit_2(home, capsys):
    rc, out, err = sseflow(capsys, "report", "--from-db", "--study", "nothing")
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "no completed report of study 'nothing'" in err


def test_flagged_materials_and_latex_numbers():
    rows = window_rows([
        {"formula": "Li6PS5Cl", "reduction_V": 1.71, "oxidation_V": 2.01, "reduction_products": ["Li2S", "Li3P", "LiCl"],
         "oxidation_products": ["S"], "e_above_hull_meV": 83.0, "in_reference": True},
        {"formula": "Li7P3S11", "reduction_V": 2.28, "oxidation_V": None, "reduction_products": ["P"],
         "oxidation_products": [], "e_above_hull_meV": None, "in_reference": False},
    ])
    md = format_table(rows, "md")
    assert "| Li6PS5Cl<sup>b</sup> |" in md and "| Li7P3S11<sup>a</sup> |" in md
    assert "<sup>a</sup> not in the reference set" in md and "<sup>b</sup> above the convex hull" in md
    tex = format_table(rows, "latex")
    assert r"Li$_{6}$PS$_{5}$Cl$^{b}$" in tex and r"Li$_{7}$P$_{3}$S$_{11}$$^{a}$" in tex
    row = next(ln for ln in tex.splitlines() if ln.startswith(r"Li$_{7}$"))
    assert row.endswith(r"-- & -- \\") and "n/a" not in tex  # no words in numeric columns


def test_reaction_table_excludes_self_decomposition():
    # Li6PS5Cl 83 meV/atom above the hull: the curve starts at -83 at x = 0, LiF does not react with it
    payload = {"reactant_a": "Li6PS5Cl", "reactant_b": "LiF", "potential_V": None,
               "minimum": {"x": 0.0, "energy_meV_per_atom": -83.1, "reaction": "", "products": ["Li2S"]},
               "kinks": [{"x": 0.0, "energy_meV_per_atom": -83.1, "reaction": "Li6PS5Cl -> ...", "products": ["Li2S"]},
                         {"x": 1.0, "energy_meV_per_atom": 0.0, "reaction": "LiF -> LiF", "products": ["LiF"]}]}
    (row,) = reaction_rows([payload])
    assert row["E_mutual_meV_per_atom"] == 0.0 and row["products"] == []
    assert row["E_self_electrolyte_meV_per_atom"] == -83.1
    tex = format_reactions([row], "latex")
    assert "& 0.0 &" in tex and "$-$83.1" in tex and "-83.1" not in tex.replace("$-$83.1", "")


def test_report_with_screening_from_db_is_byte_identical(home, tmp_path, capsys):
    """The screening section (tables and figure) is rebuilt from stored documents too."""
    study = write_study(tmp_path)
    text = study.read_text().replace("compute: {windows: true, reactions: true}",
                                     "interlayers: [Al2O3, Li2O]\ncompute: {windows: true, reactions: true, "
                                     "screening: true}")
    study.write_text(text)
    rc, out, err = sseflow(capsys, "study", study)
    assert rc == 0, err
    ref_dir, other = tmp_path / "out", tmp_path / "other"
    screening = sorted(p.name for p in ref_dir.iterdir() if "screening" in p.name)
    assert any(n.endswith(".md") for n in screening) and any(n.endswith(".png") for n in screening), screening
    rc, out, err = sseflow(capsys, "report", "--from-db", "--study", "tiny", "-o", other)
    assert rc == 0, err
    assert sorted(p.name for p in other.iterdir()) == sorted(p.name for p in ref_dir.iterdir())
    for p in ref_dir.iterdir():
        assert (other / p.name).read_bytes() == p.read_bytes(), p.name
