import pytest

from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import parse_formula, reduced_formula, reduced_formula_of


def test_parse_nested_and_fractional():
    c = parse_formula("Li1.3Al0.3Ti1.7(PO4)3")
    assert c["P"] == pytest.approx(3.0) and c["O"] == pytest.approx(12.0) and c["Al"] == pytest.approx(0.3)
    assert parse_formula("[Li2(SO4)]2") == {"Li": 4.0, "S": 2.0, "O": 8.0}


@pytest.mark.parametrize("raw,red", [("Li12P4S16", "Li3PS4"), ("Li5P3Si", "Li5SiP3"), ("O4", "O2"),
                                     ("Li2O2", "Li2O2"), ("Li7La3Zr2O12", "Li7La3Zr2O12"), ("P2Si1", "SiP2")])
def test_reduced_formula(raw, red):
    assert reduced_formula_of(raw) == red


@pytest.mark.parametrize("bad,word", [("Xx2", "unknown element 'Xx'"), ("Li3PS4)", "unbalanced"),
                                      ("li3", "unexpected character"), ("Li 2", "whitespace"),
                                      ("", "empty"), ("3Li", "does not follow"), ("Li0S", "zero amount")])
def test_malformed(bad, word):
    with pytest.raises(InputError, match=word):
        parse_formula(bad)
