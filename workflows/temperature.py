"""Temperature-dependent reference sets from stored phonon documents.

The glue between :mod:`sseflow.workflows.phonons` (phonon documents in the store) and the 0 K
analysis (:class:`sseflow.analysis.window.WindowCalculator`, :class:`sseflow.analysis.reactions.ReactionCalculator`):

    from sseflow.workflows.temperature import load_phonon_docs, reference_at_temperature
    docs = load_phonon_docs("Li-P-S", config)                     # stored PhononDocuments (dicts)
    rs_T = reference_at_temperature(rs, 300.0, docs, elements=["Li", "P", "S"])
    WindowCalculator(rs_T, exclude).window("Li3PS4")

``rs_T`` holds the entries of the chemical system with formation *free* energies at T
(sseflow.analysis.thermo, equation (1)); its ``notes`` say which phases had no phonons (kept at 0 K),
which were flagged for imaginary modes, and which elements used the ideal gas;
``rs_T.thermo_report`` has the same as lists. ``rs_T.content_hash`` differs per temperature,
so stored windows at different T never collide.
"""
from __future__ import annotations

import itertools
from typing import Any, Iterable, Mapping, Sequence

from sseflow.analysis.errors import InputError
from sseflow.analysis.reference import ReferenceSet
from sseflow.analysis.thermo import (
    GAS_ELEMENTS,
    FreeEnergyTable,
    ThermoReport,
    entries_at_temperature,
    tables_from_phonon_results,
)
from sseflow.workflows.calculators.registry import DEFAULT as DEFAULT_CALCULATOR


def _elements_of(chemsys: str | Iterable[str]) -> list[str]:
    if isinstance(chemsys, str):
        from sseflow.workflows.store.results import normalise_chemsys

        return normalise_chemsys(chemsys).split("-")
    return sorted(set(chemsys))


def load_phonon_docs(chemsys: str | Iterable[str], config: Any = None, calculator: str | None = DEFAULT_CALCULATOR,
                     store=None) -> list[dict]:
    """Stored phonon documents (raw dicts) of every phase whose elements lie in ``chemsys``.

    ``calculator``: keep only documents of this backend (case-insensitive); ``None`` keeps all.
    Newest first within one formula (so the first document of a formula is the latest).
    ``store``: an open :class:`sseflow.workflows.store.results.ResultsStore` (else ``open_store(config)``).
    """
    els = _elements_of(chemsys)

    def query(st) -> list[dict]:
        out: list[dict] = []
        for r in range(1, len(els) + 1):
            for sub in itertools.combinations(els, r):
                out += st.find("phonons", {"chemsys": "-".join(sub)})
        return out

    if store is not None:
        docs = query(store)
    else:
        from sseflow.workflows.store.api import open_store

        with open_store(config) as st:
            docs = query(st)
    if calculator:
        docs = [d for d in docs if str(d.get("calculator", "")).lower() == calculator.lower()]
    docs.sort(key=lambda d: (d.get("reduced_formula", ""), -_ts(d.get("created_at"))))
    for d in docs:
        d.pop("_id", None)
    return docs


def _ts(value) -> float:
    try:
        return value.timestamp()
    except AttributeError:
        return 0.0


def free_energy_tables(phonon_docs: Sequence) -> dict[str, FreeEnergyTable]:
    """Free-energy tables by reduced formula from phonon documents or :class:`PhononResult` objects."""
    items = []
    for d in phonon_docs:
        if hasattr(d, "to_document"):  # a PhononResult
            items.append({"formula": d.formula, "temperatures_K": d.temperatures, "free_energy_eV_per_atom":
                          d.free_energy, "flagged": d.flagged, "calculator": d.calculator, "key": d.key})
        elif hasattr(d, "model_dump"):
            items.append(d.model_dump(mode="python"))
        else:
            items.append(d)
    return tables_from_phonon_results(items)


def reference_at_temperature(reference: ReferenceSet, temperature: float | None, phonon_docs: Sequence,
                             *, elements: Iterable[str] | str | None = None, missing: str = "fallback",
                             allow_imaginary: bool | Iterable[str] = False,
                             gas_pressures_Pa: Mapping[str, float] | None = None, include_zpe: bool = True,
                             gas_elements: Iterable[str] = GAS_ELEMENTS) -> ReferenceSet:
    """The reference set at ``temperature`` (K) for the chemical system ``elements``.

    Entries of ``reference`` in the system get G_f(T) = E_f + F_phase(T) - sum x_el F_el(T) from
    the phonon documents (``load_phonon_docs``) and, for O, N, F, Cl, H, the ideal gas at 1 bar
    (``gas_pressures_Pa`` to change it). Phases without phonons keep their 0 K energy
    (``missing="drop"``: left out) and are listed in the notes; phonons flagged for imaginary
    modes are not used unless ``allow_imaginary`` (True, or the formulas to use anyway); when an
    element's own phonons are missing or flagged, every compound of it keeps its 0 K energy.
    ``temperature=None`` returns the static (0 K, no zero-point energy) entries of the system
    unchanged. ``elements`` defaults to the elements
    of the phonon documents: pass the system of the compositions you will ask about (with Li for
    windows), e.g. ``elements="Li-P-S"``.
    """
    tables = free_energy_tables(phonon_docs)
    if elements is None:
        els: set[str] = set()
        for red in tables:
            from sseflow.analysis.formula import parse_formula

            els |= set(parse_formula(red))
        if not els:
            raise InputError("no phonon documents and no chemical system given")
        elements = sorted(els)
    els = _elements_of(elements)
    entries = reference.entries_in(els)
    if temperature is None:
        rs = ReferenceSet(entries, notes=list(reference.notes), source=f"{reference.source} (static)",
                          unreferenced=reference.unreferenced)
        rs.temperature_K = None
        rs.thermo_report = None
        return rs
    new, report = entries_at_temperature(entries, float(temperature), tables, missing=missing,
                                         allow_flagged=allow_imaginary, gas_pressures_Pa=gas_pressures_Pa,
                                         include_zpe=include_zpe, gas_elements=gas_elements)
    rs = ReferenceSet(new, notes=list(reference.notes) + report.notes,
                      source=f"{reference.source} at {float(temperature):g} K", unreferenced=reference.unreferenced)
    rs.temperature_K = float(temperature)
    rs.thermo_report = report
    return rs


def references_at_temperatures(reference: ReferenceSet, temperatures: Iterable[float | None], phonon_docs: Sequence,
                               **kw) -> dict[float | None, ReferenceSet]:
    """:func:`reference_at_temperature` for several temperatures (one dict, in the order given)."""
    return {t: reference_at_temperature(reference, t, phonon_docs, **kw) for t in temperatures}


def parse_temperatures(text: str | Iterable) -> list[float | None]:
    """``"static,0,300,600"`` -> [None, 0.0, 300.0, 600.0] (``static``/``none``: the 0 K set without
    zero-point energies). InputError for anything else or a negative value."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[float | None] = []
    for it in items:
        s = str(it).strip()
        if not s:
            continue
        if s.lower() in ("static", "none"):
            out.append(None)
            continue
        try:
            v = float(s.rstrip("Kk"))
        except ValueError:
            raise InputError(f"'{s}' is not a temperature in K") from None
        if not v >= 0:
            raise InputError(f"temperature must be >= 0 K (got {s})")
        out.append(v)
    if not out:
        raise InputError("no temperature given")
    return out


def references_for(reference: ReferenceSet, temperatures: Iterable[float | None], formulas: Sequence[str],
                   config: Any = None, calculator: str | None = DEFAULT_CALCULATOR, open_element: str | None = "Li",
                   phonon_docs: Sequence | None = None, **kw) -> dict[float | None, ReferenceSet]:
    """What ``sseflow window|react ... --temperature`` needs in one call: the stored phonon documents
    of the chemical system of ``formulas`` (plus ``open_element``) and the reference set at each
    temperature. Raises InputError when the store holds no phonons for that system (run
    ``sseflow phonons <chemsys> --store`` first)."""
    from sseflow.analysis.formula import parse_formula

    els: set[str] = {open_element} if open_element else set()
    for f in formulas:
        els |= set(parse_formula(f))
    chemsys = "-".join(sorted(els))
    docs = list(phonon_docs) if phonon_docs is not None else load_phonon_docs(chemsys, config, calculator)
    if not docs:
        raise InputError(f"no stored phonon documents for {chemsys}"
                         f"{f' ({calculator})' if calculator else ''}: run 'sseflow phonons {chemsys} --store' first")
    kw.setdefault("elements", sorted(els))
    return references_at_temperatures(reference, temperatures, docs, **kw)


def windows_at_temperatures(formulas: Sequence[str], reference: ReferenceSet, temperatures: Iterable[float | None],
                            phonon_docs: Sequence, exclude: Sequence[str] = (), profile: bool = False,
                            **kw) -> list[dict]:
    """Window rows (``WindowResult.to_dict()`` plus ``temperature_K`` and the thermo notes), one per
    formula and temperature, formulas outer. ``None`` in ``temperatures`` is the static 0 K row."""
    from sseflow.analysis.formula import parse_formula
    from sseflow.analysis.window import WindowCalculator

    els: set[str] = {"Li"}
    for f in formulas:
        els |= set(parse_formula(f))
    kw.setdefault("elements", sorted(els))
    refs = references_at_temperatures(reference, list(temperatures), phonon_docs, **kw)
    calcs = {t: WindowCalculator(rs, exclude) for t, rs in refs.items()}
    rows = []
    for f in formulas:
        for t, calc in calcs.items():
            d = calc.window(f, profile=profile).to_dict()
            d["temperature_K"] = t
            rep: ThermoReport | None = refs[t].thermo_report
            if rep is not None:
                d["notes"] = list(d.get("notes", [])) + rep.notes
                d["phases_without_phonons"] = rep.missing
            rows.append(d)
    return rows


def chgnet_reference(phonon_docs: Sequence, source: str = "phonon documents") -> ReferenceSet:
    """A reference set of the backend's own energies (``energy_per_atom`` of the relaxed cells in
    the phonon documents), as formation energies against its elemental documents: the
    "same calculator throughout" option."""
    from sseflow.analysis.entries import Entry
    from sseflow.analysis.formula import parse_formula

    items = []
    for d in phonon_docs:
        d = d.model_dump(mode="python") if hasattr(d, "model_dump") else (
            {"formula": d.formula, "energy_per_atom": d.energy_per_atom, "key": d.key} if hasattr(d, "to_document")
            else d)
        if d.get("energy_per_atom") is None:
            continue
        items.append(d)
    elemental: dict[str, float] = {}
    for d in items:
        comp = parse_formula(d.get("reduced_formula") or d["formula"])
        if len(comp) == 1:
            el = next(iter(comp))
            elemental[el] = min(elemental.get(el, float("inf")), float(d["energy_per_atom"]))
    entries = []
    seen = set()
    for d in items:
        name = d.get("reduced_formula") or d["formula"]
        comp = parse_formula(name)
        if any(el not in elemental for el in comp) or name in seen:
            continue
        seen.add(name)
        n = sum(comp.values())
        ef = float(d["energy_per_atom"]) - sum(a * elemental[el] for el, a in comp.items()) / n
        entries.append(Entry(name, comp, ef, str(d.get("key") or name)))
    return ReferenceSet.from_entries(entries, source=source)
