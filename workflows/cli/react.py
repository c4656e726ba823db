"""``sseflow react``: interfacial reaction energy of two compositions, of many pairs in one
process (``--with``, ``--pairs FILE``), or of an electrolyte against the whole Li-Si lithiation
series."""
from __future__ import annotations

import csv
import io
import math
import re
import sys
from pathlib import Path

import click

from sseflow.analysis.tables import latex_formula, text_table
from sseflow.workflows.cli.common import (config_option, echo_json, load, reference_options, split_list,
                                          validate_formulas)
from sseflow.workflows.stages.reactions import (Pair, configured_store, li_reservoir, reaction_options,
                                                reactions)

# Electrochemical windows of real electrolytes span a few volts; beyond these bounds a number
# is a typo (and would only push every phase into the Li reservoir or out of it).
MAX_POTENTIAL_V = 100.0
MAX_TEMPERATURE_K = 1.0e4
# A progress bar (rich, on stderr, only when stderr is a terminal) from this many pairs on.
PROGRESS_MIN_PAIRS = 25
FORMATS = ("text", "md", "csv", "latex", "json")
# Words of a pairs file's potential column that ask for the chemical (closed-system) reaction.
_CLOSED_WORDS = {"-", "none", "chemical", "closed"}


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
    return text_table(head, body)


# ------------------------------------------------------------------ many pairs

def check_potential(value: float, what: str) -> float:
    """``value`` as a potential (V vs Li/Li+), or InputError naming ``what``."""
    from sseflow.analysis.errors import InputError

    if not (math.isfinite(value) and abs(value) <= MAX_POTENTIAL_V):
        raise InputError(f"{what} {value:g} is out of range (0 to {MAX_POTENTIAL_V:g} V vs Li/Li+)")
    if value < 0:
        raise InputError(f"{what} must be >= 0 V vs Li/Li+ (got {value:g})")
    return value


def _split_cells(line: str) -> list[str]:
    """The cells of one line of a pairs file: comma-separated (CSV quoting) when the line has a
    comma, else separated by blanks; trailing empty cells dropped."""
    cells = [c.strip() for c in next(csv.reader([line]))] if "," in line else line.split()
    while len(cells) > 2 and not cells[-1]:
        cells.pop()
    return cells


def _is_header(cells: list[str]) -> bool:
    """A first line is a header when its first cell is a word, not a formula (A, electrolyte ...)."""
    from sseflow.analysis.errors import InputError
    from sseflow.analysis.formula import parse_formula

    first = cells[0] if cells else ""
    if not first or any(ch.isdigit() for ch in first):
        return False
    try:
        parse_formula(first)
    except InputError:
        return True
    return False


def read_pairs(path: str, default_potential: float | None) -> list[Pair]:
    """The pairs of a pairs file: two columns A, B and an optional third, the potential (V vs
    Li/Li+; empty: ``default_potential``; ``-``/``none``/``chemical``: the chemical reaction).
    Comma-separated or blank-separated; an optional header line; blank lines and lines starting
    with ``#`` are skipped. Any malformed line is an InputError naming the file and the line."""
    from sseflow.analysis.errors import InputError
    from sseflow.analysis.formula import parse_formula

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"--pairs {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"--pairs {path}: not a text file (UTF-8 expected)") from None
    pairs: list[Pair] = []
    seen_data = False
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = f"{path} line {n}"
        try:
            cells = _split_cells(stripped)
        except csv.Error as exc:
            raise InputError(f"{where}: {exc}") from None
        if not seen_data:
            seen_data = True
            if _is_header(cells):
                continue
        if len(cells) not in (2, 3):
            shown = stripped if len(stripped) <= 60 else stripped[:57] + "..."
            raise InputError(f"{where}: expected 2 or 3 columns (A, B[, potential]), found {len(cells)}: {shown!r}")
        a, b = cells[0], cells[1]
        for what, f in (("A", a), ("B", b)):
            if not f:
                raise InputError(f"{where}: column {what} is empty")
            try:
                parse_formula(f)
            except InputError as exc:
                raise InputError(f"{where}: {exc}") from None
        potential = default_potential
        if len(cells) == 3 and cells[2]:
            cell = cells[2]
            if cell.lower() in _CLOSED_WORDS:
                potential = None
            else:
                try:
                    potential = float(cell)
                except ValueError:
                    raise InputError(f"{where}: potential '{cell}' is not a number (V vs Li/Li+; leave it empty "
                                     f"for the default, '-' for the chemical reaction)") from None
                potential = check_potential(potential, f"{where}: potential")
        pairs.append(Pair(a, b, potential, where))
    if not pairs:
        raise InputError(f"--pairs {path}: no pairs in the file (two columns A, B expected)")
    return pairs


def check_pair(p: Pair) -> None:
    """Refuse Li as a reactant of a pair at a potential (it is the reservoir there)."""
    from sseflow.analysis.errors import InputError

    if p.potential is None:
        return
    for f in (p.a, p.b):
        if li_reservoir(f):
            fix = "'-' in its potential column" if p.where else "no --potential"
            raise InputError(f"{p.context()}: {f} cannot be a reactant at a potential: Li is the reservoir of "
                             f"the open system ({fix} for the chemical reaction with Li)")


class _Progress:
    """A transient rich progress bar on stderr for long lists, only when stderr is a terminal;
    nothing otherwise (so piped or captured output stays quiet)."""

    def __init__(self, total: int, label: str):
        self.bar = None
        if total >= PROGRESS_MIN_PAIRS and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                TextColumn("{task.description}"), console=Console(stderr=True), transient=True,
                                redirect_stdout=False, redirect_stderr=False)
            self.task = self.bar.add_task("", total=total)

    def __enter__(self) -> "_Progress":
        if self.bar is not None:
            self.bar.start()
        return self

    def advance(self, description: str = "") -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=description)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


# ------------------------------------------------------------------ the pair table

PAIR_COLUMNS = ("reactant_a", "reactant_b", "potential_V", "x_min", "E_min_meV_per_atom", "reaction", "products")


def _latex_reaction(reaction: str) -> str:
    """``Li3PS4 + 8 Li -> 4 Li2S + Li3P`` with subscripts in formulas, not in coefficients."""
    out = []
    for tok in reaction.split(" "):
        if tok == "->":
            out.append(r"$\rightarrow$")
        elif tok[:1].isupper() or tok[:1] == "(":
            out.append(latex_formula(tok))
        else:
            out.append(tok)
    return " ".join(out)


def format_pairs(results, fmt: str, extra: tuple = ()) -> str:
    """One row per pair (A, B, potential, x and E_rxn at the minimum, the reaction there and its
    products) as ``text``, ``md``, ``csv`` or ``latex``. ``extra``: more columns,
    (csv name, header, [cell per result]), appended."""
    fmt = fmt.lower()
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([*PAIR_COLUMNS, *(e[0] for e in extra)])
        for i, r in enumerate(results):
            m = r.minimum
            w.writerow([r.reactant_a, r.reactant_b, "" if r.potential_V is None else f"{r.potential_V:g}",
                        f"{m.x:.6f}", f"{m.energy_meV_per_atom:.4f}", m.reaction, " + ".join(m.products),
                        *(e[2][i] for e in extra)])
        return buf.getvalue()

    def cells(r, i: int, latex: bool = False) -> list[str]:
        m = r.minimum
        f = latex_formula if latex else str
        v = ("--" if latex else "-") if r.potential_V is None else f"{r.potential_V:g}"
        if r.reacts:
            reaction = _latex_reaction(m.reaction) if latex else m.reaction
            products = (", " if latex else " + ").join(f(p) for p in m.products)
        else:
            reaction, products = "no reaction", "--" if latex else "-"
        return [f(r.reactant_a), f(r.reactant_b), v, _fmt_x(m.x), _fmt_e(m.energy_meV_per_atom), reaction,
                products, *(e[2][i] for e in extra)]

    if fmt == "text":
        head = ["A", "B", "V", "x_min", "E_min", "reaction at the minimum", "products", *(e[1] for e in extra)]
        return text_table(head, [cells(r, i) for i, r in enumerate(results)])
    if fmt == "md":
        head = ["A", "B", "V (V)", "x_min", "E_min (meV/atom)", "Reaction at the minimum", "Products",
                *(e[1] for e in extra)]
        align = ["---", "---", "---:", "---:", "---:", "---", "---", *("---:" for _ in extra)]
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(cells(r, i)) + " |" for i, r in enumerate(results)]
        return "\n".join(lines) + "\n"
    if fmt == "latex":
        spec = "llrrrll" + "r" * len(extra)
        head = ["A", "B", "$V$ (V)", r"$x_\mathrm{min}$", r"$E_\mathrm{min}$ (meV/atom)", "Reaction at the minimum",
                "Products", *(e[1] for e in extra)]
        lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(head) + r" \\", r"\midrule"]
        lines += [" & ".join(cells(r, i, latex=True)) + r" \\" for i, r in enumerate(results)]
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown table format '{fmt}'")


def _path_extra(rows: list[dict], csv_cells: bool) -> tuple:
    """The Li-Si series' own columns for :func:`format_pairs`."""
    def num(v, digits):
        return "" if v is None and csv_cells else ("-" if v is None else f"{v:.{digits}f}")

    return (("li_per_si", "Li/Si", [num(r["li_per_si"], 3) for r in rows]),
            ("alloy_potential_V", "V_alloy", [num(r["alloy_potential_V"], 3) for r in rows]),
            ("alloy_e_above_hull_meV", "E_hull", [num(r["alloy_e_above_hull_meV"], 1) for r in rows]))


def _figure_paths(plot: str, results) -> list[Path]:
    """One figure per pair: ``rxn.png`` -> ``rxn_Li3PS4_Li.png``, ``rxn_Li3PS4_Si_0.5V.png`` ...
    (characters other than letters, digits and '.' in formulas become '-'; repeats numbered)."""
    p = Path(plot)
    out, used = [], set()
    for r in results:
        parts = [re.sub(r"[^A-Za-z0-9.]+", "-", f).strip("-") for f in (r.reactant_a, r.reactant_b)]
        if r.potential_V is not None:
            parts.append(f"{r.potential_V:g}V")
        name = f"{p.stem}_{'_'.join(parts)}"
        k, unique = 1, name
        while unique in used:
            k += 1
            unique = f"{name}_{k}"
        used.add(unique)
        out.append(p.with_name(unique + p.suffix))
    return out


def _text(results, fmt: str) -> str:
    if fmt != "text":
        return format_pairs(results, fmt)
    units = ("E_min in meV/atom of mixture" if all(r.potential_V is None for r in results)
             else "E_min in meV/atom of mixture (chemical) or meV per non-Li atom (at a potential V vs Li/Li+)")
    return (f"{len(results)} pair(s); {units}; x_min = atom fraction of B at the minimum\n"
            + format_pairs(results, "text"))


@click.command()
@click.argument("reactants", nargs=-1, metavar="[A [B | A2 ..]]")
@reference_options
@click.option("--with", "partners", multiple=True, metavar="B[,B2..]",
              help="React every A given with every B (comma-separated; may be repeated): one row per pair, "
                   "all in one process.")
@click.option("--pairs", "pairs_file", default=None, type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Pairs to react, one per line: A,B[,potential] (comma- or blank-separated; optional header; "
                   "an empty potential takes --potential, '-' the chemical reaction).")
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
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table (same as --format json).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text: the report (one pair) or table; md/csv/latex: one row per pair; json: the documents.")
@click.option("--plot", default=None, type=click.Path(dir_okay=False),
              help="E_rxn(x) figure (.png/.svg/.pdf); with --with/--pairs one file per pair, named "
                   "STEM_A_B[_V].png beside it.")
@click.option("--temperature", type=float, default=None, metavar="K",
              help="Reaction energies at this temperature from stored phonons (vibrational free energies).")
@click.option("--allow-imaginary", is_flag=True, help="Use phonons of phases flagged for imaginary modes too.")
@click.option("--store", is_flag=True, help="Write the reaction(s) to the results database.")
@config_option
def react(reactants, reference, energy_column, exclude, partners, pairs_file, potential, include_decomposition,
          use_hull_energy, energy_a, energy_b, lithiation_path, alloys, temperature, allow_imaginary,
          as_json, fmt, plot, store, config):
    """Interfacial reaction energy E_rxn(x) of A (electrolyte) and B (electrode, coating).

    x is the atom fraction of B in the mixture of the normalised compositions; every kink of
    the piecewise-linear curve is found exactly, with its balanced reaction and products.
    Anodes: Li, Si or Li-Si alloys by formula (Li15Si4, LiSi ...). With --lithiation-path,
    A is reacted with each phase of the Li-Si series.

    Many pairs in one process: `react A A2 .. --with B,B2,..` (every A with every B) or
    `react --pairs FILE`; the reference set, phase spaces and LPs are built once for all.
    """
    from sseflow.analysis.entries import check_energy
    from sseflow.analysis.errors import InputError
    from sseflow.analysis.formula import parse_formula
    from sseflow.analysis.plots import check_figure_path

    if as_json:
        fmt = "json"
    if energy_a is not None:
        energy_a = check_energy(energy_a, "--energy-a")
    if energy_b is not None:
        energy_b = check_energy(energy_b, "--energy-b")
    if potential is not None:
        check_potential(potential, "--potential")
    if temperature is not None and not (math.isfinite(temperature) and abs(temperature) <= MAX_TEMPERATURE_K):
        raise InputError(f"--temperature {temperature:g} is out of range (0 to {MAX_TEMPERATURE_K:g} K)")
    many = bool(partners) or pairs_file is not None
    pairs: list[Pair] = []
    reactant_a = reactant_b = None
    if many:
        if lithiation_path:
            raise InputError("--lithiation-path cannot be combined with --with or --pairs")
        if energy_a is not None or energy_b is not None:
            raise InputError("--energy-a/--energy-b are for one pair (A B), not for --with or --pairs")
        if pairs_file is not None:
            if reactants or partners:
                raise InputError("--pairs FILE takes the pairs from the file: give no compositions and no --with")
            pairs = read_pairs(pairs_file, potential)
        else:
            bs = [b for value in partners for b in split_list(value)]
            if not bs:
                raise InputError("--with is empty: give formulas, comma-separated")
            if not reactants:
                raise InputError("--with needs at least one composition A to react with them")
            validate_formulas((*reactants, *bs))
            pairs = [Pair(a, b, potential) for a in reactants for b in bs]
        for p in pairs:
            check_pair(p)
        if include_decomposition and all(p.potential is None for p in pairs):
            raise InputError("--include-decomposition needs --potential (or potentials in the pairs file)")
    else:
        if not reactants:
            raise InputError("give two compositions A B (or one with --lithiation-path)")
        reactant_a = reactants[0]
        parse_formula(reactant_a)
        if lithiation_path:
            if len(reactants) > 1:
                raise InputError("--lithiation-path takes one composition (the electrolyte), not two")
            if energy_b is not None:
                raise InputError("--energy-b cannot be used with --lithiation-path")
        elif len(reactants) == 1:
            raise InputError("give two compositions A B (or one with --lithiation-path)")
        elif len(reactants) > 2:
            raise InputError(f"{len(reactants)} compositions given: A B for one pair; for many pairs "
                             f"A [A2 ..] --with B[,B2 ..] or --pairs FILE")
        else:
            reactant_b = reactants[1]
            parse_formula(reactant_b)
        if potential is not None:
            for f in (reactant_a, reactant_b):
                if f and li_reservoir(f):
                    raise InputError(f"{f} cannot be a reactant at a potential: Li is the reservoir of the open "
                                     f"system (drop --potential for the chemical reaction with Li)")
        elif include_decomposition:
            raise InputError("--include-decomposition needs --potential")
    series = alloys.strip()
    if series.lower() not in ("hull", "default"):
        series = split_list(alloys)
        validate_formulas(series)
    if plot:
        check_figure_path(plot)

    from sseflow.analysis.reactions import ReactionCalculator

    rs, excl = load(reference, energy_column, exclude)
    if temperature is not None:
        from sseflow.workflows.temperature import references_for

        if temperature < 0:
            raise InputError(f"--temperature must be >= 0 K (got {temperature:g})")
        if many:
            formulas = list(dict.fromkeys(f for p in pairs for f in (p.a, p.b)))
            is_open = any(p.potential is not None for p in pairs)
        else:
            formulas = [reactant_a] + ([reactant_b] if reactant_b else ["Li", "Si"])
            is_open = potential is not None or lithiation_path
        rs = references_for(rs, [temperature], formulas, config=config,
                            open_element="Li" if is_open else None, allow_imaginary=allow_imaginary)[temperature]
        report = getattr(rs, "thermo_report", None)
        for note in (report.notes if report else []):
            click.echo(f"note: {note}", err=True)
    rc = ReactionCalculator(rs, excl)      # one for every pair: reference, phase spaces and LPs shared
    options = reaction_options(include_decomposition, use_hull_energy, energy_a, energy_b, temperature)
    extra = None
    if lithiation_path:
        from sseflow.analysis.anodes import lithiation_series

        phases = lithiation_series(rc.windows, series)
        pairs = [Pair(reactant_a, ph.formula, potential) for ph in phases]
        extra = [{"alloy": ph.formula, "li_per_si": ph.li_per_si, "alloy_potential_V": ph.potential_V,
                  "alloy_e_above_hull_meV": ph.e_above_hull_meV} for ph in phases]
    elif not many:
        pairs = [Pair(reactant_a, reactant_b, potential)]
    with _Progress(len(pairs) if many else 0, "reactions") as bar:
        done = reactions(rs, excl, pairs, options, reference=reference, calculator=rc, extra=extra,
                         store=configured_store(config) if store else None, label_errors=many,
                         progress=bar.advance)
    if store:
        click.echo(f"stored {len(done.keys)} reaction document(s)", err=True)
    results, rows = done.results, done.payloads

    if many:
        if fmt == "json":
            echo_json(rows)
        else:
            click.echo(_text(results, fmt), nl=False)
        notes = sorted({n for r in results for n in r.notes})
    elif lithiation_path:
        if fmt == "json":
            echo_json(rows)
        elif fmt == "text":
            mode = "chemical" if potential is None else f"open to Li at {potential:g} V (meV per non-Li atom)"
            click.echo(f"{reactant_a} against the Li-Si lithiation series ({mode}); "
                       f"E in meV/atom, V_alloy = lithiation plateau of the alloy (V vs Li/Li+)")
            click.echo(format_path(rows), nl=False)
        else:
            click.echo(format_pairs(results, fmt, _path_extra(rows, fmt == "csv")), nl=False)
        notes = sorted({n for r in results for n in r.notes})
    else:
        r = results[0]
        if fmt == "json":
            echo_json(rows[0])
        elif fmt == "text":
            click.echo(format_reaction(r), nl=False)
        else:
            click.echo(format_pairs(results, fmt), nl=False)
        notes = r.notes
    for note in notes:
        click.echo(f"note: {note}", err=True)
    if plot:
        from sseflow.analysis.reaction_plots import plot_reaction

        if many:
            paths = _figure_paths(plot, results)
            with _Progress(len(results), "figures") as bar:
                for r, path in zip(results, paths):
                    plot_reaction(r, path)
                    bar.advance(path.name)
            click.echo(f"wrote {len(paths)} figure(s): {paths[0]}" + (f" ... {paths[-1]}" if len(paths) > 1 else ""),
                       err=True)
        else:
            plot_reaction(results if lithiation_path else results[0], plot)
            click.echo(f"wrote {plot}", err=True)
