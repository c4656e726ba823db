"""Benchmark and validation: Schottky barriers of an electrolyte | Li interface with GPAW.

Builds the interface with sseflow's matcher (periodic stacking, strain on Li), optionally relaxes
it with CHGNet, then runs sseflow's electronic stage (GPAW static of the cell with the
layer-resolved DOS and the planar potential, bulk reference of the electrolyte) and both barrier
methods. Printed: atoms, strain, time per step, peak memory, both barriers and their difference,
the bulk gap, the bulk-like layers found.

The peer: the same GPAW self-consistent static of the same cell with the same parameters run
directly (``atoms.get_potential_energy()``), in this process; the difference to sseflow's
interface static is the cost of what sseflow adds (the empty-band convergence it asks for is part
of the peer's parameters, so the difference is the layer-DOS / PDOS / potential extraction).

Systems (``--system``):
  li2s   Li2S(110) | Li(110), 54 atoms at the defaults (3.6 % strain on Li); non-polar face.
  lif    LiF(100) | Li(110), 57 atoms at --electrolyte-thickness 15 (eight LiF layers).

Run:  .venv/bin/python benchmarks/schottky_gpaw.py --system li2s [--relax] [--no-peer] [--json out.json]
      .venv/bin/python benchmarks/schottky_gpaw.py --system lif --electrolyte-thickness 23 --max-atoms 90 --relax
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("OMP_NUM_THREADS", "1")

SYSTEMS = {
    "li2s": {"electrolyte": "Li2S", "electrolyte_miller": [(1, 1, 0)], "electrolyte_thickness": 10.0,
             "max_atoms": 90, "max_area": 60.0, "max_strain": 0.08, "kpts": (3, 2, 1), "bulk_kpts": (6, 6, 6)},
    "lif": {"electrolyte": "LiF", "electrolyte_miller": [(1, 0, 0)], "electrolyte_thickness": 15.0,
            "max_atoms": 70, "max_area": 40.0, "max_strain": 0.06, "kpts": (6, 2, 1), "bulk_kpts": (6, 6, 6)},
}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--system", choices=sorted(SYSTEMS), default="li2s")
    ap.add_argument("--electrolyte-thickness", type=float, default=None)
    ap.add_argument("--max-atoms", type=int, default=None)
    ap.add_argument("--ecut", type=float, default=300.0)
    ap.add_argument("--kpts", default=None, help="interface k mesh, e.g. 3,2,1")
    ap.add_argument("--relax", action="store_true", help="CHGNet relaxation before the static")
    ap.add_argument("--no-peer", action="store_true", help="skip the bare GPAW static")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    cfg = dict(SYSTEMS[a.system])
    if a.electrolyte_thickness:
        cfg["electrolyte_thickness"] = a.electrolyte_thickness
    if a.max_atoms:
        cfg["max_atoms"] = a.max_atoms
    kpts = tuple(int(x) for x in a.kpts.split(",")) if a.kpts else cfg["kpts"]

    from sseflow.workflows.calculators.chgnet import set_torch_threads
    from sseflow.workflows.interfaces.stages import electronic_stage, find_and_build, periods_of

    set_torch_threads(1)
    out: dict = {"system": a.system, "ecut_eV": a.ecut, "kpts": kpts, "bulk_kpts": cfg["bulk_kpts"]}
    t0 = time.perf_counter()
    settings = {"max_strain": cfg["max_strain"], "max_area": cfg["max_area"], "max_atoms": cfg["max_atoms"],
                "electrolyte_miller": cfg["electrolyte_miller"], "electrode_miller": [(1, 1, 0)],
                "electrolyte_thickness": cfg["electrolyte_thickness"], "electrode_thickness": 5.0,
                "stacking": "periodic", "fixed_layers": 1, "gap": 2.0, "scan": False}
    _, built = find_and_build(cfg["electrolyte"], "Li", settings, None)
    s = built.summary()
    out["interface"] = {k: s[k] for k in ("label", "n_atoms", "electrolyte_atoms", "electrode_atoms", "area_A2",
                                          "von_mises_strain", "electrolyte_thickness_A", "electrode_thickness_A")}
    out["time_build_s"] = round(time.perf_counter() - t0, 2)
    print(f"[1/4] built {s['label']}: {s['n_atoms']} atoms ({s['electrolyte_atoms']} + {s['electrode_atoms']}), "
          f"strain {100 * s['von_mises_strain']:.2f}% on Li, {out['time_build_s']} s", flush=True)
    atoms = built.atoms
    if a.relax:
        from sseflow.workflows.interfaces.relax import relax_interface

        t = time.perf_counter()
        r = relax_interface(built, "chgnet", fmax=0.05, steps=300)
        atoms = r.atoms
        out["time_relax_s"] = round(time.perf_counter() - t, 1)
        out["relaxation"] = {"steps": r.n_steps, "converged": r.converged, "W_ad_J_m2": r.work_of_adhesion}
        print(f"[2/4] CHGNet relaxation: {r.n_steps} steps, {out['time_relax_s']} s", flush=True)
    else:
        print("[2/4] no relaxation (--relax to add one)", flush=True)
    t = time.perf_counter()
    run = electronic_stage(atoms, cfg["electrolyte"], "gpaw", periods=periods_of(built), kpts=kpts,
                           bulk_kpts=cfg["bulk_kpts"], ecut=a.ecut)
    t_stage = time.perf_counter() - t
    es, bulk, rep = run.electronic, run.bulk, run.report
    out["time_electronic_stage_s"] = round(t_stage, 1)
    out["time_interface_static_s"] = round(es.wall_time_s, 1)
    out["time_bulk_s"] = bulk["wall_time_s"]
    out["nbands"] = es.parameters["nbands"]
    out["peak_rss_MB"] = round(peak_mb())
    L, P = rep["layer_dos"], rep["potential_lineup"]
    out["barriers"] = {"layer_dos": {"p": L["barrier_p"], "n": L["barrier_n"], "gap": L["gap"],
                                     "bulk_layers": L["bulk_layers"], "converged": L["converged"]},
                       "lineup": {"p": P["barrier_p"], "n": P["barrier_n"], "gap": P["gap"],
                                  "plateau_spread": P.get("plateau_spread")},
                       "difference_p": rep["difference_p"], "difference_n": rep["difference_n"],
                       "warnings": rep["warnings"]}
    out["bulk_gap_eV"] = bulk["gap"]
    print(f"[3/4] sseflow electronic stage: interface static {es.wall_time_s:.1f} s, bulk {bulk['wall_time_s']} s, "
          f"{es.parameters['nbands']} bands; peak RSS {out['peak_rss_MB']} MB", flush=True)

    def f(x):
        return "  -  " if x is None else f"{x:6.3f}"

    print(f"      barriers (eV)       p-type   n-type   gap\n"
          f"      layer DOS         {f(L['barrier_p'])}  {f(L['barrier_n'])}  {f(L['gap'])}  "
          f"(bulk-like layers {L['bulk_layers']})\n"
          f"      potential line-up {f(P['barrier_p'])}  {f(P['barrier_n'])}  {f(P['gap'])}  (bulk {bulk['gap']:.3f})\n"
          f"      difference        {f(rep['difference_p'])}  {f(rep['difference_n'])}")
    if not a.no_peer:
        from sseflow.workflows.interfaces.electronic import electronic_backend as _electronic_backend, _gpaw_calc

        backend = _electronic_backend("gpaw", ecut=a.ecut)
        nb = es.parameters["nbands"]
        calc = _gpaw_calc(backend, kpts=kpts, dipole=es.parameters["dipole_correction"], nbands=nb,
                          converge_bands=-(nb - es.parameters["converged_bands"]))
        b = atoms.copy()
        b.set_constraint()
        b.calc = calc
        t = time.perf_counter()
        e = b.get_potential_energy()
        t_peer = time.perf_counter() - t
        out["time_peer_gpaw_static_s"] = round(t_peer, 1)
        out["peer_energy_eV"] = e
        out["energy_difference_eV"] = e - es.energy
        out["overhead_percent"] = round(100 * (es.wall_time_s - t_peer) / t_peer, 1)
        print(f"[4/4] peer: GPAW static alone {t_peer:.1f} s (same parameters; energy differs by "
              f"{1000 * (e - es.energy):.3f} meV); sseflow's interface static {es.wall_time_s:.1f} s: "
              f"{out['overhead_percent']:+.1f}% for the layer DOS, PDOS and potential", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2, default=str))
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
