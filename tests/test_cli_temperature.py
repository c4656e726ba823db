"""`window/react --temperature` read stored phonon documents."""
import importlib.util
import json

import pytest

from helpers import run_cli


def _env(tmp_path):
    env = {"SSEFLOW_HOME": str(tmp_path / "home")}
    for k in ("SSEFLOW_DB", "SSEFLOW_CONFIG", "MONGOMOCK_SERVERSTORE_FILE"):
        env[k] = ""
    return env


def test_temperature_needs_stored_phonons(mp_csv, tmp_path):
    r = run_cli("window", "Li3PS4", "--reference", mp_csv, "--temperature", "300", env=_env(tmp_path))
    assert r.returncode == 2
    err = [ln for ln in r.stderr.splitlines() if not ln.startswith("note:")]
    assert len(err) == 1 and "sseflow phonons Li-P-S --store" in err[0]


@pytest.mark.skipif(importlib.util.find_spec("chgnet") is None, reason="CHGNet not installed")
def test_window_and_react_at_temperature(mp_csv, tmp_path):
    env = _env(tmp_path)
    r = run_cli("phonons", "Li2S", "--store", env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    r = run_cli("window", "Li2S", "--reference", mp_csv, "--temperature", "static,600", "--json",
                "--no-profile", env=env)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [x["temperature_K"] for x in rows] == [None, 600.0]
    # Li and S have no stored phonons, so Li2S keeps its 0 K energy and says so
    assert "no free energy for element(s) Li, S" in r.stderr
    assert rows[0]["oxidation_V"] == pytest.approx(rows[1]["oxidation_V"], abs=1e-9)
    r = run_cli("react", "Li2S", "S", "--reference", mp_csv, "--temperature", "600", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["temperature_K"] == 600.0
