"""``sseflow interface``: build (and relax) an electrolyte | electrode interface; Schottky barriers.

    sseflow interface ELECTROLYTE ELECTRODE [--max-strain 0.05] [--max-atoms 200] [--relax]
                      [--electronic gpaw] [--json] [--plot PREFIX] [--store] [-o DIR]

ELECTROLYTE / ELECTRODE: a CIF/POSCAR path or a structure name (Li3PS4, Li, Si, LiF, ...).
Steps: lattice matches ranked (table), the chosen one built (rigid-shift/gap scan scored by
CHGNet single points unless ``--no-scan``), with ``--relax`` relaxed with the relaxation
backend (W_ad, what happened at the contact), with ``--electronic gpaw`` a static with
electronic structure and both Schottky-barrier methods (layer DOS and potential line-up,
against a bulk calculation of the electrolyte with the same settings).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import click

from analysis.errors import InputError
from workflows.cli.common import echo_json


def _miller(value: str) -> tuple[int, int, int]:
    v = value.replace(",", " ").replace("(", "").replace(")", "").split()
    if len(v) == 1 and len(v[0]) == 3 and v[0].lstrip("-").isdigit():
        v = list(v[0])
    if len(v) == 1:
        # "1-10" style: digits with optional minus signs
        s, out, neg = v[0], [], False
        for ch in s:
            if ch == "-":
                neg = True
                continue
            if not ch.isdigit():
                raise InputError(f"bad Miller index '{value}'")
            out.append(-int(ch) if neg else int(ch))
            neg = False
        v = out
    try:
        m = tuple(int(x) for x in v)
    except ValueError:
        raise InputError(f"bad Miller index '{value}' (use 110, 1,1,0 or 1-10)") from None
    if len(m) != 3 or m == (0, 0, 0):
        raise InputError(f"bad Miller index '{value}'")
    return m


def _kpts(value: str | None):
    if not value:
        return None
    try:
        k = tuple(int(x) for x in value.replace("x", ",").split(","))
    except ValueError:
        raise InputError(f"bad k-point mesh '{value}' (use 4,4,1)") from None
    if len(k) != 3 or min(k) < 1:
        raise InputError(f"bad k-point mesh '{value}' (use 4,4,1)")
    return k


def _pct(x: float) -> str:
    return f"{100 * x:+.2f}%"


def format_candidates(cands, n: int) -> str:
    head = ["#", "electrolyte face", "electrode face", "area Å2", "atoms", "vM strain", "eps_a", "eps_b", "score"]
    rows = []
    for c in cands[:n]:
        s = c.strain[c.strained_side]
        rows.append([str(c.rank), c.electrolyte_termination.label, c.electrode_termination.label, f"{c.area:.1f}",
                     str(c.n_atoms), f"{100 * c.von_mises:.2f}%", _pct(s["a"]), _pct(s["b"]), f"{c.score:.3f}"])
    w = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    lines = ["  ".join(x.ljust(w[i]) for i, x in enumerate(head)).rstrip()]
    lines += ["  ".join(x.ljust(w[i]) for i, x in enumerate(r)).rstrip() for r in rows]
    if len(cands) > n:
        lines.append(f"... {len(cands) - n} more (--list)")
    return "\n".join(lines)


def format_built(s: dict) -> str:
    st = s["strain"][s["strained_side"]]
    return "\n".join([
        f"interface {s['label']}: {s['formula']}, {s['n_atoms']} atoms "
        f"({s['electrolyte_atoms']} electrolyte + {s['electrode_atoms']} electrode), area {s['area_A2']:.2f} Å2",
        f"  strain on the {s['strained_side']}: von Mises {100 * st['von_mises']:.2f}%, a {_pct(st['a'])}, "
        f"b {_pct(st['b'])}, angle {st['angle_deg']:+.2f} deg; the other side unstrained",
        f"  thickness: electrolyte {s['electrolyte_thickness_A']:.2f} Å, electrode {s['electrode_thickness_A']:.2f} Å; "
        f"gap {s['gap_A']:.2f} Å, offset {s['in_plane_offset']}; {s['stacking']} stacking "
        f"({s['n_interfaces']} interface(s)); {s['n_fixed']} fixed atoms",
    ] + [f"  warning: {w}" for w in s.get("warnings", [])])


def format_relax(r: dict) -> str:
    c = r["contact"]
    lines = [f"relaxed with {r['calculator']}: {r['n_steps']} steps, converged {r['converged']}; "
             f"W_ad = {r['work_of_adhesion_J_m2']:.3f} J/m2 (rigid {r['work_of_adhesion_rigid_J_m2']:.3f} J/m2)",
             f"  bonds across the contact: before {c['cross_bonds_before']}, after {c['cross_bonds_after']}"]
    lines += [f"  contact: {n}" for n in c["notes"]]
    return "\n".join(lines)


def format_schottky(rep: dict) -> str:
    L, P = rep.get("layer_dos") or {}, rep.get("potential_lineup") or {}

    def f(x):
        return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.3f}"

    lines = ["Schottky barriers (eV)          p-type (E_F-E_VBM)  n-type (E_CBM-E_F)  gap",
             f"  layer-resolved DOS            {f(L.get('barrier_p')):>18}  {f(L.get('barrier_n')):>18}  "
             f"{f(L.get('gap'))} (local, bulk-like layers {L.get('bulk_layers')})",
             f"  potential line-up             {f(P.get('barrier_p')):>18}  {f(P.get('barrier_n')):>18}  "
             f"{f(P.get('gap'))} (bulk)",
             f"  difference (line-up - DOS)    {f(rep.get('difference_p')):>18}  {f(rep.get('difference_n')):>18}"]
    for t, v in (L.get("threshold_sensitivity") or {}).items():
        lines.append(f"  layer DOS, threshold {t:<9}{f(v.get('barrier_p')):>18}  {f(v.get('barrier_n')):>18}")
    lines += [f"  warning: {w}" for w in rep.get("warnings", [])]
    return "\n".join(lines)


def _store(summary: dict, built, relaxation, rep, electronic_params, config) -> int:
    from workflows.store.documents import InterfaceDocument, SchottkyDocument
    from workflows.store.hooks import open_store

    c = built.candidate
    term = f"{c.electrolyte_termination.label} | {c.electrode_termination.label}"
    atoms = relaxation.atoms if relaxation is not None else built.atoms
    from pymatgen.io.ase import AseAtomsAdaptor

    a = atoms.copy()
    a.set_constraint()
    struct = AseAtomsAdaptor.get_structure(a).as_dict()
    calc = relaxation.calculator if relaxation is not None else None
    params = {"stacking": built.stacking, "gap": round(built.gap, 4), "offset": [round(x, 4) for x in built.in_plane_offset],
              "matching": c.settings}
    if relaxation is not None:
        params["relax"] = {k: relaxation.parameters.get(k) for k in ("model", "fmax", "steps", "optimizer")}
    docs = [InterfaceDocument(
        electrolyte=c.electrolyte, anode=c.electrode, electrolyte_miller=list(c.electrolyte_miller),
        anode_miller=list(c.electrode_miller), termination=term, calculator=calc, parameters=params,
        structure=struct, area_A2=built.area, strain_percent=100 * c.von_mises,
        work_of_adhesion_J_m2=relaxation.work_of_adhesion if relaxation is not None else None,
        interface=summary.get("interface"), relaxation=summary.get("relaxation"))]
    if rep is not None:
        for method, key in (("layer-resolved DOS", "layer_dos"), ("potential line-up", "potential_lineup")):
            r = rep.get(key)
            if not r:
                continue
            docs.append(SchottkyDocument(
                electrolyte=c.electrolyte, anode=c.electrode, method=method, calculator="gpaw",
                parameters={"interface": term, "electrolyte_miller": list(c.electrolyte_miller),
                            "electrode_miller": list(c.electrode_miller), **electronic_params},
                band_gap_eV=r.get("gap"), barrier_n_eV=r.get("barrier_n"), barrier_p_eV=r.get("barrier_p"),
                fermi_level_eV=r.get("fermi_level"), vbm_eV=r.get("vbm"), cbm_eV=r.get("cbm"),
                difference_p_eV=rep.get("difference_p"), difference_n_eV=rep.get("difference_n"),
                warnings=rep.get("warnings"), details=r))
    with open_store(config) as store:
        return store.put_many(docs)


@click.command()
@click.argument("electrolyte")
@click.argument("electrode")
@click.option("--max-strain", type=float, default=0.05, show_default=True, help="Largest strain (fraction) on the strained side.")
@click.option("--max-atoms", type=int, default=200, show_default=True, help="Largest interface cell.")
@click.option("--max-area", type=float, default=150.0, show_default=True, help="Largest interface area (Å2).")
@click.option("--max-index", type=int, default=1, show_default=True, help="Largest Miller index of the surfaces tried.")
@click.option("--electrolyte-miller", "el_millers", multiple=True, metavar="HKL",
              help="Electrolyte surface(s) to try (e.g. 110; repeat); default all up to --max-index.")
@click.option("--electrode-miller", "ed_millers", multiple=True, metavar="HKL", help="Electrode surface(s) to try.")
@click.option("--electrolyte-thickness", type=float, default=9.0, show_default=True, help="Minimum slab thickness (Å).")
@click.option("--electrode-thickness", type=float, default=8.0, show_default=True, help="Minimum slab thickness (Å).")
@click.option("--strain-on", type=click.Choice(["electrode", "electrolyte"]), default="electrode", show_default=True,
              help="Which side takes the strain (the soft metal by default).")
@click.option("--list", "n_list", type=int, default=10, show_default=True, help="Candidates to print.")
@click.option("--candidate", "pick", type=int, default=1, show_default=True, help="Rank of the candidate to build.")
@click.option("--stacking", type=click.Choice(["vacuum", "periodic"]), default="vacuum", show_default=True)
@click.option("--vacuum", type=float, default=12.0, show_default=True, help="Vacuum above the electrode (Å).")
@click.option("--gap", type=float, default=2.0, show_default=True, help="Interlayer distance without --scan (Å).")
@click.option("--scan/--no-scan", default=True, show_default=True,
              help="Rigid shifts (3x3 grid of the electrode cell) x gaps (1.6-3.2 Å) scored by single points of --calculator.")
@click.option("--fixed-layers", type=int, default=2, show_default=True, help="Electrolyte layers held fixed.")
@click.option("--relax", is_flag=True, help="Relax the interface and both slabs; work of adhesion.")
@click.option("--calculator", default="chgnet", show_default=True, help="Relaxation / scoring backend.")
@click.option("--fmax", type=float, default=0.05, show_default=True)
@click.option("--steps", type=int, default=300, show_default=True)
@click.option("--electronic", default=None, metavar="BACKEND", help="Electronic static and Schottky barriers (gpaw).")
@click.option("--ecut", type=float, default=None, help="Plane-wave cutoff for --electronic (eV; preset default).")
@click.option("--kpts", default=None, metavar="K1,K2,K3", help="k-point mesh of the interface for --electronic.")
@click.option("--bulk-kpts", default=None, metavar="K1,K2,K3", help="k-point mesh of the bulk reference.")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
@click.option("--plot", "plot_prefix", default=None, metavar="PREFIX",
              help="Write PREFIX_structure.png (and _layer_dos.png, _potential.png with --electronic).")
@click.option("-o", "--output", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Write structures (extxyz, cif), summary.json and electronic.npz here.")
@click.option("--store", is_flag=True, help="Store the interface (and Schottky) documents.")
@click.option("--config", default=None, type=click.Path(dir_okay=False), help="sseflow config file (database).")
def interface(electrolyte, electrode, max_strain, max_atoms, max_area, max_index, el_millers, ed_millers,
              electrolyte_thickness, electrode_thickness, strain_on, n_list, pick, stacking, vacuum, gap, scan,
              fixed_layers, relax, calculator, fmax, steps, electronic, ecut, kpts, bulk_kpts, as_json, plot_prefix,
              out_dir, store, config):
    """Build and relax ELECTROLYTE | ELECTRODE interfaces; Schottky barriers."""
    from workflows.calculators.chgnet import set_torch_threads
    from workflows.interfaces.build import build_interface, write_structure_files
    from workflows.interfaces.matching import find_candidates

    say = (lambda *a, **k: None) if as_json else click.echo
    if calculator == "chgnet":
        set_torch_threads(1)
    cands = find_candidates(
        electrolyte, electrode, max_strain=max_strain, max_area=max_area, max_atoms=max_atoms, max_index=max_index,
        electrolyte_millers=[_miller(m) for m in el_millers] or None,
        electrode_millers=[_miller(m) for m in ed_millers] or None,
        electrolyte_thickness=electrolyte_thickness, electrode_thickness=electrode_thickness, strain_on=strain_on)
    if not cands:
        raise InputError(f"no {electrolyte} | {electrode} match within {100 * max_strain:g}% strain, "
                         f"{max_area:g} Å2 and {max_atoms} atoms: raise --max-strain/--max-area/--max-atoms")
    say(f"{len(cands)} lattice matches of {electrolyte} | {electrode} (strain on the {strain_on}):")
    say(format_candidates(cands, n_list))
    if not 1 <= pick <= len(cands):
        raise InputError(f"--candidate {pick}: there are {len(cands)} candidates")
    cand = cands[pick - 1]
    built = build_interface(cand, gap=gap, stacking=stacking, vacuum=vacuum, fixed_layers=fixed_layers, scan=scan,
                            calculator=calculator if scan else None)
    summary: dict = {"electrolyte": electrolyte, "electrode": electrode,
                     "candidates": [c.as_dict() for c in cands[:n_list]], "interface": built.summary()}
    say("")
    say(format_built(summary["interface"]))
    relaxation = None
    atoms = built.atoms
    if relax:
        from workflows.interfaces.relax import relax_interface

        relaxation = relax_interface(built, calculator, fmax=fmax, steps=steps)
        summary["relaxation"] = relaxation.summary()
        atoms = relaxation.atoms
        say(format_relax(summary["relaxation"]))
    rep = None
    es = None
    eparams: dict = {}
    if electronic:
        from workflows.interfaces.matching import load_structure
        from workflows.interfaces.relax import bulk_reference, electronic_structure, schottky_from_electronic

        over = {"ecut": ecut} if ecut else {}
        eparams = {"backend": electronic, "ecut": ecut, "kpts": list(_kpts(kpts) or []) or None,
                   "bulk_kpts": list(_kpts(bulk_kpts) or []) or None}
        periods = {"electrolyte": built.electrolyte_period, "electrode": built.electrode_period}
        es = electronic_structure(atoms, electronic, periods=periods, kpts=_kpts(kpts), **over)
        bulk = bulk_reference(load_structure(electrolyte).get_primitive_structure(), electronic,
                              kpts=_kpts(bulk_kpts), **over)
        rep = schottky_from_electronic(es, bulk)
        summary["electronic"] = es.as_dict()
        summary["bulk_reference"] = bulk
        summary["schottky"] = rep
        say(format_schottky(rep))
    files: list[str] = []
    if out_dir:
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        files += write_structure_files(built, d / "interface_built")
        if relaxation is not None:
            from ase.io import write

            a = relaxation.atoms.copy()
            a.info = {}
            write(str(d / "interface_relaxed.extxyz"), a)
            files.append(str(d / "interface_relaxed.extxyz"))
        if es is not None:
            files.append(es.save(d / "electronic.npz"))
    if plot_prefix:
        from analysis.interface_plots import plot_all

        files += plot_all(plot_prefix, atoms=atoms, electronic=es, schottky=rep,
                          title=f"{cand.electrolyte_termination.label} | {cand.electrode_termination.label}")
    if store:
        n = _store(summary, built, relaxation, rep, eparams, config)
        click.echo(f"stored {n} document(s)", err=True)
    summary["files"] = files
    if out_dir:
        p = Path(out_dir) / "summary.json"
        p.write_text(json.dumps(summary, indent=2, default=_default))
        summary["files"].append(str(p))
    for f in files:
        say(f"wrote {f}")
    if as_json:
        echo_json(json.loads(json.dumps(summary, default=_default)))


def _default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return str(o)
