"""The README's "Your own study" quick start, followed verbatim: its study YAML and commands are
read from README.md and run in a fresh HOME / SSEFLOW_HOME (reference: the Materials Project table)."""
import csv
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import SHARED

ROOT = Path(__file__).resolve().parents[1]
MP_CSV = SHARED / "data" / "mp_formation_energies.csv"


def _section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, f"README.md has no '## {title}' section"
    return m.group(1)


def _blocks(section: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", section, re.S | re.M)


def test_readme_quick_start_runs_as_written(tmp_path):
    if not MP_CSV.is_file():
        pytest.skip(f"no Materials Project table at {MP_CSV}")
    sec = _section("Your own study")
    (yaml_text,) = _blocks(sec, "yaml")
    (commands,) = _blocks(sec, "bash")
    name = yaml_text.splitlines()[0].lstrip("# ").strip()
    assert name == "mine.yaml"
    (tmp_path / name).write_text(yaml_text)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSEFLOW_", "MONGOMOCK_", "FW_"))}
    env.update(HOME=str(tmp_path / "home"), SSEFLOW_HOME=str(tmp_path / "sseflow_home"),
               SSEFLOW_CACHE_DIR=str(tmp_path / "cache"))
    bindir = Path(sys.executable).parent
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    outputs = []
    for line in commands.strip().splitlines():
        line = line.split("  #")[0].strip()
        if line.startswith("export "):
            var, _, value = line[len("export "):].partition("=")
            assert var == "SSEFLOW_REFERENCE", line  # the one variable the quick start sets
            env[var] = str(MP_CSV)  # the README's example path, pointed at the table here
            continue
        argv = shlex.split(line)
        assert argv[0] == "sseflow", line
        r = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"{line}\n{r.stderr}"
        outputs.append((line, r.stdout))

    out = tmp_path / "results" / "mine"
    for f in ("windows.md", "windows.csv", "windows.png", "reactions.csv", "report.json", "reaction_Li3PS4_Li.png"):
        assert (out / f).is_file(), f
    assert (tmp_path / "sseflow_home" / "store.json").is_file()  # the database of the README's table
    rows = list(csv.DictReader((out / "windows.csv").open()))
    (li3ps4,) = [r for r in rows if r["material"] == "Li3PS4"]
    assert float(li3ps4["reduction_V"]) == pytest.approx(1.72, abs=0.005)
    # the table regenerated from the database holds the same window
    table = dict(outputs)["sseflow table --from-db --format csv"]
    (row,) = [r for r in csv.DictReader(table.splitlines()) if r["material"] == "Li3PS4"]
    assert float(row["reduction_V"]) == pytest.approx(1.72, abs=0.005)
    assert float(row["oxidation_V"]) == pytest.approx(float(li3ps4["oxidation_V"]))
