"""The one small interface every calculator backend implements.

A backend turns an ASE ``Atoms`` or a pymatgen ``Structure`` into a :class:`CalcResult`
(relaxed or single-point), and hands out a plain ASE calculator for code that only needs
forces (phonons, interface cells). Presets (cutoffs, k-point density, smearing, fmax,
max steps, run commands) come from ``templates/calculators/<name>.yaml`` and can be
overridden per study or per call.
"""
from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sseflow.analysis.errors import InputError

# ------------------------------------------------------------------ presets

TEMPLATE_DIR_ENV = "SSEFLOW_TEMPLATES"  # the variable of ``settings().templates``


def template_dir() -> Path:
    """Folder holding the calculator presets (``calculators/`` of the ``sseflow.templates`` package).

    ``SSEFLOW_TEMPLATES`` (``settings().templates``) points at another ``templates`` folder (a study's own).
    """
    from sseflow.workflows.settings import settings

    root = settings().templates
    if root:
        return Path(root) / "calculators"
    from importlib.resources import files

    return Path(str(files("sseflow.templates") / "calculators"))


def load_preset(name: str, defaults: dict | None = None) -> dict:
    """The backend's YAML preset merged over its built-in ``defaults``.

    The built-in defaults are the same values as the shipped YAML, so an installed
    package without the ``templates`` folder behaves the same.
    """
    out = copy.deepcopy(defaults or {})
    path = template_dir() / f"{name}.yaml"
    if path.is_file():
        import yaml

        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"calculator preset {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        out = deep_merge(out, preset_values(data, path))
    return out


def preset_values(data, path) -> dict:
    """The settings of a preset file's parsed YAML ``data`` (its ``backend`` and ``description``
    labels dropped); InputError when it is not a mapping."""
    if not isinstance(data, dict):
        raise InputError(f"calculator preset {path} must be a mapping")
    data.pop("backend", None)
    data.pop("description", None)
    return data


def deep_merge(base: dict, over: dict | None) -> dict:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_command(value: str | None, setting: str, fw_env: dict | None = None,
                    extra_env: tuple[str, ...] = ()) -> str | None:
    """Run command from config, the way atomate's ``env_chk`` does it.

    ``">>vasp_cmd<<"`` is looked up in the FireWorker's ``env`` (``fw_env``); a plain
    string is used as given; ``None`` falls back to the sseflow setting ``setting`` (a field of
    :class:`sseflow.workflows.settings.SseflowSettings`: ``"vasp_cmd"`` is ``SSEFLOW_VASP_CMD``),
    then to the other programs' environment variables ``extra_env``. Returns ``None`` when
    nothing is configured.
    """
    from sseflow.workflows.settings import settings

    if isinstance(value, str) and value.startswith(">>") and value.endswith("<<"):
        key = value[2:-2]
        if fw_env and key in fw_env:
            return str(fw_env[key])
        value = None
    if value:
        return str(value)
    configured = getattr(settings(), setting)
    if configured:
        return configured
    for var in extra_env:
        if os.environ.get(var):
            return os.environ[var]
    return None


# ------------------------------------------------------------------ conversions

def to_atoms(obj) -> "ase.Atoms":  # noqa: F821
    """ASE Atoms from Atoms, pymatgen Structure, or a path to a structure file."""
    from ase import Atoms

    if isinstance(obj, Atoms):
        return obj.copy()
    if hasattr(obj, "lattice") and hasattr(obj, "sites"):
        from pymatgen.io.ase import AseAtomsAdaptor

        if not obj.is_ordered:
            raise InputError(f"structure {obj.composition.reduced_formula} is disordered: order it first")
        return AseAtomsAdaptor.get_atoms(obj)
    if isinstance(obj, (str, os.PathLike)):
        from sseflow.workflows.structures.library import read_structure

        return to_atoms(read_structure(obj))
    raise InputError(f"cannot use {type(obj).__name__} as a structure")


def to_structure(atoms):
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_structure(atoms)


# ------------------------------------------------------------------ result


@dataclass
class CalcResult:
    """What one calculation produced: final atoms, energies, forces, stress, metadata."""

    atoms: Any
    structure: Any
    energy: float                     # eV, total for the cell
    energy_per_atom: float            # eV/atom
    forces: np.ndarray                # eV/Å, (n, 3)
    stress: np.ndarray                # eV/Å^3, Voigt 6 (xx yy zz yz xz xy), ASE sign
    n_steps: int
    converged: bool
    wall_time_s: float
    calculator: str
    parameters: dict
    files: list = field(default_factory=list)
    correction_scheme: str = "none"
    status: str = "completed"
    error: str | None = None
    task: str = "relax"               # "relax" or "static"

    @property
    def outcome(self) -> str:
        """The status its task document records: ``completed``, ``failed``, or ``not_converged`` for
        a relaxation that stopped at its step limit with forces above its fmax."""
        if self.status == "completed" and self.task == "relax" and not self.converged:
            return NOT_CONVERGED
        return self.status

    @property
    def max_force(self) -> float:
        f = np.asarray(self.forces, dtype=float)
        return float(np.sqrt((f ** 2).sum(axis=1)).max()) if f.size else 0.0

    @property
    def formula(self) -> str:
        return self.structure.composition.formula.replace(" ", "")

    @property
    def reduced_formula(self) -> str:
        return self.structure.composition.reduced_formula

    @property
    def chemsys(self) -> str:
        return "-".join(sorted({el.symbol for el in self.structure.composition.elements}))

    def to_store_document(self, input_structure=None):
        """The results store's ``TaskDocument`` of this result (``TaskDocument.from_calc_result``)."""
        from sseflow.workflows.store.documents import TaskDocument

        return TaskDocument.from_calc_result(self, input_structure)

    def task_document(self) -> dict:
        """Plain-JSON view of :meth:`to_store_document` (``TaskDocument.summary``)."""
        return self.to_store_document().summary()


NOT_CONVERGED = "not_converged"


def judge(result: CalcResult, fmax: float | None = None, steps: int | None = None) -> CalcResult:
    """Check what a finished calculation returned.

    Non-finite energy, forces or stress (an exploded structure, a broken potential): status
    ``failed``. A relaxation whose optimizer stopped at its step limit with forces above ``fmax``
    keeps its result (callers may use the last geometry) with ``converged`` False and the reason
    in ``error``; its task document says ``not_converged`` (:attr:`CalcResult.outcome`). Neither
    is ever stored or reused as ``completed``.
    """
    if result.status != "completed":
        return result
    forces = np.asarray(result.forces, dtype=float)
    stress = np.asarray(result.stress, dtype=float)
    finite = math.isfinite(float(result.energy)) and bool(np.isfinite(forces).all())
    if finite and stress.size and np.isnan(stress).all():
        pass  # a calculator without stress (molecules): all NaN by convention
    elif finite:
        finite = bool(np.isfinite(stress).all())
    if not finite:
        result.status = "failed"
        result.converged = False
        result.error = "non-finite energy, forces or stress (the calculation diverged)"
        return result
    if result.task == "relax" and not result.converged:
        limit = f" in {steps} steps" if steps is not None else ""
        target = f" > fmax {fmax:g} eV/Å" if fmax is not None else ""
        result.error = (f"relaxation not converged{limit}: max force {result.max_force:.3g} eV/Å{target} "
                        f"(raise max_steps, or check the structure)")
    return result


def optimizer_class(name: str, choices: bool = False):
    """The ASE optimizer class called ``name`` (FIRE, BFGS, LBFGS ...); InputError otherwise
    (with ``choices``, the message lists the optimizers there are)."""
    from ase import optimize
    from ase.optimize.optimize import Optimizer

    cls = getattr(optimize, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
        known = sorted(n for n in dir(optimize) if isinstance(getattr(optimize, n), type)
                       and issubclass(getattr(optimize, n), Optimizer) and not n.startswith("_")
                       and n not in ("Optimizer", "Dynamics"))
        raise InputError(f"unknown ASE optimizer '{name}'" + (f" (choose from {', '.join(known)})" if choices else ""))
    return cls


def _env_reference(value) -> bool:
    """A ``">>key<<"`` value: filled in from the FireWorker's env when the Firework runs."""
    return isinstance(value, str) and value.startswith(">>") and value.endswith("<<")


def check_values(name: str, params: dict, where: str | None = None) -> None:
    """InputError unless the generic preset values are usable: ``fmax`` a positive finite number,
    ``max_steps`` a whole number >= 0, ``optimizer`` an ASE optimizer. ``where`` (the study key
    or option the values come from) prefixes the message."""
    at = f"{where}: calculator '{name}': " if where else ""
    fmax = params.get("fmax")
    if fmax is not None and not _env_reference(fmax):
        if isinstance(fmax, bool) or not isinstance(fmax, (int, float)) or not math.isfinite(fmax) or fmax <= 0:
            raise InputError(f"{at or f'calculator {name!r}: '}fmax must be a positive number (eV/Å), not {fmax!r}")
    steps = params.get("max_steps")
    if steps is not None and not _env_reference(steps):
        whole = isinstance(steps, int) or (isinstance(steps, float) and steps.is_integer())
        if isinstance(steps, bool) or not whole or steps < 0:
            raise InputError(f"{at or f'calculator {name!r}: '}max_steps must be a whole number >= 0, "
                             f"not {steps!r}")
    opt = params.get("optimizer")
    if opt is not None and not _env_reference(opt):
        try:
            optimizer_class(opt, choices=bool(where))
        except InputError as exc:
            raise InputError(f"{at}{exc}") from None


def known_keys(name: str) -> set[str]:
    """Preset keys backend ``name`` understands: its defaults, its shipped preset, its extra keys."""
    from sseflow.workflows.calculators.registry import backend_class

    cls = backend_class(name)
    return set(cls.defaults) | set(load_preset(cls.name, {})) | set(cls.extra_keys) | {"fw_env"}


def check_parameters(name: str, params: dict | None, where: str | None = None) -> None:
    """InputError for a preset / ``--set`` mapping that backend ``name`` cannot use: unknown keys
    (with the closest known one) and unusable generic values (:func:`check_values`)."""
    import difflib

    at = f"{where}: " if where else ""
    if params is None:
        return
    if not isinstance(params, dict):
        raise InputError(f"{at}calculator preset must be a mapping")
    known = known_keys(name)
    for key in params:
        if key not in known:
            hint = difflib.get_close_matches(str(key), sorted(known), n=1)
            raise InputError(f"{at}unknown parameter '{key}' for calculator '{name}'"
                             + (f" (did you mean '{hint[0]}'?)" if hint else
                                f" (known: {', '.join(sorted(known - {'fw_env'}))})"))
    check_values(name, params, where)


def jsonable(obj):
    """Plain JSON types from numpy scalars/arrays, tuples and paths (nested)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return obj


# ------------------------------------------------------------------ backend


class Backend:
    """Base class: ASE-driven relax/static around :meth:`ase_calculator`.

    Subclasses set ``name``, ``correction_scheme`` and ``defaults`` and implement
    :meth:`ase_calculator`; DFT backends override :meth:`check` to validate their setup.
    """

    name: str = ""
    correction_scheme: str = "none"
    defaults: dict = {}

    # preset keys the backend reads besides those of ``defaults`` (see check_parameters)
    extra_keys: frozenset = frozenset()

    def __init__(self, preset: dict | None = None, **overrides):
        params = load_preset(self.name, self.defaults)
        params = deep_merge(params, preset or {})
        params = deep_merge(params, overrides)
        self.parameters: dict = params
        check_values(self.name, params)
        self.check()

    # -- to implement
    def ase_calculator(self, directory: str | os.PathLike | None = None):
        raise NotImplementedError

    def check(self) -> None:
        """Raise InputError when the backend cannot run as configured."""

    # -- shared driver
    def _prepare(self, obj):
        from sseflow.workflows.structures.validate import check_min_distance

        atoms = to_atoms(obj)
        if len(atoms) == 0:
            raise InputError("structure has no atoms")
        check_min_distance(atoms)
        return atoms

    def relax(self, atoms_or_structure, fmax: float | None = None, steps: int | None = None,
              relax_cell: bool = True, directory: str | os.PathLike | None = None,
              trajectory: str | os.PathLike | None = None, on_step=None) -> CalcResult:
        """Relax positions (and the cell when ``relax_cell``) with an ASE optimizer.

        ``on_step``: called with the number of optimizer steps taken after each step (progress)."""
        from ase.filters import FrechetCellFilter

        fmax = float(self.parameters.get("fmax", 0.05) if fmax is None else fmax)
        steps = int(self.parameters.get("max_steps", 500) if steps is None else steps)
        atoms = self._prepare(atoms_or_structure)
        atoms.calc = self.ase_calculator(directory=directory)
        directory = self._directory(atoms.calc, directory)
        opt_name = str(self.parameters.get("optimizer", "FIRE"))
        opt_cls = optimizer_class(opt_name)
        target = FrechetCellFilter(atoms) if relax_cell else atoms
        t0 = time.perf_counter()
        files: list[str] = []
        opt = opt_cls(target, logfile=None, trajectory=str(trajectory) if trajectory else None)
        if trajectory:
            files.append(str(trajectory))
        if on_step is not None:
            def _observe():  # ASE also calls observers before the first step: report steps taken only
                n = int(opt.get_number_of_steps())
                if n > 0:
                    on_step(n)
            opt.attach(_observe, interval=1)
        try:
            converged = bool(opt.run(fmax=fmax, steps=steps))
        except InputError:
            raise
        except Exception as exc:  # a DFT code that died: a failed task, not a crash
            return self._failed(atoms, exc, time.perf_counter() - t0, "relax")
        n_steps = int(opt.get_number_of_steps())
        result = self._collect(atoms, n_steps, converged, time.perf_counter() - t0, "relax",
                               {"fmax": fmax, "steps": steps, "relax_cell": relax_cell, "optimizer": opt_name})
        result.files = files + self._files(directory)
        return judge(result, fmax, steps)

    def static(self, atoms_or_structure, directory: str | os.PathLike | None = None) -> CalcResult:
        atoms = self._prepare(atoms_or_structure)
        atoms.calc = self.ase_calculator(directory=directory)
        directory = self._directory(atoms.calc, directory)
        t0 = time.perf_counter()
        try:
            atoms.get_potential_energy()
        except InputError:
            raise
        except Exception as exc:
            return self._failed(atoms, exc, time.perf_counter() - t0, "static")
        result = self._collect(atoms, 0, True, time.perf_counter() - t0, "static", {})
        result.files = self._files(directory)
        return judge(result)

    # -- helpers
    keeps_files = False  # file-based codes (QE, VASP): list what the run left in its folder

    def _directory(self, calc, directory):
        if directory is None and self.keeps_files:
            return getattr(calc, "directory", None)
        return directory

    def _files(self, directory) -> list[str]:
        if not directory or not Path(directory).is_dir():
            return []
        return sorted(str(p) for p in Path(directory).iterdir() if p.is_file())

    def _collect(self, atoms, n_steps, converged, wall, task, run_params) -> CalcResult:
        energy = float(atoms.get_potential_energy())
        forces = np.array(atoms.get_forces(), dtype=float)
        try:
            stress = np.array(atoms.get_stress(voigt=True), dtype=float)
        except Exception:  # calculators without stress (molecules)
            stress = np.full(6, np.nan)
        final = atoms.copy()
        final.calc = None
        params = deep_merge(self.parameters, run_params)
        return CalcResult(
            atoms=final, structure=to_structure(final), energy=energy,
            energy_per_atom=energy / len(final), forces=forces, stress=stress, n_steps=n_steps,
            converged=converged, wall_time_s=float(wall), calculator=self.name,
            parameters=params, correction_scheme=self.correction_scheme, task=task,
        )

    def _failed(self, atoms, exc, wall, task) -> CalcResult:
        final = atoms.copy()
        final.calc = None
        n = len(final)
        return CalcResult(
            atoms=final, structure=to_structure(final), energy=math.nan, energy_per_atom=math.nan,
            forces=np.full((n, 3), np.nan), stress=np.full(6, np.nan), n_steps=0, converged=False,
            wall_time_s=float(wall), calculator=self.name, parameters=dict(self.parameters),
            correction_scheme=self.correction_scheme, status="failed",
            error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", task=task,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.parameters}>"
