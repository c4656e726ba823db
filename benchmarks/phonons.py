"""Benchmark and validation: CHGNet phonons of every Li-P-S library phase, and the Li3PS4
window at 0 K, 300 K and 600 K from them.

1. Phonons (sseflow.workflows.phonons.compute_phonons, CHGNet, one torch thread, supercells >= 10 Å
   perpendicular width, 0.01 Å displacements) of the Li-P-S phases of the structure library and,
   unless --no-p2s5, a *model* of P2S5 (one P4S10 molecule per fcc primitive cell at the
   experimental density 2.09 g/cm3, cell fixed: the library has no P2S5 and CHGNet, without
   dispersion, expands molecular crystals): total time, relaxation time, time per displaced
   supercell, peak memory (VmHWM of this process per phase, reset between phases), and
   phonopy's own default supercell (estimate_supercell_matrix, <= 120 atoms) for comparison.
2. Validation of Li (bcc) and Li2S against experiment: S(298.15 K), F_vib(300 K), the entropy
   Debye temperature, Gamma frequencies (Li2S Raman T2g).
3. Li3PS4 windows: static, 0 K (zero-point energies), 300 K, 600 K with MP formation energies
   (shared CSV) + CHGNet F_vib on the phases that have phonons: (a) the product's rule (flagged
   phonons not used, and an element whose phonons are flagged keeps all its compounds at 0 K),
   (b) flagged phonons used anyway (sensitivity), (c) the full MP Li-P-S set with the phases
   without phonons kept at 0 K, (d) CHGNet energies throughout.

Results go to out/phonons_LiPS.json (documents) and out/phonons_benchmark.json (numbers);
--reuse skips phases already in out/phonons_LiPS.json.

Run:  .venv/bin/python benchmarks/phonons.py [--min-length 10] [--reuse] [--only Li,Li2S] [--compare-default]
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

torch.set_num_threads(1)
warnings.filterwarnings("ignore")

from _common import MP_CSV  # noqa: E402

from sseflow.analysis.thermo import J_MOL_K_PER_EV_K, KB, entropy_debye_temperature  # noqa: E402
from sseflow.workflows.phonons import (  # noqa: E402
    THZ_TO_CM1,
    PhononResult,
    PhononSettings,
    compute_phonons,
    phonopy_default_supercell,
)
from sseflow.workflows.structures.library import get_structure, list_phases  # noqa: E402

OUT = ROOT / "out"
DOCS = OUT / "phonons_LiPS.json"
NUMBERS = OUT / "phonons_benchmark.json"
TEMPS = (None, 0.0, 300.0, 600.0)

# Experimental references (see docs/phonons.md for the citations).
LI_S298_EXP = 29.12     # J/mol/K, Li(cr), CODATA Key Values (Cox, Wagman, Medvedev 1989)
LI_H298_H0_EXP = 4.632  # kJ/mol, Li(cr), CODATA
LI_THETA_D_EXP = 344.0  # K, low-temperature calorimetric Debye temperature (Kittel, ISSP table 5.1)
LI_SEL_298 = 1.63e-3 * 298.15  # J/mol/K, electronic entropy gamma*T (gamma = 1.63 mJ/mol/K^2)
LI2S_RAMAN_T2G_EXP = 375.0  # cm-1, Raman-active T2g mode of antifluorite Li2S (~372-375 cm-1 reported)
LI2S_S298_LIT = 63.0    # J/mol/K per Li2S (handbook value; the primary source was not checked)


def vm_hwm_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_hwm() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def p4s10_model():
    """P4S10 (Td cage: P-S(bridge) 2.09 Å, P=S 1.95 Å, P-S-P ~109°) in an fcc primitive cell at
    2.09 g/cm3. A model, not the experimental P-1 packing."""
    from ase import Atoms

    from sseflow.workflows.calculators.base import to_structure

    pp, ps_b, ps_t = 3.40, 2.09, 1.95
    a = pp / (2 * np.sqrt(2))
    s = a + np.sqrt(ps_b ** 2 - 2 * a * a)
    p = np.array([[a, a, a], [a, -a, -a], [-a, a, -a], [-a, -a, a]])
    sb = np.array([[s, 0, 0], [-s, 0, 0], [0, s, 0], [0, -s, 0], [0, 0, s], [0, 0, -s]])
    st = p + ps_t * p / np.linalg.norm(p, axis=1)[:, None]
    m = Atoms("P4S10", positions=np.vstack([p, sb, st]))
    vol = m.get_masses().sum() / (2.09 * 0.602214076)  # Å^3 per molecule
    ac = (4 * vol) ** (1 / 3)
    m.set_cell(0.5 * ac * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]]))
    m.pbc = True
    return to_structure(m)


def run_phonons(args) -> list[PhononResult]:
    have: dict[str, dict] = {}
    if args.reuse and DOCS.is_file():
        for d in json.loads(DOCS.read_text()):
            have[d.get("label") or d["formula"]] = d
    names = list_phases("Li-P-S")
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    jobs = [(n, get_structure(n), PhononSettings(min_length=args.min_length)) for n in names]
    if not args.no_p2s5 and (not args.only or "P2S5" in args.only.split(",")):
        jobs.append(("P2S5-model", p4s10_model(), PhononSettings(min_length=args.min_length, relax_cell=False)))
    results = []
    from sseflow.workflows.calculators import get_calculator

    t_load = time.perf_counter()
    backend = get_calculator("chgnet")
    t_load = time.perf_counter() - t_load
    for label, structure, settings in jobs:
        if label in have:
            r = PhononResult.from_document(have[label])
            r.notes.append("read from out/phonons_LiPS.json")
            results.append((label, r, have[label].get("bench", {})))
            print(f"{label}: reused", flush=True)
            continue
        reset_hwm()
        t0 = time.perf_counter()
        r = compute_phonons(structure, backend, settings)
        wall = time.perf_counter() - t0
        from sseflow.workflows.calculators.base import to_atoms

        default_sc = phonopy_default_supercell(to_atoms(structure))
        bench = {"wall_s": round(wall, 2), "peak_rss_MB": round(vm_hwm_mb(), 1),
                 "phonopy_default_supercell_of_standard_cell": default_sc}
        results.append((label, r, bench))
        print(f"{label}: {wall:.1f} s, {r.n_displacements} displacements x {r.natoms_supercell} atoms, "
              f"{r.timings['per_displacement_s']:.2f} s each, relax {r.timings['relax_s']:.1f} s, "
              f"F300 {1000 * r.free_energy_at([300])[0]:.1f} meV/atom, imaginary {r.imaginary_modes} "
              f"(min {r.min_frequency:.2f} THz), peak {bench['peak_rss_MB']} MB", flush=True)
        OUT.mkdir(exist_ok=True)
        save(results)
    print(f"CHGNet model load {t_load:.1f} s", flush=True)
    return results


def save(results) -> None:
    docs = []
    for label, r, bench in results:
        d = r.to_document().to_json_dict()
        d["label"] = label
        d["bench"] = bench
        docs.append(d)
    DOCS.write_text(json.dumps(docs))


def compare_default(args) -> list[dict]:
    """F_vib(300 K) with phonopy's default supercell vs the 10 Å rule, for the small cells."""
    from sseflow.workflows.calculators.base import to_atoms

    out = []
    for name in ("Li", "Li2S", "Li3P"):
        s = get_structure(name)
        sc = phonopy_default_supercell(to_atoms(s))
        # estimate_supercell_matrix refers to the standardised conventional cell; the library
        # cells of these three are standard settings already
        r = compute_phonons(s, "chgnet", PhononSettings(supercell_matrix=sc))
        out.append({"phase": name, "supercell": sc, "natoms": r.natoms_supercell,
                    "F300_meV": round(1000 * float(r.free_energy_at([300])[0]), 2),
                    "S300_meV_K": round(1000 * float(r.entropy_at([300])[0]), 4),
                    "n_displacements": r.n_displacements, "total_s": r.timings["total_s"]})
        print("phonopy default", out[-1], flush=True)
    return out


def validation(results) -> dict:
    by = {r.formula: r for _, r, _ in results}
    out: dict = {}
    if "Li" in by:
        r = by["Li"]
        s298 = float(r.entropy_at([298.15])[0])
        out["Li"] = {
            "S298_J_mol_K": round(s298 * J_MOL_K_PER_EV_K, 2),
            "S298_exp_J_mol_K": LI_S298_EXP,
            "S298_exp_minus_electronic_J_mol_K": round(LI_S298_EXP - LI_SEL_298, 2),
            "F300_meV_atom": round(1000 * float(r.free_energy_at([300])[0]), 2),
            "F298_exp_meV_atom_est": round(_li_f298_exp(), 2),
            "ZPE_meV_atom": round(1000 * r.zero_point_energy, 2),
            "theta_S298_K": round(entropy_debye_temperature(s298, 298.15), 0),
            "theta_S298_exp_K": round(entropy_debye_temperature((LI_S298_EXP - LI_SEL_298) / J_MOL_K_PER_EV_K,
                                                                298.15), 0),
            "theta_D_exp_lowT_K": LI_THETA_D_EXP,
            "max_frequency_THz": r.summary([300])["max_frequency_THz"],
            "lattice_A": round(_a(r), 4),
        }
    if "Li2S" in by:
        r = by["Li2S"]
        s298 = float(r.entropy_at([298.15])[0])
        g = sorted(r.gamma_frequencies)[3:]
        out["Li2S"] = {
            "S298_J_mol_K_per_Li2S": round(3 * s298 * J_MOL_K_PER_EV_K, 2),
            "S298_lit_J_mol_K_per_Li2S": LI2S_S298_LIT,
            "F300_meV_atom": round(1000 * float(r.free_energy_at([300])[0]), 2),
            "ZPE_meV_atom": round(1000 * r.zero_point_energy, 2),
            "gamma_optical_cm1": [round(x * THZ_TO_CM1, 1) for x in g],
            "raman_T2g_exp_cm1": LI2S_RAMAN_T2G_EXP,
            "theta_S298_K": round(entropy_debye_temperature(s298, 298.15), 0),
            "max_frequency_THz": r.summary([300])["max_frequency_THz"],
            "lattice_A": round(_a(r), 4),
        }
    return out


def _a(r) -> float:
    from pymatgen.core import Structure

    return float(Structure.from_dict(r.structure).lattice.a)


def _li_f298_exp() -> float:
    """F_vib(298 K) of Li from calorimetry: ZPE (9/8 k theta_D, theta_D = 344 K) + (H298 - H0) - T S298
    (electronic entropy removed), meV/atom. An estimate: the ZPE is a Debye-model number."""
    zpe = 9.0 / 8.0 * KB * LI_THETA_D_EXP
    h = LI_H298_H0_EXP / 96.48533212331002
    s = (LI_S298_EXP - LI_SEL_298) / J_MOL_K_PER_EV_K
    return 1000.0 * (zpe + h - 298.15 * s)


def _window_rows(ref, docs, **kw) -> list[dict]:
    from sseflow.analysis.window import WindowCalculator
    from sseflow.workflows.temperature import reference_at_temperature

    rows = []
    for T in TEMPS:
        rs = reference_at_temperature(ref, T, docs, elements="Li-P-S", **kw)
        w = WindowCalculator(rs).window("Li3PS4", profile=False)
        rep = getattr(rs, "thermo_report", None)
        rows.append({"T": T, "red": round(w.reduction_V, 4),
                     "ox": None if w.oxidation_V is None else round(w.oxidation_V, 4),
                     "red_reaction": w.reduction_reaction, "ox_reaction": w.oxidation_reaction,
                     "e_hull_meV": w.e_above_hull_meV,
                     "kept_at_0K": (rep.missing if rep else []), "flagged_not_used": (rep.flagged if rep else [])})
    static = rows[0]
    for r in rows:
        r["d_red_mV_vs_static"] = round(1000 * (r["red"] - static["red"]), 1)
        if r["ox"] is not None and static["ox"] is not None:
            r["d_ox_mV_vs_static"] = round(1000 * (r["ox"] - static["ox"]), 1)
    return rows


def windows(results) -> dict:
    """Li3PS4 windows at static, 0 K (ZPE), 300 K, 600 K under several choices (see module doc)."""
    from sseflow.analysis.reference import ReferenceSet, load_reference
    from sseflow.workflows.temperature import chgnet_reference

    docs = [r for _, r, _ in results]
    flagged = sorted({r.formula for r in docs if r.flagged})
    out: dict = {"flagged_phases": flagged}
    if not MP_CSV.is_file():
        print(f"no {MP_CSV}: MP-based windows skipped", flush=True)
    else:
        mp = load_reference(MP_CSV)
        have = {r.formula for r in docs}
        sub = [e for e in mp.entries_in(["Li", "P", "S"]) if e.reduced_formula in have]
        restricted = ReferenceSet(sub, source="MP (phases with CHGNet phonons)")
        # the product's rule: flagged phonons are not used (an element's flag freezes its compounds)
        out["mp_phonon_phases_rule"] = _window_rows(restricted, docs)
        # sensitivity: flagged phonons used anyway (imaginary modes are left out of their F)
        out["mp_phonon_phases_flagged_used"] = _window_rows(restricted, docs, allow_imaginary=True)
        out["mp_all_phases_flagged_used"] = _window_rows(mp, docs, allow_imaginary=True)
    ref = chgnet_reference(docs, source="CHGNet energies of the phonon documents")
    out["chgnet_throughout_flagged_used"] = _window_rows(ref, docs, allow_imaginary=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min-length", type=float, default=10.0)
    ap.add_argument("--reuse", action="store_true", help="skip phases already in out/phonons_LiPS.json")
    ap.add_argument("--only", default="", help="comma-separated library names (and P2S5)")
    ap.add_argument("--no-p2s5", action="store_true")
    ap.add_argument("--compare-default", action="store_true",
                    help="also run Li, Li2S, Li3P with phonopy's default supercell")
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    results = run_phonons(args)
    total = time.perf_counter() - t0
    numbers = {
        "min_length_A": args.min_length,
        "this_run_s": round(total, 1),
        "phonons_total_s": round(sum(b.get("wall_s", 0.0) for _, _, b in results), 1),  # incl. reused phases
        # VmHWM is reset between phases (which also resets ru_maxrss): the peak is the largest phase peak
        "process_peak_rss_MB": round(max([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0]
                                         + [b.get("peak_rss_MB", 0.0) for _, _, b in results]), 1),
        "phases": [],
    }
    for label, r, bench in results:
        numbers["phases"].append({
            "label": label, "formula": r.formula, "space_group": r.space_group,
            "natoms_unitcell": r.natoms_unitcell, "supercell": [r.supercell_matrix[i][i] for i in range(3)],
            "natoms_supercell": r.natoms_supercell, "n_displacements": r.n_displacements,
            "relax_s": r.timings.get("relax_s"), "per_displacement_s": r.timings.get("per_displacement_s"),
            "total_s": r.timings.get("total_s"), **bench,
            "ZPE_meV": round(1000 * r.zero_point_energy, 2),
            "F300_meV": round(1000 * float(r.free_energy_at([300])[0]), 2),
            "F600_meV": round(1000 * float(r.free_energy_at([600])[0]), 2),
            "imaginary_modes": r.imaginary_modes, "min_frequency_THz": round(r.min_frequency, 3),
            "flagged": r.flagged, "energy_per_atom": r.energy_per_atom,
        })
    if args.compare_default:
        numbers["phonopy_default_supercell"] = compare_default(args)
    numbers["validation"] = validation(results)
    numbers["windows_Li3PS4"] = windows(results)
    NUMBERS.write_text(json.dumps(numbers, indent=1, default=str))
    from sseflow.analysis.thermo_plots import plot_phonons, plot_windows_vs_temperature

    plot_phonons([r for _, r, _ in results], OUT / "phonons_LiPS.png")
    rows = numbers["windows_Li3PS4"].get("mp_phonon_phases_flagged_used") or \
        numbers["windows_Li3PS4"]["chgnet_throughout_flagged_used"]
    plot_windows_vs_temperature([{"formula": "Li3PS4", "temperature_K": r["T"], "reduction_V": r["red"],
                                  "oxidation_V": r["ox"]} for r in rows], OUT / "Li3PS4_window_T.png")
    print(json.dumps(numbers, indent=1, default=str))


if __name__ == "__main__":
    main()
