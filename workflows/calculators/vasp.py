"""VASP backend: pymatgen input sets in, pymatgen parsers out, MP2020 corrections on entries.

Inputs come from ``MPRelaxSet`` / ``MPStaticSet`` with overrides from the preset
(``user_incar_settings``, ``user_kpoints_settings``, ``user_potcar_functional``). POTCARs come
from pymatgen's ``PMG_VASP_PSP_DIR``. The run command comes from the preset (``command``; may
be ``">>vasp_cmd<<"`` looked up in the FireWorker's ``env`` the way atomate's env_chk does),
else ``SSEFLOW_VASP_CMD``. VASP does its own relaxation (IBRION/ISIF/NSW), so :meth:`relax`
writes inputs, runs the command once and parses ``vasprun.xml``.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

import ase.units
import numpy as np

from sseflow.analysis.errors import InputError
from sseflow.workflows.calculators.base import (Backend, CalcResult, deep_merge, judge, resolve_command, to_atoms,
                                        to_structure)

CORRECTION_SCHEME = "MP2020"

_SETS = {"relax": "MPRelaxSet", "static": "MPStaticSet"}


def apply_mp2020(entry):
    """``entry`` with the MaterialsProject2020Compatibility corrections; InputError if incompatible."""
    from pymatgen.entries.compatibility import CompatibilityError, MaterialsProject2020Compatibility

    compat = MaterialsProject2020Compatibility(check_potcar=False)
    try:
        out = compat.process_entry(entry, clean=True, on_error="raise")
    except CompatibilityError as exc:
        raise InputError(f"entry {entry.composition.reduced_formula} is not MP2020-compatible: {exc}") from None
    if out is None:
        raise InputError(f"entry {entry.composition.reduced_formula} is not MP2020-compatible "
                         "(run type or POTCARs differ from MP's)")
    return out


def parse_vasprun(path: str | os.PathLike, *, parse_dos: bool = False, parse_eigen: bool = False,
                  parse_projected_eigen: bool = False) -> "Vasprun":  # noqa: F821
    """pymatgen ``Vasprun`` of ``path`` (a file, or a folder with ``vasprun.xml[.gz]``); InputError if unreadable.

    DOS, eigenvalues and projections are skipped unless asked for (they dominate the parse time).
    """
    from pymatgen.io.vasp import Vasprun

    path = Path(path)
    if path.is_dir():
        for name in ("vasprun.xml", "vasprun.xml.gz", "vasprun.xml.relax2", "vasprun.xml.relax2.gz"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise InputError(f"no vasprun.xml in {path}")
    if not path.is_file():
        raise InputError(f"VASP output not found: {path}")
    try:
        return Vasprun(str(path), parse_dos=parse_dos, parse_eigen=parse_eigen,
                       parse_projected_eigen=parse_projected_eigen, parse_potcar_file=False)
    except Exception as exc:
        raise InputError(f"cannot parse {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


class VASPBackend(Backend):
    name = "vasp"
    correction_scheme = CORRECTION_SCHEME
    defaults = {
        "command": None,
        "user_incar_settings": {},
        "user_kpoints_settings": {},
        "user_potcar_functional": "PBE",
        "fmax": 0.05,            # becomes EDIFFG = -fmax
        "max_steps": 99,         # becomes NSW
        "timeout_s": None,
    }
    extra_keys = frozenset({"input_set", "kpts"})  # input set class per task; k-points of ase_calculator

    def check(self) -> None:
        p = self.parameters
        self.command = resolve_command(p.get("command"), "vasp_cmd", p.get("fw_env"))

    # ------------------------------------------------------------ inputs
    def input_set(self, structure, task: str = "relax", fmax: float | None = None, steps: int | None = None,
                  relax_cell: bool = True, incar: dict | None = None, kpoints=None):
        """The pymatgen input set; ``incar`` (INCAR tags) goes over the preset's ``user_incar_settings``
        and ``kpoints`` (a pymatgen ``Kpoints`` or a settings dict) replaces ``user_kpoints_settings``."""
        from pymatgen.io.vasp import sets

        if task not in _SETS:
            raise InputError(f"unknown VASP task '{task}' (relax or static)")
        if not hasattr(structure, "lattice"):
            structure = to_structure(to_atoms(structure))
        p = self.parameters
        incar = {**dict(p.get("user_incar_settings") or {}), **dict(incar or {})}
        if task == "relax":
            incar.setdefault("EDIFFG", -abs(float(p["fmax"] if fmax is None else fmax)))
            incar.setdefault("NSW", int(p["max_steps"] if steps is None else steps))
            if not relax_cell:
                incar.setdefault("ISIF", 2)
        cls = getattr(sets, p.get("input_set", {}).get(task, _SETS[task]) if isinstance(p.get("input_set"), dict)
                      else _SETS[task])
        return cls(structure, user_incar_settings=incar,
                   user_kpoints_settings=(kpoints if kpoints is not None else (p.get("user_kpoints_settings") or None)),
                   user_potcar_functional=p.get("user_potcar_functional", "PBE"))

    def write_inputs(self, structure, directory: str | os.PathLike, task: str = "relax",
                     potcar_spec: bool = False, **kwargs) -> list[str]:
        """Write INCAR, KPOINTS, POSCAR and POTCAR (or POTCAR.spec with ``potcar_spec``)."""
        vis = self.input_set(structure, task, **kwargs)
        directory = Path(directory)
        try:
            vis.write_input(str(directory), potcar_spec=potcar_spec)
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "POTCAR" in msg or "PMG_VASP_PSP_DIR" in msg or "psp" in msg.lower():
                raise InputError("cannot write POTCAR: set PMG_VASP_PSP_DIR to your VASP pseudopotential folder "
                                 f"({msg})") from None
            raise InputError(f"cannot write VASP inputs: {msg}") from None
        return sorted(str(p) for p in directory.iterdir() if p.is_file())

    def ase_calculator(self, directory=None):
        """ASE's Vasp calculator set up with the relax set's INCAR (needs VASP_PP_PATH for POTCARs)."""
        from ase.calculators.vasp import Vasp

        incar = {k.lower(): v for k, v in (self.parameters.get("user_incar_settings") or {}).items()}
        incar.setdefault("encut", 520)
        incar.setdefault("prec", "Accurate")
        incar.setdefault("ediff", 1e-5)
        return Vasp(command=self.command, directory=str(directory or "."), xc="PBE", setups="materialsproject",
                    kpts=self.parameters.get("kpts", (4, 4, 4)), **incar)

    # ------------------------------------------------------------ running
    def run(self, structure, task, directory, **kwargs) -> CalcResult:
        """Write the inputs of ``task`` (relax, static) in ``directory``, run VASP there, parse and judge
        the result; ``kwargs`` go to :meth:`write_inputs` (``incar``, ``kpoints`` ...)."""
        if not self.command:
            raise InputError("no VASP run command: set SSEFLOW_VASP_CMD (e.g. 'srun vasp_std') "
                             "or 'command' in the vasp preset")
        structure = to_structure(self._prepare(structure))
        directory = Path(directory or tempfile.mkdtemp(prefix=f"sseflow-vasp-{task}-"))
        directory.mkdir(parents=True, exist_ok=True)
        self.write_inputs(structure, directory, task, **kwargs)
        t0 = time.perf_counter()
        timeout = self.parameters.get("timeout_s")
        with open(directory / "vasp.out", "w") as out:
            proc = subprocess.run(shlex.split(self.command), cwd=directory, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=float(timeout) if timeout else None, check=False)
        wall = time.perf_counter() - t0
        try:
            result = self.parse_outputs(directory, task=task)
        except InputError as exc:
            atoms = to_atoms(structure)
            return self._failed(atoms, RuntimeError(f"VASP exited {proc.returncode}: {exc}"), wall, task)
        result.wall_time_s = wall
        return judge(result)

    def relax(self, atoms_or_structure, fmax=None, steps=None, relax_cell=True, directory=None, trajectory=None,
              on_step=None):  # VASP runs its ionic steps itself: no per-step progress
        return self.run(atoms_or_structure, "relax", directory, fmax=fmax, steps=steps, relax_cell=relax_cell)

    def static(self, atoms_or_structure, directory=None):
        return self.run(atoms_or_structure, "static", directory)

    # ------------------------------------------------------------ outputs
    def parse_outputs(self, directory: str | os.PathLike, task: str = "relax") -> CalcResult:
        """CalcResult from a finished VASP folder (``vasprun.xml``)."""
        vr = parse_vasprun(directory)
        final = vr.ionic_steps[-1]
        structure = vr.final_structure
        atoms = to_atoms(structure)
        forces = np.array(final.get("forces", np.zeros((len(structure), 3))), dtype=float)
        # VASP stress: kBar, positive = compressive (pressure). ASE: eV/Å^3, tensile positive.
        s = np.array(final.get("stress", np.zeros((3, 3))), dtype=float) * -0.1 * ase.units.GPa
        stress = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
        energy = float(vr.final_energy)
        vdir = Path(directory) if Path(directory).is_dir() else Path(directory).parent
        params = deep_merge(self.parameters, {"incar": dict(vr.incar), "run_type": vr.run_type,
                                              "potcar_symbols": list(vr.potcar_symbols)})
        return CalcResult(
            atoms=atoms, structure=structure, energy=energy, energy_per_atom=energy / len(structure),
            forces=forces, stress=stress, n_steps=len(vr.ionic_steps), converged=bool(vr.converged),
            wall_time_s=0.0, calculator=self.name, parameters=params,
            files=sorted(str(p) for p in vdir.iterdir() if p.is_file()), correction_scheme=self.correction_scheme,
            task=task,
        )

    def computed_entry(self, directory: str | os.PathLike):
        """pymatgen ComputedStructureEntry from ``vasprun.xml`` with MP2020 corrections applied."""
        vr = parse_vasprun(directory)
        return apply_mp2020(vr.get_computed_entry(inc_structure=True))
