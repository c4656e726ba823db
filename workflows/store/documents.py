"""Documents of the results database: pydantic v2 models, JSON-serialisable, versioned.

Every document has ``schema_version``, ``kind``, a natural ``key`` (a hash of the fields
that identify the result, prefixed with the kind: ``window:3f2a...``), ``created_at``
(UTC, millisecond precision like BSON dates) and ``versions`` (sseflow, pymatgen,
fireworks, python). Derived documents (window, reaction, screening, interface, Schottky,
phonon) also record their ``inputs``: the reference file and the content hash of its
entry set, excluded phases, temperature, options, and the ids (keys) of the tasks and
entries they were computed from.

Storing a document replaces the stored one with the same ``key`` (upsert), so storing
the same result twice updates it and never duplicates it.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Optional, Union

import ase.units
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sseflow.analysis.errors import InputError

SCHEMA_VERSION = 1

Number = Optional[Union[int, float]]

__all__ = [
    "SCHEMA_VERSION", "StoredDocument", "DerivedDocument", "Inputs", "TaskDocument", "EntryDocument",
    "EntrySource", "WindowDocument", "ReactionDocument", "ScreeningDocument", "InterfaceDocument",
    "SchottkyDocument", "PhononDocument", "SubstitutionDocument", "DOCUMENT_CLASSES", "COLLECTIONS", "document_class",
    "content_hash", "plain", "structure_fingerprint", "provenance_versions", "utcnow", "WINDOW_PAYLOAD_KEYS",
    "REACTION_PAYLOAD_KEYS",
]

WINDOW_PAYLOAD_KEYS = (
    "formula", "chemsys", "reduction_V", "oxidation_V", "reduction_reaction", "oxidation_reaction",
    "reduction_products", "oxidation_products", "e_above_hull_meV", "in_reference",
    "decomposition_energy_0V_meV", "decomposition_energy_5V_meV", "profile",
)
REACTION_PAYLOAD_KEYS = ("reactant_a", "reactant_b", "potential_V", "minimum", "kinks")


# --------------------------------------------------------------------------- helpers

def utcnow() -> datetime:
    """Now, UTC, truncated to milliseconds (what a BSON date keeps)."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str | None], ...]:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for pkg in ("sseflow", "pymatgen", "fireworks"):
        try:
            out.append((pkg, version(pkg)))
        except PackageNotFoundError:
            out.append((pkg, None))
    out.append(("python", sys.version.split()[0]))
    return tuple(out)


def provenance_versions() -> dict[str, str | None]:
    """Versions of sseflow, pymatgen, fireworks and Python (importlib.metadata)."""
    return dict(_versions())


def _canonical(obj: Any) -> Any:
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return float(obj)  # 300 and 300.0 are the same temperature
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    return obj


def content_hash(obj: Any, length: int = 32) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (sorted keys), hex, first ``length`` digits."""
    text = json.dumps(_canonical(obj), sort_keys=True, separators=(",", ":"), default=str, allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


_PLAIN = (str, bool, int, float, type(None))


def plain(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays and tuples turned into Python numbers and lists.

    BSON (and JSON) store only plain types; results computed with numpy would otherwise be
    refused by the database. Raises InputError for values that have no JSON form.
    """
    if type(obj) in _PLAIN or isinstance(obj, datetime):
        return obj
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "dtype") and hasattr(obj, "tolist"):  # numpy scalar or array
        return plain(obj.tolist())
    if isinstance(obj, bool):
        return bool(obj)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, str):
        return str(obj)
    try:
        import bson

        if isinstance(obj, (bson.ObjectId, bson.Int64, bson.Binary)):
            return obj
    except ImportError:  # pragma: no cover
        pass
    raise InputError(f"cannot store a value of type {type(obj).__name__}: {obj!r:.60}")


def _formula_info(formula: str) -> tuple[str, str, list[str]]:
    """(reduced formula, chemsys, elements) of a formula; raises InputError when malformed."""
    from sseflow.analysis.formula import chemsys, parse_formula, reduced_formula_of

    comp = parse_formula(formula)
    return reduced_formula_of(formula), chemsys(comp), sorted(comp)


def structure_fingerprint(structure: Any, decimals: int = 4) -> str:
    """Content hash of a structure: lattice and sorted (species, wrapped fractional coords) sites.

    Accepts a pymatgen ``Structure`` or its ``as_dict()``. Two structures get the same
    fingerprint when they are the same cell with the same sites in any order; a different
    setting of the same crystal gets a different one.
    """
    from pymatgen.core import Structure

    if isinstance(structure, dict):
        structure = Structure.from_dict(structure)
    q = 10 ** decimals
    lattice = [[round(x * q) for x in row] for row in structure.lattice.matrix.tolist()]
    sites = []
    for site in structure:
        frac = [round((x % 1.0) * q) % q for x in site.frac_coords.tolist()]
        sites.append((str(site.species), frac))
    sites.sort()
    return content_hash({"lattice": lattice, "sites": sites}, length=40)


# --------------------------------------------------------------------------- base models

class StoredDocument(BaseModel):
    """Fields every stored document has."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    COLLECTION: ClassVar[str] = ""
    KIND: ClassVar[str] = ""
    INDEXES: ClassVar[tuple] = ()  # extra indexes: (keys, options)

    schema_version: int = SCHEMA_VERSION
    kind: str = ""
    key: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    versions: dict[str, Optional[str]] = Field(default_factory=provenance_versions)
    id: Optional[str] = Field(default=None, exclude=True)  # the database _id, when read back

    @field_validator("created_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v.astimezone(timezone.utc)

    def model_post_init(self, __context: Any) -> None:
        self.kind = self.KIND
        if not self.key:
            self.key = f"{self.KIND}:{content_hash(self.natural_key())}"

    def natural_key(self) -> dict[str, Any]:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def to_mongo(self) -> dict[str, Any]:
        """The document to store (BSON types: datetimes stay datetimes; no ``_id``)."""
        return plain(self.model_dump(mode="python"))

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready dict (ISO dates), with ``id`` when read from the database."""
        d = self.model_dump(mode="json")
        if self.id is not None:
            d = {"id": self.id, **d}
        return d

    @classmethod
    def from_mongo(cls, doc: dict[str, Any]) -> "StoredDocument":
        d = dict(doc)
        _id = d.pop("_id", None)
        obj = cls.model_validate(d)
        if _id is not None:
            obj.id = str(_id)
        return obj


class Inputs(BaseModel):
    """What a derived result was computed from. Extra keys are recorded, not part of the key."""

    model_config = ConfigDict(extra="allow")

    reference: Optional[str] = None  # path of the reference file, as given
    reference_hash: Optional[str] = None  # ReferenceSet.content_hash of the entry set
    exclude: list[str] = Field(default_factory=list)
    temperature_K: Number = None
    options: dict[str, Any] = Field(default_factory=dict)  # settings that change the result
    task_ids: list[str] = Field(default_factory=list)
    entry_ids: list[str] = Field(default_factory=list)

    @field_validator("exclude")
    @classmethod
    def _sorted(cls, v: list[str]) -> list[str]:
        return sorted({str(x) for x in v})

    @classmethod
    def from_any(cls, inputs: "Inputs | dict | None") -> "Inputs":
        if isinstance(inputs, Inputs):
            return inputs
        if not isinstance(inputs, (dict, type(None))):
            raise InputError(f"store inputs must be a mapping, not {type(inputs).__name__}")
        d = plain(dict(inputs or {}))
        if "temperature" in d and "temperature_K" not in d:
            d["temperature_K"] = d.pop("temperature")
        if d.get("reference") is not None:
            d["reference"] = str(d["reference"])
        if d.get("exclude") is None:
            d["exclude"] = []
        elif isinstance(d["exclude"], str):
            d["exclude"] = [d["exclude"]]
        if d.get("options") is None:
            d["options"] = {}
        try:
            return cls.model_validate(d)
        except Exception as exc:
            raise InputError(f"invalid store inputs: {_first_error(exc)}")

    def key_part(self) -> dict[str, Any]:
        return {"reference_hash": self.reference_hash, "exclude": self.exclude,
                "temperature_K": self.temperature_K, "options": self.options}


class DerivedDocument(StoredDocument):
    inputs: Inputs = Field(default_factory=Inputs)


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            e = errors()[0]
            return f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}"
        except Exception:
            pass
    return str(exc).splitlines()[0]


_RESERVED = set(DerivedDocument.model_fields) | {"_id", "payload_keys"}


def _check_payload(payload: dict, what: str, required: tuple[str, ...]) -> None:
    if not isinstance(payload, dict):
        raise InputError(f"{what} result must be a mapping, not {type(payload).__name__}")
    missing = [k for k in required if payload.get(k) in (None, "")]
    if missing:
        raise InputError(f"{what} result lacks {', '.join(missing)}")
    clash = sorted(set(payload) & _RESERVED - set(WINDOW_PAYLOAD_KEYS) - set(REACTION_PAYLOAD_KEYS))
    if clash:
        raise InputError(f"{what} result has reserved key(s): {', '.join(clash)}")


# --------------------------------------------------------------------------- calculations

GPA_PER_EV_A3 = 1 / ase.units.GPa  # stress: eV/Å^3 -> GPa


class TaskDocument(StoredDocument):
    """One calculation: a structure, a calculator with its parameters, and what it returned."""

    COLLECTION: ClassVar[str] = "tasks"
    KIND: ClassVar[str] = "task"
    INDEXES: ClassVar[tuple] = ((("fingerprint", 1),), {}), ((("status", 1),), {}), ((("fw_id", 1),), {})

    task_type: str = "static"  # static | relax | md | phonon ...
    structure: dict[str, Any]  # input structure, pymatgen Structure.as_dict()
    output_structure: Optional[dict[str, Any]] = None
    formula: str = ""  # reduced formula
    chemsys: str = ""
    elements: list[str] = Field(default_factory=list)
    nsites: int = 0
    fingerprint: str = ""
    calculator: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    parameters_hash: str = ""
    energy: Number = None  # eV, total
    energy_per_atom: Number = None  # eV/atom
    max_force_eV_A: Number = None
    rms_force_eV_A: Number = None
    stress_GPa: Optional[list[list[float]]] = None  # 3x3
    timings: dict[str, float] = Field(default_factory=dict)  # seconds: {"total": ..., "setup": ...}
    status: str = "completed"  # completed | failed | running
    error: Optional[str] = None
    files: dict[str, str] = Field(default_factory=dict)  # name -> path
    fw_id: Optional[int] = None
    launch_dir: Optional[str] = None

    def model_post_init(self, __context: Any) -> None:
        from pymatgen.core import Structure

        s = Structure.from_dict(self.structure)
        comp = s.composition
        if not self.formula:
            self.formula = comp.reduced_formula
        if not self.elements:
            self.elements = sorted(el.symbol for el in comp.elements)
        if not self.chemsys:
            self.chemsys = "-".join(self.elements)
        if not self.nsites:
            self.nsites = len(s)
        if not self.fingerprint:
            self.fingerprint = structure_fingerprint(s)
        if not self.parameters_hash:
            self.parameters_hash = content_hash(self.parameters)
        if self.energy is not None and self.energy_per_atom is None and self.nsites:
            self.energy_per_atom = self.energy / self.nsites
        super().model_post_init(__context)

    def natural_key(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "calculator": self.calculator,
                "parameters_hash": self.parameters_hash, "task_type": self.task_type}

    @classmethod
    def from_result(cls, structure: Any, calculator: str, parameters: dict | None = None, *,
                    energy: float | None = None, forces: Any = None, stress: Any = None,
                    task_type: str = "static", output_structure: Any = None, **kw: Any) -> "TaskDocument":
        """Build from a pymatgen Structure (or dict), forces (N x 3, eV/Å) and stress (3x3 or Voigt 6, GPa)."""
        import numpy as np

        sd = structure if isinstance(structure, dict) else structure.as_dict()
        od = None if output_structure is None else (
            output_structure if isinstance(output_structure, dict) else output_structure.as_dict())
        max_f = rms_f = None
        if forces is not None:
            f = np.asarray(forces, dtype=float).reshape(-1, 3)
            norms = np.linalg.norm(f, axis=1)
            max_f = float(norms.max()) if len(norms) else 0.0
            rms_f = float(np.sqrt((norms ** 2).mean())) if len(norms) else 0.0
        st = None
        if stress is not None:
            a = np.asarray(stress, dtype=float)
            if a.shape == (6,):  # Voigt xx yy zz yz xz xy
                xx, yy, zz, yz, xz, xy = a.tolist()
                a = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
            st = a.reshape(3, 3).tolist()
        return cls(structure=sd, output_structure=od, calculator=calculator, parameters=dict(parameters or {}),
                   energy=None if energy is None else float(energy), max_force_eV_A=max_f, rms_force_eV_A=rms_f,
                   stress_GPa=st, task_type=task_type, **kw)


    @classmethod
    def from_calc_result(cls, result: Any, input_structure: Any = None, *, parameters: dict | None = None,
                         **kw: Any) -> "TaskDocument":
        """The task document of a calculator backend's ``CalcResult`` (the one path from a
        calculation to its document).

        ``structure`` is the input structure (``input_structure``, else the result's), which
        ``fingerprint`` and the key are made of; ``output_structure`` the result's. ``parameters``:
        the result's physics parameters (:func:`sseflow.workflows.dedupe.physics_parameters`) unless
        given (``sseflow relax --store`` keeps every run parameter, so that runs with other step
        limits are stored side by side); stress in GPa
        (3x3), ``timings["total"]`` the wall time; ``status`` the result's outcome (``completed``,
        ``failed``, ``not_converged``). Non-finite energy, forces or stress are left out. Extra
        fields (``label``, ``fw_id``, ``launch_dir`` ...) come from ``kw``.
        """
        import math

        import numpy as np

        from sseflow.workflows.calculators.base import jsonable
        from sseflow.workflows.dedupe import physics_parameters

        stress = None
        s = np.asarray(result.stress, dtype=float)
        if s.size == 6 and np.isfinite(s).all():
            stress = (s * GPA_PER_EV_A3).tolist()
        forces = np.asarray(result.forces, dtype=float)
        energy = result.energy if result.energy is not None and math.isfinite(result.energy) else None
        return cls.from_result(
            result.structure if input_structure is None else input_structure, result.calculator,
            physics_parameters(jsonable(result.parameters)) if parameters is None else jsonable(parameters),
            energy=energy,
            forces=forces if np.isfinite(forces).all() else None, stress=stress, task_type=result.task,
            output_structure=result.structure, status=result.outcome, error=result.error,
            timings={"total": round(float(result.wall_time_s), 3)},
            files={Path(f).name: str(f) for f in result.files}, correction_scheme=result.correction_scheme,
            n_steps=int(result.n_steps), converged=bool(result.converged), **kw)

    def summary(self) -> dict[str, Any]:
        """The plain-JSON view ``sseflow relax`` prints: the final structure, energy, largest force
        (``max_force``, eV/Å), stress as Voigt 6 in eV/Å^3 (ASE's), steps, wall time, status, files,
        and ``structure_match_fingerprint`` (:func:`sseflow.workflows.dedupe.fingerprint` of the
        final structure)."""
        from pymatgen.core import Structure

        from sseflow.workflows.dedupe import fingerprint

        d = self.model_dump()
        s = Structure.from_dict(self.output_structure or self.structure)
        voigt = None
        if self.stress_GPa:
            t = self.stress_GPa
            voigt = [x / GPA_PER_EV_A3 for x in (t[0][0], t[1][1], t[2][2], t[1][2], t[0][2], t[0][1])]
        return {
            "formula": s.composition.formula.replace(" ", ""), "reduced_formula": s.composition.reduced_formula,
            "chemsys": self.chemsys, "structure": s.as_dict(), "calculator": self.calculator,
            "parameters": self.parameters, "energy": self.energy, "energy_per_atom": self.energy_per_atom,
            "max_force": self.max_force_eV_A, "stress": voigt, "n_steps": d.get("n_steps"),
            "converged": d.get("converged"), "wall_time_s": self.timings.get("total"), "status": self.status,
            "files": list(self.files.values()), "structure_match_fingerprint": fingerprint(s),
            "correction_scheme": d.get("correction_scheme"),
        }


class EntrySource(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = "reference"  # task | reference | other
    task_id: Optional[str] = None  # key of a TaskDocument
    reference: Optional[str] = None  # reference file
    reference_hash: Optional[str] = None
    row: Optional[int] = None  # row in the reference file
    entry_id: Optional[str] = None  # id in the source (mp-id, "file.csv:row 12" ...)


class EntryDocument(StoredDocument):
    """A thermodynamic entry: composition, energy per atom, correction scheme and where it came from."""

    COLLECTION: ClassVar[str] = "entries"
    KIND: ClassVar[str] = "entry"

    formula: str  # as given by the source
    composition: dict[str, float]
    reduced_formula: str = ""
    chemsys: str = ""
    elements: list[str] = Field(default_factory=list)
    energy_per_atom: float  # eV/atom (formation energy on the reference scale, or total)
    energy_kind: str = "formation"  # formation | total
    correction_scheme: Optional[str] = None
    source: EntrySource = Field(default_factory=EntrySource)

    def model_post_init(self, __context: Any) -> None:
        from sseflow.analysis.formula import chemsys, reduced_formula

        if not self.reduced_formula:
            self.reduced_formula = reduced_formula(self.composition)
        if not self.elements:
            self.elements = sorted(self.composition)
        if not self.chemsys:
            self.chemsys = chemsys(self.composition)
        super().model_post_init(__context)

    def natural_key(self) -> dict[str, Any]:
        src = self.source
        ident = ({"task_id": src.task_id} if src.task_id else
                 {"reference_hash": src.reference_hash, "row": src.row, "entry_id": src.entry_id})
        return {"source": ident, "formula": self.formula, "correction_scheme": self.correction_scheme,
                "energy_kind": self.energy_kind}

    @classmethod
    def from_entry(cls, entry: Any, reference: str | None = None, reference_hash: str | None = None,
                   row: int | None = None, task_id: str | None = None) -> "EntryDocument":
        """From an :class:`sseflow.analysis.entries.Entry`."""
        src = EntrySource(type="task" if task_id else "reference", task_id=task_id,
                          reference=None if reference is None else str(reference), reference_hash=reference_hash,
                          row=row, entry_id=entry.entry_id or None)
        return cls(formula=entry.name, composition=dict(entry.composition), energy_per_atom=entry.energy_per_atom,
                   correction_scheme=entry.correction_scheme, source=src)


def _fill_formula_fields(doc) -> None:
    """``reduced_formula``, ``chemsys`` and ``elements`` of a document from its ``formula``
    (values already given are kept)."""
    red, cs, els = _formula_info(doc.formula)
    doc.reduced_formula = doc.reduced_formula or red
    doc.chemsys = doc.chemsys or cs
    doc.elements = doc.elements or els


# --------------------------------------------------------------------------- derived results

class WindowDocument(DerivedDocument):
    """Electrochemical stability window of one composition (the ``sseflow window --json`` payload)."""

    COLLECTION: ClassVar[str] = "windows"
    KIND: ClassVar[str] = "window"
    INDEXES: ClassVar[tuple] = ((("inputs.reference_hash", 1),), {}), ((("reduced_formula", 1),), {})

    formula: str
    reduced_formula: str = ""
    chemsys: str = ""
    elements: list[str] = Field(default_factory=list)
    reduction_V: Number = None
    oxidation_V: Number = None
    reduction_reaction: Optional[str] = None
    oxidation_reaction: Optional[str] = None
    reduction_products: list[str] = Field(default_factory=list)
    oxidation_products: list[str] = Field(default_factory=list)
    e_above_hull_meV: Number = None
    in_reference: Optional[bool] = None
    decomposition_energy_0V_meV: Number = None
    decomposition_energy_5V_meV: Number = None
    profile: list[dict[str, Any]] = Field(default_factory=list)
    payload_keys: list[str] = Field(default_factory=list)  # keys of the payload as given, in order

    def model_post_init(self, __context: Any) -> None:
        _fill_formula_fields(self)
        super().model_post_init(__context)

    def natural_key(self) -> dict[str, Any]:
        return {"formula": self.formula, **self.inputs.key_part()}

    @classmethod
    def from_payload(cls, payload: dict, inputs: Inputs | dict | None = None) -> "WindowDocument":
        _check_payload(payload, "window", ("formula",))
        payload = plain(payload)
        try:
            return cls.model_validate({**payload, "inputs": Inputs.from_any(inputs), "payload_keys": list(payload)})
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"window result for {payload.get('formula')!r} is invalid: {_first_error(exc)}")

    def payload(self) -> dict[str, Any]:
        """The payload as it was stored (same keys, same order)."""
        keys = self.payload_keys or [k for k in WINDOW_PAYLOAD_KEYS] + list(self.model_extra or {})
        extra = self.model_extra or {}
        return {k: (extra[k] if k in extra else getattr(self, k)) for k in keys}


class ReactionDocument(DerivedDocument):
    """Interfacial reaction energy curve of two compositions (chemical, or at a potential)."""

    COLLECTION: ClassVar[str] = "reactions"
    KIND: ClassVar[str] = "reaction"
    INDEXES: ClassVar[tuple] = ((("reactant_a", 1), ("reactant_b", 1)), {}), ((("pair", 1),), {}), \
        ((("inputs.reference_hash", 1),), {})

    reactant_a: str
    reactant_b: str
    potential_V: Number = None  # None: chemical reaction (no Li exchange)
    minimum: Optional[dict[str, Any]] = None  # {x, energy_meV_per_atom, reaction, products}
    kinks: list[dict[str, Any]] = Field(default_factory=list)
    mode: str = ""  # chemical | electrochemical
    reduced_a: str = ""
    reduced_b: str = ""
    pair: list[str] = Field(default_factory=list)  # both reduced formulas, sorted
    chemsys: str = ""
    elements: list[str] = Field(default_factory=list)
    payload_keys: list[str] = Field(default_factory=list)

    def model_post_init(self, __context: Any) -> None:
        ra, _, ea = _formula_info(self.reactant_a)
        rb, _, eb = _formula_info(self.reactant_b)
        self.reduced_a, self.reduced_b = self.reduced_a or ra, self.reduced_b or rb
        self.pair = self.pair or sorted([ra, rb])
        self.elements = self.elements or sorted(set(ea) | set(eb))
        self.chemsys = self.chemsys or "-".join(self.elements)
        self.mode = "chemical" if self.potential_V is None else "electrochemical"
        super().model_post_init(__context)

    def natural_key(self) -> dict[str, Any]:
        return {"reactant_a": self.reactant_a, "reactant_b": self.reactant_b, "potential_V": self.potential_V,
                **self.inputs.key_part()}

    @classmethod
    def from_payload(cls, payload: dict, inputs: Inputs | dict | None = None) -> "ReactionDocument":
        _check_payload(payload, "reaction", ("reactant_a", "reactant_b"))
        payload = plain(payload)
        try:
            return cls.model_validate({**payload, "inputs": Inputs.from_any(inputs), "payload_keys": list(payload)})
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"reaction result {payload.get('reactant_a')!r} + {payload.get('reactant_b')!r} "
                             f"is invalid: {_first_error(exc)}")

    def payload(self) -> dict[str, Any]:
        keys = self.payload_keys or list(REACTION_PAYLOAD_KEYS) + list(self.model_extra or {})
        extra = self.model_extra or {}
        return {k: (extra[k] if k in extra else getattr(self, k)) for k in keys}


class ScreeningDocument(DerivedDocument):
    """One row of an interlayer screening between an electrolyte and an anode (row kept verbatim)."""

    COLLECTION: ClassVar[str] = "screening"
    KIND: ClassVar[str] = "screening"
    INDEXES: ClassVar[tuple] = ((("electrolyte", 1), ("anode", 1)), {}), ((("candidate", 1),), {})

    electrolyte: str
    anode: str
    candidate: str
    chemsys: str = ""  # of the candidate
    row: dict[str, Any] = Field(default_factory=dict)

    def model_post_init(self, __context: Any) -> None:
        if not self.chemsys:
            try:
                self.chemsys = _formula_info(self.candidate)[1]
            except InputError:
                self.chemsys = ""
        super().model_post_init(__context)

    def natural_key(self) -> dict[str, Any]:
        return {"electrolyte": self.electrolyte, "anode": self.anode, "candidate": self.candidate,
                **self.inputs.key_part()}

    @classmethod
    def from_row(cls, row: dict, inputs: Inputs | dict | None = None) -> "ScreeningDocument":
        if not isinstance(row, dict):
            raise InputError(f"screening row must be a mapping, not {type(row).__name__}")
        missing = [k for k in ("electrolyte", "anode", "candidate") if not row.get(k)]
        if missing:
            raise InputError(f"screening row lacks {', '.join(missing)}")
        row = plain(row)
        return cls(electrolyte=str(row["electrolyte"]), anode=str(row["anode"]), candidate=str(row["candidate"]),
                   row=dict(row), inputs=Inputs.from_any(inputs))

    def payload(self) -> dict[str, Any]:
        return dict(self.row)


class InterfaceDocument(DerivedDocument):
    """An electrolyte | electrode interface model and its energies."""

    COLLECTION: ClassVar[str] = "interfaces"
    KIND: ClassVar[str] = "interface"
    INDEXES: ClassVar[tuple] = ((("electrolyte", 1), ("anode", 1)), {}), ((("calculator", 1),), {})

    electrolyte: str
    anode: str  # the electrode
    electrolyte_miller: Optional[list[int]] = None
    anode_miller: Optional[list[int]] = None
    termination: Optional[str] = None
    calculator: Optional[str] = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    structure: Optional[dict[str, Any]] = None
    area_A2: Number = None
    strain_percent: Number = None
    interface_energy_J_m2: Number = None
    work_of_adhesion_J_m2: Number = None

    def natural_key(self) -> dict[str, Any]:
        return {"electrolyte": self.electrolyte, "anode": self.anode, "electrolyte_miller": self.electrolyte_miller,
                "anode_miller": self.anode_miller, "termination": self.termination, "calculator": self.calculator,
                "parameters": content_hash(self.parameters), "reference_hash": self.inputs.reference_hash}


class SchottkyDocument(DerivedDocument):
    """Band alignment / Schottky barrier of an electrolyte against an electrode."""

    COLLECTION: ClassVar[str] = "schottky"
    KIND: ClassVar[str] = "schottky"
    INDEXES: ClassVar[tuple] = ((("electrolyte", 1), ("anode", 1)), {}), ((("calculator", 1),), {})

    electrolyte: str
    anode: str
    method: str = "band-alignment"
    calculator: Optional[str] = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    work_function_eV: Number = None
    electron_affinity_eV: Number = None
    ionization_potential_eV: Number = None
    band_gap_eV: Number = None
    barrier_n_eV: Number = None
    barrier_p_eV: Number = None

    def natural_key(self) -> dict[str, Any]:
        return {"electrolyte": self.electrolyte, "anode": self.anode, "method": self.method,
                "calculator": self.calculator, "parameters": content_hash(self.parameters)}


class PhononDocument(DerivedDocument):
    """Phonon (harmonic) free energy of one structure as a function of temperature."""

    COLLECTION: ClassVar[str] = "phonons"
    KIND: ClassVar[str] = "phonon"
    INDEXES: ClassVar[tuple] = ((("fingerprint", 1),), {}), ((("calculator", 1),), {})

    formula: str
    reduced_formula: str = ""
    chemsys: str = ""
    elements: list[str] = Field(default_factory=list)
    fingerprint: str = ""
    calculator: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    supercell: Optional[list[list[int]]] = None
    mesh: Optional[list[int]] = None
    temperatures_K: list[float] = Field(default_factory=list)
    free_energy_eV_per_atom: list[float] = Field(default_factory=list)
    entropy_eV_per_atom_K: list[float] = Field(default_factory=list)
    zero_point_energy_eV_per_atom: Number = None
    imaginary_modes: Optional[int] = None

    def model_post_init(self, __context: Any) -> None:
        _fill_formula_fields(self)
        super().model_post_init(__context)

    def natural_key(self) -> dict[str, Any]:
        return {"formula": self.formula, "fingerprint": self.fingerprint, "calculator": self.calculator,
                "parameters": content_hash(self.parameters), "supercell": self.supercell, "mesh": self.mesh}


class SubstitutionDocument(DerivedDocument):
    """One candidate of a substitution screening of an electrolyte site (``sseflow substitute
    --store``, ``compute.substitution``): the ranked row kept verbatim."""

    COLLECTION: ClassVar[str] = "substitutions"
    KIND: ClassVar[str] = "substitution"
    INDEXES: ClassVar[tuple] = ((("host", 1), ("site", 1)), {}), ((("formula", 1),), {})

    host: str
    site: str
    formula: str
    reduced_formula: str = ""  # sseflow's (Li12SrP2S12 -> SrLi12P2S12): what ``--formula`` matches too
    label: str = ""
    compensation: str = "plain"
    calculator: Optional[str] = None
    chemsys: str = ""
    row: dict[str, Any] = Field(default_factory=dict)

    def natural_key(self) -> dict[str, Any]:
        return {"host": self.host, "site": self.site, "formula": self.formula, "compensation": self.compensation,
                "calculator": self.calculator, **self.inputs.key_part()}

    @classmethod
    def from_row(cls, row: dict, *, host: str, site: str, calculator: str | None = None,
                 inputs: Inputs | dict | None = None) -> "SubstitutionDocument":
        if not isinstance(row, dict) or not row.get("formula"):
            raise InputError("substitution row must be a mapping with a formula")
        row = plain(row)
        from sseflow.analysis.formula import reduced_formula_of

        return cls(host=str(host), site=str(site), formula=str(row["formula"]),
                   reduced_formula=reduced_formula_of(str(row["formula"])), label=str(row.get("label") or ""),
                   compensation=str(row.get("compensation") or "plain"), calculator=calculator,
                   chemsys=str(row.get("chemsys") or ""), row=dict(row), inputs=Inputs.from_any(inputs))

    def payload(self) -> dict[str, Any]:
        return dict(self.row)


DOCUMENT_CLASSES: tuple[type[StoredDocument], ...] = (
    TaskDocument, EntryDocument, WindowDocument, ReactionDocument, ScreeningDocument, InterfaceDocument,
    SchottkyDocument, PhononDocument, SubstitutionDocument,
)
COLLECTIONS: dict[str, type[StoredDocument]] = {cls.COLLECTION: cls for cls in DOCUMENT_CLASSES}
_ALIASES = {cls.KIND: cls for cls in DOCUMENT_CLASSES} | COLLECTIONS | {"screen": ScreeningDocument}


def document_class(kind: str) -> type[StoredDocument]:
    """The document class of a kind or collection name (``window``/``windows`` ...)."""
    try:
        return _ALIASES[kind.lower()]
    except (KeyError, AttributeError):
        raise InputError(f"unknown document kind '{kind}': use one of {', '.join(sorted(_ALIASES))}")
