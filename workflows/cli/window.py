"""``sseflow window``: electrochemical stability windows."""
from __future__ import annotations

import click

from workflows.cli.common import echo_json, load, reference_options, validate_formulas


def compute_windows(formulas, reference, energy_column, exclude, profile=True):
    """(reference set, excluded formulas, list of window dicts) in the order given."""
    from analysis.window import WindowCalculator

    validate_formulas(formulas)
    rs, excl = load(reference, energy_column, exclude)
    calc = WindowCalculator(rs, excl)
    out = []
    for f in formulas:
        r = calc.window(f, profile=profile)
        d = r.to_dict()
        out.append(d)
    return rs, excl, out


def store_rows(kind: str, rows: list[dict], rs, excl, reference: str, config: str | None) -> None:
    from workflows.store.hooks import store_results

    n = store_results(kind, rows, {"reference": reference, "reference_hash": rs.content_hash,
                                   "exclude": list(excl)}, config=config)
    click.echo(f"stored {n} {kind} document(s)", err=True)


@click.command()
@click.argument("formulas", nargs=-1, required=True)
@reference_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.option("--no-profile", is_flag=True, help="Skip the Li evolution profile (faster for screening).")
@click.option("--store", is_flag=True, help="Write the windows to the results database.")
@click.option("--config", default=None, type=click.Path(dir_okay=False), help="sseflow config file (database).")
def window(formulas, reference, energy_column, exclude, as_json, no_profile, store, config):
    """Electrochemical stability windows (V vs Li/Li+) of FORMULAS.

    Each window is exact (LPs over the chemical-potential polytope), with the reduction and
    oxidation reactions, E_hull, decomposition energies at 0 V and 5 V and the Li profile.
    """
    from analysis.tables import format_table, window_rows

    rs, excl, rows = compute_windows(formulas, reference, energy_column, exclude, profile=not no_profile)
    if store:
        store_rows("window", rows, rs, excl, reference, config)
    if as_json:
        echo_json(rows)
        return
    click.echo(format_table(window_rows(rows), "text"), nl=False)
    for r in rows:
        for note in r["notes"]:
            click.echo(f"note: {r['formula']}: {note}", err=True)
