"""Benchmark: stability windows with sseflow vs the pymatgen route, in one run.

1. 20 common solid electrolytes, in process: sseflow (indexed reference set,
   LP windows with the full Li profile) against the pymatgen route (select the chemical
   system's entries from the full list, PhaseDiagram, get_element_profile). Times, ratio,
   largest disagreement, peak memory.
2. Whole commands in fresh processes: `sseflow window <the 20> --json` against a fresh Python
   process running the pymatgen route (parse the CSV with pymatgen, then as above).
3. Scaling: windows of every distinct Li-containing composition in the shared set with sseflow,
   and the pymatgen route on a random sample of 200; time per window by number of elements.

Run:  .venv/bin/python benchmarks/windows.py [--skip-scaling] [--sample 200]
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MP_CSV, TWENTY  # noqa: E402

from sseflow.analysis.crosscheck import pymatgen_window  # noqa: E402
from sseflow.analysis.formula import parse_formula  # noqa: E402
from sseflow.analysis.reference import load_reference  # noqa: E402
from sseflow.analysis.window import WindowCalculator  # noqa: E402

PMG_LOAD = """
import csv
from pymatgen.core import Composition
from pymatgen.analysis.phase_diagram import PDEntry
def load_pmg(path):
    out = []
    with open(path) as fh:
        for row in csv.DictReader(fh):
            c = Composition(row["formula"])
            out.append(PDEntry(c, float(row["target"]) * c.num_atoms, name=row["formula"]))
    return out
"""
PMG_WINDOWS = """
from pymatgen.analysis.phase_diagram import PhaseDiagram
from pymatgen.core import Composition, Element
def pmg_route(formulas, all_entries):
    out = {}
    for f in formulas:
        comp = Composition(f)
        els = set(comp.elements) | {Element("Li")}
        ents = [e for e in all_entries if set(e.composition.elements) <= els]
        pd = PhaseDiagram(ents)
        out[f] = pd.get_element_profile(Element("Li"), comp)
    return out
"""


def section(title):
    print(f"\n== {title} ==")


def in_process(ref, formulas):
    section("20 electrolytes, in process")
    ns: dict = {}
    exec(PMG_LOAD, ns)
    t = time.perf_counter()
    pmg_all = ns["load_pmg"](MP_CSV)
    t_pmg_load = time.perf_counter() - t

    tracemalloc.start()
    t = time.perf_counter()
    calc = WindowCalculator(ref)
    ours = {f: calc.window(f) for f in formulas}
    t_ours = time.perf_counter() - t
    peak_ours = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    from pymatgen.analysis.phase_diagram import PhaseDiagram
    from pymatgen.core import Composition, Element

    tracemalloc.start()
    t = time.perf_counter()
    theirs = {}
    for f in formulas:
        comp = Composition(f)
        els = set(comp.elements) | {Element("Li")}
        ents = [e for e in pmg_all if set(e.composition.elements) <= els]
        pd = PhaseDiagram(ents)
        theirs[f] = pymatgen_window(f, [], pd=pd)[:2]
    t_pmg = time.perf_counter() - t
    peak_pmg = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    worst = 0.0
    print(f"{'material':24s} {'sseflow V_red..V_ox':>20s} {'pymatgen V_red..V_ox':>22s}  diff (mV)")
    for f in formulas:
        w = ours[f]
        vr, vo = theirs[f]
        d = max(abs(w.reduction_V - vr), abs((w.oxidation_V or 0) - (vo or 0))) * 1000
        worst = max(worst, d)
        print(f"{f:24s} {w.reduction_V:8.3f} .. {w.oxidation_V if w.oxidation_V is not None else float('nan'):6.3f}"
              f"   {vr:8.3f} .. {vo if vo is not None else float('nan'):6.3f}   {d:8.4f}")
    print(f"\nreference load: sseflow {ref.load_seconds:.2f} s (cached parse keyed by content hash), "
          f"pymatgen CSV parse {t_pmg_load:.2f} s")
    print(f"20 windows: sseflow {t_ours:.3f} s (with full Li profiles), pymatgen route {t_pmg:.3f} s, "
          f"ratio {t_pmg / t_ours:.1f}x (goal >= 20x)")
    print(f"largest disagreement: {worst:.4f} mV (goal <= 1 mV)")
    print(f"peak traced memory: sseflow {peak_ours / 2**20:.1f} MiB, pymatgen route {peak_pmg / 2**20:.1f} MiB")
    return t_ours, t_pmg, worst


def fresh_processes(formulas):
    section("whole commands in fresh processes")
    exe = Path(sys.executable).with_name("sseflow")
    cmd = [str(exe), "window", *formulas, "--reference", str(MP_CSV), "--json"]
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        env["SSEFLOW_CACHE_DIR"] = cache
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        t_cold = time.perf_counter() - t
        assert r.returncode == 0, r.stderr
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
            runs.append(time.perf_counter() - t)
    t_warm = min(runs)
    script = PMG_LOAD + PMG_WINDOWS + textwrap.dedent(f"""
        pmg_route({list(formulas)!r}, load_pmg({str(MP_CSV)!r}))
    """)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    t_pmg = time.perf_counter() - t
    print(f"sseflow window <20> --json: {t_warm:.2f} s (first run, building the cache: {t_cold:.2f} s)")
    print(f"fresh Python, pymatgen route: {t_pmg:.2f} s")
    print(f"ratio {t_pmg / t_warm:.1f}x with the cache (goal >= 10x), {t_pmg / t_cold:.1f}x on the first run")


def scaling(ref, sample_size, seed=1):
    section("scaling: every distinct Li-containing composition")
    from sseflow.analysis.formula import reduced_formula

    seen = {}
    for e in ref.entries:
        if "Li" in e.composition and len(e.composition) > 1:
            seen.setdefault(reduced_formula(e.composition), e.composition)
    formulas = sorted(seen)
    calc = WindowCalculator(ref)
    per_n = defaultdict(list)
    t0 = time.perf_counter()
    last = t0
    for i, f in enumerate(formulas):
        t = time.perf_counter()
        calc.window(seen[f], profile=False)
        per_n[len(seen[f])].append(time.perf_counter() - t)
        if time.perf_counter() - last > 10:
            last = time.perf_counter()
            print(f"  ... {i + 1}/{len(formulas)} windows, {last - t0:.0f} s", flush=True)
    total = time.perf_counter() - t0
    print(f"sseflow: {len(formulas)} windows in {total:.1f} s ({total / len(formulas) * 1000:.2f} ms each; "
          f"goal: all in < 120 s)")

    from pymatgen.analysis.phase_diagram import PhaseDiagram
    from sseflow.analysis.crosscheck import pmg_entries

    rnd = random.Random(seed)
    sample = rnd.sample(formulas, min(sample_size, len(formulas)))
    pmg_n = defaultdict(list)
    worst = 0.0
    for f in sample:
        comp = seen[f]
        t = time.perf_counter()
        ents = ref.entries_in(set(comp) | {"Li"})
        pd = PhaseDiagram(pmg_entries(ents))
        vr, vo, _ = pymatgen_window(f, [], pd=pd)
        pmg_n[len(comp)].append(time.perf_counter() - t)
        w = calc.window(comp, profile=False)
        worst = max(worst, abs(w.reduction_V - vr) * 1000, abs((w.oxidation_V or 0) - (vo or 0)) * 1000)
    print(f"pymatgen route on a random sample of {len(sample)} (entries picked by sseflow's index, "
          f"so only PhaseDiagram + get_element_profile is timed); largest disagreement {worst:.4f} mV")
    print(f"{'elements':>8s} {'n sseflow':>10s} {'ms/window':>10s} {'n pymatgen':>11s} {'ms/window':>10s} {'ratio':>7s}")
    for n in sorted(per_n):
        a = per_n[n]
        b = pmg_n.get(n, [])
        ma = sum(a) / len(a) * 1000
        mb = sum(b) / len(b) * 1000 if b else float("nan")
        print(f"{n:8d} {len(a):10d} {ma:10.2f} {len(b):11d} {mb:10.2f} {mb / ma:7.1f}")
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--sample", type=int, default=200)
    args = ap.parse_args()
    if not MP_CSV.is_file():
        sys.exit(f"shared data not found: {MP_CSV}")
    import resource

    t = time.perf_counter()
    ref = load_reference(MP_CSV)
    ref.load_seconds = time.perf_counter() - t
    in_process(ref, TWENTY)
    fresh_processes(TWENTY)
    if not args.skip_scaling:
        scaling(ref, args.sample)
    print(f"\npeak resident memory of this benchmark process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
