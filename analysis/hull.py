"""Convex hulls as linear programs (HiGHS), closed or open to one element.

For a chemical system with entries j (per-atom composition x_j, formation energy
per atom e_j), the hull energy of a composition b (amounts of each element) is

    E_hull(b) = min_w  e . w   subject to  X w = b,  w >= 0,

w_j being the number of atoms in phase j. The LP dual is the chemical-potential
polytope  max mu . b  s.t.  X^T mu <= e:  its optimal face is the set of element
chemical potentials (relative to the elemental references) at which the phase
assemblage of b is in equilibrium. No convex hull is ever built, so the cost grows
gently with the number of entries and elements.

Opening the system to an element (Li) drops its row from X and subtracts
mu_Li * (Li atoms in w) from the objective: the grand potential.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sseflow.analysis.entries import Entry
from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import reduced_formula_and_size
from sseflow.analysis.lp import INF, HighsLP


@dataclass
class Decomposition:
    """The phase assemblage of an LP solution: atoms of each phase and its energy."""
    energy: float                      # total (formation) energy or grand potential of b, eV
    phases: list[tuple[Entry, float]]  # (entry, atoms of that phase), atoms > 0
    mu: np.ndarray                     # one vertex of the optimal dual face (element chemical potentials)
    open_amount: float = 0.0           # atoms of the open element taken up (grand-potential LPs)
    weights: np.ndarray | None = None  # atoms of every entry of the phase space

    def formula_units(self) -> list[tuple[str, float]]:
        """Products as (reduced formula, formula units), sorted by formula."""
        out: dict[str, float] = {}
        for e, atoms in self.phases:
            f, per_fu = reduced_formula_and_size(e.composition)
            out[f] = out.get(f, 0.0) + atoms / per_fu
        return sorted(out.items())

    @property
    def products(self) -> list[str]:
        return [f for f, _ in self.formula_units()]


def _hull_candidates(entries: Sequence[Entry]) -> list[Entry]:
    """Drop entries that can never be on the hull, exactly: every polymorph but the lowest of
    each composition, and compounds with a positive formation energy (the elements, at 0, lie
    below them)."""
    best: dict[tuple, Entry] = {}
    for e in entries:
        if len(e.composition) > 1 and e.energy_per_atom > 0.0:
            continue
        key = e.composition_key
        cur = best.get(key)
        if cur is None or e.energy_per_atom < cur.energy_per_atom:
            best[key] = e
    return list(best.values())


class PhaseSpace:
    """The entries of one chemical system as persistent LPs."""

    def __init__(self, entries: Sequence[Entry], elements: Sequence[str] | None = None, prune: bool = True):
        if not entries:
            raise InputError("no entries to build a phase diagram from")
        els = sorted(set(elements) if elements else set().union(*(e.elements for e in entries)))
        self.elements = els
        self.index = {el: i for i, el in enumerate(els)}
        elset = set(els)
        self.all_entries = [e for e in entries if e.elements <= elset]
        self.entries = ents = _hull_candidates(self.all_entries) if prune else self.all_entries
        X = np.zeros((len(els), len(ents)))
        for j, e in enumerate(ents):
            n = e.natoms
            for el, a in e.composition.items():
                X[self.index[el], j] = a / n
        self.X = X
        self.e = np.array([e.energy_per_atom for e in ents], dtype=float)
        for el in els:
            if not any(len(e.composition) == 1 and el in e.composition for e in ents):
                raise InputError(f"no entries for element {el} in chemical system {'-'.join(els)}")
        self._closed: HighsLP | None = None
        self._dual: HighsLP | None = None
        self._open: dict[str, HighsLP] = {}

    # ------------------------------------------------------------------ helpers
    def vector(self, comp: dict[str, float]) -> np.ndarray:
        b = np.zeros(len(self.elements))
        for el, a in comp.items():
            if el not in self.index:
                raise InputError(f"element {el} is not in chemical system {'-'.join(self.elements)}")
            b[self.index[el]] = a
        return b

    def _decomp(self, w: np.ndarray, energy: float, mu: np.ndarray, open_amount: float = 0.0) -> Decomposition:
        w = np.where(w > 0, w, 0.0)
        total = max(w.sum(), 1e-300)
        phases = [(self.entries[j], float(w[j])) for j in np.flatnonzero(w > 1e-9 * total)]
        return Decomposition(float(energy), phases, mu, open_amount, w)

    # ------------------------------------------------------------------ closed system
    def hull(self, b: np.ndarray) -> Decomposition:
        """Lowest-energy phase assemblage of composition ``b`` (element amounts)."""
        if self._closed is None:
            m, n = self.X.shape
            self._closed = HighsLP(self.e, self.X, b, b, np.zeros(n), np.full(n, INF))
        else:
            self._closed.set_row_bounds(np.arange(len(b)), b, b)
        res = self._closed.solve()
        if res.status != "optimal":
            raise InputError(f"hull LP failed for composition {b}: {res.status}")
        return self._decomp(res.x, res.objective, res.row_dual)

    def mu_range(self, dec: Decomposition, element: str) -> tuple[float | None, float | None]:
        """Range of the chemical potential of ``element`` over the optimal dual face of ``dec``.

        The face is {mu : X^T mu <= e, x_j . mu = e_j for every phase j of the assemblage}
        (complementary slackness). Returns (min, max); None marks an unbounded side.
        """
        m, n = self.X.shape
        if self._dual is None:
            self._dual = HighsLP(np.zeros(m), self.X.T, np.full(n, -INF), self.e,
                                 np.full(m, -INF), np.full(m, INF))
        lp = self._dual
        support = np.flatnonzero(dec.weights > 1e-9 * max(dec.weights.sum(), 1e-300))
        lp.set_row_bounds(support, self.e[support], self.e[support])
        out: list[float | None] = []
        try:
            for sign in (1.0, -1.0):
                c = np.zeros(m)
                c[self.index[element]] = sign
                lp.set_costs(c)
                res = lp.solve()
                if res.status == "optimal":
                    out.append(float(res.x[self.index[element]]))
                elif "unbounded" in res.status:
                    out.append(None)
                else:
                    raise InputError(f"chemical-potential LP failed: {res.status}")
        finally:
            lp.set_row_bounds(support, np.full(len(support), -INF), self.e[support])
        return out[0], out[1]

    # ------------------------------------------------------------------ open system
    def grand_hull(self, b: np.ndarray, element: str, mu: float) -> Decomposition:
        """Grand-potential assemblage of ``b`` open to ``element`` at chemical potential ``mu``.

        Minimises sum_j w_j (e_j - mu x_j[element]) with the other elements fixed; the
        element's own amount in ``b`` is ignored. ``energy`` is the grand potential.
        """
        k = self.index[element]
        keep = [i for i in range(len(self.elements)) if i != k]
        cost = self.e - mu * self.X[k]
        lp = self._open.get(element)
        if lp is None:
            n = self.X.shape[1]
            lp = self._open[element] = HighsLP(cost, self.X[keep], b[keep], b[keep], np.zeros(n), np.full(n, INF))
        else:
            lp.set_costs(cost)
            lp.set_row_bounds(np.arange(len(keep)), b[keep], b[keep])
        res = lp.solve()
        if res.status != "optimal":
            raise InputError(f"grand-potential LP failed: {res.status}")
        mu_full = np.zeros(len(self.elements))
        mu_full[keep] = res.row_dual
        mu_full[k] = mu
        return self._decomp(res.x, res.objective, mu_full, float(self.X[k] @ res.x))
