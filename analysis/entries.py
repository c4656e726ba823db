"""The light entry record sseflow's thermodynamics works on.

Energies are *formation* energies per atom (eV/atom) on one reference scale, with
every element's reference state at 0. Total-energy entries (pymatgen
``ComputedEntry``) are converted on load by subtracting the lowest elemental
energy per atom of each element in the same set.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from analysis.formula import num_atoms, reduced_formula


@dataclass(frozen=True)
class Entry:
    name: str                      # formula as given by the source ("Li12P4S16")
    composition: dict[str, float]  # amounts as given
    energy_per_atom: float         # formation energy, eV/atom
    entry_id: str = ""             # "file.csv:row 12", a task id, an mp-id ...
    correction_scheme: str | None = None
    data: dict = field(default_factory=dict, compare=False, hash=False)

    @cached_property
    def reduced_formula(self) -> str:
        return reduced_formula(self.composition)

    @cached_property
    def elements(self) -> frozenset[str]:
        return frozenset(self.composition)

    @cached_property
    def natoms(self) -> float:
        return num_atoms(self.composition)

    @cached_property
    def composition_key(self) -> tuple:
        """Hashable per-atom composition: equal for polymorphs and unreduced formulas."""
        n = self.natoms
        return tuple(sorted((el, round(a / n, 9)) for el, a in self.composition.items()))

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "composition": dict(self.composition),
            "energy_per_atom": self.energy_per_atom,
            "entry_id": self.entry_id,
            "correction_scheme": self.correction_scheme,
        }
