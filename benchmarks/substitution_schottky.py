"""Li10GeP2S12 | Li against the best Ge-substituted LGPS | Li: Schottky barriers (both methods)
and the width of the electron-transfer region, next to the literature claim.

A published screening of Ge substitution in Li10GeP2S12 reports Li10SrP2S12 with a 0.13 eV
Schottky barrier and a 3.10 Å electron-transfer region against Li metal. This script:

1. ``sseflow substitute Li10GeP2S12 --site Ge --with ... --store --structures DIR`` (relaxations
   reused from the store of ``OUT/home`` when run again) and picks the candidate: ``--candidate
   FORMULA`` (e.g. Li10SrP2S11), else the best-ranked charge-balanced one that is not the host;
2. ``sseflow interface build CIF Li`` for the host and the candidate (the same surfaces and limits,
   sized for a 2-core machine: ``--max-atoms``, thin slabs, CHGNet relaxation);
3. ``sseflow interface schottky DIR --electronic gpaw --json`` on each (skipped with ``--build-only``):
   the n-type barrier by the layer-resolved DOS and by the potential line-up.

Electron-transfer region (here): the depth, from the contact plane into the electrolyte, of the
deepest electrolyte layer that is *not* bulk-like in the layer-resolved DOS (states in its gap: the
metal-induced gap states), a proxy for the charge-transfer region of the literature, which comes
from a charge-density difference.

    python benchmarks/substitution_schottky.py --reference ../shared/data/mp_formation_energies.csv \\
        --out bench_sub --ecut 250 --kpts 2,2,1
    python benchmarks/substitution_schottky.py --build-only --out /tmp/smoke      # no GPAW
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SSEFLOW = str(Path(sys.executable).parent / "sseflow")
LITERATURE = {"candidate": "Li10SrP2S12", "barrier_eV": 0.13, "transfer_region_A": 3.10}


def run(args: list[str], env: dict, log: Path) -> subprocess.CompletedProcess:
    t0 = time.perf_counter()
    p = subprocess.run([SSEFLOW, *map(str, args)], capture_output=True, text=True, env=env)
    log.write_text(f"$ sseflow {' '.join(map(str, args))}\n# {time.perf_counter() - t0:.0f} s, rc {p.returncode}\n"
                   f"## stdout\n{p.stdout}\n## stderr\n{p.stderr}")
    if p.returncode != 0:
        sys.exit(f"sseflow {args[0]} failed (rc {p.returncode}); see {log}\n{p.stderr[-2000:]}")
    return p


def transfer_region(layer_dos: dict | None) -> float | None:
    """Depth (Å) of the deepest non-bulk-like layer nearer the contact than every bulk-like one."""
    if not layer_dos or not layer_dos.get("layers"):
        return None
    layers = sorted(layer_dos["layers"], key=lambda r: r["depth_A"])
    bulk_depths = [r["depth_A"] for r in layers if r["bulk_like"]]
    first_bulk = min(bulk_depths) if bulk_depths else float("inf")
    shallow = [r["depth_A"] for r in layers if not r["bulk_like"] and r["depth_A"] < first_bulk]
    return max(shallow) if shallow else 0.0


def in_process_schottky(folder: Path, electrolyte: Path, a) -> dict:
    """Both barriers of the interface in ``folder`` (the cell ``interface schottky`` would choose)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from sseflow.workflows.interfaces.stages import electronic_stage, from_directory

    src = from_directory(folder)
    atoms = src.atoms.copy()
    if atoms.cell[2, 2] - (atoms.positions[:, 2].max() - atoms.positions[:, 2].min()) > 6.0:
        atoms.pbc = [True, True, False]  # vacuum along the normal
    kp = tuple(int(x) for x in a.kpts.split(","))
    bk = tuple(int(x) for x in a.bulk_kpts.split(","))
    basis = {"mode": "lcao", "basis": a.basis} if a.mode == "lcao" else {"ecut": a.ecut}
    if a.mixer_beta:
        basis["mixer"] = {"beta": a.mixer_beta, "nmaxold": 5, "weight": 100.0}
    if a.smearing:
        basis["smearing_width"] = a.smearing
    run_ = electronic_stage(atoms, str(electrolyte), "gpaw", periods=src.periods, kpts=kp, bulk_kpts=bk,
                            directory=folder / f"electronic_in_process_{a.mode}", **basis)
    return {**run_.report, "cell": src.cell, "notes": src.notes}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", default=str(ROOT.parent / "shared" / "data" / "mp_formation_energies.csv"))
    ap.add_argument("--with", dest="with_", default="Si,Sn,Sr,Ca,Zr")
    ap.add_argument("--candidate", default=None, help="formula of the substituted candidate (default: best ranked)")
    ap.add_argument("--out", default="bench_substitution_schottky")
    ap.add_argument("--electrolyte-miller", default="001")
    ap.add_argument("--electrode-miller", default="110")
    ap.add_argument("--max-atoms", type=int, default=120)
    ap.add_argument("--max-area", type=float, default=120.0)
    ap.add_argument("--max-strain", type=float, default=0.06)
    ap.add_argument("--electrolyte-thickness", type=float, default=7.0)
    ap.add_argument("--electrode-thickness", type=float, default=5.0)
    ap.add_argument("--steps", type=int, default=150, help="interface relaxation steps (CHGNet)")
    ap.add_argument("--ecut", type=float, default=250.0)
    ap.add_argument("--mode", choices=("pw", "lcao"), default="pw",
                    help="GPAW plane waves (--ecut) or LCAO (--basis; with --in-process): LCAO makes ~150-atom cells "
                         "affordable on two cores")
    ap.add_argument("--basis", default="dzp")
    ap.add_argument("--mixer-beta", type=float, default=None,
                    help="GPAW density mixing (e.g. 0.02 with weight 100 for metal | insulator slabs)")
    ap.add_argument("--smearing", type=float, default=None, help="Fermi-Dirac width, eV (backend default 0.05)")
    ap.add_argument("--stacking", choices=("vacuum", "periodic"), default="vacuum",
                    help="interface cell: slab + vacuum (dipole layer) or periodic electrolyte | Li stacking")
    ap.add_argument("--kpts", default="2,2,1")
    ap.add_argument("--bulk-kpts", default="2,2,2")
    ap.add_argument("--build-only", action="store_true", help="no relaxation, no GPAW: a smoke test of the chain")
    ap.add_argument("--in-process", action="store_true",
                    help="run the GPAW stage through sseflow.workflows.interfaces.stages.electronic_stage in this "
                         "process, with the vacuum-stacked cell made non-periodic along the normal (GPAW's "
                         "dipole-layer Poisson solver asserts two periodic directions)")
    ap.add_argument("--no-schottky", action="store_true",
                    help="build and relax the interfaces (CHGNet, work of adhesion) but run no GPAW static")
    a = ap.parse_args(argv)
    if a.mode == "lcao" and not a.in_process:
        ap.error("--mode lcao runs the GPAW stage in this process: add --in-process")

    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SSEFLOW_HOME": str(out / "home"), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    t0 = time.perf_counter()

    # 1. substitution screening, relaxed structures written out
    sub = ["substitute", "Li10GeP2S12", "--site", "Ge", "--with", a.with_, "--reference", a.reference,
           "--json", "--store", "--structures", out / "structures"]
    if a.build_only:
        sub += ["--steps", "5", "--compensation", "none"]
    doc = json.loads(run(sub, env, out / "substitute.log").stdout)
    rows = doc["rows"]
    if a.candidate:
        pick = next((r for r in rows if r["formula"] == a.candidate), None)
        if pick is None:
            sys.exit(f"{a.candidate} is not among {', '.join(r['formula'] for r in rows)}")
    else:
        pick = next(r for r in rows if r["compensation"] != "host" and r["charge_balanced"])
    host = next(r for r in rows if r["compensation"] == "host")
    cif = {r["formula"]: out / "structures" / f"{r['rank']}_{r['formula']}_{r['compensation']}.cif"
           for r in (host, pick)}

    # 2./3. interfaces with Li and their Schottky barriers
    results = {}
    for formula, path in cif.items():
        d = out / f"{formula}_Li"
        build = ["interface", "build", path, "Li", "--electrolyte-miller", a.electrolyte_miller,
                 "--electrode-miller", a.electrode_miller, "--max-atoms", a.max_atoms, "--max-area", a.max_area,
                 "--max-strain", a.max_strain, "--electrolyte-thickness", a.electrolyte_thickness,
                 "--electrode-thickness", a.electrode_thickness, "--stacking", a.stacking, "--json", "-o", d]
        build += ["--no-scan"] if a.build_only else ["--relax", "--steps", a.steps]
        summary = json.loads(run(build, env, out / f"{formula}_build.log").stdout)
        itf = summary.get("interface") or {}
        res = {"formula": formula, "atoms": itf.get("n_atoms"), "area_A2": itf.get("area_A2"),
               "faces": f"{itf.get('electrolyte_termination')} | {itf.get('electrode_termination')}",
               "interface_dir": str(d)}
        res["work_of_adhesion_J_m2"] = (summary.get("relaxation") or {}).get("work_of_adhesion_J_m2")
        if a.in_process and not (a.build_only or a.no_schottky):
            rep = in_process_schottky(d, path, a)
            res["barrier_n_layer_dos_eV"] = (rep.get("barrier_n") or {}).get("layer_dos")
            res["barrier_n_lineup_eV"] = (rep.get("barrier_n") or {}).get("potential_lineup")
            res["transfer_region_A"] = transfer_region(rep.get("layer_dos"))
            res["warnings"] = rep.get("warnings")
            (out / f"{formula}_schottky.json").write_text(json.dumps(rep, indent=2, default=str) + "\n")
        elif not (a.build_only or a.no_schottky):
            rep = json.loads(run(["interface", "schottky", d, "--electronic", "gpaw", "--ecut", a.ecut,
                                  "--kpts", a.kpts, "--bulk-kpts", a.bulk_kpts, "--json"], env,
                                 out / f"{formula}_schottky.log").stdout)
            rep = rep.get("schottky") or rep
            res["barrier_n_layer_dos_eV"] = (rep.get("barrier_n") or {}).get("layer_dos")
            res["barrier_n_lineup_eV"] = (rep.get("barrier_n") or {}).get("potential_lineup")
            res["transfer_region_A"] = transfer_region(rep.get("layer_dos"))
            res["warnings"] = rep.get("warnings")
        results[formula] = res

    report = {"literature": LITERATURE, "candidate": pick["formula"], "candidate_rank": pick["rank"],
              "candidate_e_above_hull_meV": pick["e_above_hull_meV"], "results": results,
              "settings": vars(a), "wall_s": round(time.perf_counter() - t0, 1)}
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"{'interface':<22} {'atoms':>6} {'W_ad (J/m2)':>12} {'phi_n DOS (eV)':>15} {'phi_n line-up (eV)':>19} "
          f"{'transfer (Å)':>13}")
    for f, r in results.items():
        def g(k, fmt=".2f"):
            v = r.get(k)
            return "-" if v is None else format(v, fmt)
        print(f"{f + ' | Li':<22} {str(r.get('atoms') or '-'):>6} {g('work_of_adhesion_J_m2', '.3f'):>12} "
              f"{g('barrier_n_layer_dos_eV'):>15} "
              f"{g('barrier_n_lineup_eV'):>19} {g('transfer_region_A'):>13}")
    print(f"{'literature: ' + LITERATURE['candidate'] + ' | Li':<22} {'':>6} {'':>12} {LITERATURE['barrier_eV']:>15.2f} "
          f"{'':>19} {LITERATURE['transfer_region_A']:>13.2f}")
    print(f"wall time {report['wall_s']:.0f} s; {out / 'report.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
