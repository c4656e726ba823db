"""``sseflow interface``: build (and relax) an electrolyte | electrode interface; Schottky barriers.

    sseflow interface build ELECTROLYTE ELECTRODE [--max-strain 0.05] [--max-atoms 200] [--relax]
                            [--electronic gpaw|qe|vasp] [--json] [--plot PREFIX] [--store] [-o DIR]
    sseflow interface schottky DIR|TASK_ID [--electronic gpaw|qe|vasp] [--kpts 4,4,1] [--store]

``build``: lattice matches ranked (table), the chosen one built (rigid-shift/gap scan scored by
CHGNet single points unless ``--no-scan``), with ``--relax`` relaxed with the relaxation backend
(W_ad, what happened at the contact); ``-o DIR`` keeps everything the next stage needs.
``schottky``: a static with electronic structure of that cell and of the bulk electrolyte, then
both barrier methods (layer DOS and potential line-up); a folder that already has them is
re-analysed without a new calculation. ``sseflow interface E A ...`` means ``interface build``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import click

from sseflow.analysis.errors import InputError
from sseflow.workflows.calculators.registry import DEFAULT as DEFAULT_CALCULATOR
from sseflow.workflows.cli.common import (COUNT, NON_NEGATIVE, POSITIVE, POSITIVE_INT, FiniteFloat, config_option,
                                         echo_json, parse_settings)


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


def _check_outputs(out_dir, plot_prefix) -> None:
    """Output paths that cannot be written: one line now, not a traceback after the calculations."""
    from sseflow.workflows.cli.common import check_output_file, check_output_folder

    if out_dir:
        check_output_folder(out_dir, "--output")
    if plot_prefix:
        check_output_file(f"{plot_prefix}_structure.png", "--plot", make_parent=True)


def _check_overrides(electronic, overrides) -> None:
    """``--set`` keys the electronic backend does not know (a typo would silently do nothing)."""
    from sseflow.workflows.calculators.registry import BACKENDS

    if not overrides:
        return
    if not electronic:
        raise InputError("--set overrides the --electronic backend's preset: give --electronic too")
    if str(electronic).strip().lower() in BACKENDS:
        from sseflow.workflows.calculators.base import check_parameters

        check_parameters(str(electronic).strip().lower(), parse_settings(overrides), "--set")


def _gap_range(value: str | None) -> tuple[float, ...]:
    """``MIN,MAX[,STEP]`` (Å) as the gaps of the scan, MIN and MAX included."""
    from sseflow.workflows.interfaces.build import SCAN_GAPS

    if value is None:
        return tuple(SCAN_GAPS)
    parts = [x.strip() for x in str(value).split(",")]
    try:
        nums = [float(x) for x in parts]
    except ValueError:
        nums = []
    if len(nums) not in (2, 3) or not all(math.isfinite(x) for x in nums):
        raise InputError(f"--gap-range {value!r}: expected MIN,MAX or MIN,MAX,STEP in Å (e.g. 1.2,4.0)")
    lo, hi = nums[0], nums[1]
    step = nums[2] if len(nums) == 3 else 0.4
    if not (0 < lo < hi) or step <= 0:
        raise InputError(f"--gap-range {value!r}: needs 0 < MIN < MAX and STEP > 0")
    n = int(math.floor((hi - lo) / step + 1e-9))
    if n + 1 > 50:
        raise InputError(f"--gap-range {value!r}: {n + 1} gaps; use at most 50 (a larger STEP)")
    gaps = [round(lo + k * step, 6) for k in range(n + 1)]
    if hi - gaps[-1] > 1e-6:
        gaps.append(round(hi, 6))
    return tuple(gaps)


def _relative_to(path: str, folder) -> str:
    """``path`` relative to ``folder`` when it lies inside it, else absolute."""
    p, d = Path(path).resolve(), Path(folder).resolve()
    try:
        return p.relative_to(d).as_posix()
    except ValueError:
        return str(p)


def _pct(x: float) -> str:
    return f"{100 * x:+.2f}%"


def _cut(t) -> str:
    return f"{t.shift:.3f}" + (" flipped" if t.flipped else "")


def format_candidates(cands, n: int) -> str:
    """The ranked table; when listed candidates agree in every number (faces of the same surfaces
    cut at different heights), a column of the cuts (shift along the normal, flipped) tells them apart."""
    head = ["#", "electrolyte face", "electrode face", "area Å2", "atoms", "vM strain", "eps_a", "eps_b", "score"]
    rows = []
    for c in cands[:n]:
        s = c.strain[c.strained_side]
        rows.append([str(c.rank), c.electrolyte_termination.label, c.electrode_termination.label, f"{c.area:.1f}",
                     str(c.n_atoms), f"{100 * c.von_mises:.2f}%", _pct(s["a"]), _pct(s["b"]), f"{c.score:.3f}"])
    numbers = [tuple(r[3:]) for r in rows]
    if len(set(numbers)) < len(numbers):
        head.append("cuts (electrolyte / electrode)")
        for r, c in zip(rows, cands[:n]):
            r.append(f"{_cut(c.electrolyte_termination)} / {_cut(c.electrode_termination)}")
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



class _DefaultBuild(click.Group):
    """``sseflow interface E A ...`` still means ``sseflow interface build E A ...``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["build", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultBuild)
def interface():
    """Electrolyte | electrode interfaces: build (and relax), then Schottky barriers.

    \b
      sseflow interface build Li3PS4 Li --relax -o out/li3ps4_li
      sseflow interface schottky out/li3ps4_li --electronic gpaw --kpts 4,4,1
      sseflow interface schottky interface:1a2b3c --store      (a stored interface)
    """


@interface.command("build")
@click.argument("electrolyte")
@click.argument("electrode")
@click.option("--max-strain", type=FiniteFloat(min=0, max=0.5, min_open=True, max_open=True), default=0.05,
              show_default=True, help="Largest strain (fraction) on the strained side.")
@click.option("--max-atoms", type=click.IntRange(min=2), default=200, show_default=True, help="Largest interface cell.")
@click.option("--max-area", type=POSITIVE, default=150.0, show_default=True, help="Largest interface area (Å2).")
@click.option("--max-index", type=POSITIVE_INT, default=1, show_default=True, help="Largest Miller index of the surfaces tried.")
@click.option("--electrolyte-miller", "el_millers", multiple=True, metavar="HKL",
              help="Electrolyte surface(s) to try (e.g. 110; repeat); default all up to --max-index.")
@click.option("--electrode-miller", "ed_millers", multiple=True, metavar="HKL", help="Electrode surface(s) to try.")
@click.option("--electrolyte-thickness", type=POSITIVE, default=9.0, show_default=True, help="Minimum slab thickness (Å).")
@click.option("--electrode-thickness", type=POSITIVE, default=8.0, show_default=True, help="Minimum slab thickness (Å).")
@click.option("--strain-on", type=click.Choice(["electrode", "electrolyte"]), default="electrode", show_default=True,
              help="Which side takes the strain (the soft metal by default).")
@click.option("--list", "n_list", type=COUNT, default=10, show_default=True, help="Candidates to print.")
@click.option("--candidate", "pick", type=POSITIVE_INT, default=1, show_default=True, help="Rank of the candidate to build.")
@click.option("--stacking", type=click.Choice(["vacuum", "periodic"]), default="vacuum", show_default=True)
@click.option("--vacuum", type=NON_NEGATIVE, default=12.0, show_default=True, help="Vacuum above the electrode (Å).")
@click.option("--gap", type=POSITIVE, default=2.0, show_default=True, help="Interlayer distance without --scan (Å).")
@click.option("--scan/--no-scan", default=True, show_default=True,
              help="Rigid shifts (3x3 grid of the electrode cell) x gaps (--gap-range) scored by single points of --calculator.")
@click.option("--gap-range", "gap_range", default=None, metavar="MIN,MAX[,STEP]",
              help="Gaps of the scan (Å; default 1.6,3.2,0.4): widen it when the best gap sits at an edge.")
@click.option("--fixed-layers", type=COUNT, default=2, show_default=True, help="Electrolyte layers held fixed.")
@click.option("--relax", is_flag=True, help="Relax the interface and both slabs; work of adhesion.")
@click.option("--calculator", default=DEFAULT_CALCULATOR, show_default=True, help="Relaxation / scoring backend.")
@click.option("--fmax", type=POSITIVE, default=0.05, show_default=True)
@click.option("--steps", type=COUNT, default=300, show_default=True)
@click.option("--electronic", default=None, metavar="BACKEND", help="Electronic static and Schottky barriers (gpaw, qe, vasp).")
@click.option("--ecut", type=POSITIVE, default=None, help="Plane-wave cutoff for --electronic (eV; preset default).")
@click.option("--kpts", default=None, metavar="K1,K2,K3", help="k-point mesh of the interface for --electronic.")
@click.option("--bulk-kpts", default=None, metavar="K1,K2,K3", help="k-point mesh of the bulk reference.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a key of the electronic backend's preset (repeat; e.g. --set functional=pbesol).")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
@click.option("--plot", "plot_prefix", default=None, metavar="PREFIX",
              help="Write PREFIX_structure.png (and _layer_dos.png, _potential.png with --electronic).")
@click.option("-o", "--output", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Write structures (extxyz, cif), summary.json (and electronic.npz, bulk_reference.json) here: the input of 'interface schottky DIR'.")
@click.option("--store", is_flag=True, help="Store the interface (and Schottky) documents.")
@config_option
def build(electrolyte, electrode, max_strain, max_atoms, max_area, max_index, el_millers, ed_millers,
          electrolyte_thickness, electrode_thickness, strain_on, n_list, pick, stacking, vacuum, gap, scan,
          gap_range, fixed_layers, relax, calculator, fmax, steps, electronic, ecut, kpts, bulk_kpts, overrides, as_json,
          plot_prefix, out_dir, store, config):
    """Lattice matches of ELECTROLYTE | ELECTRODE, the chosen cell built (and relaxed).

    ELECTROLYTE / ELECTRODE: a CIF/POSCAR path or a structure name (Li3PS4, Li, Si, LiF, ...).
    """
    from sseflow.workflows.calculators.chgnet import set_torch_threads
    from sseflow.workflows.interfaces.build import write_structure_files
    from sseflow.workflows.interfaces.progress import terminal_progress
    from sseflow.workflows.interfaces.stages import find_and_build, periods_of, store_interface

    say = (lambda *a, **k: None) if as_json else click.echo
    scan_gaps = _gap_range(gap_range)
    _check_outputs(out_dir, plot_prefix)
    _check_overrides(electronic, overrides)
    if calculator in ("chgnet", "sevennet"):
        set_torch_threads(1)
    settings = {"max_strain": max_strain, "max_area": max_area, "max_atoms": max_atoms, "max_index": max_index,
                "electrolyte_miller": [_miller(m) for m in el_millers],
                "electrode_miller": [_miller(m) for m in ed_millers],
                "electrolyte_thickness": electrolyte_thickness, "electrode_thickness": electrode_thickness,
                "strain_on": strain_on, "gap": gap, "stacking": stacking, "vacuum": vacuum,
                "fixed_layers": fixed_layers, "scan": scan, "scan_gaps": list(scan_gaps)}
    with terminal_progress() as progress:
        cands, built = find_and_build(electrolyte, electrode, settings, calculator if scan else None, pick=pick,
                                      pick_label="--candidate", progress=progress)
    say(f"{len(cands)} lattice matches of {electrolyte} | {electrode} (strain on the {strain_on}):")
    say(format_candidates(cands, n_list))
    cand = cands[pick - 1]
    summary: dict = {"electrolyte": electrolyte, "electrode": electrode,
                     "candidates": [c.as_dict() for c in cands[:n_list]], "interface": built.summary()}
    say("")
    say(format_built(summary["interface"]))
    relaxation = None
    atoms = built.atoms
    if relax:
        from sseflow.workflows.interfaces.relax import relax_interface

        with terminal_progress() as progress:
            relaxation = relax_interface(built, calculator, fmax=fmax, steps=steps, progress=progress)
        summary["relaxation"] = relaxation.summary()
        atoms = relaxation.atoms
        say(format_relax(summary["relaxation"]))
    run = None
    if electronic:
        from sseflow.workflows.interfaces.stages import choose_cell, electronic_stage

        which, notes = choose_cell("auto", summary.get("relaxation"), relaxation is not None)
        for n in notes:
            say(f"note: {n}")
        with terminal_progress() as progress:
            run = electronic_stage(atoms if which == "relaxed" else built.atoms, electrolyte, electronic,
                                   periods=periods_of(built), kpts=_kpts(kpts), bulk_kpts=_kpts(bulk_kpts),
                                   directory=Path(out_dir) / "electronic" if out_dir else None, progress=progress,
                                   **parse_settings(overrides), **({"ecut": ecut} if ecut else {}))
        run.parameters["cell"] = which
        summary["electronic"] = run.electronic.as_dict()
        summary["bulk_reference"] = run.bulk
        summary["schottky"] = run.report
        say(format_schottky(run.report))
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
        if run is not None:
            files += _save_electronic(d, run)
    if plot_prefix:
        from sseflow.analysis.interface_plots import plot_all

        files += plot_all(plot_prefix, atoms=atoms, electronic=run.electronic if run else None,
                          schottky=run.report if run else None,
                          title=f"{cand.electrolyte_termination.label} | {cand.electrode_termination.label}")
    if store:
        from sseflow.workflows.interfaces.stages import schottky_documents
        from sseflow.workflows.store.api import open_store

        with open_store(config) as st:
            key = store_interface(st, summary, built, relaxation)
            n = 1
            if run is not None:
                n += st.put_many(schottky_documents(
                    run.report, electrolyte=cand.electrolyte, electrode=cand.electrode, calculator=electronic,
                    parameters={"interface": summary["interface"]["label"], **run.parameters}, interface_key=key))
        summary["interface_key"] = key
        click.echo(f"stored {n} document(s); interface {key}", err=True)
    summary["files"] = files
    if out_dir:
        p = Path(out_dir) / "summary.json"
        # paths relative to the folder, so that it can be moved or copied as a whole
        on_disk = dict(summary, files=[_relative_to(f, out_dir) for f in files] + ["summary.json"])
        p.write_text(json.dumps(on_disk, indent=2, default=_default))
        summary["files"].append(str(p))
    for f in files:
        say(f"wrote {f}")
    if as_json:
        echo_json(json.loads(json.dumps(summary, default=_default)))


def _save_electronic(d: Path, run) -> list[str]:
    files = [run.electronic.save(d / "electronic.npz")]
    if run.bulk is not None:
        p = d / "bulk_reference.json"
        p.write_text(json.dumps(run.bulk, indent=2, default=_default))
        files.append(str(p))
    p = d / "schottky.json"
    p.write_text(json.dumps({"schottky": run.report, "parameters": run.parameters}, indent=2, default=_default))
    files.append(str(p))
    return files


@interface.command("schottky")
@click.argument("target")
@click.option("--electronic", default="gpaw", show_default=True, metavar="BACKEND",
              help="Electronic backend for a new static: gpaw (here), qe, vasp.")
@click.option("--ecut", type=POSITIVE, default=None, help="Plane-wave cutoff (eV; preset default).")
@click.option("--kpts", default=None, metavar="K1,K2,K3", help="k-point mesh of the interface.")
@click.option("--bulk-kpts", default=None, metavar="K1,K2,K3", help="k-point mesh of the bulk reference.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a key of the backend's preset (repeat; e.g. --set ecutwfc=30 --set functional=pbesol).")
@click.option("--from-run", "from_run", default=None, type=click.Path(exists=True, file_okay=False),
              help="Read a finished VASP (vasprun.xml, LOCPOT) or QE static of this cell instead of running one.")
@click.option("--bulk-run", "bulk_run", default=None, type=click.Path(exists=True),
              help="Bulk reference: a bulk_reference.json or a finished VASP bulk static folder.")
@click.option("--cell", type=click.Choice(["auto", "relaxed", "built"]), default="auto", show_default=True,
              help="Which cell: auto = the relaxed one unless its relaxation polarised the electrolyte.")
@click.option("--rerun", is_flag=True, help="Run the static again even when DIR has electronic.npz.")
@click.option("--threshold", type=POSITIVE, default=0.05, show_default=True,
              help="Band-edge DOS threshold (fraction of the layer's DOS scale).")
@click.option("--tol", type=POSITIVE, default=0.1, show_default=True, help="Bulk-like layers agree within this (eV).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--plot", "plot_prefix", default=None, metavar="PREFIX",
              help="Write PREFIX_layer_dos.png, PREFIX_potential.png and PREFIX_structure.png.")
@click.option("-o", "--output", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Where electronic.npz etc. go (default: DIR itself; for a TASK_ID ./schottky_<key>).")
@click.option("--store", is_flag=True, help="Store the Schottky documents (linked to the interface).")
@config_option
def schottky(target, electronic, ecut, kpts, bulk_kpts, overrides, from_run, bulk_run, cell, rerun, threshold, tol, as_json, plot_prefix, out_dir, store,
             config):
    """Schottky barriers of an interface: TARGET is an 'interface build -o' folder or a stored
    interface's key (a unique prefix will do).

    A folder that already holds electronic.npz (and bulk_reference.json) is re-analysed in
    seconds (--threshold/--tol); otherwise the electronic static of the relaxed (else built)
    cell and of the bulk electrolyte run with --electronic, and their files are kept.
    """
    from sseflow.workflows.interfaces.electronic import ElectronicStructure
    from sseflow.workflows.interfaces.stages import electronic_stage, from_directory, from_document, reanalyse

    say = (lambda *a, **k: None) if as_json else click.echo
    _check_outputs(out_dir, plot_prefix)
    _check_overrides(electronic, overrides)
    if Path(target).is_dir():
        src = from_directory(target, cell)
    elif Path(target).exists():
        raise InputError(f"{target}: not a folder (give an 'interface build -o' folder or a stored interface key)")
    else:
        from sseflow.workflows.store.api import open_store

        with open_store(config) as st:
            src = from_document(st, target, cell)
    d = Path(out_dir) if out_dir else (src.directory or Path(f"schottky_{src.interface_key.split(':')[-1][:12]}"))
    d.mkdir(parents=True, exist_ok=True)
    say(f"interface {src.label}: {src.atoms.get_chemical_formula(mode='hill')}, {len(src.atoms)} atoms "
        f"({src.electrolyte} | {src.electrode}), {src.cell} cell")
    for n in src.notes:
        say(f"note: {n}")
    npz = d / "electronic.npz"
    files: list[str] = []
    if from_run:
        from sseflow.workflows.interfaces.stages import SchottkyRun, read_bulk, read_run, run_kind

        es = read_run(from_run, src.atoms, src.periods)
        bulk = read_bulk(bulk_run) if bulk_run else None
        if bulk is None:
            say("no --bulk-run: potential line-up skipped (layer DOS only)")
        rep = reanalyse(es, bulk, threshold=threshold, tol=tol)
        params = {"backend": run_kind(from_run), "from_run": str(Path(from_run).resolve()),
                  "bulk_run": str(Path(bulk_run).resolve()) if bulk_run else None, "dos_source": "atoms"}
        say(f"read {params['backend']} run {from_run}")
        run = SchottkyRun(electronic=es, bulk=bulk, report=rep, parameters=params)
        files += _save_electronic(d, run)
    elif npz.is_file() and not rerun:
        es = ElectronicStructure.load(npz)
        import numpy as np

        if list(es.symbols) != src.atoms.get_chemical_symbols() or not np.allclose(
                es.positions_z, src.atoms.get_positions()[:, 2], atol=1e-3):
            raise InputError(f"{npz} is of another cell ({len(es.symbols)} atoms, not this interface's "
                             f"{len(src.atoms)}, {src.cell}): use --rerun, --cell or another -o folder")
        bulk_file = d / "bulk_reference.json"
        bulk = json.loads(bulk_file.read_text()) if bulk_file.is_file() else None
        if bulk is None:
            say("no bulk_reference.json: potential line-up skipped (layer DOS only)")
        rep = reanalyse(es, bulk, threshold=threshold, tol=tol)
        params = {"backend": es.calculator, "reanalysed": True, **{k: es.parameters.get(k) for k in ("ecut", "kpts")}}
        say(f"re-analysed {npz} ({es.calculator}; no new calculation)")
        from sseflow.workflows.interfaces.stages import SchottkyRun

        run = SchottkyRun(electronic=es, bulk=bulk, report=rep, parameters=params)
        p = d / "schottky.json"
        p.write_text(json.dumps({"schottky": rep, "parameters": params}, indent=2, default=_default))
        files.append(str(p))
    else:
        say(f"electronic static with {electronic} (files in {d / 'electronic'}) ...")
        from sseflow.workflows.interfaces.progress import terminal_progress

        with terminal_progress() as progress:
            run = electronic_stage(src.atoms, src.electrolyte, electronic, periods=src.periods, kpts=_kpts(kpts),
                                   bulk_kpts=_kpts(bulk_kpts), directory=d / "electronic", threshold=threshold,
                                   tol=tol, progress=progress, **parse_settings(overrides),
                                   **({"ecut": ecut} if ecut else {}))
        files += _save_electronic(d, run)
    run.parameters["cell"] = src.cell
    say(format_schottky(run.report))
    if plot_prefix:
        from sseflow.analysis.interface_plots import plot_all

        files += plot_all(plot_prefix, atoms=src.atoms, electronic=run.electronic, schottky=run.report,
                          title=src.label)
    out = {"interface": src.label, "electrolyte": src.electrolyte, "electrode": src.electrode,
           "interface_key": src.interface_key, "schottky": run.report, "bulk_reference": run.bulk,
           "parameters": run.parameters, "files": files}
    if store:
        from sseflow.workflows.interfaces.stages import schottky_documents
        from sseflow.workflows.store.api import open_store

        docs = schottky_documents(run.report, electrolyte=src.electrolyte, electrode=src.electrode,
                                  calculator=str(run.parameters.get("backend")),
                                  parameters={"interface": src.label, **src.miller, **run.parameters},
                                  interface_key=src.interface_key)
        with open_store(config) as st:
            n = st.put_many(docs)
        out["stored"] = [doc.key for doc in docs]
        click.echo(f"stored {n} document(s)", err=True)
    for f in files:
        say(f"wrote {f}")
    if as_json:
        echo_json(json.loads(json.dumps(out, default=_default)))


def _default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return str(o)
