"""``sseflow query windows|reactions|tasks|screening|substitutions``: stored results as a table or JSON."""
from __future__ import annotations

import json
import math
import sys
from datetime import datetime, timezone
from typing import Any, Callable

import click

from sseflow.workflows.cli.common import config_option


@click.group("query")
def query():
    """Query stored windows, reactions, tasks and screening rows.

    Criteria combine with AND; --formula matches the formula as stored or its reduced
    formula (reactions: either reactant), --chemsys the exact chemical system (any order:
    S-P-Li is Li-P-S). Queries never write: on the embedded store they read the last saved
    state, also while another process (a run) holds it.
    """


def _json_default(obj: Any):
    if isinstance(obj, datetime):
        if obj.tzinfo is None:
            obj = obj.replace(tzinfo=timezone.utc)
        return obj.isoformat().replace("+00:00", "Z")
    return str(obj)  # ObjectId, Int64 subclasses int and never gets here


def _clean(doc: dict) -> dict:
    d = dict(doc)
    if "_id" in d:
        d = {"id": str(d.pop("_id")), **d}
    return d


def _num(x: Any, fmt: str = ".2f") -> str:
    if x is None:
        return "-"
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        if isinstance(x, float) and math.isnan(x):
            return "nan"
        return format(x, fmt)
    return str(x)


def _date(x: Any) -> str:
    return x.strftime("%Y-%m-%d %H:%M") if isinstance(x, datetime) else "-"


def _short(x: Any, n: int = 10) -> str:
    return "-" if not x else str(x)[:n]


def _print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for c in columns:
            table.add_column(c)
        for r in rows:
            table.add_row(*r)
        Console().print(table)
        return
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    for r in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


def _run(kind: str, title: str, columns: list[str], row_of: Callable[[dict], list[str]], config: str | None,
         formulas: tuple[str, ...], limit: int, as_json: bool, **criteria: Any) -> None:
    from sseflow.workflows.store.api import open_store

    criteria = {k: v for k, v in criteria.items() if v}
    # read-only: the last saved state, also while a run holds the embedded store (a note says so)
    with open_store(config, mode="snapshot") as store:
        if formulas:
            seen: dict[Any, dict] = {}
            for f in formulas:
                for d in store.query(kind, formula=f, **criteria):
                    seen.setdefault(d["_id"], d)
            docs = sorted(seen.values(), key=lambda d: d["_id"])
            if limit:
                docs = docs[:limit]
        else:
            docs = store.query(kind, limit=limit, **criteria)
        where = store.config.location
    if as_json:
        click.echo(json.dumps([_clean(d) for d in docs], indent=2, default=_json_default))
        return
    if not docs:
        click.echo(f"no {title.lower()} match in {where}", err=True)
        return
    _print_table(title, columns, [row_of(d) for d in docs])


def _common(f):
    f = click.option("--json", "as_json", is_flag=True, help="Print the documents as JSON.")(f)
    f = click.option("--limit", type=click.IntRange(min=0), default=0, help="At most N documents (0: all).")(f)
    f = click.option("--chemsys", default=None, metavar="A-B-C", help="Chemical system, e.g. Li-P-S.")(f)
    f = click.option("--formula", "formulas", multiple=True, metavar="F",
                     help="Formula (repeatable: any of them).")(f)
    f = config_option(f)
    return f


def _window_row(d: dict) -> list[str]:
    red, ox = d.get("reduction_V"), d.get("oxidation_V")
    width = ox - red if isinstance(red, (int, float)) and isinstance(ox, (int, float)) else None
    return [str(d.get("formula")), _num(red), _num(ox), _num(width), _num(d.get("e_above_hull_meV"), ".0f"),
            _short((d.get("inputs") or {}).get("reference_hash")), _date(d.get("created_at"))]


@query.command("windows")
@_common
@click.option("--reference-hash", default=None, metavar="HASH", help="Content hash of the reference entry set.")
def windows_cmd(config, formulas, chemsys, limit, as_json, reference_hash):
    """Stored electrochemical stability windows."""
    _run("windows", "Windows", ["formula", "reduction V", "oxidation V", "width V", "E_hull meV", "reference",
                                "stored (UTC)"],
         _window_row, config, formulas, limit, as_json, chemsys=chemsys, reference_hash=reference_hash)


def _reaction_row(d: dict) -> list[str]:
    m = d.get("minimum") or {}
    pot = "chemical" if d.get("potential_V") is None else _num(d.get("potential_V"))
    products = m.get("products")
    products = ", ".join(products) if isinstance(products, list) else _short(products, 40)
    return [str(d.get("reactant_a")), str(d.get("reactant_b")), pot, _num(m.get("x"), ".3f"),
            _num(m.get("energy_meV_per_atom"), ".1f"), products,
            _short((d.get("inputs") or {}).get("reference_hash")), _date(d.get("created_at"))]


@query.command("reactions")
@_common
@click.option("--reference-hash", default=None, metavar="HASH", help="Content hash of the reference entry set.")
def reactions_cmd(config, formulas, chemsys, limit, as_json, reference_hash):
    """Stored interfacial reaction energies (--formula matches either reactant)."""
    _run("reactions", "Reactions", ["reactant A", "reactant B", "potential V", "x min", "E min meV/atom",
                                    "products", "reference", "stored (UTC)"],
         _reaction_row, config, formulas, limit, as_json, chemsys=chemsys, reference_hash=reference_hash)


def _task_row(d: dict) -> list[str]:
    return [_short(str(d.get("key", "")).split(":", 1)[-1], 12), str(d.get("formula")), str(d.get("calculator")),
            str(d.get("task_type")), str(d.get("status")), _num(d.get("energy_per_atom"), ".4f"),
            _num(d.get("max_force_eV_A"), ".3f"), _date(d.get("created_at"))]


@query.command("tasks")
@_common
@click.option("--calculator", default=None, metavar="NAME", help="Calculator, e.g. chgnet (case-insensitive).")
def tasks_cmd(config, formulas, chemsys, limit, as_json, calculator):
    """Stored calculations."""
    _run("tasks", "Tasks", ["task", "formula", "calculator", "type", "status", "E eV/atom", "max F eV/A",
                            "stored (UTC)"],
         _task_row, config, formulas, limit, as_json, chemsys=chemsys, calculator=calculator)


def _screening_row(d: dict) -> list[str]:
    row = d.get("row") or {}
    return [str(d.get("electrolyte")), str(d.get("anode")), str(d.get("candidate")), _num(row.get("rank"), "d"),
            _num(row.get("rxn_anode_meV"), ".1f"), _num(row.get("rxn_electrolyte_meV"), ".1f"),
            str(row.get("verdict") or "-"), _date(d.get("created_at"))]


@query.command("screening")
@_common
@click.option("--electrolyte", default=None, help="Electrolyte as given to 'sseflow screen'.")
@click.option("--anode", default=None, help="Anode as given to 'sseflow screen'.")
def screening_cmd(config, formulas, chemsys, limit, as_json, electrolyte, anode):
    """Stored interlayer screening rows (--formula matches electrolyte, anode or candidate)."""
    _run("screening", "Screening", ["electrolyte", "anode", "candidate", "rank", "E_rxn anode meV/atom",
                                    "E_rxn electrolyte meV/atom", "verdict", "stored (UTC)"],
         _screening_row, config, formulas, limit, as_json, chemsys=chemsys, electrolyte=electrolyte, anode=anode)


def _substitution_row(d: dict) -> list[str]:
    row = d.get("row") or {}
    balanced = row.get("charge_balanced")
    return [str(d.get("host")), str(d.get("site")), str(d.get("formula")), str(d.get("compensation")),
            _num(row.get("rank"), "d"), "-" if balanced is None else ("yes" if balanced else "NO"),
            _num(row.get("e_above_hull_meV"), ".1f"), _num(row.get("reduction_V")), _num(row.get("oxidation_V")),
            _num(row.get("rxn_li_meV"), ".1f"), str(d.get("calculator") or "-"), _date(d.get("created_at"))]


@query.command("substitutions")
@_common
@click.option("--calculator", default=None, metavar="NAME", help="Calculator of the relaxations, e.g. chgnet.")
@click.option("--reference-hash", default=None, metavar="HASH", help="Content hash of the reference entry set.")
def substitutions_cmd(config, formulas, chemsys, limit, as_json, calculator, reference_hash):
    """Stored substitution candidates (sseflow substitute --store, compute.substitution)."""
    _run("substitutions", "Substitutions", ["host", "site", "formula", "compensation", "rank", "balanced",
                                            "E_hull meV/atom", "reduction V", "oxidation V", "E_rxn Li meV/atom",
                                            "calculator", "stored (UTC)"],
         _substitution_row, config, formulas, limit, as_json, chemsys=chemsys, calculator=calculator,
         reference_hash=reference_hash)
