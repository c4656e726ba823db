"""The light entry record sseflow's thermodynamics works on.

Energies are *formation* energies per atom (eV/atom) on one reference scale, with
every element's reference state at 0. Total-energy entries (pymatgen
``ComputedEntry``) are converted on load by subtracting the lowest elemental
energy per atom of each element in the same set.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import MAX_AMOUNT, num_atoms, reduced_formula


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


# Formation energies per atom of real compounds lie within a few eV/atom (the most negative,
# fluorides, near -4.5). A value beyond this bound is a unit mix-up (meV, kJ/mol), a total
# energy, or a broken calculation, and would swamp every hull it enters.
MAX_ABS_ENERGY = 100.0  # eV/atom


def check_energy(value, what: str) -> float:
    """``value`` as a formation energy per atom; InputError naming ``what`` when it is not a
    finite number within +-:data:`MAX_ABS_ENERGY` eV/atom."""
    if isinstance(value, bool):
        raise InputError(f"{what}: energy must be a number (got {value!r})")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what}: energy must be a number (got {_shown(value)})") from None
    if not math.isfinite(v):
        raise InputError(f"{what}: energy {value!r} is not a finite number")
    if abs(v) > MAX_ABS_ENERGY:
        raise InputError(f"{what}: energy {v:g} eV/atom is out of range (formation energies per atom "
                         f"must lie within +-{MAX_ABS_ENERGY:g} eV/atom)")
    return v


def _shown(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def decode_pymatgen_entry(item, position: int, source: str):
    """One item of a pymatgen entries JSON list, decoded to its pymatgen object.

    Checks the fields sseflow uses before pymatgen sees them, so that a bad entry is reported
    as ``source: entry 3 (mp-1234): missing field 'correction'`` instead of pymatgen's own
    exception. ``position`` is 0-based; messages count from 1.
    """
    label = f"entry {position + 1}"
    if isinstance(item, dict) and isinstance(item.get("entry_id"), (str, int)):
        eid = str(item["entry_id"])
        label += f" ({eid if len(eid) <= 40 else eid[:37] + '...'})"
    where = f"{source}: {label}"
    if not isinstance(item, dict):
        raise InputError(f"{where}: not a pymatgen entry (a {type(item).__name__}, not an object)")
    cls = item.get("@class")
    if not isinstance(cls, str) or not isinstance(item.get("@module"), str):
        raise InputError(f"{where}: not a pymatgen entry (no '@module'/'@class' fields)")
    if not cls.endswith("Entry"):
        raise InputError(f"{where}: '@class' is {_shown(cls)}, not a pymatgen entry class")
    required = ["energy", "structure" if "Structure" in cls else "composition"]
    if cls.startswith("Computed"):
        required.append("correction")
    for key in required:
        if key not in item:
            raise InputError(f"{where}: missing field '{key}'")
    for key in ("energy", "correction"):
        if key in item and not _is_number(item[key]):
            raise InputError(f"{where}: field '{key}' must be a number (got {_shown(item[key])})")
    comp = item.get("composition")
    if comp is not None and not isinstance(comp, str):
        if not isinstance(comp, dict) or not comp:
            raise InputError(f"{where}: field 'composition' must be a mapping of elements to amounts "
                             f"(got {_shown(comp)})")
        for el, amount in comp.items():
            if not _is_number(amount) or not math.isfinite(amount) or amount < 0 or amount > MAX_AMOUNT:
                raise InputError(f"{where}: field 'composition' has amount {_shown(amount)} for {_shown(el)} "
                                 f"(amounts must be numbers from 0 to {MAX_AMOUNT:g})")
    from monty.json import MontyDecoder  # lazy: pymatgen/monty only for this format

    try:
        obj = MontyDecoder().process_decoded(item)
    except KeyError as exc:
        raise InputError(f"{where}: missing field {exc.args[0]!r}" if exc.args else
                         f"{where}: a field is missing") from None
    except Exception as exc:  # pymatgen's own checks: name the entry and pass its words on
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{where}: cannot be read as a {cls}: {_shown(text, 160)}") from None
    if not (hasattr(obj, "composition") and hasattr(obj, "energy")):
        raise InputError(f"{where}: '@class' {_shown(cls)} is not a pymatgen entry")
    return obj
