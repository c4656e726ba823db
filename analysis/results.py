"""What every result object shares: monty serialisation and balanced reaction equations.

Serialisation
-------------
Result dataclasses (windows, profile steps, reaction curves and their kinks, screenings,
anode phases, thermo reports, free-energy tables) mix in :class:`MSONResult`, monty's
``MSONable``: ``as_dict()`` gives a JSON-ready dict with ``@module``/``@class``/``@version``
keys, ``from_dict()`` rebuilds the object, and ``json.dumps(obj, cls=MontyEncoder)`` /
``json.loads(text, cls=MontyDecoder)`` give back an equal object. Round trips are exact:
floats keep every bit (JSON writes ``repr``), NaN and infinities are kept (``NaN``,
``Infinity``), numpy arrays come back as arrays of the same dtype (monty's numpy envelope).

Equality of results is field by field, with NaN equal to NaN and arrays compared element
by element, so that a result and its round-tripped copy compare equal. Declare result
dataclasses with ``@dataclass(eq=False)`` so that this ``__eq__`` is the one used.

Reaction equations
------------------
A :class:`ReactionEquation` holds the exact coefficients of a reaction as written: the
(formula, coefficient) pairs of each side in display order. Its ``str`` is the display
string of the results (``"Li3PS4 + 8 Li -> 4 Li2S + Li3P"``, coefficients to 4 significant
figures) and :meth:`ReactionEquation.to_pymatgen` gives a pymatgen
:class:`~pymatgen.analysis.reaction_calculator.Reaction` with the same coefficients.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Sequence

import numpy as np
from monty.json import MSONable

from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import parse_formula

#: Terms with a coefficient at or below this are left out of equations and strings.
MIN_COEFFICIENT = 1e-9


# ---------------------------------------------------------------------------- serialisation

def _json_ready(obj: Any) -> Any:
    """``obj`` with numpy arrays in monty's envelope and numpy scalars as Python numbers."""
    if isinstance(obj, dict):
        return {k: _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        from monty.json import MontyEncoder

        return MontyEncoder().default(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def same(a: Any, b: Any) -> bool:
    """Equality of result values: NaN equals NaN, arrays element by element (and same shape),
    lists and tuples item by item (a list never equals a tuple), dicts key by key."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.shape != b.shape:
            return False
        try:
            return bool(np.array_equal(a, b, equal_nan=True))
        except TypeError:  # non-numeric dtype
            return bool(np.array_equal(a, b))
    if isinstance(a, (float, np.floating)) and isinstance(b, (float, np.floating)):
        return bool(a == b) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(same(a[k], b[k]) for k in a))
    return bool(a == b)


class MSONResult(MSONable):
    """monty's ``MSONable`` for result dataclasses (see the module notes).

    ``as_dict`` is MSONable's (one key per ``__init__`` argument, nested results as their
    own dicts) made JSON-ready; ``from_dict`` is MSONable's (each value through
    ``MontyDecoder``), so nested results and arrays come back as objects. A result whose
    fields hold tuples turns the lists JSON gives back into tuples in ``__post_init__``.
    """

    def as_dict(self) -> dict:
        return _json_ready(super().as_dict())

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(same(getattr(self, f.name), getattr(other, f.name))
                   for f in dataclasses.fields(self) if f.compare)

    __hash__ = None  # mutable results, compared by value


# ---------------------------------------------------------------------------- reaction equations

def format_coefficient(x: float) -> str:
    """``""`` for 1, ``"4 "`` for an integer, else 4 significant figures and a space."""
    if abs(x - 1.0) < 1e-6:
        return ""
    if abs(x - round(x)) < 1e-6:
        return f"{int(round(x))} "
    return f"{x:.4g} "


def format_reaction(reactants: Iterable[tuple[str, float]], products: Iterable[tuple[str, float]]) -> str:
    """``'Li3PS4 + 8 Li -> 4 Li2S + Li3P'`` from (formula, coefficient) pairs; terms at or
    below :data:`MIN_COEFFICIENT` are left out, an empty side reads ``(nothing)``."""
    def side(items):
        items = [(f, c) for f, c in items if c > MIN_COEFFICIENT]
        return " + ".join(f"{format_coefficient(c)}{f}" for f, c in items) or "(nothing)"
    return f"{side(reactants)} -> {side(products)}"


def _terms(items: Iterable[Sequence]) -> list[tuple[str, float]]:
    out = []
    for item in items:
        f, c = item
        c = float(c)
        if c > MIN_COEFFICIENT:
            out.append((str(f), c))
    return out


@dataclasses.dataclass(eq=False)
class ReactionEquation(MSONResult):
    """A balanced reaction as written: (formula, coefficient) pairs of each side, in the
    order shown; coefficients are positive, terms at or below :data:`MIN_COEFFICIENT` are
    left out (as in the string). ``str()`` is the display string."""

    reactants: list[tuple[str, float]]
    products: list[tuple[str, float]]

    def __post_init__(self):
        self.reactants = _terms(self.reactants)
        self.products = _terms(self.products)

    def __str__(self) -> str:
        return format_reaction(self.reactants, self.products)

    def coefficients(self) -> list[tuple[str, float]]:
        """(formula, coefficient) of every term, reactants negative then products positive:
        the order and values of ``to_pymatgen().all_comp`` / ``.coeffs``."""
        return [(f, -c) for f, c in self.reactants] + list(self.products)

    def imbalance(self) -> dict[str, float]:
        """Atoms of each element on the product side minus the reactant side (all ~0)."""
        out: dict[str, float] = {}
        for f, c in self.coefficients():
            for el, n in parse_formula(f).items():
                out[el] = out.get(el, 0.0) + c * n
        return out

    def is_balanced(self, tol: float = 1e-6) -> bool:
        """Every element within ``tol`` atoms (per reaction as written) on both sides."""
        return all(abs(v) <= tol for v in self.imbalance().values())

    def to_pymatgen(self):
        """The pymatgen ``Reaction`` of these compositions with these coefficients.

        Built from ``Composition`` objects of the formulas (reactants, then products, in the
        order shown); its coefficients are this equation's (reactants negative): where the
        compositions admit more than one balance (more phases than independent elements),
        pymatgen's own choice is replaced by the one computed here. ``str()`` of it equals the
        display string when the formulas are reduced formulas. (``Reaction.from_dict``
        re-balances from the compositions alone; serialise the result, not the Reaction.)
        """
        from pymatgen.analysis.reaction_calculator import Reaction
        from pymatgen.core import Composition

        if not self.reactants or not self.products:
            raise InputError(f"'{self}' has an empty side: no pymatgen Reaction")
        reaction = Reaction([Composition(f) for f, _ in self.reactants],
                            [Composition(f) for f, _ in self.products])
        reaction._coeffs = [c for _, c in self.coefficients()]   # same order as reaction.all_comp
        return reaction


__all__ = ["MSONResult", "ReactionEquation", "format_reaction", "format_coefficient", "same", "MIN_COEFFICIENT"]
