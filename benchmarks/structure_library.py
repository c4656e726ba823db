"""Validate the structure library: every phase (or --names) through sseflow.workflows.structures.validate.

For each phase: formula of the CIF, spglib space group (symprec 0.01) against the index, smallest
interatomic distance over the sum of covalent radii, and the CHGNet formation energy (phase and
the library's elemental phases relaxed with CHGNet through sseflow's calculator layer) against the
lowest Materials Project entry of the same composition in the shared table. Prints a progress line
per phase, then the full table of deviations and the MAE over compounds (elements are 0 by
construction and left out of the MAE).

    .venv/bin/python benchmarks/structure_library.py [--names Li15Si4 LiSi ...] [--static]
        [--reference /path/mp_formation_energies.csv] [--json out/structure_library.json]

One torch thread (the machine this runs on is shared); relaxing the whole library takes a while.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _fmt(x, spec: str = "8.3f") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return f"{'-':>{spec.split('.')[0]}}"
    return format(x, spec)


def table(rows: list[dict]) -> str:
    head = (f"{'phase':16s} {'formula':14s} {'SG exp':>6s} {'SG found':>8s} {'d/r_cov':>7s} "
            f"{'CHGNet':>8s} {'MP':>8s} {'dev':>8s}  ok")
    lines = [head, "-" * len(head)]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['name']:16s} error: {r['error']}")
            continue
        lines.append(f"{r['name']:16s} {r['formula']:14s} {r['spacegroup_expected']:6d} {r['spacegroup_found']:8d} "
                     f"{_fmt(r['min_distance_ratio'], '7.3f')} {_fmt(r['chgnet_formation_energy'])} "
                     f"{_fmt(r['mp_formation_energy'])} {_fmt(r['deviation'], '+8.3f')}  "
                     f"{'yes' if r['ok'] else 'NO'}")
    return "\n".join(lines)


def summary(rows: list[dict], tolerance: float) -> str:
    from sseflow.analysis.formula import parse_formula

    devs = [abs(r["deviation"]) for r in rows
            if "error" not in r and r["deviation"] is not None and len(parse_formula(r["formula"])) > 1]
    bad = [r["name"] for r in rows if "error" in r or not r["ok"]]
    out = []
    if devs:
        out.append(f"MAE {sum(devs) / len(devs):.3f} eV/atom over {len(devs)} compounds; max |dev| "
                   f"{max(devs):.3f}; {sum(d > tolerance for d in devs)} beyond {tolerance} eV/atom")
    else:
        out.append("no compound with a reference energy")
    out.append(f"{len(rows) - len(bad)}/{len(rows)} phases pass" + (f"; failing: {', '.join(bad)}" if bad else ""))
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--names", nargs="+", help="library names, aliases or formulas (default: every phase)")
    ap.add_argument("--static", action="store_true", help="single points on the library cells, no relaxation")
    ap.add_argument("--reference", help="formation-energy table (default: the shared MP table)")
    ap.add_argument("--fmax", type=float, default=None, help="force criterion, eV/Å (default: the CHGNet preset)")
    ap.add_argument("--steps", type=int, default=None, help="relaxation step limit (default: the CHGNet preset)")
    ap.add_argument("--tolerance", type=float, default=0.1, help="accepted |CHGNet - MP|, eV/atom")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)

    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(1)
    from sseflow.analysis.errors import InputError
    from sseflow.workflows.structures.library import phases
    from sseflow.workflows.structures.validate import validate_phase

    names = args.names or [r["name"] for r in phases()]
    rows: list[dict] = []
    t0 = time.perf_counter()
    for i, name in enumerate(names, 1):
        try:
            r = validate_phase(name, relax=not args.static, reference_csv=args.reference, fmax=args.fmax,
                               steps=args.steps, tolerance=args.tolerance)
        except InputError as exc:
            r = {"name": name, "error": str(exc), "ok": False}
        rows.append(r)
        if "error" in r:
            print(f"[{i}/{len(names)}] {name}: error: {r['error']}", flush=True)
        else:
            print(f"[{i}/{len(names)}] {r['name']:16s} {r['nsites']:4d} sites  SG {r['spacegroup_found']:3d}  "
                  f"E_f {_fmt(r['chgnet_formation_energy'], '.3f')} vs MP {_fmt(r['mp_formation_energy'], '.3f')}  "
                  f"dev {_fmt(r['deviation'], '+.3f')}  {r['n_steps']} steps  {r['wall_s']:.0f} s"
                  + (f"  ({'; '.join(r['notes'])})" if r["notes"] else ""), flush=True)
    print()
    print(table(rows))
    print(summary(rows, args.tolerance))
    print(f"total wall time {time.perf_counter() - t0:.0f} s")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
