"""Correction schemes of GGA/GGA+U formation energies and conversions between them.

Materials Project style formation energies carry fitted corrections, and two generations of them
are in use:

* ``MP2020``: pymatgen's ``MaterialsProject2020Compatibility`` (composition corrections per anion:
  oxide -0.687, S -0.503, F -0.462, Cl -0.614, N -0.361, H -0.179, Br, I, Se, Te ... eV per atom;
  GGA/GGA+U mixing for the oxides and fluorides of V, Cr, Mn, Fe, Co, Ni, Mo, W). CHGNet predicts
  energies on this scale (it is trained on corrected MPtrj energies).
* ``MP-legacy``: pymatgen's ``MaterialsProjectCompatibility``, the scheme of the Materials Project
  database before 2020 (and of data sets taken from it then, such as matbench ``mp_e_form``):
  oxide -0.702 and sulfide -0.663 eV per anion, no Br/I/Se/Te corrections, other U corrections,
  and fitted elemental energies for N2, F2, Cl2 and H2 instead of anion corrections.
* ``uncorrected``: the same GGA/GGA+U energies without any correction (SevenNet predicts these).

A formation energy per atom moves from one scheme to another as

    E_f(target) = E_f(source) + [C_target(X) - C_source(X)] / N

where ``C_s(X)`` (:func:`scheme_correction`) is what scheme ``s`` adds, in eV per cell, to the
uncorrected formation energy of compound X with N atoms: the compound's adjustments from
pymatgen's compatibility class (anion typing, oxide/peroxide and sulfide types from the structure
when one is given, oxidation states guessed from the composition) and, for ``MP-legacy``, the
refitted gas references: each N, F, Cl, H atom contributes ``E_raw(X) - E_fit(X)``, the difference
between Materials Project's own uncorrected GGA energy of the element (pymatgen's
``calc_compounds.json.gz``, the data the corrections were fitted to) and the legacy fitted energy
(-0.384 N, -0.491 F, -0.595 Cl, -0.153 H eV per atom). Elements are 0 eV/atom in every scheme,
so the elemental references of a converted set stay consistent.

Reference files declare their scheme (:func:`declared_scheme`): a one-line sidecar
``<file>.scheme`` next to the file, or the SHA-256 of a table this module knows
(:data:`KNOWN_TABLES`). Nothing here imports sseflow's workflow layer; pymatgen is needed only
for the corrections themselves.
"""
from __future__ import annotations

import hashlib
import math
import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from sseflow.analysis.errors import InputError

MP2020 = "MP2020"
MP_LEGACY = "MP-legacy"
UNCORRECTED = "uncorrected"
CONVERTIBLE = (MP2020, MP_LEGACY, UNCORRECTED)
"""Schemes between which formation energies can be converted (all on Materials Project's
GGA/GGA+U settings: VASP PBE, MP's PAW potentials and U values)."""

_ALIASES = {
    "mp2020": MP2020, "mp-2020": MP2020, "materialsproject2020compatibility": MP2020,
    "mp2020compatibility": MP2020,
    "mp-legacy": MP_LEGACY, "mplegacy": MP_LEGACY, "legacy": MP_LEGACY, "mp-pre2020": MP_LEGACY,
    "pre-2020": MP_LEGACY, "pre2020": MP_LEGACY, "materialsprojectcompatibility": MP_LEGACY,
    "mpcompatibility": MP_LEGACY,
    "uncorrected": UNCORRECTED, "raw": UNCORRECTED, "mp-uncorrected": UNCORRECTED,
}

# Tables whose scheme is known, by SHA-256 of the file's bytes.
KNOWN_TABLES: dict[str, tuple[str, str]] = {
    # matbench mp_e_form as copied in the CrabNet repository (132,752 rows formula,target).
    # Against the uncorrected MP energies of pymatgen's calc_compounds (334 compounds), the
    # MP-legacy formation energies differ from its rows by 0.010 eV/atom on average (sulfides
    # 0.006, chlorides 0.005), MP2020's by 0.067 (sulfides 0.079, bromides and iodides 0.2-0.3).
    "90e895635c96447c5be4e9070d26f26e1b4d17925102a6597ae3c4d79c32555b":
        (MP_LEGACY, "matbench mp_e_form (Materials Project, pre-2020 corrections)"),
}

SIDECAR_SUFFIX = ".scheme"

# Legacy gas terms (eV per atom of the element in a compound) when pymatgen's data file is absent:
# MP's uncorrected GGA energy of N2, F2, Cl2, H2 minus the legacy fitted energy.
_LEGACY_GAS_FALLBACK = {"N": -0.384023, "F": -0.490929, "Cl": -0.594686, "H": -0.152989}

_U_VALUES = {"Co": 3.32, "Cr": 3.7, "Fe": 5.3, "Mn": 3.9, "Mo": 4.38, "Ni": 6.2, "V": 3.25, "W": 6.2}


def canonical_scheme(name: str | None) -> str | None:
    """``MP2020``, ``MP-legacy`` or ``uncorrected`` for a name of one of them (case-insensitive;
    pymatgen class names work too), else None."""
    if name is None:
        return None
    key = str(name).strip().lower().replace("_", "-").replace(" ", "")
    return _ALIASES.get(key)


def scheme_names() -> str:
    return f"{MP2020}, {MP_LEGACY} (pre-2020 MaterialsProjectCompatibility) or {UNCORRECTED}"


def require_scheme(name: str | None, what: str = "correction scheme") -> str:
    """The canonical scheme of ``name``; InputError (one line) when it is not one sseflow converts."""
    s = canonical_scheme(name)
    if s is None:
        raise InputError(f"{what} '{name}' is not one sseflow can convert to (use {scheme_names()})")
    return s


# ------------------------------------------------------------------ corrections of one compound

def _pmg_entry(obj):
    """A pymatgen ComputedEntry (ComputedStructureEntry for a structure) with energy 0 and MP's
    run parameters: GGA+U with MP's U values for an oxide or fluoride of a U metal, else GGA."""
    from pymatgen.core import Composition, Structure
    from pymatgen.entries.computed_entries import ComputedEntry, ComputedStructureEntry

    if isinstance(obj, Structure):
        comp = obj.composition
    elif isinstance(obj, Composition):
        comp = obj
    elif isinstance(obj, Mapping):
        comp = Composition({k: float(v) for k, v in obj.items()})
    else:
        comp = Composition(str(obj))
    els = {str(el) for el in comp.elements}
    hubbards = {el: _U_VALUES[el] for el in els & set(_U_VALUES)} if els & {"O", "F"} else {}
    params = {"run_type": "GGA+U" if hubbards else "GGA", "hubbards": hubbards, "is_hubbard": bool(hubbards)}
    if isinstance(obj, Structure):
        return ComputedStructureEntry(obj, 0.0, parameters=params)
    return ComputedEntry(comp, 0.0, parameters=params)


def _compat_dir() -> str:
    import pymatgen.analysis.compatibility as pc

    return os.path.dirname(pc.__file__)


@lru_cache(maxsize=1)
def legacy_gas_terms() -> dict[str, float]:
    """eV per atom that the legacy scheme's fitted N2, F2, Cl2, H2 energies add to a compound's
    formation energy, per atom of that element: MP's uncorrected elemental energy (pymatgen's
    ``calc_compounds.json.gz``) minus the fitted one (``MPCompatibility.yaml``), as pymatgen's
    ``GasCorrection`` applies it to the elemental entry."""
    try:
        from monty.serialization import loadfn
        from pymatgen.analysis.compatibility import GasCorrection

        d = _compat_dir()
        yaml_file = os.path.join(d, "MPCompatibility.yaml")
        fits = loadfn(yaml_file)["Advanced"]["CompoundEnergies"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            calc = loadfn(os.path.join(d, "calc_compounds.json.gz"))
            gas = GasCorrection(yaml_file)
            out = {}
            for formula in fits:
                e = calc[formula]
                el = str(e.composition.elements[0])
                # the elemental entry's correction per atom is E_fit - E_raw; a compound sees minus it
                out[el] = -float(gas.get_correction(e).nominal_value) / e.composition.num_atoms
        return out
    except Exception:  # noqa: BLE001 - an older or trimmed pymatgen: the values it ships today
        return dict(_LEGACY_GAS_FALLBACK)


@lru_cache(maxsize=1)
def _legacy_corrections():
    from pymatgen.analysis.compatibility import AnionCorrection, UCorrection
    from pymatgen.io.vasp.sets import MPRelaxSet

    yaml_file = os.path.join(_compat_dir(), "MPCompatibility.yaml")
    return AnionCorrection(yaml_file), UCorrection(yaml_file, MPRelaxSet, "Advanced")


@lru_cache(maxsize=1)
def _mp2020():
    from pymatgen.entries.compatibility import MaterialsProject2020Compatibility

    return MaterialsProject2020Compatibility(check_potcar=False)


def scheme_correction(obj, scheme: str) -> float:
    """What ``scheme`` adds, in eV per cell, to the uncorrected formation energy of ``obj`` (a
    pymatgen Structure, which types oxides/peroxides and sulfides from its bonds; or a
    Composition, a ``{element: amount}`` mapping or a formula, typed from the composition).
    0 for an element and for ``uncorrected``."""
    s = require_scheme(scheme)
    if s == UNCORRECTED:
        return 0.0
    entry = _pmg_entry(obj)
    comp = entry.composition
    if len(comp.elements) < 2:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if s == MP2020:
            return float(sum(a.value for a in _mp2020().get_adjustments(entry)))
        anion, ucorr = _legacy_corrections()
        total = float(anion.get_correction(entry).nominal_value) + float(ucorr.get_correction(entry).nominal_value)
    gas = legacy_gas_terms()
    total += sum(gas[str(el)] * float(amt) for el, amt in comp.items() if str(el) in gas)
    return total


def convert_formation_energy(energy_per_atom: float, obj, source: str, target: str) -> float:
    """A formation energy per atom of ``obj`` (structure or composition) moved from scheme
    ``source`` to ``target``: ``E + (C_target - C_source) / N``."""
    src, tgt = require_scheme(source, "source scheme"), require_scheme(target, "target scheme")
    if src == tgt:
        return float(energy_per_atom)
    n = float(_pmg_entry(obj).composition.num_atoms)
    if not n > 0 or not math.isfinite(float(energy_per_atom)):
        raise InputError(f"cannot convert a formation energy of {obj!s}: no atoms or not a finite energy")
    return float(energy_per_atom) + (scheme_correction(obj, tgt) - scheme_correction(obj, src)) / n


# ------------------------------------------------------------------ what a reference file declares

def sidecar_path(path: str | os.PathLike) -> Path:
    """``table.csv`` -> ``table.csv.scheme``: one line naming the table's correction scheme."""
    return Path(str(path) + SIDECAR_SUFFIX)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def declared_scheme(path: str | os.PathLike, content_hash: str | None = None) -> tuple[str | None, str]:
    """(scheme, how it is known) of a reference file, or (None, "") when it declares none.

    A sidecar ``<file>.scheme`` (its first line that is not blank or a ``#`` comment) wins; else a
    table listed in :data:`KNOWN_TABLES` by its SHA-256 (``content_hash`` when the caller has it).
    The sidecar's name is returned canonical when it is a convertible scheme, else as written.
    """
    p = Path(os.path.expanduser(str(path)))
    side = sidecar_path(p)
    if side.is_file():
        try:
            lines = side.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{side}: cannot read the scheme declaration ({exc})") from None
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#"):
                return canonical_scheme(line) or line, f"declared in {side.name}"
        raise InputError(f"{side}: empty scheme declaration (write one line: {scheme_names()})")
    if not p.is_file():
        return None, ""
    digest = content_hash or _sha256(p)
    known = KNOWN_TABLES.get(digest)
    if known:
        return known[0], f"known table: {known[1]}"
    return None, ""
