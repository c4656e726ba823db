"""The electronic structure of an interface cell and of the bulk electrolyte, and Schottky barriers from them.

* :func:`electronic_structure`: a static with electronic structure on the electronic backend
  (GPAW here; VASP and Quantum ESPRESSO in ``electronic_vasp``/``electronic_qe``): Fermi level,
  atom-projected DOS, the planar-averaged electrostatic potential;
* :func:`bulk_reference`: the bulk electrolyte's band edges and mean electrostatic potential
  with the same backend and settings (for the potential line-up);
* :func:`schottky_from_electronic`: both barrier methods of :mod:`sseflow.analysis.schottky` from those.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from sseflow.analysis.errors import InputError
from sseflow.workflows.calculators.base import jsonable as _jsonable
from sseflow.workflows.interfaces.relax import calculator_backend as _backend

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
    if dipole_correction:
        a.pbc = [True, True, False]  # GPAW's dipole layer needs a cell open along the normal
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


__all__ = ["ElectronicStructure", "electronic_backend", "electronic_structure", "bulk_reference",
           "schottky_from_electronic"]
