"""``sseflow db init|status|export|import``: the results database (and the LaunchPad's home)."""
from __future__ import annotations

import json

import click

from sseflow.workflows.cli.common import config_option


@click.group("db")
def db():
    """Results database: init, status, export, import.

    The database is MongoDB (SSEFLOW_DB=mongodb://...) or, by default, an embedded file
    store (~/.sseflow/store.json) that one process at a time may use.
    """


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


@db.command("init")
@config_option
@click.option("--no-launchpad", is_flag=True, help="Do not initialise the FireWorks LaunchPad collections.")
def init_cmd(config, no_launchpad):
    """Create the store (embedded file or MongoDB database), its indexes and the LaunchPad counters.

    Safe on an existing store: nothing is deleted.
    """
    from sseflow.workflows.store.client import get_launchpad
    from sseflow.workflows.store.api import open_store

    with open_store(config) as store:
        if not no_launchpad:
            get_launchpad(store.config)
        cfg = store.config
        n = sum(store.counts().values())
    what = "embedded store" if cfg.backend == "embedded" else "MongoDB"
    lp = "" if no_launchpad else " and the FireWorks LaunchPad"
    click.echo(f"initialised {what} {cfg.location} (database {cfg.database}){lp}: {n} documents")


@db.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_cmd(config, as_json):
    """Where the store is and how many documents each collection holds (read-only)."""
    from sseflow.workflows.store.api import open_store

    with open_store(config, mode="read") as store:
        st = store.status()
    if as_json:
        click.echo(json.dumps(st, indent=2))
        return
    click.echo(f"backend:   {st['backend']}")
    loc = st["location"]
    if st["backend"] == "embedded":
        loc += f" ({_human(st.get('file_bytes'))})"
    click.echo(f"location:  {loc}")
    click.echo(f"database:  {st['database']}")
    click.echo(f"config:    {st['source']}")
    if st.get("lock_file"):
        click.echo(f"lock file: {st['lock_file']}")
    click.echo("collections:")
    width = max((len(n) for n in st["collections"]), default=0)
    for name, count in st["collections"].items():
        click.echo(f"  {name:<{width}}  {count}")


@db.command("export")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@config_option
@click.option("--collection", "collections", multiple=True, metavar="NAME",
              help="Export only this collection (repeatable). Default: every collection, LaunchPad included.")
def export_cmd(path, config, collections):
    """Write the database to PATH as JSON lines (MongoDB canonical Extended JSON); '-' for stdout.

    Read-only: works on a store in a read-only folder or file system.
    """
    from sseflow.workflows.store.api import open_store

    with open_store(config, mode="read") as store:
        n = store.export_jsonl(path, collections or None)
        where = store.config.location
    if path != "-":
        click.echo(f"exported {n} documents from {where} to {path}")


@db.command("import")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@config_option
def import_cmd(path, config):
    """Load a JSON-lines export; documents replace stored ones with the same _id or natural key.

    The whole file is checked before anything is written; the embedded store is saved once.
    """
    from sseflow.analysis.errors import InputError
    from sseflow.workflows.store.api import open_store

    if path != "-":
        import os

        if not os.path.isfile(path):
            raise InputError(f"cannot read {path}: no such file")
    with open_store(config) as store:
        n = store.import_jsonl(path)
        where = store.config.location
    click.echo(f"imported {n} documents into {where}")
