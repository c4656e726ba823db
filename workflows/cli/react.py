"""``sseflow react``: interfacial reaction energy of two compositions, or of an electrolyte
against the whole Li-Si lithiation series."""
from __future__ import annotations

import math

import click

from sseflow.workflows.cli.common import echo_json, load, reference_options, split_list

# Electrochemical windows of real electrolytes span a few volts; beyond these bounds a number
# is a typo (and would only push every phase into the Li reservoir or out of it).
MAX_POTENTIAL_V = 100.0
MAX_TEMPERATURE_K = 1.0e4


def _store(kind: str, rows: list[dict], rs, excl, reference: str, config: str | None, options: dict) -> None:
    """Like :func:`sseflow.workflows.cli.window.store_rows`, with the options that change the result."""
    from sseflow.workflows.store.hooks import store_results

    n = store_results(kind, rows, {"reference": reference, "reference_hash": rs.content_hash,
                                   "exclude": list(excl), "options": options}, config=config)
    click.echo(f"stored {n} {kind} document(s)", err=True)


def _payload(result, temperature: float | None) -> dict:
    d = result.to_dict()
    if temperature is not None:
        d["temperature_K"] = temperature
    return d


def _fmt_x(x: float) -> str:
    return f"{x:.4f}"


def _fmt_e(e: float) -> str:
    return f"{0.0 if abs(e) < 5e-4 else e:.1f}"


def format_reaction(r) -> str:
    """Plain-text report of one :class:`sseflow.analysis.reactions.ReactionResult`."""
    mode = ("chemical reaction, closed system" if r.potential_V is None
            else f"open to Li at {r.potential_V:g} V vs Li/Li+, energies per non-Li atom")
    unit = "meV/atom" if r.potential_V is None else "meV/non-Li atom"
    lines = [f"{r.reactant_a} | {r.reactant_b}  ({mode}; {r.chemsys})",
             f"reactant energies: {r.reactant_a} {r.energy_source_a} ({r.energy_a_eV_per_atom:.4f} eV/atom), "
             f"{r.reactant_b} {r.energy_source_b} ({r.energy_b_eV_per_atom:.4f} eV/atom)"]
    if r.potential_V is not None:
        lines.append(f"reference for E_rxn: {r.reactant_energies}")
    head = ["", "x", f"E_rxn ({unit})", "reaction"]
    body = [["*" if k is r.minimum else "", _fmt_x(k.x), _fmt_e(k.energy_meV_per_atom), k.reaction] for k in r.kinks]
    widths = [max(len(row[i]) for row in [head] + body) for i in range(3)]
    for row in [head] + body:
        lines.append(f"{row[0].ljust(widths[0])} {row[1].rjust(widths[1])}  {row[2].rjust(widths[2])}  {row[3]}"
                     .rstrip())
    m = r.minimum
    if r.reacts:
        lines.append(f"minimum: {_fmt_e(m.energy_meV_per_atom)} {unit} at x = {_fmt_x(m.x)}: {m.reaction}")
    else:
        lines.append(f"no reaction: minimum {_fmt_e(m.energy_meV_per_atom)} {unit} (within 1 meV of zero)")
    return "\n".join(lines) + "\n"


def format_path(rows: list[dict]) -> str:
    head = ["alloy", "Li/Si", "V_alloy", "E_hull", "x_min", "E_min", "products at the minimum"]
    body = []
    for r in rows:
        m = r["minimum"]
        body.append([r["alloy"], f"{r['li_per_si']:.3f}", f"{r['alloy_potential_V']:.3f}",
                     "-" if r["alloy_e_above_hull_meV"] is None else f"{r['alloy_e_above_hull_meV']:.1f}",
                     _fmt_x(m["x"]), _fmt_e(m["energy_meV_per_atom"]),
                     " + ".join(m["products"]) if m["energy_meV_per_atom"] < -1.0 else "no reaction"])
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in body]
    return "\n".join(out) + "\n"


@click.command()
@click.argument("reactant_a", metavar="A")
@click.argument("reactant_b", metavar="[B]", required=False)
@reference_options
@click.option("--potential", type=float, default=None, metavar="V",
              help="Open to Li at this potential (V vs Li/Li+, >= 0); default: chemical (closed) reaction.")
@click.option("--include-decomposition", is_flag=True,
              help="With --potential: reactants at their own grand potential, so their decomposition by the "
                   "Li reservoir counts (pymatgen include_no_mixing_energy=True). Default: mutual reaction only.")
@click.option("--use-hull-energy", is_flag=True,
              help="Take the reactants at their hull energy instead of their reference entry (mutual reaction).")
@click.option("--energy-a", type=float, default=None, metavar="EV",
              help="Formation energy of A (eV/atom, within +-100) to use instead of the reference set's.")
@click.option("--energy-b", type=float, default=None, metavar="EV",
              help="Formation energy of B (eV/atom, within +-100) to use instead of the reference set's.")
@click.option("--lithiation-path", is_flag=True,
              help="React A with every phase of the Li-Si lithiation series (one row per alloy); no B.")
@click.option("--alloys", default="hull", show_default=True, metavar="hull|default|F,..",
              help="With --lithiation-path: the reference set's Li-Si hull phases, the documented default "
                   "list (Si, LiSi, Li12Si7, Li7Si3, Li13Si4, Li15Si4), or formulas.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--plot", default=None, type=click.Path(dir_okay=False), help="E_rxn(x) figure (.png/.svg/.pdf).")
@click.option("--temperature", type=float, default=None, metavar="K",
              help="Reaction energies at this temperature from stored phonons (vibrational free energies).")
@click.option("--allow-imaginary", is_flag=True, help="Use phonons of phases flagged for imaginary modes too.")
@click.option("--store", is_flag=True, help="Write the reaction(s) to the results database.")
@click.option("--config", default=None, type=click.Path(dir_okay=False), help="sseflow config file (database).")
def react(reactant_a, reactant_b, reference, energy_column, exclude, potential, include_decomposition,
          use_hull_energy, energy_a, energy_b, lithiation_path, alloys, temperature, allow_imaginary,
          as_json, plot, store, config):
    """Interfacial reaction energy E_rxn(x) of A (electrolyte) and B (electrode, coating).

    x is the atom fraction of B in the mixture of the normalised compositions; every kink of
    the piecewise-linear curve is found exactly, with its balanced reaction and products.
    Anodes: Li, Si or Li-Si alloys by formula (Li15Si4, LiSi ...). With --lithiation-path,
    A is reacted with each phase of the Li-Si series.
    """
    from sseflow.analysis.entries import check_energy
    from sseflow.analysis.errors import InputError
    from sseflow.analysis.formula import parse_formula
    from sseflow.analysis.plots import check_figure_path

    if energy_a is not None:
        energy_a = check_energy(energy_a, "--energy-a")
    if energy_b is not None:
        energy_b = check_energy(energy_b, "--energy-b")
    if potential is not None and not (math.isfinite(potential) and abs(potential) <= MAX_POTENTIAL_V):
        raise InputError(f"--potential {potential:g} is out of range (0 to {MAX_POTENTIAL_V:g} V vs Li/Li+)")
    if temperature is not None and not (math.isfinite(temperature) and abs(temperature) <= MAX_TEMPERATURE_K):
        raise InputError(f"--temperature {temperature:g} is out of range (0 to {MAX_TEMPERATURE_K:g} K)")
    parse_formula(reactant_a)
    if lithiation_path:
        if reactant_b:
            raise InputError("--lithiation-path takes one composition (the electrolyte), not two")
        if energy_b is not None:
            raise InputError("--energy-b cannot be used with --lithiation-path")
    elif not reactant_b:
        raise InputError("give two compositions A B (or one with --lithiation-path)")
    else:
        parse_formula(reactant_b)
    series = alloys.strip()
    if series.lower() not in ("hull", "default"):
        series = split_list(alloys)
        for f in series:
            parse_formula(f)
    if potential is not None:
        if potential < 0:
            raise InputError(f"--potential must be >= 0 V vs Li/Li+ (got {potential:g})")
        for f in (reactant_a, reactant_b):
            if f and set(parse_formula(f)) == {"Li"}:
                raise InputError(f"{f} cannot be a reactant at a potential: Li is the reservoir of the open "
                                 f"system (drop --potential for the chemical reaction with Li)")
    elif include_decomposition:
        raise InputError("--include-decomposition needs --potential")
    if plot:
        check_figure_path(plot)

    from sseflow.analysis.reactions import ReactionCalculator

    rs, excl = load(reference, energy_column, exclude)
    if temperature is not None:
        from sseflow.workflows.temperature import references_for

        if temperature < 0:
            raise InputError(f"--temperature must be >= 0 K (got {temperature:g})")
        partners = [reactant_a] + ([reactant_b] if reactant_b else ["Li", "Si"])
        rs = references_for(rs, [temperature], partners, config=config,
                            open_element="Li" if (potential is not None or lithiation_path) else None,
                            allow_imaginary=allow_imaginary)[temperature]
        report = getattr(rs, "thermo_report", None)
        for note in (report.notes if report else []):
            click.echo(f"note: {note}", err=True)
    rc = ReactionCalculator(rs, excl)
    kw = dict(potential=potential, include_decomposition=include_decomposition, use_hull_energy=use_hull_energy)
    options = {"include_decomposition": include_decomposition, "use_hull_energy": use_hull_energy,
               "energy_a": energy_a, "energy_b": energy_b}
    if temperature is not None:
        options["temperature_K"] = temperature

    if lithiation_path:
        from sseflow.analysis.anodes import lithiation_series

        phases = lithiation_series(rc.windows, series)
        results, rows = [], []
        for ph in phases:
            r = rc.react(reactant_a, ph.formula, energy_a=energy_a, **kw)
            results.append(r)
            rows.append({**_payload(r, temperature), "alloy": ph.formula, "li_per_si": ph.li_per_si,
                         "alloy_potential_V": ph.potential_V, "alloy_e_above_hull_meV": ph.e_above_hull_meV})
        if store:
            _store("reaction", rows, rs, excl, reference, config, options)
        if as_json:
            echo_json(rows)
        else:
            mode = "chemical" if potential is None else f"open to Li at {potential:g} V (meV per non-Li atom)"
            click.echo(f"{reactant_a} against the Li-Si lithiation series ({mode}); "
                       f"E in meV/atom, V_alloy = lithiation plateau of the alloy (V vs Li/Li+)")
            click.echo(format_path(rows), nl=False)
        notes = sorted({n for r in results for n in r.notes})
    else:
        r = rc.react(reactant_a, reactant_b, energy_a=energy_a, energy_b=energy_b, **kw)
        results = [r]
        if store:
            _store("reaction", [_payload(r, temperature)], rs, excl, reference, config, options)
        if as_json:
            echo_json(_payload(r, temperature))
        else:
            click.echo(format_reaction(r), nl=False)
        notes = r.notes
    for note in notes:
        click.echo(f"note: {note}", err=True)
    if plot:
        from sseflow.analysis.reaction_plots import plot_reaction

        plot_reaction(results if lithiation_path else results[0], plot)
        click.echo(f"wrote {plot}", err=True)
