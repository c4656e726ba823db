"""Quantum ESPRESSO backend: pw.x through ASE's Espresso calculator.

The run command comes from the preset (``command``, may be ``">>qe_cmd<<"`` for a
FireWorker's env), else ``SSEFLOW_QE_CMD``, else ``ASE_ESPRESSO_COMMAND``, else ``pw.x``
on PATH. The pseudopotential folder comes from the preset (``pseudo_dir``), else
``SSEFLOW_QE_PSEUDO_DIR``, else ``ESPRESSO_PSEUDO``, else Debian's
``/usr/share/espresso/pseudo``. Point it at an SSSP folder for production work
(docs/backends.md). Raw DFT energies: ``correction_scheme = "none (QE)"``.
"""
from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import tempfile
from pathlib import Path

from sseflow.analysis.elements import ATOMIC_NUMBER
from sseflow.analysis.errors import InputError
from sseflow.workflows.calculators.base import Backend, resolve_command

DEBIAN_PSEUDO_DIR = "/usr/share/espresso/pseudo"


def find_pseudopotentials(pseudo_dir: str | os.PathLike, functional: str = "pbe",
                          explicit: dict | None = None) -> dict[str, str]:
    """Map element -> pseudopotential file name in ``pseudo_dir``.

    ``explicit`` entries win (and must exist). Otherwise, for each element, files named
    ``<El>.*`` or ``<El>_*`` (SSSP uses ``li_pbe_v1.4.uspp.F.UPF``, any case) are ranked:
    names mentioning the functional first (``pbe`` excludes ``pbesol``), then shorter names.
    """
    folder = Path(pseudo_dir)
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".upf", ".upf2")) \
        if folder.is_dir() else []
    out: dict[str, str] = {}
    func = functional.lower()
    by_el: dict[str, list[str]] = {}
    for name in files:
        m = re.match(r"([A-Za-z]{1,2})[._-]", name)
        if not m:
            continue
        el = m.group(1).capitalize()
        if el not in ATOMIC_NUMBER:
            continue
        by_el.setdefault(el, []).append(name)

    def score(name: str) -> tuple:
        low = name.lower()
        has = bool(re.search(rf"(^|[._-]){func}($|[._-])", low)) or (func in low and "pbesol" not in low
                                                                      if func == "pbe" else func in low)
        return (0 if has else 1, "rel" in low, len(name), name)

    for el, names in by_el.items():
        out[el] = sorted(names, key=score)[0]
    for el, name in (explicit or {}).items():
        if not (folder / name).is_file():
            raise InputError(f"pseudopotential {name} for {el} not found in {folder}")
        out[el] = name
    return out


class QEBackend(Backend):
    name = "qe"
    correction_scheme = "none (QE)"
    keeps_files = True
    defaults = {
        "command": None,
        "pseudo_dir": None,
        "pseudopotentials": {},
        "functional": "pbe",
        "ecutwfc": 45.0,          # Ry
        "ecutrho": None,          # Ry; None: 4 x ecutwfc (8 x for ultrasoft/PAW users set it)
        "kpoint_density": 3.0,    # k-points per Å^-1 (ASE 'density')
        "occupations": "smearing",
        "smearing": "mv",
        "degauss": 0.01,          # Ry
        "conv_thr": 1.0e-8,
        "optimizer": "BFGS",
        "fmax": 0.05,
        "max_steps": 100,
    }

    def check(self) -> None:
        from sseflow.workflows.settings import settings

        p = self.parameters
        self.pseudo_dir = str(p.get("pseudo_dir") or settings().qe_pseudo_dir
                              or os.environ.get("ESPRESSO_PSEUDO") or DEBIAN_PSEUDO_DIR)
        if not Path(self.pseudo_dir).is_dir():
            raise InputError(f"pseudopotential folder not found: {self.pseudo_dir} "
                             "(set pseudo_dir in the qe preset or SSEFLOW_QE_PSEUDO_DIR)")
        self.pseudopotentials = find_pseudopotentials(self.pseudo_dir, str(p.get("functional", "pbe")),
                                                      p.get("pseudopotentials") or {})
        cmd = resolve_command(p.get("command"), "qe_cmd", p.get("fw_env"), ("ASE_ESPRESSO_COMMAND",))
        if cmd is None and shutil.which("pw.x"):
            cmd = "pw.x"
        self.command = cmd

    def _prepare(self, obj):
        atoms = super()._prepare(obj)
        missing = sorted(set(atoms.get_chemical_symbols()) - set(self.pseudopotentials))
        if missing:
            raise InputError(f"no pseudopotential for {', '.join(missing)} in {self.pseudo_dir} "
                             "(point pseudo_dir at an SSSP folder; see docs/backends.md)")
        if not self.command:
            raise InputError("no Quantum ESPRESSO run command: set SSEFLOW_QE_CMD (e.g. 'mpirun -n 4 pw.x') "
                             "or install pw.x")
        exe = shlex.split(self.command)
        if not any(shutil.which(tok) for tok in exe):
            raise InputError(f"Quantum ESPRESSO command not found: {self.command}")
        return atoms

    def input_data(self) -> dict:
        p = self.parameters
        system = {"ecutwfc": float(p["ecutwfc"]), "occupations": p["occupations"]}
        if p.get("ecutrho"):
            system["ecutrho"] = float(p["ecutrho"])
        if p["occupations"] == "smearing":
            system.update(smearing=p["smearing"], degauss=float(p["degauss"]))
        return {
            "control": {"calculation": "scf", "tprnfor": True, "tstress": True, "disk_io": "low"},
            "system": system,
            "electrons": {"conv_thr": float(p["conv_thr"])},
        }

    def ase_calculator(self, directory=None):
        from ase.calculators.espresso import Espresso, EspressoProfile

        if directory is None:
            directory = tempfile.mkdtemp(prefix="sseflow-qe-")
        Path(directory).mkdir(parents=True, exist_ok=True)
        profile = EspressoProfile(command=self.command or "pw.x", pseudo_dir=self.pseudo_dir)
        return Espresso(profile=profile, directory=str(directory), pseudopotentials=dict(self.pseudopotentials),
                        input_data=self.input_data(),
                        kspacing=1.0 / (2 * math.pi * float(self.parameters["kpoint_density"])))  # n_i = ceil(2π|b_i| d)
