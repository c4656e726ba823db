"""First-principles check of the Li-P-S(-Cl) energetics: GPAW PBE statics on CHGNet-relaxed cells.

For the library's Li-P-S-Cl phases (Li, P, S, Cl2, Li2S, Li3P, LiCl, gamma-Li3PS4, Li4P2S6, Li7P3S11,
Li6PS5Cl), takes each CHGNet-relaxed primitive cell (the cache of ``benchmarks/backends.py --models``
in out/model_table/chgnet.json when it is there, else a CHGNet relaxation here) and runs a GPAW
plane-wave PBE single point through sseflow's GPAW backend, every phase with the same settings
(default 350 eV, k-point density 2.5 per Å^-1, gamma-centred, Fermi-Dirac 0.05 eV, no spin, one
process). Results are cached per phase in out/gpaw_check/results.json (keyed by the settings), so an
interrupted run resumes where it stopped; ``--max-minutes`` stops starting new phases after that long.

It prints

* per phase: atoms, k-point mesh, GPAW CPU/wall time, the GPAW formation energy (raw PBE, against
  GPAW's own elements) and with the MP-legacy and MP2020 corrections added (those were fitted to
  VASP PBE with MP's PAW potentials: an approximation for GPAW), the CHGNet one (MP2020 scale and
  converted to MP-legacy) and the MP table's lowest row (its scale is MP-legacy);
* reaction energies that need no correction scheme (the S atoms in compounds balance):
  2 Li3PS4 + 2 Li -> Li4P2S6 + 2 Li2S, and Li6PS5Cl -> Li3PS4 + Li2S + LiCl, from GPAW, each ML
  model whose relaxations are cached, and the MP table;
* stability windows (analysis/window.py) of Li3PS4 and Li6PS5Cl from the GPAW entries alone (raw
  PBE, and with each correction scheme), from CHGNet entries of the same phases, from the MP table
  restricted to those formulas, and from the whole MP table.

    .venv/bin/python benchmarks/gpaw_check.py [--phases Li,Li2S,...] [--ecut 350] [--kdensity 2.5]
                                              [--max-minutes 30] [--report-only] [--json]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MP_CSV = ROOT.parent / "shared" / "data" / "mp_formation_energies.csv"
MODEL_CACHE = ROOT / "out" / "model_table"
OUT = ROOT / "out" / "gpaw_check"

# cheapest first; S (32 atoms) and Li7P3S11 (42 atoms) last
PHASES = ["Li", "Li2S", "LiCl", "Cl2", "P", "Li3P", "Li4P2S6", "Li3PS4-gamma", "Li6PS5Cl", "S", "Li7P3S11"]
# the name a phase has in the model-table caches (benchmarks/backends.py TABLE_PHASES / ELEMENT_PHASES)
CACHE_NAME = {"Li3PS4-gamma": "Li3PS4"}
WINDOWS = ["Li3PS4", "Li6PS5Cl", "Li7P3S11"]
MODELS = {"CHGNet": "chgnet", "SevenNet-0": "sevennet_7net-0", "7net-l3i5": "sevennet_7net-l3i5"}

REACTIONS = [
    # (label, {reduced formula: coefficient in formula units; products +, reactants -})
    ("2 Li3PS4 + 2 Li -> Li4P2S6 + 2 Li2S", {"Li2PS3": 2, "Li2S": 2, "Li3PS4": -2, "Li": -2}),
    ("Li6PS5Cl -> Li3PS4 + Li2S + LiCl", {"Li3PS4": 1, "Li2S": 1, "LiCl": 1, "Li6PS5Cl": -1}),
]


def settings(args) -> dict:
    return {"xc": "PBE", "ecut": args.ecut, "kpoint_density": args.kdensity, "smearing_width": 0.05,
            "spinpol": False, "convergence": {"energy": 1.0e-5}}


def _key(s: dict) -> str:
    return json.dumps(s, sort_keys=True)


def relaxed_structure(name: str, fmax: float = 0.05, steps: int = 300):
    """The CHGNet-relaxed primitive cell of library phase ``name`` (model-table cache, else relaxed now)."""
    from pymatgen.core import Structure

    cache = MODEL_CACHE / "chgnet.json"
    docs = json.loads(cache.read_text()) if cache.is_file() else {}
    doc = docs.get(CACHE_NAME.get(name, name))
    if doc is None:
        own = OUT / "chgnet_relaxed.json"
        docs = json.loads(own.read_text()) if own.is_file() else {}
        doc = docs.get(name)
        if doc is None:
            import torch

            from sseflow.workflows.calculators import get_calculator
            from sseflow.workflows.structures.library import get_structure

            torch.set_num_threads(1)
            r = get_calculator("chgnet").relax(get_structure(name, primitive=True), fmax=fmax, steps=steps)
            doc = r.task_document()
            docs[name] = doc
            own.parent.mkdir(parents=True, exist_ok=True)
            own.write_text(json.dumps(docs))
    return Structure.from_dict(doc["structure"])


def kmesh(structure, density: float) -> list[int]:
    from ase.calculators.calculator import kpts2sizeandoffsets
    from pymatgen.io.ase import AseAtomsAdaptor

    size, _ = kpts2sizeandoffsets(density=density, gamma=True, atoms=AseAtomsAdaptor.get_atoms(structure))
    return [int(x) for x in size]


def run_gpaw(phases: list[str], st: dict, cache: Path, max_minutes: float) -> dict:
    from sseflow.workflows.calculators import get_calculator

    data = json.loads(cache.read_text()) if cache.is_file() else {}
    results = data.setdefault(_key(st), {})
    start = time.perf_counter()
    calc = None
    for name in phases:
        if name in results:
            continue
        if (time.perf_counter() - start) / 60 > max_minutes:
            print(f"  --max-minutes {max_minutes:g} reached: {name} and later phases not started", file=sys.stderr)
            break
        s = relaxed_structure(name)
        calc = calc or get_calculator("gpaw", **st)
        mesh = kmesh(s, st["kpoint_density"])
        print(f"  GPAW {name:13s} {len(s):3d} atoms k {mesh} ...", file=sys.stderr, flush=True)
        c0, w0 = time.process_time(), time.perf_counter()
        r = calc.static(s, directory=str(OUT / "runs" / name))
        if r.status != "completed" and "Symmetry" in str(r.error):
            # GPAW's symmetry analysis can trip on a slightly distorted cell: its symmetrized
            # standard primitive cell is the same phase
            from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

            s = SpacegroupAnalyzer(s, symprec=0.01).get_primitive_standard_structure()
            print(f"  GPAW {name}: symmetry analysis failed, retried on the symmetrized cell", file=sys.stderr)
            r = calc.static(s, directory=str(OUT / "runs" / name))
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        if r.status != "completed":
            print(f"  GPAW {name}: {r.status} {r.error}", file=sys.stderr)
            continue
        results[name] = {"formula": s.composition.reduced_formula, "natoms": len(s), "kpts": mesh,
                         "energy_per_atom": r.energy_per_atom, "cpu_s": cpu, "wall_s": wall,
                         "structure": s.as_dict()}
        print(f"  GPAW {name:13s} {r.energy_per_atom:.5f} eV/atom  {cpu:.0f} s CPU ({wall:.0f} s wall)",
              file=sys.stderr, flush=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(data))
    return results


# ------------------------------------------------------------------ entries and report

def gpaw_entries(results: dict):
    """Formation-energy entries (scheme ``uncorrected``) against GPAW's own elements; phases whose
    elements are not all computed are left out."""
    from pymatgen.core import Structure

    from sseflow.analysis.entries import Entry

    refs = {}
    for name, r in results.items():
        s = Structure.from_dict(r["structure"])
        if len(s.composition.elements) == 1:
            el = str(s.composition.elements[0])
            refs[el] = min(refs.get(el, math.inf), r["energy_per_atom"])
    out = []
    for name, r in results.items():
        s = Structure.from_dict(r["structure"])
        comp = {str(el): float(a) for el, a in s.composition.get_el_amt_dict().items()}
        if not set(comp) <= set(refs):
            continue
        n = sum(comp.values())
        ef = r["energy_per_atom"] - sum(a * refs[el] for el, a in comp.items()) / n
        out.append(Entry(s.composition.formula.replace(" ", ""), comp, ef, f"gpaw:{name}", "uncorrected",
                         data={"structure": s, "phase": name}))
    return out


def model_entries(label: str, formulas: set[str]):
    """Entries (MP2020 scale) of one cached ML model restricted to phases whose reduced formula is in
    ``formulas`` (elements always kept), or None when the model's cache is absent."""
    from sseflow.workflows.computed_entries import entries_from_results

    cache = MODEL_CACHE / f"{MODELS[label]}.json"
    if not cache.is_file():
        return None
    docs = {k: v for k, v in json.loads(cache.read_text()).items() if not k.startswith("_")}
    backend = "chgnet" if label == "CHGNet" else "sevennet"
    keep = [d for d in docs.values() if d.get("status", "completed") == "completed"]
    entries = entries_from_results(keep, backend)
    return [e for e in entries if e.reduced_formula in formulas or len(e.composition) == 1]


def lowest(entries) -> dict[str, float]:
    out: dict[str, float] = {}
    for e in entries:
        out[e.reduced_formula] = min(out.get(e.reduced_formula, math.inf), e.energy_per_atom)
    return out


def reaction_energy(ef: dict[str, float], coeffs: dict[str, int]) -> float | None:
    """eV per reaction as written, from formation energies per atom (elements 0)."""
    from sseflow.analysis.formula import parse_formula

    total = 0.0
    for f, c in coeffs.items():
        comp = parse_formula(f)
        if len(comp) == 1:
            continue
        if f not in ef:
            return None
        total += c * ef[f] * sum(comp.values())
    return total


def reaction_energy_total(results: dict, coeffs: dict[str, int]) -> float | None:
    """eV per reaction as written, from GPAW total energies per atom (elements included: needs no
    elemental reference of an element the reaction does not hold)."""
    from sseflow.analysis.formula import parse_formula

    epa: dict[str, float] = {}
    for r in results.values():
        epa[r["formula"]] = min(epa.get(r["formula"], math.inf), r["energy_per_atom"])
    total = 0.0
    for f, c in coeffs.items():
        key = f if f in epa else next((k for k in epa if parse_formula(k) == parse_formula(f)), None)
        if key is None:
            return None
        total += c * epa[key] * sum(parse_formula(f).values())
    return total


def report(results: dict, st: dict, as_json: bool) -> int:
    import warnings

    warnings.filterwarnings("ignore")
    from sseflow.analysis.reference import ReferenceSet, load_reference
    from sseflow.analysis.window import stability_window
    from sseflow.workflows.computed_entries import entries_on_scale

    g_raw = gpaw_entries(results)
    formulas = {r["formula"] for r in results.values()}
    scales = {"raw PBE": g_raw}
    if g_raw:
        scales["PBE + MP-legacy"] = entries_on_scale(g_raw, "MP-legacy")
        scales["PBE + MP2020"] = entries_on_scale(g_raw, "MP2020")
    models = {}
    for label in MODELS:
        ents = model_entries(label, formulas)
        if ents is not None:
            models[label] = {"MP2020": ents, "MP-legacy": entries_on_scale(ents, "MP-legacy")}
    mp_rs = load_reference(MP_CSV) if MP_CSV.is_file() else None
    mp_lib = None
    mp_ef: dict[str, float] = {}
    if mp_rs is not None:
        sub = [e for e in mp_rs.entries_in(["Li", "P", "S", "Cl"]) if e.reduced_formula in formulas]
        mp_ef = lowest(sub)
        mp_lib = ReferenceSet.from_entries(sub + [e for e in mp_rs.entries_in(["Li", "P", "S", "Cl"])
                                                  if len(e.composition) == 1], source="MP, library formulas")
    out = {"settings": st, "phases": {}, "reactions": {}, "windows": {}}
    ef = {k: lowest(v) for k, v in scales.items()}
    ch = models.get("CHGNet", {})
    ch_ef = {k: lowest(v) for k, v in ch.items()}
    for name, r in results.items():
        f = r["formula"]
        out["phases"][name] = {"formula": f, "natoms": r["natoms"], "kpts": r["kpts"], "cpu_s": r["cpu_s"],
                               "wall_s": r["wall_s"], "energy_per_atom": r["energy_per_atom"],
                               **{f"ef {k}": v.get(f) for k, v in ef.items()},
                               **{f"ef CHGNet {k}": v.get(f) for k, v in ch_ef.items()}, "ef MP table": mp_ef.get(f)}
    for label, coeffs in REACTIONS:
        row = {k: reaction_energy(v, coeffs) for k, v in ef.items()}
        row["raw PBE"] = reaction_energy_total(results, coeffs)
        for m, sc in models.items():
            row[m] = reaction_energy(lowest(sc["MP2020"]), coeffs)
        row["MP table"] = reaction_energy(mp_ef, coeffs) if mp_ef else None
        out["reactions"][label] = row
    sets = {f"GPAW {k}": ReferenceSet.from_entries(v, source=k) for k, v in scales.items() if v}
    for k, v in ch.items():
        sets[f"CHGNet {k}"] = ReferenceSet.from_entries(v, source=k)
    if mp_lib is not None:
        sets["MP table, same formulas"] = mp_lib
        sets["MP table, all"] = mp_rs
    for f in WINDOWS:
        row = {}
        for label, rs in sets.items():
            try:
                w = stability_window(f, rs, profile=False)
            except Exception as exc:  # noqa: BLE001 - a system the set does not cover
                row[label] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            row[label] = {"reduction_V": w.reduction_V, "oxidation_V": w.oxidation_V,
                          "e_above_hull_meV": w.e_above_hull_meV, "in_reference": w.in_reference,
                          "reduction_products": w.reduction_products, "oxidation_products": w.oxidation_products}
        out["windows"][f] = row
    if as_json:
        print(json.dumps(out, indent=1, default=str))
        return 0

    def fmt(x, spec="+.3f"):
        return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)

    print(f"GPAW {st['xc']} plane waves {st['ecut']:g} eV, k-point density {st['kpoint_density']:g} per Å^-1 "
          f"(gamma-centred), Fermi-Dirac {st['smearing_width']} eV, no spin, one process; CHGNet-relaxed cells.\n"
          "Formation energies, eV/atom (GPAW against GPAW's own elements; CHGNet against its own):\n")
    print(f"{'phase':13s} {'atoms':>5s} {'k-mesh':>8s} {'CPU s':>7s} {'E/atom':>9s} {'PBE raw':>8s} "
          f"{'+legacy':>8s} {'+MP2020':>8s} {'CHGNet':>8s} {'CHG leg':>8s} {'MP table':>8s}")
    for name, p in out["phases"].items():
        print(f"{name:13s} {p['natoms']:5d} {'x'.join(map(str, p['kpts'])):>8s} {p['cpu_s']:7.0f} "
              f"{p['energy_per_atom']:9.4f} {fmt(p.get('ef raw PBE')):>8s} {fmt(p.get('ef PBE + MP-legacy')):>8s} "
              f"{fmt(p.get('ef PBE + MP2020')):>8s} {fmt(p.get('ef CHGNet MP2020')):>8s} "
              f"{fmt(p.get('ef CHGNet MP-legacy')):>8s} {fmt(p.get('ef MP table')):>8s}")
    print("\nReaction energies, eV per reaction as written (the S atoms in compounds balance, so every "
          "correction scheme gives the same number):")
    for label, row in out["reactions"].items():
        print(f"  {label}: " + ", ".join(f"{k} {fmt(v)}" for k, v in row.items()
                                          if k in ("raw PBE", "CHGNet", "SevenNet-0", "7net-l3i5", "MP table")))
    print("\nStability windows, V vs Li/Li+ [reduction, oxidation] (E_hull meV/atom):")
    for f, row in out["windows"].items():
        print(f"  {f}")
        for label, w in row.items():
            if "error" in w:
                print(f"    {label:26s} {w['error']}")
                continue
            print(f"    {label:26s} [{fmt(w['reduction_V'], '.2f')}, {fmt(w['oxidation_V'], '.2f')}] "
                  f"E_hull {fmt(w['e_above_hull_meV'], '.0f')}"
                  + ("" if w["in_reference"] else " (not in set)")
                  + f"  red -> {' + '.join(w['reduction_products'] or [])}; "
                    f"ox -> {' + '.join(w['oxidation_products'] or [])}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phases", default=",".join(PHASES), help="library phases, in the order they are run")
    ap.add_argument("--ecut", type=float, default=350.0, help="plane-wave cutoff, eV")
    ap.add_argument("--kdensity", type=float, default=2.5, help="k-points per Å^-1")
    ap.add_argument("--max-minutes", type=float, default=30.0, help="start no new phase after this long")
    ap.add_argument("--cache", default=str(OUT / "results.json"))
    ap.add_argument("--report-only", action="store_true", help="print from the cache, run nothing")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    st = settings(args)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    cache = Path(args.cache)
    if args.report_only:
        data = json.loads(cache.read_text()) if cache.is_file() else {}
        results = data.get(_key(st), {})
    else:
        try:
            import gpaw  # noqa: F401
        except ImportError:
            print("GPAW is not installed (docs/install_backends.md)", file=sys.stderr)
            return 2
        results = run_gpaw(phases, st, cache, args.max_minutes)
    results = {p: results[p] for p in phases if p in results}
    if not results:
        print("no GPAW results yet", file=sys.stderr)
        return 1
    return report(results, st, args.json)


if __name__ == "__main__":
    sys.exit(main())
