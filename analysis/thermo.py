"""Entries at temperature: formation energies plus vibrational free energies.

For a phase p with 0 K formation energy E_f(p) (eV/atom, elements at 0) and harmonic
vibrational free energy F_p(T) (eV/atom, zero-point energy included), the formation free
energy at T is

    G_f(p, T) = E_f(p) + F_p(T) - sum_el x_el(p) F_el(T)                         (1)

with x_el the atom fraction of element el in p and F_el(T) the free energy per atom of the
element's reference state computed the same way (phonons of the elemental solid), so every
element stays at G_f = 0 and hulls, windows and reaction energies at T are computed by the
unchanged 0 K machinery on the shifted entries.

**Gaseous elements** (O, N, F, Cl, H): F_el(T) is the ideal-gas free energy of the diatomic
molecule per atom, ``(G(T, p) - E_pot) / 2``, from ASE's ``IdealGasThermo`` (translations,
rigid rotor with symmetry number 2, harmonic vibration with the zero-point energy, electronic
spin degeneracy), at the standard-state pressure p° = 1 bar = 1e5 Pa (the IUPAC/NIST-JANAF
standard since 1982) unless another partial pressure is given. Molecular constants (harmonic
wavenumber omega_e, bond length r_e) are the NIST Chemistry WebBook / Huber & Herzberg values in
:data:`GASES`; the resulting S°(298.15 K) agree with NIST-JANAF to 0.1 J/mol/K
(tests/test_thermo.py). Condensed phases of these elements in a reference set are ignored as
references: the gas is the reference state at every T > 0.

Conventions and limits (docs/phonons.md):

* The 0 K energies are treated as static-lattice energies. MP formation energies carry fitted
  anion corrections (MP2020) that were fitted to room-temperature formation enthalpies, so for
  oxides, nitrides and halides part of the gas's thermal enthalpy (7/2 kT per molecule, 45 meV
  per O atom at 298 K) is counted twice; the entropy term, which dominates, is not.
* Harmonic, constant volume (no thermal expansion), no configurational or electronic entropy.
* A phase without a free-energy table, or with an element that has none, keeps its 0 K energy;
  :func:`entries_at_temperature` lists them in its report (the ``missing`` list and a note).
  ``missing="drop"`` leaves such compounds out instead.
* One table per reduced formula: every polymorph of that formula in the reference set gets the
  same F(T) (polymorph differences in F_vib are neglected unless the caller gives a table for each).

Everything here is plain numpy on arrays; nothing imports the ``workflows`` package.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

import numpy as np

from sseflow.analysis.entries import Entry
from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import reduced_formula, reduced_formula_of
from sseflow.analysis.results import MSONResult

KB = 8.617333262e-5            # eV/K
EV_PER_KJMOL = 1.0 / 96.48533212331002
J_MOL_K_PER_EV_K = 96485.33212331002
P_STANDARD = 1.0e5             # Pa, standard-state pressure (1 bar)
CM1_TO_EV = 1.0 / 8065.543937349212


@dataclass(frozen=True)
class GasSpecies:
    """A diatomic gas: NIST Chemistry WebBook constants (ground state), S° for the check."""

    formula: str
    omega_e_cm1: float       # harmonic vibrational wavenumber
    r_e_A: float             # equilibrium bond length
    spin: float              # total electron spin of the ground state
    symmetry_number: int = 2
    janaf_s298_J_mol_K: float | None = None  # NIST-JANAF S°(298.15 K, 1 bar), for validation
    source: str = ""


GASES: dict[str, GasSpecies] = {
    "O": GasSpecies("O2", 1580.19, 1.20752, 1.0, 2, 205.147, "O2 X3Sigma_g-: NIST WebBook (Huber & Herzberg 1979)"),
    "N": GasSpecies("N2", 2358.57, 1.09768, 0.0, 2, 191.609, "N2 X1Sigma_g+: NIST WebBook (Huber & Herzberg 1979)"),
    "F": GasSpecies("F2", 916.64, 1.41193, 0.0, 2, 202.789, "F2 X1Sigma_g+: NIST WebBook (Huber & Herzberg 1979)"),
    "Cl": GasSpecies("Cl2", 559.72, 1.9872, 0.0, 2, 223.079, "35Cl2 X1Sigma_g+: NIST WebBook; natural-abundance mass"),
    "H": GasSpecies("H2", 4401.21, 0.74144, 0.0, 2, 130.680, "H2 X1Sigma_g+: NIST WebBook (Huber & Herzberg 1979)"),
}
GAS_ELEMENTS = frozenset(GASES)


# ---------------------------------------------------------------------------- model free energies

def einstein_free_energy(temperatures, theta_K: float) -> np.ndarray:
    """Harmonic free energy per atom (eV) of an Einstein solid (3 modes at k*theta), ZPE included."""
    t = np.asarray(temperatures, dtype=float)
    e = KB * theta_K
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        therm = np.where(t > 0, 3.0 * KB * t * np.log1p(-np.exp(-theta_K / np.where(t > 0, t, 1.0))), 0.0)
    return 1.5 * e + therm


def debye_free_energy(temperatures, theta_K: float, n: int = 400) -> np.ndarray:
    """Harmonic free energy per atom (eV) of a Debye solid, ZPE (9/8 k theta) included."""
    t = np.atleast_1d(np.asarray(temperatures, dtype=float))
    x = (np.arange(n) + 0.5) / n  # omega / omega_D, midpoint rule on g(w) = 3 w^2 (per atom, 3 modes)
    g = 3.0 * x ** 2 / n * 3.0
    out = np.empty_like(t)
    for i, ti in enumerate(t):
        zpe = 0.5 * KB * theta_K * float((g * x).sum())
        if ti <= 0:
            out[i] = zpe
        else:
            y = theta_K * x / ti
            out[i] = zpe + KB * ti * float((g * np.log1p(-np.exp(-y))).sum())
    return out


def debye_entropy(temperatures, theta_K: float, n: int = 400) -> np.ndarray:
    """Harmonic entropy per atom (eV/K) of a Debye solid."""
    t = np.atleast_1d(np.asarray(temperatures, dtype=float))
    x = (np.arange(n) + 0.5) / n
    g = 9.0 * x ** 2 / n
    out = np.zeros_like(t)
    for i, ti in enumerate(t):
        if ti > 0:
            y = theta_K * x / ti
            with np.errstate(over="ignore"):
                out[i] = KB * float((g * (y / np.expm1(y) - np.log1p(-np.exp(-y)))).sum())
    return out


def entropy_debye_temperature(entropy_eV_K: float, temperature: float) -> float:
    """The Debye temperature whose Debye-model entropy per atom at ``temperature`` equals the given one."""
    from scipy.optimize import brentq

    def f(theta):
        return float(debye_entropy([temperature], theta)[0]) - entropy_eV_K

    return float(brentq(f, 1.0, 5000.0))


# ---------------------------------------------------------------------------- ideal gases

@lru_cache(maxsize=None)
def _ideal_gas(element: str):
    from ase import Atoms
    from ase.thermochemistry import IdealGasThermo

    sp = GASES[element]
    atoms = Atoms(sp.formula, positions=[[0.0, 0.0, 0.0], [0.0, 0.0, sp.r_e_A]])
    return IdealGasThermo(vib_energies=[sp.omega_e_cm1 * CM1_TO_EV], geometry="linear", potentialenergy=0.0,
                          atoms=atoms, symmetrynumber=sp.symmetry_number, spin=sp.spin)


def gas_free_energy(element: str, temperatures, pressure_Pa: float = P_STANDARD) -> np.ndarray:
    """Ideal-gas free energy of the diatomic element per atom (eV), (G(T, p) - E_pot) / 2.

    Zero-point energy included (F(0) = ZPE/2); ``pressure_Pa`` is the partial pressure of the
    molecule (1 bar standard state by default).
    """
    if element not in GASES:
        raise InputError(f"no ideal-gas data for {element} (gaseous elements: {', '.join(sorted(GASES))})")
    if not (pressure_Pa > 0):
        raise InputError(f"gas pressure must be positive (got {pressure_Pa} Pa)")
    thermo = _ideal_gas(element)
    t = np.atleast_1d(np.asarray(temperatures, dtype=float))
    zpe = thermo.get_ZPE_correction()
    out = np.empty_like(t)
    for i, ti in enumerate(t):
        if ti < 1e-6:
            out[i] = zpe
        else:
            out[i] = thermo.get_gibbs_energy(float(ti), float(pressure_Pa), verbose=False)
    return out / 2.0


def gas_entropy(element: str, temperature: float, pressure_Pa: float = P_STANDARD) -> float:
    """Ideal-gas entropy per molecule (eV/K)."""
    return float(_ideal_gas(element).get_entropy(float(temperature), float(pressure_Pa), verbose=False))


# ---------------------------------------------------------------------------- free-energy tables

@dataclass(frozen=True, eq=False)
class FreeEnergyTable(MSONResult):
    """F(T) per atom of one phase on a temperature grid (linear interpolation inside it).

    Tables compare by value (arrays element by element) and serialise with monty
    (``as_dict``/``from_dict``, arrays kept as float arrays)."""

    formula: str
    temperatures: np.ndarray
    free_energy: np.ndarray          # eV/atom, ZPE included
    source: str = ""
    flagged: bool = False            # significant imaginary modes: not used unless allowed
    note: str = ""

    def __post_init__(self):
        t = np.asarray(self.temperatures, dtype=float)
        f = np.asarray(self.free_energy, dtype=float)
        if t.ndim != 1 or t.shape != f.shape or t.size < 1:
            raise InputError(f"free-energy table of {self.formula}: temperatures and values must be 1-D of one length")
        if np.any(np.diff(t) <= 0):
            order = np.argsort(t)
            t, f = t[order], f[order]
        object.__setattr__(self, "temperatures", t)
        object.__setattr__(self, "free_energy", f)

    def __hash__(self) -> int:   # consistent with the value equality: equal tables hash alike
        return hash((self.formula, self.source, self.flagged, self.note, self.temperatures.size))

    def __call__(self, temperatures) -> np.ndarray:
        t = np.atleast_1d(np.asarray(temperatures, dtype=float))
        lo, hi = self.temperatures[0], self.temperatures[-1]
        if np.any(t < lo - 1e-9) or np.any(t > hi + 1e-9):
            raise InputError(f"free energy of {self.formula} is known for {lo:g}-{hi:g} K, not at "
                             f"{', '.join(f'{x:g}' for x in t[(t < lo) | (t > hi)])} K")
        return np.interp(t, self.temperatures, self.free_energy)


def formation_free_energy(e_form, composition: Mapping[str, float], f_phase, f_elements: Mapping[str, object]):
    """Equation (1) on arrays: ``E_f + F_phase - sum_el x_el F_el`` (broadcasts over temperatures).

    ``f_phase`` and each ``f_elements[el]`` are arrays (or scalars) over the same temperatures.
    """
    n = float(sum(composition.values()))
    out = np.asarray(e_form, dtype=float) + np.asarray(f_phase, dtype=float)
    for el, amt in composition.items():
        if amt == 0:
            continue
        if el not in f_elements:
            raise InputError(f"no free energy for element {el}")
        out = out - (amt / n) * np.asarray(f_elements[el], dtype=float)
    return out


def crossover_temperatures(temperatures, g_a, g_b) -> list[float]:
    """Temperatures where g_a - g_b changes sign (linear interpolation between grid points)."""
    t = np.asarray(temperatures, dtype=float)
    d = np.asarray(g_a, dtype=float) - np.asarray(g_b, dtype=float)
    out = []
    for i in range(len(t) - 1):
        if d[i] == 0.0:
            out.append(float(t[i]))
        elif d[i] * d[i + 1] < 0:
            out.append(float(t[i] + (t[i + 1] - t[i]) * d[i] / (d[i] - d[i + 1])))
    if len(t) and d[-1] == 0.0:
        out.append(float(t[-1]))
    return out


# ---------------------------------------------------------------------------- entries at T

@dataclass(eq=False)
class ThermoReport(MSONResult):
    """What :func:`entries_at_temperature` did at one temperature."""

    temperature_K: float
    with_free_energy: list[str] = field(default_factory=list)   # reduced formulas shifted
    gas_elements: list[str] = field(default_factory=list)       # elements referenced to the ideal gas
    missing: list[str] = field(default_factory=list)            # kept at (or dropped from) 0 K
    flagged: list[str] = field(default_factory=list)            # tables not used: imaginary modes
    missing_elements: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("temperature_K", "with_free_energy", "gas_elements", "missing",
                                              "flagged", "missing_elements", "dropped", "notes")}


def entries_at_temperature(entries: Iterable[Entry], temperature: float,
                           tables: Mapping[str, FreeEnergyTable] | Iterable[FreeEnergyTable],
                           *, gas_elements: Iterable[str] = GAS_ELEMENTS,
                           gas_pressures_Pa: Mapping[str, float] | None = None,
                           missing: str = "fallback", allow_flagged: bool | Iterable[str] = False,
                           include_zpe: bool = True) -> tuple[list[Entry], ThermoReport]:
    """Entries with formation free energies at ``temperature`` (equation (1)), and a report.

    ``tables``: free-energy tables by formula (or a list of them); a key that is not a formula is
    an entry id and wins for that entry (one polymorph, e.g. ``"mp-1153"``). Elements in
    ``gas_elements`` use the ideal gas at ``gas_pressures_Pa[el]`` (1 bar default) whatever the
    tables say. ``missing``: ``"fallback"`` keeps a phase without a usable table (or with an
    element without one) at its 0 K energy, ``"drop"`` leaves it out (elements are never
    dropped). ``allow_flagged`` uses tables flagged for imaginary modes (True: all of them; a
    collection of formulas or entry ids: those). ``include_zpe=False``
    subtracts each F(0) so that F(0 K) = 0 (static lattice at 0 K).
    """
    if missing not in ("fallback", "drop"):
        raise InputError("missing must be 'fallback' or 'drop'")
    T = float(temperature)
    if not (T >= 0 and math.isfinite(T)):
        raise InputError(f"temperature must be >= 0 K (got {temperature})")
    by_id: dict[str, FreeEnergyTable] = {}
    if not isinstance(tables, Mapping):
        tables = {reduced_formula_of(t.formula): t for t in tables}
    else:
        by_formula = {}
        for k, v in tables.items():
            try:
                by_formula[reduced_formula_of(k)] = v
            except InputError:
                by_id[str(k)] = v  # not a formula: an entry id (one polymorph)
        tables = by_formula
    gases = set(gas_elements)
    pressures = dict(gas_pressures_Pa or {})
    entries = list(entries)
    report = ThermoReport(temperature_K=T)

    def value(tab: FreeEnergyTable) -> float:
        v = float(tab([T])[0])
        if not include_zpe:
            v -= float(tab([tab.temperatures[0]])[0]) if tab.temperatures[0] == 0 else 0.0
        return v

    if isinstance(allow_flagged, (bool, type(None))):
        allowed = (lambda key: bool(allow_flagged))  # noqa: E731
    else:
        names = {str(x) for x in allow_flagged}
        names |= {reduced_formula_of(x) for x in names if _is_formula(x)}
        allowed = (lambda key: key in names)  # noqa: E731
    usable: dict[str, FreeEnergyTable] = {}
    for red, tab in tables.items():
        if tab.flagged and not allowed(red):
            report.flagged.append(red)
            continue
        usable[red] = tab
    usable_id: dict[str, FreeEnergyTable] = {}
    for key, tab in by_id.items():
        if tab.flagged and not allowed(key):
            report.flagged.append(key)
            continue
        usable_id[key] = tab

    elements = sorted({el for e in entries for el in e.composition})
    f_el: dict[str, float] = {}
    for el in elements:
        if el in gases and el in GASES:
            f = float(gas_free_energy(el, [T], pressures.get(el, P_STANDARD))[0])
            if not include_zpe:
                f -= float(gas_free_energy(el, [0.0])[0])
            f_el[el] = f
            report.gas_elements.append(el)
            continue
        red = reduced_formula({el: 1.0})
        if red in usable:
            f_el[el] = value(usable[red])
        else:
            report.missing_elements.append(el)

    out: list[Entry] = []
    shifted: set[str] = set()
    missing_set: set[str] = set()
    for e in entries:
        red = e.reduced_formula
        els = list(e.composition)
        tab = usable_id.get(e.entry_id) or usable.get(red)
        if len(els) == 1 and els[0] in f_el and (els[0] in gases or tab is not None):
            # elemental reference states (and polymorphs with their own table) on the same footing
            el = els[0]
            if el in gases:
                out.append(e)  # the gas is the reference; condensed entries of it keep E_f
                continue
            out.append(_shifted(e, e.energy_per_atom + value(tab) - f_el[el], T))
            shifted.add(red)
            continue
        if tab is None or any(el not in f_el for el in els):
            if len(els) == 1:
                out.append(e)  # an element without data: stays at its 0 K energy (its compounds report it)
                continue
            missing_set.add(red)
            if missing == "drop":
                report.dropped.append(red)
                continue
            out.append(e)
            continue
        g = float(formation_free_energy(e.energy_per_atom, e.composition, value(tab), f_el))
        out.append(_shifted(e, g, T))
        shifted.add(red)
    report.with_free_energy = sorted(shifted)
    report.missing = sorted(missing_set)
    report.dropped = sorted(set(report.dropped))
    if report.missing:
        shown = ", ".join(report.missing[:20]) + (" ..." if len(report.missing) > 20 else "")
        how = "left out" if missing == "drop" else "kept at their 0 K energies"
        report.notes.append(f"{T:g} K: {len(report.missing)} phase(s) without vibrational free energy {how}: {shown}")
    if report.missing_elements:
        report.notes.append(f"{T:g} K: no free energy for element(s) {', '.join(report.missing_elements)}: "
                            "their compounds keep 0 K energies")
    if report.flagged:
        report.notes.append(f"{T:g} K: phonons with imaginary modes not used: {', '.join(sorted(report.flagged))}")
    if report.gas_elements:
        report.notes.append(f"{T:g} K: ideal-gas reference for {', '.join(report.gas_elements)} "
                            f"at {', '.join(f'{pressures.get(el, P_STANDARD):g}' for el in report.gas_elements)} Pa")
    return out, report


def _is_formula(text: str) -> bool:
    try:
        reduced_formula_of(text)
        return True
    except InputError:
        return False


def _shifted(e: Entry, energy: float, T: float) -> Entry:
    data = dict(e.data)
    data["energy_0K"] = e.energy_per_atom
    data["temperature_K"] = T
    return Entry(e.name, dict(e.composition), float(energy), e.entry_id, e.correction_scheme, data)


def tables_from_phonon_results(items: Sequence) -> dict[str, FreeEnergyTable]:
    """Tables from phonon documents (dicts with ``temperatures_K``/``free_energy_eV_per_atom``) or
    objects with ``temperatures``/``free_energy``; per formula the first one wins, except that an
    unflagged table replaces a flagged one."""
    out: dict[str, FreeEnergyTable] = {}
    for it in items:
        get = it.get if isinstance(it, Mapping) else (lambda k, d=None, _it=it: getattr(_it, k, d))
        formula = get("reduced_formula") or get("formula")
        t = get("temperatures_K")
        if t is None:
            t = get("temperatures")
        f = get("free_energy_eV_per_atom")
        if f is None:
            f = get("free_energy")
        flagged = bool(get("flagged", False) or (get("imaginary_modes") or 0) > 0)
        tab = FreeEnergyTable(str(formula), np.asarray(t, dtype=float), np.asarray(f, dtype=float),
                              source=str(get("key") or get("calculator") or "phonons"), flagged=flagged)
        red = reduced_formula_of(str(formula))
        old = out.get(red)
        if old is None or (old.flagged and not tab.flagged):
            out[red] = tab
    return out
