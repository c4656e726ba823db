"""Compositions from what pymatgen and ASE users hold.

Every function that takes a composition (windows, reactions, screening, study phases) accepts

* a formula string (``"Li3PS4"``), used as given;
* a pymatgen ``Composition`` or a dict ``{element: amount}`` (symbols, ``Element`` or ``Species``
  keys): the amounts as given, like a formula;
* a pymatgen ``Structure`` (or ``Molecule``), an ASE ``Atoms``, or an entry (``PDEntry``,
  ``ComputedEntry``, ``ComputedStructureEntry``, an :class:`sseflow.analysis.entries.Entry`):
  a cell is not a formula unit, so these give their *reduced* formula (a 32-atom Li3PS4 cell is
  ``Li3PS4``; an O8 cell is ``O2``), exactly as if that formula had been typed. An entry stands
  for its composition only: energies come from the reference set (build one from entries with
  :meth:`sseflow.analysis.reference.ReferenceSet.from_entries`).

Anything else is one :class:`~sseflow.analysis.errors.InputError` line. Nothing here imports
pymatgen or ASE: objects are recognised by what they offer.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping

from sseflow.analysis.elements import ATOMIC_NUMBER
from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import (MAX_AMOUNT, MIN_AMOUNT, _order, formula_string, parse_formula,
                                      reduced_formula)

__all__ = ["as_formula", "as_composition_dict", "named_composition", "structure_of", "ACCEPTED"]

ACCEPTED = ("a formula string, a pymatgen Composition, Structure or entry, an ASE Atoms "
            "or a dict {element: amount}")


def named_composition(x, what: str = "composition") -> tuple[str, dict[str, float]]:
    """``(name, {element: amount})`` of ``x``: the name results show, the amounts computed with.

    A formula string is kept as given; a Composition or dict keeps its amounts; a structure,
    ``Atoms`` or entry gives its reduced formula (see the module notes). ``what`` names the
    argument in the error message.
    """
    if isinstance(x, str):
        return x, parse_formula(x)
    amounts, cell = _amounts(x, what)
    if cell:
        name = reduced_formula(amounts)
        comp = parse_formula(name)
        if _same(comp, amounts):
            return name, comp
        return _exact_name(amounts), amounts  # non-integer amounts (partial occupancies)
    name = formula_string(amounts)
    return (name if _same(parse_formula(name), amounts) else _exact_name(amounts)), amounts


def as_formula(x, what: str = "composition") -> str:
    """A formula string of ``x`` that :func:`sseflow.analysis.formula.parse_formula` reads back to
    the composition :func:`named_composition` gives (a formula string is validated and returned
    as given)."""
    if isinstance(x, str):
        parse_formula(x)
        return x
    return named_composition(x, what)[0]


def as_composition_dict(x, what: str = "composition") -> dict[str, float]:
    """``{element symbol: amount}`` of ``x`` (reduced for structures, ``Atoms`` and entries)."""
    return named_composition(x, what)[1]


def structure_of(x):
    """The pymatgen ``Structure`` that ``x`` carries (a Structure, an ASE ``Atoms`` or a
    ``ComputedStructureEntry``), or None when it carries none (a formula, a composition ...)."""
    if _is_structure(x):
        return x
    if _is_atoms(x):
        from pymatgen.io.ase import AseAtomsAdaptor

        if len(x) == 0:
            raise InputError("empty ASE Atoms: no atoms")
        bare = x.copy()
        bare.set_constraint()
        for k in list(bare.arrays):
            if k not in ("numbers", "positions"):
                del bare.arrays[k]
        bare.info = {}
        if not bare.pbc.all() or abs(bare.cell.volume) < 1e-9:
            raise InputError(f"ASE Atoms {bare.get_chemical_formula()} is not a periodic crystal "
                             f"(pbc {bare.pbc.tolist()}, cell volume {abs(bare.cell.volume):.3g} Å3)")
        return AseAtomsAdaptor.get_structure(bare)
    s = getattr(x, "structure", None)
    if s is not None and not isinstance(x, (str, Mapping)) and _is_structure(s):
        return s
    return None


# --------------------------------------------------------------------------- helpers

def _is_structure(x) -> bool:
    return hasattr(x, "lattice") and hasattr(x, "sites") and hasattr(x, "composition")


def _is_atoms(x) -> bool:
    return hasattr(x, "get_chemical_symbols") and hasattr(x, "get_positions") and hasattr(x, "pbc")


def _amounts(x, what: str) -> tuple[dict[str, float], bool]:
    """(amounts, whether x is a cell whose formula is reduced)."""
    if isinstance(x, (bytes, bool, int, float)) or x is None:
        raise _unusable(x, what)
    if hasattr(x, "get_el_amt_dict"):                          # pymatgen Composition
        return _checked(x.get_el_amt_dict(), what, type(x).__name__), False
    if isinstance(x, Mapping):
        return _checked(x, what, "dict"), False
    if _is_atoms(x):                                           # ASE Atoms
        symbols = x.get_chemical_symbols()
        if not symbols:
            raise InputError(f"{what}: empty ASE Atoms (no atoms)")
        return _checked(Counter(symbols), what, "Atoms"), True
    comp = getattr(x, "composition", None)                     # Structure, Molecule, entries
    if comp is not None:
        kind = type(x).__name__
        if hasattr(comp, "get_el_amt_dict"):
            comp = comp.get_el_amt_dict()
        if isinstance(comp, Mapping):
            if not comp:
                raise InputError(f"{what}: empty {kind} (no atoms)")
            return _checked(comp, what, kind), True
    symbol = getattr(x, "symbol", None)                        # pymatgen Element / Species
    if isinstance(symbol, str) and symbol in ATOMIC_NUMBER and type(x).__module__.startswith("pymatgen"):
        return {symbol: 1.0}, False
    raise _unusable(x, what)


def _unusable(x, what: str) -> InputError:
    return InputError(f"cannot use {type(x).__name__} as a {what}: give {ACCEPTED}")


def _checked(mapping, what: str, kind: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, amount in mapping.items():
        sym = key if isinstance(key, str) else getattr(key, "symbol", None)
        if not isinstance(sym, str):
            raise InputError(f"{what}: {kind} key {key!r} is not an element")
        sym = sym.strip()
        if sym not in ATOMIC_NUMBER:
            raise InputError(f"{what}: unknown element '{sym}' in {kind}")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) and not hasattr(amount, "__float__"):
            raise InputError(f"{what}: amount of {sym} must be a number (got {amount!r})")
        v = float(amount)
        if not math.isfinite(v) or v < 0:
            raise InputError(f"{what}: amount {v:g} of {sym} must be a finite number >= 0")
        if v == 0:
            continue
        if not MIN_AMOUNT <= v <= MAX_AMOUNT:
            raise InputError(f"{what}: amount {v:g} of {sym} is out of range "
                             f"(amounts must lie between {MIN_AMOUNT:g} and {MAX_AMOUNT:g})")
        out[sym] = out.get(sym, 0.0) + v
    if not out:
        raise InputError(f"{what}: {kind} has no elements")
    return out


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Same per-atom composition (to 1e-9)."""
    if set(a) != set(b):
        return False
    na, nb = sum(a.values()), sum(b.values())
    return all(abs(a[k] / na - b[k] / nb) < 1e-9 for k in a)


def _exact_name(comp: dict[str, float]) -> str:
    """A formula with amounts to 1e-10 (for amounts four decimals cannot carry)."""
    def amount(v: float) -> str:
        if abs(v - 1.0) < 1e-12:
            return ""
        return f"{v:.10f}".rstrip("0").rstrip(".")
    return "".join(f"{s}{amount(comp[s])}" for s in _order(comp))
