"""Store windows, then regenerate the same table from the store in a new process."""
from helpers import run_cli

FIVE = ["Li3PS4", "Li6PS5Cl", "Li7La3Zr2O12", "Li2PO2N", "Li1.3Al0.3Ti1.7(PO4)3"]


def test_table_from_db_identical(mp_csv, tmp_path):
    env = {"SSEFLOW_HOME": str(tmp_path / "home")}
    for k in ("SSEFLOW_DB", "SSEFLOW_CONFIG", "MONGOMOCK_SERVERSTORE_FILE"):
        env[k] = ""
    r = run_cli("window", *FIVE, "--reference", mp_csv, "--store", env=env)
    assert r.returncode == 0, r.stderr
    for fmt in ("md", "latex", "csv"):
        direct = run_cli("table", *FIVE, "--reference", mp_csv, "--format", fmt, env=env)
        stored = run_cli("table", "--from-db", "--format", fmt, env=env)
        assert direct.returncode == 0 and stored.returncode == 0, stored.stderr
        assert stored.stdout == direct.stdout
        assert stored.stdout.count("\n") >= 5
    # storing again updates, never duplicates
    run_cli("window", *FIVE, "--reference", mp_csv, "--store", env=env)
    q = run_cli("query", "windows", "--json", env=env)
    import json

    docs = json.loads(q.stdout)
    assert sorted(d["formula"] if "formula" in d else d["payload"]["formula"] for d in docs) == sorted(FIVE)
