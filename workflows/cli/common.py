"""Options and helpers shared by the analysis commands."""
from __future__ import annotations

import json
import sys

import click


config_option = click.option(
    "--config", "config", metavar="PATH", default=None,
    help="Store configuration: a YAML file, a MongoDB URI, or 'embedded[:PATH]' "
         "(default: $SSEFLOW_DB, $SSEFLOW_CONFIG, ~/.sseflow/config.yaml, else the embedded store).")


def parse_settings(values) -> dict:
    """``--set KEY=VALUE`` pairs (VALUE read as YAML: numbers, lists, {El: file} mappings)."""
    import yaml

    from sseflow.analysis.errors import InputError

    out = {}
    for item in values or ():
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set '{item}': use KEY=VALUE (e.g. --set ecut=500)")
        try:
            out[key.strip()] = yaml.safe_load(val)
        except yaml.YAMLError:
            raise InputError(f"--set '{item}': the value is not valid YAML") from None
    return out


def split_list(value: str | None) -> list[str]:
    if not value:
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def reference_options(f):
    f = click.option("--exclude", default="", metavar="F,..",
                     help="Comma-separated formulas of phases to leave out (e.g. LiS4,P2S7).")(f)
    f = click.option("--energy-column", default=None, metavar="NAME",
                     help="Energy column of a CSV table (eV/atom); default: its only numeric column.")(f)
    f = click.option("--reference", "reference", default=None, type=click.Path(dir_okay=False),
                     metavar="PATH", callback=_default_reference,
                     help="Reference energies: CSV formation-energy table or pymatgen entries JSON "
                          "(default: $SSEFLOW_REFERENCE, else 'reference:' in the sseflow config file).")(f)
    return f


def reference_scheme_option(f):
    """``--reference-scheme NAME`` (as ``reference_scheme``) for commands that mix computed entries
    with the ``--reference`` file; resolve it with :func:`resolve_reference_scheme`."""
    return click.option(
        "--reference-scheme", "reference_scheme", default=None, metavar="NAME",
        help="Correction scheme of the reference file's energies: MP2020, MP-legacy (pre-2020 "
             "MaterialsProjectCompatibility) or uncorrected; computed entries are put on it before they "
             "are mixed with the file (default: what the file declares: a FILE.scheme sidecar, or a known "
             "table such as the matbench MP set, which is MP-legacy).")(f)


def resolve_reference_scheme(reference, given: str | None = None, content_hash: str | None = None) -> str:
    """The correction scheme of reference file ``reference``: ``given`` (``--reference-scheme``),
    else what the file declares (:func:`sseflow.analysis.schemes.declared_scheme`). InputError
    (one line) when neither names one."""
    from sseflow.analysis.errors import InputError
    from sseflow.analysis.schemes import canonical_scheme, declared_scheme, scheme_names

    if given:
        return canonical_scheme(given) or given
    scheme, _ = declared_scheme(reference, content_hash=content_hash)
    if scheme is None:
        raise InputError(f"{reference}: its correction scheme is not declared: give --reference-scheme "
                         f"({scheme_names()}) or write it in {reference}.scheme")
    return scheme


def _default_reference(ctx, param, value):
    """``--reference`` when given, else the configured default (see ``sseflow config show``)."""
    if value or ctx.resilient_parsing:
        return value
    from sseflow.workflows.store.config import ConfigError, default_reference

    try:
        ref, _ = default_reference()
    except ConfigError as exc:
        raise click.UsageError(str(exc), ctx) from None
    if ref:
        return ref
    raise click.UsageError("Missing option '--reference': give --reference PATH, or set a default with "
                           "SSEFLOW_REFERENCE=PATH or 'reference: PATH' in the sseflow config file "
                           "($SSEFLOW_CONFIG or $SSEFLOW_HOME/config.yaml)", ctx)


def load(reference: str, energy_column: str | None, exclude: str):
    """Load the reference set, validate the excluded formulas, print its notes to stderr."""
    from sseflow.analysis.formula import parse_formula
    from sseflow.analysis.reference import load_reference
    from sseflow.workflows.settings import settings

    excl = split_list(exclude)
    for f in excl:
        parse_formula(f)
    rs = load_reference(reference, energy_column=energy_column, cache_dir=settings().cache_dir)
    for note in rs.notes:
        click.echo(f"note: {reference}: {note}", err=True)
    return rs, excl


def validate_formulas(formulas) -> None:
    from sseflow.analysis.formula import parse_formula

    for f in formulas:
        parse_formula(f)


def echo_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, allow_nan=False) + "\n")


# ------------------------------------------------------------------ option types and output paths

class FiniteFloat(click.FloatRange):
    """A float option that must be a finite number (``nan`` and ``inf`` are refused), within an
    optional range (``FiniteFloat(min=0, min_open=True)``: positive)."""

    name = "number"

    def convert(self, value, param, ctx):
        import math

        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return rv


POSITIVE = FiniteFloat(min=0, min_open=True)      # > 0: force tolerances, times, lengths
NON_NEGATIVE = FiniteFloat(min=0)                  # >= 0
COUNT = click.IntRange(min=0)                      # 0, 1, 2 ... (step limits, "0: no limit")
POSITIVE_INT = click.IntRange(min=1)


def folder_problem(path) -> str | None:
    """Why no folder can be at ``path`` (made when missing) to write in, or None when one can."""
    import os
    from pathlib import Path

    p = Path(os.path.expanduser(str(path))).absolute()
    where = p
    while True:
        try:
            if where.exists():
                break
        except OSError as exc:
            return f"{where}: {exc.strerror or exc}"
        if where.parent == where:
            break
        where = where.parent
    if not where.is_dir():
        return f"{where} is a file, not a folder"
    if not os.access(where, os.W_OK | os.X_OK):
        return f"{where} is not writable (permission denied)"
    return None


def check_output_folder(path, option: str) -> None:
    """InputError (one line naming ``path``) unless ``path`` is a folder that exists or can be made."""
    from sseflow.analysis.errors import InputError

    problem = folder_problem(path)
    if problem:
        raise InputError(f"{option} {path}: cannot write there, {problem}")


def check_output_file(path, option: str, make_parent: bool = False) -> None:
    """InputError (one line naming ``path``) unless a file can be written at ``path``: its folder
    exists (or, with ``make_parent``, can be made) and is writable, and ``path`` is not a folder."""
    import os
    from pathlib import Path

    from sseflow.analysis.errors import InputError

    p = Path(os.path.expanduser(str(path))).absolute()
    if p.is_dir():
        raise InputError(f"{option} {path}: is a folder, not a file")
    if make_parent:
        problem = folder_problem(p.parent)
    elif not p.parent.is_dir():
        problem = f"{p.parent} {'is a file, not a folder' if p.parent.exists() else 'does not exist'}"
    else:
        problem = None if os.access(p.parent, os.W_OK | os.X_OK) else f"{p.parent} is not writable (permission denied)"
    if problem:
        raise InputError(f"{option} {path}: cannot write there, {problem}")
