"""``sseflow window``: electrochemical stability windows."""
from __future__ import annotations

import click

from sseflow.workflows.cli.common import config_option, echo_json, load, reference_options, validate_formulas


def compute_windows(formulas, reference, energy_column, exclude, profile=True, temperature=None,
                    allow_imaginary=False, config=None, store=False):
    """(reference set, excluded formulas, list of window dicts) in the order given.

    With ``temperature`` ("300,600", "static,300"), one row per formula and temperature, from the
    stored phonon documents (vibrational free energies added to every phase); rows carry
    ``temperature_K`` (null for the static 0 K energies).
    """
    from sseflow.analysis.window import WindowCalculator

    validate_formulas(formulas)
    rs, excl = load(reference, energy_column, exclude)
    if not temperature:
        calc = WindowCalculator(rs, excl)
        out = [calc.window(f, profile=profile).to_dict() for f in formulas]
        if store:
            store_rows("window", out, rs, excl, reference, config)
        return rs, excl, out
    from sseflow.workflows.temperature import parse_temperatures, references_for

    temps = parse_temperatures(temperature)
    refs = references_for(rs, temps, list(formulas), config=config, open_element="Li",
                          allow_imaginary=allow_imaginary)
    by_t: dict = {}
    for t, rs_t in refs.items():
        report = getattr(rs_t, "thermo_report", None)
        for note in (report.notes if report else []):
            click.echo(f"note: {note}", err=True)
        calc = WindowCalculator(rs_t, excl)
        by_t[t] = [{**calc.window(f, profile=profile).to_dict(), "temperature_K": t} for f in formulas]
        if store:
            store_rows("window", by_t[t], rs_t, excl, reference, config, temperature=t)
    out = [by_t[t][i] for i in range(len(formulas)) for t in temps]
    return rs, excl, out


def store_rows(kind: str, rows: list[dict], rs, excl, reference: str, config: str | None,
               temperature: float | None = None, options: dict | None = None) -> None:
    from sseflow.workflows.store.api import store_results

    inputs = {"reference": reference, "reference_hash": rs.content_hash, "exclude": list(excl)}
    if temperature is not None:
        inputs["temperature"] = temperature
    if options:
        inputs["options"] = options
    n = store_results(kind, rows, inputs, config=config)
    click.echo(f"stored {n} {kind} document(s)", err=True)


@click.command()
@click.argument("formulas", nargs=-1, required=True)
@reference_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.option("--no-profile", is_flag=True, help="Skip the Li evolution profile (faster for screening).")
@click.option("--temperature", default=None, metavar="T,..",
              help="Windows at these temperatures (K; 'static' = 0 K energies) from stored phonons.")
@click.option("--allow-imaginary", is_flag=True, help="Use phonons of phases flagged for imaginary modes too.")
@click.option("--store", is_flag=True, help="Write the windows to the results database.")
@config_option
def window(formulas, reference, energy_column, exclude, as_json, no_profile, temperature, allow_imaginary,
           store, config):
    """Electrochemical stability windows (V vs Li/Li+) of FORMULAS.

    Each window is exact (LPs over the chemical-potential polytope), with the reduction and
    oxidation reactions, E_hull, decomposition energies at 0 V and 5 V and the Li profile.
    """
    from sseflow.analysis.tables import format_table, window_rows

    rs, excl, rows = compute_windows(formulas, reference, energy_column, exclude, profile=not no_profile,
                                     temperature=temperature, allow_imaginary=allow_imaginary,
                                     config=config, store=store)
    if as_json:
        echo_json(rows)
        return
    click.echo(format_table(window_rows(rows), "text"), nl=False)
    for r in rows:
        for note in r["notes"]:
            click.echo(f"note: {r['formula']}: {note}", err=True)
