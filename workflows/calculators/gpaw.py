"""GPAW backend: plane-wave PAW DFT (PBE) through ASE; ``mode: lcao`` (with ``basis``, default
``dzp`` from gpaw-data, and real-space grid spacing ``h``, default 0.2 Å) for large cells.

Setups come from the ``gpaw-data`` wheel (or ``GPAW_SETUP_PATH``). Serial by default;
for MPI run the whole script under ``mpiexec -n N gpaw python ...``. Energies are raw
PBE (no fitted corrections): ``correction_scheme = "none (GPAW PBE)"``.
"""
from __future__ import annotations

import os
from pathlib import Path

from sseflow.analysis.errors import InputError
from sseflow.workflows.calculators.base import Backend


class GPAWBackend(Backend):
    name = "gpaw"
    correction_scheme = "none (GPAW PBE)"
    defaults = {
        "xc": "PBE",
        "ecut": 400.0,            # eV, plane-wave cutoff
        "kpoint_density": 3.0,    # k-points per Å^-1 (ASE 'density')
        "smearing_width": 0.05,   # eV, Fermi-Dirac
        "spinpol": False,
        "convergence": {"energy": 1.0e-5},
        "optimizer": "BFGS",
        "fmax": 0.05,
        "max_steps": 100,
        "txt": "gpaw.txt",
    }
    # GPAW_SETUP_PATH; LCAO mode, basis, grid; density mixer {beta, nmaxold, weight} (metal | insulator slabs)
    extra_keys = frozenset({"setup_path", "mode", "basis", "h", "mixer"})

    def check(self) -> None:
        try:
            import gpaw  # noqa: F401
        except ImportError:
            raise InputError("calculator 'gpaw' is not installed: see docs/install_backends.md "
                             "(Debian libxc-dev libopenblas-dev libfftw3-dev, then pip install gpaw gpaw-data)") from None
        mode = str(self.parameters.get("mode", "pw")).lower()
        if mode not in ("pw", "lcao"):
            raise InputError(f"GPAW mode must be 'pw' or 'lcao' (got {self.parameters.get('mode')!r})")
        h = self.parameters.get("h")
        if h is not None and not (isinstance(h, (int, float)) and 0.05 <= float(h) <= 0.4):
            raise InputError(f"GPAW grid spacing h must be between 0.05 and 0.4 Å (got {h!r})")
        mixer = self.parameters.get("mixer")
        if mixer is not None:
            if not isinstance(mixer, dict) or set(mixer) - {"beta", "nmaxold", "weight"}:
                raise InputError(f"GPAW mixer must be a mapping of beta, nmaxold, weight (got {mixer!r})")
            beta = mixer.get("beta", 0.05)
            if not (isinstance(beta, (int, float)) and 0 < float(beta) <= 1):
                raise InputError(f"GPAW mixer beta must be in (0, 1] (got {beta!r})")
        setup_path = self.parameters.get("setup_path") or os.environ.get("GPAW_SETUP_PATH")
        if setup_path and not any(Path(p).is_dir() for p in str(setup_path).split(os.pathsep)):
            raise InputError(f"GPAW setup folder not found: {setup_path}")

    def ase_calculator(self, directory=None):
        from gpaw import GPAW, PW, FermiDirac

        p = self.parameters
        if p.get("setup_path"):
            os.environ["GPAW_SETUP_PATH"] = str(p["setup_path"])
        txt = None
        if directory is not None and p.get("txt"):
            Path(directory).mkdir(parents=True, exist_ok=True)
            txt = str(Path(directory) / p["txt"])
        if str(p.get("mode", "pw")).lower() == "lcao":
            basis = {"mode": "lcao", "basis": str(p.get("basis", "dzp")), "h": float(p.get("h", 0.2))}
        else:
            basis = {"mode": PW(float(p["ecut"]))}
        if p.get("mixer"):
            from gpaw import Mixer

            m = p["mixer"]
            basis["mixer"] = Mixer(beta=float(m.get("beta", 0.05)), nmaxold=int(m.get("nmaxold", 5)),
                                   weight=float(m.get("weight", 50.0)))
        return GPAW(
            **basis, xc=p["xc"],
            kpts={"density": float(p["kpoint_density"]), "gamma": True},
            occupations=FermiDirac(float(p["smearing_width"])),
            spinpol=bool(p.get("spinpol", False)),
            convergence=dict(p.get("convergence") or {}), txt=txt,
        )
