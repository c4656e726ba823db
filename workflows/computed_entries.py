"""sseflow's own calculations as thermodynamic entries.

Relaxed total energies of one backend become :class:`sseflow.analysis.entries.Entry` objects with
formation energies per atom referenced to the *same backend's* elemental phases (the lowest
energy per atom among that backend's elemental results), so
``ReferenceSet.from_entries(entries_from_results(...))`` builds phase diagrams from
sseflow's calculations alone. Entries from different correction schemes are never mixed
silently: :func:`merge_entries` refuses unless the schemes agree, and
:func:`entries_on_scale` moves entries of the Materials Project family (MP2020, pre-2020
``MP-legacy``, uncorrected) onto the scale of the set they are to be mixed with
(:mod:`sseflow.analysis.schemes` does the arithmetic).
"""
from __future__ import annotations

import math
from typing import Iterable

from sseflow.analysis.entries import Entry
from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import formula_string

# Schemes whose formation energies live on the same scale.
_FAMILIES = {
    "MP2020": "MP2020",
    "MP2020-compatible (CHGNet trained on MPtrj)": "MP2020",
}

# Labels of backends that predict uncorrected MPtrj GGA/GGA+U energies: their entries get the
# MP2020 corrections (the second label is what older sseflow versions wrote on SevenNet results).
UNCORRECTED_MPTRJ = ("none (SevenNet, uncorrected MPtrj GGA/GGA+U energies)",
                     "MP2020-compatible (SevenNet-0 trained on MPtrj)")


def mp2020_correction(structure) -> float:
    """MP2020 correction (eV per cell) of an uncorrected MPtrj-scale energy of ``structure``.

    pymatgen's ``MaterialsProject2020Compatibility`` on a GGA ``ComputedStructureEntry``
    (anion types from the structure, oxidation states guessed from the composition); an oxide
    or fluoride of an MP Hubbard-U metal is a GGA+U entry with MP's U values, as in MPtrj.
    """
    from sseflow.analysis.schemes import MP2020, scheme_correction

    return scheme_correction(structure, MP2020)


def scheme_family(scheme: str | None) -> str | None:
    """The scale a correction-scheme label puts energies on: ``MP2020`` for CHGNet's label and
    every name of MP2020, ``MP-legacy``/``uncorrected`` for theirs, else the label itself."""
    if scheme is None:
        return None
    if scheme in _FAMILIES:
        return _FAMILIES[scheme]
    from sseflow.analysis.schemes import canonical_scheme

    return canonical_scheme(scheme) or scheme


def entry_scheme(calculator_scheme: str | None) -> str | None:
    """The scale of the entries :func:`entries_from_results` makes from a backend whose results
    carry ``calculator_scheme``: ``MP2020`` for the uncorrected-MPtrj backends (their entries get
    the MP2020 corrections), else :func:`scheme_family` of the label."""
    if calculator_scheme in UNCORRECTED_MPTRJ:
        return "MP2020"
    return scheme_family(calculator_scheme)


def conversion_problem(source: str | None, target: str | None) -> str | None:
    """Why entries on scale ``source`` cannot be put on scale ``target`` (one line), or None when
    they can: the same family, or both convertible Materials Project schemes."""
    from sseflow.analysis.schemes import CONVERTIBLE, scheme_names

    a, b = scheme_family(source), scheme_family(target)
    if a == b:
        return None
    if a in CONVERTIBLE and b in CONVERTIBLE:
        return None
    bad = [f"'{s}'" for s, fam in ((source, a), (target, b)) if fam not in CONVERTIBLE]
    return (f"the correction schemes do not agree and {' and '.join(bad)} cannot be converted "
            f"(sseflow converts between {scheme_names()})")


def entries_on_scale(entries: Iterable[Entry], target_scheme: str, structures: dict | None = None) -> list[Entry]:
    """``entries`` with their formation energies put on ``target_scheme`` and labelled with it.

    Each entry's own ``correction_scheme`` is its source; entries already on the target's scale
    are returned unchanged. The conversion (:func:`sseflow.analysis.schemes.convert_formation_energy`)
    types anions from the entry's structure: ``structures[entry_id]``, else ``entry.data["structure"]``
    (set by :func:`entries_from_results`), else from its composition. The converted entry keeps
    ``data`` and records ``converted_from`` and ``energy_per_atom_before``. Raises InputError (one
    line) when a source or the target is not a scheme sseflow converts.
    """
    from sseflow.analysis.schemes import canonical_scheme, convert_formation_energy

    target = scheme_family(target_scheme)
    out: list[Entry] = []
    for e in entries:
        src = scheme_family(e.correction_scheme)
        if src == target:
            out.append(e)
            continue
        problem = conversion_problem(e.correction_scheme, target_scheme)
        if problem:
            raise InputError(f"cannot put {e.name} ({e.entry_id or 'entry'}) on the '{target_scheme}' scale: {problem}")
        if len(e.composition) == 1:
            epa = e.energy_per_atom
        else:
            s = (structures or {}).get(e.entry_id) or e.data.get("structure")
            if isinstance(s, dict):
                from pymatgen.core import Structure

                s = Structure.from_dict(s)
            epa = convert_formation_energy(e.energy_per_atom, s if s is not None else e.composition,
                                           src, target)
        out.append(Entry(e.name, dict(e.composition), epa, e.entry_id, canonical_scheme(target) or target,
                         data={**e.data, "converted_from": e.correction_scheme,
                               "energy_per_atom_before": e.energy_per_atom}))
    return out


def _field(r, key):
    return r.get(key) if isinstance(r, dict) else getattr(r, key, None)


def _structure(r):
    s = _field(r, "structure")
    if isinstance(s, dict):
        from pymatgen.core import Structure

        s = Structure.from_dict(s)
    return s


def _composition(r) -> dict[str, float]:
    s = _field(r, "structure")
    if isinstance(s, dict):
        from pymatgen.core import Structure

        s = Structure.from_dict(s)
    if s is None:
        raise InputError("result has no structure")
    return {str(el): float(a) for el, a in s.composition.get_el_amt_dict().items() if a > 0}


def _backend_info(backend) -> tuple[str, str]:
    if isinstance(backend, str):
        from sseflow.workflows.calculators.registry import BACKENDS, backend_class

        if backend.lower() not in BACKENDS:
            raise InputError(f"unknown calculator '{backend}' (choose from {', '.join(BACKENDS)})")
        cls = backend_class(backend)
        return cls.name, cls.correction_scheme
    return backend.name, backend.correction_scheme


def entries_from_results(results: Iterable, backend) -> list[Entry]:
    """Formation-energy entries from one backend's results (CalcResult objects or task documents).

    Results of a backend that predicts uncorrected MPtrj energies (SevenNet) get the MP2020
    corrections (:func:`mp2020_correction`) and their entries are labelled ``MP2020``; CHGNet
    predicts MP2020-corrected energies and its entries keep its own label (same family).
    Failed or non-finite results are skipped. Raises InputError when a result comes from another
    calculator or correction scheme, or when an element has no elemental result of this backend.
    """
    name, scheme = _backend_info(backend)
    same = set(UNCORRECTED_MPTRJ) if scheme in UNCORRECTED_MPTRJ else {scheme}
    rows = []
    for r in results:
        calc = _field(r, "calculator")
        rscheme = _field(r, "correction_scheme")
        if calc != name:
            raise InputError(f"cannot mix calculators: a {calc} result among {name} results "
                             "(formation energies need one backend's elemental references)")
        if rscheme is not None and rscheme not in same:
            raise InputError(f"cannot mix correction schemes: '{rscheme}' among '{scheme}' results")
        if _field(r, "status") not in (None, "completed"):
            continue
        epa = _field(r, "energy_per_atom")
        if epa is None or not math.isfinite(float(epa)):
            continue
        struct = _structure(r)
        if struct is None:
            raise InputError("result has no structure")
        comp = {str(el): float(a) for el, a in struct.composition.get_el_amt_dict().items() if a > 0}
        epa = float(epa)
        if scheme in UNCORRECTED_MPTRJ and len(comp) > 1:
            epa += mp2020_correction(struct) / sum(comp.values())
        rows.append((r, comp, epa, struct))
    if not rows:
        raise InputError(f"no completed {name} results to make entries from")
    refs: dict[str, float] = {}
    for _, comp, epa, _s in rows:
        if len(comp) == 1:
            el = next(iter(comp))
            refs[el] = min(refs.get(el, math.inf), epa)
    present = set().union(*(set(row[1]) for row in rows))
    missing = sorted(present - set(refs))
    if missing:
        raise InputError(f"no {name} result for elemental {', '.join(missing)}: relax the element's reference "
                         f"state with the same calculator (e.g. sseflow relax {missing[0]} --calculator {name})")
    out: list[Entry] = []
    for r, comp, epa, struct in rows:
        n = sum(comp.values())
        ef = epa - sum(a * refs[el] for el, a in comp.items()) / n
        formula = formula_string(comp)
        fp = _field(r, "fingerprint")
        if fp is None and not isinstance(r, dict):
            from sseflow.workflows.dedupe import fingerprint

            fp = fingerprint(r.structure)
        eid = str(_field(r, "task_id") or _field(r, "key") or f"{name}:{fp or formula}")  # key: a stored TaskDocument
        out.append(Entry(formula, comp, ef, eid, "MP2020" if scheme in UNCORRECTED_MPTRJ else scheme, data={
            "calculator": name, "total_energy_per_atom": epa, "fingerprint": fp,
            "elemental_references": {el: refs[el] for el in comp}, "structure": struct,
        }))
    return out


def merge_entries(*entry_lists: Iterable[Entry], scheme_of_unlabelled: str | None = None) -> list[Entry]:
    """One list from several, refusing to mix incompatible correction schemes.

    Entries whose ``correction_scheme`` is None (e.g. a formation-energy table) take
    ``scheme_of_unlabelled``; if that is not given and labelled entries exist, it is an error.
    """
    merged: list[Entry] = []
    families: dict[str, str] = {}
    for lst in entry_lists:
        for e in lst:
            scheme = e.correction_scheme or scheme_of_unlabelled
            fam = scheme_family(scheme)
            families.setdefault(str(fam), e.entry_id or e.name)
            merged.append(e)
    if len(families) > 1:
        names = ", ".join(f"'{f}' (e.g. {eid})" for f, eid in families.items())
        raise InputError(f"cannot mix entries with incompatible correction schemes: {names}")
    return merged
