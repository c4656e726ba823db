"""``sseflow relax CIF|FORMULA --calculator chgnet [--fmax] [--steps] [--json] [--store]``."""
from __future__ import annotations

import json
import sys

import click

from sseflow.workflows.calculators.registry import DEFAULT as DEFAULT_CALCULATOR
from sseflow.workflows.cli.common import COUNT, POSITIVE, parse_settings


@click.command("relax")
@click.argument("structure")
@click.option("--calculator", "-c", default=DEFAULT_CALCULATOR, show_default=True,
              help="Backend: chgnet, sevennet, vasp, qe, gpaw, emt.")
@click.option("--fmax", type=POSITIVE, default=None, help="Force tolerance in eV/Å (default: the preset's).")
@click.option("--steps", type=COUNT, default=None, help="Maximum optimizer steps (default: the preset's).")
@click.option("--fixed-cell", is_flag=True, help="Relax positions only, keep the cell.")
@click.option("--static", "static_only", is_flag=True, help="Single point, no relaxation.")
@click.option("--primitive/--as-given", default=True, show_default=True,
              help="Use the primitive cell of the input.")
@click.option("--directory", "-d", default=None, type=click.Path(file_okay=False),
              help="Run folder for file-based codes (QE, VASP, GPAW output).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a preset value, e.g. --set ecut=500 (YAML value syntax).")
@click.option("--output", "-o", default=None, type=click.Path(dir_okay=False),
              help="Write the relaxed structure here (CIF, POSCAR ... by extension).")
@click.option("--json", "as_json", is_flag=True, help="Print the task document as JSON.")
@click.option("--store", is_flag=True, help="Save the task in the results store (reuses an identical finished task).")
def relax(structure, calculator, fmax, steps, fixed_cell, static_only, primitive, directory, overrides, output,
          as_json, store):
    """Relax STRUCTURE (a CIF/POSCAR file, a library name or a formula) with a calculator backend."""
    from sseflow.analysis.errors import InputError
    from sseflow.workflows.calculators import get_calculator
    from sseflow.workflows.calculators.base import check_parameters
    from sseflow.workflows.cli.common import check_output_file, check_output_folder
    from sseflow.workflows.store.documents import TaskDocument
    from sseflow.workflows.structures.library import get_structure
    from sseflow.workflows.structures.validate import check_min_distance

    over = parse_settings(overrides)
    check_parameters(calculator, over, "--set")
    if output:
        check_output_file(output, "--output")
    if directory:
        check_output_folder(directory, "--directory")
    s = get_structure(structure, primitive=primitive)
    check_min_distance(s, where=structure)
    backend = get_calculator(calculator, **over)
    existing = None
    if store:
        existing = _find_stored(s, backend, fmax, steps, fixed_cell, static_only)
    if existing is not None:
        doc = existing
        reused = True
    else:
        if static_only:
            result = backend.static(s, directory=directory)
        else:
            from sseflow.workflows.interfaces.progress import terminal_progress

            with terminal_progress() as progress:  # optimizer steps on a terminal; nothing when piped
                n_max = int(steps if steps is not None else backend.parameters.get("max_steps", 500))
                progress.stage(f"relax {s.composition.reduced_formula} with {backend.name} (up to {n_max} steps)", n_max)
                done = [0]

                def on_step(n: int) -> None:
                    progress.advance(n - done[0])
                    done[0] = n

                result = backend.relax(s, fmax=fmax, steps=steps, relax_cell=not fixed_cell, directory=directory,
                                       on_step=on_step)
        task = TaskDocument.from_calc_result(result, s, parameters=result.parameters)
        doc = {**task.summary(), "task": result.task}
        if result.error:
            doc["error"] = result.error
        reused = False
        if output:
            try:
                result.structure.to(filename=output)
            except Exception as exc:
                raise InputError(f"cannot write {output}: {str(exc).splitlines()[0]}") from None
        if store:
            doc["task_id"] = _store(task)
    if as_json:
        click.echo(json.dumps(doc, indent=1, default=str))
    else:
        _print(doc, reused)
    if doc.get("status") != "completed":  # failed, or a relaxation that did not converge
        sys.exit(1)


def _run_parameters(backend, fmax, steps, fixed_cell, static_only) -> dict:
    params = dict(backend.parameters)
    if not static_only:
        params["fmax"] = float(params.get("fmax", 0.05) if fmax is None else fmax)
        params["relax_cell"] = not fixed_cell
    return params


def _find_stored(structure, backend, fmax, steps, fixed_cell, static_only):
    """The summary of a stored task computing the same thing (the study's dedupe), or None."""
    from sseflow.workflows.stages.calculations import find_task
    from sseflow.workflows.store.documents import TaskDocument
    from sseflow.workflows.store.api import open_store

    task_type = "static" if static_only else "relax"
    params = _run_parameters(backend, fmax, steps, fixed_cell, static_only)
    with open_store() as st:
        hit = find_task(st, structure, backend.name, task_type, params)
    if hit is None:
        return None
    fields = {k: v for k, v in hit.items() if not k.startswith("_")}
    return {**TaskDocument(**fields).summary(), "task_id": hit.get("key"), "task": hit.get("task_type")}


def _store(task) -> str:
    from sseflow.workflows.store.api import open_store

    with open_store() as st:
        return st.put(task)


def _print(doc: dict, reused: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from pymatgen.core import Structure

    con = Console()
    s = Structure.from_dict(doc["structure"])
    t = Table(title=f"{doc['reduced_formula']} with {doc['calculator']}" + (" (reused from the store)" if reused else ""),
              show_header=False)
    t.add_column("quantity")
    t.add_column("value")
    a, b, c = s.lattice.abc
    al, be, ga = s.lattice.angles

    def num(x, fmt):
        return "n/a" if x is None else format(x, fmt)

    status = str(doc.get("status"))
    t.add_row("status", "not converged" if status == "not_converged" else
              status + ("" if doc.get("converged") or status == "failed" else " (not converged)"))
    t.add_row("energy", f"{num(doc.get('energy'), '.6f')} eV  ({num(doc.get('energy_per_atom'), '.6f')} eV/atom)")
    t.add_row("max force", f"{num(doc.get('max_force'), '.4f')} eV/Å")
    t.add_row("cell", f"a={a:.4f} b={b:.4f} c={c:.4f} Å  α={al:.2f} β={be:.2f} γ={ga:.2f}°  V={s.volume:.3f} Å³")
    t.add_row("atoms", f"{len(s)} ({doc['formula']})")
    t.add_row("steps", str(doc.get("n_steps")))
    t.add_row("wall time", f"{num(doc.get('wall_time_s'), '.2f')} s")
    t.add_row("correction scheme", str(doc.get("correction_scheme")))
    if doc.get("task_id"):
        t.add_row("task id", str(doc["task_id"]))
    if doc.get("error"):
        t.add_row("error", doc["error"])
    con.print(t)
