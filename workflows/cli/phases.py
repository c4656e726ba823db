"""``sseflow phases CHEMSYS``: what the structure library and the results store hold for a system.

With ``--coverage``: the phases on (and within ``--tolerance`` meV/atom of) the convex hull of a
reference set, split into those the library provides and those it lacks
(:mod:`sseflow.workflows.structures.coverage`).

``sseflow phases search FORMULA``: a random symmetric structure search relaxed with an ML potential
for a phase the library has no coordinates for (:mod:`sseflow.workflows.structures.search`).

``sseflow phases order CIF`` (or a prototype given by space group, lattice and sites): ordered
models of a disordered structure, Ewald-ranked and relaxed (:mod:`sseflow.workflows.structures.ordering`)."""
from __future__ import annotations

import itertools
import json
import sys

import click

from sseflow.workflows.calculators.registry import DEFAULT as DEFAULT_CALCULATOR


class _PhasesCommand(click.Command):
    """``phases CHEMSYS``; ``phases search FORMULA`` and ``phases order ...`` when the first argument
    names them."""

    def make_context(self, info_name, args, parent=None, **extra):
        if args and args[0] == "search":
            return search.make_context(f"{info_name} search", list(args[1:]), parent=parent, **extra)
        if args and args[0] == "order":
            return order.make_context(f"{info_name} order", list(args[1:]), parent=parent, **extra)
        return super().make_context(info_name, args, parent=parent, **extra)

    def format_epilog(self, ctx, formatter):
        super().format_epilog(ctx, formatter)
        with formatter.section("Structure search"):
            formatter.write_text("sseflow phases search FORMULA [options]: ML structure search for a phase "
                                 "with no library coordinates (sseflow phases search --help).")
            formatter.write_text("sseflow phases order CIF | --spacegroup N --lattice A --site ...: ordered "
                                 "models of a disordered structure (sseflow phases order --help).")


@click.command("phases", cls=_PhasesCommand)
@click.argument("chemsys")
@click.option("--store/--no-store", "use_store", default=True, show_default=True,
              help="Also list finished tasks of the results store in this system.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--coverage", is_flag=True,
              help="List the hull and near-hull phases of a reference set that the library has and lacks.")
@click.option("--reference", "reference", default=None, type=click.Path(dir_okay=False), metavar="PATH",
              help="Reference energies for --coverage: CSV formation-energy table or pymatgen entries JSON "
                   "(default: $SSEFLOW_REFERENCE, else 'reference:' in the sseflow config file).")
@click.option("--tolerance", default=25.0, show_default=True, type=float, metavar="MEV",
              help="With --coverage: near-hull phases lie within this many meV/atom of the hull.")
@click.option("--exclude", default="", metavar="F,..", help="With --coverage: formulas to leave out of the hull.")
def phases(chemsys, use_store, as_json, coverage, reference, tolerance, exclude):
    """Library phases and stored calculations whose elements lie in CHEMSYS (e.g. Li-P-S)."""
    from sseflow.workflows.structures.library import entry_for, list_phases, parse_chemsys

    els = parse_chemsys(chemsys)
    if coverage:
        _coverage(els, reference, tolerance, exclude, as_json)
        return
    if reference is not None:
        raise click.UsageError("--reference is used with --coverage")
    rows = []
    for name in list_phases(els):
        r = entry_for(name)
        rows.append({"name": name, "formula": r["formula"], "spacegroup": r["spacegroup_symbol"],
                     "spacegroup_number": r["spacegroup"], "nsites": r["nsites"], "default": r.get("default", False),
                     "model": r.get("model"), "source": r.get("source")})
    tasks, store_note = [], None
    if use_store:
        tasks, store_note = _stored_tasks(els)
    if as_json:
        click.echo(json.dumps({"chemsys": "-".join(els), "library": rows, "tasks": tasks,
                               **({"store_note": store_note} if store_note else {})}, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    t = Table(title=f"Library phases in {'-'.join(els)} ({len(rows)})")
    for col in ("name", "formula", "space group", "sites", "model"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["name"] + (" *" if r["default"] else ""), r["formula"], f"{r['spacegroup']} ({r['spacegroup_number']})",
                  str(r["nsites"]), r["model"] or "")
    con.print(t)
    con.print("* default polymorph for its formula (sseflow relax FORMULA uses it)")
    if use_store:
        if store_note:
            con.print(f"store: {store_note}")
        elif not tasks:
            con.print("store: no finished tasks in this system")
        else:
            s = Table(title=f"Stored tasks in {'-'.join(els)} ({len(tasks)})")
            for col in ("formula", "calculator", "type", "energy/atom (eV)", "status", "task id"):
                s.add_column(col)
            for d in tasks:
                e = d.get("energy_per_atom")
                s.add_row(str(d.get("formula")), str(d.get("calculator")), str(d.get("task_type")),
                          "n/a" if e is None else f"{e:.4f}", str(d.get("status")), str(d.get("key"))[:12])
            con.print(s)


def _stored_tasks(els: list[str]) -> tuple[list[dict], str | None]:
    """Tasks whose chemical system is a subsystem of ``els``; (rows, note when the store is unavailable)."""
    try:
        from sseflow.workflows.store.api import open_store
    except ImportError:
        return [], "results store not available"
    systems = ["-".join(c) for r in range(1, len(els) + 1) for c in itertools.combinations(els, r)]
    try:
        with open_store() as st:
            docs = st.find("tasks", {"chemsys": {"$in": systems}})
    except Exception as exc:  # an unreachable or locked store must not hide the library listing
        return [], f"not read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    keep = ("key", "formula", "chemsys", "calculator", "task_type", "energy_per_atom", "status", "correction_scheme")
    return [{k: d.get(k) for k in keep} for d in docs], None


def _coverage(els: list[str], reference: str | None, tolerance: float, exclude: str, as_json: bool) -> None:
    from sseflow.analysis.errors import InputError
    from sseflow.workflows.structures.coverage import coverage

    if reference is None:
        from sseflow.workflows.store.config import ConfigError, default_reference

        try:
            reference, _ = default_reference()
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from None
        if not reference:
            raise click.UsageError("--coverage needs reference energies: give --reference PATH, or set a default "
                                   "with SSEFLOW_REFERENCE=PATH or 'reference: PATH' in the sseflow config file")
    if tolerance != tolerance or not 0 <= tolerance < 1e4:
        raise click.UsageError(f"--tolerance must be between 0 and 10000 meV/atom (got {tolerance:g})")
    excl = [f.strip() for f in exclude.split(",") if f.strip()]
    try:
        cov = coverage(els, reference, tolerance_meV=tolerance, exclude=excl)
    except InputError as exc:
        raise InputError(f"--reference {reference}: {exc}") from None
    cov = {"chemsys": cov["chemsys"], "reference": str(reference), **{k: v for k, v in cov.items() if k != "chemsys"}}
    if as_json:
        click.echo(json.dumps(cov, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(f"Coverage of the {cov['chemsys']} hull of {reference} by the structure library "
              f"(near hull: within {tolerance:g} meV/atom)")
    for key, title in (("hull_present", "On the hull, in the library"),
                       ("near_hull_present", "Near the hull, in the library"),
                       ("missing", "Missing from the library")):
        rows = cov[key]
        t = Table(title=f"{title} ({len(rows)})")
        for col in ("formula", "E_hull (meV/atom)", "library" if key != "missing" else "reference entry"):
            t.add_column(col)
        for r in rows:
            t.add_row(r["formula"], f"{r['e_above_hull_meV']:.1f}",
                      ", ".join(r.get("library", [])) if key != "missing" else str(r["entry_id"]))
        con.print(t)


# ------------------------------------------------------------------ phases search

@click.command("search")
@click.argument("formula")
@click.option("--spacegroup", type=int, default=None, metavar="N",
              help="Space group number to search (default: every group compatible with the formula and Z).")
@click.option("--formula-units", "-z", "formula_units", type=int, default=None, metavar="Z",
              help="Formula units in the (primitive) cell.")
@click.option("--max-atoms", type=int, default=None, metavar="N",
              help="Search every Z with at most N atoms (default: up to 4 formula units, 16 atoms).")
@click.option("--trials", type=int, default=8, show_default=True, help="Random candidates to relax.")
@click.option("--calculator", "-c", default=DEFAULT_CALCULATOR, show_default=True, help="Calculator backend.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same search).")
@click.option("--fmax", type=float, default=None, metavar="EV_A",
              help="Force threshold of the screening relaxations [default: 0.1].")
@click.option("--steps", type=int, default=None, metavar="N",
              help="Step limit of each relaxation [default: 300].")
@click.option("--units", default=None, metavar="UNIT[*N],..",
              help="Rigid units per formula unit (PS4, P2S7, P2S6), the rest of the formula as single atoms; "
                   "needs --spacegroup (e.g. Li7P3S11 --units PS4,P2S7).")
@click.option("--volume-per-atom", type=float, default=None, metavar="A3",
              help="With --units: volume of each draw per atom [default: 26].")
@click.option("--lattice", default=None, metavar="A,B,C,ALPHA,BETA,GAMMA",
              help="Search in this conventional cell (e.g. known from diffraction); needs --spacegroup and -z. "
                   "Candidates relax in the cell first, then with the cell free.")
@click.option("--lattice-source", default=None, metavar="TEXT",
              help="Where the --lattice cell comes from (a citation), kept in the provenance.")
@click.option("--wyckoff", default=None, metavar="EL:POS,..;..",
              help="Draw every candidate on these Wyckoff positions of the conventional cell (e.g. "
                   "'Li:8d,4c,4c;Ge:4c;S:8d,4c,4c'); needs --spacegroup and -z.")
@click.option("-o", "--output", "output", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Folder for FORMULA_searched.cif and FORMULA_searched.json.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (nothing else) on stdout.")
def search(formula, spacegroup, formula_units, max_atoms, trials, calculator, seed, fmax, steps, units,
           volume_per_atom, lattice, lattice_source, wyckoff, output, as_json):
    """Random symmetric structures of FORMULA relaxed with an ML potential; writes the lowest in energy.

    The result is a searched structure (a prediction of the potential), with its provenance in the
    CIF header and the side JSON; never an experimental one.
    """
    from sseflow.analysis.errors import InputError
    from sseflow.workflows.structures import search as ss

    if fmax is not None and not (fmax == fmax and 0 < fmax < 10):
        raise InputError(f"--fmax must be a positive number below 10 eV/Å (got {fmax:g})")
    if steps is not None and not 1 <= steps <= 100000:
        raise InputError(f"--steps must be between 1 and 100000 (got {steps})")
    if not ss.pyxtal_available():
        raise InputError("sseflow phases search needs pyxtal: pip install 'pyxtal>=1.0,<2'")
    if volume_per_atom is not None and not units:
        raise InputError("--volume-per-atom is used with --units")
    if volume_per_atom is not None and lattice:
        raise InputError("--volume-per-atom and --lattice exclude each other (the cell sets the volume)")
    if lattice_source and not lattice:
        raise InputError("--lattice-source describes a --lattice cell")
    cell = None
    if lattice:
        try:
            cell = [float(x) for x in lattice.split(",")]
        except ValueError:
            raise InputError(f"--lattice must be numbers separated by commas (got {lattice})") from None
        if len(cell) != 6:
            raise InputError(f"--lattice takes six cell parameters a,b,c,alpha,beta,gamma (got {lattice})")
    with _SearchProgress(trials) as bar:
        res = ss.search(formula, spacegroup=spacegroup, formula_units=formula_units, max_atoms=max_atoms,
                        trials=trials, calculator=calculator, seed=seed,
                        fmax=ss.DEFAULT_FMAX if fmax is None else fmax,
                        steps=ss.DEFAULT_STEPS if steps is None else steps, progress=bar.update,
                        units=units, volume_per_atom=volume_per_atom, lattice=cell, lattice_source=lattice_source,
                        wyckoff=wyckoff)
    paths = ss.write_result(res, output)
    if as_json:
        from sseflow.workflows.calculators.base import jsonable

        click.echo(json.dumps(jsonable({**res.to_dict(), "files": paths}), indent=1))
        return 0 if res.best is not None else 1
    from rich.console import Console
    from rich.table import Table

    con = Console()
    p = res.provenance()
    t = Table(title=f"Searched {p['formula']}: {p['distinct']} distinct of {p['accepted']} accepted / "
                    f"{p['trials']} trials ({p['model']}, seed {p['seed']})")
    for col in ("rank", "energy/atom (eV)", "rel. (meV/atom)", "space group", "Z", "sites", "trial", "duplicates"):
        t.add_column(col)
    for r in res.table():
        t.add_row(str(r["rank"]), f"{r['energy_per_atom']:.4f}", f"{r['relative_energy_meV']:.1f}",
                  f"{r['spacegroup']} ({r['spacegroup_number']})", str(r["z"]), str(r["nsites"]),
                  str(r["trial"]), str(r["duplicates"]))
    con.print(t)
    rejected = [c for c in res.candidates if c.status != "accepted"]
    if rejected:
        con.print(f"rejected {len(rejected)}: " + "; ".join(f"trial {c.trial}: {c.reason}" for c in rejected[:5])
                  + (" ..." if len(rejected) > 5 else ""))
    if res.best is None:
        con.print("no acceptable structure: raise --trials, or give --spacegroup / --formula-units")
        return 1
    con.print(f"wrote {paths['cif']} (searched structure, not experimental) and {paths['json']}")
    return 0


class _SearchProgress:
    """A rich progress bar on stderr when stderr is a terminal; nothing otherwise."""

    def __init__(self, total: int):
        self.total, self.bar, self.task = total, None, None

    def __enter__(self):
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("[bold]trials"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                TextColumn("{task.description}"), console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("", total=self.total)
        return self

    def update(self, cand) -> None:
        if self.bar is not None:
            what = (f"{cand.spacegroup_symbol} {cand.energy_per_atom:.4f} eV/atom" if cand.status == "accepted"
                    else "rejected")
            self.bar.update(self.task, advance=1, description=f"trial {cand.trial}: {what}")

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False


# ------------------------------------------------------------------ phases order

@click.command("order")
@click.argument("structure_file", required=False, type=click.Path(dir_okay=False))
@click.option("--spacegroup", type=int, default=None, metavar="N",
              help="Build the disordered prototype in this space group (with --lattice and --site).")
@click.option("--lattice", default=None, metavar="A[,B,C,ALPHA,BETA,GAMMA]",
              help="Prototype lattice: a cubic constant, or six cell parameters (Å, degrees).")
@click.option("--site", "sites", multiple=True, metavar="WYCKOFF:EL=OCC[,EL=OCC][@X,Y,Z]",
              help="An occupied Wyckoff position, e.g. 4a:P=1 or 8c:Li=5/6,Si=1/6 (repeat).")
@click.option("--cells", default=None, metavar="N[,N..]",
              help="Primitive cells per supercell (default: the fewest that hold whole atoms).")
@click.option("--top", type=int, default=10, show_default=True, help="Distinct Ewald-ranked orderings to relax.")
@click.option("--ranked", type=int, default=200, show_default=True,
              help="Orderings kept per supercell by the Ewald ranking before deduplication.")
@click.option("--oxidation", default=None, metavar="EL=N,..",
              help="Formal charges for the Ewald ranking (default: pymatgen's guess).")
@click.option("--calculator", "-c", default=DEFAULT_CALCULATOR, show_default=True,
              help="Calculator backend; 'none' ranks by Ewald energy only.")
@click.option("--fmax", type=float, default=None, metavar="EV_A", help="Force threshold [default: 0.1].")
@click.option("--steps", type=int, default=None, metavar="N", help="Step limit of each relaxation [default: 300].")
@click.option("-o", "--output", "output", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Folder for FORMULA_ordered.cif and FORMULA_ordered.json.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (nothing else) on stdout.")
def order(structure_file, spacegroup, lattice, sites, cells, top, ranked, oxidation, calculator, fmax, steps,
          output, as_json):
    """Ordered models of a disordered structure (a CIF with partial occupancies, or a prototype
    built from --spacegroup, --lattice and --site); writes the lowest in energy.

    Orderings of the smallest whole-atom supercells are ranked by Ewald energy (pymatgen), the
    --top distinct ones relaxed with the calculator. The result is an ordered model chosen by a
    potential, with its prototype and method in the CIF header; never an experimental structure.
    """
    from sseflow.analysis.errors import InputError
    from sseflow.workflows.structures import ordering as so

    if (structure_file is None) == (spacegroup is None):
        raise InputError("give a structure file or --spacegroup with --lattice and --site, not both")
    if structure_file is not None:
        if lattice or sites:
            raise InputError("--lattice and --site build a prototype with --spacegroup; not with a file")
        import warnings
        from pathlib import Path

        from pymatgen.core import Structure

        if not Path(structure_file).is_file():
            raise InputError(f"structure file not found: {structure_file}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                proto = Structure.from_file(structure_file)
        except Exception as exc:
            raise InputError(f"cannot read structure from {structure_file}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
        label = f"{structure_file} ({proto.composition.formula})"
    else:
        if not lattice or not sites:
            raise InputError("--spacegroup needs --lattice and at least one --site")
        lat = _parse_lattice(lattice)
        occ, coords = _parse_sites(sites)
        proto = so.prototype(spacegroup, lat, occ, coords)
        label = (f"space group {spacegroup}, lattice {lattice}, sites " + "; ".join(sites))
    try:
        cell_list = [int(c) for c in cells.split(",") if c.strip()] if cells else None
    except ValueError:
        raise InputError(f"--cells must be whole numbers separated by commas (got {cells})") from None
    if fmax is not None and not (fmax == fmax and 0 < fmax < 10):
        raise InputError(f"--fmax must be a positive number below 10 eV/Å (got {fmax:g})")
    if steps is not None and not 1 <= steps <= 100000:
        raise InputError(f"--steps must be between 1 and 100000 (got {steps})")
    if not 1 <= ranked <= 10000:
        raise InputError(f"--ranked must be between 1 and 10000 (got {ranked})")
    relax = calculator.lower() != "none"
    res = so.order(proto, cells=cell_list, top=top, ranked=ranked, oxidation_states=so.parse_oxidation(oxidation),
                   calculator=calculator, fmax=fmax, steps=steps, prototype_label=label, relax=relax)
    paths = so.write_result(res, output)
    if as_json:
        from sseflow.workflows.calculators.base import jsonable

        click.echo(json.dumps(jsonable({**res.to_dict(), "files": paths}), indent=1))
        return 0 if res.best is not None else 1
    from rich.console import Console
    from rich.table import Table

    con = Console()
    p = res.provenance()
    t = Table(title=f"Ordered {p['formula']}: {p['distinct']} distinct of {p['orderings_relaxed']} orderings "
                    f"({p['orderings_enumerated']} enumerated; {p['model']})")
    for col in ("rank", "energy/atom (eV)", "rel. (meV/atom)", "space group", "supercell", "sites", "Ewald rank"):
        t.add_column(col)
    for r in res.table():
        t.add_row(str(r["rank"]), f"{r['energy_per_atom']:.4f}", f"{r['relative_energy_meV']:.1f}",
                  f"{r['spacegroup']} ({r['spacegroup_number']})", r["supercell"], str(r["nsites"]),
                  str(r["rank_ewald"]))
    con.print(t)
    if res.best is None:
        con.print("no ordering relaxed to an acceptable structure")
        return 1
    con.print(f"wrote {paths['cif']} (ordered model, not experimental) and {paths['json']}")
    return 0


def _parse_lattice(text: str):
    from pymatgen.core import Lattice

    from sseflow.analysis.errors import InputError

    try:
        v = [float(x) for x in text.split(",")]
    except ValueError:
        raise InputError(f"--lattice must be numbers separated by commas (got {text})") from None
    if len(v) == 1 and v[0] > 0:
        return Lattice.cubic(v[0])
    if len(v) == 6 and all(x > 0 for x in v):
        return Lattice.from_parameters(*v)
    raise InputError(f"--lattice takes one cubic constant or six cell parameters (got {text})")


def _parse_sites(sites) -> tuple[dict, dict]:
    from fractions import Fraction

    from sseflow.analysis.errors import InputError

    occ, coords = {}, {}
    for item in sites:
        wp, sep, rest = item.partition(":")
        if not sep or not wp.strip() or not rest:
            raise InputError(f"--site must look like 4a:P=1 or 8c:Li=5/6,Si=1/6 (got {item})")
        rest, at, xyz = rest.partition("@")
        d = {}
        for part in rest.split(","):
            el, eq, val = part.partition("=")
            try:
                d[el.strip()] = float(Fraction(val.strip())) if eq else 1.0
            except (ValueError, ZeroDivisionError):
                raise InputError(f"--site {item}: '{part}' is not EL=OCC") from None
        if sum(d.values()) > 1 + 1e-6 or any(v <= 0 for v in d.values()):
            raise InputError(f"--site {item}: occupancies must be positive and sum to at most 1")
        occ[wp.strip()] = d
        if at:
            try:
                c = [float(Fraction(x)) for x in xyz.split(",")]
            except (ValueError, ZeroDivisionError):
                raise InputError(f"--site {item}: coordinates must be X,Y,Z") from None
            if len(c) != 3:
                raise InputError(f"--site {item}: coordinates must be X,Y,Z")
            coords[wp.strip()] = c
    return occ, coords
