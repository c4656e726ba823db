"""Reaction curves on hand-made hulls, with every number worked out by hand."""
import json

import pytest

from sseflow.analysis.anodes import anode_potential, lithiation_series
from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import parse_formula
from sseflow.analysis.reactions import ReactionCalculator, reaction_energy
from sseflow.analysis.reference import ReferenceSet
from sseflow.analysis.window import WindowCalculator

from helpers import run_cli

# Li-Sn: hull points (Li fraction, eV/atom) (0, 0), (1/2, -0.2), (2/3, -0.15), (1, 0); LiSn2 above the hull
LI_SN = [("Li", 0.0), ("Sn", 0.0), ("LiSn", -0.2), ("Li2Sn", -0.15), ("LiSn2", -0.1)]
# Al-Sb-Li: no Al-Sb compound; LiAlSb needs Li
AL_SB = [("Li", 0.0), ("Al", 0.0), ("Sb", 0.0), ("LiAlSb", -0.3)]
# Li-F-Mg: LiF only binary with Li
LI_F = [("Li", 0.0), ("F", 0.0), ("LiF", -3.0)]


def calc(rows):
    return ReactionCalculator(ReferenceSet.from_entries(rows))


def kink_table(r):
    return [(round(k.x, 9), round(k.energy_meV_per_atom, 6)) for k in r.kinks]


# ---------------------------------------------------------------- closed system
def test_no_reaction_flat_zero_curve():
    r = calc(LI_F).react("LiF", "Li")
    assert kink_table(r) == [(0.0, 0.0), (1.0, 0.0)]
    assert r.minimum.energy_meV_per_atom == pytest.approx(0.0, abs=1e-9)
    assert not r.reacts
    assert r.energy_source_a == "reference entry"
    # two elements without any compound: flat as well
    r2 = calc(AL_SB).react("Al", "Sb")
    assert [e for _, e in kink_table(r2)] == [0.0, 0.0]


def test_minimum_on_a_kink():
    # Sn + Li: E_rxn(x) = E_hull(x): kinks at LiSn (x=1/2, -200) and Li2Sn (x=2/3, -150)
    r = calc(LI_SN).react("Sn", "Li")
    assert kink_table(r) == [(0.0, 0.0), (0.5, -200.0), (round(2 / 3, 9), -150.0), (1.0, 0.0)]
    m = r.minimum
    assert m.x == pytest.approx(0.5, abs=1e-12)
    assert m.energy_meV_per_atom == pytest.approx(-200.0, abs=1e-9)
    assert m.reaction == "Sn + Li -> LiSn"
    assert m.products == ["LiSn"]
    assert m.energy_eV_per_reaction == pytest.approx(-0.4)          # 2 atoms x -0.2 eV
    assert r.kinks[2].reaction == "Sn + 2 Li -> Li2Sn"
    # the curve between kinks is exact (linear in the closed system)
    assert r.energy_at(0.25) == pytest.approx(-100.0)
    # LiSn + Li: one kink at Li2Sn, x = 1/3: -0.15 - (2/3)(-0.2) = -16.67 meV/atom
    r2 = calc(LI_SN).react("LiSn", "Li")
    assert r2.minimum.x == pytest.approx(1 / 3)
    assert r2.minimum.energy_meV_per_atom == pytest.approx(-50 / 3)
    assert r2.minimum.reaction == "LiSn + Li -> Li2Sn"


def test_reactant_energy_sources():
    c = calc(LI_SN)
    # Li3Sn2 is not in the set: its hull energy (-0.17 eV/atom) is used; kink at Li2Sn, x = 1/6
    r = c.react("Li3Sn2", "Li")
    assert r.energy_source_a == "hull (not in reference set)"
    assert r.energy_source_b == "reference entry"
    assert r.energy_a_eV_per_atom == pytest.approx(-0.17)
    assert r.minimum.x == pytest.approx(1 / 6)
    assert r.minimum.energy_meV_per_atom == pytest.approx(-0.15 * 1000 + 5 / 6 * 170)
    assert any("not in the reference set" in n for n in r.notes)
    # LiSn2 lies 33.3 meV/atom above the hull: the curve starts below zero, unless use_hull_energy
    r = c.react("LiSn2", "Li")
    assert r.kinks[0].energy_meV_per_atom == pytest.approx(-100.0 / 3)
    assert r.kinks[0].reaction == "LiSn2 -> LiSn + Sn"
    r = c.react("LiSn2", "Li", use_hull_energy=True)
    assert r.kinks[0].energy_meV_per_atom == pytest.approx(0.0, abs=1e-9)
    # a given energy wins
    r = c.react("Li3Sn2", "Li", energy_a=-0.1)
    assert r.energy_source_a == "given"
    assert r.kinks[0].energy_meV_per_atom == pytest.approx(-70.0)


# ---------------------------------------------------------------- open system
def test_potential_dependent_reaction_flips_between_0_and_3_V():
    c = calc(AL_SB)
    # closed: no reaction
    assert c.react("Al", "Sb").minimum.energy_meV_per_atom == pytest.approx(0.0, abs=1e-9)
    # at 0 V: Al + Sb + Li -> LiAlSb, Phi = (-0.9 + 0) eV over 2 non-Li atoms: -450 meV/non-Li atom
    r0 = c.react("Al", "Sb", potential=0.0)
    assert r0.minimum.x == pytest.approx(0.5)
    assert r0.minimum.energy_meV_per_atom == pytest.approx(-450.0)
    assert r0.minimum.reaction == "Al + Sb + Li -> LiAlSb"
    assert r0.minimum.products == ["LiAlSb"]
    # at 0.5 V: (-0.9 + 0.5) / 2 = -200
    assert c.react("Al", "Sb", potential=0.5).minimum.energy_meV_per_atom == pytest.approx(-200.0)
    # at 3 V LiAlSb gives its Li back: no reaction
    r3 = c.react("Al", "Sb", potential=3.0)
    assert r3.minimum.energy_meV_per_atom == pytest.approx(0.0, abs=1e-9)
    assert r0.reacts and not r3.reacts
    assert r3.potential_V == 3.0


def test_open_system_reactant_conventions_and_x_conversion():
    c = calc(AL_SB)
    # LiAlSb alone is oxidised at 3 V (Phi = +1.05 eV per non-Li atom vs 0 for Al + Sb):
    # mutual reaction with Al: none; with its own decomposition: -1050 at x = 0
    r = c.react("LiAlSb", "Al", potential=3.0)
    assert r.minimum.energy_meV_per_atom == pytest.approx(0.0, abs=1e-9)
    assert r.kinks[0].reaction == "LiAlSb -> Al + Sb + Li"
    r = c.react("LiAlSb", "Al", potential=3.0, include_decomposition=True)
    assert r.minimum.x == 0.0
    assert r.minimum.energy_meV_per_atom == pytest.approx(-1050.0)
    # at 0 V with Al: LiAlSb + Li... nothing more to take: flat
    r = c.react("LiAlSb", "Sb", potential=0.0)
    assert r.minimum.energy_meV_per_atom == pytest.approx(0.0, abs=1e-9)
    # x is the atom fraction of B among the normalised full compositions: LiAlSb (2/3 non-Li) + Sb
    # at y = 1/3 non-Li fraction of Sb: x = y f_A / (y f_A + (1 - y) f_B) = (2/9) / (2/9 + 2/3) = 1/4
    r = c.react("LiAlSb", "Sb", potential=0.0)
    assert r._x_of_y(1 / 3) == pytest.approx(0.25)
    assert r.energy_at(0.25) == pytest.approx(0.0, abs=1e-9)


def test_li_is_not_a_partner_at_a_potential_and_other_bad_input():
    c = calc(AL_SB)
    with pytest.raises(InputError, match="reservoir"):
        c.react("Al", "Li", potential=1.0)
    with pytest.raises(InputError, match=">= 0"):
        c.react("Al", "Sb", potential=-0.5)
    with pytest.raises(InputError, match="unknown element"):
        c.react("Al", "Xx")
    with pytest.raises(InputError, match="not covered"):
        c.react("Al", "Fe")


def test_matches_pymatgen_on_hand_made_hulls():
    pytest.importorskip("pymatgen")
    from sseflow.analysis.reactions import pymatgen_reaction

    for rows, a, b, v in [(LI_SN, "Sn", "Li", None), (LI_SN, "LiSn2", "Li", None), (AL_SB, "Al", "Sb", 0.0),
                          (AL_SB, "Al", "Sb", 0.5), (AL_SB, "LiAlSb", "Sb", 1.0)]:
        rs = ReferenceSet.from_entries(rows)
        ours = ReactionCalculator(rs).react(a, b, potential=v)
        ents = rs.entries_in({el for f, _ in rows for el in parse_formula(f)})
        pm = pymatgen_reaction(a, b, ents, potential=v)
        x, e = pm.minimum
        assert ours.minimum.energy_meV_per_atom == pytest.approx(e * 1000, abs=1e-6), (a, b, v)
        assert len(pm.get_kinks()) == len(ours.kinks)


# ---------------------------------------------------------------- anodes
LI_SI = [("Li", 0.0), ("Si", 0.0), ("LiSi", -0.2), ("Li3Si", -0.15), ("Li2Si3", 0.1)]


def test_anode_potentials_and_lithiation_series():
    w = WindowCalculator(ReferenceSet.from_entries(LI_SI))
    # Si + Li -> LiSi: 0.4 eV per Li; LiSi + 2 Li -> Li3Si: 0.2 eV per 2 Li; Li3Si | Li: 0 V
    assert anode_potential(w, "Si") == pytest.approx(0.4)
    assert anode_potential(w, "LiSi") == pytest.approx(0.1)
    assert anode_potential(w, "Li3Si") == pytest.approx(0.0, abs=1e-9)
    assert anode_potential(w, "lithium") == 0.0
    series = lithiation_series(w)
    assert [p.formula for p in series] == ["Si", "LiSi", "Li3Si"]
    assert [p.li_per_si for p in series] == [0.0, 1.0, 3.0]
    assert series[1].upper_V == pytest.approx(0.4)
    with pytest.raises(InputError, match="not a Li-Si phase"):
        lithiation_series(w, ["Si", "Li2O"])
    assert [p.formula for p in lithiation_series(w, ["LiSi", "Si"])] == ["Si", "LiSi"]


def test_reaction_energy_shortcut_and_dict_keys():
    r = reaction_energy("Sn", "Li", ReferenceSet.from_entries(LI_SN))
    d = r.to_dict()
    for key in ("reactant_a", "reactant_b", "potential_V", "minimum", "kinks"):
        assert key in d
    assert set(d["minimum"]) >= {"x", "energy_meV_per_atom", "reaction", "products"}
    assert d["potential_V"] is None
    json.dumps(d, allow_nan=False)


# ---------------------------------------------------------------- CLI on a small CSV
@pytest.fixture(scope="module")
def sn_csv(tmp_path_factory):
    p = tmp_path_factory.mktemp("react") / "lisn.csv"
    p.write_text("formula,energy\n" + "".join(f"{f},{e}\n" for f, e in LI_SN + LI_SI[1:4] + AL_SB[1:]))
    return p


def test_cli_react_json_and_plot(sn_csv, tmp_path):
    fig = tmp_path / "rxn.png"
    res = run_cli("react", "Sn", "Li", "--reference", sn_csv, "--json", "--plot", fig)
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    assert d["reactant_a"] == "Sn" and d["reactant_b"] == "Li" and d["potential_V"] is None
    assert d["minimum"]["energy_meV_per_atom"] == pytest.approx(-200.0)
    assert d["minimum"]["products"] == ["LiSn"]
    assert len(d["kinks"]) == 4
    assert fig.stat().st_size > 1000


def test_cli_react_text_potential_and_lithiation_path(sn_csv):
    res = run_cli("react", "Al", "Sb", "--reference", sn_csv, "--potential", "0")
    assert res.returncode == 0, res.stderr
    assert "Al + Sb + Li -> LiAlSb" in res.stdout and "-450.0" in res.stdout
    res = run_cli("react", "Sn", "--lithiation-path", "--reference", sn_csv, "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["alloy"] for r in rows] == ["Si", "LiSi", "Li3Si"]
    assert all(r["minimum"]["energy_meV_per_atom"] <= 0 for r in rows)


@pytest.mark.parametrize("args, message", [
    (["Sn", "Lx"], "unknown element"),
    (["Sn(", "Li"], "malformed formula"),
    (["Sn", "Li", "--potential", "1"], "reservoir"),
    (["Sn", "Li", "--plot", "fig.txt"], ".png, .svg or .pdf"),
    (["Sn"], "two compositions"),
    (["Sn", "Fe"], "not covered"),
])
def test_cli_react_bad_input(sn_csv, args, message):
    res = run_cli("react", *args, "--reference", sn_csv)
    assert res.returncode == 2
    assert message in res.stderr
    assert len([ln for ln in res.stderr.splitlines() if ln.startswith("sseflow: error")]) == 1
    assert "Traceback" not in res.stderr


def test_cli_react_missing_reference(tmp_path):
    res = run_cli("react", "Sn", "Li", "--reference", tmp_path / "none.csv")
    assert res.returncode == 2 and "not found" in res.stderr


def test_both_kink_methods_agree_and_fallback(monkeypatch):
    import sseflow.analysis.reactions as R

    cases = [(LI_SN, "Sn", "Li", None), (LI_SN, "LiSn2", "Li2Sn", None), (LI_SN, "Li3Sn2", "Sn", None),
             (AL_SB, "Al", "Sb", 0.0), (AL_SB, "LiAlSb", "Sb", 1.0), (AL_SB, "Al", "LiAlSb", None)]

    def table(r):
        return [(round(k.x, 9), round(k.energy_meV_per_atom, 6), tuple(k.products), k.reaction) for k in r.kinks]

    for rows, a, b, v in cases:
        c = calc(rows)
        assert table(c.react(a, b, potential=v)) == table(c.react(a, b, potential=v, method="tangents")), (a, b, v)
    with pytest.raises(InputError, match="unknown kink method"):
        calc(LI_SN).react("Sn", "Li", method="sampling")
    # the walk gives up (numerical trouble): the LP route answers
    ref = table(calc(LI_SN).react("Sn", "Li"))
    monkeypatch.setattr(R, "_parametric", lambda *a, **k: None)
    assert table(calc(LI_SN).react("Sn", "Li")) == ref


def test_plots_of_several_curves(tmp_path):
    from sseflow.analysis.reaction_plots import plot_reaction

    c = calc(AL_SB)
    same_pair = [c.react("Al", "Sb")] + [c.react("Al", "Sb", potential=v) for v in (0.0, 3.0)]
    fig = plot_reaction(same_pair, tmp_path / "pots.svg")  # the Figure, also written to the file
    assert len(fig.axes[0].lines) >= 3 * 3 and (tmp_path / "pots.svg").stat().st_size > 1000
    partners = [c.react("Al", b) for b in ("Sb", "LiAlSb")]
    plot_reaction(partners, tmp_path / "partners.pdf")
    assert (tmp_path / "partners.pdf").stat().st_size > 1000
    assert plot_reaction([r.to_dict() for r in partners]).axes[0].get_legend() is not None  # payloads, no file
    with pytest.raises(InputError):
        plot_reaction(partners, tmp_path / "x.gif")
