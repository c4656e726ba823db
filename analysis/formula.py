"""A fast chemical-formula parser and formatter (no pymatgen import on the hot path).

Compositions are plain ``dict[str, float]`` mapping element symbols to amounts.
Parsing accepts nested brackets and fractional amounts (``Li1.3Al0.3Ti1.7(PO4)3``)
and rejects anything else with :class:`sseflow.analysis.errors.InputError`.
"""
from __future__ import annotations

import math
import re
from functools import lru_cache

from sseflow.analysis.elements import ATOMIC_NUMBER, electronegativity
from sseflow.analysis.errors import InputError

# Amounts of one element in a formula: stoichiometries, supercells and doping levels all lie
# well inside this range; beyond it a number is a typo or machine-made, and the LP tolerances
# (1e-9 of the total) could no longer resolve the composition.
MIN_AMOUNT = 1e-6
MAX_AMOUNT = 1e6

_TOKEN = re.compile(r"([A-Z][a-z]*)|([(\[])|([)\]])|(\d+(?:\.\d*)?|\.\d+)|(\s+)|(.)")
_CLOSE = {"(": ")", "[": "]"}


@lru_cache(maxsize=65536)
def _parse(formula: str) -> tuple[tuple[str, float], ...]:
    stack: list[dict[str, float]] = [{}]
    opens: list[str] = []
    last: dict[str, float] | None = None  # what a following number multiplies (element or group)
    before: dict[str, float] = {}         # the amounts of those elements before it was added
    for m in _TOKEN.finditer(formula):
        sym, opn, cls, num, space, bad = m.groups()
        if sym is not None:
            if sym not in ATOMIC_NUMBER:
                raise InputError(f"unknown element '{sym}' in formula '{_short(formula)}'")
            before = {sym: stack[-1].get(sym, 0.0)}
            stack[-1][sym] = before[sym] + 1.0
            last = {sym: 1.0}
        elif opn is not None:
            stack.append({})
            opens.append(opn)
            last = None
        elif cls is not None:
            if not opens or _CLOSE[opens.pop()] != cls:
                raise InputError(f"malformed formula '{_short(formula)}': unbalanced brackets")
            group = stack.pop()
            if not group:
                raise InputError(f"malformed formula '{_short(formula)}': empty brackets")
            before = {k: stack[-1].get(k, 0.0) for k in group}
            for k, v in group.items():
                stack[-1][k] = before[k] + v
            last = group
        elif num is not None:
            amount = float(num)
            if last is None:
                raise InputError(f"malformed formula '{_short(formula)}': number '{_short(num)}' does not follow an element")
            if not amount <= MAX_AMOUNT:
                raise InputError(f"formula '{_short(formula)}': amount {_short(num)} is out of range "
                                 f"(amounts must be at most {MAX_AMOUNT:g})")
            for k, v in last.items():  # amounts are set from the value before, never corrected: exact
                stack[-1][k] = before[k] + v * amount
            last = None
        elif space is not None:
            raise InputError(f"malformed formula '{_short(formula)}': contains whitespace")
        else:
            raise InputError(f"malformed formula '{_short(formula)}': unexpected character '{bad}'")
    if opens:
        raise InputError(f"malformed formula '{_short(formula)}': unbalanced brackets")
    comp = stack[0]
    if not comp:
        raise InputError(f"malformed formula '{_short(formula)}': no elements")
    if any(v <= 0 for v in comp.values()):
        raise InputError(f"malformed formula '{_short(formula)}': zero amount of an element")
    for el, v in comp.items():
        if not MIN_AMOUNT <= v <= MAX_AMOUNT:
            raise InputError(f"formula '{_short(formula)}': amount {v:g} of {el} is out of range "
                             f"(amounts must lie between {MIN_AMOUNT:g} and {MAX_AMOUNT:g})")
    return tuple(comp.items())


def _short(text: str, limit: int = 60) -> str:
    """``text`` for a one-line message: long input is cut, with its length."""
    if len(text) <= limit:
        return text
    return f"{text[:limit - 20]}...({len(text)} characters)"


def parse_formula(formula: str) -> dict[str, float]:
    """Parse ``formula`` into ``{element: amount}``; raise InputError if malformed."""
    if not isinstance(formula, str) or not formula.strip():
        raise InputError("malformed formula '': empty")
    return dict(_parse(formula.strip()))


def chemsys(comp: dict[str, float]) -> str:
    """Chemical system string, elements sorted alphabetically: ``Li-P-S``."""
    return "-".join(sorted(comp))


def num_atoms(comp: dict[str, float]) -> float:
    return float(sum(comp.values()))


def _order(comp: dict[str, float]) -> list[str]:
    return sorted(comp, key=lambda s: (electronegativity(s), ATOMIC_NUMBER[s]))


def _fmt_amount(x: float) -> str:
    if abs(x - 1.0) < 1e-8:
        return ""
    if abs(x - round(x)) < 1e-8:
        return str(int(round(x)))
    return f"{x:.4f}".rstrip("0").rstrip(".")


def reduce_amounts(comp: dict[str, float]) -> tuple[dict[str, float], float]:
    """Divide by the greatest common divisor when all amounts are (near) integers.

    Returns the reduced composition and the factor it was divided by.
    """
    if all(abs(v - round(v)) < 1e-8 for v in comp.values()):
        g = 0
        for v in comp.values():
            g = math.gcd(g, int(round(v)))
        g = max(g, 1)
        return {k: round(v) / g for k, v in comp.items()}, float(g)
    return dict(comp), 1.0


def formula_string(comp: dict[str, float]) -> str:
    """Formula with cations first (by electronegativity), amounts as given."""
    return "".join(f"{s}{_fmt_amount(comp[s])}" for s in _order(comp) if comp[s] > 1e-12)


# Reduced formulas that name molecules or peroxides, as pymatgen names them.
_SPECIAL = {"O": ("O2", 2.0), "N": ("N2", 2.0), "F": ("F2", 2.0), "Cl": ("Cl2", 2.0), "H": ("H2", 2.0),
            "I": ("I2", 2.0), "Br": ("Br2", 2.0), "LiO": ("Li2O2", 4.0), "NaO": ("Na2O2", 4.0),
            "KO": ("K2O2", 4.0), "HO": ("H2O2", 4.0)}


def reduced_formula_and_size(comp: dict[str, float]) -> tuple[str, float]:
    """Reduced formula and the number of atoms in one formula unit of it."""
    red, _ = reduce_amounts(comp)
    f = formula_string(red)
    if f in _SPECIAL:
        return _SPECIAL[f]
    return f, float(sum(red.values()))


def reduced_formula(comp: dict[str, float]) -> str:
    """Reduced formula: ``Li12P4S16`` -> ``Li3PS4``, ``O`` -> ``O2``; non-integer amounts stay as given."""
    return reduced_formula_and_size(comp)[0]


def reduced_formula_of(formula: str) -> str:
    return reduced_formula(parse_formula(formula))
