import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SSEFLOW_SHARED", ROOT.parent / "shared"))
MP_CSV = SHARED / "data" / "mp_formation_energies.csv"
LIT_CSV = SHARED / "data" / "literature_windows.csv"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Keep parsed-reference caches and sseflow's home out of the user's folders."""
    os.environ.setdefault("SSEFLOW_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield


@pytest.fixture(scope="session")
def mp_csv() -> Path:
    if not MP_CSV.is_file():
        pytest.skip(f"shared reference data not found at {MP_CSV} (../shared absent)")
    return MP_CSV


@pytest.fixture(scope="session")
def mp_reference(mp_csv):
    from analysis.reference import load_reference

    return load_reference(mp_csv)


def run_cli(*args, env=None, timeout=120):
    """Run the installed ``sseflow`` entry point in a fresh process."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([sys.executable, "-m", "workflows.cli.main", *map(str, args)],
                          capture_output=True, text=True, env=e, timeout=timeout, cwd=ROOT)
