"""Entries at temperature (sseflow.analysis.thermo, sseflow.workflows.temperature): pure arrays and hand-made entries."""
import numpy as np
import pytest
from scipy.optimize import brentq

from sseflow.analysis.entries import Entry
from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import parse_formula
from sseflow.analysis.hull import PhaseSpace
from sseflow.analysis.reference import ReferenceSet
from sseflow.analysis.thermo import (
    GASES,
    J_MOL_K_PER_EV_K,
    KB,
    FreeEnergyTable,
    crossover_temperatures,
    debye_entropy,
    debye_free_energy,
    einstein_free_energy,
    entries_at_temperature,
    entropy_debye_temperature,
    formation_free_energy,
    gas_entropy,
    gas_free_energy,
)
from sseflow.analysis.window import WindowCalculator

T = np.arange(0.0, 1501.0, 10.0)


def table(formula, theta, key=None):
    return FreeEnergyTable(formula, T, einstein_free_energy(T, theta), source=key or "einstein")


def E(name, ef, eid=""):
    return Entry(name, parse_formula(name), ef, eid or name)


# ----------------------------------------------------------------------------- models

def test_einstein_and_debye_limits():
    theta = 300.0
    assert einstein_free_energy([0.0], theta)[0] == pytest.approx(1.5 * KB * theta)
    assert debye_free_energy([0.0], theta)[0] == pytest.approx(9 / 8 * KB * theta, rel=1e-4)
    # high T: F -> 3kT ln(theta/T) (+ small terms), S -> 3k(1 + ln(T/theta))  (Einstein)
    t = 20000.0
    f = einstein_free_energy([t], theta)[0]
    assert f == pytest.approx(3 * KB * t * np.log(theta / t) + 0.0, rel=2e-3)
    # Debye entropy inverts
    s = debye_entropy([298.15], 344.0)[0]
    assert entropy_debye_temperature(s, 298.15) == pytest.approx(344.0, abs=0.5)


def test_formation_free_energy_broadcasts():
    comp = {"Li": 2, "S": 1}
    fa = einstein_free_energy(T, 400)
    fl = einstein_free_energy(T, 300)
    fs = einstein_free_energy(T, 250)
    g = formation_free_energy(-1.0, comp, fa, {"Li": fl, "S": fs})
    assert g.shape == T.shape
    assert g[30] == pytest.approx(-1.0 + fa[30] - 2 / 3 * fl[30] - 1 / 3 * fs[30])
    with pytest.raises(InputError):
        formation_free_energy(-1.0, comp, fa, {"Li": fl})


# ----------------------------------------------------------------------------- the synthetic crossover

def test_small_free_energy_difference_reorders_two_polymorphs_at_known_temperature():
    """alpha-LiS: 20 meV/atom lower in static energy (7 meV/atom with zero-point energies) but stiffer (Einstein 450 K) than beta (350 K).
    The vibrational free-energy difference (a few meV/atom at room temperature) overturns the
    order at T*, the root of E_a + F_a(T) = E_b + F_b(T)."""
    ea, eb, th_a, th_b = -0.500, -0.480, 450.0, 350.0
    t_star = brentq(lambda t: (ea + einstein_free_energy([t], th_a)[0]) - (eb + einstein_free_energy([t], th_b)[0]),
                    1.0, 1500.0)
    assert 100.0 < t_star < 1000.0

    entries = [E("Li", 0.0), E("S", 0.0), E("LiS", ea, "alpha"), E("LiS", eb, "beta")]
    tables = {"Li": table("Li", 300), "S": table("S", 250), "alpha": table("LiS", th_a), "beta": table("LiS", th_b)}

    # on arrays: the crossover of the two formation free energies
    g = {}
    for pid, ef, th in (("alpha", ea, th_a), ("beta", eb, th_b)):
        g[pid] = formation_free_energy(ef, {"Li": 1, "S": 1}, einstein_free_energy(T, th),
                                       {"Li": einstein_free_energy(T, 300), "S": einstein_free_energy(T, 250)})
    xs = crossover_temperatures(T, g["alpha"], g["beta"])
    assert len(xs) == 1 and xs[0] == pytest.approx(t_star, abs=1.0)

    # through entries: the ground state of LiS switches from alpha to beta at T*
    def ground_state(temp):
        ents, rep = entries_at_temperature(entries, temp, tables)
        assert rep.missing == []
        rs = ReferenceSet(ents)
        return rs.matching({"Li": 1, "S": 1})[0].entry_id

    assert ground_state(0.0) == "alpha"
    assert ground_state(t_star - 15.0) == "alpha"
    assert ground_state(t_star + 15.0) == "beta"
    assert ground_state(1500.0) == "beta"


def test_compound_leaves_the_hull_above_known_temperature():
    """AB stiffer than its elements: G_f(AB, T) = E_f + F_AB - (F_A + F_B)/2 rises through 0 at T*,
    where the hull of the AB composition changes from AB to A + B."""
    ef, th_ab, th_el = -0.020, 420.0, 300.0
    dF = lambda t: einstein_free_energy([t], th_ab)[0] - einstein_free_energy([t], th_el)[0]  # noqa: E731
    t_star = brentq(lambda t: ef + dF(t), 1.0, 1500.0)
    entries = [E("Li", 0.0), E("Si", 0.0), E("LiSi", ef)]
    tables = {"Li": table("Li", th_el), "Si": table("Si", th_el), "LiSi": table("LiSi", th_ab)}

    def products(temp):
        ents, _ = entries_at_temperature(entries, temp, tables)
        return PhaseSpace(ents, ["Li", "Si"]).hull(np.array([1.0, 1.0])).products

    assert products(t_star - 10) == ["LiSi"]
    assert products(t_star + 10) == ["Li", "Si"]


# ----------------------------------------------------------------------------- gases

@pytest.mark.parametrize("el", sorted(GASES))
def test_ideal_gas_entropy_matches_janaf(el):
    sp = GASES[el]
    s = gas_entropy(el, 298.15) * J_MOL_K_PER_EV_K
    assert s == pytest.approx(sp.janaf_s298_J_mol_K, abs=0.5)


def test_gas_free_energy_conventions():
    f = gas_free_energy("O", [0.0, 300.0, 600.0])
    zpe = 0.5 * 1580.19 / 8065.543937  # eV per molecule
    assert f[0] == pytest.approx(zpe / 2, rel=1e-3)
    assert f[1] < f[0] and f[2] < f[1]  # the entropy term dominates
    # lower partial pressure: lower free energy (kT ln p/p0 per molecule, /2 per atom)
    f_low = gas_free_energy("O", [300.0], 1e3)[0]
    assert f_low - f[1] == pytest.approx(0.5 * KB * 300.0 * np.log(1e3 / 1e5), rel=1e-6)
    with pytest.raises(InputError):
        gas_free_energy("Li", [300.0])


def test_oxide_destabilised_by_oxygen_gas_entropy():
    entries = [E("Li", 0.0), E("O2", 0.0), E("Li2O", -2.07)]
    zero = FreeEnergyTable("x", T, np.zeros_like(T))
    tables = {"Li": zero, "Li2O": zero}
    ents, rep = entries_at_temperature(entries, 300.0, tables)
    li2o = next(e for e in ents if e.name == "Li2O")
    assert rep.gas_elements == ["O"]
    expected = -2.07 - gas_free_energy("O", [300.0])[0] / 3.0
    assert li2o.energy_per_atom == pytest.approx(expected)
    # per O atom F_gas(300 K) = (ZPE + H - TS)/2 = (0.098 + 0.090 - 0.637)/2 eV: +75 meV/atom of Li2O
    assert li2o.energy_per_atom == pytest.approx(-2.07 + 0.075, abs=0.003)
    assert next(e for e in ents if e.name == "O2").energy_per_atom == 0.0


# ----------------------------------------------------------------------------- fallbacks

def test_missing_phonons_fall_back_with_a_note_or_are_dropped():
    entries = [E("Li", 0.0), E("P", 0.0), E("S", 0.0), E("Li2S", -1.5), E("Li3PS4", -1.25), E("Li7P3S11", -1.2)]
    tables = {f: table(f, th) for f, th in (("Li", 300), ("P", 350), ("S", 250), ("Li2S", 380), ("Li3PS4", 330))}
    ents, rep = entries_at_temperature(entries, 300.0, tables)
    by = {e.name: e for e in ents}
    assert rep.missing == ["Li7P3S11"]
    assert by["Li7P3S11"].energy_per_atom == -1.2
    assert by["Li2S"].energy_per_atom != -1.5
    assert by["Li2S"].data["energy_0K"] == -1.5
    assert any("Li7P3S11" in n and "0 K" in n for n in rep.notes)
    assert all(by[el].energy_per_atom == 0.0 for el in ("Li", "P", "S"))

    ents, rep = entries_at_temperature(entries, 300.0, tables, missing="drop")
    assert "Li7P3S11" not in {e.name for e in ents} and rep.dropped == ["Li7P3S11"]

    # an element without a table: its compounds fall back too
    del tables["P"]
    ents, rep = entries_at_temperature(entries, 300.0, tables)
    assert rep.missing_elements == ["P"] and "Li3PS4" in rep.missing


def test_flagged_tables_are_not_used_unless_allowed():
    entries = [E("Li", 0.0), E("S", 0.0), E("Li2S", -1.5)]
    bad = FreeEnergyTable("Li2S", T, einstein_free_energy(T, 380), flagged=True)
    tables = {"Li": table("Li", 300), "S": table("S", 250), "Li2S": bad}
    ents, rep = entries_at_temperature(entries, 300.0, tables)
    assert rep.flagged == ["Li2S"] and rep.missing == ["Li2S"]
    assert next(e for e in ents if e.name == "Li2S").energy_per_atom == -1.5
    ents, rep = entries_at_temperature(entries, 300.0, tables, allow_flagged=True)
    assert next(e for e in ents if e.name == "Li2S").energy_per_atom != -1.5


def test_table_range_and_zero_point_option():
    tab = table("Li", 300)
    with pytest.raises(InputError):
        tab([2000.0])
    entries = [E("Li", 0.0), E("S", 0.0), E("Li2S", -1.5)]
    tables = {"Li": table("Li", 300), "S": table("S", 250), "Li2S": table("Li2S", 380)}
    e0, _ = entries_at_temperature(entries, 0.0, tables, include_zpe=False)
    assert next(e for e in e0 if e.name == "Li2S").energy_per_atom == pytest.approx(-1.5)
    e0, _ = entries_at_temperature(entries, 0.0, tables)
    zpe = 1.5 * KB * (380 - (2 * 300 + 250) / 3)
    assert next(e for e in e0 if e.name == "Li2S").energy_per_atom == pytest.approx(-1.5 + zpe)


# ----------------------------------------------------------------------------- glue: sseflow.workflows.temperature

def _doc(formula, theta, flagged=False, energy=None):
    return {"formula": formula, "reduced_formula": formula, "calculator": "chgnet", "key": f"phonon:{formula}",
            "temperatures_K": T.tolist(), "free_energy_eV_per_atom": einstein_free_energy(T, theta).tolist(),
            "imaginary_modes": 3 if flagged else 0, "flagged": flagged, "energy_per_atom": energy}


def test_reference_at_temperature_shifts_window_and_reports():
    from sseflow.workflows.temperature import chgnet_reference, reference_at_temperature, windows_at_temperatures

    rs = ReferenceSet.from_entries([("Li2S", -1.5607), ("Li3P", -0.6976), ("Li3PS4", -1.2657), ("P2S5", -0.6359),
                                    ("Li7P3S11", -1.1759)])
    docs = [_doc("Li", 300), _doc("P", 350), _doc("S", 250), _doc("Li2S", 400), _doc("Li3P", 330),
            _doc("Li3PS4", 300), _doc("P2S5", 260, flagged=True)]
    static = WindowCalculator(rs).window("Li3PS4", profile=False)
    rs300 = reference_at_temperature(rs, 300.0, docs, elements="Li-P-S")
    assert rs300.temperature_K == 300.0
    assert set(rs300.thermo_report.missing) == {"Li7P3S11", "P2S5"}
    assert rs300.thermo_report.flagged == ["P2S5"]
    assert any("Li7P3S11" in n for n in rs300.notes)
    assert rs300.content_hash != rs.content_hash
    w300 = WindowCalculator(rs300).window("Li3PS4", profile=False)
    assert w300.reduction_V != pytest.approx(static.reduction_V, abs=1e-6)
    # None: the static entries of the system, unchanged
    rs_static = reference_at_temperature(rs, None, docs, elements="Li-P-S")
    assert WindowCalculator(rs_static).window("Li3PS4", profile=False).reduction_V == pytest.approx(static.reduction_V)

    rows = windows_at_temperatures(["Li3PS4"], rs, [None, 300.0, 600.0], docs)
    assert [r["temperature_K"] for r in rows] == [None, 300.0, 600.0]
    assert rows[1]["reduction_V"] == pytest.approx(w300.reduction_V)
    assert "Li7P3S11" in rows[2]["phases_without_phonons"]

    energies = [_doc("Li", 300, energy=-1.9), _doc("S", 250, energy=-4.1), _doc("Li2S", 400, energy=-3.5)]
    ref = chgnet_reference(energies)
    li2s = ref.matching({"Li": 2, "S": 1})[0]
    assert li2s.energy_per_atom == pytest.approx(-3.5 - (2 * -1.9 - 4.1) / 3)


def test_parse_temperatures_and_references_for():
    from sseflow.workflows.temperature import parse_temperatures, references_for

    assert parse_temperatures("static, 0,300K,600") == [None, 0.0, 300.0, 600.0]
    with pytest.raises(InputError):
        parse_temperatures("-5")
    with pytest.raises(InputError):
        parse_temperatures("hot")
    rs = ReferenceSet.from_entries([("Li2S", -1.5607), ("Li3PS4", -1.2657)])
    docs = [_doc("Li", 300), _doc("P", 350), _doc("S", 250), _doc("Li2S", 400)]
    refs = references_for(rs, [None, 300.0], ["Li3PS4"], phonon_docs=docs)
    assert list(refs) == [None, 300.0]
    assert refs[300.0].thermo_report.missing == ["Li3PS4"]
    with pytest.raises(InputError, match="sseflow phonons Li-P-S --store"):
        references_for(rs, [300.0], ["Li3PS4"], phonon_docs=[])


def test_flagged_tables_can_be_allowed_by_formula():
    entries = [E("Li", 0.0), E("S", 0.0), E("Li2S", -1.5)]
    tables = {"Li": table("Li", 300), "S": FreeEnergyTable("S", T, einstein_free_energy(T, 250), flagged=True),
              "Li2S": FreeEnergyTable("Li2S", T, einstein_free_energy(T, 380), flagged=True)}
    ents, rep = entries_at_temperature(entries, 300.0, tables, allow_flagged=["S"])
    assert rep.flagged == ["Li2S"] and rep.missing == ["Li2S"] and rep.missing_elements == []
    ents, rep = entries_at_temperature(entries, 300.0, tables, allow_flagged={"S", "Li2S"})
    assert rep.flagged == [] and "Li2S" in rep.with_free_energy and rep.missing == []
