"""``sseflow submit | run | status | rerun | study``: study workflows on the FireWorks LaunchPad.

These commands wrap FireWorks, they do not replace it: the LaunchPad is the results store's
database (``sseflow.workflows.store.get_launchpad``), so FireWorks' own ``lpad``, ``rlaunch`` and
``qlaunch`` see the same Fireworks (docs/workflows.md says how they find the configuration).

* ``submit STUDY.yaml``: validate, build (stored calculations are reused), add; prints the
  workflow id (the id of its first Firework, which ``lpad get_wflows -i`` also takes);
* ``run [--max N]``: FireWorks rapid-fire on this machine, in this process (so the embedded
  store is shared by the Rockets), with a progress bar of Fireworks done/total;
* ``status [WF] [--all] [--watch [S]]``: state of each workflow / Firework, and the error line of
  every failure (archived workflows only with ``--all``); ``--watch`` refreshes it on a terminal;
* ``rerun --fizzled | --lost``: ``LaunchPad.rerun_fw`` / ``detect_lostruns``; a lost run is
  rerun in its previous launch folder, so a relaxation continues from its last geometry; never
  in an archived workflow;
* ``study STUDY.yaml [--replace]``: report from the database when a completed workflow was built
  from the same, unchanged inputs; else resume the unfinished workflow of the same inputs, or
  submit one with only the work not done before (``--replace`` first archives the unfinished
  workflows of the same study name); run; print the report.

The running itself (Runner, FireWorker files, reruns) is :mod:`sseflow.workflows.runner`.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from sseflow.workflows.cli.common import COUNT, NON_NEGATIVE, POSITIVE
from sseflow.workflows.runner import (archive_workflows, error_line, fworker_for, rerun_fireworks, run_fireworks,
                                      thread_defaults, wf_ids)

FINAL = ("COMPLETED", "FIZZLED", "DEFUSED", "ARCHIVED")

config_option = click.option("--config", default=None, metavar="PATH|URI",
                             help="Store/LaunchPad configuration (YAML file, mongodb:// URI, embedded[:PATH]).")


# =========================================================================== helpers

def _err(msg: str) -> None:
    click.echo(msg, err=True)


def _launchpad(config, wait: float = 0.0):
    """The LaunchPad on the store's database; with ``wait``, retry while another process holds the
    embedded store (a queued job started while the submitting command still held it)."""
    from sseflow.workflows.store import get_launchpad
    from sseflow.workflows.store.config import StoreLockedError

    deadline = time.monotonic() + max(0.0, wait)
    while True:
        try:
            return get_launchpad(config)
        except StoreLockedError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def _store(config):
    from sseflow.workflows.store.client import connect
    from sseflow.workflows.store.results import ResultsStore

    return ResultsStore(connect(config))


def _short_error(line: str | None) -> str:
    """An error line for a table: the exception's class without its module path."""
    if not line:
        return ""
    head, sep, rest = line.partition(": ")
    if sep and "." in head and head.replace(".", "").replace("_", "").isalnum():
        return f"{head.rsplit('.', 1)[1]}: {rest}"
    return line


# =========================================================================== running Rockets

def _print_run(lp, res: dict, scope: list[int] | None) -> None:
    _err(f"ran {res['ran']} Firework(s) in {res['seconds']:.1f} s: {res['completed']}/{res['total']} completed"
         + (f", {res['fizzled']} fizzled" if res["fizzled"] else ""))
    if res["fizzled"]:
        q = {"state": "FIZZLED"} if scope is None else {"state": "FIZZLED", "fw_id": {"$in": scope}}
        for fw in lp.fireworks.find(q, {"fw_id": 1, "name": 1, "launches": 1}).sort("fw_id", 1):
            _err(f"  FIZZLED {fw['fw_id']} {fw['name']}: {error_line(lp, fw)}")
        _err("  fix the cause, then: sseflow rerun --fizzled && sseflow run")
    waiting = res["states"].get("WAITING", 0) + res["states"].get("READY", 0)
    if waiting and not res["fizzled"]:
        _err(f"  {waiting} Firework(s) still waiting or ready")


# =========================================================================== submit

def submit_study(study_file: str, config: str | None = None, output: str | None = None, dry_run: bool = False):
    """(workflow id or None, Plan, Workflow): validate, build with dedupe against the store, add."""
    from sseflow.workflows.workflow_build import build_workflow
    from sseflow.workflows.study import load_study

    study = load_study(study_file)
    _check_submission(study, output)
    lp = _launchpad(config)
    wf, plan = build_workflow(study, _store(config), Path(output).resolve() if output else None)
    if dry_run:
        return None, plan, wf
    mapping = lp.add_wf(wf)
    return min(mapping.values()), plan, wf


def _check_submission(study, output: str | None) -> Path:
    """Checks before a study's Fireworks are added: its calculator presets and structure files
    (:func:`sseflow.workflows.study.check_before_submit`) and its report folder, which the last Firework
    writes. Returns the report folder."""
    from sseflow.analysis.errors import InputError
    from sseflow.workflows.cli.common import folder_problem
    from sseflow.workflows.study import check_before_submit

    check_before_submit(study)
    out = Path(output).resolve() if output else study.output_dir()
    problem = folder_problem(out)
    if problem:
        what = f"--output {output}" if output else f"{study.source or study.name}: output folder {out}"
        raise InputError(f"{what}: cannot write there, {problem}")
    return out


def _check_launch_dir(launch_dir: str | None) -> None:
    if launch_dir:
        from sseflow.workflows.cli.common import check_output_folder

        check_output_folder(launch_dir, "--launch-dir")


def _describe(wf, plan) -> str:
    counts: dict[str, int] = {}
    for fw in wf.fws:
        kind = fw.name.split(" ", 1)[0]
        counts[kind] = counts.get(kind, 0) + 1
    parts = ", ".join(f"{n} {k}" for k, n in counts.items())
    reused = [p.label for p in plan.phases if p.task_id]
    done = plan.reused_fireworks
    return (f"{len(wf.fws)} Fireworks ({parts})" + (f"; {len(reused)} calculation(s) reused from the store"
                                                     if reused else "")
            + (f"; {len(done)} Firework(s) done before, left out" if done else ""))


@click.command()
@click.argument("study_file", metavar="STUDY.yaml", type=click.Path(dir_okay=False))
@click.option("--output", default=None, type=click.Path(file_okay=False),
              help="Report folder (default: the study's 'output', else results/<name>).")
@click.option("--dry-run", is_flag=True, help="Validate and print the plan; add nothing.")
@config_option
def submit(study_file, output, dry_run, config):
    """Add the workflow of a study to the LaunchPad; prints its id."""
    wf_id, plan, wf = submit_study(study_file, config, output, dry_run)
    if dry_run:
        click.echo(json.dumps({"fireworks": [fw.name for fw in wf.fws], **plan.summary()}, indent=1))
        return
    _err(f"submitted '{wf.name}': {_describe(wf, plan)}")
    for note in plan.notes:
        _err(f"note: {note}")
    click.echo(wf_id)


# =========================================================================== run

@click.command()
@click.option("--max", "max_fw", type=COUNT, default=0, show_default=True, metavar="N",
              help="Stop after N Fireworks (0: until none is ready).")
@click.option("--wf", type=int, default=None, metavar="ID", help="Only this workflow's Fireworks.")
@click.option("--fworker", default=None, type=click.Path(dir_okay=False),
              help="FireWorker file (name, category, query, env); default $SSEFLOW_HOME/my_fworker.yaml.")
@click.option("--launch-dir", default=None, type=click.Path(file_okay=False),
              help="Folder of the launch folders (default $SSEFLOW_HOME/launches).")
@click.option("--wait", type=NON_NEGATIVE, default=0.0, metavar="SECONDS",
              help="Wait this long for the embedded store while another process holds it (queued jobs).")
@click.option("--quiet", is_flag=True, help="No progress bar or per-Firework lines.")
@config_option
def run(max_fw, wf, fworker, launch_dir, wait, quiet, config):
    """Run READY Fireworks on this machine (FireWorks rapid-fire), with a progress bar."""
    thread_defaults()
    from sseflow.workflows.store.client import connect

    _check_launch_dir(launch_dir)
    lp = _launchpad(config, wait)
    scope = wf_ids(lp, wf)
    if connect(config).embedded:  # this process holds the store: a RUNNING Firework has no worker
        q = {"state": "RUNNING", **({"fw_id": {"$in": scope}} if scope else {})}
        stuck = [d["fw_id"] for d in lp.fireworks.find(q, {"fw_id": 1})]
        if stuck:
            _err(f"note: Firework(s) {', '.join(map(str, stuck))} are RUNNING with no worker (it stopped): "
                 f"'sseflow rerun --lost' reruns them in place")
    res = run_fireworks(lp, fworker_for(fworker), max_fw, scope, launch_dir, progress=not quiet)
    _print_run(lp, res, scope)
    return 1 if res["fizzled_now"] > 0 else 0


# =========================================================================== status

def workflow_status(lp, wf: int | None = None, archived: bool = False) -> list[dict]:
    """Per workflow: id, name, state, counts by state, and its Fireworks (id, name, state, error).
    Archived workflows and Fireworks only with ``archived`` (or when ``wf`` names one)."""
    q: dict = {} if wf is None else {"nodes": int(wf)}
    show_archived = archived or wf is not None
    if not show_archived:
        q["state"] = {"$ne": "ARCHIVED"}
    out = []
    for w in lp.workflows.find(q, {"nodes": 1, "name": 1, "state": 1, "metadata": 1, "updated_on": 1}).sort("_id", 1):
        fws = []
        counts: dict[str, int] = {}
        for fw in lp.fireworks.find({"fw_id": {"$in": w["nodes"]}},
                                    {"fw_id": 1, "name": 1, "state": 1, "launches": 1}).sort("fw_id", 1):
            if fw["state"] == "ARCHIVED" and not show_archived:
                continue
            counts[fw["state"]] = counts.get(fw["state"], 0) + 1
            row = {"fw_id": fw["fw_id"], "name": fw["name"], "state": fw["state"]}
            if fw["state"] == "FIZZLED":
                row["error"] = error_line(lp, fw)
            fws.append(row)
        out.append({"id": min(w["nodes"]), "name": w.get("name"), "state": w.get("state"), "counts": counts,
                    "study": (w.get("metadata") or {}).get("study"), "fireworks": fws})
    return out


def _status_tables(rows: list[dict], wf: int | None, con) -> None:
    from rich.table import Table

    if not rows:
        con.print("no workflows on this LaunchPad (sseflow submit STUDY.yaml adds one)")
        return
    t = Table(title="Workflows")
    for col in ("id", "name", "state", "Fireworks"):
        t.add_column(col)
    for w in rows:
        t.add_row(str(w["id"]), str(w["name"]), w["state"],
                  ", ".join(f"{n} {s.lower()}" for s, n in sorted(w["counts"].items())))
    con.print(t)
    show = rows if wf is not None else [w for w in rows if w["state"] not in ("COMPLETED", "ARCHIVED")]
    for w in show:
        ft = Table(title=f"Fireworks of workflow {w['id']} ({w['name']})")
        for col in ("fw_id", "name", "state", "error"):
            ft.add_column(col, overflow="fold")
        for fw in w["fireworks"]:
            if wf is None and fw["state"] == "COMPLETED":
                continue
            style = {"FIZZLED": "red", "RUNNING": "yellow", "COMPLETED": "green"}.get(fw["state"])
            ft.add_row(str(fw["fw_id"]), fw["name"], f"[{style}]{fw['state']}[/]" if style else fw["state"],
                       _short_error(fw.get("error")))
        con.print(ft)


def _status_rows(config, wf: int | None, archived: bool, fresh: bool = False) -> list[dict]:
    from sseflow.analysis.errors import InputError
    from sseflow.workflows.store.launchpad import get_launchpad

    if fresh:  # read the store's last saved state again (a read-only copy is loaded once per process)
        from sseflow.workflows.store import client as store_client

        if store_client.connect(config, mode="snapshot").embedded:
            store_client.close(config)
    lp = get_launchpad(config, mode="snapshot")
    rows = workflow_status(lp, wf, archived)
    if wf is not None and not rows:
        raise InputError(f"no workflow with Firework {wf} on this LaunchPad")
    return rows


@click.command()
@click.argument("wf", type=int, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "show_all", is_flag=True, help="Also the archived workflows and Fireworks.")
@click.option("--watch", type=POSITIVE, default=None, is_flag=False, flag_value=2.0, metavar="[SECONDS]",
              help="Refresh every SECONDS (default 2) until Ctrl-C; on a terminal only (otherwise printed once).")
@config_option
def status(wf, as_json, show_all, watch, config):
    """States of the workflows (or of the Fireworks of workflow WF), with the error of each failure.

    Read-only: on the embedded store, the last saved state, also while a run holds the store.
    Archived workflows (superseded by 'sseflow study --replace') are left out unless --all.
    """
    import sys

    from sseflow.analysis.errors import InputError

    if watch is not None and as_json:
        raise InputError("--watch refreshes a table on a terminal; --json prints once: give one of them")
    rows = _status_rows(config, wf, show_all)
    if as_json:
        click.echo(json.dumps(rows, indent=1, default=str))
        return
    from rich.console import Console

    con = Console(width=max(100, Console().width))
    if watch is None or not sys.stdout.isatty():
        _status_tables(rows, wf, con)
        return
    try:
        while True:
            con.clear()
            con.print(f"[dim]{time.strftime('%H:%M:%S')}  every {watch:g} s, Ctrl-C stops[/]")
            _status_tables(rows, wf, con)
            time.sleep(watch)
            rows = _status_rows(config, wf, show_all, fresh=True)
    except KeyboardInterrupt:
        return 0


# =========================================================================== rerun

@click.command()
@click.option("--fizzled", is_flag=True, help="Rerun every FIZZLED Firework.")
@click.option("--lost", is_flag=True, help="Find runs whose worker died (detect_lostruns) and rerun them in place.")
@click.option("--wf", type=int, default=None, metavar="ID", help="Only in this workflow.")
@click.option("--expiration", type=POSITIVE, default=None, metavar="SECONDS",
              help="A RUNNING Firework is lost when not pinged for this long (default: 0 on the embedded store, "
                   "which this command holds; FireWorks' RUN_EXPIRATION_SECS on MongoDB).")
@config_option
def rerun(fizzled, lost, wf, expiration, config):
    """Rerun fizzled or lost Fireworks (LaunchPad.rerun_fw, detect_lostruns)."""
    from sseflow.analysis.errors import InputError
    from sseflow.workflows.store.client import connect

    if not (fizzled or lost):
        raise InputError("say what to rerun: --fizzled and/or --lost")
    lp = _launchpad(config)
    res = rerun_fireworks(lp, fizzled, lost, wf, expiration, embedded=connect(config).embedded)
    for kind in ("lost", "fizzled"):
        if (kind == "lost" and lost) or (kind == "fizzled" and fizzled):
            ids = res[kind]
            _err(f"{kind}: {len(ids)} Firework(s) set to run again" + (f": {', '.join(map(str, ids))}" if ids else ""))
    if res["lost"] or res["fizzled"]:
        _err("run them with: sseflow run")


# =========================================================================== study

def _same_inputs(study, inputs: str | None) -> dict | None:
    """The LaunchPad query of the workflows built from this very study file with unchanged inputs
    (:func:`sseflow.workflows.workflow_build.inputs_hash`); None for a study not read from a file."""
    if study.source is None or inputs is None:
        return None
    return {"metadata.study_file": str(study.source), "metadata.study": study.name, "metadata.inputs_hash": inputs}


def _find_unfinished(lp, study, inputs: str | None = None) -> int | None:
    if inputs is None:
        from sseflow.workflows.workflow_build import inputs_hash

        inputs = inputs_hash(study)
    q = _same_inputs(study, inputs)
    if q is None:
        return None
    doc = lp.workflows.find_one({**q, "state": {"$nin": ["COMPLETED", "ARCHIVED", "DEFUSED"]}},
                                {"nodes": 1}, sort=[("_id", -1)])
    return None if doc is None else min(doc["nodes"])


def _find_completed(lp, study, inputs: str | None) -> tuple[int, dict] | None:
    """(workflow id, report manifest) of the latest COMPLETED workflow of the same, unchanged inputs."""
    q = _same_inputs(study, inputs)
    if q is None:
        return None
    for doc in lp.workflows.find({**q, "state": "COMPLETED"}, {"nodes": 1}).sort("_id", -1):
        rep = lp.fireworks.find_one({"fw_id": {"$in": doc["nodes"]}, "name": f"report {study.name}",
                                     "state": "COMPLETED"}, {"fw_id": 1})
        if rep is None:
            continue
        launch = lp.launches.find_one({"fw_id": rep["fw_id"], "state": "COMPLETED"}, {"action": 1},
                                      sort=[("launch_id", -1)])
        manifest = (((launch or {}).get("action") or {}).get("stored_data") or {}).get("manifest")
        if manifest:
            return min(doc["nodes"]), manifest
    return None


def _superseded(lp, study, keep: int | None) -> list[dict]:
    """The unfinished workflows of the same study name (other than ``keep``): built from an earlier
    version of the study (or another file of the same name)."""
    q = {"metadata.study": study.name, "state": {"$nin": ["COMPLETED", "ARCHIVED"]}}
    out = []
    for d in lp.workflows.find(q, {"nodes": 1, "state": 1}).sort("_id", 1):
        if keep is None or keep not in d["nodes"]:
            out.append({"id": min(d["nodes"]), "state": d.get("state")})
    return out


def print_report(output: Path) -> None:
    from sseflow.analysis.tables import format_table, window_rows
    from sseflow.workflows.stages.report import reaction_table

    path = output / "report.json"
    if not path.is_file():
        _err(f"no report in {output}")
        return
    rep = json.loads(path.read_text())
    if rep.get("windows"):
        click.echo("Electrochemical stability windows (V vs Li/Li+):")
        click.echo(format_table(window_rows(rep["windows"]), "text"), nl=False)
    if rep.get("windows_at_temperature"):
        click.echo("\nWindows at temperature:")
        click.echo(format_table(window_rows(rep["windows_at_temperature"]), "text"), nl=False)
    if rep.get("reactions"):
        click.echo("\nInterfacial reactions (most negative E_rxn, meV/atom of mixture; x = atom fraction of partner):")
        click.echo(reaction_table(rep["reactions"], "text"), nl=False)
    if rep.get("interfaces"):
        click.echo("\nInterface cells:")
        for d in rep["interfaces"]:
            w = d.get("work_of_adhesion_J_m2")
            click.echo(f"  {d['electrolyte']} | {d['anode']}: {d['termination']}, {d['area_A2']:.1f} A2, "
                       f"strain {d['strain_percent']:.2f}%" + ("" if w is None else f", W_ad {w:.3f} J/m2"))
    refs = rep.get("reference_sets") or {}
    if refs:
        labels = {(v["reference"], v["hash"]) for v in refs.values()}
        if len(labels) == 1:
            (label, h), = labels
            click.echo(f"\nreference: {label} ({h[:12]})")
        else:
            click.echo("\nreference: " + "; ".join(f"{cs}: {v['reference']} ({v['hash'][:12]})"
                                                   for cs, v in refs.items()))
    click.echo(f"files in {output}: {', '.join(rep.get('files', []))}")


@click.command()
@click.argument("study_file", metavar="STUDY.yaml", type=click.Path(dir_okay=False))
@click.option("--max", "max_fw", type=COUNT, default=0, metavar="N", help="Stop after N Fireworks (0: all).")
@click.option("--new", is_flag=True, help="Always submit a new workflow that recomputes everything but stored "
                                          "calculations (default: report from the database when nothing changed, "
                                          "resume the unfinished workflow of the same inputs, else run only what "
                                          "was not done before).")
@click.option("--replace", is_flag=True, help="Archive the unfinished workflows of the same study name (an earlier, "
                                              "e.g. FIZZLED, version of the study) before submitting.")
@click.option("--output", default=None, type=click.Path(file_okay=False), help="Report folder.")
@click.option("--fworker", default=None, type=click.Path(dir_okay=False), help="FireWorker file.")
@click.option("--launch-dir", default=None, type=click.Path(file_okay=False), help="Folder of the launch folders.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@config_option
def study(study_file, max_fw, new, replace, output, fworker, launch_dir, quiet, config):
    """Submit, run and report a study in one command (on this machine).

    Unchanged inputs (the study file's text and the bytes of the reference table and structure
    files it names) with a completed workflow: the report is written again from the database,
    nothing runs.
    """
    thread_defaults()
    from sseflow.analysis.errors import InputError
    from sseflow.workflows.workflow_build import build_workflow, completed_results, inputs_hash
    from sseflow.workflows.study import load_study
    from sseflow.workflows.store.client import connect

    t0 = time.monotonic()
    st = load_study(study_file)
    _check_launch_dir(launch_dir)
    lp = _launchpad(config)
    inputs = inputs_hash(st)
    if not new:
        done = _find_completed(lp, st, inputs)
        if done is not None:
            from sseflow.workflows.report import write_report

            wf_id, manifest = done
            out_dir = _check_submission(st, output)
            try:
                write_report(manifest, _store(config), out_dir)
            except InputError as exc:  # a document of that report is gone: compute again
                _err(f"note: workflow {wf_id} of {st.name} cannot be reported from the database ({exc}); "
                     f"submitting the study again")
            else:
                _err(f"study {st.name} unchanged since workflow {wf_id} (completed): report written from the "
                     f"database, nothing run ('--new' recomputes)")
                old = _superseded(lp, st, None)
                if replace and old:
                    archived = archive_workflows(lp, [w["id"] for w in old])
                    _err(f"archived workflow(s) {', '.join(map(str, archived))} of {st.name}")
                print_report(out_dir)
                _err(f"study {st.name} done in {time.monotonic() - t0:.1f} s")
                return 0
    wf_id = None if new else _find_unfinished(lp, st, inputs)
    old = _superseded(lp, st, wf_id)
    if old and not replace:
        listed = ", ".join(f"{w['id']} ({w['state']})" for w in old)
        _err(f"note: unfinished workflow(s) of study {st.name} from other inputs: {listed}; "
             f"'sseflow study --replace' archives them")
    if wf_id is not None:
        if replace and old:
            _err(f"archived workflow(s) {', '.join(str(i) for i in archive_workflows(lp, [w['id'] for w in old]))} "
                 f"of {st.name}")
        scope = wf_ids(lp, wf_id)
        res = rerun_fireworks(lp, False, True, wf_id, None, embedded=connect(config).embedded)
        _err(f"resuming workflow {wf_id} of {st.name}" + (f" (lost runs rerun: {res['lost']})" if res["lost"] else ""))
        meta = lp.workflows.find_one({"nodes": wf_id}, {"metadata": 1})["metadata"]
        out_dir = Path(meta["output"])
    else:
        out_dir = _check_submission(st, output)
        reuse = None if new else completed_results(lp, st.name)
        wf, plan = build_workflow(st, _store(config), out_dir, reuse=reuse)
        if replace and old:  # after the build, which may reuse their completed Fireworks
            _err(f"archived workflow(s) {', '.join(str(i) for i in archive_workflows(lp, [w['id'] for w in old]))} "
                 f"of {st.name}")
        mapping = lp.add_wf(wf)
        wf_id = min(mapping.values())
        scope = sorted(mapping.values())
        _err(f"workflow {wf_id} '{st.name}': {_describe(wf, plan)}")
        for note in plan.notes:
            _err(f"note: {note}")
    res = run_fireworks(lp, fworker_for(fworker), max_fw, scope, launch_dir, progress=not quiet)
    _print_run(lp, res, scope)
    states = res["states"]
    if states.get("COMPLETED", 0) == res["total"]:
        print_report(out_dir)
        _err(f"study {st.name} done in {time.monotonic() - t0:.1f} s")
        return 0
    if res["fizzled"]:
        return 1
    _err(f"study {st.name} not finished: run 'sseflow run --wf {wf_id}' to continue")
    return 0
