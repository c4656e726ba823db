"""Interface cells and their Schottky barriers, from the steps of
:mod:`sseflow.workflows.interfaces.stages` (which ``sseflow interface`` runs too)."""
from __future__ import annotations

from typing import Any

from sseflow.workflows.stages.worker import resolve_preset, task_store, work_dir


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
