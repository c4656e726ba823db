"""Study files: one YAML file says what a group wants computed; :func:`load_study` validates it.

A study names the electrolytes, the anodes (Li, Si, Li-Si alloys) and candidate interlayers,
the calculator (and preset) of each stage, where the reference energies come from, what to
compute and how the Fireworks are queued. ``sseflow.workflows.workflow_build.build_workflow`` turns it into
a FireWorks ``Workflow``. See ``docs/workflows.md`` for the reference of every key.

Loading is safe (``yaml.SafeLoader``), bounded (at most 1 MB, 1000 aliases and 100,000 values
once aliases are expanded: an alias bomb is refused before it expands) and strict: an unknown
key, a duplicate key or a bad value is reported with the file and line it is on::

    templates/studies/mine.yaml:14: unknown key 'calculater' in compute (did you mean 'calculators'?)

and raises :class:`StudyError` (an :class:`sseflow.analysis.errors.InputError`: the CLI prints it as
one line and exits with status 2).
"""
from __future__ import annotations

import contextvars
import difflib
import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError,
                      field_validator, model_validator)

from sseflow.analysis.errors import InputError
from sseflow.workflows.calculators.registry import DEFAULT as DEFAULT_CALCULATOR

__all__ = ["StudyError", "Study", "PhaseSpec", "CalculatorSpec", "ReferenceSpec", "ComputeSpec", "QueueSpec",
           "PhasesSpec", "InterfaceSettings", "load_study", "parse_study", "STRUCTURE_SUFFIXES"]

STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar", ".json", ".xyz", ".mcif", ".cssr")
ANODE_ELEMENTS = {"Li", "Si"}


class StudyError(InputError):
    """A study file that cannot be used; ``errors`` holds every problem found (``file:line: message``)."""

    def __init__(self, message: str, errors: list[str] | None = None):
        super().__init__(message)
        self.errors = list(errors or [message])


# =========================================================================== YAML with line numbers

_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("map", "seq", "str", "int", "float", "bool", "null", "timestamp")}

# A study file (or calculator preset) is a page of YAML: a few hundred values, a handful of
# aliases. These limits refuse an "alias bomb" (aliases of aliases that expand a small file to
# billions of values) before anything is expanded, and any file that is not a hand-written page.
MAX_YAML_BYTES = 1_000_000
MAX_YAML_ALIASES = 1_000
MAX_YAML_VALUES = 100_000  # values after every alias is expanded


def _compose_yaml(text: str, source: str):
    """The YAML node graph of ``text`` (SafeLoader), within the limits above; StudyError otherwise.

    Aliases are counted as they are resolved; the size the document would have with every alias
    expanded is then computed on the graph (each shared node once), and a node that contains
    itself is refused.
    """
    import yaml

    if len(text) > MAX_YAML_BYTES:
        raise StudyError(f"{source}: {len(text)} characters of YAML, more than the {MAX_YAML_BYTES} a study "
                         f"file or preset may have")

    class Loader(yaml.SafeLoader):
        aliases = 0

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_YAML_ALIASES:
                    line = self.peek_event().start_mark.line + 1
                    raise StudyError(f"{source}:{line}: more than {MAX_YAML_ALIASES} YAML aliases "
                                     f"(refused: a study file needs a handful)")
            return super().compose_node(parent, index)

    loader = Loader(text)
    try:
        node = loader.get_single_node()
    except RecursionError:
        raise StudyError(f"{source}: YAML nested too deeply") from None
    finally:
        loader.dispose()
    if node is None:
        return None, loader
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(n) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise StudyError(f"{source}:{n.start_mark.line + 1}: a YAML alias refers to a value that contains it")
        active.add(key)
        if isinstance(n, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in n.value)
        else:
            total = 1
        active.discard(key)
        sizes[key] = total = min(total, MAX_YAML_VALUES + 1)
        return total

    try:
        expanded = size(node)
    except RecursionError:
        raise StudyError(f"{source}: YAML nested too deeply") from None
    if expanded > MAX_YAML_VALUES:
        raise StudyError(f"{source}: YAML aliases expand to more than {MAX_YAML_VALUES} values "
                         f"(refused: a study file has a few hundred)")
    return node, loader


def _safe_yaml_load(text: str, source: str) -> Any:
    """``yaml.safe_load`` within the limits of :func:`_compose_yaml`."""
    node, loader = _compose_yaml(text, source)
    return None if node is None else loader.construct_document(node)


def _yaml_load_with_marks(text: str, source: str) -> tuple[Any, dict[tuple, int], dict[tuple, int]]:
    """Safe-load YAML; return (data, key_lines, value_lines) with 1-based lines per path.

    Paths are tuples of mapping keys and sequence indices (``("electrolytes", 0, "cif")``).
    Duplicate keys in one mapping are an error (PyYAML would silently keep the last one).
    """
    import yaml

    try:
        node, _ = _compose_yaml(text, source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise StudyError(f"{where}: not valid YAML: {what}") from None
    key_lines: dict[tuple, int] = {}
    value_lines: dict[tuple, int] = {}
    errors: list[str] = []
    constructor = yaml.SafeLoader("")  # only its construct_* methods are used, on single scalars

    def build(n, path: tuple):
        value_lines[path] = n.start_mark.line + 1
        if str(n.tag) not in _PLAIN_TAGS:
            raise StudyError(f"{source}:{n.start_mark.line + 1}: unsupported YAML tag {n.tag} "
                             f"(study files are plain YAML)")
        if isinstance(n, yaml.MappingNode):
            constructor.flatten_mapping(n)
            out: dict = {}
            for k_node, v_node in n.value:
                key = build(k_node, path + ("<key>",))
                value_lines.pop(path + ("<key>",), None)
                if isinstance(key, (list, dict)):
                    errors.append(f"{source}:{k_node.start_mark.line + 1}: a key must be a plain value")
                    continue
                if key in out:
                    errors.append(f"{source}:{k_node.start_mark.line + 1}: duplicate key '{key}'"
                                  f" (first on line {key_lines[path + (key,)]})")
                    continue
                key_lines[path + (key,)] = k_node.start_mark.line + 1
                out[key] = build(v_node, path + (key,))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(v, path + (i,)) for i, v in enumerate(n.value)]
        try:
            return constructor.construct_object(n, deep=True)
        except yaml.YAMLError as exc:
            raise StudyError(f"{source}:{n.start_mark.line + 1}: {getattr(exc, 'problem', None) or exc}") from None

    try:
        data = None if node is None else build(node, ())
    except RecursionError:
        raise StudyError(f"{source}: YAML nested too deeply") from None
    if errors:
        raise StudyError(errors[0] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""), errors)
    return data, key_lines, value_lines


def _line_of(loc: tuple, key_lines: dict, value_lines: dict, unknown_key: bool) -> int | None:
    """Best line for a pydantic error location (union tags and model names are skipped)."""
    path: tuple = ()
    for part in loc:
        nxt = path + (part,)
        if nxt in value_lines or nxt in key_lines:
            path = nxt
    if unknown_key and path in key_lines:
        return key_lines[path]
    return value_lines.get(path) or key_lines.get(path)


def _dotted(loc: tuple, known: dict) -> str:
    out = []
    path: tuple = ()
    for part in loc:
        nxt = path + (part,)
        if nxt not in known:
            continue
        path = nxt
        out.append(f"[{part}]" if isinstance(part, int) else (("." if out else "") + str(part)))
    return "".join(out) or "(top level)"


# =========================================================================== the model

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


def _looks_like_file(text: str) -> bool:
    low = text.lower()
    return ("/" in text or os.sep in text or low.endswith(STRUCTURE_SUFFIXES)
            or text.upper().startswith(("POSCAR", "CONTCAR")))


def _check_formula(text: str) -> str:
    from sseflow.analysis.formula import parse_formula

    parse_formula(text)
    return text


def _is_composition_dict(v: dict) -> bool:
    """``{element: amount}`` (element symbols or pymatgen Elements as keys), not a phase mapping."""
    from sseflow.analysis.elements import ATOMIC_NUMBER

    return bool(v) and all((k if isinstance(k, str) else getattr(k, "symbol", None)) in ATOMIC_NUMBER for k in v)


def _from_object(v) -> dict:
    """A phase mapping from what pymatgen and ASE users hold: ``{"structure_dict": ...}`` for a
    Structure, Atoms or ComputedStructureEntry, else ``{"formula": ...}``."""
    import json

    from sseflow.analysis.inputs import as_formula, structure_of

    s = structure_of(v)
    if s is not None:
        return {"structure_dict": json.loads(s.to_json())}  # plain JSON data (numpy values encoded)
    return {"formula": as_formula(v, "phase")}


def _structure_data(v) -> dict:
    """``structure_dict`` from a Structure, Atoms or ComputedStructureEntry (a dict as given)."""
    if isinstance(v, dict):
        return v
    from sseflow.analysis.inputs import structure_of

    if structure_of(v) is None:
        raise ValueError(f"structure_dict takes a pymatgen Structure, an ASE Atoms or a ComputedStructureEntry, "
                         f"not a {type(v).__name__}")
    return _from_object(v)["structure_dict"]


def _decode_structure(d: dict):
    from pymatgen.core import Structure

    try:
        s = Structure.from_dict(d)
    except Exception as exc:  # noqa: BLE001 - pymatgen's own words, on one line
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"structure_dict is not a pymatgen Structure dict ({text})") from None
    if len(s) == 0:
        raise ValueError("structure_dict holds no atoms")
    if not s.is_ordered:
        raise ValueError(f"structure {s.composition.reduced_formula} has partial occupancies: give an ordered model")
    return s


class PhaseSpec(_Strict):
    """One structure or composition: a library name / alias, a formula, a structure file, or a
    structure given in Python.

    In YAML either a string (``Li3PS4``, ``Li3PS4-gamma``, ``structures/beta.cif``) or a mapping
    with ``name`` (a label; default: the library name, the file stem or the formula) and one of
    ``library``, ``formula``, ``cif``, ``structure_dict``. In Python also a pymatgen
    ``Structure``, an ASE ``Atoms`` or a ``ComputedStructureEntry`` (kept as ``structure_dict``,
    the structure's ``as_dict()``: nothing is written to disk and the study stays plain data),
    or a ``Composition``, another entry or a dict {element: amount} (kept as ``formula``, the
    reduced formula for entries).
    """

    name: Optional[str] = None
    library: Optional[str] = None
    formula: Optional[str] = None
    cif: Optional[str] = None  # any structure file pymatgen reads (CIF, POSCAR, JSON ...)
    structure_dict: Optional[dict] = None  # a pymatgen Structure as a dict (Structure.as_dict())

    _decoded: Any = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, v):
        if isinstance(v, str):
            text = v.strip()
            if not text:
                raise ValueError("empty name")
            return {"cif": text} if _looks_like_file(text) else {"library": text}
        if isinstance(v, (int, float)):
            raise ValueError(f"expected a name, formula or structure file, not {v!r}")
        if isinstance(v, PhaseSpec):
            return v
        if isinstance(v, dict) and not _is_composition_dict(v):
            return v
        return _from_object(v)

    @field_validator("structure_dict", mode="before")
    @classmethod
    def _structure_as_dict(cls, v):
        return None if v is None else _structure_data(v)

    @model_validator(mode="after")
    def _one_source(self):
        given = [k for k in ("library", "formula", "cif", "structure_dict") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of library, formula, cif or structure_dict"
                             + (f" (got {', '.join(given)})" if given else ""))
        if self.structure_dict:
            self._decoded = _decode_structure(self.structure_dict)
        if self.formula:
            _check_formula(self.formula)
        if self.library:
            from sseflow.analysis.formula import parse_formula

            try:
                parse_formula(self.library)
            except InputError:  # not a formula: must be a library name or alias
                from sseflow.workflows.structures.library import entry_for

                entry_for(self.library)
        if self.name is not None:
            if not self.name.strip():
                raise ValueError("name must not be empty")
            if re.search(r"[.$\s/]", self.name):
                raise ValueError(f"name '{self.name}' may not contain '.', '$', '/' or spaces")
        return self

    # ---------------------------------------------------------------- resolution
    _base: Optional[Path] = None  # folder of the study file (relative CIF paths)

    def path(self) -> Path | None:
        if not self.cif:
            return None
        p = Path(os.path.expanduser(self.cif))
        if not p.is_absolute() and self._base is not None:
            p = self._base / p
        return p

    def label(self) -> str:
        if self.name:
            return self.name
        if self.cif:
            return re.sub(r"[.$\s]", "_", Path(self.cif).stem)
        if self.structure_dict:
            return re.sub(r"[.$\s]", "_", self._decoded.composition.reduced_formula)
        return str(self.library or self.formula)

    def composition_formula(self) -> str:
        """A formula of this phase (reads the structure file or the library when needed)."""
        if self.formula:
            return self.formula
        if self.structure_dict:
            return self._decoded.composition.reduced_formula
        if self.cif:
            from sseflow.workflows.structures.library import read_structure

            return read_structure(self.path()).composition.reduced_formula
        from sseflow.analysis.formula import parse_formula

        try:
            parse_formula(self.library)
            return self.library
        except InputError:
            from sseflow.workflows.structures.library import entry_for

            return entry_for(self.library)["formula"]

    def structure(self, primitive: bool = True):
        """The pymatgen Structure (library phase or file); InputError when there is none."""
        from sseflow.workflows.structures.library import get_structure, read_structure

        if self.cif or self.structure_dict:
            s = read_structure(self.path()) if self.cif else self._decoded.copy()
            return s.get_primitive_structure() if primitive else s
        if self.formula:
            return get_structure(self.formula, primitive=primitive)
        return get_structure(self.library, primitive=primitive)


class CalculatorSpec(_Strict):
    """A calculator backend and its preset for one stage (``chgnet`` or ``{name: chgnet, preset: {...}}``)."""

    name: str = DEFAULT_CALCULATOR
    preset: Optional[Union[dict, str]] = None  # mapping over templates/calculators/NAME.yaml, or a YAML file

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, v):
        return {"name": v} if isinstance(v, str) else v

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        from sseflow.workflows.calculators.registry import BACKENDS

        key = v.strip().lower()
        if key not in BACKENDS:
            raise ValueError(f"unknown calculator '{v}' (choose from {', '.join(BACKENDS)})")
        return key

    _base: Optional[Path] = None

    def preset_dict(self) -> dict:
        """The preset as a mapping (a preset file is read relative to the study file)."""
        if self.preset is None:
            return {}
        if isinstance(self.preset, dict):
            return dict(self.preset)
        import yaml

        p = Path(os.path.expanduser(self.preset))
        if not p.is_absolute() and self._base is not None:
            p = self._base / p
        try:
            if p.is_file() and p.stat().st_size > MAX_YAML_BYTES:
                raise StudyError(f"calculator preset {p} is larger than {MAX_YAML_BYTES} bytes")
            data = _safe_yaml_load(p.read_text(encoding="utf-8"), str(p)) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise InputError(f"calculator preset {p} cannot be read: {str(exc).splitlines()[0]}") from None
        from sseflow.workflows.calculators.base import preset_values

        return preset_values(data, p)

    def parameters(self) -> dict:
        """The backend's preset (templates/calculators/NAME.yaml and built-in defaults) with this preset over it."""
        from sseflow.workflows.calculators.base import deep_merge, load_preset
        from sseflow.workflows.calculators.registry import backend_class

        cls = backend_class(self.name)
        return deep_merge(load_preset(self.name, getattr(cls, "defaults", {})), self.preset_dict())

    def correction_scheme(self) -> str:
        from sseflow.workflows.calculators.registry import backend_class

        return str(getattr(backend_class(self.name), "correction_scheme", "none"))


class CalculatorsSpec(_Strict):
    relax: CalculatorSpec = Field(default_factory=CalculatorSpec)   # structure relaxations
    static: Optional[CalculatorSpec] = None                          # a single point on each relaxed cell
    phonons: CalculatorSpec = Field(default_factory=CalculatorSpec)  # finite-displacement forces
    interfaces: CalculatorSpec = Field(default_factory=lambda: CalculatorSpec(name=DEFAULT_CALCULATOR))
    electronic: CalculatorSpec = Field(default_factory=lambda: CalculatorSpec(name="gpaw"))  # Schottky


class SearchSpec(_Strict):
    """``phases.search``: a phase with no structure in the library, found by a structure search
    (``sseflow phases search``) as a Firework of the study with the study's relax calculator; the
    lowest candidate is relaxed like any phase and enters the hulls of the systems it belongs to."""

    formula: str
    spacegroup: Optional[int] = None
    formula_units: Optional[int] = None
    max_atoms: Optional[int] = None
    trials: int = 8
    seed: int = 0
    units: Optional[str] = None        # rigid units per formula unit, e.g. "PS4,P2S7" (needs spacegroup)
    lattice: Optional[list[float]] = None   # a known conventional cell: a, b, c, alpha, beta, gamma
    lattice_source: Optional[str] = None
    name: Optional[str] = None         # label (default: FORMULA-searched)

    @field_validator("formula")
    @classmethod
    def _formula(cls, v: str) -> str:
        _check_formula(v)
        return v

    @model_validator(mode="after")
    def _ranges(self):
        if not 1 <= self.trials <= 1000:
            raise ValueError(f"trials must be between 1 and 1000 (got {self.trials})")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0 (got {self.seed})")
        if self.spacegroup is not None and not 1 <= self.spacegroup <= 230:
            raise ValueError(f"spacegroup must be between 1 and 230 (got {self.spacegroup})")
        if self.units and self.spacegroup is None:
            raise ValueError("units need a spacegroup")
        if self.lattice is not None and (len(self.lattice) != 6 or self.spacegroup is None or self.formula_units is None):
            raise ValueError("lattice is six numbers (a, b, c, alpha, beta, gamma) and needs spacegroup and formula_units")
        if self.lattice is not None and not all(math.isfinite(x) for x in self.lattice):
            raise ValueError("lattice parameters must be finite numbers")
        return self

    def label(self) -> str:
        from sseflow.analysis.formula import reduced_formula_of

        return self.name or f"{reduced_formula_of(self.formula)}-searched"

    def options(self) -> dict:
        return self.model_dump(exclude={"name"}, exclude_none=True)


class PhasesSpec(_Strict):
    """Competing phases to relax (computed reference energies)."""

    auto: bool = True                 # every library phase of each chemical system the study needs
    include: list[PhaseSpec] = Field(default_factory=list)  # more: library names, formulas, structure files
    skip: list[str] = Field(default_factory=list)           # library names or formulas to leave out
    primitive: bool = True            # relax primitive cells (fewer atoms, same energy per atom)
    search: list[SearchSpec] = Field(default_factory=list)  # phases to find by a structure search


class ReferenceSpec(_Strict):
    """Where the formation energies come from."""

    source: Literal["computed", "file", "both"] = "computed"
    file: Optional[str] = None              # CSV (formula + formation energy per atom) or pymatgen entries JSON
    energy_column: Optional[str] = None
    # of the file's energies: MP2020, MP-legacy (pre-2020 MaterialsProjectCompatibility), uncorrected,
    # or a backend's label. Default: what the file declares (<file>.scheme sidecar, or a known table
    # such as the matbench MP set, MP-legacy). 'both' puts the computed entries on this scale.
    # With source 'computed': the scale the computed entries are put on (default: the calculator's
    # own), e.g. MP-legacy to compare windows with a table on that scale.
    correction_scheme: Optional[str] = None
    exclude: list[str] = Field(default_factory=list)  # phases to leave out of every hull

    @field_validator("exclude")
    @classmethod
    def _formulas(cls, v: list[str]) -> list[str]:
        for f in v:
            _check_formula(f)
        return v

    @model_validator(mode="after")
    def _consistent(self):
        if self.source in ("file", "both") and not self.file:
            raise ValueError(f"source '{self.source}' needs 'file' (a reference CSV or entries JSON)")
        if self.source == "computed" and self.file:
            raise ValueError("a reference file is given but source is 'computed': set source to 'file' or 'both'")
        return self

    def scheme_problem(self, calculator: "CalculatorSpec", declared: bool = False) -> str | None:
        """One line saying why source 'both' cannot mix ``calculator``'s entries with the file's
        (None when it can: same scale, or Materials Project schemes sseflow converts between).
        ``declared`` (the file's path resolved): ask the file what it declares instead; a given
        ``correction_scheme`` that contradicts the declaration is a problem too."""
        from sseflow.workflows.computed_entries import conversion_problem, entry_scheme, scheme_family

        if self.source == "computed" and self.correction_scheme:
            problem = conversion_problem(entry_scheme(calculator.correction_scheme()), self.correction_scheme)
            if problem:
                return (f"reference.correction_scheme '{self.correction_scheme}': {calculator.name}'s "
                        f"'{calculator.correction_scheme()}' energies cannot be put on it: {problem}")
            return None
        if self.source != "both":
            return None
        theirs = self.correction_scheme
        if declared:
            from sseflow.analysis.schemes import declared_scheme, scheme_names

            path = self.path()
            if path is None or not path.is_file():
                return None          # reported as a missing file
            try:
                says, how = declared_scheme(path)
            except InputError as exc:
                return str(exc)
            if theirs:   # the conversion itself was checked with the study's other keys
                if says and scheme_family(theirs) != scheme_family(says):
                    return (f"reference.correction_scheme '{theirs}' contradicts what {path.name} declares, "
                            f"'{says}' ({how}): correct or remove reference.correction_scheme")
                return None
            theirs = says
            if not theirs:
                return (f"reference source 'both' needs the correction scheme of {path.name}: set "
                        f"reference.correction_scheme ({scheme_names()}) or write it in {path.name}.scheme")
        elif not theirs:
            return None
        problem = conversion_problem(entry_scheme(calculator.correction_scheme()), theirs)
        if problem:
            return (f"reference source 'both' mixes the file's '{theirs}' energies with {calculator.name}'s "
                    f"'{calculator.correction_scheme()}': {problem}; use source 'computed' or 'file'")
        return None

    _base: Optional[Path] = None

    def path(self) -> Path | None:
        if not self.file:
            return None
        p = Path(os.path.expanduser(os.path.expandvars(self.file)))
        if not p.is_absolute() and self._base is not None:
            p = (self._base / p)
        return p


class SubstitutionSpec(_Strict):
    """``compute.substitution``: every ``site`` atom of each electrolyte that has that element is
    replaced by each substituent (``with``, or ``auto`` proposals), with the charge-compensated
    variants (``sseflow substitute``, docs/substitution.md); relaxed with ``calculators.relax``;
    thermodynamics against ``reference.file``."""

    model_config = ConfigDict(extra="forbid", validate_default=True, populate_by_name=True)

    site: str
    with_: list[str] = Field(default_factory=list, alias="with")
    auto: Optional[int] = None
    compensations: list[str] = Field(default_factory=lambda: ["li-interstitial", "anion-vacancy", "li-vacancy"])
    fraction: float = 1.0             # of the site atoms replaced (< 1: partial, in a supercell)
    orderings: int = 3                # lowest-Ewald orderings relaxed per candidate when fraction < 1
    exclude_elements: list[str] = Field(default_factory=list)   # more elements ``auto`` must not propose
    any_element: bool = False         # ``auto`` without the default precious/toxic element filter
    interfaces: int = 0
    """Build the interfaces of the host and of this many best-ranked charge-balanced candidates with
    each anode (Fireworks added once the ranking is known; Schottky barriers with ``compute.schottky``)."""

    @model_validator(mode="after")
    def _valid(self):
        from sseflow.analysis.formula import parse_formula
        from sseflow.analysis.substitution import COMPENSATIONS

        for el in [self.site, *self.with_]:
            try:
                comp = parse_formula(el)
            except InputError:
                comp = {}
            if list(comp) != [el] or comp[el] != 1:
                raise ValueError(f"unknown element '{el}'")
        if bool(self.with_) == bool(self.auto):
            raise ValueError("give either 'with' (a list of elements) or 'auto' (a number of proposals)")
        if self.auto is not None and self.auto < 1:
            raise ValueError("auto must be a positive number of candidates")
        if not 0 <= self.interfaces <= 20:
            raise ValueError("interfaces must be between 0 and 20 candidates")
        bad = [c for c in self.compensations if c not in COMPENSATIONS]
        if bad:
            raise ValueError(f"unknown compensation '{bad[0]}' (choose from {', '.join(COMPENSATIONS)})")
        if not (math.isfinite(self.fraction) and 0 < self.fraction <= 1):
            raise ValueError(f"fraction must be in (0, 1] (got {self.fraction})")
        if self.orderings < 1:
            raise ValueError(f"orderings must be at least 1 (got {self.orderings})")
        if (self.exclude_elements or self.any_element) and not self.auto:
            raise ValueError("exclude_elements and any_element filter 'auto' proposals")
        return self


class ComputeSpec(_Strict):
    """What to compute."""

    windows: bool = True                 # electrochemical stability window of each electrolyte
    reactions: bool = True               # reaction curve of each electrolyte with each anode (and interlayer)
    potentials: list[float] = Field(default_factory=list)  # also open to Li at these potentials (V vs Li/Li+)
    screening: bool = False              # rank the interlayers between each electrolyte and anode
    interfaces: bool = False             # electrolyte | anode interface cells
    schottky: bool = False               # Schottky barriers of those interfaces (needs interfaces)
    phonons: bool = False                # harmonic phonons of every phase
    temperatures: list[float] = Field(default_factory=list)  # K: windows at these temperatures (needs phonons)
    substitution: Optional[SubstitutionSpec] = None  # substitution screening of an electrolyte site

    @field_validator("potentials")
    @classmethod
    def _potentials(cls, v):
        for x in v:
            if not math.isfinite(x) or x < 0:
                raise ValueError(f"potentials must be >= 0 V vs Li/Li+ (got {x:g})")
        return v

    @field_validator("temperatures")
    @classmethod
    def _temperatures(cls, v):
        for t in v:
            if not math.isfinite(t) or t < 0 or t > 2000:
                raise ValueError(f"temperatures must be between 0 and 2000 K (got {t:g})")
        return v


class InterfaceSettings(_Strict):
    """Interface cells of each electrolyte | anode pair (``compute.interfaces``): the options of
    ``sseflow interface`` (docs/interfaces.md); the best-ranked lattice match is built."""

    max_strain: float = 0.05
    max_atoms: int = 200
    max_area: float = 150.0
    max_index: int = 1
    electrolyte_miller: list[list[int]] = Field(default_factory=list)  # e.g. [[1, 0, 0]]
    electrode_miller: list[list[int]] = Field(default_factory=list)
    electrolyte_thickness: float = 9.0
    electrode_thickness: float = 8.0
    strain_on: Literal["electrode", "electrolyte"] = "electrode"
    stacking: Literal["vacuum", "periodic"] = "vacuum"
    vacuum: float = 12.0
    gap: float = 2.0
    scan: bool = True
    fixed_layers: int = 2
    candidate: int = 1                  # rank of the lattice match to build
    relax: bool = True                  # relax the cell and both slabs: work of adhesion
    fmax: float = 0.05
    steps: int = 300
    schottky_cell: Literal["auto", "relaxed", "built"] = "auto"  # auto: relaxed unless it polarised the electrolyte
    kpts: Optional[list[int]] = None    # electronic static of the interface (compute.schottky)
    bulk_kpts: Optional[list[int]] = None

    @field_validator("electrolyte_miller", "electrode_miller")
    @classmethod
    def _millers(cls, v):
        for m in v:
            if len(m) != 3 or not any(m):
                raise ValueError(f"a Miller index is three integers, not all zero (got {m})")
        return v

    @model_validator(mode="after")
    def _ranges(self):
        if not 0 < self.max_strain < 0.5:
            raise ValueError("max_strain is a fraction between 0 and 0.5")
        if self.max_atoms < 2 or self.max_area <= 0 or self.fmax <= 0 or self.steps < 0:
            raise ValueError("max_atoms, max_area, fmax must be positive")
        for k in ("kpts", "bulk_kpts"):
            v = getattr(self, k)
            if v is not None and (len(v) != 3 or min(v) < 1):
                raise ValueError(f"{k} is three positive integers")
        return self


class QueueSpec(_Strict):
    """How the Fireworks are routed and queued (FireWorks spec keys)."""

    category: Optional[str] = None     # _category: only FireWorkers with this category run them
    fworker: Optional[str] = None      # _fworker: only the FireWorker of this name
    priority: Optional[int] = None     # _priority: higher runs first
    queueadapter: dict = Field(default_factory=dict)  # _queueadapter of the calculation Fireworks (walltime, nodes ...)


def _anode_input(v):
    """An anode given as a Composition, Structure, Atoms, entry or dict: its formula."""
    if isinstance(v, (str, int, float)) or v is None:
        return v
    from sseflow.analysis.inputs import as_formula

    return as_formula(v, "anode")


def _anode(v: str) -> str:
    from sseflow.analysis.anodes import anode_formula
    from sseflow.analysis.formula import parse_formula

    f = anode_formula(str(v))
    if not set(parse_formula(f)) <= ANODE_ELEMENTS:
        raise ValueError(f"anode '{v}' is not Li, Si or a Li-Si alloy")
    return f


class Study(_Strict):
    """A validated study (see docs/workflows.md)."""

    name: str
    description: str = ""
    output: Optional[str] = None       # report folder; default results/<name> (relative to the current folder)
    electrolytes: list[PhaseSpec]
    anodes: list[Annotated[str, BeforeValidator(_anode_input), AfterValidator(_anode)]] = Field(
        default_factory=lambda: ["Li"])
    interlayers: list[PhaseSpec] = Field(default_factory=list)
    phases: PhasesSpec = Field(default_factory=PhasesSpec)
    calculators: CalculatorsSpec = Field(default_factory=CalculatorsSpec)
    reference: ReferenceSpec = Field(default_factory=ReferenceSpec)
    compute: ComputeSpec = Field(default_factory=ComputeSpec)
    interface: InterfaceSettings = Field(default_factory=InterfaceSettings)
    queue: QueueSpec = Field(default_factory=QueueSpec)

    _source: Optional[Path] = None
    _text: Optional[str] = None

    def __init__(self, **data):
        """A study built in Python; a bad value is one :class:`StudyError` line (study files are
        read by :func:`parse_study`, which reports pydantic's errors with their file and line)."""
        if _READING_FILE.get():
            super().__init__(**data)
            return
        try:
            super().__init__(**data)
        except ValidationError as exc:
            errors = [_python_error(e) for e in exc.errors(include_url=False)]
            raise StudyError("study: " + "; ".join(errors[:3]) + (f"; and {len(errors) - 3} more"
                                                                   if len(errors) > 3 else ""), errors) from None

    @field_validator("name")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", v or ""):
            raise ValueError("name must be letters, digits and _ . + - (it names the output folder)")
        return v

    @field_validator("electrolytes")
    @classmethod
    def _some(cls, v):
        if not v:
            raise ValueError("list at least one electrolyte")
        return v

    @model_validator(mode="after")
    def _switches(self):
        c = self.compute
        if c.schottky and not c.interfaces:
            raise ValueError("compute.schottky needs compute.interfaces: true")
        if c.temperatures and not c.phonons:
            raise ValueError("compute.temperatures needs compute.phonons: true")
        if c.potentials and not c.reactions:
            raise ValueError("compute.potentials needs compute.reactions: true")
        if c.substitution is not None and not self.reference.file:
            raise ValueError("compute.substitution needs a reference file (reference.source: file or both)")
        if not (c.windows or c.reactions or c.screening or c.interfaces or c.phonons or c.substitution):
            raise ValueError("nothing to compute: switch on windows, reactions, screening, interfaces or phonons")
        if self.phases.search and self.reference.source == "file":
            raise ValueError("phases.search finds structures for computed entries: use reference source 'computed' "
                             "or 'both'")
        if self.reference.source == "both" or self.reference.correction_scheme:
            problem = self.reference.scheme_problem(self.calculators.static or self.calculators.relax)
            if problem:
                raise ValueError(problem)
        return self

    # ---------------------------------------------------------------- derived
    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def content_hash(self) -> str | None:
        """SHA-256 of the study file's text (a workflow built from it records it)."""
        if self._text is None:
            return None
        import hashlib

        return hashlib.sha256(self._text.encode("utf-8")).hexdigest()

    @property
    def base(self) -> Path:
        return self._source.parent if self._source is not None else Path.cwd()

    def output_dir(self, cwd: Path | None = None) -> Path:
        out = Path(os.path.expanduser(self.output)) if self.output else Path("results") / self.name
        return out if out.is_absolute() else (cwd or Path.cwd()) / out

    @property
    def computed(self) -> bool:
        """Whether reference energies come (partly) from the study's own calculations."""
        return self.reference.source in ("computed", "both")

    @property
    def energy_calculator(self) -> CalculatorSpec:
        """The stage whose energies make the entries (static when configured, else relax)."""
        return self.calculators.static or self.calculators.relax

    def electrolyte_formulas(self) -> list[tuple[str, str]]:
        """(label, formula) of each electrolyte."""
        return [(e.label(), e.composition_formula()) for e in self.electrolytes]

    def interlayer_formulas(self) -> list[tuple[str, str]]:
        return [(e.label(), e.composition_formula()) for e in self.interlayers]

    def screening_candidates(self) -> list[str]:
        if self.interlayers:
            return [f for _, f in self.interlayer_formulas()]
        from sseflow.analysis.screening import DEFAULT_CANDIDATES

        return list(DEFAULT_CANDIDATES)

    def summary(self) -> dict:
        return {"name": self.name, "file": None if self._source is None else str(self._source),
                "electrolytes": [f for _, f in self.electrolyte_formulas()], "anodes": list(self.anodes),
                "reference": self.reference.source, "calculator": self.energy_calculator.name}


# =========================================================================== loading

_READING_FILE = contextvars.ContextVar("sseflow_study_reading_file", default=False)


def _python_error(err: dict) -> str:
    """One pydantic error of a study built in Python: ``electrolytes[0]: message``."""
    where = ""
    for part in err.get("loc", ()):
        if isinstance(part, int):
            where += f"[{part}]"
        elif part in _EXTRA_HINTS or part.startswith(("function-", "list[", "dict[")):
            continue  # union tags and model names
        else:
            where += ("." if where else "") + str(part)
    text = re.sub(r"^(Value|Assertion) error, ", "", str(err.get("msg", "invalid value")))
    if err.get("type") == "extra_forbidden":
        text = "unknown key"
    elif err.get("type") == "missing":
        text = "missing required key"
    return f"{where or '(top level)'}: {text}"


_EXTRA_HINTS = {
    "Study": list(Study.model_fields), "PhasesSpec": list(PhasesSpec.model_fields),
    "CalculatorsSpec": list(CalculatorsSpec.model_fields), "ReferenceSpec": list(ReferenceSpec.model_fields),
    "ComputeSpec": list(ComputeSpec.model_fields), "QueueSpec": list(QueueSpec.model_fields),
    "InterfaceSettings": list(InterfaceSettings.model_fields),
    "CalculatorSpec": list(CalculatorSpec.model_fields), "PhaseSpec": list(PhaseSpec.model_fields),
}

_SECTION_MODEL = {(): "Study", ("phases",): "PhasesSpec", ("calculators",): "CalculatorsSpec",
                  ("reference",): "ReferenceSpec", ("compute",): "ComputeSpec", ("queue",): "QueueSpec",
                  ("interface",): "InterfaceSettings"}


def _allowed_keys(path: tuple) -> list[str]:
    if path in _SECTION_MODEL:
        return _EXTRA_HINTS[_SECTION_MODEL[path]]
    if len(path) == 2 and path[0] == "calculators":
        return _EXTRA_HINTS["CalculatorSpec"]
    if path and path[0] in ("electrolytes", "interlayers") or (len(path) >= 2 and path[:2] == ("phases", "include")):
        return _EXTRA_HINTS["PhaseSpec"]
    return []


def _format_errors(exc: ValidationError, source: str, key_lines: dict, value_lines: dict) -> list[str]:
    out: list[str] = []
    seen: set[tuple] = set()
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        etype = err.get("type", "")
        unknown = etype == "extra_forbidden"
        line = _line_of(loc, key_lines, value_lines, unknown)
        where = f"{source}:{line}" if line else source
        if unknown:
            key = loc[-1]
            parent = loc[:-1]
            real_parent: tuple = ()
            for part in parent:
                if real_parent + (part,) in value_lines:
                    real_parent += (part,)
            allowed = _allowed_keys(tuple(p for p in real_parent if not isinstance(p, int))
                                    if real_parent[:1] == ("calculators",) else real_parent)
            if real_parent[:1] in (("electrolytes",), ("interlayers",)) or real_parent[:2] == ("phases", "include"):
                allowed = _EXTRA_HINTS["PhaseSpec"]
            section = _dotted(real_parent, value_lines) if real_parent else "the study"
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            msg = f"{where}: unknown key '{key}' in {section}"
            msg += f" (did you mean '{hint[0]}'?)" if hint else (f" (allowed: {', '.join(allowed)})" if allowed else "")
        elif etype == "missing":
            section = _dotted(loc[:-1], value_lines) if loc[:-1] else "the study"
            msg = f"{where}: missing required key '{loc[-1]}' in {section}"
        else:
            text = str(err.get("msg", "invalid value"))
            text = re.sub(r"^(Value|Assertion) error, ", "", text)
            field = _dotted(loc, {**value_lines, **{k: v for k, v in key_lines.items()}})
            msg = f"{where}: {field}: {text}"
        sig = (line, msg)
        if sig in seen:
            continue
        seen.add(sig)
        out.append(msg)
    return out


def _check_files(study: Study, source: str, value_lines: dict) -> list[str]:
    """Structure and reference files must exist (reported with their line)."""
    errors = []

    def where(path: tuple) -> str:
        line = value_lines.get(path)
        return f"{source}:{line}" if line else source

    for section in ("electrolytes", "interlayers"):
        for i, ph in enumerate(getattr(study, section)):
            if ph.cif and not ph.path().is_file():
                line = value_lines.get((section, i, "cif")) or value_lines.get((section, i))
                errors.append(f"{source}:{line}: structure file not found: {ph.path()}")
    for i, ph in enumerate(study.phases.include):
        if ph.cif and not ph.path().is_file():
            errors.append(f"{where(('phases', 'include', i))}: structure file not found: {ph.path()}")
    ref = study.reference.path()
    if ref is not None and not ref.is_file():
        errors.append(f"{where(('reference', 'file'))}: reference file not found: {ref}")
    elif ref is not None:
        problem = study.reference.scheme_problem(study.calculators.static or study.calculators.relax, declared=True)
        if problem:
            errors.append(f"{where(('reference', 'file'))}: {problem}")
    for stage in ("relax", "static", "phonons", "interfaces", "electronic"):
        c = getattr(study.calculators, stage)
        if c is not None and isinstance(c.preset, str):
            p = Path(os.path.expanduser(c.preset))
            p = p if p.is_absolute() else study.base / p
            if not p.is_file():
                errors.append(f"{where(('calculators', stage, 'preset'))}: calculator preset file not found: {p}")
    return errors


def _availability(study: Study, source: str, value_lines: dict, check_backends: bool = True) -> list[str]:
    """Switches whose optional third-party packages are not installed: phonopy for phonons and,
    with ``check_backends``, the calculation backend (GPAW) that Schottky barriers need here."""
    import importlib.util

    errors = []
    c = study.compute

    def missing(mod: str) -> bool:
        try:
            return importlib.util.find_spec(mod) is None
        except ModuleNotFoundError:
            return True

    def where(key: str) -> str:
        line = value_lines.get(("compute", key))
        return f"{source}:{line}" if line else source

    if c.schottky and check_backends:
        electronic = study.calculators.electronic
        if electronic is not None and electronic.name == "gpaw" and missing("gpaw"):
            errors.append(f"{where('schottky')}: compute.schottky with calculators.electronic gpaw needs GPAW, "
                          f"which is not installed (see docs/install_backends.md; or use vasp or qe)")
    if c.phonons and missing("phonopy"):
        errors.append(f"{where('phonons')}: compute.phonons is not available in this version "
                      f"(phonopy is not installed)")
    return errors


def _attach_base(study: Study, base: Path) -> None:
    for ph in [*study.electrolytes, *study.interlayers, *study.phases.include]:
        ph._base = base
    for stage in ("relax", "static", "phonons", "interfaces", "electronic"):
        c = getattr(study.calculators, stage)
        if c is not None:
            c._base = base
    study.reference._base = base


def parse_study(text: str, source: str = "<study>", base: Path | None = None, check_files: bool = True,
                check_backends: bool = True) -> Study:
    """Validate study YAML text; ``base`` is the folder relative paths are read from.

    ``check_backends=False`` validates the study's structure without asking whether the optional
    backends it names (GPAW) are installed here, e.g. to check a study meant for another machine.
    """
    data, key_lines, value_lines = _yaml_load_with_marks(text, source)
    if data is None:
        raise StudyError(f"{source}: the study file is empty")
    if not isinstance(data, dict):
        raise StudyError(f"{source}:1: a study is a mapping of keys (name, electrolytes, anodes ...)")
    try:
        token = _READING_FILE.set(True)
        try:
            study = Study.model_validate(data)
        finally:
            _READING_FILE.reset(token)
    except ValidationError as exc:
        errors = _format_errors(exc, source, key_lines, value_lines)
        errors.sort(key=lambda e: _sort_key(e, source))
        raise StudyError("; ".join(errors) if len(errors) <= 3 else
                         "; ".join(errors[:3]) + f"; and {len(errors) - 3} more", errors) from None
    except InputError as exc:  # raised inside a validator helper (bad formula ...)
        raise StudyError(f"{source}: {exc}") from None
    base = Path(base) if base is not None else Path.cwd()
    _attach_base(study, base)
    study._text = text
    errors = _availability(study, source, value_lines, check_backends)
    if check_files:
        errors += _check_files(study, source, value_lines)
    if errors:
        errors.sort(key=lambda e: _sort_key(e, source))
        raise StudyError("; ".join(errors), errors)
    return study


def _sort_key(err: str, source: str):
    m = re.match(re.escape(source) + r":(\d+):", err)
    return int(m.group(1)) if m else 0


def load_study(path: str | os.PathLike, check_backends: bool = True) -> Study:
    """Read and validate a study file; relative paths inside it are relative to its folder."""
    p = Path(os.path.expanduser(str(path)))
    if not p.is_file():
        raise StudyError(f"study file not found: {p}")
    try:
        if p.stat().st_size > MAX_YAML_BYTES:
            raise StudyError(f"{path}: {p.stat().st_size} bytes, more than the {MAX_YAML_BYTES} a study file may have")
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyError(f"cannot read study file {p}: {exc}") from None
    study = parse_study(text, source=str(path), base=p.resolve().parent, check_backends=check_backends)
    study._source = p.resolve()
    return study


# =========================================================================== before submitting

def check_before_submit(study: Study) -> None:
    """What :func:`parse_study` cannot see from the YAML alone, checked before any Firework is
    added (a mistake found by a Firework after hours of calculations is found too late):

    * each calculator's preset: unknown keys, fmax, max_steps, the optimizer's name;
    * structure files: atoms (or periodic images) closer than 0.5 Å.

    Raises :class:`StudyError` listing every problem. A study with ``reference: computed`` is
    then compared with a reference file (the configured default): one warning line on stderr per
    chemical system names the hull and near-hull phases it has no structure for
    (:func:`sseflow.workflows.structures.coverage.warn_study_coverage`); without a file, a note.
    """
    from sseflow.workflows.calculators.base import check_parameters, check_values
    from sseflow.workflows.structures.validate import check_min_distance

    source = str(study.source) if study.source is not None else "<study>"
    errors: list[str] = []
    for stage in ("relax", "static", "phonons", "interfaces", "electronic"):
        c = getattr(study.calculators, stage)
        if c is None:
            continue
        where = f"{source}: calculators.{stage}"
        try:
            check_parameters(c.name, c.preset_dict(), where)
            check_values(c.name, c.parameters(), where)
        except InputError as exc:
            errors.append(str(exc))
    seen: set[str] = set()
    for ph in [*study.electrolytes, *study.interlayers, *study.phases.include]:
        if not (ph.cif or ph.structure_dict):
            continue
        what = str(ph.path()) if ph.cif else f"structure {ph.label()}"
        if what in seen:
            continue
        seen.add(what)
        try:
            check_min_distance(ph.structure(primitive=False), where=f"{source}: {what}")
        except InputError as exc:
            errors.append(str(exc))
    if errors:
        raise StudyError("; ".join(errors), errors)
    if study.reference.source == "computed":
        from sseflow.workflows.structures.coverage import warn_study_coverage

        warn_study_coverage(study)
