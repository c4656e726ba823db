"""``sseflow table``: the stability-window table and figure for papers."""
from __future__ import annotations

from pathlib import Path

import click

from sseflow.workflows.cli.common import config_option, split_list


@click.command()
@click.argument("formulas", nargs=-1)
@click.option("--reference", default=None, type=click.Path(dir_okay=False), metavar="PATH",
              help="Reference energies (CSV table or pymatgen entries JSON).")
@click.option("--energy-column", default=None, metavar="NAME", help="Energy column of a CSV table.")
@click.option("--exclude", default="", metavar="F,..", help="Phases to leave out, comma-separated.")
@click.option("--from-db", is_flag=True, help="Regenerate the table from stored window documents.")
@click.option("--formula", "db_formulas", default="", metavar="F,..", help="With --from-db: formulas to include.")
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "latex", "json", "text"]), default="md",
              show_default=True)
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False), help="Write the table to FILE.")
@click.option("--plot", default=None, type=click.Path(dir_okay=False), help="Window figure (.png/.svg/.pdf).")
@click.option("--temperature", default=None, metavar="T,..",
              help="Windows at these temperatures (K; 'static' = 0 K energies) from stored phonons.")
@click.option("--allow-imaginary", is_flag=True, help="Use phonons of phases flagged for imaginary modes too.")
@click.option("--store", is_flag=True, help="Also store the computed windows in the database.")
@config_option
def table(formulas, reference, energy_column, exclude, from_db, db_formulas, fmt, output, plot, temperature,
          allow_imaginary, store, config):
    """Stability-window table (and figure) of FORMULAS, computed or read from the database."""
    from sseflow.analysis.errors import InputError
    from sseflow.analysis.plots import check_figure_path
    from sseflow.analysis.tables import format_table, window_rows

    if plot:
        check_figure_path(plot)
    if from_db:
        from sseflow.workflows.store.api import load_window_rows

        wanted = list(formulas) + split_list(db_formulas)
        payloads = load_window_rows(wanted or None, config=config)
        if not payloads:
            raise InputError("the database holds no window documents" + (f" for {', '.join(wanted)}" if wanted else ""))
    else:
        if not formulas:
            raise InputError("give formulas (or --from-db)")
        if not reference:
            from sseflow.workflows.store.config import default_reference

            reference = default_reference(config)[0]
        if not reference:
            raise InputError("--reference PATH is required unless --from-db is given (or set a default: "
                             "SSEFLOW_REFERENCE, or 'reference: PATH' in the sseflow config file)")
        from sseflow.workflows.cli.window import compute_windows

        rs, excl, payloads = compute_windows(formulas, reference, energy_column, exclude, profile=False,
                                             temperature=temperature, allow_imaginary=allow_imaginary,
                                             config=config, store=store)
    rows = window_rows(payloads)
    text = format_table(rows, fmt)
    if output:
        Path(output).write_text(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
    if plot and any("temperature_K" in p for p in payloads):
        from sseflow.analysis.thermo_plots import plot_windows_vs_temperature

        plot_windows_vs_temperature(payloads, plot)
        click.echo(f"wrote {plot}", err=True)
    elif plot:
        from sseflow.analysis.plots import plot_windows

        plot_windows(rows, plot)
        click.echo(f"wrote {plot}", err=True)
