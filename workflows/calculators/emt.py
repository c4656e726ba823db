"""ASE's EMT potential: only for workflow tests where the chemistry does not matter.

EMT knows Al, Cu, Ag, Au, Ni, Pd, Pt (and H, C, N, O roughly). Its energies mean nothing
for solid electrolytes; entries carry ``correction_scheme = "none"``.
"""
from __future__ import annotations

from sseflow.analysis.errors import InputError
from sseflow.workflows.calculators.base import Backend

EMT_ELEMENTS = {"Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt", "H", "C", "N", "O"}


class EMTBackend(Backend):
    name = "emt"
    correction_scheme = "none"
    defaults = {"optimizer": "FIRE", "fmax": 0.05, "max_steps": 300}

    def _prepare(self, obj):
        atoms = super()._prepare(obj)
        bad = sorted(set(atoms.get_chemical_symbols()) - EMT_ELEMENTS)
        if bad:
            raise InputError(f"calculator 'emt' has no parameters for {', '.join(bad)} "
                             f"(EMT knows {', '.join(sorted(EMT_ELEMENTS))})")
        return atoms

    def ase_calculator(self, directory=None):
        from ase.calculators.emt import EMT

        return EMT()
