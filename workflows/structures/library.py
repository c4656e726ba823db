"""The structure library shipped with sseflow: competing phases of the systems users start with.

Each phase is a CIF under ``workflows/data/structures/`` written from published crystallography or
copied unchanged from a sourced DFT relaxation (Materials Project, JARVIS-DFT), with its source in the
file header and in ``index.json`` (name, formula, space group, aliases, whether it is the default
polymorph for its formula, experimental frame or relaxed model; sourced files also ``original_id``
and ``licence``). :mod:`sseflow.workflows.structures.coverage` lists the hull phases of a reference
set that the library lacks.

>>> get_structure("Li3PS4")          # default polymorph (gamma), by formula or alias
>>> get_structure("Li12P4S16")       # any unreduced formula of a library phase
>>> list_phases("Li-P-S")            # every library phase whose elements lie in Li-P-S

Users add their own CIF/POSCAR files (``read_structure(path)``) or pymatgen Structures; with
``MP_API_KEY`` and network, :func:`fetch_mp_phases` asks the Materials Project (optional).
"""
from __future__ import annotations

import json
import os
import warnings
from functools import lru_cache
from pathlib import Path

from sseflow.analysis.elements import ATOMIC_NUMBER
from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import parse_formula, reduced_formula

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "structures"


@lru_cache(maxsize=1)
def _index() -> tuple[dict, ...]:
    path = DATA_DIR / "index.json"
    if not path.is_file():
        raise InputError(f"structure library index missing: {path}")
    return tuple(json.loads(path.read_text()))


def phases() -> list[dict]:
    """Metadata of every library phase (copies of the index rows)."""
    return [dict(r) for r in _index()]


def _lookup(name: str) -> dict | None:
    rows = _index()
    for r in rows:
        if name == r["name"] or name in r.get("aliases", ()):
            return r
    low = name.lower()
    for r in rows:
        if low == r["name"].lower() or low in (a.lower() for a in r.get("aliases", ())):
            return r
    return None


def entry_for(name_or_formula: str) -> dict:
    """The index row for a library name, alias, or (unreduced) formula; InputError if none."""
    if not isinstance(name_or_formula, str) or not name_or_formula.strip():
        raise InputError("empty structure name")
    name = name_or_formula.strip()
    row = _lookup(name)
    if row is not None:
        return row
    try:
        comp = parse_formula(name)
    except InputError:
        raise InputError(f"unknown structure '{name}': not a library name and not a formula "
                         f"(library: {', '.join(r['name'] for r in _index())})") from None
    red = reduced_formula(comp)
    rows = [r for r in _index() if r["formula"] == red]
    # diatomic elements: "Cl" and "Cl2" name the same phase
    if not rows and len(comp) == 1:
        rows = [r for r in _index() if r["formula"] in (red, f"{red}2")]
    if not rows:
        raise InputError(f"no structure for {red} in the library; give a CIF file instead "
                         f"(sseflow phases {'-'.join(sorted(comp))} lists what the library holds)")
    defaults = [r for r in rows if r.get("default")]
    return (defaults or rows)[0]


def _read_cif(path: Path):
    from pymatgen.core import Structure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Structure.from_file(str(path))


def get_structure(name_or_formula: str, primitive: bool = False, *, ase_elements: bool = False):
    """pymatgen Structure of a library phase (by name, alias or formula), or of a structure file
    (``~`` is expanded).

    With ``ase_elements``, an element the library does not hold (Cu, Al ...) is ASE's reference
    crystal of that element (``ase.build.bulk(symbol, cubic=True)``); without it, InputError.
    """
    if isinstance(name_or_formula, (str, os.PathLike)) and _looks_like_path(str(name_or_formula)):
        s = read_structure(os.path.expanduser(str(name_or_formula)))
    else:
        try:
            row = entry_for(str(name_or_formula))
        except InputError:
            s = _ase_element(str(name_or_formula)) if ase_elements else None
            if s is None:
                raise
        else:
            s = _read_cif(DATA_DIR / row["file"])
            s.properties = {**(s.properties or {}), "sseflow_library": row["name"]}
    return s.get_primitive_structure() if primitive else s


def _ase_element(symbol: str):
    """ASE's reference crystal of an element (cubic cell) as a pymatgen Structure; None for anything else."""
    try:
        from ase.build import bulk
        from pymatgen.io.ase import AseAtomsAdaptor

        return AseAtomsAdaptor.get_structure(bulk(symbol, cubic=True))
    except Exception:  # noqa: BLE001 - not an element, or one without a reference crystal
        return None


def _looks_like_path(text: str) -> bool:
    return os.sep in text or text.lower().endswith((".cif", ".vasp", ".json", ".xyz", ".poscar", ".mcif")) \
        or text.upper().startswith(("POSCAR", "CONTCAR")) or Path(text).expanduser().is_file()


def read_structure(path: str | os.PathLike):
    """A structure file (CIF, POSCAR, pymatgen JSON ...); InputError for missing or malformed files."""
    from pymatgen.core import Structure

    p = Path(path)
    if not p.is_file():
        raise InputError(f"structure file not found: {p}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = Structure.from_file(str(p))
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read structure from {p}: {msg}") from None
    if len(s) == 0:
        raise InputError(f"cannot read structure from {p}: no atoms")
    if not s.is_ordered:
        raise InputError(f"structure in {p} has partial occupancies: give an ordered model")
    return s


def parse_chemsys(chemsys) -> list[str]:
    if isinstance(chemsys, str):
        parts = [p for p in chemsys.replace(",", "-").replace(" ", "-").split("-") if p]
    else:
        parts = list(chemsys)
    if not parts:
        raise InputError("empty chemical system")
    bad = [p for p in parts if p not in ATOMIC_NUMBER]
    if bad:
        raise InputError(f"unknown element '{bad[0]}' in chemical system '{chemsys}'")
    return sorted(set(parts))


def _elements_of(row: dict) -> set[str]:
    return set(parse_formula(row["formula"]))


def list_phases(chemsys) -> list[str]:
    """Names of library phases whose elements all lie in ``chemsys`` ("Li-P-S"), elements first."""
    els = set(parse_chemsys(chemsys))
    rows = [r for r in _index() if _elements_of(r) <= els]
    rows.sort(key=lambda r: (len(_elements_of(r)), r["formula"], not r.get("default"), r["name"]))
    return [r["name"] for r in rows]


def fetch_mp_phases(chemsys, api_key: str | None = None, client=None) -> list:
    """Structures of a chemical system from the Materials Project (optional; needs ``mp-api``).

    ``client`` may be given (an ``MPRester``-like object, e.g. a recorded response in tests);
    otherwise ``MP_API_KEY`` and network are required. Returns a list of
    ``(material_id, Structure, energy_above_hull)`` tuples, most stable first.
    """
    els = parse_chemsys(chemsys)
    if client is None:
        key = api_key or os.environ.get("MP_API_KEY")
        if not key:
            raise InputError("fetching from the Materials Project needs MP_API_KEY (and network)")
        try:
            from mp_api.client import MPRester
        except ImportError:
            raise InputError("fetching from the Materials Project needs the mp-api package: pip install mp-api") from None
        client = MPRester(key)
    import itertools

    systems = ["-".join(c) for r in range(1, len(els) + 1) for c in itertools.combinations(els, r)]
    docs = client.materials.summary.search(chemsys=systems,
                                           fields=["material_id", "structure", "energy_above_hull"])
    out = [(str(d.material_id), d.structure, float(d.energy_above_hull or 0.0)) for d in docs]
    out.sort(key=lambda t: t[2])
    return out
