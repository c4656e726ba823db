"""``sseflow screen``: rank interlayer (coating) candidates between an electrolyte and an anode."""
from __future__ import annotations

from pathlib import Path

import click

from sseflow.workflows.cli.common import config_option, load, reference_options, split_list, validate_formulas
from sseflow.workflows.stages.reactions import configured_store, screening


@click.command()
@click.argument("electrolyte")
@reference_options
@click.option("--anode", default="Li", show_default=True, metavar="F",
              help="Anode: Li, Si or a Li-Si alloy formula (Li15Si4, LiSi ...).")
@click.option("--candidates", default="default", show_default=True, metavar="F,..|default",
              help="Comma-separated coating formulas; 'default' for the documented list.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON (same as --format json).")
@click.option("--format", "fmt", type=click.Choice(["text", "md", "csv", "latex", "json"]), default="text",
              show_default=True)
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False), help="Write the table to FILE.")
@click.option("--plot", default=None, type=click.Path(dir_okay=False), help="Screening figure (.png/.svg/.pdf).")
@click.option("--store", is_flag=True, help="Write the rows to the results database.")
@config_option
def screen(electrolyte, reference, energy_column, exclude, anode, candidates, as_json, fmt, output, plot, store,
           config):
    """Rank coatings between ELECTROLYTE and an anode.

    A coating is stable against the anode when it does not react with it (most negative
    reaction energy >= -1 meV/atom) and its own window reaches the anode's potential (0 V for
    Li, the lithiation plateau of a Li-Si alloy); against the electrolyte when their reaction
    energy is >= -1 meV/atom. Reaction energies are chemical (closed system) and mutual
    (reactants at their hull energies).
    """
    from sseflow.analysis.anodes import anode_formula
    from sseflow.analysis.errors import InputError
    from sseflow.analysis.formula import parse_formula
    from sseflow.analysis.plots import check_figure_path
    from sseflow.analysis.screening import format_screening

    parse_formula(electrolyte)
    anode = anode_formula(anode)
    cands = None if candidates.strip().lower() in ("", "default") else split_list(candidates)
    if cands is not None:
        if not cands:
            raise InputError("--candidates is empty")
        validate_formulas(cands)
    if plot:
        check_figure_path(plot)
    rs, excl = load(reference, energy_column, exclude)
    done = screening(rs, excl, electrolyte, anode, cands, reference=reference,
                     store=configured_store(config) if store else None)
    result = done.result
    if store:
        click.echo(f"stored {len(done.keys)} screening document(s)", err=True)
    text = format_screening(result.rows, "json" if as_json else fmt)
    if not text.endswith("\n"):
        text += "\n"
    if output:
        Path(output).write_text(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if plot:
        from sseflow.analysis.reaction_plots import plot_screening

        plot_screening(result.rows, plot, electrolyte=electrolyte, anode=anode,
                       anode_potential_V=result.anode_potential_V)
        click.echo(f"wrote {plot}", err=True)
