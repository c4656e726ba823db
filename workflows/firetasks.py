"""FireWorks Firetasks of sseflow studies: thin ``@explicit_serialize`` classes over the stages.

Every Firetask reads its parameters, calls one function of :mod:`sseflow.workflows.stages` with
the store of the Rocket's LaunchPad (FireWorks hands it over through the spec's
``_add_launchpad_and_fw_id``) and returns an ``FWAction`` whose ``mod_spec`` passes *ids* of stored
documents to the children (``task_ids->LABEL``, ``reference_sets->CHEMSYS``, ``window_ids->FORMULA``,
``reaction_ids->PAIR``), never the data itself: structures, entries and results live in the results
store, which is the LaunchPad's own database.

Each Firework ends with a flush of the embedded store, unless the runner driving the worker does
it (:func:`sseflow.workflows.stages.worker.end_of_firework`). docs/architecture.md shows the whole
pipeline.
"""
from __future__ import annotations

from typing import Any

from fireworks import FiretaskBase, FWAction, explicit_serialize

from sseflow.analysis.errors import InputError
from sseflow.workflows import fireworks_ping, fw_names
from sseflow.workflows.stages.calculations import expected_parameters, relax_phase, static_phase
from sseflow.workflows.stages.interface import interface_pair, interface_schottky
from sseflow.workflows.stages.phonons import phonons_of_phase
from sseflow.workflows.stages.reactions import pair_label, react_pair, screen_pair
from sseflow.workflows.stages.report import interface_table, write_report
from sseflow.workflows.stages.thermo import reference_for, thermo_for_system
from sseflow.workflows.stages.worker import end_of_firework, env_chk, task_store

# The one place sseflow patches FireWorks' Rocket (see fireworks_ping and docs/architecture.md): a Rocket
# imports this module when it checks out a Firework of sseflow, before it starts its ping thread.
fireworks_ping.install()
fw_names.register()  # and workflows stored under the old module names still load

__all__ = [
    "RelaxTask", "StaticTask", "ThermoTask", "ReactionTask", "ScreeningTask", "InterfaceTask", "PhononTask",
    "ReportTask", "SchottkyTask", "SubstitutionTask",
    # the stages they call (defined in sseflow.workflows.stages)
    "interface_pair", "interface_schottky", "interface_table", "env_chk", "task_store", "end_of_firework",
    "relax_phase", "static_phase", "thermo_for_system", "react_pair", "screen_pair", "phonons_of_phase",
    "write_report", "reference_for", "expected_parameters", "pair_label",
]


def _set(prefix: str, mapping: dict) -> dict:
    return {"_set": {f"{prefix}->{k}": v for k, v in mapping.items()}}


class _StudyTask(FiretaskBase):
    """Base of the study Firetasks: the store of the Rocket's LaunchPad and the Firework id.

    Each Firework's spec sets ``_add_launchpad_and_fw_id``, so FireWorks gives the task
    ``self.launchpad`` and ``self.fw_id`` (absent when a task is called outside a Rocket).
    """

    def context(self, fw_spec: dict) -> tuple[Any, dict]:
        spec = {**fw_spec, "_sseflow_fw_id": getattr(self, "fw_id", None)}
        return task_store(fw_spec, getattr(self, "launchpad", None)), spec

    def done(self, store, fw_spec: dict) -> None:
        end_of_firework(store, fw_spec)


@explicit_serialize
class RelaxTask(_StudyTask):
    """Relax one phase; children get ``task_ids->LABEL`` (or ``relax_ids->LABEL`` before a static)."""

    required_params = ["structure", "label", "calculator"]
    optional_params = ["preset", "relax_cell", "pass_as"]

    def run_task(self, fw_spec):
        store, spec = self.context(fw_spec)
        key, reused = relax_phase(self["structure"], self["label"], self["calculator"], self.get("preset"), spec,
                                  relax_cell=self.get("relax_cell", True), store=store)
        self.done(store, fw_spec)
        return FWAction(stored_data={"task_id": key, "reused": reused},
                        mod_spec=[_set(self.get("pass_as", "task_ids"), {self["label"]: key})])


@explicit_serialize
class SearchTask(_StudyTask):
    """Structure search of one phase (``phases.search``), then its relaxation; children get
    ``task_ids->LABEL`` (or ``relax_ids->LABEL`` before a static)."""

    required_params = ["options", "label", "calculator"]
    optional_params = ["preset", "output", "pass_as"]

    def run_task(self, fw_spec):
        from sseflow.workflows.stages.search import search_phase

        store, spec = self.context(fw_spec)
        key, prov = search_phase(dict(self["options"]), self["label"], self["calculator"], self.get("preset"), spec,
                                 output=self.get("output"), store=store)
        self.done(store, fw_spec)
        return FWAction(stored_data={"task_id": key, "searched": {k: prov.get(k) for k in (
                            "spacegroup", "z", "trials", "accepted", "distinct", "energy_per_atom_eV",
                            "gap_to_next_distinct_meV")}},
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
        self.done(store, fw_spec)
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
        self.done(store, fw_spec)
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
        self.done(store, fw_spec)
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
        self.done(store, fw_spec)
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
        self.done(store, fw_spec)
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
        self.done(store, fw_spec)
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
        self.done(store, fw_spec)
        return FWAction(stored_data={"phonon_id": key})


@explicit_serialize
class SubstitutionTask(_StudyTask):
    """Substitution screening of one electrolyte site (``compute.substitution``): the candidates
    relaxed and ranked, stored as SubstitutionDocuments; children get ``substitution_ids``."""

    required_params = ["host", "site", "reference", "calculator"]
    optional_params = ["substituents", "auto", "preset", "compensations", "study", "interfaces", "interface_spec",
                       "fraction", "orderings", "exclude_elements", "any_element"]

    def run_task(self, fw_spec):
        from sseflow.workflows.stages.substitution import interface_detour, substitution_for_host

        store, spec = self.context(fw_spec)
        keys, result = substitution_for_host(self["host"], self["site"], self.get("substituents"), self.get("auto"),
                                             self["reference"], self["calculator"], self.get("preset"), spec,
                                             self.get("study"), self.get("compensations"), store=store,
                                             fraction=self.get("fraction", 1.0), orderings=self.get("orderings", 3),
                                             exclude_elements=self.get("exclude_elements"),
                                             any_element=self.get("any_element", False))
        self.done(store, fw_spec)
        detour = (interface_detour(result, self["interfaces"], self.get("study"), self.get("interface_spec") or {})
                  if self.get("interfaces") else None)
        return FWAction(stored_data={"substitutions": keys}, mod_spec=[{"_push_all": {"substitution_ids": keys}}],
                        detours=detour)


@explicit_serialize
class ReportTask(_StudyTask):
    """Tables and figures of a study in its output folder."""

    required_params = ["output", "study", "reference"]

    def run_task(self, fw_spec):
        store, spec = self.context(fw_spec)
        summary = write_report(self["output"], self["study"], spec, self["reference"], store=store)
        self.done(store, fw_spec)
        # the manifest is what ``sseflow report --from-db`` rebuilds the same report from
        return FWAction(stored_data={"output": self["output"], "files": summary["files"],
                                     "manifest": summary["manifest"]})
