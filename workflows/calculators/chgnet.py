"""CHGNet backend (the chgnet extra; faster than the default SevenNet-0): the universal potential trained on Materials Project MPtrj.

Weights come from the installed ``chgnet`` wheel (offline). Energies are on the Materials
Project GGA/GGA+U scale with the MP2020 corrections applied in training, so entries carry
``correction_scheme = "MP2020-compatible (CHGNet trained on MPtrj)"`` and may be mixed with
MP2020-corrected data only.
"""
from __future__ import annotations

from sseflow.analysis.errors import InputError
from sseflow.workflows.calculators.base import Backend

CORRECTION_SCHEME = "MP2020-compatible (CHGNet trained on MPtrj)"

_MODELS: dict[tuple[str, str], object] = {}


def _quiet_torch_warning() -> None:
    import warnings

    # chgnet 0.4.2 builds a tensor from a list of grad-tracking scalars on every stress call
    warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True to a scalar")


def set_torch_threads(n: int) -> None:
    """torch's intra-op threads, and the BLAS/OpenMP pools numpy and torch load, to ``n``
    (CHGNet is 10-30x slower when two threads fight over two cores)."""
    import torch

    n = max(1, int(n))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n)
    except ImportError:  # pragma: no cover - declared dependency
        pass


def load_model(model: str = "0.3.0", device: str = "cpu"):
    """The CHGNet model, loaded once per process from the wheel's checkpoint."""
    key = (str(model), str(device))
    if key not in _MODELS:
        try:
            from chgnet.model import CHGNet
        except ImportError:
            raise InputError("calculator 'chgnet' needs the chgnet package: pip install chgnet==0.4.2 "
                             "(install torch==2.13.0 first; see docs/install_backends.md)") from None
        import contextlib
        import io

        try:
            with contextlib.redirect_stdout(io.StringIO()):  # it prints a banner even with verbose=False
                _MODELS[key] = CHGNet.load(model_name=str(model), use_device=device, verbose=False)
        except ValueError as exc:
            raise InputError(f"unknown CHGNet model '{model}': {exc}") from None
    return _MODELS[key]


class CHGNetBackend(Backend):
    name = "chgnet"
    correction_scheme = CORRECTION_SCHEME
    defaults = {
        "model": "0.3.0",
        "device": "cpu",
        "torch_threads": 1,
        "optimizer": "FIRE",
        "fmax": 0.05,
        "max_steps": 500,
    }

    def check(self) -> None:
        _quiet_torch_warning()
        set_torch_threads(self.parameters.get("torch_threads", 1))
        self.model = load_model(self.parameters.get("model", "0.3.0"), self.parameters.get("device", "cpu"))

    def ase_calculator(self, directory=None):
        import contextlib
        import io

        from chgnet.model.dynamics import CHGNetCalculator

        with contextlib.redirect_stdout(io.StringIO()):  # it prints the device on creation
            return CHGNetCalculator(model=self.model, use_device=self.parameters.get("device", "cpu"),
                                    on_isolated_atoms="ignore")
