"""Which phases on (or near) a reference convex hull the structure library can provide.

A study with ``reference: computed`` builds its hulls from the phases it relaxes itself: a phase
that is on the hull of the reference data but has no structure is simply absent, and the computed
windows are then wider than they should be. :func:`coverage` compares, for one chemical system,
the phases of a reference set (a CSV of formation energies or an entries JSON, read with
:func:`sseflow.analysis.reference.load_reference`) with the reduced formulas of the library
(or any given set of formulas):

* the energy above the hull of each reduced composition is that of its lowest polymorph,
  against the hull of every entry of the system and its subsystems, as ``sseflow window``
  computes ``e_above_hull_meV`` (:class:`sseflow.analysis.hull.PhaseSpace`, one LP each);
* phases at 0 are *hull* phases, those above 0 and within ``tolerance_meV`` (25 meV/atom by
  default) *near-hull* phases; each is *present* when a structure of that reduced formula is
  available, else *missing*.

>>> cov = coverage("Li-P-S", "mp_formation_energies.csv")
>>> [m["formula"] for m in cov["missing"]]
"""
from __future__ import annotations

import os
from typing import Iterable

from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import parse_formula, reduced_formula

TOLERANCE_MEV = 25.0
ON_HULL_MEV = 1e-6   # numerical zero of the LP (meV/atom)


def _reduced(formula: str) -> str:
    return reduced_formula(parse_formula(formula))


def library_formulas(chemsys) -> dict[str, list[str]]:
    """{reduced formula: [library names]} of the library phases whose elements lie in ``chemsys``."""
    from sseflow.workflows.structures.library import entry_for, list_phases

    out: dict[str, list[str]] = {}
    for name in list_phases(chemsys):
        out.setdefault(_reduced(entry_for(name)["formula"]), []).append(name)
    return out


SEARCHED_ORIGINS = ("searched", "ordered prototype", "prototype model")


def searched_formulas(chemsys) -> set[str]:
    """Reduced formulas in ``chemsys`` whose only library structures are model predictions (found
    by ``sseflow phases search`` or ordered from a disordered prototype), not sourced coordinates."""
    from sseflow.workflows.structures.library import entry_for

    out = set()
    for formula, names in library_formulas(chemsys).items():
        if names and all(entry_for(n).get("origin") in SEARCHED_ORIGINS for n in names):
            out.add(formula)
    return out


def _reference_set(reference):
    if isinstance(reference, (str, os.PathLike)):
        from sseflow.analysis.reference import load_reference
        from sseflow.workflows.settings import settings

        return load_reference(reference, cache_dir=settings().cache_dir)
    return reference


def hull_distances(chemsys, reference, exclude: Iterable[str] = ()) -> list[dict]:
    """Every reduced composition of ``reference`` in ``chemsys`` (subsystems included) with the
    energy above the hull of its lowest polymorph: ``[{formula, e_above_hull_meV, entry_id}]``,
    by energy above the hull, then formula."""
    from sseflow.analysis.hull import PhaseSpace
    from sseflow.workflows.structures.library import parse_chemsys

    els = parse_chemsys(chemsys)
    ref = _reference_set(reference)
    exclude = tuple(exclude)
    space = PhaseSpace(ref.entries_in(els, exclude, hull_candidates=True), els, prune=False)
    lowest: dict[tuple, object] = {}
    for e in ref.entries_in(els, exclude):
        cur = lowest.get(e.composition_key)
        if cur is None or e.energy_per_atom < cur.energy_per_atom:
            lowest[e.composition_key] = e
    rows = []
    for e in lowest.values():
        b = space.vector(e.composition)
        natoms = float(b.sum())
        hull = space.hull(b)
        e_hull = max(0.0, (e.energy_per_atom * natoms - hull.energy) / natoms * 1000.0)
        rows.append({"formula": e.reduced_formula, "e_above_hull_meV": round(e_hull, 1),
                     "entry_id": e.entry_id})
    rows.sort(key=lambda r: (r["e_above_hull_meV"], len(parse_formula(r["formula"])), r["formula"]))
    return rows


def coverage(chemsys, reference, available: Iterable[str] | None = None, tolerance_meV: float = TOLERANCE_MEV,
             exclude: Iterable[str] = ()) -> dict:
    """Hull and near-hull phases of ``reference`` in ``chemsys``: present in ``available`` (formulas;
    default: the structure library) or missing.

    Returns ``{chemsys, tolerance_meV, hull_present, near_hull_present, missing}``; each list
    holds ``{formula, e_above_hull_meV, entry_id}`` rows (present rows also ``library``: the
    library names, when comparing with the library, and ``searched``: whether the structure is a
    model prediction, see :func:`searched_formulas`); ``missing`` rows have ``on_hull``.
    """
    from sseflow.workflows.structures.library import parse_chemsys

    if not (isinstance(tolerance_meV, (int, float)) and 0 <= tolerance_meV < 1e4):
        raise InputError(f"coverage tolerance must be between 0 and 10000 meV/atom (got {tolerance_meV})")
    els = parse_chemsys(chemsys)
    if available is None:
        names = library_formulas(els)
    else:
        names = {}
        for f in available:
            names.setdefault(_reduced(f), [])
    searched = searched_formulas(els)
    out = {"chemsys": "-".join(els), "tolerance_meV": float(tolerance_meV),
           "hull_present": [], "near_hull_present": [], "missing": []}
    for row in hull_distances(els, reference, exclude):
        e = row["e_above_hull_meV"]
        if e > tolerance_meV:
            continue
        on_hull = e <= ON_HULL_MEV
        if row["formula"] in names:
            item = {**row, **({"library": names[row["formula"]]} if available is None else {}),
                    "searched": row["formula"] in searched}
            out["hull_present" if on_hull else "near_hull_present"].append(item)
        else:
            out["missing"].append({**row, "on_hull": on_hull})
    return out


def missing_line(cov: dict) -> str:
    """One line naming the missing phases of a :func:`coverage` result (``Li7P3S11 (0)``: meV/atom)."""
    miss = cov["missing"]
    if not miss:
        return f"{cov['chemsys']}: every hull and near-hull phase has a structure"
    parts = [f"{m['formula']} ({m['e_above_hull_meV']:g})" for m in miss]
    n_hull = sum(1 for m in miss if m["on_hull"])
    return (f"{cov['chemsys']}: {n_hull} hull and {len(miss) - n_hull} near-hull phase(s) "
            f"(within {cov['tolerance_meV']:g} meV/atom) have no structure: {', '.join(parts)} "
            f"[E_hull, meV/atom]")


# --------------------------------------------------------------------------- studies

def study_systems(study) -> list[str]:
    """The chemical systems whose hulls a study needs (windows: electrolyte + Li; reactions:
    electrolyte + partner, + Li when open to Li), as the study's plan builds them."""
    els_of = lambda f: set(parse_formula(f))  # noqa: E731
    c = study.compute
    electrolytes = [f for _, f in study.electrolyte_formulas()]
    interlayers = [f for _, f in study.interlayer_formulas()]
    partners = list(dict.fromkeys(list(study.anodes) + (interlayers if c.reactions else [])))
    systems: set[str] = set()
    for e in electrolytes:
        if c.windows:
            systems.add("-".join(sorted(els_of(e) | {"Li"})))
        if c.reactions:
            for b in partners:
                systems.add("-".join(sorted(els_of(e) | els_of(b) | ({"Li"} if c.potentials else set()))))
        if c.screening:
            for a in study.anodes:
                els = els_of(e) | els_of(a) | {"Li"}
                for f in study.screening_candidates():
                    els |= els_of(f)
                systems.add("-".join(sorted(els)))
    return sorted(systems, key=lambda s: (len(s.split("-")), s))


def study_formulas(study, chemsys) -> set[str]:
    """Reduced formulas of the structures a computed study relaxes in ``chemsys``: the library's
    (with ``phases.auto``) and the study's own (structure files, ``phases.include``), less ``phases.skip``."""
    from sseflow.workflows.structures.library import entry_for, parse_chemsys

    els = set(parse_chemsys(chemsys))
    out = set(library_formulas(els)) if study.phases.auto else set()
    from sseflow.workflows.study import PhaseSpec

    own = [*study.electrolytes, *study.interlayers, *(PhaseSpec.model_validate(a) for a in study.anodes)]
    for spec, included in [*((s, False) for s in own), *((s, True) for s in study.phases.include)]:
        try:
            if spec.cif or spec.structure_dict:
                f = _reduced(spec.composition_formula())
            elif included or study.phases.auto:
                f = _reduced(entry_for(spec.library or spec.formula)["formula"])
            else:
                continue
        except (InputError, ValueError):
            continue   # no structure: the study evaluates it as its phase assemblage
        if set(parse_formula(f)) <= els:
            out.add(f)
    for s in study.phases.skip:
        try:
            out.discard(_reduced(s))
        except InputError:
            try:
                out.discard(_reduced(entry_for(s)["formula"]))
            except InputError:
                pass
    return out


def coverage_reference(file=None) -> tuple[str | None, str]:
    """The reference file computed hulls are compared with, and where it was named: ``file`` (a
    study's ``reference.file``), else the configured default (``$SSEFLOW_REFERENCE``, the config
    file's ``reference:``), else the shared Materials Project table when it is present
    (``$SSEFLOW_SHARED/data`` or the ``shared`` folder beside the checkout); ``(None, why)`` when
    there is none."""
    if file:
        return str(file), "the study's reference.file"
    from sseflow.workflows.store.config import ConfigError, default_reference

    try:
        ref, where = default_reference()
    except ConfigError as exc:
        return None, str(exc)
    if ref:
        return ref, where or "config"
    from sseflow.workflows.structures.validate import default_reference_csv

    shared = default_reference_csv()
    if shared.is_file():
        return str(shared), "the shared Materials Project table"
    return None, "no reference file (set SSEFLOW_REFERENCE or 'reference:' in the sseflow config file)"


def study_reference_file(study) -> tuple[str | None, str]:
    """:func:`coverage_reference` of a study."""
    return coverage_reference(study.reference.path())


def study_coverage(study, reference: str | None = None) -> tuple[list[dict], list[str]]:
    """Coverage of each chemical system of a computed study: ([coverage dict, ...], notes)."""
    where = "given"
    if reference is None:
        reference, where = study_reference_file(study)
        if reference is None:
            return [], [f"coverage check skipped: {where}"]
    try:
        ref = _reference_set(reference)
    except InputError as exc:
        return [], [f"coverage check skipped: reference {reference} ({where}): {exc}"]
    out, notes = [], []
    for cs in study_systems(study):
        try:
            cov = coverage(cs, ref, study_formulas(study, cs), exclude=study.reference.exclude)
        except InputError as exc:
            notes.append(f"coverage of {cs} not checked: {exc}")
            continue
        out.append({**cov, "reference": str(reference)})
    return out, notes


def warn_study_coverage(study, stream=None) -> list[dict]:
    """Stderr notes, one line per chemical system, naming the hull and near-hull phases of the
    reference file that a computed study has no structure for (a warning, not an error)."""
    import sys

    stream = stream or sys.stderr
    covs, notes = study_coverage(study)
    for n in notes:
        print(f"sseflow: note: {n}", file=stream)
    for cov in covs:
        kind = "warning" if cov["missing"] else "note"
        print(f"sseflow: {kind}: coverage {missing_line(cov)} (vs {cov['reference']})", file=stream)
    return covs
