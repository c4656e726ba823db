"""Benchmark: interfacial reactions with sseflow vs pymatgen's InterfacialReactivity, in one run.

Two sections, both chemical (closed-system) reactions on the shared Materials Project set:

* ``grid``: 20 electrolytes (``TWENTY``) x 10 partners (Li, Si, Li15Si4, LiSi, LiF, Li3N,
  Li3PO4, Li2O, LiCl, Li2S), in-process on both sides (details below).
* ``pairs``: many pairs in one process. 19 common solid electrolytes and interlayers
  (``MANY``: thiophosphates, argyrodites, LGPS, LLZO, LATP, halides, Li3PO4, LiPON-like
  Li2PO2N, LiF, Li3N, Li2O, Li2S, LiI, LiCl, LiNbO3) each against Li, Si, LiSi, Li15Si4 and the
  18 others: 19 x 22 = 418 ordered pairs, 154 chemical systems up to 7 elements. sseflow runs
  them as ONE command, ``sseflow react --pairs FILE --json`` in a subprocess (timed whole:
  interpreter start, imports, reference load from its cache, output), and in-process with
  one ``ReactionCalculator``; pymatgen in-process as in ``grid`` (one cached ``PhaseDiagram``
  per chemical system, entries handed over, imports not timed). The minima of all three must
  agree within 1e-6 eV/atom; mismatches are listed. A sample of separate single-pair
  commands (``--separate K``) shows what one process per pair costs.

Section ``grid``:

* sseflow: one :class:`ReactionCalculator` (LPs cached per chemical system), every kink exact.
* pymatgen: ``InterfacialReactivity(B, A, pd, norm=True, use_hull_energy=False)`` on the same
  entries (formation energies as ``PDEntry``), one ``PhaseDiagram`` per chemical system
  (cached: the strongest baseline). A pymatgen user must also pick the entries of each
  chemical system; that selection is timed both ways: scanning the full entry list (what a
  user with a list of entries does) and taken from sseflow's index (free).
  The ratio reported as *the* ratio is the conservative one: pymatgen with cached phase
  diagrams and free entry selection.
* Agreement: the minimum of each pair (energy and x), and the whole curve: sseflow's exact
  E_rxn at each of pymatgen's kinks.
* Memory: peak traced allocations (tracemalloc) of each route, in separate passes so that
  tracing does not slow the timed passes; and the process' peak RSS.

Run:  .venv/bin/python benchmarks/reactions.py [--only grid|pairs] [--no-memory] [--separate K]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import MP_CSV, TWENTY  # noqa: E402

from sseflow.analysis.crosscheck import pmg_entries  # noqa: E402
from sseflow.analysis.formula import parse_formula  # noqa: E402
from sseflow.analysis.reactions import ReactionCalculator  # noqa: E402
from sseflow.analysis.reference import load_reference  # noqa: E402

PARTNERS = ("Li", "Si", "Li15Si4", "LiSi", "LiF", "Li3N", "Li3PO4", "Li2O", "LiCl", "Li2S")

# the many-pairs section: common solid electrolytes and interlayers, each against the anodes
# and against each other (Li3YCl6, Li2ZrCl6 and LATP are not in the set: taken on the hull)
MANY = ("Li3PS4 Li7P3S11 Li6PS5Cl Li6PS5Br Li10GeP2S12 Li7La3Zr2O12 Li1.3Al0.3Ti1.7(PO4)3 Li3YCl6 "
        "Li3InCl6 Li2ZrCl6 Li3PO4 Li2PO2N LiF Li3N Li2O Li2S LiI LiCl LiNbO3").split()
ANODES = ("Li", "Si", "LiSi", "Li15Si4")
TOL_MEV = 1e-3      # 1e-6 eV/atom


def pairs():
    return [(a, b) for a in TWENTY for b in PARTNERS]


def many_pairs():
    return [(a, b) for a in MANY for b in (*ANODES, *(x for x in MANY if x != a))]


def chemsys(a, b):
    return frozenset(parse_formula(a)) | frozenset(parse_formula(b))


def run_sseflow(ref, pair_list=None):
    rc = ReactionCalculator(ref)
    return {(a, b): rc.react(a, b) for a, b in (pair_list or pairs())}


def select_by_scanning(all_pmg, els):
    from pymatgen.core import Element

    want = {Element(e) for e in els}
    return [e for e in all_pmg if set(e.composition.elements) <= want]


class Clock:
    """Wall and CPU seconds accumulated over the timed blocks."""

    def __init__(self):
        self.wall = self.cpu = 0.0

    def __enter__(self):
        self._w, self._c = time.perf_counter(), time.process_time()

    def __exit__(self, *exc):
        self.wall += time.perf_counter() - self._w
        self.cpu += time.process_time() - self._c


def run_pymatgen(ref, all_pmg=None, pair_list=None):
    """(results, clocks for: selecting entries, phase diagrams, InterfacialReactivity, number of systems)."""
    from pymatgen.analysis.interface_reactions import InterfacialReactivity
    from pymatgen.analysis.phase_diagram import PhaseDiagram
    from pymatgen.core import Composition

    pds = {}
    sel, pdc, irc = Clock(), Clock(), Clock()
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for a, b in (pair_list or pairs()):
            key = chemsys(a, b)
            if key not in pds:
                with sel:
                    ents = select_by_scanning(all_pmg, key) if all_pmg is not None else pmg_entries(ref.entries_in(key))
                with pdc:
                    pds[key] = PhaseDiagram(ents)
            with irc:
                ir = InterfacialReactivity(Composition(b), Composition(a), pds[key], norm=True, use_hull_energy=False)
                kinks = [(float(x), float(e) * 1000.0, r) for _, x, e, r, _ in ir.get_kinks()]
                m = min(kinks, key=lambda k: k[1])
            out[(a, b)] = (kinks, m)
    return out, sel, pdc, irc, len(pds)


def compare(ours, theirs):
    worst_min = worst_curve = worst_x = 0.0
    kink_mismatch = []
    rows = []
    for key, r in ours.items():
        kinks, (x, e, _) = theirs[key]
        d_min = abs(r.minimum.energy_meV_per_atom - e)
        worst_min = max(worst_min, d_min)
        if e < -1.0:
            worst_x = max(worst_x, abs(r.minimum.x - x))
        for xk, ek, _ in kinks:
            worst_curve = max(worst_curve, abs(r.energy_at(xk) - ek))
        if len(kinks) != len(r.kinks):
            kink_mismatch.append((key, len(r.kinks), len(kinks)))
        rows.append((key, r.minimum.energy_meV_per_atom, e, d_min, r.minimum.products))
    return worst_min, worst_x, worst_curve, kink_mismatch, rows


def peak_memory(fn, *args):
    tracemalloc.start()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def grid_section(ref, t_load, args):
    """20 electrolytes x 10 partners, in-process on both sides."""
    n = len(pairs())
    print(f"== grid: {len(TWENTY)} electrolytes x {len(PARTNERS)} partners = {n} chemical reactions")

    ck = Clock()
    with ck:
        ours = run_sseflow(ref)
    t_ours, c_ours = ck.wall, ck.cpu
    n_kinks = sum(len(r.kinks) for r in ours.values())

    import pymatgen.analysis.interface_reactions  # noqa: F401  (import cost not timed)
    from pymatgen.analysis.phase_diagram import PDEntry
    from pymatgen.core import Composition

    t = time.perf_counter()
    all_pmg = [PDEntry(Composition(e.composition), e.energy_per_atom * e.natoms, name=e.name) for e in ref.entries]
    t_pmg_load = time.perf_counter() - t

    theirs, sel_i, pd_i, ir_i, n_sys = run_pymatgen(ref)
    _, sel_s, pd_s, ir_s, _ = run_pymatgen(ref, all_pmg)

    worst_min, worst_x, worst_curve, mismatch, rows = compare(ours, theirs)
    if args.verbose:
        print(f"\n{'pair':34s} {'sseflow':>9s} {'pymatgen':>9s} {'diff':>9s}  products at the minimum")
        for (a, b), e1, e2, d, prods in rows:
            print(f"{a + ' | ' + b:34s} {e1:9.2f} {e2:9.2f} {d:9.2e}  {', '.join(prods)}")

    pm_core = pd_i.wall + ir_i.wall
    pm_scan = sel_s.wall + pd_s.wall + ir_s.wall
    print(f"\nreference load: sseflow {t_load:.2f} s; pymatgen PDEntry objects for all {len(all_pmg)} rows "
          f"{t_pmg_load:.2f} s (not counted below)")
    print(f"sseflow:  {t_ours:.3f} s for {n} pairs ({t_ours / n * 1000:.2f} ms/pair, {n_kinks} kinks, "
          f"phase spaces of {n_sys} chemical systems built inside this time)")
    print(f"pymatgen: {pm_core:.3f} s with the entries handed over (PhaseDiagram {pd_i.wall:.3f} s for {n_sys} "
          f"systems + InterfacialReactivity {ir_i.wall:.3f} s; making their PDEntry objects from sseflow's "
          f"index took another {sel_i.wall:.3f} s, not counted)")
    print(f"pymatgen: {pm_scan:.3f} s selecting entries by scanning the full list "
          f"(selection {sel_s.wall:.3f} s + PhaseDiagram {pd_s.wall:.3f} s + InterfacialReactivity {ir_s.wall:.3f} s)")
    print(f"ratio (reported; pymatgen with cached PhaseDiagrams, entries handed over): {pm_core / t_ours:.1f}x "
          f"(goal >= 10x)")
    print(f"ratio with selection by scanning: {pm_scan / t_ours:.1f}x")
    c_core, c_scan = pd_i.cpu + ir_i.cpu, sel_s.cpu + pd_s.cpu + ir_s.cpu
    print(f"CPU seconds of this process (less sensitive to other load on the machine): sseflow {c_ours:.3f}, "
          f"pymatgen {c_core:.3f} (ratio {c_core / c_ours:.1f}x), with scanning {c_scan:.3f} "
          f"({c_scan / c_ours:.1f}x)")
    print(f"largest disagreement of the minima: {worst_min:.2e} meV/atom (goal <= 1); of their x: {worst_x:.1e}")
    print(f"largest disagreement along the curves (sseflow's E_rxn at every pymatgen kink): {worst_curve:.2e} meV/atom")
    print(f"pairs with a different number of kinks: {len(mismatch)}"
          + (f" {mismatch[:5]}" if mismatch else ""))

    if not args.no_memory:
        ref2 = load_reference(MP_CSV)
        m_ours = peak_memory(run_sseflow, ref2)
        m_pmg = peak_memory(run_pymatgen, ref2)
        print(f"peak traced memory: sseflow {m_ours:.1f} MiB, pymatgen route {m_pmg:.1f} MiB (separate passes)")
    print(f"peak resident memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")

def sseflow_command() -> list[str]:
    exe = Path(sys.executable).parent / "sseflow"
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "sseflow.workflows.cli.main"]


def run_cli(args):
    """(completed process, wall seconds, CPU seconds of the child) of one ``sseflow`` command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run([*sseflow_command(), *args], capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"sseflow {' '.join(args[:3])} ... failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    return r, wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def pairs_section(ref, t_load, args):
    """418 pairs: one ``sseflow react --pairs`` process and one in-process ReactionCalculator
    against pymatgen in-process; the minima of the three compared."""
    plist = many_pairs()
    n = len(plist)
    n_sys = len({chemsys(a, b) for a, b in plist})
    print(f"\n== many pairs: {len(MANY)} electrolytes/interlayers x ({len(ANODES)} anodes + {len(MANY) - 1} others) "
          f"= {n} chemical reactions, {n_sys} chemical systems")

    # sseflow, one process for all pairs (the reference cache is warm: load_reference ran above)
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "pairs.csv"
        f.write_text("A,B\n" + "".join(f"{a},{b}\n" for a, b in plist))
        r, t_cli, c_cli = run_cli(["react", "--pairs", str(f), "--reference", str(MP_CSV), "--json"])
    docs = json.loads(r.stdout)
    assert len(docs) == n, f"{len(docs)} documents for {n} pairs"
    cli = {(d["reactant_a"], d["reactant_b"]): d["minimum"] for d in docs}

    # sseflow in-process: one ReactionCalculator
    ck = Clock()
    with ck:
        ours = run_sseflow(ref, plist)
    n_kinks = sum(len(x.kinks) for x in ours.values())

    # pymatgen in-process: one PhaseDiagram per chemical system (cached), entries handed over
    import pymatgen.analysis.interface_reactions  # noqa: F401  (import cost not timed)

    theirs, sel, pdc, irc, _ = run_pymatgen(ref, pair_list=plist)
    t_pmg, c_pmg = pdc.wall + irc.wall, pdc.cpu + irc.cpu

    # separate processes, one per pair (a sample, extrapolated)
    t_sep = None
    if args.separate > 0:
        step = max(1, n // args.separate)
        sample = plist[::step][: args.separate]
        t = time.perf_counter()
        for a, b in sample:
            run_cli(["react", a, b, "--reference", str(MP_CSV), "--json"])
        t_sep = (time.perf_counter() - t) / len(sample)

    # agreement of the minima (meV/atom; 1e-3 meV = 1e-6 eV)
    worst_pmg = worst_cli = 0.0
    bad = []
    for key, res in ours.items():
        e_ours = res.minimum.energy_meV_per_atom
        e_cli = cli[key]["energy_meV_per_atom"]
        e_pmg = theirs[key][1][1]
        d_pmg, d_cli = abs(e_ours - e_pmg), abs(e_ours - e_cli)
        worst_pmg, worst_cli = max(worst_pmg, d_pmg), max(worst_cli, d_cli)
        if d_pmg > TOL_MEV or abs(e_cli - e_pmg) > TOL_MEV:
            bad.append((key, e_cli, e_ours, e_pmg))
    if args.verbose:
        print(f"\n{'pair':40s} {'sseflow':>10s} {'pymatgen':>10s} {'diff':>9s}  products at the minimum")
        for (a, b), res in ours.items():
            e1, e2 = res.minimum.energy_meV_per_atom, theirs[(a, b)][1][1]
            print(f"{a + ' | ' + b:40s} {e1:10.3f} {e2:10.3f} {abs(e1 - e2):9.1e}  {', '.join(res.minimum.products)}")

    print(f"sseflow, one command `sseflow react --pairs FILE --json` (subprocess, timed whole): {t_cli:.2f} s wall, "
          f"{c_cli:.2f} s CPU ({t_cli / n * 1000:.1f} ms/pair)")
    print(f"sseflow in-process, one ReactionCalculator: {ck.wall:.3f} s wall, {ck.cpu:.3f} s CPU "
          f"({ck.wall / n * 1000:.2f} ms/pair, {n_kinks} kinks; reference load {t_load:.2f} s not counted)")
    print(f"pymatgen in-process: {t_pmg:.2f} s wall, {c_pmg:.2f} s CPU (PhaseDiagram {pdc.wall:.2f} s for {n_sys} "
          f"systems + InterfacialReactivity {irc.wall:.2f} s; entries handed over, imports and PDEntry "
          f"objects ({sel.wall:.2f} s) not counted)")
    if t_sep is not None:
        print(f"separate `sseflow react A B --json` commands: {t_sep:.2f} s each (sample of "
              f"{min(args.separate, n)}), about {t_sep * n:.0f} s for the {n} pairs")
    print(f"ratio pymatgen in-process / sseflow one command: {t_pmg / t_cli:.1f}x wall, {c_pmg / c_cli:.1f}x CPU "
          f"(goal >= 10x)")
    print(f"ratio pymatgen in-process / sseflow in-process: {t_pmg / ck.wall:.1f}x wall, {c_pmg / ck.cpu:.1f}x CPU")
    if t_sep is not None:
        print(f"one command instead of {n} separate ones: {t_sep * n / t_cli:.0f}x faster")
    print(f"largest disagreement of the minima: sseflow vs pymatgen {worst_pmg:.2e} meV/atom, "
          f"command vs in-process {worst_cli:.2e} meV/atom (tolerance {TOL_MEV:g} meV/atom = 1e-6 eV/atom)")
    print(f"pairs whose minima disagree beyond the tolerance: {len(bad)}")
    for (a, b), e_cli, e_ours, e_pmg in bad[:20]:
        print(f"  {a} | {b}: sseflow command {e_cli:.6f}, in-process {e_ours:.6f}, pymatgen {e_pmg:.6f} meV/atom")
    return not bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=("grid", "pairs"), default=None, help="run one section only")
    ap.add_argument("--no-memory", action="store_true", help="skip the traced-memory passes (grid)")
    ap.add_argument("--separate", type=int, default=10, metavar="K",
                    help="time K separate single-pair commands of the pairs section (0: skip)")
    ap.add_argument("--verbose", action="store_true", help="print every pair")
    args = ap.parse_args()
    if not MP_CSV.is_file():
        sys.exit(f"shared data not found: {MP_CSV}")

    t = time.perf_counter()
    ref = load_reference(MP_CSV)
    t_load = time.perf_counter() - t
    ok = True
    if args.only in (None, "grid"):
        grid_section(ref, t_load, args)
    if args.only in (None, "pairs"):
        ok = pairs_section(ref, t_load, args)
    if not ok:
        sys.exit(1)

if __name__ == "__main__":
    main()
