"""Benchmark: interfacial reactions with sseflow vs pymatgen's InterfacialReactivity, in one run.

20 electrolytes (``TWENTY``) x 10 partners (Li, Si, Li15Si4, LiSi, LiF, Li3N, Li3PO4, Li2O,
LiCl, Li2S) from the shared Materials Project set, chemical (closed-system) reactions.

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

Run:  .venv/bin/python benchmarks/reactions.py [--no-memory]
"""
from __future__ import annotations

import argparse
import resource
import sys
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


def pairs():
    return [(a, b) for a in TWENTY for b in PARTNERS]


def chemsys(a, b):
    return frozenset(parse_formula(a)) | frozenset(parse_formula(b))


def run_sseflow(ref):
    rc = ReactionCalculator(ref)
    return {(a, b): rc.react(a, b) for a, b in pairs()}


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


def run_pymatgen(ref, all_pmg=None):
    """(results, clocks for: selecting entries, phase diagrams, InterfacialReactivity, number of systems)."""
    from pymatgen.analysis.interface_reactions import InterfacialReactivity
    from pymatgen.analysis.phase_diagram import PhaseDiagram
    from pymatgen.core import Composition

    pds = {}
    sel, pdc, irc = Clock(), Clock(), Clock()
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for a, b in pairs():
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-memory", action="store_true", help="skip the traced-memory passes")
    ap.add_argument("--verbose", action="store_true", help="print every pair")
    args = ap.parse_args()
    if not MP_CSV.is_file():
        sys.exit(f"shared data not found: {MP_CSV}")
    n = len(pairs())
    print(f"{len(TWENTY)} electrolytes x {len(PARTNERS)} partners = {n} chemical reactions")

    t = time.perf_counter()
    ref = load_reference(MP_CSV)
    t_load = time.perf_counter() - t

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


if __name__ == "__main__":
    main()
