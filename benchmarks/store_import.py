"""``sseflow db import`` into the embedded store: time against the number of documents.

For each size, writes an export of N window-like documents (each with its ``_id`` and natural
``key``, a creation date and a small voltage profile), then runs, each in a fresh process on
the CLI entry point,

* ``db import`` into a new, empty embedded store, and
* ``db import`` of the same file again (every document replaces the stored one),

and prints wall time, documents per second and the size of the store file. An import that
takes more than ``--timeout`` seconds is stopped and reported as such.

    .venv/bin/python benchmarks/store_import.py [--sizes 1000 2000 20000] [--timeout 900]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_export(path: Path, n: int) -> None:
    """An export file of ``n`` documents in the ``windows`` collection."""
    lines = [json.dumps({"sseflow_export": 1, "database": "sseflow", "schema_version": 1})]
    for i in range(n):
        doc = {
            "_id": {"$oid": f"{i:024x}"},
            "key": f"window:{i:032x}",
            "kind": "window",
            "schema_version": {"$numberInt": "1"},
            "created_at": {"$date": {"$numberLong": str(1_700_000_000_000 + i)}},
            "formula": f"Li{i % 7 + 1}P{i % 3 + 1}S{i % 5 + 4}",
            "chemsys": "Li-P-S",
            "reduction_V": {"$numberDouble": str(1.5 + (i % 100) / 1000)},
            "oxidation_V": {"$numberDouble": str(2.3 + (i % 50) / 1000)},
            "profile": [{"potential_V": {"$numberDouble": str(v / 2)}, "li_per_formula": {"$numberInt": str(v)}}
                        for v in range(6)],
            "inputs": {"reference": "mp.csv", "reference_hash": f"{i % 4:064x}", "exclude": []},
        }
        lines.append(json.dumps({"collection": "windows", "document": doc}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def timed_import(export: Path, store: Path, timeout: float) -> float | None:
    env = {k: v for k, v in os.environ.items() if k not in ("SSEFLOW_DB", "SSEFLOW_CONFIG",
                                                            "MONGOMOCK_SERVERSTORE_FILE")}
    env["SSEFLOW_HOME"] = str(store.parent / "home")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    try:
        r = subprocess.run([sys.executable, "-m", "sseflow.workflows.cli.main", "db", "import", str(export),
                            "--config", f"embedded:{store}"], env=env, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"db import failed ({r.returncode}): {r.stderr.strip()}")
    return elapsed


def _cell(seconds: float | None, n: int, timeout: float) -> str:
    if seconds is None:
        return f"{'>' + format(timeout, 'g'):>12}  {'-':>8}"
    return f"{seconds:12.2f}  {n / seconds:8.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 20000])
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds allowed for one import")
    args = ap.parse_args()
    print(f"{'documents':>9}  {'into empty s':>12}  {'docs/s':>8}  {'again s':>12}  {'docs/s':>8}  {'file MB':>8}")
    with tempfile.TemporaryDirectory(prefix="sseflow-import-bench-") as tmp:
        for n in args.sizes:
            folder = Path(tmp) / str(n)
            folder.mkdir()
            export = folder / "export.jsonl"
            write_export(export, n)
            store = folder / "store.json"
            first = timed_import(export, store, args.timeout)
            again = timed_import(export, store, args.timeout) if first is not None else None

            size = store.stat().st_size / 1e6 if store.exists() else float("nan")
            print(f"{n:9d}  {_cell(first, n, args.timeout)}  {_cell(again, n, args.timeout)}  {size:8.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
