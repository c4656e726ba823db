"""``sseflow substitute``: substitution screening of an electrolyte site, carried to the anode."""
from __future__ import annotations

import time
from pathlib import Path

import click

from sseflow.workflows.calculators.registry import DEFAULT as DEFAULT_CALCULATOR
from sseflow.workflows.cli.common import (COUNT, POSITIVE, POSITIVE_INT, FiniteFloat, config_option,
                                         reference_options, reference_scheme_option, split_list)


@click.command()
@click.argument("host")
@click.option("--site", required=True, metavar="EL",
              help="Element whose sites are substituted (every one of them, or --fraction of them).")
@click.option("--with", "with_", default=None, metavar="A,B,..", help="Substituents (element symbols).")
@click.option("--auto", default=None, type=POSITIVE_INT, metavar="N",
              help="Propose N substituents from pymatgen's substitution statistics, ionic radii and charges.")
@reference_options
@reference_scheme_option
@click.option("--calculator", default=DEFAULT_CALCULATOR, show_default=True, metavar="NAME", help="Calculator backend.")
@click.option("--fmax", default=None, type=POSITIVE, help="Force tolerance of the relaxations (eV/Å; preset default).")
@click.option("--steps", default=None, type=COUNT, help="Step limit of the relaxations (preset default).")
@click.option("--compensation", default="li-interstitial,anion-vacancy,li-vacancy", show_default=True,
              metavar="K,..", help="Compensated variants to offer next to each plain substitution "
                                   "('none' for the plain ones only).")
@click.option("--fraction", default=1.0, show_default=True, type=FiniteFloat(min=0, max=1, min_open=True), metavar="F",
              help="Fraction of the SITE atoms substituted, in (0, 1]: F x their number in the host cell, in the "
                   "smallest diagonal supercell (at most 4 cells) where that is a whole number.")
@click.option("--orderings", default=3, show_default=True, type=POSITIVE_INT, metavar="K",
              help="With --fraction < 1: relax the K lowest symmetry-distinct orderings (Ewald ranking) of each "
                   "candidate and keep the lowest in energy.")
@click.option("--exclude-elements", default=None, metavar="A,B,..",
              help="With --auto: never propose these elements (added to the default filter of precious metals "
                   "and highly toxic elements).")
@click.option("--any-element", is_flag=True,
              help="With --auto: drop the default filter of precious metals (Ru Rh Pd Ag Os Ir Pt Au) and highly "
                   "toxic elements (Be As Cd Hg Tl Pb); radioactive elements stay out.")
@click.option("--no-host", is_flag=True, help="Leave the host itself out of the table.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (same as --format json).")
@click.option("--format", "fmt", type=click.Choice(["text", "md", "csv", "json"]), default="text", show_default=True)
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False), help="Write the table to FILE.")
@click.option("--plot", default=None, type=click.Path(dir_okay=False),
              help="Figure: E_hull vs reduction limit, reaction energies with Li and Li15Si4 (.png/.svg/.pdf).")
@click.option("--structures", "structures_dir", default=None, type=click.Path(file_okay=False),
              help="Write the relaxed host and candidates as CIF files (RANK_FORMULA_COMPENSATION.cif) to DIR.")
@click.option("--store", is_flag=True, help="Store the relaxations and one substitution document per candidate "
                                            "(stored relaxations are reused).")
@config_option
def substitute(host, site, with_, auto, reference, energy_column, exclude, reference_scheme, calculator, fmax,
               steps, compensation, fraction, orderings, exclude_elements, any_element, no_host, as_json, fmt, output,
               plot, structures_dir, store, config):
    """Substitute every SITE atom of HOST (or a --fraction of them) and rank the candidates.

    HOST: a library name (Li10GeP2S12), or a structure file. Each substituent replaces every
    site atom (with --fraction F < 1: F of them, in the smallest supercell that holds a whole
    number, the K lowest Ewald-ranked symmetry-distinct orderings relaxed and the lowest kept);
    when its common oxidation state differs from the site's, the plain substitution is
    flagged as not charge balanced and compensated variants are offered next to it (Li
    interstitials in the largest voids or anion vacancies for a lower-valent substituent, Li
    vacancies for a higher-valent one). Everything is relaxed with the calculator; E_hull,
    stability window and reaction energies with Li and Li15Si4 come from the reference set with
    the computed candidate added (docs/substitution.md).
    """
    from sseflow.analysis.errors import InputError
    from sseflow.analysis.formula import parse_formula
    from sseflow.workflows.cli.common import check_output_file
    from sseflow.workflows.interfaces.progress import terminal_progress

    t0 = time.perf_counter()
    fmt = "json" if as_json else fmt
    _element(site)
    subs = split_list(with_)
    if with_ is not None and not subs:
        raise InputError("--with is empty")
    if bool(subs) == bool(auto):
        raise InputError("give either --with A,B,.. or --auto N")
    for s in subs:
        _element(s)
    comps = [] if compensation.strip().lower() == "none" else split_list(compensation)
    from sseflow.analysis.substitution import COMPENSATIONS

    for c in comps:
        if c not in COMPENSATIONS:
            raise InputError(f"--compensation: unknown '{c}' (choose from {', '.join(COMPENSATIONS)}, or none)")
    excl = split_list(exclude)
    for f in excl:
        parse_formula(f)
    excl_el = split_list(exclude_elements)
    if (excl_el or any_element) and not auto:
        raise InputError("--exclude-elements and --any-element filter the --auto proposals: use them with --auto N")
    for e in excl_el:
        _element(e)
    if fraction < 1:  # the supercell exists (one line when it does not), before anything is written
        from sseflow.workflows.substitution import _formula, choose_supercell, load_host

        host_structure, _ = load_host(host)
        if site not in {str(el) for el in host_structure.composition.elements}:
            raise InputError(f"site element {site} is not in the host {_formula(host_structure)}")
        choose_supercell(host_structure, site, fraction)
    if output:
        check_output_file(output, "-o")
    if structures_dir:
        from sseflow.workflows.cli.common import check_output_folder

        check_output_folder(structures_dir, "--structures")
        try:
            Path(structures_dir).expanduser().mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"--structures {structures_dir}: cannot write there, {exc.strerror or exc}") from None
    if plot:
        from sseflow.analysis.plots import check_figure_path

        check_figure_path(plot)
        check_output_file(plot, "--plot")
    preset = {k: v for k, v in (("fmax", fmax), ("max_steps", steps)) if v is not None} or None

    from sseflow.analysis.reference import load_reference
    from sseflow.workflows.settings import settings
    from sseflow.workflows.calculators.registry import backend_class
    from sseflow.workflows.cli.common import resolve_reference_scheme
    from sseflow.workflows.substitution import LITERATURE, screen_substitutions

    backend_class(calculator)  # an unknown calculator: one line, before anything is computed
    rs = load_reference(reference, energy_column=energy_column, cache_dir=settings().cache_dir)
    for note in rs.notes:
        click.echo(f"note: {reference}: {note}", err=True)
    resolve_reference_scheme(reference, reference_scheme, content_hash=rs.content_hash)  # one line when unknown
    kw = dict(auto=auto, reference=reference, calculator=calculator, preset=preset, correction_scheme=reference_scheme,
              energy_column=energy_column,
              exclude=excl, compensations=comps, include_host=not no_host, fraction=fraction, orderings=orderings,
              exclude_elements=excl_el, any_element=any_element)
    with terminal_progress() as progress:
        if store:
            from sseflow.workflows.stages.substitution import store_screen
            from sseflow.workflows.store.api import open_store

            with open_store(config) as st:
                result = screen_substitutions(host, site, subs, store=st, progress=progress, **kw)
                n = len(store_screen(result, st))
            click.echo(f"stored {n} substitution document(s)", err=True)
        else:
            result = screen_substitutions(host, site, subs, progress=progress, **kw)
    text = result.table(fmt)
    if not text.endswith("\n"):
        text += "\n"
    if fmt == "text":
        name = result.host if result.host == result.host_formula else f"{result.host} ({result.host_formula})"
        head = (f"{name}: {result.describe_site()} substituted; {result.calculator} relaxations; "
                f"E in meV/atom, V vs Li/Li+; reaction energies chemical, most negative point\n")
        text = head + text
    if output:
        try:
            Path(output).write_text(text)
        except OSError as exc:
            raise InputError(f"-o {output}: cannot write there, {exc.strerror or exc}") from None
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
    if plot:
        try:
            result.figure(plot)
        except OSError as exc:
            raise InputError(f"--plot {plot}: cannot write there, {exc.strerror or exc}") from None
        click.echo(f"wrote {plot}", err=True)
    if structures_dir:
        files = result.write_structures(structures_dir)
        click.echo(f"wrote {len(files)} structure(s) to {structures_dir}", err=True)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if fmt == "text":
        for r in result.rows:
            if not r["charge_balanced"]:
                click.echo(f"note: {r['formula']} is {r['charge']}", err=True)
    click.echo(f"note: literature: {LITERATURE}", err=True)
    click.echo(f"done in {time.perf_counter() - t0:.0f} s", err=True)


def _element(symbol: str) -> None:
    from sseflow.analysis.errors import InputError
    from sseflow.analysis.formula import parse_formula

    try:
        comp = parse_formula(symbol)
    except InputError:
        comp = {}
    if list(comp) != [symbol] or comp[symbol] != 1:
        raise InputError(f"unknown element '{symbol}'")
