"""FireWorks Firetasks of sseflow studies, and the functions they call.

Every Firetask is a few lines: it reads its parameters and the FireWorker's ``env``, calls one
function of this module (which calls the library: calculators, ``analysis``, the store) and
returns an ``FWAction`` whose ``mod_spec`` passes *ids* of stored documents to the children
(``task_ids->LABEL``, ``reference_sets->CHEMSYS``, ``window_ids->FORMULA``, ``reaction_ids->PAIR``),
never the data itself: structures, entries and results live in the results store, which is the
LaunchPad's own database.

Per-worker settings come from the FireWorker's ``env`` (``my_fworker.yaml``), as atomate's
``env_chk`` does: a preset value written ``">>key<<"`` is replaced by ``env[key]`` of the worker
that runs the Firework (and dropped, so the backend default applies, when that worker has no
such key). Keys sseflow itself reads: ``scratch_dir`` (where file-based codes run; default: the
launch folder), ``torch_threads``, ``sseflow_flush_interval`` (see below); backends read their
run commands (``vasp_cmd``, ``qe_cmd`` ...) the same way.

Store: inside a Rocket the store is the one of the Rocket's LaunchPad (:func:`task_store`), so a
study run by ``sseflow run``, by FireWorks' own ``rlaunch`` or in a queued job always writes its
results next to its Fireworks. Each Firework ends with a flush of the embedded store
(:func:`end_of_firework`); under ``sseflow run`` the runner does that flush itself after the
Rocket has recorded the Firework's state.
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any, Iterable

from fireworks import FiretaskBase, FWAction, explicit_serialize

from sseflow.analysis.errors import InputError
from sseflow.workflows import fireworks_ping, fw_names

fireworks_ping.install()  # every Rocket that loads these Firetasks: no spurious last ping
fw_names.register()  # and workflows stored under the old module names still load

__all__ = [
    "RelaxTask", "StaticTask", "ThermoTask", "ReactionTask", "ScreeningTask", "InterfaceTask", "PhononTask",
    "ReportTask", "SchottkyTask", "interface_pair", "interface_schottky",
    "env_chk", "task_store", "end_of_firework", "relax_phase", "static_phase", "thermo_for_system",
    "react_pair", "screen_pair", "phonons_of_phase", "write_report", "reference_for", "expected_parameters",
    "pair_label",
]

GPA_PER_EV_A3 = 160.21766208
TRAJECTORY = "relax.traj"

# set by the sseflow runner (sseflow.workflows.cli.flow) while it drives Rockets: it flushes after each one
RUNNER_FLUSHES = False


# =========================================================================== worker settings

def env_chk(value: Any, fw_spec: dict, strict: bool = True, default: Any = None) -> Any:
    """atomate's env_chk: ``">>key<<"`` -> ``fw_spec["_fw_env"][key]``; anything else unchanged.

    Without such a key in the FireWorker's env: ``default`` when given, else KeyError when
    ``strict``, else None.
    """
    if isinstance(value, str) and value.startswith(">>") and value.endswith("<<"):
        key = value[2:-2]
        env = fw_spec.get("_fw_env") or {}
        if key in env:
            return env[key]
        if default is not None or not strict:
            return default
        raise InputError(f"'{value}' is not set in this FireWorker's env (my_fworker.yaml, env: {{{key}: ...}})")
    return value


def resolve_preset(preset: dict | None, fw_spec: dict, calculator: str | None = None) -> dict:
    """A preset with its ``>>key<<`` values taken from the worker's env (dropped when it has none);
    the worker's ``torch_threads`` goes to the machine-learned potentials."""
    def resolve(d: dict) -> dict:
        out = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out[k] = resolve(v)
                continue
            r = env_chk(v, fw_spec, strict=False)
            if r is not None or v is None:
                out[k] = r
        return out

    out = resolve(preset or {})
    env = fw_spec.get("_fw_env") or {}
    if env.get("torch_threads") and "torch_threads" not in out and calculator in ("chgnet", "sevennet"):
        out["torch_threads"] = int(env["torch_threads"])
    return out


def work_dir(fw_spec: dict, label: str) -> Path:
    """Where a calculation writes its files: ``<scratch_dir>/<label>-<pid>`` or the launch folder."""
    scratch = env_chk(">>scratch_dir<<", fw_spec, strict=False)
    if scratch:
        d = Path(os.path.expandvars(os.path.expanduser(str(scratch)))) / f"{label}-{os.getpid()}"
    else:
        d = Path.cwd()
    d.mkdir(parents=True, exist_ok=True)
    return d


# =========================================================================== the store of the Rocket

def _rocket_launchpad():
    """The LaunchPad of the Rocket running the current Firetask (None outside a Rocket)."""
    from fireworks.core.rocket import Rocket

    f = sys._getframe(1)
    while f is not None:
        obj = f.f_locals.get("self")
        if isinstance(obj, Rocket):
            return obj.launchpad
        f = f.f_back
    return None


def task_store(fw_spec: dict | None = None, launchpad=None):
    """The :class:`ResultsStore` for a Firetask: the database of the Rocket's LaunchPad.

    ``launchpad``: the one FireWorks gives the task (spec ``_add_launchpad_and_fw_id``), else the
    Rocket's found on the call stack. Outside a Rocket (a Firetask called directly), the
    configured store (``fw_env['sseflow_db']``, else SSEFLOW_DB, config files, embedded).
    """
    from sseflow.workflows.store.client import connect
    from sseflow.workflows.store.results import ResultsStore

    lp = launchpad or _rocket_launchpad()
    if lp is not None:
        from sseflow.workflows.store.client import handle_for_launchpad

        return ResultsStore(handle_for_launchpad(lp))
    cfg = (fw_spec or {}).get("_fw_env", {}).get("sseflow_db") if fw_spec else None
    return ResultsStore(connect(cfg))


def end_of_firework(store=None) -> None:
    """Flush the embedded store at the end of a Firework (the runner does it when it drives)."""
    if RUNNER_FLUSHES:
        return
    if store is not None:
        store.flush()
    else:
        from sseflow.workflows.store import flush_all

        flush_all()


# =========================================================================== calculations

def expected_parameters(calculator: str, preset: dict | None, task_type: str = "relax", relax_cell: bool = True) -> dict:
    """The physics parameters a task of this calculator and preset records (dedupe key)."""
    from sseflow.workflows.calculators.base import deep_merge, load_preset
    from sseflow.workflows.calculators.registry import backend_class
    from sseflow.workflows.dedupe import physics_parameters

    cls = backend_class(calculator)
    params = deep_merge(load_preset(cls.name, getattr(cls, "defaults", {})), preset or {})
    if task_type == "relax":
        params = deep_merge(params, {"fmax": float(params.get("fmax", 0.05)), "relax_cell": bool(relax_cell)})
    return physics_parameters(params)


def find_task(store, structure, calculator: str, task_type: str, parameters: dict) -> dict | None:
    """A completed stored task computing the same thing (StructureMatcher + physics parameters)."""
    from sseflow.workflows.dedupe import find_existing

    cands = store.find("tasks", {"formula": structure.composition.reduced_formula, "calculator": calculator,
                                 "task_type": task_type, "status": "completed"})
    return find_existing(structure, calculator, parameters, cands) if cands else None


def _checkpoint(path: Path):
    """The last complete frame of a trajectory left by a killed relaxation, or None."""
    if not path.is_file() or path.stat().st_size == 0:
        return None, 0
    try:
        from ase.io.trajectory import Trajectory

        traj = Trajectory(str(path))
        n = len(traj)
    except Exception:
        return None, 0
    for i in range(n - 1, -1, -1):
        try:
            atoms = traj[i]
            atoms.calc = None
            return atoms, n
        except Exception:
            continue
    return None, 0


def _task_document(result, input_structure, label: str, fw_spec: dict, extra: dict | None = None):
    from sseflow.workflows.dedupe import physics_parameters
    from sseflow.workflows.store.documents import TaskDocument

    import numpy as np

    stress = None
    s = np.asarray(result.stress, dtype=float)
    if s.size == 6 and np.isfinite(s).all():
        stress = (s * GPA_PER_EV_A3).tolist()
    forces = np.asarray(result.forces, dtype=float)
    energy = result.energy if result.energy is not None and math.isfinite(result.energy) else None
    return TaskDocument.from_result(
        input_structure, result.calculator, physics_parameters(result.parameters), energy=energy,
        forces=forces if np.isfinite(forces).all() else None, stress=stress, task_type=result.task,
        output_structure=result.structure, status=result.outcome, error=result.error,
        fw_id=fw_spec.get("_sseflow_fw_id"), launch_dir=os.getcwd(), timings={"total": round(float(result.wall_time_s), 3)},
        files={Path(f).name: str(f) for f in result.files},
        label=label, correction_scheme=result.correction_scheme, n_steps=int(result.n_steps),
        converged=bool(result.converged), **(extra or {}))


def _structure(obj):
    """A pymatgen Structure from a spec value (FireWorks decodes monty dicts itself)."""
    from pymatgen.core import Structure

    return obj if isinstance(obj, Structure) else Structure.from_dict(obj)


def relax_phase(structure: dict, label: str, calculator: str, preset: dict | None, fw_spec: dict,
                relax_cell: bool = True, store=None) -> tuple[str, bool]:
    """Relax one phase (or reuse a stored identical relaxation); returns (task key, reused).

    A relaxation that was killed leaves ``relax.traj`` in its launch folder; a rerun in that
    folder (``sseflow rerun --lost`` reruns in the previous folder) continues from its last
    frame. The task document is keyed by the *input* structure, so a rerun replaces the
    document instead of adding one. A calculation that fails is stored as failed and raises
    (the Firework FIZZLES with that error).
    """
    from sseflow.workflows.calculators import get_calculator

    store = store or task_store(fw_spec)
    s = _structure(structure)
    hit = find_task(store, s, calculator, "relax", expected_parameters(calculator, preset, "relax", relax_cell))
    if hit is not None:
        return hit["key"], True
    store.flush()  # the RUNNING state and launch folder are on disk: a killed worker is found as lost
    backend = get_calculator(calculator, preset=resolve_preset(preset, fw_spec, calculator))
    traj = Path.cwd() / TRAJECTORY
    start, frames = _checkpoint(traj)
    extra = {}
    if start is not None:
        extra["restarted_from"] = {"trajectory": str(traj), "frames": frames}
    result = backend.relax(start if start is not None else s, relax_cell=relax_cell,
                           directory=work_dir(fw_spec, label), trajectory=traj)
    doc = _task_document(result, s, label, fw_spec, extra)
    key = store.put(doc)
    if result.outcome != "completed":  # stored as failed / not_converged, never as completed
        store.flush()
        if result.outcome == "not_converged":  # the error says so: "relaxation not converged in N steps ..."
            raise RuntimeError(f"{label}: {calculator} {result.error}")
        raise RuntimeError(f"{label}: {calculator} relaxation failed: {result.error}")
    return key, False


def static_phase(relax_key: str, label: str, calculator: str, preset: dict | None, fw_spec: dict,
                 store=None) -> tuple[str, bool]:
    """Single point on a stored relaxed structure (or reuse a stored one); returns (task key, reused)."""
    from pymatgen.core import Structure

    from sseflow.workflows.calculators import get_calculator

    store = store or task_store(fw_spec)
    relaxed = store.get("task", relax_key)
    if relaxed is None:
        raise InputError(f"{label}: relaxation {relax_key} is not in the store")
    s = Structure.from_dict(relaxed.get("output_structure") or relaxed["structure"])
    hit = find_task(store, s, calculator, "static", expected_parameters(calculator, preset, "static"))
    if hit is not None:
        return hit["key"], True
    store.flush()
    backend = get_calculator(calculator, preset=resolve_preset(preset, fw_spec, calculator))
    result = backend.static(s, directory=work_dir(fw_spec, label))
    doc = _task_document(result, s, label, fw_spec, {"relax_task_id": relax_key})
    key = store.put(doc)
    if result.status != "completed":
        store.flush()
        raise RuntimeError(f"{label}: {calculator} static calculation failed: {result.error}")
    return key, False


# =========================================================================== reference sets

def _entries_from_docs(docs: Iterable[dict]):
    from sseflow.analysis.entries import Entry

    out = []
    for d in docs:
        src = d.get("source") or {}
        out.append(Entry(d["formula"], dict(d["composition"]), float(d["energy_per_atom"]),
                         str(src.get("task_id") or src.get("entry_id") or d["key"]), d.get("correction_scheme")))
    return out


def _file_reference(ref: dict):
    from sseflow.analysis.reference import load_reference

    return load_reference(ref["file"], energy_column=ref.get("energy_column"))


def reference_for(ref: dict, info: dict, store):
    """The reference set a thermodynamics Firework built (``info``: its ``reference_sets`` entry)."""
    from sseflow.analysis.reference import ReferenceSet

    if info["source"] == "file":
        rs = _file_reference(ref)
    else:
        docs = [store.get("entry", k) for k in info["entry_ids"]]
        missing = [k for k, d in zip(info["entry_ids"], docs) if d is None]
        if missing:
            raise InputError(f"entries {', '.join(missing[:3])} are not in the store (rerun the thermodynamics "
                             f"Firework of {info['chemsys']})")
        entries = _entries_from_docs(docs)
        if info["source"] == "both":
            entries = _merge_file_entries(entries, ref, info["chemsys"])
        rs = ReferenceSet.from_entries(entries, source=f"{info['source']}:{info['chemsys']}")
    if rs.content_hash != info["hash"]:
        raise InputError(f"the reference set of {info['chemsys']} changed since it was built "
                         f"({rs.content_hash[:12]} != {info['hash'][:12]}): rerun its thermodynamics Firework")
    return rs


def _merge_file_entries(computed, ref: dict, chemsys: str):
    from sseflow.workflows.computed_entries import merge_entries

    file_rs = _file_reference(ref)
    theirs = file_rs.entries_in(chemsys.split("-"))
    return merge_entries(theirs, computed, scheme_of_unlabelled=ref.get("correction_scheme"))


def _reference_label(ref: dict, calculator: str) -> str:
    if ref["source"] == "file":
        return str(ref["file"])
    if ref["source"] == "both":
        return f"computed:{calculator}+{ref['file']}"
    return f"computed:{calculator}"


def build_reference(chemsys: str, ref: dict, calculator: str, task_ids: dict, store) -> tuple[Any, dict]:
    """(reference set, info) of one chemical system; computed entries are stored as EntryDocuments."""
    from sseflow.analysis.reference import ReferenceSet
    from sseflow.workflows.computed_entries import entries_from_results
    from sseflow.workflows.store.documents import EntryDocument

    els = set(chemsys.split("-"))
    info: dict[str, Any] = {"chemsys": chemsys, "source": ref["source"], "reference": _reference_label(ref, calculator)}
    if ref["source"] == "file":
        rs = _file_reference(ref)
        info.update(hash=rs.content_hash, entry_ids=[], task_ids=[])
        return rs, info
    rows = []
    for label, key in sorted(task_ids.items()):
        d = store.get("task", key)
        if d is None:
            raise InputError(f"task {key} of {label} is not in the store")
        if not set(d.get("elements") or []) <= els:
            continue
        rows.append({**d, "task_id": key})
    entries = entries_from_results(rows, calculator)
    keys = []
    for e in entries:
        keys.append(store.put(EntryDocument.from_entry(e, task_id=e.entry_id)))
    info["entry_ids"] = keys
    info["task_ids"] = [r["task_id"] for r in rows]
    rebuilt = _entries_from_docs(store.get("entry", k) for k in keys)  # exactly what the children rebuild
    if ref["source"] == "both":
        rebuilt = _merge_file_entries(rebuilt, ref, chemsys)
    rs = ReferenceSet.from_entries(rebuilt, source=f"{ref['source']}:{chemsys}")
    info["hash"] = rs.content_hash
    return rs, info


def thermo_for_system(chemsys: str, ref: dict, calculator: str, task_ids: dict, windows: list[str],
                      fw_spec: dict, temperatures: list[float] | None = None, study: str | None = None,
                      store=None) -> tuple[dict, dict]:
    """Entries of one chemical system and the windows of the electrolytes assigned to it.

    Returns (reference info for the children, {formula: window document key}).
    """
    from sseflow.analysis.window import WindowCalculator
    from sseflow.workflows.store.documents import Inputs, WindowDocument

    store = store or task_store(fw_spec)
    rs, info = build_reference(chemsys, ref, calculator, task_ids, store)
    exclude = list(ref.get("exclude") or [])
    window_ids: dict[str, str] = {}
    if windows:
        calc = WindowCalculator(rs, exclude)
        base = {"reference": info["reference"], "reference_hash": info["hash"], "exclude": exclude,
                "task_ids": info["task_ids"], "entry_ids": info["entry_ids"], "study": study,
                "reference_source": info["source"]}
        for f in windows:
            doc = WindowDocument.from_payload(calc.window(f).to_dict(), Inputs.from_any(base))
            window_ids[f] = store.put(doc)
        if temperatures:
            window_ids.update(_windows_at_temperatures(windows, rs, temperatures, chemsys, calculator, base, store))
    return info, window_ids


def _windows_at_temperatures(formulas, rs, temperatures, chemsys, calculator, base, store) -> dict[str, str]:
    from sseflow.workflows.store.documents import Inputs, WindowDocument
    from sseflow.workflows.temperature import load_phonon_docs, windows_at_temperatures

    docs = load_phonon_docs(chemsys, config=store.config, calculator=calculator)
    rows = windows_at_temperatures(formulas, rs, list(temperatures), docs, exclude=base["exclude"], profile=True)
    out = {}
    for r in rows:
        t = r.pop("temperature_K")
        inputs = Inputs.from_any({**base, "temperature": t, "phonon_ids": [d.get("key") for d in docs]
                                  if docs and isinstance(docs[0], dict) else []})
        out[f"{r['formula']}@{t:g}K".replace(".", "p")] = store.put(WindowDocument.from_payload(r, inputs))
    return out


# =========================================================================== reactions, screening

def pair_label(a: str, b: str, potential: float | None = None) -> str:
    """Key of a reaction in specs: no '.', which MongoDB field names cannot hold."""
    p = "chem" if potential is None else f"{potential:g}V".replace(".", "p")
    return f"{a}__{b}__{p}"


def reaction_results(electrolyte: str, partner: str, rs, exclude: list[str], potentials: list[float]):
    """The ReactionResults of one pair: chemical, then open to Li at each potential."""
    from sseflow.analysis.formula import parse_formula
    from sseflow.analysis.reactions import ReactionCalculator

    rc = ReactionCalculator(rs, exclude)
    out = [rc.react(electrolyte, partner)]
    li_only = set(parse_formula(partner)) == {"Li"} or set(parse_formula(electrolyte)) == {"Li"}
    for v in potentials:
        if not li_only:  # Li is the reservoir of the open system: no open reaction with Li metal
            out.append(rc.react(electrolyte, partner, potential=float(v)))
    return out


def react_pair(electrolyte: str, partner: str, chemsys: str, ref: dict, info: dict, potentials: list[float],
               fw_spec: dict, study: str | None = None, store=None) -> dict[str, str]:
    """Reaction curves of one electrolyte | partner pair, stored; {pair label: reaction document key}."""
    from sseflow.workflows.store.documents import Inputs, ReactionDocument

    store = store or task_store(fw_spec)
    rs = reference_for(ref, info, store)
    exclude = list(ref.get("exclude") or [])
    out = {}
    # the same options as ``sseflow react --store``: the workflow's documents and the command's share keys
    options = {"include_decomposition": False, "use_hull_energy": False, "energy_a": None, "energy_b": None}
    for r in reaction_results(electrolyte, partner, rs, exclude, potentials):
        inputs = Inputs.from_any({"reference": info["reference"], "reference_hash": info["hash"], "exclude": exclude,
                                  "options": options, "task_ids": info["task_ids"], "entry_ids": info["entry_ids"],
                                  "study": study})
        out[pair_label(electrolyte, partner, r.potential_V)] = store.put(ReactionDocument.from_payload(r.to_dict(), inputs))
    return out


def screen_pair(electrolyte: str, anode: str, candidates: list[str], ref: dict, info: dict, fw_spec: dict,
                study: str | None = None, store=None) -> list[str]:
    """Interlayer screening of one electrolyte | anode pair, stored; the screening document keys."""
    from sseflow.analysis.screening import screen
    from sseflow.workflows.store.documents import Inputs, ScreeningDocument

    store = store or task_store(fw_spec)
    rs = reference_for(ref, info, store)
    exclude = list(ref.get("exclude") or [])
    res = screen(electrolyte, anode, rs, candidates=candidates, exclude=exclude)
    inputs = Inputs.from_any({"reference": info["reference"], "reference_hash": info["hash"], "exclude": exclude,
                              "entry_ids": info["entry_ids"], "study": study, "notes": res.notes})
    return [store.put(ScreeningDocument.from_row(r, inputs)) for r in res.rows]


def phonons_of_phase(structure: dict, label: str, calculator: str, preset: dict | None, settings: dict | None,
                     temperatures: list[float], fw_spec: dict, store=None) -> str:
    """Harmonic phonons of one phase (reused when stored); the phonon document key."""
    from sseflow.workflows.calculators import get_calculator
    from sseflow.workflows.phonons import phonons_for

    store = store or task_store(fw_spec)
    store.flush()
    backend = get_calculator(calculator, preset=resolve_preset(preset, fw_spec, calculator))
    res = phonons_for(_structure(structure), backend, settings or None, temperatures=temperatures,
                      store=True, config=store.config)
    doc = res.to_document()
    return getattr(doc, "key", None) or doc.get("key")


def interface_pair(electrolyte: str, electrode: str, settings: dict, calculator: str, preset: dict | None,
                   fw_spec: dict, study: str | None = None, store=None) -> str:
    """Interface cell of one electrolyte | electrode pair: the best-ranked lattice match built and,
    with ``settings["relax"]``, relaxed (work of adhesion, contact chemistry); stored as an
    Interface document whose structure carries the side/layer tags. Returns its key."""
    from ase.io import write

    from sseflow.workflows.calculators import get_calculator
    from sseflow.workflows.interfaces.stages import find_and_build, store_interface

    store = store or task_store(fw_spec)
    st = dict(settings)
    store.flush()
    backend = get_calculator(calculator, preset=resolve_preset(preset, fw_spec, calculator))
    _, built = find_and_build(electrolyte, electrode, st, backend if st.get("scan", True) else None,
                              pick=int(st.get("candidate", 1)), pick_label="interface.candidate")
    summary: dict[str, Any] = {"electrolyte": electrolyte, "electrode": electrode, "interface": built.summary(),
                               "study": study}
    wd = work_dir(fw_spec, "interface")
    relaxation = None
    if st.get("relax", True):
        from sseflow.workflows.interfaces.relax import relax_interface

        relaxation = relax_interface(built, backend, fmax=st["fmax"], steps=st["steps"],
                                     trajectory=str(wd / "interface.traj"))
        summary["relaxation"] = relaxation.summary()
    a = (relaxation.atoms if relaxation is not None else built.atoms).copy()
    a.info = {}
    write(str(wd / "interface.extxyz"), a)
    return store_interface(store, summary, built, relaxation, study=study)


def interface_schottky(interface_key: str, electronic: dict, settings: dict, fw_spec: dict,
                       study: str | None = None, store=None) -> list[str]:
    """Schottky barriers of a stored interface (its own Firework, so DFT can go to other workers):
    the electronic static of the cell and of the bulk electrolyte on ``electronic["name"]``
    (gpaw, qe, vasp), both barrier methods, one Schottky document per method. Returns the keys."""
    from sseflow.workflows.interfaces.stages import electronic_stage, from_document, schottky_documents

    store = store or task_store(fw_spec)
    src = from_document(store, interface_key, settings.get("schottky_cell", "auto"))
    st = dict(settings)
    store.flush()
    over = resolve_preset(electronic.get("preset"), fw_spec, electronic["name"])
    kpts = tuple(st["kpts"]) if st.get("kpts") else None
    bkpts = tuple(st["bulk_kpts"]) if st.get("bulk_kpts") else None
    run = electronic_stage(src.atoms, src.electrolyte, electronic["name"], periods=src.periods, kpts=kpts,
                           bulk_kpts=bkpts, directory=work_dir(fw_spec, "schottky"), **over)
    run.electronic.save(work_dir(fw_spec, "schottky") / "electronic.npz")
    docs = schottky_documents(run.report, electrolyte=src.electrolyte, electrode=src.electrode,
                              calculator=electronic["name"],
                              parameters={"interface": src.label, **src.miller, **run.parameters, "cell": src.cell},
                              interface_key=src.interface_key, study=study)
    store.put_many(docs)
    return [d.key for d in docs]


def interface_table(docs: list[dict], schottky: list[dict], fmt: str) -> str:
    """Interface cells (and Schottky barriers) as md or csv."""
    import csv
    import io

    head = ["electrolyte", "anode", "electrolyte_miller", "anode_miller", "termination", "area_A2", "strain_percent",
            "work_of_adhesion_J_m2", "barrier_n_eV_layer_dos", "barrier_p_eV_layer_dos", "barrier_n_eV_lineup",
            "barrier_p_eV_lineup", "band_gap_eV"]
    rows = []
    for d in docs:
        sk = [s for s in schottky if s["electrolyte"] == d["electrolyte"] and s["anode"] == d["anode"]
              and (s.get("parameters") or {}).get("interface_key") in (None, d.get("key"))]
        layer = next((s for s in sk if s.get("method") == "layer-resolved DOS"), {})
        lineup = next((s for s in sk if s.get("method") == "potential line-up"), {})
        rows.append([d["electrolyte"], d["anode"], "".join(map(str, d.get("electrolyte_miller") or [])),
                     "".join(map(str, d.get("anode_miller") or [])), d.get("termination") or "",
                     _fmt(d.get("area_A2"), 1), _fmt(d.get("strain_percent"), 2), _fmt(d.get("work_of_adhesion_J_m2"), 3),
                     _fmt(layer.get("barrier_n_eV"), 2), _fmt(layer.get("barrier_p_eV"), 2),
                     _fmt(lineup.get("barrier_n_eV"), 2), _fmt(lineup.get("barrier_p_eV"), 2),
                     _fmt(lineup.get("band_gap_eV"), 2)])
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(head)
        w.writerows(rows)
        return buf.getvalue()
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


# =========================================================================== the report

def _fmt(x, digits=2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def reaction_table(rows: list[dict], fmt: str) -> str:
    """Reaction minima as md, csv, latex or text (mutual reaction energy; see :mod:`sseflow.workflows.report`)."""
    from sseflow.workflows.report import reaction_table as table

    return table(rows, fmt)


def write_report(output: str, study: dict, spec: dict, reference: dict, store=None) -> dict:
    """The study's report in ``output``, from stored documents (:mod:`sseflow.workflows.report`):
    the manifest built from the spec, written by the same function as ``sseflow report --from-db``."""
    from sseflow.workflows.report import report_manifest
    from sseflow.workflows.report import write_report as write

    store = store or task_store(spec)
    manifest = report_manifest(output, study, reference, spec, store)
    summary = write(manifest, store)
    return {**summary, "manifest": manifest}


# =========================================================================== Firetasks

def _set(prefix: str, mapping: dict) -> dict:
    return {"_set": {f"{prefix}->{k}": v for k, v in mapping.items()}}


class _StudyTask(FiretaskBase):
    """Base of the study Firetasks: the store of the Rocket's LaunchPad and the Firework id."""

    def context(self, fw_spec: dict) -> tuple[Any, dict]:
        spec = {**fw_spec, "_sseflow_fw_id": getattr(self, "fw_id", None)}
        return task_store(fw_spec, getattr(self, "launchpad", None)), spec


@explicit_serialize
class RelaxTask(_StudyTask):
    """Relax one phase; children get ``task_ids->LABEL`` (or ``relax_ids->LABEL`` before a static)."""

    required_params = ["structure", "label", "calculator"]
    optional_params = ["preset", "relax_cell", "pass_as"]

    def run_task(self, fw_spec):
        store, spec = self.context(fw_spec)
        key, reused = relax_phase(self["structure"], self["label"], self["calculator"], self.get("preset"), spec,
                                  relax_cell=self.get("relax_cell", True), store=store)
        end_of_firework(store)
        return FWAction(stored_data={"task_id": key, "reused": reused},
                        mod_spec=[_set(self.get("pass_as", "task_ids"), {self["label"]: key})])


@explicit_serialize
class StaticTask(_StudyTask):
    """Single point on the relaxed structure ``relax_ids->LABEL``; children get ``task_ids->LABEL``."""

    required_params = ["label", "calculator"]
    optional_params = ["preset", "relax_id"]

    def run_task(self, fw_spec):
        store, spec = self.context(fw_spec)
        relax_id = self.get("relax_id") or (fw_spec.get("relax_ids") or {}).get(self["label"])
        key, reused = static_phase(relax_id, self["label"], self["calculator"], self.get("preset"), spec, store=store)
        end_of_firework(store)
        return FWAction(stored_data={"task_id": key, "reused": reused},
                        mod_spec=[_set("task_ids", {self["label"]: key})])


@explicit_serialize
class ThermoTask(_StudyTask):
    """Entries of one chemical system (from ``task_ids`` or the reference file) and the windows."""

    required_params = ["chemsys", "reference", "calculator"]
    optional_params = ["windows", "temperatures", "study", "task_ids"]

    def run_task(self, fw_spec):
        store, spec = self.context(fw_spec)
        task_ids = {**(self.get("task_ids") or {}), **(fw_spec.get("task_ids") or {})}
        info, window_ids = thermo_for_system(self["chemsys"], self["reference"], self["calculator"], task_ids,
                                             self.get("windows") or [], spec, self.get("temperatures"),
                                             self.get("study"), store=store)
        end_of_firework(store)
        mods = [_set("reference_sets", {self["chemsys"]: info})] + ([_set("window_ids", window_ids)] if window_ids else [])
        return FWAction(stored_data={"reference_hash": info["hash"], "windows": window_ids}, mod_spec=mods,
                        propagate=True)


@explicit_serialize
class ReactionTask(_StudyTask):
    """Reaction curves of one electrolyte | partner pair on the reference set of ``chemsys``."""

    required_params = ["electrolyte", "partner", "chemsys", "reference"]
    optional_params = ["potentials", "study"]

    def run_task(self, fw_spec):
        store, spec = self.context(fw_spec)
        ids = react_pair(self["electrolyte"], self["partner"], self["chemsys"], self["reference"],
                         fw_spec["reference_sets"][self["chemsys"]], self.get("potentials") or [], spec,
                         self.get("study"), store=store)
        end_of_firework(store)
        return FWAction(stored_data={"reactions": ids}, mod_spec=[_set("reaction_ids", ids)])


@explicit_serialize
class ScreeningTask(_StudyTask):
    """Interlayer screening of one electrolyte | anode pair."""

    required_params = ["electrolyte", "anode", "candidates", "chemsys", "reference"]
    optional_params = ["study"]

    def run_task(self, fw_spec):
        store, spec = self.context(fw_spec)
        keys = screen_pair(self["electrolyte"], self["anode"], self["candidates"], self["reference"],
                           fw_spec["reference_sets"][self["chemsys"]], spec, self.get("study"), store=store)
        end_of_firework(store)
        return FWAction(stored_data={"screening": keys}, mod_spec=[{"_push_all": {"screening_ids": keys}}])


@explicit_serialize
class InterfaceTask(_StudyTask):
    """Interface cell of one electrolyte | anode pair, built and relaxed (stage 1 of 2)."""

    required_params = ["electrolyte", "electrode", "settings", "calculator"]
    optional_params = ["preset", "study", "label"]

    def run_task(self, fw_spec):
        store, spec = self.context(fw_spec)
        key = interface_pair(self["electrolyte"], self["electrode"], self["settings"], self["calculator"],
                             self.get("preset"), spec, self.get("study"), store=store)
        end_of_firework(store)
        label = self.get("label") or pair_label(self["electrolyte"], self["electrode"])
        return FWAction(stored_data={"interface": key}, mod_spec=[_set("interface_ids", {label: key})])


@explicit_serialize
class SchottkyTask(_StudyTask):
    """Schottky barriers of the interface its parent built (stage 2 of 2): electronic statics."""

    required_params = ["label", "electronic", "settings"]
    optional_params = ["study"]

    def run_task(self, fw_spec):
        store, spec = self.context(fw_spec)
        key = (fw_spec.get("interface_ids") or {}).get(self["label"])
        if not key:
            raise InputError(f"no interface for {self['label']} in the spec (its interface Firework did not run)")
        keys = interface_schottky(key, self["electronic"], self["settings"], spec, self.get("study"), store=store)
        end_of_firework(store)
        return FWAction(stored_data={"schottky": keys}, mod_spec=[{"_push_all": {"schottky_ids": keys}},
                                                                  _set("interface_ids", {self["label"]: key})])


@explicit_serialize
class PhononTask(_StudyTask):
    """Harmonic phonons of one phase (stored as a PhononDocument)."""

    required_params = ["structure", "label", "calculator"]
    optional_params = ["preset", "settings", "temperatures"]

    def run_task(self, fw_spec):
        store, spec = self.context(fw_spec)
        key = phonons_of_phase(self["structure"], self["label"], self["calculator"], self.get("preset"),
                               self.get("settings"), self.get("temperatures") or [], spec, store=store)
        end_of_firework(store)
        return FWAction(stored_data={"phonon_id": key})


@explicit_serialize
class ReportTask(_StudyTask):
    """Tables and figures of a study in its output folder."""

    required_params = ["output", "study", "reference"]

    def run_task(self, fw_spec):
        store, spec = self.context(fw_spec)
        summary = write_report(self["output"], self["study"], spec, self["reference"], store=store)
        end_of_firework(store)
        # the manifest is what ``sseflow report --from-db`` rebuilds the same report from
        return FWAction(stored_data={"output": self["output"], "files": summary["files"],
                                     "manifest": summary["manifest"]})
