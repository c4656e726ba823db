"""``sseflow phonons``: harmonic phonons and vibrational free energies with phonopy."""
from __future__ import annotations

import math

import click

from sseflow.workflows.calculators.registry import DEFAULT as DEFAULT_CALCULATOR
from sseflow.workflows.cli.common import POSITIVE, FiniteFloat, config_option, echo_json, split_list


def _temperatures(text: str) -> list[float]:
    out = []
    for t in split_list(text):
        try:
            v = float(t)
        except ValueError:
            raise click.BadParameter(f"'{t}' is not a temperature in K", param_hint="--temperatures") from None
        if not math.isfinite(v) or v < 0:
            raise click.BadParameter(f"{t} K is not a temperature (finite, >= 0)", param_hint="--temperatures")
        out.append(v)
    return out


def _mesh(text: str):
    parts = split_list(text.replace("x", ","))
    try:
        if len(parts) == 1:
            return float(parts[0])
        if len(parts) == 3:
            return [int(p) for p in parts]
    except ValueError:
        pass
    raise click.BadParameter("give a length in Å (50) or three integers (20,20,20)", param_hint="--mesh")


def format_rows(rows: list[dict]) -> str:
    if not rows:
        return ""
    temps = rows[0]["temperatures_K"]
    head = ["material", "space group", "supercell", "disp", "ZPE"] + [f"F({t:g}K)" for t in temps] + \
           ["S(300K)", "f_min THz", "status"]
    lines = [head]
    for r in rows:
        sc = r["supercell"]
        diag = "x".join(str(sc[i][i]) for i in range(3)) if all(sc[i][j] == 0 for i in range(3) for j in range(3)
                                                                  if i != j) else "3x3"
        s300 = r.get("entropy_300K_meV_per_atom_K")
        lines.append([r["formula"], r["space_group"], f"{diag} ({r['natoms_supercell']})", str(r["n_displacements"]),
                      f"{r['zero_point_energy_meV_per_atom']:.1f}"]
                     + [f"{x:.1f}" for x in r["free_energy_meV_per_atom"]]
                     + ["" if s300 is None else f"{s300:.4f}", f"{r['min_frequency_THz']:.2f}",
                        ("FLAGGED" if r["flagged"] else "ok") + (" (stored)" if r["reused"] else "")])
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(head))]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in lines]
    out.append("energies in meV/atom (F = F_vib, zero-point energy included), S in meV/atom/K")
    return "\n".join(out) + "\n"


@click.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("--calculator", default=DEFAULT_CALCULATOR, show_default=True, help="Force backend (chgnet, sevennet, emt, ...).")
@click.option("--temperatures", default="0,300,600", show_default=True, metavar="T,..",
              help="Temperatures (K) to report; the stored grid is 0-2000 K every 10 K.")
@click.option("--min-length", default=10.0, show_default=True, type=POSITIVE,
              help="Minimum perpendicular width of the supercell (Å).")
@click.option("--supercell", default=None, metavar="N,N,N", help="Explicit diagonal supercell (overrides --min-length).")
@click.option("--displacement", default=0.01, show_default=True,
              type=FiniteFloat(min=0, max=0.5, min_open=True, max_open=True), help="Finite displacement (Å).")
@click.option("--mesh", "mesh", default="50", show_default=True, help="q-mesh: length (Å) or N,N,N.")
@click.option("--no-relax", is_flag=True, help="Use the structure as given (no symmetry-constrained relaxation).")
@click.option("--fmax", default=0.005, show_default=True, type=POSITIVE, help="Relaxation force tolerance (eV/Å).")
@click.option("--store", is_flag=True, help="Reuse a matching stored phonon document, else compute and store it.")
@click.option("--no-reuse", is_flag=True, help="With --store: compute again even when a matching document exists.")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows instead of a table.")
@click.option("--plot", "plot", default=None, type=click.Path(dir_okay=False),
              help="Write a figure: phonon DOS and F_vib(T) of every phase (png/pdf/svg).")
def phonons(targets, calculator, temperatures, min_length, supercell, displacement, mesh, no_relax, fmax, store,
            no_reuse, config, as_json, plot):
    """Harmonic phonons (phonopy, finite displacements) of TARGETS: structure files (CIF, POSCAR),
    formulas from the structure library (Li2S) or chemical systems (Li-P-S: every library phase).

    Reports the zero-point energy, F_vib(T) and S_vib(T) per atom and the imaginary-mode check;
    a phase with imaginary modes below -0.1 THz (away from the Gamma acoustic modes) is FLAGGED and
    not used by temperature-dependent windows.
    """
    from sseflow.workflows.phonons import PhononSettings, phonons_for, resolve_targets

    temps = _temperatures(temperatures)
    if plot:
        from sseflow.workflows.cli.common import check_output_file

        check_output_file(plot, "--plot")
    sc = None
    if supercell:
        try:
            sc = [int(x) for x in split_list(supercell.replace("x", ","))]
        except ValueError:
            raise click.BadParameter("give three integers, e.g. 2,2,2", param_hint="--supercell") from None
        if len(sc) != 3 or min(sc) < 1:
            raise click.BadParameter("give three positive integers, e.g. 2,2,2", param_hint="--supercell")
    settings = PhononSettings(min_length=min_length, supercell_matrix=sc, displacement=displacement,
                              mesh=_mesh(mesh), relax=not no_relax, fmax=fmax)
    settings.temperatures(temps)  # validate the range before any work
    jobs = []
    for t in targets:
        jobs += resolve_targets(t)
    from sseflow.workflows.interfaces.progress import stderr_is_terminal

    # on a terminal: each displaced supercell as it is done (stderr); piped: nothing
    log = (lambda msg: click.echo(msg, err=True)) if stderr_is_terminal() else None
    results = []
    for label, structure in jobs:
        click.echo(f"phonons: {label} ...", err=True)
        res = phonons_for(structure, calculator, settings, temps, store=store, config=config, reuse=not no_reuse,
                          log=log)
        results.append(res)
        for note in res.notes:
            click.echo(f"note: {res.formula}: {note}", err=True)
    rows = []
    for r in results:
        row = r.summary(temps)
        row["entropy_300K_meV_per_atom_K"] = 1000.0 * float(r.entropy_at([300.0])[0])
        rows.append(row)
    if store:
        click.echo(f"stored {sum(1 for r in results if not r.reused)} phonon document(s); "
                   f"reused {sum(1 for r in results if r.reused)}", err=True)
    if plot:
        from sseflow.analysis.thermo_plots import plot_phonons

        plot_phonons(results, plot)
        click.echo(f"wrote {plot}", err=True)
    if as_json:
        echo_json(rows)
        return
    click.echo(format_rows(rows), nl=False)
