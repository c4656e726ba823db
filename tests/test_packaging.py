"""One import namespace: the wheel holds sseflow/{workflows,analysis,templates}, templates load as
package resources, one version, and workflows stored under the old module names still load."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_one_version():
    import sseflow
    import sseflow.analysis
    import sseflow.workflows

    assert sseflow.__version__ == version("sseflow") == sseflow.workflows.__version__ == sseflow.analysis.__version__


def test_public_names_resolve_lazily():
    import sseflow

    for name in sseflow.__all__:
        assert getattr(sseflow, name) is not None
    with pytest.raises(AttributeError):
        sseflow.no_such_thing  # noqa: B018


def test_importing_analysis_pulls_in_no_fireworks_or_pymongo():
    code = ("import sys, sseflow, sseflow.analysis.window, sseflow.analysis.reactions; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fireworks', 'pymongo')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_calculator_presets_are_package_resources(monkeypatch):
    from importlib.resources import files

    from sseflow.workflows.calculators.base import TEMPLATE_DIR_ENV, template_dir

    monkeypatch.delenv(TEMPLATE_DIR_ENV, raising=False)
    shipped = Path(str(files("sseflow.templates") / "calculators"))
    assert template_dir() == shipped and (shipped / "chgnet.yaml").is_file()


def test_old_firetask_names_still_load():
    """A workflow document stored before the namespace change names ``{{workflows.firetasks.X}}``."""
    from fireworks import Firework, Workflow

    from sseflow.workflows import fw_names
    from sseflow.workflows.firetasks import RelaxTask, StaticTask

    fw_names.register()
    wf = Workflow([Firework([RelaxTask(structure={"cif": "..."}, label="Li", calculator="emt")], name="relax Li"),
                   Firework([StaticTask(label="Li", calculator="emt")], name="static Li")], name="old")
    def renamed(x):
        if isinstance(x, dict):
            return {k: renamed(v) for k, v in x.items()}
        if isinstance(x, list):
            return [renamed(v) for v in x]
        return x.replace("{{sseflow.workflows.firetasks.", "{{workflows.firetasks.") if isinstance(x, str) else x

    doc = wf.to_dict()
    assert "{{sseflow.workflows.firetasks.RelaxTask}}" in repr(doc)
    old = renamed(doc)
    assert "{{workflows.firetasks.RelaxTask}}" in repr(old) and "sseflow" not in repr(old)
    loaded = Workflow.from_dict(old)
    tasks = [fw.tasks[0] for fw in loaded.fws]
    assert {type(t) for t in tasks} == {RelaxTask, StaticTask}
    assert {t["label"] for t in tasks} == {"Li"}


@pytest.mark.slow
def test_wheel_holds_one_namespace(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {r.stderr.strip().splitlines()[-1:]}")
    (whl,) = tmp_path.glob("sseflow-*.whl")
    names = zipfile.ZipFile(whl).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"sseflow"}
    for must in ("sseflow/__init__.py", "sseflow/analysis/window.py", "sseflow/workflows/cli/main.py",
                 "sseflow/templates/calculators/chgnet.yaml", "sseflow/templates/studies/li3ps4_li_si.yaml"):
        assert must in names
    assert any(n.startswith("sseflow/workflows/data/structures/") and n.endswith(".cif") for n in names)
    # every package of the source tree is in the wheel (a new subpackage must be listed in pyproject.toml)
    for top in ("workflows", "analysis"):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.relative_to(ROOT).as_posix()
            assert f"sseflow/{rel}" in names, f"{rel} is not packaged"
    for src in (ROOT / "templates").rglob("*.yaml"):
        assert f"sseflow/{src.relative_to(ROOT).as_posix()}" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "sseflow = sseflow.workflows.cli.main:main" in zipfile.ZipFile(whl).read(entry).decode()
