"""Relax an interface cell: its work of adhesion and the chemistry at the contact.

* :func:`relax_interface`: the interface relaxed with the relaxation backend (CHGNet by
  default; the FixAtoms constraint of the built cell is kept, the cell is not relaxed), both
  isolated slabs in the same cell relaxed the same way, and
  ``W_ad = (E_slab_A + E_slab_B - E_interface) / (n_interfaces * area)`` in J/m^2 (relaxed
  and rigid), plus :func:`contact_analysis` of what happened at the contact.

The electronic structure of a relaxed cell (Schottky barriers) is in
:mod:`sseflow.workflows.interfaces.electronic`.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sseflow.analysis.errors import InputError
from sseflow.workflows.calculators.registry import DEFAULT as DEFAULT_CALCULATOR
from sseflow.workflows.interfaces.build import EV_PER_A2_TO_J_PER_M2, BuiltInterface, min_distance_ratio
from sseflow.workflows.interfaces.matching import polyhedral_bonds

SIDE_NAMES = {0: "electrolyte", 1: "electrode"}


def calculator_backend(calculator, **overrides):
    """A calculator backend from a name (the default calculator when None) or the backend itself."""
    if calculator is None:
        calculator = DEFAULT_CALCULATOR
    if isinstance(calculator, str):
        from sseflow.workflows.calculators import get_calculator

        return get_calculator(calculator, **overrides)
    return calculator


# --------------------------------------------------------------------------- contact chemistry

def _pairs(atoms, scale: float):
    """(i, j, d) for pairs closer than ``scale`` x the sum of covalent radii (minimum image)."""
    from ase.data import covalent_radii
    from ase.neighborlist import neighbor_list

    cut = [scale * covalent_radii[z] for z in atoms.numbers]
    i, j, d = neighbor_list("ijd", atoms, cut, self_interaction=False)
    keep = i < j
    return i[keep], j[keep], d[keep]


def contact_analysis(before, after, *, bond_scale: float = 1.15) -> dict:
    """What the relaxation did at the contact.

    Counts, before and after: bonds across the interface by element pair (an atom of each
    side closer than ``bond_scale`` x the sum of covalent radii), the electrolyte's
    former-anion bonds (P-S of PS4 ...) and how many broke, new electrode-former contacts
    (Li-P, Si-P ...), electrode-anion contacts (Li-S, Si-S), atoms that crossed to the other
    side of the contact plane, and the largest displacements. ``notes`` says in words which
    reactions these point to.
    """
    side = np.asarray(before.arrays["side"])
    syms = np.array(before.get_chemical_symbols())
    out: dict[str, Any] = {"bond_scale": bond_scale}

    def cross_counts(atoms):
        i, j, _ = _pairs(atoms, bond_scale)
        cnt: dict[str, int] = {}
        for a, b in zip(i, j):
            if side[a] == side[b]:
                continue
            e, d = (a, b) if side[a] == 0 else (b, a)
            key = f"{syms[e]}(electrolyte)-{syms[d]}(electrode)"
            cnt[key] = cnt.get(key, 0) + 1
        return dict(sorted(cnt.items()))

    out["cross_bonds_before"] = cross_counts(before)
    out["cross_bonds_after"] = cross_counts(after)

    # former-anion bonds inside the electrolyte
    from pymatgen.core import Composition

    el_formula = "".join(syms[side == 0])
    bonds = polyhedral_bonds(Composition(el_formula)) if el_formula else {}

    def former_bonds(atoms):
        if not bonds:
            return 0, set()
        pos = atoms
        i, j, d = _pairs(pos, 1.6)
        s = set()
        for a, b, dd in zip(i, j, d):
            if side[a] != 0 or side[b] != 0:
                continue
            cut = bonds.get((syms[a], syms[b])) or bonds.get((syms[b], syms[a]))
            if cut and dd <= cut:
                s.add((int(min(a, b)), int(max(a, b))))
        return len(s), s

    nb, sb = former_bonds(before)
    na, sa = former_bonds(after)
    out["former_anion_bonds_before"] = nb
    out["former_anion_bonds_after"] = na
    out["former_anion_bonds_broken"] = len(sb - sa)
    out["former_anion_bond_types"] = sorted(f"{a}-{b}" for a, b in bonds)

    # contacts of electrode atoms with formers / anions of the electrolyte (any distance rule)
    def contacts(atoms, scale):
        i, j, _ = _pairs(atoms, scale)
        cnt: dict[str, int] = {}
        for a, b in zip(i, j):
            if side[a] == side[b]:
                continue
            pair = sorted([f"{syms[a]}{'*' if side[a] == 1 else ''}", f"{syms[b]}{'*' if side[b] == 1 else ''}"])
            key = "-".join(pair)
            cnt[key] = cnt.get(key, 0) + 1
        return cnt

    c_before = contacts(before, bond_scale)
    c_after = contacts(after, bond_scale)
    formers = {a for a, _ in bonds}
    anions = {b for _, b in bonds}
    changes = {}
    for key in sorted(set(c_before) | set(c_after)):
        if "*" not in key:
            continue
        d = c_after.get(key, 0) - c_before.get(key, 0)
        if d:
            changes[key] = d
    out["electrode_contact_changes"] = changes  # across the contact; '*' marks electrode atoms

    # crossing of the contact plane and displacements
    z0 = before.get_positions()[:, 2]
    z1 = after.get_positions()[:, 2]
    disp = np.linalg.norm(after.get_positions() - before.get_positions(), axis=1)
    e_top = z0[side == 0].max()
    d_bot = z0[side == 1].min()
    plane = 0.5 * (e_top + d_bot)
    periodic_like = (z0[side == 1].max() - z0[side == 0].min()) > 0.9 * before.cell[2, 2]
    crossed_down = int(((side == 1) & (z1 < plane - 0.5)).sum()) if not periodic_like else None
    crossed_up = int(((side == 0) & (z1 > plane + 0.5)).sum()) if not periodic_like else None
    out["electrode_atoms_below_contact_plane"] = crossed_down
    out["electrolyte_atoms_above_contact_plane"] = crossed_up
    out["max_displacement_A"] = {SIDE_NAMES[k]: float(disp[side == k].max()) for k in (0, 1) if (side == k).any()}
    out["mean_displacement_A"] = {SIDE_NAMES[k]: float(disp[side == k].mean()) for k in (0, 1) if (side == k).any()}
    out["min_distance_ratio_after"] = float(min_distance_ratio(after))

    notes = []
    ed_syms = sorted(set(syms[side == 1]))
    if out["former_anion_bonds_broken"]:
        notes.append(f"{out['former_anion_bonds_broken']} of {nb} electrolyte "
                     f"{'/'.join(out['former_anion_bond_types'])} bonds broke")
    for key, d in changes.items():
        a, b = key.split("-")
        ea, eb = a.rstrip("*"), b.rstrip("*")
        other = eb if a.endswith("*") else ea
        if d > 0 and other in formers:
            notes.append(f"{d} new electrode-{other} contacts ({key.replace('*', '')}): reduction of the "
                         f"{other}-centred polyanion")
        elif d > 0 and other in anions:
            notes.append(f"{d} new electrode-{other} contacts ({key.replace('*', '')})")
    if crossed_down:
        notes.append(f"{crossed_down} electrode atoms moved into the electrolyte side")
    if not notes:
        notes.append("no bond breaking or new electrode-former bonds: the contact stays abrupt at this level")
    out["electrode_elements"] = ed_syms
    out["notes"] = notes
    return out


E_OVER_EPS0 = 180.9512801  # e / epsilon_0 in V·Å (potential step of a dipole sheet of 1 e·Å per Å^2)


def layer_polarisation(before, after, *, warn_volts: float = 1.0) -> dict | None:
    """Ionic dipoles the relaxation put into the electrolyte, layer by layer.

    Each electrolyte layer (``arrays["layer"]``) gets the dipole change along the normal,
    sum_j q_j (dz_j - <dz>_layer), with nominal oxidation states q_j of the electrolyte's
    composition (pymatgen's guess); the running sum across the layers, times e/(eps0 A), is
    the unscreened point-ion potential the rumpling builds up (``max_excursion_V``). A local
    potential (CHGNet, any short-ranged model) does not feel the depolarising field of such
    a rumpling, so it can relax into polarised slabs that DFT would never accept; a large
    excursion means the relaxed cell is not fit for band alignment. None when the layers or
    oxidation states are unknown.
    """
    side = np.asarray(before.arrays.get("side", []))
    layer = np.asarray(before.arrays.get("layer", []))
    if not len(side) or not len(layer) or not (side == 0).any():
        return None
    from pymatgen.core import Composition

    syms = np.array(before.get_chemical_symbols())
    el = side == 0
    try:
        guesses = Composition("".join(syms[el])).oxi_state_guesses(max_sites=-1)
    except Exception:  # noqa: BLE001 - odd compositions: no estimate
        guesses = ()
    if not guesses:
        return None
    q = np.array([guesses[0].get(x, 0.0) for x in syms], dtype=float)
    dz = after.get_positions()[:, 2] - before.get_positions()[:, 2]
    z0 = before.get_positions()[:, 2]
    rows = []
    for lay in sorted(set(layer[el].tolist()), key=lambda k: z0[el & (layer == k)].mean()):
        m = el & (layer == lay)
        d = float((q[m] * (dz[m] - dz[m].mean())).sum())
        rows.append((int(lay), float(z0[m].mean()), d))
    area = float(np.linalg.norm(np.cross(before.cell[0], before.cell[1])))
    dip = np.array([r[2] for r in rows])
    run = np.cumsum(dip)
    exc = E_OVER_EPS0 * float(np.abs(run).max()) / area if len(run) else 0.0
    out = {"layer_dipoles_eA": [round(x, 4) for x in dip.tolist()],
           "layer_heights_A": [round(r[1], 3) for r in rows],
           "oxidation_states": {k: v for k, v in guesses[0].items()},
           "max_excursion_V": round(exc, 3), "net_dipole_eA": round(float(dip.sum()), 4), "warn_volts": warn_volts}
    if exc > warn_volts:
        out["warning"] = (f"the relaxation polarised the electrolyte: layer dipoles add up to a {exc:.1f} V unscreened "
                          "point-ion potential; a potential without long-range electrostatics (CHGNet) does not feel "
                          "the depolarising field, so use the built cell for the Schottky stage "
                          "('interface schottky --cell built') or relax with DFT")
    return out


# --------------------------------------------------------------------------- relaxation

@dataclass
class InterfaceRelaxation:
    built: BuiltInterface
    atoms: Any                        # relaxed interface
    energy: float
    energies_slabs: dict              # side -> relaxed isolated-slab energy (eV)
    energy_unrelaxed: float
    energies_slabs_unrelaxed: dict
    work_of_adhesion: float           # J/m^2, relaxed
    work_of_adhesion_rigid: float     # J/m^2, unrelaxed cell and slabs
    converged: bool
    n_steps: int
    calculator: str
    parameters: dict
    contact: dict
    wall_time_s: float
    slab_converged: dict = field(default_factory=dict)
    task_documents: list = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "calculator": self.calculator, "energy_eV": self.energy, "energy_unrelaxed_eV": self.energy_unrelaxed,
            "slab_energies_eV": self.energies_slabs, "slab_energies_unrelaxed_eV": self.energies_slabs_unrelaxed,
            "work_of_adhesion_J_m2": self.work_of_adhesion, "work_of_adhesion_rigid_J_m2": self.work_of_adhesion_rigid,
            "n_interfaces": self.built.n_interfaces, "area_A2": self.built.area, "converged": self.converged,
            "n_steps": self.n_steps, "slab_converged": self.slab_converged, "contact": self.contact,
            "wall_time_s": round(self.wall_time_s, 2), "parameters": _jsonable(self.parameters),
        }


def work_of_adhesion(e_a: float, e_b: float, e_ab: float, area: float, n_interfaces: int = 1) -> float:
    """W_ad = (E_A + E_B - E_AB) / (n_interfaces * area), eV and Å^2 in, J/m^2 out."""
    if area <= 0:
        raise InputError("area must be positive")
    return float((e_a + e_b - e_ab) / (n_interfaces * area) * EV_PER_A2_TO_J_PER_M2)


def relax_interface(built: BuiltInterface, calculator=DEFAULT_CALCULATOR, *, fmax: float = 0.05, steps: int = 300,
                    relax_slabs: bool = True, rattle: float = 0.03, seed: int = 7,
                    trajectory: str | os.PathLike | None = None, progress=None, **overrides) -> InterfaceRelaxation:
    """Relax ``built`` (positions; fixed atoms and the cell kept) and compute W_ad.

    ``calculator``: backend name or Backend (``sseflow.workflows.calculators``). The isolated slabs are
    the two sides alone in the same cell (periodic stacking: with vacuum added), relaxed the
    same way when ``relax_slabs``. Free atoms of all three start displaced at random by
    ``rattle`` Å (seeded): an ideal, symmetric surface is a stationary point, and an optimizer
    started exactly there never leaves it (a Si(111) slab with three dangling bonds per atom
    stays unreconstructed alone while it reconstructs in the interface: W_ad 2.95 J/m^2 without
    the rattle, 0.07 J/m^2 with it). Raises InputError when a calculation fails. ``progress``: an
    object with ``stage(name, total)`` and ``advance()``, told of each relaxation (interface, slabs).
    """
    t0 = time.perf_counter()
    def stepper(what: str):
        """Per-step progress of one relaxation: a stage of up to ``steps`` optimizer steps."""
        if progress is None:
            return None
        progress.stage(f"relaxation: {what} (up to {steps} steps)", steps)
        done = [0]

        def on_step(n: int) -> None:
            if n > done[0]:
                progress.advance(n - done[0])
                done[0] = n
        return on_step

    backend = calculator_backend(calculator, **overrides)
    start = built.atoms.copy()
    calc = backend.ase_calculator()
    a0 = start.copy()
    a0.calc = calc
    e_rigid = float(a0.get_potential_energy())
    if rattle:
        start.rattle(stdev=float(rattle), seed=int(seed))  # FixAtoms keeps the fixed atoms in place
    res = backend.relax(start, fmax=fmax, steps=steps, relax_cell=False, trajectory=trajectory,
                        on_step=stepper("interface"))
    if res.status != "completed":
        raise InputError(f"interface relaxation failed: {res.error}")
    relaxed = res.atoms
    for k in ("side", "layer"):
        if k not in relaxed.arrays:
            relaxed.arrays[k] = start.arrays[k]
    e_sl, e_sl_rigid, conv = {}, {}, {}
    docs = [res.task_document()]
    for side in ("electrolyte", "electrode"):
        sub = built.side_atoms(side)
        s0 = sub.copy()
        s0.calc = calc
        e_sl_rigid[side] = float(s0.get_potential_energy())
        if relax_slabs:
            if rattle:
                sub.rattle(stdev=float(rattle), seed=int(seed) + 1 + (side == "electrode"))
            r = backend.relax(sub, fmax=fmax, steps=steps, relax_cell=False, on_step=stepper(f"{side} slab"))
            if r.status != "completed":
                raise InputError(f"{side} slab relaxation failed: {r.error}")
            e_sl[side] = float(r.energy)
            conv[side] = bool(r.converged)
            docs.append(r.task_document())
        else:
            e_sl[side] = e_sl_rigid[side]
            conv[side] = True
    n = built.n_interfaces
    w = work_of_adhesion(e_sl["electrolyte"], e_sl["electrode"], res.energy, built.area, n)
    w0 = work_of_adhesion(e_sl_rigid["electrolyte"], e_sl_rigid["electrode"], e_rigid, built.area, n)
    contact = contact_analysis(built.atoms, relaxed)
    pol = layer_polarisation(built.atoms, relaxed)
    if pol is not None:
        contact["polarisation"] = pol
        if pol.get("warning"):
            contact["notes"].append(pol["warning"])
    return InterfaceRelaxation(
        built=built, atoms=relaxed, energy=float(res.energy), energies_slabs=e_sl, energy_unrelaxed=e_rigid,
        energies_slabs_unrelaxed=e_sl_rigid, work_of_adhesion=w, work_of_adhesion_rigid=w0,
        converged=bool(res.converged), n_steps=int(res.n_steps), calculator=backend.name,
        parameters=dict(backend.parameters, fmax=fmax, steps=steps, rattle=rattle, seed=seed), contact=contact,
        wall_time_s=time.perf_counter() - t0, slab_converged=conv, task_documents=docs)


def _jsonable(obj):
    from sseflow.workflows.calculators.base import jsonable

    return jsonable(obj)


__all__ = ["relax_interface", "work_of_adhesion", "contact_analysis", "layer_polarisation", "InterfaceRelaxation",
           "calculator_backend"]
