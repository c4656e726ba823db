from sseflow.analysis.tables import format_table, window_rows

ROWS = [
    {"formula": "Li3PS4", "reduction_V": 1.7207, "oxidation_V": 2.3632, "reduction_products": ["Li2S", "P"],
     "oxidation_products": ["LiS4", "P2S7"], "e_above_hull_meV": 0.0, "in_reference": True},
    {"formula": "Li1.3Al0.3Ti1.7(PO4)3", "reduction_V": 2.168, "oxidation_V": 4.21, "reduction_products": ["P"],
     "oxidation_products": ["O2"], "e_above_hull_meV": None, "in_reference": False},
]


def test_markdown_and_csv_rows():
    md = format_table(window_rows(ROWS), "md").splitlines()
    assert md[2] == "| Li3PS4 | 1.72 | 2.36 | Li2S, P | LiS4, P2S7 | 0 |"
    assert "n/a (not in reference)" in md[3]
    csv = format_table(window_rows(ROWS), "csv").splitlines()
    assert csv[1] == "Li3PS4,1.721,2.363,Li2S + P,LiS4 + P2S7,0.0"
    assert csv[2].endswith(",")  # no E_hull for a composition outside the reference set


def test_temperature_column_appears_only_with_temperatures():
    rows = [dict(ROWS[0], temperature_K=None), dict(ROWS[0], temperature_K=600.0, reduction_V=1.66)]
    md = format_table(window_rows(rows), "md").splitlines()
    assert md[0].startswith("| Material | T (K) | Reduction (V)")
    assert md[2].startswith("| Li3PS4 | static | 1.72") and md[3].startswith("| Li3PS4 | 600 | 1.66")
    tex = format_table(window_rows(rows), "latex")
    assert r"\begin{tabular}{lrrrllr}" in tex and "Li$_{3}$PS$_{4}$ & 600 & 1.66" in tex
    assert "T (K)" not in format_table(window_rows(ROWS), "md")
