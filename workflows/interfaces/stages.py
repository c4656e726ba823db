"""The interface pipeline as stages shared by the CLI and the Firetasks.

build (lattice match, cell, shift/gap scan) -> relax (W_ad, contact) -> electronic static and
bulk reference (GPAW, Quantum ESPRESSO or VASP) -> Schottky barriers (both methods).

Each stage takes and returns plain objects, so ``sseflow interface build``, ``sseflow interface
schottky DIR|TASK_ID`` and the study Fireworks (:mod:`sseflow.workflows.firetasks`) run the same code.
An interface travels between stages as an ASE ``Atoms`` with ``arrays["side"]`` (0 electrolyte,
1 electrode) and ``arrays["layer"]``, plus the repeat distances along the normal (``periods``).
Stored interface documents keep those as site properties of the structure, so the Schottky
stage can start from a document alone.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sseflow.analysis.errors import InputError

ELECTRONIC_BACKENDS = ("gpaw", "qe", "vasp")


# --------------------------------------------------------------------------- build + relax

def find_and_build(electrolyte, electrode, settings: dict, calculator=None, *, pick: int = 1,
                   pick_label: str = "candidate", progress=None):
    """Ranked lattice matches and the ``pick``-th built (``settings``: the study's ``interface``
    block / the CLI options: max_strain, max_area, max_atoms, max_index, electrolyte_miller,
    electrode_miller, electrolyte_thickness, electrode_thickness, strain_on, gap, stacking,
    vacuum, fixed_layers, scan, and scan_gaps: the gaps of the scan, Å). ``electrolyte``/``electrode``: a structure file, a library name,
    a pymatgen Structure (or its ``as_dict()``, as a study Firework receives it) or an ASE Atoms.
    Returns ``(candidates, built)``."""
    from sseflow.workflows.interfaces.build import build_interface
    from sseflow.workflows.interfaces.matching import find_candidates

    electrolyte, electrode = _bulk(electrolyte), _bulk(electrode)
    st = dict(settings)
    cands = find_candidates(
        electrolyte, electrode, max_strain=st["max_strain"], max_area=st["max_area"], max_atoms=st["max_atoms"],
        max_index=st.get("max_index", 1),
        electrolyte_millers=[tuple(m) for m in st.get("electrolyte_miller") or []] or None,
        electrode_millers=[tuple(m) for m in st.get("electrode_miller") or []] or None,
        electrolyte_thickness=st.get("electrolyte_thickness", 9.0),
        electrode_thickness=st.get("electrode_thickness", 8.0), strain_on=st.get("strain_on", "electrode"),
        progress=progress)
    if not cands:
        raise InputError(f"no {_named(electrolyte)} | {_named(electrode)} lattice match within "
                         f"{100 * st['max_strain']:g}% strain, {st['max_area']:g} Å2 and {st['max_atoms']} atoms: "
                         f"raise max_strain/max_area/max_atoms")
    if not 1 <= pick <= len(cands):
        raise InputError(f"{pick_label} {pick}: there are {len(cands)} candidates")
    scan = bool(st.get("scan", True)) and calculator is not None
    built = build_interface(cands[pick - 1], gap=st.get("gap", 2.0), stacking=st.get("stacking", "vacuum"),
                            vacuum=st.get("vacuum", 12.0), fixed_layers=st.get("fixed_layers", 2), scan=scan,
                            calculator=calculator if scan else None, progress=progress,
                            **({"scan_gaps": tuple(st["scan_gaps"])} if st.get("scan_gaps") else {}))
    return cands, built


def _bulk(x):
    """A structure dict decoded; anything else as given."""
    if isinstance(x, dict):
        from pymatgen.core import Structure

        return Structure.from_dict(x)
    return x


def _named(x) -> str:
    if hasattr(x, "composition"):
        return x.composition.reduced_formula
    return x.get_chemical_formula() if hasattr(x, "get_chemical_formula") else str(x)


def periods_of(built) -> dict:
    return {"electrolyte": float(built.electrolyte_period), "electrode": float(built.electrode_period)}


def tagged_structure(atoms) -> Any:
    """pymatgen Structure of an interface with ``side``/``layer`` site properties."""
    from pymatgen.io.ase import AseAtomsAdaptor

    a = atoms.copy()
    a.set_constraint()
    for k in list(a.arrays):
        if k not in ("numbers", "positions"):
            del a.arrays[k]
    a.info = {}
    s = AseAtomsAdaptor.get_structure(a)
    side = np.asarray(atoms.arrays.get("side", np.zeros(len(atoms), int)))
    s.add_site_property("side", ["electrolyte" if x == 0 else "electrode" for x in side])
    if "layer" in atoms.arrays:
        s.add_site_property("layer", [int(x) for x in atoms.arrays["layer"]])
    return s


def atoms_from_tagged(structure) -> Any:
    """ASE Atoms with ``arrays["side"]`` (and ``layer``) from :func:`tagged_structure`'s output
    (a Structure or its ``as_dict()``)."""
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    s = Structure.from_dict(structure) if isinstance(structure, dict) else structure
    props = s.site_properties
    if "side" not in props:
        raise InputError("the stored interface structure has no 'side' tags (built by an older sseflow?): "
                         "rebuild it with 'sseflow interface build'")
    bare = s.copy()
    for k in list(bare.site_properties):
        bare.remove_site_property(k)
    a = AseAtomsAdaptor.get_atoms(bare)
    a.arrays["side"] = np.array([0 if x == "electrolyte" else 1 for x in props["side"]], dtype=int)
    if "layer" in props:
        a.arrays["layer"] = np.array(props["layer"], dtype=int)
    return a


def interface_document(summary: dict, built, relaxation=None, *, study: str | None = None):
    """The :class:`~sseflow.workflows.store.documents.InterfaceDocument` of a built (and relaxed) cell."""
    from sseflow.workflows.store.documents import InterfaceDocument

    c = built.candidate
    term = f"{c.electrolyte_termination.label} | {c.electrode_termination.label}"
    atoms = relaxation.atoms if relaxation is not None else built.atoms
    params = {"stacking": built.stacking, "gap": round(built.gap, 4),
              "offset": [round(x, 4) for x in built.in_plane_offset], "matching": c.settings,
              "periods_A": {k: round(v, 4) for k, v in periods_of(built).items()},
              "relaxed": relaxation is not None}
    if relaxation is not None:
        params["relax"] = {k: relaxation.parameters.get(k) for k in ("model", "fmax", "steps", "optimizer")}
    extra = {"study": study} if study else {}
    if relaxation is not None:
        extra["structure_built"] = tagged_structure(built.atoms).as_dict()
    return InterfaceDocument(
        electrolyte=c.electrolyte, anode=c.electrode, electrolyte_miller=list(c.electrolyte_miller),
        anode_miller=list(c.electrode_miller), termination=term,
        calculator=relaxation.calculator if relaxation is not None else None, parameters=params,
        structure=tagged_structure(atoms).as_dict(), area_A2=built.area, strain_percent=100 * c.von_mises,
        work_of_adhesion_J_m2=relaxation.work_of_adhesion if relaxation is not None else None,
        interface=summary.get("interface"), relaxation=summary.get("relaxation"), **extra)


def store_interface(store, summary: dict, built, relaxation=None, *, study: str | None = None) -> str:
    """Store the interface document; returns its key."""
    doc = interface_document(summary, built, relaxation, study=study)
    store.put(doc)
    return doc.key


# --------------------------------------------------------------------------- electronic + Schottky

@dataclass
class SchottkyRun:
    """What the electronic stage produced."""

    electronic: Any                  # ElectronicStructure
    bulk: dict | None
    report: dict
    parameters: dict = field(default_factory=dict)


def _backend_name(calculator) -> str:
    return str(calculator if isinstance(calculator, str) else getattr(calculator, "name", "")).lower()


def electronic_stage(atoms, electrolyte, calculator="gpaw", *, periods: dict | None = None, kpts=None,
                     bulk_kpts=None, directory=None, bulk=None, threshold: float = 0.05, tol: float = 0.1,
                     progress=None, **overrides) -> SchottkyRun:
    """Electronic static of the interface and of the bulk electrolyte, then both barriers.

    ``calculator``: ``gpaw`` (runs here), ``qe`` (pw.x, projwfc.x, pp.x) or ``vasp`` (the
    configured command; LORBIT=11, LVHAR). ``electrolyte``: name/path/Structure of the bulk
    reference (primitive cell); ``bulk``: a bulk-reference dict already computed (skips it).
    ``overrides`` go to the backend preset (``ecut`` ...). ``progress``: stage display (see
    :mod:`sseflow.workflows.interfaces.progress`), one stage per static.
    """
    from sseflow.workflows.interfaces.matching import load_structure
    from sseflow.workflows.interfaces.electronic import electronic_backend, schottky_from_electronic

    name = _backend_name(calculator)
    if name not in ELECTRONIC_BACKENDS:
        electronic_backend(calculator)  # the clear error for tight binding
        raise InputError(f"electronic backend '{name}' is not supported for Schottky barriers "
                         f"(choose {', '.join(ELECTRONIC_BACKENDS)})")
    backend = electronic_backend(calculator, **overrides)
    d = Path(directory) if directory else None
    sub = (lambda s: str(d / s)) if d else (lambda s: None)
    if d:
        d.mkdir(parents=True, exist_ok=True)
    bulk_struct = None if bulk is not None else load_structure(electrolyte).get_primitive_structure()
    def stage(what: str) -> None:
        if progress is not None:
            progress.stage(f"electronic static ({name}): {what}")

    if name == "gpaw":
        from sseflow.workflows.interfaces.electronic import bulk_reference, electronic_structure

        stage("interface")
        es = electronic_structure(atoms, backend, periods=periods, kpts=kpts,
                                  txt=sub("interface_gpaw.txt"))
        if bulk is None:
            stage("bulk electrolyte")
            bulk = bulk_reference(bulk_struct, backend, kpts=bulk_kpts, txt=sub("bulk_gpaw.txt"))
        source = "layers"
    else:  # qe, vasp: electronic_<name>.<name>_electronic_structure / <name>_bulk_reference
        import importlib

        mod = importlib.import_module(f"sseflow.workflows.interfaces.electronic_{name}")
        if d is None:
            raise InputError(f"the {name} electronic stage needs a directory for its files")
        stage("interface")
        es = getattr(mod, f"{name}_electronic_structure")(atoms, backend, periods=periods, kpts=kpts,
                                                           directory=d / "interface")
        if bulk is None:
            stage("bulk electrolyte")
            bulk = getattr(mod, f"{name}_bulk_reference")(bulk_struct, backend, kpts=bulk_kpts, directory=d / "bulk")
        source = "atoms"
    rep = schottky_from_electronic(es, bulk, threshold=threshold, tol=tol, source=source)
    params = {"backend": name, **{k: v for k, v in overrides.items() if v is not None},
              "kpts": list(kpts) if kpts else None, "bulk_kpts": list(bulk_kpts) if bulk_kpts else None,
              "dos_source": source}
    return SchottkyRun(electronic=es, bulk=bulk, report=rep, parameters=params)


def reanalyse(es, bulk: dict | None, *, threshold: float = 0.05, tol: float = 0.1) -> dict:
    """Barriers again from a saved electronic structure (no new calculation)."""
    from sseflow.workflows.interfaces.electronic import schottky_from_electronic

    source = "layers" if es.layer_dos is not None else "atoms"
    return schottky_from_electronic(es, bulk, threshold=threshold, tol=tol, source=source)


def schottky_documents(rep: dict, *, electrolyte: str, electrode: str, calculator: str, parameters: dict,
                       interface_key: str | None = None, study: str | None = None) -> list:
    """One :class:`~sseflow.workflows.store.documents.SchottkyDocument` per barrier method."""
    from sseflow.workflows.store.documents import SchottkyDocument

    docs = []
    for method, key in (("layer-resolved DOS", "layer_dos"), ("potential line-up", "potential_lineup")):
        r = rep.get(key)
        if not r:
            continue
        extra = {"study": study} if study else {}
        docs.append(SchottkyDocument(
            electrolyte=electrolyte, anode=electrode, method=method, calculator=calculator,
            parameters={**parameters, "interface_key": interface_key},
            band_gap_eV=r.get("gap"), barrier_n_eV=r.get("barrier_n"), barrier_p_eV=r.get("barrier_p"),
            fermi_level_eV=r.get("fermi_level"), vbm_eV=r.get("vbm"), cbm_eV=r.get("cbm"),
            difference_p_eV=rep.get("difference_p"), difference_n_eV=rep.get("difference_n"),
            warnings=rep.get("warnings"), details=r, **extra))
    return docs


def run_kind(run_dir) -> str:
    """``vasp`` or ``qe`` from the files of a finished run folder (InputError otherwise)."""
    d = Path(run_dir)
    if not d.is_dir():
        raise InputError(f"{d}: not a folder")
    if any(d.glob("vasprun.xml*")):
        return "vasp"
    if any(d.glob("*.save/data-file-schema.xml")) or (d / "espresso.pwo").is_file():
        return "qe"
    raise InputError(f"{d}: no vasprun.xml (VASP) or *.save/data-file-schema.xml (Quantum ESPRESSO) here")


def read_run(run_dir, atoms, periods: dict | None = None):
    """The :class:`~sseflow.workflows.interfaces.electronic.ElectronicStructure` of a finished VASP or QE static
    of this interface (run elsewhere, e.g. from the inputs sseflow wrote); ``atoms`` give the sides."""
    kind = run_kind(run_dir)
    if kind == "vasp":
        from sseflow.workflows.interfaces.electronic_vasp import read_vasp_electronic

        return read_vasp_electronic(run_dir, atoms, periods=periods)
    from sseflow.workflows.interfaces.electronic_qe import read_qe_electronic

    return read_qe_electronic(run_dir, atoms, periods=periods)


def read_bulk(path) -> dict:
    """A bulk reference: a ``bulk_reference.json`` file, or a finished VASP bulk static folder."""
    p = Path(path)
    if p.is_file():
        try:
            bulk = json.loads(p.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}: not valid JSON ({exc.msg})") from None
        missing = [k for k in ("vbm", "cbm", "gap", "mean_potential") if k not in bulk]
        if missing:
            raise InputError(f"{p}: not a bulk reference (missing {', '.join(missing)})")
        return bulk
    if run_kind(p) != "vasp":
        raise InputError(f"{p}: give a bulk_reference.json or a VASP bulk folder (QE bulk runs: sseflow runs them)")
    from sseflow.workflows.interfaces.electronic_vasp import read_vasp_bulk

    return read_vasp_bulk(p)


# --------------------------------------------------------------------------- where an interface comes from

@dataclass
class InterfaceSource:
    """An interface to run the electronic stage on: from a build directory or a stored document."""

    atoms: Any
    electrolyte: str
    electrode: str
    periods: dict
    label: str
    interface_key: str | None = None
    directory: Path | None = None
    miller: dict = field(default_factory=dict)
    cell: str = "relaxed"             # which cell: relaxed | built
    notes: list = field(default_factory=list)


CELLS = ("auto", "relaxed", "built")


def choose_cell(cell: str, relaxation: dict | None, has_relaxed: bool) -> tuple[str, list[str]]:
    """``relaxed`` or ``built`` for the electronic stage, and why.

    ``auto``: the relaxed cell unless the relaxation polarised the electrolyte (the warning of
    :func:`~sseflow.workflows.interfaces.relax.layer_polarisation`), then the built one.
    """
    if cell not in CELLS:
        raise InputError(f"cell must be one of {', '.join(CELLS)}, not '{cell}'")
    if cell == "built" or not has_relaxed:
        return "built", []
    if cell == "relaxed":
        return "relaxed", []
    pol = ((relaxation or {}).get("contact") or {}).get("polarisation") or {}
    if pol.get("warning"):
        return "built", [f"using the built cell: the relaxation polarised the electrolyte "
                         f"({pol.get('max_excursion_V')} V point-ion estimate); --cell relaxed to override"]
    return "relaxed", []


def from_directory(path, cell: str = "auto") -> InterfaceSource:
    """An ``sseflow interface build -o DIR`` folder: the relaxed cell if there, else the built one
    (``cell``: :func:`choose_cell`)."""
    from ase.io import read

    d = Path(path)
    summary_file = d / "summary.json"
    if not summary_file.is_file():
        raise InputError(f"{d}: no summary.json (not an 'sseflow interface build -o' folder)")
    try:
        summary = json.loads(summary_file.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{summary_file}: not valid JSON ({exc.msg})") from None
    which, notes = choose_cell(cell, summary.get("relaxation"), (d / "interface_relaxed.extxyz").is_file())
    name = f"interface_{which}.extxyz"
    if not (d / name).is_file():
        raise InputError(f"{d}: no {name}" + ("" if which == "built" else " (or interface_built.extxyz)"))
    atoms = read(str(d / name))
    if "side" not in atoms.arrays:
        raise InputError(f"{d / name}: no 'side' column (atoms of each side unknown)")
    s = summary.get("interface", {})
    periods = {"electrolyte": float(s.get("electrolyte_period_A") or 2.0),
               "electrode": float(s.get("electrode_period_A") or 2.0)}
    return InterfaceSource(atoms=atoms, electrolyte=summary.get("electrolyte") or s.get("electrolyte"),
                           electrode=summary.get("electrode") or s.get("electrode"), periods=periods,
                           label=s.get("label", d.name), interface_key=summary.get("interface_key"), directory=d,
                           miller={"electrolyte_miller": s.get("electrolyte_miller"),
                                   "electrode_miller": s.get("electrode_miller")}, cell=which, notes=notes)


def from_document(store, key: str, cell: str = "auto") -> InterfaceSource:
    """A stored interface document, by its key (or a unique prefix of it)."""
    docs = [d for d in store.find("interface", {}) if str(d.get("key", "")).startswith(key)
            or str(d.get("_id", "")) == key]
    if not docs:
        raise InputError(f"no interface document with key '{key}' in the store "
                         "(sseflow query interfaces lists them; or give an 'interface build -o' folder)")
    if len({d["key"] for d in docs}) > 1:
        raise InputError(f"interface key prefix '{key}' is ambiguous ({len(docs)} documents): give more characters")
    doc = max(docs, key=lambda d: (d.get("created_at", ""), str(d.get("_id"))))
    if not doc.get("structure"):
        raise InputError(f"interface document {key} has no structure")
    which, notes = choose_cell(cell, doc.get("relaxation"), bool((doc.get("parameters") or {}).get("relaxed")))
    atoms = atoms_from_tagged(doc["structure_built"] if which == "built" and doc.get("structure_built")
                              else doc["structure"])
    p = (doc.get("parameters") or {}).get("periods_A") or {}
    s = doc.get("interface") or {}
    periods = {"electrolyte": float(p.get("electrolyte") or s.get("electrolyte_period_A") or 2.0),
               "electrode": float(p.get("electrode") or s.get("electrode_period_A") or 2.0)}
    return InterfaceSource(atoms=atoms, electrolyte=doc["electrolyte"], electrode=doc["anode"], periods=periods,
                           label=s.get("label") or f"{doc['electrolyte']} | {doc['anode']}",
                           interface_key=doc["key"],
                           miller={"electrolyte_miller": doc.get("electrolyte_miller"),
                                   "electrode_miller": doc.get("anode_miller")}, cell=which, notes=notes)


__all__ = ["find_and_build", "periods_of", "tagged_structure", "atoms_from_tagged", "interface_document",
           "store_interface", "electronic_stage", "reanalyse", "read_run", "read_bulk", "run_kind", "schottky_documents", "from_directory",
           "from_document", "choose_cell", "InterfaceSource", "SchottkyRun", "ELECTRONIC_BACKENDS"]
