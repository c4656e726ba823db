"""``sseflow phases CHEMSYS``: what the structure library and the results store hold for a system.

With ``--coverage``: the phases on (and within ``--tolerance`` meV/atom of) the convex hull of a
reference set, split into those the library provides and those it lacks
(:mod:`sseflow.workflows.structures.coverage`)."""
from __future__ import annotations

import itertools
import json

import click


@click.command("phases")
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
        from sseflow.workflows.store.hooks import open_store
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
