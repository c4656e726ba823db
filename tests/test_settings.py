"""Every ``SSEFLOW_*`` variable reaches the code that uses it through the settings object
(:func:`sseflow.workflows.settings.settings`), read afresh on each call."""
from __future__ import annotations

from pathlib import Path

import pytest

from sseflow.workflows import settings as settings_module
from sseflow.workflows.settings import SseflowSettings

VARIABLES = ("SSEFLOW_TEMPLATES", "SSEFLOW_VASP_CMD", "SSEFLOW_QE_CMD", "SSEFLOW_QE_PSEUDO_DIR", "SSEFLOW_CACHE_DIR",
             "ASE_ESPRESSO_COMMAND", "ESPRESSO_PSEUDO")


@pytest.fixture
def clean(monkeypatch):
    for var in VARIABLES:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def only_settings(monkeypatch, **fields) -> None:
    """The settings object says ``fields`` while the environment says nothing: what the code then
    uses can only have come through the settings."""
    monkeypatch.setattr(settings_module, "settings", lambda: SseflowSettings(**fields))


def test_each_variable_is_a_field_and_an_empty_one_is_unset(clean):
    clean.setenv("SSEFLOW_VASP_CMD", "srun vasp_std")
    clean.setenv("SSEFLOW_QE_CMD", "")
    s = settings_module.settings()
    assert s.vasp_cmd == "srun vasp_std" and s.qe_cmd is None
    clean.setenv("SSEFLOW_VASP_CMD", "mpirun vasp_gam")  # read afresh on every call
    assert settings_module.settings().vasp_cmd == "mpirun vasp_gam"


def _preset_folder(root: Path, fmax: float) -> Path:
    (root / "calculators").mkdir(parents=True)
    (root / "calculators" / "emt.yaml").write_text(f"fmax: {fmax}\n")
    return root


def test_templates(clean, tmp_path):
    from sseflow.workflows.calculators import get_calculator
    from sseflow.workflows.calculators.base import template_dir

    shipped = template_dir()
    clean.setenv("SSEFLOW_TEMPLATES", str(_preset_folder(tmp_path / "env", 0.123)))
    assert template_dir() == tmp_path / "env" / "calculators"
    assert get_calculator("emt").parameters["fmax"] == 0.123
    clean.delenv("SSEFLOW_TEMPLATES")
    assert template_dir() == shipped
    only_settings(clean, templates=str(_preset_folder(tmp_path / "set", 0.456)))
    assert get_calculator("emt").parameters["fmax"] == 0.456


def test_vasp_command_of_the_backend_and_of_the_electronic_statics(clean):
    from sseflow.workflows.calculators import get_calculator
    from sseflow.workflows.interfaces.electronic_vasp import _vasp_backend

    assert get_calculator("vasp").command is None
    clean.setenv("SSEFLOW_VASP_CMD", "srun vasp_std")
    assert get_calculator("vasp").command == "srun vasp_std"
    assert get_calculator("vasp", command="vasp_gam").command == "vasp_gam"  # the preset's wins
    clean.delenv("SSEFLOW_VASP_CMD")
    only_settings(clean, vasp_cmd="mpirun -n 4 vasp_std")
    assert _vasp_backend("vasp").command == "mpirun -n 4 vasp_std"


def test_qe_command_and_pseudopotential_folder(clean, tmp_path):
    from sseflow.workflows.calculators import get_calculator

    env_dir, set_dir = tmp_path / "env", tmp_path / "set"
    for d in (env_dir, set_dir):
        d.mkdir()
        (d / "Si.pbe-n-rrkjus.UPF").write_text("")
    clean.setenv("SSEFLOW_QE_PSEUDO_DIR", str(env_dir))
    clean.setenv("SSEFLOW_QE_CMD", "mpirun -n 2 pw.x")
    clean.setenv("ASE_ESPRESSO_COMMAND", "other pw.x")
    qe = get_calculator("qe")
    assert (qe.pseudo_dir, qe.command) == (str(env_dir), "mpirun -n 2 pw.x")  # before ASE's variable
    for var in ("SSEFLOW_QE_PSEUDO_DIR", "SSEFLOW_QE_CMD", "ASE_ESPRESSO_COMMAND"):
        clean.delenv(var)
    only_settings(clean, qe_pseudo_dir=str(set_dir), qe_cmd="srun pw.x")
    qe = get_calculator("qe")
    assert (qe.pseudo_dir, qe.command) == (str(set_dir), "srun pw.x")


def test_reference_cache_folder(clean, tmp_path):
    from sseflow.analysis.reference import default_cache_dir, load_reference

    table = tmp_path / "ref.csv"
    table.write_text("formula,e\nLi2S,-1.0\n")
    clean.setenv("SSEFLOW_CACHE_DIR", str(tmp_path / "env-cache"))
    assert settings_module.settings().cache_dir == str(tmp_path / "env-cache")
    assert default_cache_dir() == tmp_path / "env-cache"  # direct library use: the same variable
    load_reference(table)
    assert len(list((tmp_path / "env-cache").glob("*.npz"))) == 1
    load_reference(table, cache_dir=tmp_path / "given")  # a folder passed (the workflows' settings) wins
    assert len(list((tmp_path / "given").glob("*.npz"))) == 1
    assert len(list((tmp_path / "env-cache").glob("*.npz"))) == 1
    clean.delenv("SSEFLOW_CACHE_DIR")
    clean.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "sseflow"
