"""Windows and reactions from sseflow's own calculations against the Materials Project table.

Runs one study with ``reference: computed`` (every library phase of each chemical system relaxed
with the chosen ML potential, formation energies from the same potential's elements) for the
electrolytes below and the anodes Si and Li15Si4, then prints, per electrolyte, the computed
window next to the windows of the shared Materials Project table (all rows, and without the
S-rich LiS4/P2S7 rows), the differences, the hull phases the library lacks, and whether the
interface products include the phases expected from the table (SiP for Li3PS4 | Si, Li5SiP3 for
Li6PS5Cl | Li15Si4).

    python benchmarks/computed_windows.py                      # CHGNet, a fresh store in a temp folder
    python benchmarks/computed_windows.py --calculator sevennet --model 7net-l3i5 --home /tmp/cw

The study runs twice on the same relaxations: on the calculator's own correction scheme (CHGNet and
SevenNet entries: MP2020) and with ``reference.correction_scheme`` set to the table's (MP-legacy for
the shared table), and the goal is judged on the table's scale: a comparison of windows across
scales mixes the sulfide corrections (0.1 eV per elemental S released on oxidation).

A second run with the same ``--home`` reuses the stored relaxations (seconds).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MP_CSV  # noqa: E402

ELECTROLYTES = ["Li3PS4", "Li6PS5Cl", "Li10GeP2S12", "Li7La3Zr2O12"]
ANODES = ["Si", "Li15Si4"]
EXCLUDE = ["LiS4", "P2S7"]
EXPECTED_PRODUCTS = {("Li3PS4", "Si"): "SiP", ("Li6PS5Cl", "Li15Si4"): "Li5SiP3"}
GOAL_V = 0.15


def study_yaml(calculator: str, model: str | None, output: Path, scheme: str | None = None) -> str:
    preset = {"fmax": 0.05, "max_steps": 300, **({"model": model} if model else {})}
    return json.dumps({  # JSON is YAML
        "name": "computed_windows", "output": str(output),
        "electrolytes": ELECTROLYTES, "anodes": ANODES,
        "phases": {"auto": True, "primitive": True},
        "calculators": {"relax": {"name": calculator, "preset": preset}},
        "reference": {"source": "computed", **({"correction_scheme": scheme} if scheme else {})},
        "compute": {"windows": True, "reactions": True},
    }, indent=1)


def table_scheme() -> str:
    from sseflow.analysis.schemes import declared_scheme

    return declared_scheme(MP_CSV)[0]


def run_study(args, home: Path, scheme: str | None) -> tuple[dict, float, str]:
    """(report.json, wall s, the Runner's summary line) of the study on ``scheme`` (None: the
    calculator's own scale); the relaxations are shared through the store of ``home``."""
    out = home / f"report-{scheme or 'native'}"
    study = home / f"computed_windows-{scheme or 'native'}.yaml"
    study.write_text(study_yaml(args.calculator, args.model, out, scheme))
    env = {**os.environ, "SSEFLOW_HOME": str(home), "OMP_NUM_THREADS": "1"}
    env.pop("SSEFLOW_DB", None)
    sseflow = Path(sys.executable).with_name("sseflow")
    t0 = time.perf_counter()
    p = subprocess.run([str(sseflow), "study", str(study)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        print(p.stderr, file=sys.stderr)
        raise SystemExit(p.returncode)
    ran = [ln for ln in p.stderr.splitlines() if ln.startswith("ran ")][-1:]
    return json.loads((out / "report.json").read_text()), wall, (ran or [""])[0]


def mp_windows(exclude: list[str]) -> dict[str, tuple[float, float]]:
    from sseflow.analysis.reference import load_reference
    from sseflow.analysis.window import WindowCalculator

    wc = WindowCalculator(load_reference(MP_CSV), exclude=exclude)
    out = {}
    for f in ELECTROLYTES:
        w = wc.window(f, profile=False)
        out[f] = (w.reduction_V, w.oxidation_V)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calculator", default="chgnet")
    ap.add_argument("--model", default=None, help="e.g. 7net-l3i5 for --calculator sevennet")
    ap.add_argument("--home", default=None, help="SSEFLOW_HOME of the run (default: a new temp folder)")
    args = ap.parse_args(argv)
    if not MP_CSV.is_file():
        print(f"the Materials Project table is not at {MP_CSV} (set SSEFLOW_SHARED)", file=sys.stderr)
        return 2
    home = Path(args.home or tempfile.mkdtemp(prefix="sseflow-cw-"))
    home.mkdir(parents=True, exist_ok=True)
    scheme = table_scheme()
    native, wall, ran = run_study(args, home, None)
    print(f"study: {args.calculator}{' ' + args.model if args.model else ''}, reference computed, "
          f"{wall:.0f} s wall ({ran})")
    report, wall2, ran2 = run_study(args, home, scheme)
    print(f"the same entries on the table's scale ({scheme}; reference.correction_scheme): {wall2:.0f} s wall "
          f"({ran2})")
    native_w = {w["formula"]: w for w in native["windows"]}
    mp_all, mp_ex = mp_windows([]), mp_windows(EXCLUDE)
    print(f"\nwindows, V vs Li/Li+. computed: on the calculator's own scale | on the table's ({scheme}); "
          f"MP table: all rows | without {','.join(EXCLUDE)}.\ngoal: |diff| <= {GOAL_V} V, both on {scheme}, "
          f"against the table without {','.join(EXCLUDE)}")
    print(f"{'electrolyte':<14}{'own scale':>12}{scheme:>12}{'MP all':>12}{'MP excl.':>12}{'d red':>8}{'d ox':>8}"
          f"  goal  oxidation products (computed)")
    for w in report["windows"]:
        f = w["formula"]
        red, ox = w["reduction_V"], w["oxidation_V"]
        n = native_w[f]
        ma, me = mp_all[f], mp_ex[f]
        dr, do = red - me[0], (ox - me[1]) if ox is not None and me[1] is not None else float("nan")
        ok = abs(dr) <= GOAL_V and abs(do) <= GOAL_V
        own = "{:.2f}-{:.2f}".format(n["reduction_V"], n["oxidation_V"])
        print(f"{f:<14}{own:>12}{f'{red:.2f}-{ox:.2f}':>12}"
              f"{f'{ma[0]:.2f}-{ma[1]:.2f}':>12}{f'{me[0]:.2f}-{me[1]:.2f}':>12}"
              f"{dr:>+8.2f}{do:>+8.2f}  {'met ' if ok else 'MISS'}  {' + '.join(w['oxidation_products'])}")
    print("\nreactions (chemical, mutual; products from the computed hull):")
    for r in report["reactions"]:
        m = r["mutual"]
        want = EXPECTED_PRODUCTS.get((r["reactant_a"], r["reactant_b"]))
        tag = "" if want is None else f"  [{want} {'present' if want in m['products'] else 'ABSENT'}]"
        print(f"  {r['reactant_a']} | {r['reactant_b']}: {m['E_mutual_meV_per_atom']:.1f} meV/atom -> "
              f"{' + '.join(m['products'])}{tag}")
    cov = report.get("coverage") or {}
    print(f"\nhull coverage vs {Path(cov.get('reference') or '-').name}:")
    for cs, c in sorted((cov.get("systems") or {}).items()):
        if "note" in c:
            print(f"  {cs}: {c['note']}")
            continue
        print(f"  {cs}: searched/ordered {', '.join(c.get('searched') or []) or '-'}; missing "
              f"{', '.join(f'{m} ({e:g})' for m, e in c['missing']) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
