"""Study -> FireWorks ``Workflow``.

:func:`build_workflow` makes, for a validated :class:`sseflow.workflows.study.Study`:

* one **relax** Firework per phase (+ one **static** Firework when ``calculators.static`` is
  set), *left out* when the results store already holds a completed task computing the same
  thing (same calculator and physics parameters, StructureMatcher-equal structure): its task
  id goes straight into the specs of the Fireworks that need it;
* one **thermodynamics** Firework per chemical system the study needs (each electrolyte's
  system with Li for its window; each electrolyte | partner pair's system for its reaction;
  the screening systems): it builds the entries (computed, from the reference file, or both)
  and stores the windows of the electrolytes of that system;
* one **reaction** Firework per electrolyte | partner pair (partners: anodes, and interlayers),
  one **screening** Firework per electrolyte | anode pair, one **phonon** Firework per phase
  when asked;
* one **report** Firework that writes the tables and figures into the study's output folder.

With ``reuse`` (:func:`completed_results` of the LaunchPad), a thermodynamics, reaction,
screening, phonon, interface or Schottky Firework is also *left out* when a COMPLETED Firework
of a workflow that is not archived did the same work: the same Firetask with the same parameters
and the same stored calculations (task ids), the same bytes of the files it reads (reference
table, structure files), and parents that are all left out too. What it passed to its children
(the ``mod_spec`` of its launch: ids of stored documents) goes straight into their specs.

Phases: with ``phases.auto`` every phase of the structure library in each needed chemical
system (``sseflow.workflows.structures.library.list_phases``), plus ``phases.include``, the
electrolytes, anodes and interlayers themselves (when a structure exists for them), minus
``phases.skip``.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import parse_formula
from sseflow.workflows.study import PhaseSpec, Study, StudyError

__all__ = ["Phase", "Plan", "plan_study", "build_workflow", "inputs_hash", "completed_results"]

REUSABLE = ("thermodynamics", "reaction", "screening", "phonons", "interface", "schottky")
INPUTS_KEY = "_sseflow_inputs"  # spec key: digest of a Firework's inputs fixed at build time


@dataclass
class Phase:
    label: str
    formula: str                 # reduced formula
    elements: frozenset
    structure: Any               # pymatgen Structure (primitive when phases.primitive)
    origin: str                  # "library", "file", "study"
    relax_id: str | None = None  # stored relaxation reused
    task_id: str | None = None   # stored task whose energy makes the entry (relax, or static)


@dataclass
class Plan:
    """What the workflow will do (for ``sseflow submit --dry-run`` and the tests)."""

    electrolytes: list[str]
    partners: list[str]
    systems: list[str]
    window_system: dict[str, str]
    pair_system: dict[tuple, str]
    screening_system: dict[tuple, str]
    phases: list[Phase] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reused_fireworks: list[str] = field(default_factory=list)  # names of Fireworks left out (done before)

    def summary(self) -> dict:
        return {"electrolytes": self.electrolytes, "partners": self.partners, "systems": self.systems,
                "phases": [p.label for p in self.phases],
                "reused": [p.label for p in self.phases if p.task_id],
                "reused_fireworks": self.reused_fireworks, "notes": self.notes}


def _chemsys(elements) -> str:
    return "-".join(sorted(set(elements)))


def _els(formula: str) -> set[str]:
    return set(parse_formula(formula))


# =========================================================================== planning

def plan_study(study: Study, store=None) -> Plan:
    """Systems, phases and (with a store) which calculations are already stored."""
    electrolytes = [f for _, f in study.electrolyte_formulas()]
    interlayers = [f for _, f in study.interlayer_formulas()]
    c = study.compute
    partners = list(dict.fromkeys(study.anodes + (interlayers if c.reactions else [])))
    window_system = {e: _chemsys(_els(e) | {"Li"}) for e in electrolytes} if c.windows else {}
    pair_system = {}
    if c.reactions:
        for e in electrolytes:
            for b in partners:
                els = _els(e) | _els(b) | ({"Li"} if c.potentials else set())
                pair_system[(e, b)] = _chemsys(els)
    screening_system = {}
    if c.screening:
        cand = study.screening_candidates()
        for e in electrolytes:
            for a in study.anodes:
                els = _els(e) | _els(a) | {"Li"}
                for f in cand:
                    els |= _els(f)
                screening_system[(e, a)] = _chemsys(els)
    systems = sorted(set(window_system.values()) | set(pair_system.values()) | set(screening_system.values()),
                     key=lambda s: (len(s.split("-")), s))
    plan = Plan(electrolytes, partners, systems, window_system, pair_system, screening_system)
    if study.computed or c.phonons:
        plan.phases = _phases(study, systems, plan.notes)
        if study.computed:
            _check_elements(plan, study)
    if store is not None and study.computed:
        _mark_stored(study, plan, store)
    return plan


def _library_phases(systems: list[str]) -> list[str]:
    from sseflow.workflows.structures.library import list_phases

    names: list[str] = []
    for s in systems:
        for n in list_phases(s):
            if n not in names:
                names.append(n)
    return names


def _phases(study: Study, systems: list[str], notes: list[str]) -> list[Phase]:
    from sseflow.workflows.structures.library import entry_for, get_structure

    prim = study.phases.primitive
    skip_names = set(study.phases.skip)
    skip_formulas = set()
    for s in study.phases.skip:
        try:
            skip_formulas.add(_reduced(s))
        except InputError:  # a library name such as Li3PS4-beta
            pass
    all_els = set().union(*(set(s.split("-")) for s in systems)) if systems else set()
    out: dict[str, Phase] = {}

    def add(label: str, structure, origin: str) -> None:
        red = structure.composition.reduced_formula
        if label in skip_names or red in skip_formulas:
            return
        # a structure given in Python takes the place of the library phase of the same label
        if label in out and not (origin == "study" and out[label].origin == "library"):
            return
        els = frozenset(el.symbol for el in structure.composition.elements)
        out[label] = Phase(label, red, els, structure, origin)

    if study.phases.auto:
        for name in _library_phases(systems):
            add(name, get_structure(name, primitive=prim), "library")
    # the study's own compositions (with auto: when a structure exists; without: those given as
    # structure files) and the extra phases
    own: list[tuple[str, PhaseSpec]] = []
    for where, specs in (("electrolytes", study.electrolytes), ("anodes", [PhaseSpec.model_validate(a)
                                                                          for a in study.anodes]),
                         ("interlayers", study.interlayers)):
        own += [(where, e) for e in specs if study.phases.auto or e.cif or e.structure_dict]
    own += [("phases.include", e) for e in study.phases.include]
    for where, spec in own:
        try:
            s = spec.structure(primitive=prim)
        except InputError as exc:
            if where == "phases.include":
                raise StudyError(f"phases.include: {spec.label()}: {exc}") from None
            notes.append(f"{spec.label()}: no structure ({exc}); evaluated as its phase assemblage")
            continue
        label = spec.label()
        if spec.library:
            try:
                label = spec.name or entry_for(spec.library)["name"]
            except InputError:
                pass
        elif spec.formula and not spec.name:
            label = entry_for(spec.formula)["name"]
        els = {el.symbol for el in s.composition.elements}
        if not els <= all_els:
            if where == "phases.include":
                raise StudyError(f"phases.include: {label} ({s.composition.reduced_formula}) lies outside every "
                                 f"chemical system of the study ({', '.join(systems)})")
            continue
        add(label, s, "file" if spec.cif else ("library" if spec.library or spec.formula else "study"))
    return list(out.values())


def _reduced(formula: str) -> str:
    from sseflow.analysis.formula import reduced_formula_of

    return reduced_formula_of(formula)


def _check_elements(plan: Plan, study: Study) -> None:
    """Formation energies of computed phases need the same calculator's elemental phases."""
    have = {next(iter(p.elements)) for p in plan.phases if len(p.elements) == 1}
    if study.reference.source == "computed":
        need = set().union(*(set(s.split("-")) for s in plan.systems)) if plan.systems else set()
    else:  # the file covers the rest
        need = set().union(*(set(p.elements) for p in plan.phases)) if plan.phases else set()
    missing = sorted(need - have)
    if missing:
        raise StudyError(f"computed reference energies need an elemental phase of {', '.join(missing)}: the "
                         f"structure library has none; add one under phases.include (a CIF file)")


def _mark_stored(study: Study, plan: Plan, store) -> None:
    from sseflow.workflows.stages.calculations import expected_parameters, find_task

    relax = study.calculators.relax
    static = study.calculators.static
    rparams = expected_parameters(relax.name, relax.preset_dict(), "relax")
    sparams = expected_parameters(static.name, static.preset_dict(), "static") if static else None
    for p in plan.phases:
        hit = find_task(store, p.structure, relax.name, "relax", rparams)
        if hit is None:
            continue
        p.relax_id = hit["key"]
        if static is None:
            p.task_id = hit["key"]
            continue
        from pymatgen.core import Structure

        relaxed = Structure.from_dict(hit.get("output_structure") or hit["structure"])
        shit = find_task(store, relaxed, static.name, "static", sparams)
        if shit is not None:
            p.task_id = shit["key"]


# =========================================================================== Fireworks

def _spec(study: Study, heavy: bool = False, **extra) -> dict:
    q = study.queue
    # FireWorks hands the task its LaunchPad and Firework id (the results go to that database)
    spec: dict[str, Any] = {"study": study.name, "_add_launchpad_and_fw_id": True}
    if q.category:
        spec["_category"] = q.category
    if q.fworker:
        spec["_fworker"] = q.fworker
    if q.priority is not None:
        spec["_priority"] = q.priority
    if heavy and q.queueadapter:
        spec["_queueadapter"] = dict(q.queueadapter)
    spec.update(extra)
    return spec


def reference_dict(study: Study) -> dict:
    r = study.reference
    path = r.path()
    return {"source": r.source, "file": None if path is None else str(path.resolve()),
            "energy_column": r.energy_column, "correction_scheme": r.correction_scheme,
            "exclude": list(r.exclude)}


# =========================================================================== reuse of completed Fireworks

def _digest(obj) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def file_digest(path) -> str | None:
    """SHA-256 of a file's bytes (None when it cannot be read)."""
    import hashlib

    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _study_files(study: Study) -> list[Path]:
    """The files a study reads: its reference table and its structure files."""
    files: list[Path] = []
    try:
        ref = study.reference.path()
    except Exception:  # noqa: BLE001 - a reference given otherwise than by file
        ref = None
    if ref is not None:
        files.append(Path(ref))
    specs = list(study.electrolytes) + list(study.interlayers) + list(study.phases.include)
    for a in study.anodes:
        try:
            specs.append(PhaseSpec.model_validate(a))
        except Exception:  # noqa: BLE001 - validated with the study already
            pass
    for spec in specs:
        if getattr(spec, "cif", None):
            files.append(Path(spec.path()))
    return files


def library_digest() -> str:
    """SHA-256 over the structure library (its index and every structure file), so that a study
    whose phases come from the library is not "unchanged" once the library gains or changes a phase."""
    from sseflow.workflows.structures.library import DATA_DIR

    return _digest({p.name: file_digest(p) for p in sorted(DATA_DIR.iterdir()) if p.is_file()})


def inputs_hash(study: Study) -> str | None:
    """What "unchanged" means for a study: SHA-256 over the study file's text
    (:attr:`Study.content_hash`), the bytes of every file it reads (reference table, structure
    files), with their resolved paths, and the structure library (:func:`library_digest`). None
    for a study that was not read from a file."""
    if study.content_hash is None:
        return None
    files = sorted({str(f.resolve()) for f in _study_files(study)})
    return _digest({"study": study.content_hash, "files": {f: file_digest(f) for f in files},
                    "library": library_digest()})


def _task_inputs(tasks: list[dict]) -> str:
    """Digest of a Firework's tasks (without the task ids, which may come from parents) and of the
    bytes of the files they name (the reference table, a structure file)."""
    files: dict[str, str | None] = {}

    def scan(v):
        if isinstance(v, dict):
            for x in v.values():
                scan(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                scan(x)
        elif isinstance(v, str) and len(v) < 4096 and v.startswith("/"):
            try:
                if Path(v).is_file():
                    files[v] = file_digest(v)
            except OSError:
                pass

    stripped = [{k: v for k, v in t.items() if k != "task_ids"} for t in tasks]
    scan(stripped)
    return _digest({"tasks": stripped, "files": files})


def _fingerprint(spec: dict) -> str | None:
    """Identity of a Firework's work: its build-time inputs digest and the calculations it uses
    (task ids from its parameters and from its parents)."""
    inputs = spec.get(INPUTS_KEY)
    if not inputs:
        return None
    task_ids: dict = dict(spec.get("task_ids") or {})
    for t in spec.get("_tasks") or []:
        task_ids.update(t.get("task_ids") or {})
    return _digest({"inputs": inputs, "task_ids": task_ids})


def completed_results(lp, study_name: str) -> dict[str, dict]:
    """Fingerprint -> {fw_id, name, mod_spec, update_spec, propagate} of the COMPLETED Fireworks of
    ``study_name`` on the LaunchPad (an archived workflow's Fireworks are ARCHIVED, so never)."""
    out: dict[str, dict] = {}
    q = {"state": "COMPLETED", "spec.study": study_name, f"spec.{INPUTS_KEY}": {"$exists": True}}
    for fw in lp.fireworks.find(q, {"fw_id": 1, "name": 1, "spec": 1}).sort("fw_id", 1):
        fp = _fingerprint(fw.get("spec") or {})
        if fp is None:
            continue
        launch = lp.launches.find_one({"fw_id": fw["fw_id"], "state": "COMPLETED"}, {"action": 1},
                                      sort=[("launch_id", -1)])
        action = (launch or {}).get("action")
        if not action:
            continue
        out[fp] = {"fw_id": fw["fw_id"], "name": fw.get("name"), "mod_spec": list(action.get("mod_spec") or []),
                   "update_spec": dict(action.get("update_spec") or {}),
                   "propagate": bool(action.get("propagate"))}
    return out


def _apply_reused(fws: list, links: dict[int, list[int]], reused: dict[int, dict]) -> tuple[list, dict]:
    """Leave out the reused Fireworks; what each passed on goes into its children's (with
    ``propagate``, all its descendants') specs, as FireWorks would have applied it."""
    from fireworks.utilities.dict_mods import apply_mod

    by_id = {f.fw_id: f for f in fws}

    def descendants(i: int, deep: bool) -> list[int]:
        seen: list[int] = []
        todo = list(links.get(i, []))
        while todo:
            c = todo.pop(0)
            if c in seen:
                continue
            seen.append(c)
            if deep:
                todo += links.get(c, [])
        return seen

    for f in fws:  # creation order: parents first
        action = reused.get(f.fw_id)
        if action is None:
            continue
        for c in descendants(f.fw_id, action["propagate"]):
            if c in reused:
                continue
            spec = by_id[c].spec
            spec.update(action["update_spec"])
            for mod in action["mod_spec"]:
                apply_mod(mod, spec)
    kept = [f for f in fws if f.fw_id not in reused]
    new_links = {p: [c for c in cs if c not in reused] for p, cs in links.items() if p not in reused}
    return kept, {p: cs for p, cs in new_links.items() if cs}


def interface_config(study: Study) -> dict:
    """How a study builds its interfaces: the interface settings, the relaxation calculator and
    preset, and the electronic backend (None unless ``compute.schottky``)."""
    ic, ec = study.calculators.interfaces, study.calculators.electronic
    return {"settings": study.interface.model_dump(), "calculator": ic.name, "preset": ic.preset_dict(),
            "electronic": {"name": ec.name, "preset": ec.preset_dict()} if study.compute.schottky else None}


def interface_pair_tasks(source, formula: str, anode: str, cfg: dict, study_name: str) -> list[tuple[list, str]]:
    """``[(tasks, Firework name)]`` of one electrolyte | anode interface (``source``: a library name,
    a CIF path or a structure dict): the built (and relaxed) cell, then, when ``cfg`` asks for
    Schottky barriers, its electronic statics (a child of the first)."""
    from sseflow.workflows.firetasks import InterfaceTask, SchottkyTask, pair_label

    label = pair_label(formula, anode)
    out = [([InterfaceTask(electrolyte=source, electrode=anode, settings=cfg["settings"], calculator=cfg["calculator"],
                           preset=cfg["preset"], study=study_name, label=label)], f"interface {formula} | {anode}")]
    if cfg["electronic"] is not None:
        out.append(([SchottkyTask(label=label, electronic=cfg["electronic"], settings=cfg["settings"],
                                  study=study_name)], f"schottky {formula} | {anode}"))
    return out


def build_workflow(study: Study, store=None, output: Path | None = None, reuse: dict[str, dict] | None = None):
    """(FireWorks Workflow, Plan) of a study; ``store`` (a ResultsStore) enables dedupe of
    calculations, ``reuse`` (:func:`completed_results`) that of the other Fireworks."""
    from fireworks import Firework, Workflow

    from sseflow.workflows.firetasks import (PhononTask, ReactionTask, RelaxTask, ReportTask, ScreeningTask, StaticTask,
                                     ThermoTask, pair_label)

    plan = plan_study(study, store)
    out_dir = Path(output) if output is not None else study.output_dir()
    ref = reference_dict(study)
    relax, static = study.calculators.relax, study.calculators.static
    energy_calc = study.energy_calculator.name
    fws: list[Firework] = []
    links: dict[int, list[int]] = {}
    fid = itertools.count(-100000)  # negative (reassigned on add), ascending in creation order

    reused: dict[int, dict] = {}

    def fw(tasks, name, spec, parents=()) -> Firework:
        if name.split(" ", 1)[0] in REUSABLE:
            spec = {**spec, INPUTS_KEY: _task_inputs([t.to_dict() for t in tasks])}
        f = Firework(tasks, spec=spec, name=name, fw_id=next(fid))
        fws.append(f)
        for p in parents:
            links.setdefault(p.fw_id, []).append(f.fw_id)
        if reuse and INPUTS_KEY in spec and all(p.fw_id in reused for p in parents):
            hit = reuse.get(_fingerprint(f.to_dict()["spec"]))
            if hit is not None:
                reused[f.fw_id] = hit
        return f

    # ---- calculations
    energy_fw: dict[str, Firework] = {}
    stored_ids: dict[str, str] = {}
    if study.computed:
        rpreset, spreset = relax.preset_dict(), (static.preset_dict() if static else None)
        for p in plan.phases:
            if p.task_id:
                stored_ids[p.label] = p.task_id
                continue
            rfw = None
            if not p.relax_id:
                rfw = fw([RelaxTask(structure=p.structure.as_dict(), label=p.label, calculator=relax.name,
                                    preset=rpreset, pass_as="relax_ids" if static else "task_ids")],
                         f"relax {p.label} ({relax.name})", _spec(study, heavy=True, label=p.label))
            if static:
                sp = _spec(study, heavy=True, label=p.label)
                task = StaticTask(label=p.label, calculator=static.name, preset=spreset,
                                  **({"relax_id": p.relax_id} if p.relax_id else {}))
                energy_fw[p.label] = fw([task], f"static {p.label} ({static.name})", sp,
                                        parents=[rfw] if rfw else [])
            else:
                energy_fw[p.label] = rfw
    searched_fw: list[tuple[frozenset, Firework]] = []   # (elements, Firework) of phases.search
    if study.computed and study.phases.search:
        from sseflow.workflows.firetasks import SearchTask

        all_els = set().union(*(set(cs.split("-")) for cs in plan.systems)) if plan.systems else set()
        for sspec in study.phases.search:
            els = frozenset(_els(sspec.formula))
            label = sspec.label()
            if not els <= all_els:
                plan.notes.append(f"phases.search: {label} lies outside every chemical system of the study, left out")
                continue
            sfw = fw([SearchTask(options=sspec.options(), label=label, calculator=relax.name, preset=relax.preset_dict(),
                                 output=str(out_dir), pass_as="relax_ids" if static else "task_ids")],
                     f"search {label} ({relax.name})", _spec(study, heavy=True, label=label))
            if static:
                sfw = fw([StaticTask(label=label, calculator=static.name, preset=static.preset_dict())],
                         f"static {label} ({static.name})", _spec(study, heavy=True, label=label), parents=[sfw])
            searched_fw.append((els, sfw))
    phonon_fw: dict[str, Firework] = {}
    if study.compute.phonons:
        ph = study.calculators.phonons
        for p in plan.phases:
            phonon_fw[p.label] = fw([PhononTask(structure=p.structure.as_dict(), label=p.label, calculator=ph.name,
                                                preset=ph.preset_dict(), temperatures=list(study.compute.temperatures))],
                                    f"phonons {p.label} ({ph.name})", _spec(study, heavy=True, label=p.label))

    # ---- thermodynamics per chemical system
    thermo: dict[str, Firework] = {}
    for cs in plan.systems:
        els = set(cs.split("-"))
        members = [p for p in plan.phases if p.elements <= els] if study.computed else []
        windows = [e for e, s in plan.window_system.items() if s == cs]
        parents = [energy_fw[p.label] for p in members if p.label in energy_fw]
        parents += [f for e, f in searched_fw if e <= els]
        temps = list(study.compute.temperatures) if windows else []
        if temps:
            parents += [phonon_fw[p.label] for p in plan.phases if p.label in phonon_fw and p.elements <= els]
        task = ThermoTask(chemsys=cs, reference=ref, calculator=energy_calc, windows=windows, temperatures=temps,
                          study=study.name, task_ids={p.label: stored_ids[p.label] for p in members
                                                      if p.label in stored_ids})
        thermo[cs] = fw([task], f"thermodynamics {cs}", _spec(study, chemsys=cs), parents=parents)

    # ---- reactions and screening
    leaves = list(thermo.values())
    for (e, b), cs in plan.pair_system.items():
        leaves.append(fw([ReactionTask(electrolyte=e, partner=b, chemsys=cs, reference=ref,
                                       potentials=list(study.compute.potentials), study=study.name)],
                         f"reaction {e} | {b}", _spec(study), parents=[thermo[cs]]))
    for (e, a), cs in plan.screening_system.items():
        leaves.append(fw([ScreeningTask(electrolyte=e, anode=a, candidates=study.screening_candidates(), chemsys=cs,
                                        reference=ref, study=study.name)],
                         f"screening {e} | {a}", _spec(study), parents=[thermo[cs]]))

    # ---- interface cells (and Schottky barriers) of each electrolyte | anode pair
    if study.compute.interfaces:
        cfg = interface_config(study)
        for spec_e, (_, e) in zip(study.electrolytes, study.electrolyte_formulas()):
            source = (str(spec_e.path()) if spec_e.cif else spec_e.structure_dict if spec_e.structure_dict
                      else (spec_e.library or spec_e.formula))
            for a in study.anodes:
                (tasks, name), *electronic = interface_pair_tasks(source, e, a, cfg, study.name)
                built = fw(tasks, name, _spec(study, heavy=True))
                leaves.append(fw(*electronic[0], _spec(study, heavy=True), parents=[built]) if electronic else built)

    # ---- substitution screening of an electrolyte site (compute.substitution)
    sub = study.compute.substitution
    if sub is not None:
        from sseflow.workflows.firetasks import SubstitutionTask

        for spec_e, (_, e) in zip(study.electrolytes, study.electrolyte_formulas()):
            if sub.site not in _els(e):
                plan.notes.append(f"substitution: {e} has no {sub.site}, left out")
                continue
            host = (str(spec_e.path()) if spec_e.cif else spec_e.structure_dict if spec_e.structure_dict
                    else (spec_e.library or spec_e.formula))
            follow = ({"interfaces": {"n": sub.interfaces, "anodes": list(study.anodes), "config": interface_config(study),
                                      "host": not study.compute.interfaces},
                       "interface_spec": _spec(study, heavy=True)} if sub.interfaces else {})
            partial = ({"fraction": sub.fraction, "orderings": sub.orderings} if sub.fraction < 1 else {})
            filt = ({"exclude_elements": list(sub.exclude_elements), "any_element": sub.any_element}
                    if sub.exclude_elements or sub.any_element else {})
            leaves.append(fw([SubstitutionTask(host=host, site=sub.site, substituents=list(sub.with_),
                                               auto=sub.auto, compensations=list(sub.compensations), reference=ref,
                                               calculator=relax.name, preset=relax.preset_dict(), study=study.name,
                                               **partial, **filt, **follow)],
                             f"substitution {e} {sub.site}", _spec(study, heavy=True)))

    # ---- report
    summary = {**study.summary(), "electrolytes": plan.electrolytes, "partners": plan.partners,
               "systems": plan.systems, "phases": [p.label for p in plan.phases],
               "reused_tasks": sorted(stored_ids), "notes": plan.notes}
    fw([ReportTask(output=str(out_dir), study=summary, reference=ref)], f"report {study.name}",
       _spec(study), parents=leaves)

    if reused:
        plan.reused_fireworks = [f.name for f in fws if f.fw_id in reused]
        fws, links = _apply_reused(fws, links, reused)
    meta = {"study": study.name, "study_file": None if study.source is None else str(study.source),
            "study_hash": study.content_hash, "inputs_hash": inputs_hash(study),
            "output": str(out_dir), "reference": study.reference.source, "calculator": energy_calc}
    wf = Workflow(fws, links_dict=links,
                  name=study.name, metadata=meta)
    return wf, plan
