"""Blind recovery of known library phases by the ML structure search.

For each case the search runs without the library structure, then every accepted candidate is
compared with the library CIF (pymatgen StructureMatcher). Reported: whether the lowest-energy
candidate is the library phase, the first trial whose candidate matches it, its energy relative
to the best, and the wall time.

    .venv/bin/python benchmarks/structure_search.py                 # all cases, CHGNet
    .venv/bin/python benchmarks/structure_search.py --case Li2S-Z1 --trials 6
    .venv/bin/python benchmarks/structure_search.py --given-cell --case Li3P-Z2-P63/mmc

``--given-cell``: the search is given the library phase's conventional cell (what a powder pattern
indexes) and only the coordinates are searched (``search(..., lattice=...)``: draws in that cell,
relaxed first with it fixed, then free), the situation of a phase whose cell is published without
coordinates.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

# name: (formula, library phase, space group given or None, Z in the primitive cell, trials)
CASES = {
    "Li2S-Z1-Fm-3m": ("Li2S", "Li2S", 225, 1, 3),
    "Li2S-Z1": ("Li2S", "Li2S", None, 1, 12),
    "Li3P-Z2-P63/mmc": ("Li3P", "Li3P", 194, 2, 4),
    "Li3P-Z2": ("Li3P", "Li3P", None, 2, 12),
    "Li3P-Z2-P63/mmc-40": ("Li3P", "Li3P", 194, 2, 40),
    "Li3PS4-gamma-Z2-Pmn21": ("Li3PS4", "Li3PS4-gamma", 31, 2, 30),
    "SiP2-Z8-Pbam": ("SiP2", "SiP2-Pbam", 55, 8, 20),
    "LiSi-Z8-I41/a": ("LiSi", "LiSi", 88, 8, 40),
}


def run_case(name, formula, phase, sg, z, trials, calculator, seed, given_cell=False):
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from sseflow.workflows.structures.library import get_structure
    from sseflow.workflows.structures.search import search

    ref = get_structure(phase)
    sm = StructureMatcher()
    lattice = None
    if given_cell:
        from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

        lattice = SpacegroupAnalyzer(ref, symprec=0.1).get_conventional_standard_structure().lattice
    t0 = time.perf_counter()
    res = search(formula, spacegroup=sg, formula_units=z, trials=trials, calculator=calculator, seed=seed,
                 lattice=lattice, lattice_source=f"the library's {phase} cell" if given_cell else None)
    wall = time.perf_counter() - t0
    first = None
    for c in res.candidates:
        if c.status == "accepted" and sm.fit(c.structure, ref):
            first = c
            break
    best = res.best
    row = {"case": name + (" (cell given)" if given_cell else ""), "formula": formula, "spacegroup_given": sg,
           "z": z, "trials": trials,
           "accepted": sum(c.status == "accepted" for c in res.candidates), "distinct": len(res.distinct),
           "best_spacegroup": best.spacegroup_symbol if best else None,
           "best_matches_library": bool(best is not None and sm.fit(best.structure, ref)),
           "first_matching_trial": first.trial if first else None,
           "match_rel_meV": (1000 * (first.energy_per_atom - best.energy_per_atom) if first else None),
           "gap_meV": res.gap_meV, "wall_s": round(wall, 1),
           "table": [(r["rank"], r["spacegroup"], round(r["energy_per_atom"], 4), round(r["relative_energy_meV"], 1),
                      r["trial"], r["duplicates"]) for r in res.table()]}
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", choices=sorted(CASES))
    ap.add_argument("--trials", type=int, default=None, help="override each case's trials")
    ap.add_argument("--calculator", default="chgnet")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--given-cell", action="store_true", help="search the coordinates in the library phase's cell")
    a = ap.parse_args(argv)
    rows = []
    for name in a.case or CASES:
        formula, phase, sg, z, trials = CASES[name]
        if a.given_cell and sg is None:
            continue                    # a given cell comes with its space group
        row = run_case(name, formula, phase, sg, z, a.trials or trials, a.calculator, a.seed, a.given_cell)
        rows.append(row)
        if not a.json:
            print(f"{row['case']:<30} best {row['best_spacegroup']!s:<10} library match: "
                  f"{'yes' if row['best_matches_library'] else 'no ':<3} first matching trial "
                  f"{row['first_matching_trial']!s:<4} ({row['accepted']}/{row['trials']} accepted, "
                  f"{row['distinct']} distinct, gap {row['gap_meV'] if row['gap_meV'] is None else round(row['gap_meV'], 1)} "
                  f"meV/atom) {row['wall_s']} s", flush=True)
            for r in row["table"]:
                print(f"    #{r[0]} {r[1]!s:<10} {r[2]:>9} eV/atom {r[3]:>7} meV/atom  trial {r[4]} (+{r[5]} dup)",
                      flush=True)
    if a.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
