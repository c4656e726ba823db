"""The pymatgen route, for validation tests and benchmarks.

Builds a pymatgen ``PhaseDiagram`` from the same entries and derives the window and
the interfacial reaction minimum the way pymatgen users do, so sseflow's exact LP
results can be compared with the established implementation.
"""
from __future__ import annotations

from typing import Sequence

from sseflow.analysis.entries import Entry


def pmg_entries(entries: Sequence[Entry]):
    from pymatgen.analysis.phase_diagram import PDEntry
    from pymatgen.core import Composition

    return [PDEntry(Composition(e.composition), e.energy_per_atom * e.natoms, name=e.name)
            for e in entries]


def pymatgen_window(formula: str, entries: Sequence[Entry], pd=None) -> tuple[float, float | None, object]:
    """(V_red, V_ox, PhaseDiagram) from ``get_element_profile`` on formation-energy entries."""
    from pymatgen.analysis.phase_diagram import PhaseDiagram
    from pymatgen.core import Composition, Element

    if pd is None:
        pd = PhaseDiagram(pmg_entries(entries))
    comp = Composition(formula)
    prof = pd.get_element_profile(Element("Li"), comp)
    li_ref = pd.el_refs[Element("Li")].energy_per_atom
    mus = [p["chempot"] - li_ref for p in prof]
    evo = [p["evolution"] for p in prof]
    tol = 1e-6
    if evo and evo[0] < -tol:  # Li-richer than full lithiation: gives Li away at any potential
        v = max(0.0, -mus[0])
        return v, v, pd
    for i, ev in enumerate(evo):
        if abs(ev) < tol:
            v_red = max(0.0, -mus[i])
            v_ox = -mus[i + 1] if i + 1 < len(mus) else None
            return v_red, v_ox, pd
    for i in range(len(evo) - 1):
        if evo[i] > tol and evo[i + 1] < -tol:
            v = -mus[i + 1]
            return v, v, pd
    raise RuntimeError(f"could not read a window for {formula} from pymatgen's profile")
