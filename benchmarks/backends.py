"""CHGNet through sseflow's calculator layer vs CHGNet's own StructOptimizer.

Relaxes every library phase of a chemical system (default Li-P-S) both ways with the same
optimizer (FIRE), cell filter (FrechetCellFilter), fmax and step limit, each way in its own
process (so peak memory is that way's own), and a single point on a ~100-atom cell. Prints
time per atom-step, totals, peak RSS and sseflow's overhead.

    .venv/bin/python benchmarks/backends.py [--chemsys Li-P-S] [--fmax 0.05] [--steps 300] [--repeat 1]

Validation of the structure library and of CHGNet entries against the shared MP data
(formation energies of every library phase, and stability windows from CHGNet entries next to
those from the MP set):

    .venv/bin/python benchmarks/backends.py --validate [--cache out/chgnet_library.json]

Formation energies of a dozen library phases from several ML potentials, each against its own
relaxed elemental references, next to the MP numbers (lowest row per reduced formula) in one run:

    .venv/bin/python benchmarks/backends.py --models chgnet,sevennet[,sevennet:7net-l3i5] [--max-structures 12]

(``sevennet`` is SevenNet-0 with the MP2020 corrections ``entries_from_results`` applies; relaxed
results are cached per model in out/model_table/ and reused when the settings match. Each model's
formation energies are printed on the MP table's own scale, the scheme it declares, MP-legacy for
the shared table, converted with ``entries_on_scale``, with the difference on the models' MP2020
scale beside them.)

CPU time (process_time) is the headline number: it is what the layer costs and it does not
depend on what else runs on the machine; wall time is printed beside it. One torch thread.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _structures(chemsys: str):
    from sseflow.workflows.structures.library import get_structure, list_phases

    return [(name, get_structure(name, primitive=True)) for name in list_phases(chemsys)]


def _big_cell():
    """The ~100-atom single point: gamma-Li3PS4 (16 atoms) as a 3x2x1 supercell, 96 atoms."""
    from sseflow.workflows.structures.library import get_structure

    s = get_structure("Li3PS4")
    return "gamma-Li3PS4 3x2x1 (96 atoms)", s * (3, 2, 1)


def run_variant(variant: str, chemsys: str, fmax: float, steps: int, repeat: int) -> dict:
    import warnings

    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(1)
    structures = _structures(chemsys)
    t_load = time.process_time()
    if variant == "sseflow":
        from sseflow.workflows.calculators import get_calculator

        calc = get_calculator("chgnet", fmax=fmax, max_steps=steps)

        def relax(s):
            r = calc.relax(s, fmax=fmax, steps=steps)
            return r.n_steps, r.energy_per_atom

        def single(s):
            return calc.static(s).energy_per_atom
    else:
        import contextlib
        import io

        from chgnet.model import CHGNet, StructOptimizer

        with contextlib.redirect_stdout(io.StringIO()):
            model = CHGNet.load(verbose=False, use_device="cpu")
            opt = StructOptimizer(model=model, optimizer_class="FIRE", use_device="cpu")

        def relax(s):
            with contextlib.redirect_stdout(io.StringIO()):
                out = opt.relax(s, fmax=fmax, steps=steps, relax_cell=True, ase_filter="FrechetCellFilter",
                                verbose=False)
            traj = out["trajectory"]
            # the observer records the start, every step and the converged end: len - 2 steps
            return max(0, len(traj.energies) - 2), float(traj.energies[-1]) / len(s)

        def single(s):
            with contextlib.redirect_stdout(io.StringIO()):
                pred = model.predict_structure(s, task="efs")
            return float(pred["e"])
    load_cpu = time.process_time() - t_load
    rows = []
    for name, s in structures:
        best = None
        for _ in range(repeat):
            c0, w0 = time.process_time(), time.perf_counter()
            n_steps, epa = relax(s)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            if best is None or cpu < best["cpu_s"]:
                best = {"name": name, "natoms": len(s), "steps": n_steps, "energy_per_atom": epa, "cpu_s": cpu,
                        "wall_s": wall}
        rows.append(best)
    label, big = _big_cell()
    single(big)  # warm-up (graph code paths)
    sp = []
    for _ in range(7):
        c0, w0 = time.process_time(), time.perf_counter()
        e = single(big)
        sp.append((time.process_time() - c0, time.perf_counter() - w0))
    cpu_sp, wall_sp = min(sp)
    ab = None
    if variant == "sseflow":  # same-process A/B, interleaved: sseflow static vs CHGNet's predict_structure
        direct, layered = [], []
        for _ in range(7):
            c0 = time.process_time()
            calc.model.predict_structure(big, task="efs")
            direct.append(time.process_time() - c0)
            c0 = time.process_time()
            single(big)
            layered.append(time.process_time() - c0)
        ab = {"direct_cpu_s": min(direct), "sseflow_cpu_s": min(layered)}
    return {"single_point_ab": ab,"variant": variant, "rows": rows, "load_cpu_s": load_cpu,
            "single_point": {"cell": label, "natoms": len(big), "cpu_s": cpu_sp, "wall_s": wall_sp, "energy_per_atom": e},
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def ab_relax(chemsys: str, fmax: float, steps: int, repeat: int) -> list[dict]:
    """Same process, interleaved: for each phase, CHGNet's StructOptimizer then sseflow, ``repeat`` times;
    the fastest CPU time of each is kept. Both use the one loaded model, so only the layers differ."""
    import contextlib
    import io
    import warnings

    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(1)
    from chgnet.model import StructOptimizer

    from sseflow.workflows.calculators import get_calculator

    calc = get_calculator("chgnet", fmax=fmax, max_steps=steps)
    opt = StructOptimizer(model=calc.model, optimizer_class="FIRE", use_device="cpu")
    rows = []
    for name, s in _structures(chemsys):
        own, sse = [], []
        for _ in range(repeat):
            c0 = time.process_time()
            with contextlib.redirect_stdout(io.StringIO()):
                opt.relax(s, fmax=fmax, steps=steps, relax_cell=True, ase_filter="FrechetCellFilter", verbose=False)
            own.append(time.process_time() - c0)
            c0 = time.process_time()
            r = calc.relax(s, fmax=fmax, steps=steps)
            sse.append(time.process_time() - c0)
        rows.append({"name": name, "natoms": len(s), "steps": r.n_steps, "own_cpu_s": min(own), "sse_cpu_s": min(sse)})
    return rows


MP_CSV = ROOT.parent / "shared" / "data" / "mp_formation_energies.csv"
WINDOW_FORMULAS = ["Li3PS4", "Li6PS5Cl", "Li10GeP2S12", "Li7La3Zr2O12"]


def validate(cache: Path, fmax: float, steps: int) -> int:
    """Relax every library phase with CHGNet (cached), compare with MP, and compare windows."""
    import math
    import warnings

    warnings.filterwarnings("ignore")
    from sseflow.analysis.formula import parse_formula
    from sseflow.analysis.reference import ReferenceSet
    from sseflow.workflows.calculators import get_calculator
    from sseflow.workflows.computed_entries import entries_from_results
    from sseflow.workflows.structures.library import get_structure, phases

    if not MP_CSV.is_file():
        print(f"shared MP data not found: {MP_CSV}", file=sys.stderr)
        return 2
    docs = json.loads(cache.read_text()) if cache.is_file() else {}
    calc = None
    for row in phases():
        if row["name"] in docs:
            continue
        calc = calc or get_calculator("chgnet")
        c0 = time.process_time()
        r = calc.relax(get_structure(row["name"], primitive=True), fmax=fmax, steps=steps)
        d = r.task_document()
        d["cpu_s"] = time.process_time() - c0
        docs[row["name"]] = d
        print(f"  relaxed {row['name']:14s} {len(r.structure):4d} atoms {r.n_steps:4d} steps "
              f"converged={r.converged} {d['cpu_s']:.1f} s CPU", flush=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(docs))
    entries = entries_from_results(list(docs.values()), "chgnet")
    from sseflow.analysis.schemes import declared_scheme
    from sseflow.workflows.computed_entries import entries_on_scale

    table_scheme = declared_scheme(MP_CSV)[0] or "MP2020"
    entries = entries_on_scale(entries, table_scheme)     # the table's scale (MP-legacy for the shared one)
    ours: dict[str, float] = {}
    for e in entries:
        ours[e.reduced_formula] = min(ours.get(e.reduced_formula, math.inf), e.energy_per_atom)
    mp = {f: e for f, (e, _) in mp_lowest(ours).items()}
    print(f"\nCHGNet formation energies of library phases vs MP (lowest-energy polymorph row), eV/atom, "
          f"on the table's {table_scheme} scale")
    print(f"{'formula':14s} {'CHGNet':>8s} {'MP':>8s} {'diff':>7s}")
    diffs = []
    for f in sorted(ours, key=lambda k: (len(k), k)):
        if f not in mp or len(parse_formula(f)) == 1:   # elements are 0 by definition
            continue
        d = ours[f] - mp[f]
        diffs.append(abs(d))
        print(f"{f:14s} {ours[f]:8.3f} {mp[f]:8.3f} {d:+7.3f}" + ("   > 0.1" if abs(d) > 0.1 else ""))
    print(f"MAE {sum(diffs) / len(diffs):.3f} eV/atom over {len(diffs)} compounds; "
          f"max |diff| {max(diffs):.3f}; {sum(x > 0.1 for x in diffs)} beyond 0.1 eV/atom")
    try:
        from sseflow.analysis.window import stability_window
    except ImportError:
        print("sseflow.analysis.window not available: windows skipped")
        return 0
    rs_ours = ReferenceSet.from_entries(entries, source="sseflow CHGNet entries")
    rs_mp = ReferenceSet.from_csv(MP_CSV)
    lib_formulas = set(ours)
    sub = [e for e in rs_mp.entries if e.reduced_formula in lib_formulas]
    rs_mp_lib = ReferenceSet.from_entries(sub, source="MP restricted to library formulas")
    print("\nStability windows (V vs Li/Li+): CHGNet entries | MP (library phases only) | MP (full set)")
    for f in WINDOW_FORMULAS:
        row = []
        for rs in (rs_ours, rs_mp_lib, rs_mp):
            try:
                w = stability_window(f, rs, profile=False)
                row.append((w.reduction_V, w.oxidation_V, w.e_above_hull_meV))
            except Exception as exc:  # a system the set does not cover
                row.append((math.nan, math.nan, math.nan))
                print(f"  {f}: {type(exc).__name__}: {exc}")
        row = [tuple(math.nan if x is None else x for x in t) for t in row]
        (a, b, ea), (c, d, ec), (g, h, eg) = row
        print(f"{f:14s} [{a:.2f}, {b:.2f}] Ehull {ea:.0f} meV | [{c:.2f}, {d:.2f}] Ehull {ec:.0f} | "
              f"[{g:.2f}, {h:.2f}] Ehull {eg:.0f}  | dV_red vs MP-lib {a - c:+.2f}, vs MP {a - g:+.2f}; "
              f"dV_ox vs MP-lib {b - d:+.2f}, vs MP {b - h:+.2f}")
    return 0


# ------------------------------------------------------------------ model table (--models)

# compounds in the order they are taken by --max-structures, then the elemental references
TABLE_PHASES = ["Li2S", "Li3P", "Li3PS4", "Li2O", "LiCl", "LiF", "Li3N", "SiS2", "SiP2", "LiSi", "Li6PS5Cl",
                "Li4P2S6"]
ELEMENT_PHASES = {"Li": "Li", "P": "P", "S": "S", "Si": "Si", "O": "O2", "F": "F2", "N": "N2", "Cl": "Cl2",
                  "Ge": "Ge", "La": "La", "Zr": "Zr"}
OUTLIER = "Li2PS3"   # Li4P2S6: reported as an outlier for every model; MAE is also given without it


def library_compounds() -> list[str]:
    """Every library compound whose elements have an elemental phase in the library: one name per
    reduced formula (the default polymorph; the others are relaxed too and the lowest is compared)."""
    from sseflow.workflows.structures.library import get_structure, list_phases

    return [name for name in list_phases("-".join(ELEMENT_PHASES))
            if len(get_structure(name).composition.elements) > 1]


def parse_model(spec: str) -> tuple[str, str, dict]:
    """``chgnet`` / ``sevennet`` (SevenNet-0) / ``sevennet:7net-l3i5`` (or ``7net-l3i5``) ->
    (label, backend name, overrides)."""
    spec = spec.strip()
    low = spec.lower()
    if low.startswith("7net"):
        low = "sevennet:" + low
    name, _, variant = low.partition(":")
    if name not in ("chgnet", "sevennet"):
        raise SystemExit(f"--models: unknown model '{spec}' (chgnet, sevennet, sevennet:7net-l3i5)")
    if name == "sevennet":
        variant = variant or "7net-0"
        return f"sevennet:{variant}", "sevennet", {"model": variant}
    return (f"chgnet:{variant}" if variant else "chgnet"), "chgnet", ({"model": variant} if variant else {})


def mp_lowest(formulas) -> dict[str, tuple[float, int]]:
    """Lowest MP formation energy (eV/atom) of each reduced formula in ``formulas``, with the row count."""
    import csv
    import math

    from sseflow.analysis.formula import reduced_formula_of

    want = set(formulas)
    out: dict[str, tuple[float, int]] = {}
    with open(MP_CSV, newline="") as fh:
        for rec in csv.DictReader(fh):
            try:
                red = reduced_formula_of(rec["formula"])
            except Exception:
                continue
            if red in want:
                e, n = out.get(red, (math.inf, 0))
                out[red] = (min(e, float(rec["target"])), n + 1)
    return out


def relax_model(label: str, backend: str, overrides: dict, names: list[str], fmax: float, steps: int,
                cache_dir: Path) -> tuple[list[dict], dict]:
    """Relax library phases ``names`` (primitive cells) with one model; cached task documents with
    ``cpu_s``/``wall_s`` per phase, reused when fmax and the step limit match."""
    import warnings

    warnings.filterwarnings("ignore")
    from sseflow.workflows.calculators import get_calculator
    from sseflow.workflows.structures.library import get_structure

    cache = cache_dir / (label.replace(":", "_") + ".json")
    docs = json.loads(cache.read_text()) if cache.is_file() else {}
    settings = {"fmax": fmax, "steps": steps}
    if docs.get("_settings") != settings:
        docs = {"_settings": settings}
    c0 = time.process_time()
    calc = get_calculator(backend, **overrides)
    calc.ase_calculator()   # load the weights now, so the load is not charged to the first phase
    meta = {"load_cpu_s": time.process_time() - c0}
    for name in names:
        if name in docs:
            continue
        s = get_structure(name, primitive=True)
        c0, w0 = time.process_time(), time.perf_counter()
        r = calc.relax(s, fmax=fmax, steps=steps)
        d = r.task_document()
        d.update(cpu_s=time.process_time() - c0, wall_s=time.perf_counter() - w0, natoms=len(s), phase=name)
        docs[name] = d
        print(f"  {label:20s} {name:10s} {len(s):3d} atoms {r.n_steps:4d} steps converged={r.converged} "
              f"{d['cpu_s']:.1f} s CPU", file=sys.stderr, flush=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(docs))
    return [docs[n] for n in names], {**meta, "calc": calc}


def model_table(models: list[str], max_structures: int, fmax: float, steps: int, cache_dir: Path,
                as_json: bool = False) -> int:
    """Formation energies of the table phases from each model, against the MP table on two scales:
    the models' own (MP2020: CHGNet as predicted, SevenNet with the MP2020 corrections) and the
    table's (its declared scheme, MP-legacy for the shared matbench table), the computed entries
    converted by ``entries_on_scale``."""
    import math

    import torch

    from sseflow.analysis.formula import parse_formula, reduced_formula_of
    from sseflow.analysis.schemes import declared_scheme
    from sseflow.workflows.computed_entries import entries_from_results, entries_on_scale
    from sseflow.workflows.structures.library import entry_for, get_structure

    torch.set_num_threads(1)
    if not MP_CSV.is_file():
        print(f"shared MP data not found: {MP_CSV}", file=sys.stderr)
        return 2
    table_scheme, how = declared_scheme(MP_CSV)
    table_scheme = table_scheme or "MP2020"
    compounds = library_compounds() if max_structures < 0 else TABLE_PHASES[:max_structures]
    formula = {n: reduced_formula_of(entry_for(n)["formula"]) for n in compounds}
    firsts = {formula[n]: n for n in reversed(compounds)}   # one phase per reduced formula
    elements = sorted({el for n in compounds for el in parse_formula(formula[n])})
    names = [ELEMENT_PHASES[el] for el in elements] + compounds
    mp = mp_lowest(formula.values())
    specs = [parse_model(m) for m in models]
    results: dict[str, dict] = {}
    for label, backend, overrides in specs:
        docs, meta = relax_model(label, backend, overrides, names, fmax, steps, cache_dir)
        entries = entries_from_results(docs, meta["calc"])
        scaled = entries_on_scale(entries, table_scheme)
        by_name = dict(zip(names, docs))
        results[label] = {
            "ef": _lowest(entries, formula, compounds),                  # MP2020 scale
            "ef_table": _lowest(scaled, formula, compounds),             # the table's scale
            "cpu_s": {n: by_name[n]["cpu_s"] for n in names},
            "wall_s": {n: by_name[n]["wall_s"] for n in names},
            "steps": {n: by_name[n]["n_steps"] for n in names},
            "converged": {n: bool(by_name[n]["converged"]) for n in names},
            "load_cpu_s": meta["load_cpu_s"],
        }
    summary = {}
    for label, r in results.items():
        s = {"n": 0}
        for key, tag in (("ef", "mp2020"), ("ef_table", "table")):
            diffs = {n: r[key][n] - mp[formula[n]][0] for n in firsts.values() if formula[n] in mp}
            rest = [abs(d) for n, d in diffs.items() if formula[n] != OUTLIER]
            worst = max(diffs, key=lambda n: abs(diffs[n]))
            s.update({f"mae_{tag}": sum(abs(d) for d in diffs.values()) / len(diffs),
                      f"mae_{tag}_without_Li2PS3": sum(rest) / len(rest) if rest else math.nan,
                      f"mean_{tag}": sum(diffs.values()) / len(diffs),
                      f"max_abs_{tag}": (abs(diffs[worst]), worst), "n": len(diffs)})
        s.update({"cpu_s_per_structure": sum(r["cpu_s"].values()) / len(names),
                  "wall_s_per_structure": sum(r["wall_s"].values()) / len(names),
                  "not_converged": [n for n, c in r["converged"].items() if not c]})
        summary[label] = s
    if as_json:
        print(json.dumps({"mp": {n: mp.get(formula[n]) for n in compounds}, "table_scheme": table_scheme,
                          "models": results, "summary": summary}, indent=1))
        return 0
    print(f"Formation energies (eV/atom) of {len(compounds)} library phases (primitive cells, FIRE + "
          f"FrechetCellFilter, fmax {fmax}, <= {steps} steps, 1 torch thread), each model against its own "
          f"relaxed {', '.join(ELEMENT_PHASES[e] for e in elements)}; MP = lowest row of the reduced formula in "
          f"{MP_CSV.name} (rows of that formula in brackets), on scheme {table_scheme} ({how or 'assumed'}).\n"
          f"Each model's value is on the table's scale (entries_on_scale); diff = model - MP on that scale, "
          f"d2020 = diff before the conversion (the models' MP2020 scale)\n")
    head = f"{'phase':10s} {'formula':9s} {'atoms':>5s} {'MP':>12s}"
    for label in results:
        head += f" {label:>18s} {'diff':>7s} {'d2020':>7s}"
    print(head)
    for n in compounds:
        s = get_structure(n, primitive=True)
        m = mp.get(formula[n])
        line = f"{n:10s} {formula[n]:9s} {len(s):5d} " + (f"{m[0]:8.3f} ({m[1]})" if m else f"{'-':>12s}")
        for label, r in results.items():
            e, e20 = r["ef_table"][n], r["ef"][n]
            line += f" {e:18.3f} " + (f"{e - m[0]:+7.3f} {e20 - m[0]:+7.3f}" if m else f"{'-':>7s} {'-':>7s}")
        print(line)
    print()
    for label, s in summary.items():
        r = results[label]
        print(f"{label:18s} {table_scheme} scale: MAE {s['mae_table']:.3f} eV/atom over {s['n']} "
              f"({s['mae_table_without_Li2PS3']:.3f} without Li4P2S6), mean {s['mean_table']:+.3f}, max |diff| "
              f"{s['max_abs_table'][0]:.3f} ({s['max_abs_table'][1]}) | MP2020 scale: MAE {s['mae_mp2020']:.3f} "
              f"({s['mae_mp2020_without_Li2PS3']:.3f} without Li4P2S6), mean {s['mean_mp2020']:+.3f}")
        print(f"{'':18s} {s['cpu_s_per_structure']:.1f} s CPU ({s['wall_s_per_structure']:.1f} s wall) per structure "
              f"over {len(names)} relaxations ({sum(r['steps'].values())} steps), model load {r['load_cpu_s']:.1f} s CPU"
              + (f"; not converged: {', '.join(s['not_converged'])}" if s["not_converged"] else ""))
    return 0


def _lowest(entries, formula: dict, compounds: list[str]) -> dict[str, float]:
    """{phase name: lowest formation energy among ``entries`` of its reduced formula}."""
    import math

    from sseflow.analysis.formula import reduced_formula_of

    ef: dict[str, float] = {}
    for e in entries:
        red = reduced_formula_of(e.reduced_formula)
        ef[red] = min(ef.get(red, math.inf), e.energy_per_atom)
    return {n: ef[formula[n]] for n in compounds}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chemsys", default="Li-P-S")
    ap.add_argument("--fmax", type=float, default=0.05)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=1, help="relax each phase this many times, keep the fastest")
    ap.add_argument("--variant", choices=["sseflow", "chgnet", "ab"], help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help="print the raw results as JSON")
    ap.add_argument("--validate", action="store_true", help="formation energies and windows vs the MP data")
    ap.add_argument("--cache", default=str(ROOT / "out" / "chgnet_library.json"),
                    help="relaxed library results (reused by --validate)")
    ap.add_argument("--models", help="formation-energy table of these models vs MP: chgnet,sevennet[,sevennet:7net-l3i5]")
    ap.add_argument("--max-structures", type=int, default=len(TABLE_PHASES),
                    help=f"with --models: the first N of {', '.join(TABLE_PHASES)}; -1: every library "
                         "compound whose elements the library holds (one per reduced formula)")
    args = ap.parse_args(argv)
    if args.models:
        return model_table([m for m in args.models.split(",") if m.strip()], args.max_structures, args.fmax,
                           args.steps, ROOT / "out" / "model_table", args.json)
    if args.validate:
        import torch

        torch.set_num_threads(1)
        return validate(Path(args.cache), args.fmax, max(args.steps, 500))
    if args.variant == "ab":
        print(json.dumps(ab_relax(args.chemsys, args.fmax, args.steps, args.repeat)))
        return 0
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.chemsys, args.fmax, args.steps, args.repeat)))
        return 0
    results = {}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for variant in ("chgnet", "sseflow", "ab"):
        p = subprocess.run([sys.executable, __file__, "--variant", variant, "--chemsys", args.chemsys,
                            "--fmax", str(args.fmax), "--steps", str(args.steps), "--repeat", str(args.repeat)],
                           capture_output=True, text=True, env=env, cwd=ROOT)
        if p.returncode != 0:
            sys.stderr.write(p.stderr)
            return p.returncode
        results[variant] = json.loads(p.stdout.strip().splitlines()[-1])
    ab_rows = results.pop("ab")
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    ref, ours = results["chgnet"], results["sseflow"]
    print(f"CHGNet 0.3.0 relaxations of the {args.chemsys} library phases (FIRE + FrechetCellFilter, "
          f"fmax {args.fmax} eV/Å, <= {args.steps} steps, 1 torch thread)\n")
    print(f"{'phase':16s} {'atoms':>5s} {'steps(own)':>10s} {'steps(sse)':>10s} {'cpu own s':>9s} {'cpu sse s':>9s} "
          f"{'ms/atom-step own':>16s} {'ms/atom-step sse':>16s} {'dE meV/at':>9s}")
    tot = {"own": [0.0, 0.0, 0], "sse": [0.0, 0.0, 0]}
    for a, b in zip(ref["rows"], ours["rows"]):
        aspa = 1e3 * a["cpu_s"] / max(1, a["natoms"] * max(1, a["steps"]))
        aspb = 1e3 * b["cpu_s"] / max(1, b["natoms"] * max(1, b["steps"]))
        print(f"{a['name']:16s} {a['natoms']:5d} {a['steps']:10d} {b['steps']:10d} {a['cpu_s']:9.2f} {b['cpu_s']:9.2f} "
              f"{aspa:16.2f} {aspb:16.2f} {1e3 * (b['energy_per_atom'] - a['energy_per_atom']):9.2f}")
        for k, r in (("own", a), ("sse", b)):
            tot[k][0] += r["cpu_s"]
            tot[k][1] += r["wall_s"]
            tot[k][2] += r["natoms"] * max(1, r["steps"])
    o_cpu, s_cpu = tot["own"][0], tot["sse"][0]
    print(f"\n(separate processes) total relax CPU: own {o_cpu:.1f} s, sseflow {s_cpu:.1f} s (wall {tot['own'][1]:.1f} / {tot['sse'][1]:.1f} s)")
    print(f"time per atom-step: own {1e3 * o_cpu / tot['own'][2]:.2f} ms, sseflow {1e3 * s_cpu / tot['sse'][2]:.2f} ms")
    print(f"sseflow overhead on relaxations: {100 * (s_cpu / tot['sse'][2]) / (o_cpu / tot['own'][2]) - 100:+.1f} % "
          f"per atom-step ({100 * (s_cpu - o_cpu) / o_cpu:+.1f} % in total CPU)")
    print("\nSame process, interleaved (the robust comparison: one model, only the layers differ):")
    print(f"{'phase':16s} {'atoms':>5s} {'steps':>5s} {'cpu own s':>9s} {'cpu sse s':>9s} {'ms/atom-step own':>16s} "
          f"{'ms/atom-step sse':>16s}")
    o_tot = s_tot = n_tot = 0.0
    for r in ab_rows:
        n = r["natoms"] * max(1, r["steps"])
        print(f"{r['name']:16s} {r['natoms']:5d} {r['steps']:5d} {r['own_cpu_s']:9.2f} {r['sse_cpu_s']:9.2f} "
              f"{1e3 * r['own_cpu_s'] / n:16.2f} {1e3 * r['sse_cpu_s'] / n:16.2f}")
        o_tot += r["own_cpu_s"]
        s_tot += r["sse_cpu_s"]
        n_tot += n
    print(f"total: own {o_tot:.2f} s, sseflow {s_tot:.2f} s CPU; {1e3 * o_tot / n_tot:.2f} vs {1e3 * s_tot / n_tot:.2f} "
          f"ms/atom-step; sseflow overhead {100 * (s_tot / o_tot - 1):+.1f} %\n")
    sa, sb = ref["single_point"], ours["single_point"]
    print(f"single point {sa['cell']}: own {sa['cpu_s']:.2f} s, sseflow {sb['cpu_s']:.2f} s CPU "
          f"({100 * (sb['cpu_s'] - sa['cpu_s']) / sa['cpu_s']:+.1f} %); "
          f"{1e3 * sa['cpu_s'] / sa['natoms']:.1f} vs {1e3 * sb['cpu_s'] / sb['natoms']:.1f} ms/atom")
    ab = ours.get("single_point_ab")
    if ab:
        print(f"single point, same process interleaved: CHGNet predict_structure {ab['direct_cpu_s']:.3f} s, "
              f"sseflow static {ab['sseflow_cpu_s']:.3f} s ({100 * (ab['sseflow_cpu_s'] / ab['direct_cpu_s'] - 1):+.1f} %)")
    print(f"model load CPU: own {ref['load_cpu_s']:.1f} s, sseflow {ours['load_cpu_s']:.1f} s")
    print(f"peak RSS: own {ref['peak_rss_mb']:.0f} MB, sseflow {ours['peak_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
