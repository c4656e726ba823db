"""Relax an interface cell, its work of adhesion, the chemistry at the contact, and its electronic structure.

* :func:`relax_interface`: the interface relaxed with the relaxation backend (CHGNet by
  default; the FixAtoms constraint of the built cell is kept, the cell is not relaxed), both
  isolated slabs in the same cell relaxed the same way, and
  ``W_ad = (E_slab_A + E_slab_B - E_interface) / (n_interfaces * area)`` in J/m^2 (relaxed
  and rigid), plus :func:`contact_analysis` of what happened at the contact.
* :func:`electronic_structure`: a static with electronic structure on the electronic backend
  (GPAW here): Fermi level, atom-projected DOS, the planar-averaged electrostatic potential.
* :func:`bulk_reference`: the bulk electrolyte's band edges and mean electrostatic potential
  with the same backend and settings (for the potential line-up).
* :func:`schottky_from_electronic`: both barrier methods of :mod:`sseflow.analysis.schottky` from those.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sseflow.analysis.errors import InputError
from sseflow.workflows.interfaces.build import EV_PER_A2_TO_J_PER_M2, BuiltInterface, min_distance_ratio
from sseflow.workflows.interfaces.matching import polyhedral_bonds

SIDE_NAMES = {0: "electrolyte", 1: "electrode"}


def _backend(calculator, **overrides):
    if calculator is None:
        calculator = "chgnet"
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


def relax_interface(built: BuiltInterface, calculator="chgnet", *, fmax: float = 0.05, steps: int = 300,
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
    if progress is not None:
        progress.stage(f"relaxation (interface, then the slabs; up to {steps} steps each)", 3 if relax_slabs else 1)
    backend = _backend(calculator, **overrides)
    start = built.atoms.copy()
    calc = backend.ase_calculator()
    a0 = start.copy()
    a0.calc = calc
    e_rigid = float(a0.get_potential_energy())
    if rattle:
        start.rattle(stdev=float(rattle), seed=int(seed))  # FixAtoms keeps the fixed atoms in place
    res = backend.relax(start, fmax=fmax, steps=steps, relax_cell=False, trajectory=trajectory)
    if res.status != "completed":
        raise InputError(f"interface relaxation failed: {res.error}")
    if progress is not None:
        progress.advance()
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
            r = backend.relax(sub, fmax=fmax, steps=steps, relax_cell=False)
            if r.status != "completed":
                raise InputError(f"{side} slab relaxation failed: {r.error}")
            e_sl[side] = float(r.energy)
            conv[side] = bool(r.converged)
            docs.append(r.task_document())
            if progress is not None:
                progress.advance()
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


# --------------------------------------------------------------------------- electronic structure

@dataclass
class ElectronicStructure:
    """What the Schottky analysis needs from one static calculation (all energies in eV).

    ``layer_dos``: DOS of slices of the cell about one bulk period thick, centred on the
    layers of each side (:func:`sseflow.analysis.schottky.layer_bins`), from the planar density of
    every Kohn-Sham state (the fraction of its pseudo-density inside the slice), per atom of
    the slice. ``pdos``: atom-projected DOS on the bound PAW projectors, for plots (for Li the
    unoccupied 2p projector makes it qualitative only). The layer method uses ``layer_dos``.
    """

    energy: float
    fermi_level: float
    energies: np.ndarray              # DOS grid (absolute)
    pdos: np.ndarray                  # (n_atoms, n_energies), atom-projected, summed over l and spin
    z: np.ndarray                     # grid along the normal (Å)
    potential: np.ndarray             # planar-averaged electrostatic potential on z (eV)
    positions_z: np.ndarray
    side: np.ndarray
    symbols: list
    cell_length: float
    calculator: str
    parameters: dict
    wall_time_s: float
    width: float
    layer_dos: np.ndarray | None = None       # (n_layers, n_energies), per atom
    layer_side: np.ndarray | None = None      # 0 electrolyte, 1 electrode
    layer_centres: np.ndarray | None = None   # unwrapped heights (Å)
    layer_depth: np.ndarray | None = None     # distance from the nearer boundary of its side (Å)
    layer_count: np.ndarray | None = None
    layer_width: np.ndarray | None = None
    periods: dict = field(default_factory=dict)

    _ARRAYS = ("energies", "pdos", "z", "potential", "positions_z", "side", "layer_dos", "layer_side",
               "layer_centres", "layer_depth", "layer_count", "layer_width")

    def as_dict(self, arrays: bool = False) -> dict:
        d = {"energy_eV": self.energy, "fermi_level_eV": self.fermi_level, "calculator": self.calculator,
             "parameters": _jsonable(self.parameters), "wall_time_s": round(self.wall_time_s, 2),
             "dos_width_eV": self.width, "cell_length_A": self.cell_length, "n_atoms": len(self.symbols),
             "periods_A": self.periods}
        if arrays:
            for k in self._ARRAYS:
                v = getattr(self, k)
                d[k] = None if v is None else np.asarray(v).tolist()
            d["symbols"] = list(self.symbols)
        return d

    def save(self, path) -> str:
        """All arrays and scalars in one ``.npz`` (:meth:`load` reads it back)."""
        arrays = {k: np.asarray(getattr(self, k)) for k in self._ARRAYS if getattr(self, k) is not None}
        import json

        meta = {"energy": self.energy, "fermi_level": self.fermi_level, "symbols": list(self.symbols),
                "cell_length": self.cell_length, "calculator": self.calculator,
                "parameters": _jsonable(self.parameters), "wall_time_s": self.wall_time_s, "width": self.width,
                "periods": self.periods}
        np.savez_compressed(path, meta=json.dumps(meta), **arrays)
        return str(path)

    @classmethod
    def load(cls, path) -> "ElectronicStructure":
        import json

        d = np.load(path, allow_pickle=False)
        meta = json.loads(str(d["meta"]))
        kw = {k: (d[k] if k in d.files else None) for k in cls._ARRAYS}
        return cls(energy=meta["energy"], fermi_level=meta["fermi_level"], symbols=meta["symbols"],
                   cell_length=meta["cell_length"], calculator=meta["calculator"], parameters=meta["parameters"],
                   wall_time_s=meta["wall_time_s"], width=meta["width"], periods=meta.get("periods", {}), **kw)


_NOT_FOR_BARRIERS = ("tblite", "xtb", "gfn1", "gfn2", "gfn1-xtb", "gfn2-xtb", "dftb")


def electronic_backend(calculator, **overrides):
    """The backend for electronic statics (band edges, potentials); InputError for tight binding."""
    name = calculator if isinstance(calculator, str) else getattr(calculator, "name", "")
    if str(name).lower() in _NOT_FOR_BARRIERS:
        raise InputError(f"'{name}' is not used for Schottky barriers: semi-empirical tight binding gives "
                         "Gamma-only gaps that are not credible for band alignment (use gpaw)")
    return _backend(calculator, **overrides)


def _gpaw_calc(backend, kpts=None, dipole: bool = False, directory=None, txt=None, nbands=None,
               converge_bands=None):
    if backend.name != "gpaw":
        raise InputError(f"the electronic step is implemented for GPAW here, not '{backend.name}' "
                         "(VASP/QE: parse LOCPOT/DOSCAR/PROCAR into ElectronicStructure)")
    calc = backend.ase_calculator(directory=directory)
    changes: dict = {}
    if kpts is not None:  # Gamma-centred: band edges at Gamma (LiF, Li2S ...) must be on the mesh
        changes["kpts"] = {"size": tuple(int(k) for k in kpts), "gamma": True}
    if txt is None and directory is None:
        txt = os.devnull  # GPAW would log to stdout
    if dipole:
        changes["poissonsolver"] = {"dipolelayer": "xy"}
    if txt is not None:
        changes["txt"] = txt
    if nbands is not None:
        changes["nbands"] = nbands
    if converge_bands is not None:
        # empty bands converged too; 1e-6 eV^2/electron on the eigenstates is plenty for a DOS
        conv = {"eigenstates": 1e-6, **dict(backend.parameters.get("convergence") or {})}
        changes["convergence"] = dict(conv, bands=converge_bands)
    return calc.new(**changes) if changes else calc


def _planar_state_densities(calc, emin: float = -np.inf, emax: float = np.inf):
    """Eigenvalues, weights (k-point x spin degeneracy) and planar |psi|^2 of the states in [emin, emax]."""
    nk = len(calc.get_ibz_k_points())
    ns = calc.get_number_of_spins()
    nb = calc.get_number_of_bands()
    wk = np.asarray(calc.get_k_point_weights(), dtype=float)
    deg = 2.0 if ns == 1 else 1.0
    eig, w, rho = [], [], []
    for k in range(nk):
        for s in range(ns):
            e = calc.get_eigenvalues(kpt=k, spin=s)
            for n in range(nb):
                if not emin <= e[n] <= emax:
                    continue
                psi = np.asarray(calc.get_pseudo_wave_function(band=n, kpt=k, spin=s))
                rho.append((np.abs(psi) ** 2).sum(axis=(0, 1)))
                eig.append(float(e[n]))
                w.append(wk[k] * deg)
    return np.array(eig), np.array(w), np.array(rho)


def electronic_structure(atoms, calculator="gpaw", *, periods: dict | None = None, kpts=None,
                         dipole_correction: bool | None = None, width: float = 0.1, de: float = 0.01,
                         erange=(-12.0, 6.0), nbands: int | None = None, band_factor: float = 1.8,
                         directory=None, txt=None, **overrides) -> ElectronicStructure:
    """Static with electronic structure: E_F, layer-resolved and atom-projected DOS, potential.

    ``atoms`` carries ``arrays["side"]`` (0 electrolyte, 1 electrode; from
    :func:`~sseflow.workflows.interfaces.build.build_interface`); ``periods``: ``{"electrolyte": Å,
    "electrode": Å}``, the repeat distances along the normal (layer thickness; default 2 Å).
    ``overrides`` go to the backend (``ecut``, ``kpoint_density``, ``smearing_width`` ...);
    ``kpts`` (e.g. ``(4, 4, 1)``) replaces the density-based mesh. ``nbands`` (default
    ``band_factor`` x the occupied bands + 4) with all but the top eighth converged, so the
    empty bands are right; the DOS grid stops below the lowest unconverged state
    (``parameters["dos_complete_up_to"]``, eV above E_F), at most ``erange[1]``. ``dipole_correction`` (default: on when the cell has vacuum) adds GPAW's
    dipole layer along z. DOS: Gaussians of ``width`` eV on a grid of step ``de`` over
    ``erange`` around E_F.
    """
    from sseflow.analysis.schottky import broadened_dos, layer_bins, planar_average, region_weights
    from sseflow.analysis.slabs import has_vacuum

    t0 = time.perf_counter()
    backend = electronic_backend(calculator, **overrides)
    a = atoms.copy()
    a.set_constraint()
    if dipole_correction is None:
        dipole_correction = has_vacuum(a)
    if nbands is None:
        nocc = math.ceil(_valence_electrons(a.get_chemical_symbols(), backend.parameters.get("xc", "PBE")) / 2)
        nbands = int(math.ceil(band_factor * nocc)) + 4
    skip = max(3, int(nbands) // 8)
    calc = _gpaw_calc(backend, kpts=kpts, dipole=dipole_correction, directory=directory, txt=txt, nbands=int(nbands),
                      converge_bands=-skip)
    a.calc = calc
    try:
        energy = float(a.get_potential_energy())
    except Exception as exc:  # noqa: BLE001 - SCF failures
        raise InputError(f"electronic static failed: {type(exc).__name__}: {exc}") from None
    nb = calc.get_number_of_bands()
    ef = float(calc.get_fermi_level())
    nk = len(calc.get_ibz_k_points())
    top = min(float(calc.get_eigenvalues(kpt=k, spin=sp)[nb - skip - 1])
              for k in range(nk) for sp in range(calc.get_number_of_spins()))
    emax = min(float(erange[1]), top - ef - 3 * width)
    if emax < 1.0:
        raise InputError(f"only {top - ef:.2f} eV of converged empty states above E_F: raise nbands/band_factor")
    energies = ef + np.arange(float(erange[0]), emax + de / 2, de)
    dos = calc.dos()
    pdos = np.zeros((len(a), len(energies)))
    for i in range(len(a)):
        for ell in sorted(set(int(x) for x in calc.setups[i].l_j)):
            pdos[i] += dos.raw_pdos(energies, i, ell, width=width)
    v = np.asarray(calc.get_electrostatic_potential())
    vz = planar_average(v, axis=2)
    c = float(a.cell[2, 2])
    z = np.arange(len(vz)) * c / len(vz)
    side = np.asarray(atoms.arrays.get("side", np.zeros(len(a), int)))
    periods = dict(periods or {})
    # layer-resolved DOS from the planar density of every state
    eig, wts, rho = _planar_state_densities(calc, energies[0] - 6 * width, energies[-1] + 6 * width)
    zc = np.arange(rho.shape[1]) * c / rho.shape[1]
    pos_z = a.get_positions()[:, 2]
    rows = {"dos": [], "side": [], "centres": [], "depth": [], "count": [], "width": []}
    for code, name in ((0, "electrolyte"), (1, "electrode")):
        if not (side == code).any():
            continue
        bins = layer_bins(pos_z, side == code, period=periods.get(name), cell_length=c)
        wgt = region_weights(zc, rho, bins["edges"], c)
        ldos = broadened_dos(energies, eig, wts, wgt, width=width) / bins["count"][:, None]
        rows["dos"].extend(list(ldos))
        rows["side"].extend([code] * len(ldos))
        rows["centres"].extend(bins["centres"].tolist())
        rows["depth"].extend(bins["depth"].tolist())
        rows["count"].extend(bins["count"].tolist())
        rows["width"].extend([bins["width"]] * len(ldos))
    params = dict(backend.parameters)
    params.update({"kpts": list(kpts) if kpts is not None else None, "dipole_correction": bool(dipole_correction),
                   "nbands": nb, "converged_bands": nb - skip, "dos_complete_up_to": round(top - ef, 4)})
    return ElectronicStructure(
        energy=energy, fermi_level=ef, energies=energies, pdos=pdos, z=z, potential=vz, positions_z=pos_z, side=side,
        symbols=a.get_chemical_symbols(), cell_length=c, calculator=backend.name, parameters=params,
        wall_time_s=time.perf_counter() - t0, width=width, layer_dos=np.array(rows["dos"]),
        layer_side=np.array(rows["side"]), layer_centres=np.array(rows["centres"]),
        layer_depth=np.array(rows["depth"]), layer_count=np.array(rows["count"]),
        layer_width=np.array(rows["width"]), periods=periods)


_VALENCE: dict[tuple[str, str], float] = {}


def _valence_electrons(symbols, xc: str = "PBE") -> float:
    """Valence electrons of the GPAW setups of ``symbols`` (setups read once per element)."""
    from gpaw.setup import create_setup

    total = 0.0
    for sym in symbols:
        key = (sym, str(xc))
        if key not in _VALENCE:
            _VALENCE[key] = float(create_setup(sym, str(xc)).Nv)
        total += _VALENCE[key]
    return total


def bulk_reference(structure, calculator="gpaw", *, kpts=None, directory=None, txt=None, **overrides) -> dict:
    """Bulk band edges and mean electrostatic potential of the electrolyte (same backend/settings).

    VBM/CBM from the eigenvalues of the highest occupied / lowest empty band over the k-points
    (a gapped, spin-paired bulk is assumed); ``mean_potential`` is the cell average of the
    electrostatic potential on the same grid convention as the interface's.
    """
    from sseflow.workflows.calculators.base import to_atoms

    t0 = time.perf_counter()
    backend = electronic_backend(calculator, **overrides)
    a = to_atoms(structure)
    a.set_constraint()
    calc = _gpaw_calc(backend, kpts=kpts, directory=directory, txt=txt)
    a.calc = calc
    energy = float(a.get_potential_energy())
    nel = float(calc.get_number_of_electrons())
    nocc = int(round(nel / 2))
    if abs(nocc * 2 - nel) > 1e-6:
        raise InputError("bulk reference needs an even number of electrons (spin-paired insulator)")
    nk = len(calc.get_ibz_k_points())
    eig = np.array([calc.get_eigenvalues(kpt=k) for k in range(nk)])
    if eig.shape[1] <= nocc:
        raise InputError("bulk reference has no empty bands: raise nbands")
    vbm = float(eig[:, :nocc].max())
    cbm = float(eig[:, nocc:].min())
    v = np.asarray(calc.get_electrostatic_potential())
    return {"formula": a.get_chemical_formula(mode="hill"), "energy_eV": energy, "vbm": vbm, "cbm": cbm,
            "gap": cbm - vbm, "mean_potential": float(v.mean()), "fermi_level": float(calc.get_fermi_level()),
            "n_kpoints": nk, "calculator": backend.name, "parameters": _jsonable(dict(backend.parameters)),
            "kpts": list(kpts) if kpts is not None else None, "wall_time_s": round(time.perf_counter() - t0, 2)}


def schottky_from_electronic(es: ElectronicStructure, bulk: dict | None, *, period: float | None = None,
                             threshold: float = 0.05, tol: float = 0.1, source: str = "layers") -> dict:
    """Both barrier methods of :mod:`sseflow.analysis.schottky` from an :class:`ElectronicStructure`.

    Method (a) reads the electrolyte layers of ``es.layer_dos`` (``source="layers"``, the
    default) or the atom-projected DOS grouped into the same layers (``source="atoms"``);
    method (b) averages the potential over ``period`` (default the electrolyte period stored
    in ``es.periods``) and reads the plateau in the central part of the electrolyte slab,
    aligned with ``bulk`` (:func:`bulk_reference`); without ``bulk`` only (a) is done.
    """
    from sseflow.analysis.schottky import (
        electrolyte_region,
        group_layers,
        layer_bins,
        layer_dos_barrier,
        potential_lineup_barrier,
        schottky_report,
    )

    period = float(period or es.periods.get("electrolyte") or 2.0)
    mask = es.side == 0
    if source == "layers" and es.layer_dos is not None:
        sel = es.layer_side == 0
        ldos, depth, centre, count = (es.layer_dos[sel], es.layer_depth[sel], es.layer_centres[sel],
                                      es.layer_count[sel])
    elif source in ("layers", "atoms"):
        ldos, depth, centre, count = group_layers(es.pdos, es.positions_z, mask, period=period,
                                                  cell_length=es.cell_length)
    else:
        raise InputError(f"source must be 'layers' or 'atoms', not {source!r}")
    layer = layer_dos_barrier(es.energies, ldos, depth, es.fermi_level, threshold=threshold, tol=tol,
                              labels=[round(float(x), 3) for x in centre])
    layer["layer_atoms"] = np.asarray(count).tolist()
    layer["layer_centres_A"] = np.asarray(centre).tolist()
    layer["source"] = "planar density of the Kohn-Sham states" if source == "layers" else "PAW projections"
    lineup = None
    if bulk is not None:
        bins = layer_bins(es.positions_z, mask, period=period, cell_length=es.cell_length)
        region = electrolyte_region(bins["lo"], bins["hi"], period)
        lineup = potential_lineup_barrier(es.z, es.potential, es.fermi_level, period=period, region=region,
                                          bulk_vbm=bulk["vbm"], bulk_cbm=bulk["cbm"],
                                          bulk_potential=bulk["mean_potential"])
    rep = schottky_report(layer, lineup, bulk_gap=bulk["gap"] if bulk else None)
    rep["period_A"] = period
    return rep


def _jsonable(obj):
    from sseflow.workflows.calculators.base import jsonable

    return jsonable(obj)


__all__ = ["relax_interface", "work_of_adhesion", "contact_analysis", "layer_polarisation", "electronic_structure", "bulk_reference",
           "schottky_from_electronic", "ElectronicStructure", "InterfaceRelaxation"]
