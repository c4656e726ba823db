"""Dependency drift: the newest versions pyproject.toml allows, against the pinned constraints.txt.

Installs sseflow with its test, chgnet and sevennet extras into a scratch virtual environment
without the constraints (so pip takes the newest allowed release of everything), prints each
package whose version differs from constraints.txt, and runs the test suite there. A failure
here is what a user installing without the constraints would meet: fix it, or add an upper
bound in pyproject.toml, before refreshing the lock.

    python3 benchmarks/dependency_drift.py               # report the drift and run the tests
    python3 benchmarks/dependency_drift.py --write-lock  # ... and, if the tests pass, rewrite constraints.txt

torch stays at 2.13.0 (the CPU build): it is installed first on purpose, as in README.md.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "constraints.txt"
EXTRAS = "test,chgnet,sevennet"
TORCH = "torch==2.13.0"
HEADER = """\
# Pinned versions of a known-good install (Linux, CPython 3.11, CPU torch) of sseflow with the
# test, chgnet and sevennet extras. Both README commands and .ci/run install with '-c constraints.txt'.
# Refresh (installs the newest allowed versions in a scratch venv, runs the tests, then rewrites this file):
#   python3 benchmarks/dependency_drift.py --write-lock
"""


def pins(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", line.strip())
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2).split("+")[0]  # 2.13.0+cpu: 2.13.0
    return out


def lock_text(freeze: str) -> str:
    """constraints.txt from ``pip freeze --exclude-editable`` output (torch's local label dropped)."""
    lines = [re.sub(r"^torch==(\d+\.\d+\.\d+)\+cpu$", r"torch==\1", ln) for ln in freeze.splitlines()
             if ln.strip() and not ln.startswith(("-e ", "#"))]
    return HEADER + "\n".join(lines) + "\n"


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, cwd=ROOT, **kw)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venv", type=Path, default=None, help="scratch venv folder (default: a temporary one)")
    ap.add_argument("--write-lock", action="store_true", help="rewrite constraints.txt when the tests pass")
    ap.add_argument("--no-tests", action="store_true", help="only install and report the drift")
    ap.add_argument("--keep", action="store_true", help="keep the scratch venv")
    args = ap.parse_args(argv)

    venv = args.venv or Path(tempfile.mkdtemp(prefix="sseflow-drift-")) / "venv"
    t0 = time.perf_counter()
    try:
        if run([sys.executable, "-m", "venv", str(venv)]).returncode:
            return 1
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        if run([*pip, "install", "-q", TORCH]).returncode:
            return 1
        if run([*pip, "install", "-q", "--upgrade", "--upgrade-strategy", "eager", "-e", f".[{EXTRAS}]"]).returncode:
            print("drift: the newest allowed versions do not install together", file=sys.stderr)
            return 1
        freeze = run([*pip, "freeze", "--exclude-editable"], capture_output=True, text=True).stdout
        new, old = pins(freeze), pins(LOCK.read_text()) if LOCK.is_file() else {}
        changed = sorted(k for k in new.keys() | old.keys() if new.get(k) != old.get(k))
        width = max([len(k) for k in changed] + [7])
        print(f"{'package':<{width}}  {'locked':>14}  {'newest allowed':>14}")
        for k in changed:
            print(f"{k:<{width}}  {old.get(k, '-'):>14}  {new.get(k, '-'):>14}")
        print(f"{len(changed)} of {len(new)} packages differ from constraints.txt")
        status = 0
        if not args.no_tests:
            status = run([str(venv / "bin" / "python"), "-m", "pytest", "-q", "tests"]).returncode
            print(f"tests with the newest allowed versions: {'passed' if status == 0 else 'FAILED'}")
        if args.write_lock:
            if status == 0:
                LOCK.write_text(lock_text(freeze))
                print(f"wrote {LOCK.relative_to(ROOT)} ({len(new)} pins)")
            else:
                print("constraints.txt left as it was: the tests failed", file=sys.stderr)
        print(f"drift check took {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        return status
    finally:
        if not args.keep and args.venv is None:
            shutil.rmtree(venv.parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
