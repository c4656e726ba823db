"""SevenNet backend (the default; the sevennet extra): SevenNet-0, an equivariant potential trained on MPtrj.

Weights ship in the ``sevenn`` wheel (offline). SevenNet-0 and 7net-l3i5 predict the *uncorrected*
MPtrj GGA/GGA+U energies (no anion or U corrections), and results say so. Formation-energy entries
made from them (:func:`sseflow.workflows.computed_entries.entries_from_results`) get pymatgen's
``MaterialsProject2020Compatibility`` corrections, which puts them on the MP2020 scale.
"""
from __future__ import annotations

from sseflow.analysis.errors import InputError
from sseflow.workflows.calculators.base import Backend

CORRECTION_SCHEME = "none (SevenNet, uncorrected MPtrj GGA/GGA+U energies)"

_CALCS: dict[tuple[str, str], object] = {}


class SevenNetBackend(Backend):
    name = "sevennet"
    correction_scheme = CORRECTION_SCHEME
    defaults = {
        "model": "7net-0",
        "device": "cpu",
        "torch_threads": 1,
        "optimizer": "FIRE",
        "fmax": 0.05,
        "max_steps": 500,
    }

    def check(self) -> None:
        try:
            import sevenn  # noqa: F401
        except ImportError:
            raise InputError("calculator 'sevennet' needs the optional extra: pip install sevenn==0.13.0 "
                             "(see docs/install_backends.md)") from None
        from sseflow.workflows.calculators.chgnet import set_torch_threads

        set_torch_threads(self.parameters.get("torch_threads", 1))

    def ase_calculator(self, directory=None):
        from sevenn.calculator import SevenNetCalculator

        key = (str(self.parameters["model"]), str(self.parameters["device"]))
        if key not in _CALCS:
            _CALCS[key] = SevenNetCalculator(model=key[0], device=key[1])
        return _CALCS[key]
