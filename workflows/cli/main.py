"""The ``sseflow`` command: a click group whose subcommands are imported lazily.

Each subcommand lives in its own module under :mod:`sseflow.workflows.cli`; only the one
that runs is imported, so ``sseflow window`` does not pay for pymatgen, FireWorks
or matplotlib. User-facing errors (:class:`sseflow.analysis.errors.SseflowError`: bad input,
an unusable store or study) become one line on stderr and exit status 2.
"""
from __future__ import annotations

import importlib
import sys

import click

# name -> (module, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "window": ("sseflow.workflows.cli.window", "window", "Electrochemical stability windows of compositions."),
    "table": ("sseflow.workflows.cli.table", "table", "Stability-window table and figure for papers."),
    "report": ("sseflow.workflows.cli.report", "report", "Every table and figure of a study, from the database."),
    "react": ("sseflow.workflows.cli.react", "react", "Interfacial reaction energy of two compositions."),
    "screen": ("sseflow.workflows.cli.screen", "screen", "Rank interlayer candidates between electrolyte and anode."),
    "db": ("sseflow.workflows.cli.db", "db", "Results database: init, status, export, import."),
    "query": ("sseflow.workflows.cli.query", "query", "Query stored windows, reactions and tasks."),
    "config": ("sseflow.workflows.cli.config", "config", "Show the configuration; write FireWorks' files for the store."),
    "relax": ("sseflow.workflows.cli.relax", "relax", "Relax a structure with a calculator backend."),
    "phases": ("sseflow.workflows.cli.phases", "phases", "Phases the library and the store hold for a chemical system."),
    "phonons": ("sseflow.workflows.cli.phonons", "phonons", "Phonon free energies with phonopy."),
    "submit": ("sseflow.workflows.cli.flow", "submit", "Add a study workflow to the LaunchPad."),
    "run": ("sseflow.workflows.cli.flow", "run", "Run Fireworks on this machine (rlaunch rapidfire)."),
    "status": ("sseflow.workflows.cli.flow", "status", "States of workflows and Fireworks."),
    "rerun": ("sseflow.workflows.cli.flow", "rerun", "Rerun fizzled or lost Fireworks."),
    "study": ("sseflow.workflows.cli.flow", "study", "Submit, run and report a study in one command."),
    "interface": ("sseflow.workflows.cli.interface", "interface", "Build and relax electrolyte/electrode interfaces; Schottky barriers."),
    "substitute": ("sseflow.workflows.cli.substitute", "substitute", "Substitution screening of an electrolyte site against Li and Li15Si4."),
}


class Interrupted(Exception):
    """Ctrl-C in a command (click would print an empty line and abort)."""


class LazyGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted() from None

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        mod, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(mod), attr)

    def format_commands(self, ctx, formatter):
        rows = [(n, COMMANDS[n][2]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sseflow")
def cli():
    """sseflow: stability of solid-electrolyte | anode interfaces, from first principles."""


def main(argv: list[str] | None = None) -> None:
    from sseflow.analysis.errors import SseflowError

    try:
        try:
            rv = cli.main(args=argv, prog_name="sseflow", standalone_mode=False)
        finally:
            _flush_store()
    except click.exceptions.Abort as exc:
        interrupted = isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt)
        click.echo("sseflow: interrupted" if interrupted else "sseflow: aborted", err=True)
        sys.exit(130)
    except click.exceptions.ClickException as exc:  # usage errors: one line, status 2
        click.echo(f"sseflow: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code if exc.exit_code else 2)
    except SseflowError as exc:  # bad input, an unusable store or study: one line
        click.echo(f"sseflow: error: {exc}", err=True)
        sys.exit(2)
    except (KeyboardInterrupt, Interrupted):
        click.echo("sseflow: interrupted", err=True)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)


def _flush_store() -> None:
    """End of every command: write the embedded store atomically if this process opened it.

    When that fails (disk full, folder gone) the error is reported once: the store is let go
    of, so that nothing tries to write it again while the process exits.
    """
    mod = sys.modules.get("sseflow.workflows.store.client")
    if mod is None:
        return
    try:
        mod.flush_all()
    except BaseException:
        _abandon_store(mod)
        raise


def _abandon_store(mod) -> None:
    """Mark every open store handle closed (its flush is then a no-op) and drop the at-exit
    writer of its in-memory copy: a write that just failed is not retried at exit."""
    for handle in list(getattr(mod, "_HANDLES", {}).values()):
        handle.closed = True
        finalizer = getattr(getattr(handle, "server_store", None), "_finalizer", None)
        if finalizer is not None:
            finalizer.detach()


if __name__ == "__main__":
    main()
