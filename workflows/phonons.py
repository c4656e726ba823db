"""Harmonic phonons by finite displacements (phonopy) with forces from a calculator backend.

One job per phase::

    from sseflow.workflows.phonons import compute_phonons
    res = compute_phonons(structure, "chgnet")          # relax (symmetry kept), displace, forces, phonopy
    res.free_energy_at([300, 600])                       # eV/atom, zero-point energy included
    doc = res.to_document()                              # sseflow.workflows.store.documents.PhononDocument

What it does, in order:

1. **Relax** the structure (its spglib primitive cell, then the phonons use the conventional
   standard cell built from it) with the backend's ASE calculator, cell included, with ASE's
   ``FixSymmetry`` so the space group found at ``symprec`` is kept exactly (a relaxation that
   breaks symmetry would multiply the displacements and hide an instability the phonons should
   show instead). Tight force tolerance (``fmax`` 0.005 eV/Å by default). When the cell
   relaxation changes the volume by more than ``max_volume_change`` (10 %), the input cell is
   kept and only the positions are relaxed, with a note: universal potentials without
   dispersion (CHGNet) swell van der Waals solids (black P: +46 % along the stacking axis,
   S8, P4S10), and phonons of the swollen cell are far too soft (black P: F_vib(300 K) twice
   as negative). Give experimental (or dispersion-corrected) cells for such phases.
2. **Supercell** of the relaxed cell as given, diagonal, each multiplicity the smallest that
   makes the supercell at least ``min_length`` (10 Å) wide *perpendicular* to each pair of
   faces (for a cubic cell that is the edge length; for a hexagonal cell the in-plane width
   a*sin(60°)). An explicit ``supercell_matrix`` wins.
3. **Displacements** by phonopy (symmetry-reduced, ``displacement`` 0.01 Å), forces of every
   displaced supercell from the backend; the forces of the undisplaced supercell are
   subtracted (residual forces left by the relaxation and float32 noise of ML potentials).
4. **Force constants** (phonopy, then symmetrised: translational invariance), a Gamma-centred
   mesh (``mesh``: phonopy's length, 50 Å), the total phonon DOS (tetrahedron method) and the
   thermal properties on a temperature grid (0-2000 K, 10 K steps): F_vib(T) (zero-point energy
   included), S_vib(T), Cv(T), all **per atom** (eV/atom, eV/atom/K).
5. **Imaginary modes**: every mesh mode below ``-imaginary_tol_THz`` (0.1 THz) is counted
   (weighted by the q-point multiplicity) except the acoustic modes at and next to Gamma (the
   three lowest branches within ``acoustic_q_cut`` = 0.06 1/Å, where a finite supercell and
   force noise make them dip below zero; a note reports how far); the most negative counted
   frequency is reported. A phase with any is ``flagged`` and ``sseflow.workflows.temperature`` does not
   use it unless asked to.

Imaginary modes are left out of F, S and Cv (phonopy's rule), which is one more reason a flagged
phase must not enter a hull silently.

Results are stored as :class:`sseflow.workflows.store.documents.PhononDocument` (extra fields: DOS,
Cv, Gamma frequencies, the relaxed structure and its energy, timings) and reused by dedupe:
:func:`phonons_for` looks for a stored document with the same calculator, the same physics
parameters and a matching structure (StructureMatcher, as for tasks) before computing.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from sseflow.workflows.calculators.base import jsonable as _jsonable

from sseflow.analysis.errors import InputError
from sseflow.workflows.calculators.registry import DEFAULT as DEFAULT_CALCULATOR

EV_PER_KJMOL = 1.0 / 96.48533212331002  # 1 kJ/mol in eV (per particle)
THZ_TO_CM1 = 33.35640951981521
DEFAULT_T_MAX = 2000.0
DEFAULT_T_STEP = 10.0


# ---------------------------------------------------------------------------- settings

@dataclass
class PhononSettings:
    """How a phonon job runs. Everything here except ``max_supercell_atoms`` changes the result."""

    min_length: float = 10.0           # Å, minimum perpendicular width of the supercell
    supercell_matrix: list | None = None  # explicit 3x3 (or 3 diagonal) multiplicities; wins over min_length
    displacement: float = 0.01         # Å
    plusminus: Any = "auto"            # phonopy's is_plusminus
    subtract_residual_forces: bool = True
    mesh: Any = 50.0                   # phonopy mesh: a length (Å) or three integers
    symmetrize_fc: bool = True
    relax: bool = True
    relax_cell: bool = True
    fmax: float = 0.005                # eV/Å for the relaxation
    relax_steps: int = 500
    symprec: float = 1e-3              # Å: FixSymmetry and phonopy
    max_volume_change: float | None = 0.10  # fraction; beyond it the input cell is kept (see module doc)
    imaginary_tol_THz: float = 0.1
    acoustic_q_cut: float = 0.06       # 1/Å (no 2 pi): acoustic branches closer to Gamma are not counted
    t_max: float = DEFAULT_T_MAX
    t_step: float = DEFAULT_T_STEP
    max_supercell_atoms: int | None = 600  # refuse bigger supercells (execution guard, not physics)

    def __post_init__(self) -> None:
        if not (self.min_length > 0):
            raise InputError("phonon min_length must be positive (Å)")
        if not (0 < self.displacement < 0.5):
            raise InputError("phonon displacement must be between 0 and 0.5 Å")
        if self.t_step <= 0 or self.t_max <= 0:
            raise InputError("phonon temperature grid must have positive t_max and t_step")

    def physics(self) -> dict:
        """The settings that change the result, normalised (6 and 6.0 are the same length)."""
        d = asdict(self)
        for k in ("max_supercell_atoms", "relax_steps"):
            d.pop(k, None)
        for k in ("min_length", "displacement", "fmax", "symprec", "imaginary_tol_THz", "acoustic_q_cut",
                  "t_max", "t_step", "max_volume_change"):
            d[k] = None if d[k] is None else float(d[k])
        if isinstance(d.get("mesh"), (list, tuple, np.ndarray)):
            d["mesh"] = [int(x) for x in d["mesh"]]
        else:
            d["mesh"] = float(d["mesh"])
        if d.get("supercell_matrix") is not None:
            d["supercell_matrix"] = _as_matrix(d["supercell_matrix"])
        return d

    def temperatures(self, extra: Iterable[float] = ()) -> np.ndarray:
        grid = np.arange(0.0, self.t_max + 0.5 * self.t_step, self.t_step)
        extra = [float(t) for t in extra]
        bad = [t for t in extra if not (0 <= t <= self.t_max) or not math.isfinite(t)]
        if bad:
            raise InputError(f"temperatures must be between 0 and {self.t_max:g} K (got {', '.join(map(str, bad))})")
        return np.unique(np.concatenate([grid, np.asarray(extra, dtype=float)]))


# ---------------------------------------------------------------------------- result

@dataclass
class PhononResult:
    """One phonon calculation. Energies per atom; frequencies in THz."""

    formula: str                       # reduced formula
    calculator: str
    parameters: dict                   # {"calculator": physics parameters, "phonon": settings}
    structure: dict                    # relaxed structure (pymatgen as_dict)
    input_structure: dict
    energy_per_atom: float | None      # backend energy of the relaxed cell, eV/atom (total, not formation)
    supercell_matrix: list
    natoms_unitcell: int
    natoms_primitive: int
    natoms_supercell: int
    n_displacements: int
    mesh: list
    temperatures: np.ndarray
    free_energy: np.ndarray            # eV/atom, F_vib(T) incl. zero-point energy
    entropy: np.ndarray                # eV/atom/K
    heat_capacity: np.ndarray          # eV/atom/K (Cv)
    zero_point_energy: float           # eV/atom
    dos_frequencies: np.ndarray        # THz
    dos: np.ndarray                    # states/THz per atom (integrates to 3)
    gamma_frequencies: list            # THz, primitive cell at Gamma
    imaginary_modes: int               # weighted count on the mesh (Gamma acoustic excluded)
    imaginary_fraction: float
    min_frequency: float               # THz, most negative (or lowest) mode away from Gamma acoustic
    flagged: bool
    space_group: str = ""
    relax_converged: bool | None = None
    cell_relaxed: bool | None = None
    volume_change: float | None = None   # relative volume change of the cell relaxation (before any reset)
    timings: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    key: str | None = None             # document key once stored / when read from the store
    reused: bool = False
    phonopy: Any = field(default=None, repr=False, compare=False)  # the Phonopy object (keep_phonopy=True)

    # ---------------------------------------------------------------- values
    def _interp(self, values: np.ndarray, temperatures) -> np.ndarray:
        t = np.atleast_1d(np.asarray(temperatures, dtype=float))
        lo, hi = float(self.temperatures[0]), float(self.temperatures[-1])
        if np.any(t < lo - 1e-9) or np.any(t > hi + 1e-9):
            raise InputError(f"{self.formula}: phonon data cover {lo:g}-{hi:g} K, not {t.min():g}-{t.max():g} K")
        return np.interp(t, self.temperatures, values)

    def free_energy_at(self, temperatures) -> np.ndarray:
        """F_vib in eV/atom at the temperatures (K), linear in the stored 10 K grid."""
        return self._interp(self.free_energy, temperatures)

    def entropy_at(self, temperatures) -> np.ndarray:
        return self._interp(self.entropy, temperatures)

    def heat_capacity_at(self, temperatures) -> np.ndarray:
        return self._interp(self.heat_capacity, temperatures)

    @property
    def status(self) -> str:
        return "flagged" if self.flagged else "ok"

    def summary(self, temperatures: Sequence[float] = (0, 300, 600)) -> dict:
        """The row ``sseflow phonons --json`` prints."""
        ts = [float(t) for t in temperatures]
        f = self.free_energy_at(ts) if ts else []
        s = self.entropy_at(ts) if ts else []
        cv = self.heat_capacity_at(ts) if ts else []
        return {
            "formula": self.formula,
            "calculator": self.calculator,
            "space_group": self.space_group,
            "supercell": self.supercell_matrix,
            "natoms_supercell": self.natoms_supercell,
            "n_displacements": self.n_displacements,
            "mesh": self.mesh,
            "energy_per_atom": self.energy_per_atom,
            "zero_point_energy_meV_per_atom": 1000.0 * self.zero_point_energy,
            "temperatures_K": ts,
            "free_energy_meV_per_atom": [1000.0 * float(x) for x in f],
            "entropy_meV_per_atom_K": [1000.0 * float(x) for x in s],
            "heat_capacity_kB_per_atom": [float(x) / KB for x in cv],
            "imaginary_modes": self.imaginary_modes,
            "min_frequency_THz": self.min_frequency,
            "max_frequency_THz": float(self.dos_frequencies[np.nonzero(self.dos > 1e-6)[0][-1]])
            if np.any(self.dos > 1e-6) else None,
            "flagged": self.flagged,
            "cell_relaxed": self.cell_relaxed,
            "volume_change": self.volume_change,
            "reused": self.reused,
            "key": self.key,
            "timings_s": self.timings,
            "notes": list(self.notes),
        }

    # ---------------------------------------------------------------- documents
    def to_document(self, inputs: dict | None = None):
        """A :class:`PhononDocument` (extra fields carry what the schema does not name)."""
        from sseflow.workflows.store.documents import Inputs, PhononDocument, structure_fingerprint

        doc = PhononDocument(
            formula=self.formula,
            fingerprint=structure_fingerprint(self.input_structure),
            calculator=self.calculator,
            parameters=_jsonable(self.parameters),
            supercell=[[int(x) for x in row] for row in self.supercell_matrix],
            mesh=[int(x) for x in self.mesh],
            temperatures_K=[float(x) for x in self.temperatures],
            free_energy_eV_per_atom=[float(x) for x in self.free_energy],
            entropy_eV_per_atom_K=[float(x) for x in self.entropy],
            zero_point_energy_eV_per_atom=float(self.zero_point_energy),
            imaginary_modes=int(self.imaginary_modes),
            inputs=Inputs.from_any(inputs or {"options": _jsonable(self.parameters.get("phonon", {}))}),
            # extras
            heat_capacity_eV_per_atom_K=[float(x) for x in self.heat_capacity],
            dos_frequencies_THz=[round(float(x), 5) for x in self.dos_frequencies],
            dos_states_per_atom_THz=[round(float(x), 6) for x in self.dos],
            gamma_frequencies_THz=[round(float(x), 5) for x in self.gamma_frequencies],
            imaginary_fraction=float(self.imaginary_fraction),
            min_frequency_THz=float(self.min_frequency),
            flagged=bool(self.flagged),
            status="completed",  # a finished job (dedupe reuses completed ones); see "flagged"
            structure=self.structure,
            input_structure=self.input_structure,
            energy_per_atom=self.energy_per_atom,
            natoms_unitcell=int(self.natoms_unitcell),
            natoms_primitive=int(self.natoms_primitive),
            natoms_supercell=int(self.natoms_supercell),
            n_displacements=int(self.n_displacements),
            space_group=self.space_group,
            relax_converged=self.relax_converged,
            cell_relaxed=self.cell_relaxed,
            volume_change=self.volume_change,
            timings=dict(self.timings),
            notes=list(self.notes),
        )
        self.key = doc.key
        return doc

    @classmethod
    def from_document(cls, doc) -> "PhononResult":
        """From a stored document (a PhononDocument or the raw dict the store returns)."""
        d = doc.model_dump(mode="python") if hasattr(doc, "model_dump") else dict(doc)
        d.pop("_id", None)
        t = np.asarray(d.get("temperatures_K") or [], dtype=float)
        if t.size == 0:
            raise InputError(f"phonon document {d.get('key')} has no temperature grid")
        cv = d.get("heat_capacity_eV_per_atom_K")
        return cls(
            formula=d.get("reduced_formula") or d["formula"],
            calculator=d.get("calculator", ""),
            parameters=d.get("parameters") or {},
            structure=d.get("structure") or {},
            input_structure=d.get("input_structure") or d.get("structure") or {},
            energy_per_atom=d.get("energy_per_atom"),
            supercell_matrix=d.get("supercell") or [],
            natoms_unitcell=int(d.get("natoms_unitcell") or 0),
            natoms_primitive=int(d.get("natoms_primitive") or 0),
            natoms_supercell=int(d.get("natoms_supercell") or 0),
            n_displacements=int(d.get("n_displacements") or 0),
            mesh=d.get("mesh") or [],
            temperatures=t,
            free_energy=np.asarray(d.get("free_energy_eV_per_atom"), dtype=float),
            entropy=np.asarray(d.get("entropy_eV_per_atom_K") or np.zeros_like(t), dtype=float),
            heat_capacity=np.asarray(cv if cv is not None else np.zeros_like(t), dtype=float),
            zero_point_energy=float(d.get("zero_point_energy_eV_per_atom") or 0.0),
            dos_frequencies=np.asarray(d.get("dos_frequencies_THz") or [], dtype=float),
            dos=np.asarray(d.get("dos_states_per_atom_THz") or [], dtype=float),
            gamma_frequencies=list(d.get("gamma_frequencies_THz") or []),
            imaginary_modes=int(d.get("imaginary_modes") or 0),
            imaginary_fraction=float(d.get("imaginary_fraction") or 0.0),
            min_frequency=float(d.get("min_frequency_THz") if d.get("min_frequency_THz") is not None else 0.0),
            flagged=bool(d.get("flagged", bool(d.get("imaginary_modes")))),
            space_group=d.get("space_group", ""),
            relax_converged=d.get("relax_converged"),
            cell_relaxed=d.get("cell_relaxed"),
            volume_change=d.get("volume_change"),
            timings=dict(d.get("timings") or {}),
            notes=list(d.get("notes") or []),
            key=d.get("key"),
            reused=True,
        )


KB = 8.617333262e-5  # eV/K


# ---------------------------------------------------------------------------- building blocks

def perpendicular_widths(cell) -> np.ndarray:
    """Distances between opposite faces of a cell (Å): V / |a_j x a_k|."""
    m = np.asarray(cell, dtype=float)
    vol = abs(np.linalg.det(m))
    return np.array([vol / np.linalg.norm(np.cross(m[(i + 1) % 3], m[(i + 2) % 3])) for i in range(3)])


def supercell_for_length(cell, min_length: float) -> list[list[int]]:
    """Diagonal supercell matrix whose perpendicular widths are all >= ``min_length``."""
    w = perpendicular_widths(cell)
    n = [max(1, int(math.ceil(min_length / x - 1e-6))) for x in w]
    return [[n[0], 0, 0], [0, n[1], 0], [0, 0, n[2]]]


def phonopy_default_supercell(atoms, max_num_atoms: int = 120) -> list[int]:
    """phonopy's own estimate (``estimate_supercell_matrix``): multiplicities of the *standardised*
    conventional cell, close to a sphere, at most ``max_num_atoms`` atoms. For comparison only."""
    import spglib
    from phonopy.structure.cells import estimate_supercell_matrix

    ds = spglib.get_symmetry_dataset((atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers), symprec=1e-3)
    return [int(x) for x in estimate_supercell_matrix(ds, max_num_atoms=max_num_atoms)]


def _as_matrix(sc) -> list[list[int]]:
    a = np.asarray(sc, dtype=int)
    if a.shape == (3,):
        a = np.diag(a)
    if a.shape != (3, 3) or round(abs(np.linalg.det(a))) < 1:
        raise InputError(f"supercell matrix must be 3 integers or 3x3 with non-zero determinant, not {sc}")
    return a.tolist()


def _backend(calculator):
    if hasattr(calculator, "ase_calculator"):
        return calculator
    from sseflow.workflows.calculators import get_calculator

    return get_calculator(calculator or DEFAULT_CALCULATOR)


def _calc_parameters(backend) -> dict:
    """The backend's physics parameters; for a backend *name* read from its preset without loading
    the model (so a store lookup does not pay for CHGNet's start-up)."""
    from sseflow.workflows.dedupe import physics_parameters

    if isinstance(backend, str) or backend is None:
        from sseflow.workflows.calculators.base import load_preset
        from sseflow.workflows.calculators.registry import backend_class

        cls = backend_class(backend or DEFAULT_CALCULATOR)
        raw = load_preset(cls.name, cls.defaults)
    else:
        raw = getattr(backend, "parameters", {}) or {}
    params = physics_parameters(raw)
    # the relaxation settings of the backend preset do not apply here (PhononSettings has its own)
    for k in ("fmax", "max_steps", "optimizer"):
        params.pop(k, None)
    return _jsonable(params)


def relax_symmetric(atoms, calc, fmax: float = 0.005, steps: int = 500, symprec: float = 1e-3,
                    relax_cell: bool = True):
    """Relax ``atoms`` in place with its symmetry fixed; returns (converged, n_steps)."""
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS, FIRE

    atoms.calc = calc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        atoms.set_constraint(FixSymmetry(atoms, symprec=symprec))
        target = FrechetCellFilter(atoms) if relax_cell else atoms
        n = 0
        converged = False
        for opt_cls, share in ((BFGS, 0.6), (FIRE, 0.4)):  # BFGS first; FIRE when BFGS stalls
            opt = opt_cls(target, logfile=None)
            converged = bool(opt.run(fmax=fmax, steps=max(1, int(steps * share))))
            n += int(opt.get_number_of_steps())
            if converged:
                break
    atoms.set_constraint()
    return converged, n


def _standard_cell(atoms, symprec: float, primitive: bool):
    """spglib's standardised primitive or conventional cell of ``atoms`` (ASE Atoms), or None."""
    import spglib
    from ase import Atoms

    try:
        res = spglib.standardize_cell((atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers),
                                      to_primitive=primitive, no_idealize=False, symprec=symprec)
    except Exception:
        return None
    if res is None:
        return None
    lat, pos, nums = res
    return Atoms(numbers=nums, cell=lat, scaled_positions=pos, pbc=True)


def _space_group(atoms, symprec: float) -> str:
    import spglib

    try:
        ds = spglib.get_symmetry_dataset((atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers),
                                         symprec=symprec)
        return f"{ds.international} ({ds.number})"
    except Exception:
        return ""


def imaginary_mode_check(frequencies: np.ndarray, weights: np.ndarray, qpoints: np.ndarray,
                         tol: float = 0.1, reciprocal: np.ndarray | None = None,
                         acoustic_q_cut: float = 0.0) -> tuple[int, float, float]:
    """(weighted count of modes below -tol, that count as a fraction of all modes, lowest frequency).

    ``frequencies`` (nq, nbands) in THz on a mesh. Left out: the three modes of smallest magnitude
    at Gamma (the acoustic ones, zero by translational invariance) and, when ``reciprocal`` (rows:
    reciprocal lattice vectors in 1/Å, no 2 pi) and ``acoustic_q_cut`` (1/Å) are given, the three
    lowest branches at every q closer to Gamma than the cut: acoustic modes that dip below zero
    next to Gamma are a finite-supercell / force-noise artefact, not an instability of the phase.
    """
    f = np.array(frequencies, dtype=float, copy=True)
    w = np.asarray(weights, dtype=float)
    q = np.asarray(qpoints, dtype=float)
    at_gamma = np.all(np.abs(q - np.rint(q)) < 1e-8, axis=1)
    for i in np.nonzero(at_gamma)[0]:
        idx = np.argsort(np.abs(f[i]))[:3]
        f[i, idx] = np.nan
    if reciprocal is not None and acoustic_q_cut > 0:
        qr = q - np.rint(q)
        qn = np.linalg.norm(qr @ np.asarray(reciprocal, dtype=float), axis=1)
        near = (qn < acoustic_q_cut) & ~at_gamma
        f[near, :3] = np.nan
    lowest = float(np.nanmin(f)) if np.isfinite(f).any() else 0.0
    bad = (f < -abs(tol))
    count = float((bad * w[:, None]).sum())
    total = float(w.sum() * f.shape[1])
    return int(round(count)), (count / total if total else 0.0), lowest


def near_gamma_acoustic_minimum(frequencies, qpoints, reciprocal, acoustic_q_cut: float) -> float | None:
    """Lowest frequency of the three lowest branches at q (not Gamma) within ``acoustic_q_cut`` of Gamma."""
    f = np.asarray(frequencies, dtype=float)
    q = np.asarray(qpoints, dtype=float)
    qr = q - np.rint(q)
    qn = np.linalg.norm(qr @ np.asarray(reciprocal, dtype=float), axis=1)
    near = (qn < acoustic_q_cut) & (qn > 1e-10)
    return float(f[near, :3].min()) if near.any() else None


# ---------------------------------------------------------------------------- the job

def compute_phonons(structure, calculator=DEFAULT_CALCULATOR, settings: PhononSettings | dict | None = None,
                    temperatures: Iterable[float] = (), log=None, keep_phonopy: bool = False) -> PhononResult:
    """Relax (symmetry kept) and compute harmonic phonons of one structure.

    ``structure``: pymatgen Structure, ASE Atoms or a structure file. ``calculator``: a backend
    name or a ready :class:`sseflow.workflows.calculators.Backend`. ``temperatures`` are added to the
    regular grid (0 to ``settings.t_max`` in ``settings.t_step``). ``keep_phonopy`` keeps the
    Phonopy object (force constants, for band structures or mode analysis) on ``result.phonopy``.
    """
    from ase import Atoms
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    from sseflow.workflows.calculators.base import to_atoms, to_structure

    if isinstance(settings, dict):
        settings = PhononSettings(**settings)
    settings = settings or PhononSettings()
    t_all = time.perf_counter()
    backend = _backend(calculator)
    calc = backend.ase_calculator()
    atoms = to_atoms(structure)
    if len(atoms) == 0:
        raise InputError("structure has no atoms")
    input_structure = to_structure(atoms).as_dict()
    notes: list[str] = []

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    converged: bool | None = None
    volume_change = 0.0
    cell_relaxed = bool(settings.relax and settings.relax_cell)
    if settings.relax:
        # relax the primitive cell (4x cheaper for F-centred cells), then phonons in the
        # conventional standard cell built from it; an explicit supercell refers to the input cell
        prim = _standard_cell(atoms, settings.symprec, primitive=True) if settings.supercell_matrix is None else None
        use_prim = prim is not None and len(prim) < len(atoms)
        work = prim if use_prim else atoms
        start = work.copy()
        converged, nsteps = relax_symmetric(work, calc, settings.fmax, settings.relax_steps, settings.symprec,
                                            settings.relax_cell)
        volume_change = work.get_volume() / start.get_volume() - 1.0
        if settings.relax_cell and settings.max_volume_change is not None \
                and abs(volume_change) > settings.max_volume_change:
            notes.append(f"the cell relaxation changed the volume by {100 * volume_change:+.0f}% (limit "
                         f"{100 * settings.max_volume_change:.0f}%), typical of a van der Waals bonded solid and a "
                         "potential without dispersion: phonons at the input cell, positions relaxed")
            work = start
            converged, nsteps = relax_symmetric(work, calc, settings.fmax, settings.relax_steps, settings.symprec,
                                                relax_cell=False)
            cell_relaxed = False
        if not converged:
            notes.append(f"relaxation did not reach fmax {settings.fmax} eV/Å in {nsteps} steps")
        work.calc = None
        atoms = (_standard_cell(work, settings.symprec, primitive=False) or work) if use_prim else work
    atoms.calc = calc
    energy = float(atoms.get_potential_energy())
    timings["relax_s"] = time.perf_counter() - t0
    atoms.calc = None
    relaxed = atoms.copy()

    sc = _as_matrix(settings.supercell_matrix) if settings.supercell_matrix is not None else \
        supercell_for_length(relaxed.cell[:], settings.min_length)
    n_sc = int(round(abs(np.linalg.det(np.asarray(sc))))) * len(relaxed)
    if settings.max_supercell_atoms and n_sc > settings.max_supercell_atoms:
        raise InputError(f"{relaxed.get_chemical_formula()}: supercell {sc} has {n_sc} atoms "
                         f"(> {settings.max_supercell_atoms}); lower min_length or raise max_supercell_atoms")

    unit = PhonopyAtoms(symbols=relaxed.get_chemical_symbols(), cell=relaxed.cell[:],
                        scaled_positions=relaxed.get_scaled_positions(), masses=relaxed.get_masses())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ph = Phonopy(unit, supercell_matrix=sc, primitive_matrix="auto", symprec=settings.symprec)
    ph.generate_displacements(distance=settings.displacement, is_plusminus=settings.plusminus)
    supercells = ph.supercells_with_displacements

    def forces_of(cell) -> np.ndarray:
        s = Atoms(cell.symbols, cell=cell.cell, scaled_positions=cell.scaled_positions, pbc=True,
                  masses=cell.masses)
        s.calc = calc
        return np.array(s.get_forces(), dtype=float)

    t0 = time.perf_counter()
    residual = forces_of(ph.supercell) if settings.subtract_residual_forces else None
    timings["perfect_supercell_s"] = time.perf_counter() - t0
    forces = []
    t0 = time.perf_counter()
    for i, cell in enumerate(supercells):
        f = forces_of(cell)
        if residual is not None:
            f = f - residual
        forces.append(f)
        if log:
            log(f"  displacement {i + 1}/{len(supercells)}")
    timings["forces_s"] = time.perf_counter() - t0
    timings["per_displacement_s"] = timings["forces_s"] / max(1, len(supercells))
    if residual is not None:
        notes.append(f"max residual force in the undisplaced supercell {np.linalg.norm(residual, axis=1).max():.2g} eV/Å "
                     "(subtracted)")

    t0 = time.perf_counter()
    ph.forces = forces
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ph.produce_force_constants(show_drift=False)
        if settings.symmetrize_fc:
            ph.symmetrize_force_constants(show_drift=False)
        mesh_arg = settings.mesh if np.isscalar(settings.mesh) else [int(x) for x in settings.mesh]
        ph.run_mesh(mesh_arg, is_gamma_center=True)
        mesh = ph.mesh
        nprim = len(ph.primitive)
        freqs = np.asarray(mesh.frequencies, dtype=float)
        reciprocal = np.linalg.inv(np.asarray(ph.primitive.cell, dtype=float)).T
        n_imag, frac, fmin = imaginary_mode_check(freqs, mesh.weights, mesh.qpoints, settings.imaginary_tol_THz,
                                                  reciprocal, settings.acoustic_q_cut)
        near_gamma = near_gamma_acoustic_minimum(freqs, mesh.qpoints, reciprocal, settings.acoustic_q_cut)
        temps = settings.temperatures(temperatures)
        ph.run_thermal_properties(temperatures=temps, exclude_gamma_acoustic=True)
        tp = ph.thermal_properties
        fmax_freq = float(np.nanmax(freqs))
        ph.run_total_dos(freq_min=min(0.0, float(np.floor(fmin * 10) / 10)) - 0.5,
                         freq_max=fmax_freq + 1.0, freq_pitch=0.05)
        tdos = ph.total_dos
        gamma = ph.get_frequencies([0.0, 0.0, 0.0])
    # phonopy's thermal properties are per mole of primitive cells (kJ/mol, J/K/mol): per atom below
    per_atom = 1.0 / nprim
    f_ev = np.asarray(tp.free_energy, dtype=float) * EV_PER_KJMOL * per_atom
    s_ev = np.asarray(tp.entropy, dtype=float) * 1e-3 * EV_PER_KJMOL * per_atom
    cv_ev = np.asarray(tp.heat_capacity, dtype=float) * 1e-3 * EV_PER_KJMOL * per_atom
    zpe = float(tp.zero_point_energy) * EV_PER_KJMOL * per_atom
    dos_f = np.asarray(tdos.frequency_points, dtype=float)
    dos = np.asarray(tdos.dos, dtype=float) / nprim
    timings["phonopy_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_all

    flagged = n_imag > 0
    if near_gamma is not None and near_gamma < -settings.imaginary_tol_THz:
        notes.append(f"acoustic branches dip to {near_gamma:.3f} THz within {settings.acoustic_q_cut} 1/Å of Gamma "
                     "(finite-supercell / force-noise artefact; not counted as imaginary modes)")
    if flagged:
        notes.append(f"{n_imag} imaginary mode(s) on the mesh below -{settings.imaginary_tol_THz} THz "
                     f"(lowest {fmin:.3f} THz): dynamically unstable at this level of theory; "
                     "imaginary modes are left out of F, S and Cv")
    params = {"calculator": _calc_parameters(backend), "phonon": settings.physics()}
    return PhononResult(
        formula=to_structure(relaxed).composition.reduced_formula,
        calculator=getattr(backend, "name", str(calculator)),
        parameters=params,
        structure=to_structure(relaxed).as_dict(),
        input_structure=input_structure,
        energy_per_atom=energy / len(relaxed),
        supercell_matrix=[[int(x) for x in row] for row in np.asarray(sc)],
        natoms_unitcell=len(relaxed),
        natoms_primitive=nprim,
        natoms_supercell=len(ph.supercell),
        n_displacements=len(supercells),
        mesh=[int(x) for x in mesh.mesh_numbers],
        temperatures=np.asarray(temps, dtype=float),
        free_energy=f_ev,
        entropy=s_ev,
        heat_capacity=cv_ev,
        zero_point_energy=zpe,
        dos_frequencies=dos_f,
        dos=dos,
        gamma_frequencies=[float(x) for x in np.sort(gamma)],
        imaginary_modes=n_imag,
        imaginary_fraction=frac,
        min_frequency=fmin,
        flagged=flagged,
        space_group=_space_group(relaxed, settings.symprec),
        relax_converged=converged,
        cell_relaxed=cell_relaxed,
        volume_change=float(volume_change),
        timings={k: round(v, 3) for k, v in timings.items()},
        notes=notes,
        phonopy=ph if keep_phonopy else None,
    )


# ---------------------------------------------------------------------------- store & dedupe

def find_stored(structure, calculator, settings: PhononSettings | None, store) -> PhononResult | None:
    """A stored phonon document computing the same thing (same calculator and physics
    parameters, StructureMatcher-equal input or relaxed structure), or None."""
    from sseflow.workflows.dedupe import find_existing
    from sseflow.workflows.calculators.base import to_atoms, to_structure

    settings = settings or PhononSettings()
    s = to_structure(to_atoms(structure))
    params = {"calculator": _calc_parameters(calculator), "phonon": settings.physics()}
    name = getattr(calculator, "name", None) or str(calculator or DEFAULT_CALCULATOR).strip().lower()
    docs = store.find("phonons", {"reduced_formula": s.composition.reduced_formula, "calculator": name})
    hit = find_existing(s, name, params, docs)
    if hit is None:  # the relaxed structure is also a fair match
        alt = [dict(d, input_structure=None) for d in docs]
        hit = find_existing(s, name, params, alt)
        if hit is not None:
            hit = next(d for d in docs if d.get("key") == hit.get("key"))
    if hit is None:
        return None
    res = PhononResult.from_document(hit)
    lo, hi = res.temperatures[0], res.temperatures[-1]
    if lo > 0 or hi < settings.t_max - 1e-9:
        return None
    return res


def phonons_for(structure, calculator=DEFAULT_CALCULATOR, settings: PhononSettings | dict | None = None,
                temperatures: Iterable[float] = (), store: bool = False, config=None, reuse: bool = True,
                log=None) -> PhononResult:
    """:func:`compute_phonons` with the results store: reuse a matching stored document when
    ``reuse`` (and a store is configured via ``store``/``config``), store the new one when ``store``."""
    if isinstance(settings, dict):
        settings = PhononSettings(**settings)
    settings = settings or PhononSettings()
    use_db = store or config is not None
    if use_db and reuse:
        from sseflow.workflows.store.api import open_store

        with open_store(config) as st:
            hit = find_stored(structure, calculator, settings, st)
        if hit is not None:
            ts = [float(t) for t in temperatures]
            if not ts or (min(ts) >= hit.temperatures[0] and max(ts) <= hit.temperatures[-1]):
                return hit
    res = compute_phonons(structure, calculator, settings, temperatures, log=log)
    if store:
        store_phonons([res], config)
    return res


def store_phonons(results: Sequence[PhononResult], config=None) -> int:
    """Store results as PhononDocuments (upsert by natural key); returns the number written."""
    from sseflow.workflows.store.api import open_store

    docs = [r.to_document() for r in results]
    with open_store(config) as st:
        return st.put_many(docs)


# ---------------------------------------------------------------------------- structures

def resolve_targets(spec: str) -> list[tuple[str, Any]]:
    """A CLI argument -> [(label, structure)]: a structure file, a chemical system (``Li-P-S``:
    every library phase in it), or a library name / formula (``Li3PS4-gamma``, ``Li2S``)."""
    from pymatgen.core import Structure

    from sseflow.analysis.elements import ATOMIC_NUMBER
    from sseflow.workflows.structures.library import get_structure, list_phases

    p = Path(spec)
    if p.is_file():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = Structure.from_file(p)
        except Exception as exc:
            raise InputError(f"cannot read structure {spec}: {str(exc).splitlines()[0] if str(exc) else exc}")
        if not s.is_ordered:
            raise InputError(f"structure in {spec} has partial occupancies: give an ordered model")
        return [(p.name, s)]
    parts = [x for x in spec.split("-") if x]
    if len(parts) > 1 and all(x in ATOMIC_NUMBER for x in parts):
        phases = list_phases(spec)
        if not phases:
            raise InputError(f"the structure library has no phases in {spec}")
        return [(f, get_structure(f)) for f in phases]
    return [(spec, get_structure(spec))]
