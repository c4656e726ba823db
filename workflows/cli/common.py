"""Options and helpers shared by the analysis commands."""
from __future__ import annotations

import json
import sys

import click


def split_list(value: str | None) -> list[str]:
    if not value:
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def reference_options(f):
    f = click.option("--exclude", default="", metavar="F,..",
                     help="Comma-separated formulas of phases to leave out (e.g. LiS4,P2S7).")(f)
    f = click.option("--energy-column", default=None, metavar="NAME",
                     help="Energy column of a CSV table (eV/atom); default: its only numeric column.")(f)
    f = click.option("--reference", "reference", required=True, type=click.Path(dir_okay=False),
                     metavar="PATH",
                     help="Reference energies: CSV formation-energy table or pymatgen entries JSON.")(f)
    return f


def load(reference: str, energy_column: str | None, exclude: str):
    """Load the reference set, validate the excluded formulas, print its notes to stderr."""
    from analysis.formula import parse_formula
    from analysis.reference import load_reference

    excl = split_list(exclude)
    for f in excl:
        parse_formula(f)
    rs = load_reference(reference, energy_column=energy_column)
    for note in rs.notes:
        click.echo(f"note: {reference}: {note}", err=True)
    return rs, excl


def validate_formulas(formulas) -> None:
    from analysis.formula import parse_formula

    for f in formulas:
        parse_formula(f)


def echo_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, allow_nan=False) + "\n")
