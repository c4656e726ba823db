"""The VASP route to an :class:`~sseflow.workflows.interfaces.electronic.ElectronicStructure` and a bulk reference.

One static per structure, written with the VASP backend's input set (``MPStaticSet`` via
:class:`~sseflow.workflows.calculators.vasp.VASPBackend`, POTCARs from ``PMG_VASP_PSP_DIR``) plus the
overrides of :func:`electronic_incar`:

* ``LORBIT = 11``: the atom- and lm-projected eigenvalues (``<projected>`` in ``vasprun.xml``)
  and the partial DOS; ``NEDOS = 3001`` so VASP's own DOS is fine enough to interpolate;
* ``LVHAR = True``: ``LOCPOT`` holds the electrostatic potential (ionic + Hartree, no
  exchange-correlation), the potential energy of an electron in eV: low at the nuclei, the
  vacuum level the maximum, as GPAW's ``get_electrostatic_potential``;
* ``ISMEAR = 0``, ``SIGMA = 0.05``: Gaussian smearing (the tetrahedron method of the MP static
  is not meant for slabs with one k-point along the normal);
* for a slab with vacuum, VASP's dipole correction along the third lattice vector:
  ``LDIPOL``, ``IDIPOL = 3``, ``DIPOL`` = the centre of mass (fractional coordinates).

:func:`read_vasp_electronic` reads a finished folder (``vasprun.xml`` and ``LOCPOT``, each
optionally compressed): E_F (``efermi``), the total energy, the atom-projected DOS summed over
orbitals and spin on the sseflow grid ``E_F + [erange[0], ...]`` (step ``de``) and the
planar average of ``LOCPOT`` along the third cell vector (pymatgen's
``Locpot.get_average_along_axis(2)``). The pDOS is by default re-broadened from the projected
eigenvalues with the Gaussian of :func:`sseflow.analysis.schottky.broadened_dos`
(``exp(-(E-e)^2/w^2) / (sqrt(pi) w)`` of width ``width``, k-point weights from the file),
the same construction as the GPAW path; ``pdos_from="dos"`` instead re-broadens VASP's
``<partial>`` DOS (each sample a weight ``dos * dE`` at its energy), cheaper for big files.
There is no layer DOS from the planar densities of the states (``layer_*`` are None):
:func:`~sseflow.workflows.interfaces.electronic.schottky_from_electronic` groups ``pdos`` into layers
(``source="atoms"``).

:func:`read_vasp_bulk` is :func:`~sseflow.workflows.interfaces.electronic.bulk_reference` read from a
VASP folder: VBM/CBM from the eigenvalues and occupations, ``mean_potential`` the cell
average of ``LOCPOT``. :func:`vasp_electronic_structure` and :func:`vasp_bulk_reference`
write the inputs, run the backend's configured command (``SSEFLOW_VASP_CMD`` or the
preset's ``command``) through the backend's own run machinery, and read.

The MP input sets sort the sites by electronegativity, so ``vasprun.xml`` may list the atoms
in another order than the structure given: the reader matches them by species and position
(periodic, within ``match_tol`` Å) and returns everything in the order of ``atoms``.
"""
from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from sseflow.analysis.errors import InputError
from sseflow.analysis.slabs import has_vacuum, normal_length

ELECTRONIC_INCAR = {"LORBIT": 11, "LVHAR": True, "NEDOS": 3001, "ISMEAR": 0, "SIGMA": 0.05}
LOCPOT_NAMES = ("LOCPOT", "LOCPOT.gz", "LOCPOT.xz", "LOCPOT.bz2")
PDOS_FROM = ("projections", "dos")


# --------------------------------------------------------------------------- inputs

def _atoms(obj):
    from sseflow.workflows.calculators.base import to_atoms

    a = to_atoms(obj)
    a.set_constraint()
    return a


def centre_of_mass_fractional(structure) -> list[float]:
    """Centre of mass in fractional coordinates, each axis unwrapped across the periodic boundary.

    Per axis the atoms are shifted so the largest empty stretch lies at the cell boundary (a
    slab cut by the boundary is made whole first), then the mass-weighted mean is wrapped
    back into [0, 1).
    """
    a = _atoms(structure)
    frac = np.mod(a.get_scaled_positions(wrap=False), 1.0)
    m = a.get_masses()
    out = []
    for ax in range(3):
        f = frac[:, ax]
        fs = np.sort(f)
        gaps = np.diff(np.concatenate([fs, [fs[0] + 1.0]]))
        i = int(np.argmax(gaps))
        start = fs[(i + 1) % len(fs)]            # first atom after the largest gap
        unwrapped = np.mod(f - start, 1.0) + start
        out.append(float(np.mod(np.average(unwrapped, weights=m), 1.0)))
    return out


def electronic_incar(structure, *, dipole: bool) -> dict:
    """INCAR overrides of the electronic static (over the backend's MPStaticSet).

    ``dipole``: the cell is a slab with vacuum (:func:`has_vacuum` decides when the writers
    are not told).

    ``LORBIT = 11``, ``LVHAR = True``, ``NEDOS = 3001``, ``ISMEAR = 0``, ``SIGMA = 0.05``;
    with ``dipole`` (a slab with vacuum) also ``LDIPOL = True``, ``IDIPOL = 3`` and ``DIPOL``
    = the centre of mass in fractional coordinates (:func:`centre_of_mass_fractional`).
    """
    incar = dict(ELECTRONIC_INCAR)
    if dipole:
        incar.update({"LDIPOL": True, "IDIPOL": 3,
                      "DIPOL": [round(x, 6) for x in centre_of_mass_fractional(structure)]})
    return incar


def _vasp_backend(backend, **overrides):
    if backend is None or isinstance(backend, str):
        from sseflow.workflows.calculators import get_calculator

        backend = get_calculator(backend or "vasp", **overrides)
    if getattr(backend, "name", None) != "vasp":
        raise InputError(f"the VASP electronic step needs the vasp backend, not '{getattr(backend, 'name', backend)}'")
    return backend


def _kpoints(kpts):
    if kpts is None:
        return None
    from pymatgen.io.vasp import Kpoints

    kpts = tuple(int(k) for k in kpts)
    if len(kpts) != 3 or min(kpts) < 1:
        raise InputError(f"kpts must be three positive integers, not {kpts}")
    return Kpoints.gamma_automatic(kpts)   # Gamma-centred: band edges at Gamma must be on the mesh


def _default_dipole(atoms) -> bool:
    return has_vacuum(_atoms(atoms))


def write_electronic_inputs(atoms, backend="vasp", directory=".", *, kpts=None, dipole: bool | None = None,
                            incar: dict | None = None, potcar: str = "auto") -> dict:
    """Write INCAR, KPOINTS, POSCAR and POTCAR of the electronic static into ``directory``.

    ``backend``: a VASP backend or its name (its preset's ``user_incar_settings`` and input set
    are used); ``kpts``: a Gamma-centred mesh replacing the set's density-based one;
    ``dipole``: the dipole correction (default: :func:`has_vacuum`); ``incar``: INCAR
    tags over everything else. ``potcar``: ``"auto"`` writes the POTCAR when
    ``PMG_VASP_PSP_DIR`` is configured and otherwise skips it, writing ``POTCAR.spec`` (the
    POTCAR symbols) and warning that VASP cannot run before a POTCAR is added; ``"require"``
    raises InputError instead; ``"spec"`` always writes ``POTCAR.spec``.

    Returns ``{"files": [...], "incar": {...}, "dipole": bool, "potcar": "written" | "spec",
    "message": str | None}``.
    """
    if potcar not in ("auto", "require", "spec"):
        raise InputError(f"potcar must be 'auto', 'require' or 'spec', not {potcar!r}")
    backend = _vasp_backend(backend)
    a = _atoms(atoms)
    if dipole is None:
        dipole = _default_dipole(a)
    over = {**electronic_incar(a, dipole=bool(dipole)), **dict(incar or {})}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    kp = _kpoints(kpts)
    message = None
    if potcar == "spec":
        files = backend.write_inputs(a, directory, "static", potcar_spec=True, incar=over, kpoints=kp)
        written = "spec"
    else:
        try:
            files = backend.write_inputs(a, directory, "static", incar=over, kpoints=kp)
            written = "written"
        except InputError as exc:
            if potcar == "require" or "PMG_VASP_PSP_DIR" not in str(exc):
                raise
            files = backend.write_inputs(a, directory, "static", potcar_spec=True, incar=over, kpoints=kp)
            written = "spec"
            message = (f"POTCAR not written in {directory} ({exc}); wrote POTCAR.spec with the POTCAR symbols "
                       "instead. Configure PMG_VASP_PSP_DIR (pymatgen setting or environment variable pointing "
                       "at your VASP pseudopotentials) or add a POTCAR before running VASP.")
            warnings.warn(message, stacklevel=2)
    return {"files": files, "incar": over, "dipole": bool(dipole), "potcar": written, "message": message}


# --------------------------------------------------------------------------- readers

def _find_locpot(directory: Path) -> Path:
    for name in LOCPOT_NAMES:
        if (directory / name).is_file():
            return directory / name
    raise InputError(f"no LOCPOT in {directory}: the electronic static needs LVHAR = True "
                     "(the electrostatic potential for the line-up)")


def read_locpot(path):
    """pymatgen ``Locpot`` of a file or of the LOCPOT in a folder (InputError if missing/unreadable)."""
    from pymatgen.io.vasp import Locpot

    path = Path(path)
    if path.is_dir():
        path = _find_locpot(path)
    if not path.is_file():
        raise InputError(f"LOCPOT not found: {path}")
    try:
        return Locpot.from_file(str(path))
    except Exception as exc:  # noqa: BLE001 - any parse failure is the input's problem
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read {path}: {why}") from None


def _primary_grid(locpot) -> np.ndarray:
    """The potential grid pymatgen averages (the first block: 'total', or 'spin_up' when spin-resolved).

    With ``LVHAR = True`` the potential is electrostatic and so the same for both spins.
    """
    data = locpot.data
    for key in ("spin_up", "total"):
        if key in data:
            return np.asarray(data[key], dtype=float)
    return np.asarray(next(iter(data.values())), dtype=float)


def match_order(atoms, structure, tol: float = 0.5) -> np.ndarray:
    """``order`` with ``structure[order[i]]`` the site of ``atoms[i]`` (same species, nearest periodic image).

    InputError when the two are not the same atoms within ``tol`` Å (another structure, or a
    different number of atoms).
    """
    from sseflow.workflows.calculators.base import to_structure

    if len(atoms) != len(structure):
        raise InputError(f"atoms has {len(atoms)} atoms, the VASP calculation {len(structure)}")
    ref = to_structure(_atoms(atoms))
    lat = structure.lattice
    d = lat.get_all_distances(ref.frac_coords, structure.frac_coords)     # (n_atoms, n_sites)
    same = np.array([[a.specie.symbol == b.specie.symbol for b in structure] for a in ref])
    d = np.where(same, d, np.inf)
    order = np.argmin(d, axis=1)
    dmin = d[np.arange(len(order)), order]
    if not np.all(np.isfinite(dmin)) or dmin.max() > tol or len(set(order.tolist())) != len(order):
        worst = float(np.nanmax(np.where(np.isfinite(dmin), dmin, np.nan))) if np.isfinite(dmin).any() else np.inf
        raise InputError(f"atoms do not match the structure of the VASP calculation (largest distance "
                         f"{worst:.3f} Å, tolerance {tol} Å, or species differ)")
    return order


def _eigen_arrays(vr):
    """{spin: (eig (nk, nb), occ (nk, nb))} from a Vasprun parsed with eigenvalues."""
    if not vr.eigenvalues:
        raise InputError("vasprun.xml has no eigenvalues")
    return {s: (np.asarray(v[..., 0], dtype=float), np.asarray(v[..., 1], dtype=float))
            for s, v in vr.eigenvalues.items()}


def _pdos_projections(vr, energies, width: float, chunk: int = 4) -> np.ndarray:
    """(n_sites, nE): projected eigenvalues summed over orbitals, Gaussian-broadened with k and spin weights."""
    from sseflow.analysis.schottky import broadened_dos

    wk = np.asarray(vr.actual_kpoints_weights, dtype=float)
    eig = _eigen_arrays(vr)
    deg = 1.0 if len(eig) == 2 else 2.0           # ISPIN = 1: each state holds two electrons
    n_sites = len(vr.final_structure)
    out = np.zeros((n_sites, len(energies)))
    lo, hi = energies[0] - 6 * width, energies[-1] + 6 * width
    for spin, proj in vr.projected_eigenvalues.items():
        proj = np.asarray(proj, dtype=float)      # (nk, nb, n_sites, n_orbitals)
        if proj.ndim != 4 or proj.shape[2] != n_sites:
            raise InputError(f"unexpected projected eigenvalue array {proj.shape} (non-collinear runs are not read)")
        e = eig[spin][0]
        for k0 in range(0, len(wk), chunk):
            ek = e[k0:k0 + chunk]
            sel = (ek >= lo) & (ek <= hi)
            if not sel.any():
                continue
            w = np.broadcast_to((wk[k0:k0 + chunk] * deg)[:, None], ek.shape)[sel]
            sw = proj[k0:k0 + chunk].sum(axis=3)[sel]   # (n_states, n_sites)
            out += broadened_dos(energies, ek[sel], w, sw, width=width)
    return out


def _pdos_from_dos(vr, energies, width: float) -> tuple[np.ndarray, float]:
    """(n_sites, nE) from VASP's partial DOS re-broadened onto ``energies``; also the extra width used.

    Each sample of VASP's grid is a weight ``dos * dE`` at its energy, spread with a Gaussian of
    ``sqrt(width^2 - SIGMA^2)`` (ISMEAR = 0: VASP's DOS is already a Gaussian of SIGMA in the
    same convention), or just interpolated when VASP's smearing is already as wide.
    """
    from sseflow.analysis.schottky import broadened_dos

    if not vr.pdos:
        raise InputError("vasprun.xml has no partial DOS (LORBIT = 11 needed)")
    e_v = np.asarray(vr.tdos.energies, dtype=float)
    pd = np.array([sum(np.asarray(arr, dtype=float) for orb in site.values() for arr in orb.values())
                   for site in vr.pdos])                       # (n_sites, NEDOS), summed over orbitals and spin
    ismear = int(vr.parameters.get("ISMEAR", 1))
    sigma = float(vr.parameters.get("SIGMA", 0.0)) if ismear == 0 else 0.0
    extra = float(np.sqrt(max(width ** 2 - sigma ** 2, 0.0)))
    de_v = float(np.mean(np.diff(e_v)))
    if extra < 0.5 * de_v:
        return np.array([np.interp(energies, e_v, row, left=0.0, right=0.0) for row in pd]), 0.0
    sel = (e_v >= energies[0] - 6 * extra) & (e_v <= energies[-1] + 6 * extra)
    return broadened_dos(energies, e_v[sel], np.full(sel.sum(), de_v), pd[:, sel].T, width=extra), extra


def _read_vasprun(directory, projections: bool):
    from sseflow.workflows.calculators.vasp import parse_vasprun

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # pymatgen warns about POTCARs and unconverged runs
        return parse_vasprun(directory, parse_dos=True, parse_eigen=True, parse_projected_eigen=projections)


def _kpts_of(vr):
    try:
        kp = vr.kpoints
        if kp is not None and len(kp.kpts) == 1 and len(kp.kpts[0]) == 3 and kp.num_kpts == 0:
            return [int(x) for x in kp.kpts[0]]
    except (AttributeError, TypeError):
        pass
    return None


def _run_parameters(vr) -> dict:
    p = vr.parameters
    keys = ("ENCUT", "ISMEAR", "SIGMA", "ISPIN", "NBANDS", "NELECT", "LORBIT", "LVHAR", "LVTOT", "LDIPOL", "IDIPOL",
            "DIPOL", "NEDOS", "GGA", "METAGGA", "LDAU")
    out = {k: p[k] for k in keys if k in p}
    return {"vasp_version": vr.vasp_version, "run_type": vr.run_type, "incar": dict(vr.incar), "run": out,
            "potcar_symbols": list(vr.potcar_symbols), "n_kpoints": len(vr.actual_kpoints),
            "kpts": _kpts_of(vr), "converged_electronic": bool(vr.converged_electronic)}


def read_vasp_electronic(directory, atoms=None, *, periods: dict | None = None, width: float = 0.1,
                         de: float = 0.01, erange=(-12.0, 6.0), pdos_from: str = "projections",
                         match_tol: float = 0.5) -> "ElectronicStructure":  # noqa: F821
    """:class:`~sseflow.workflows.interfaces.electronic.ElectronicStructure` of a finished VASP static in ``directory``.

    ``atoms``: the structure of the calculation (same atoms, any order) carrying
    ``arrays["side"]`` (0 electrolyte, 1 electrode); the result follows its atom order. Without
    it, the order of ``vasprun.xml`` and ``side`` all 0. ``periods``: ``{"electrolyte": Å,
    "electrode": Å}`` as for the GPAW path. DOS grid ``E_F + [erange[0], ...]`` step ``de``,
    Gaussians of ``width`` eV; it stops ``3 width`` below the lowest energy of the highest band
    (above that the calculation has no states: ``parameters["dos_complete_up_to"]``, eV above
    E_F), at most ``erange[1]``. ``pdos_from``: ``"projections"`` (projected eigenvalues; falls
    back to ``"dos"`` when the file has none) or ``"dos"`` (VASP's partial DOS).
    ``potential``: planar average of ``LOCPOT`` along the third lattice vector on
    ``z = i * c / n`` (``c`` the cell's height along the normal).
    """
    from sseflow.workflows.calculators.base import jsonable
    from sseflow.workflows.interfaces.electronic import ElectronicStructure

    if pdos_from not in PDOS_FROM:
        raise InputError(f"pdos_from must be one of {PDOS_FROM}, not {pdos_from!r}")
    t0 = time.perf_counter()
    directory = Path(directory)
    vr = _read_vasprun(directory, projections=(pdos_from == "projections"))
    if vr.efermi is None:
        raise InputError(f"no Fermi level in {directory}/vasprun.xml")
    ef = float(vr.efermi)
    eig = _eigen_arrays(vr)
    top = min(float(e[:, -1].min()) for e, _ in eig.values())
    emax = min(float(erange[1]), top - ef - 3 * width)
    if emax <= float(erange[0]) + de:
        raise InputError(f"the highest band starts {top - ef:.2f} eV above E_F: no DOS window (raise NBANDS)")
    energies = ef + np.arange(float(erange[0]), emax + de / 2, de)
    used = pdos_from
    extra = None
    if pdos_from == "projections" and vr.projected_eigenvalues:
        pdos = _pdos_projections(vr, energies, width)
    else:
        used = "dos"
        pdos, extra = _pdos_from_dos(vr, energies, width)
    structure = vr.final_structure
    loc = read_locpot(directory)
    vz = np.asarray(loc.get_average_along_axis(2), dtype=float)
    c = normal_length(structure.lattice.matrix)
    z = np.arange(len(vz)) * c / len(vz)
    pos_z = np.asarray(structure.cart_coords[:, 2], dtype=float)
    symbols = [site.specie.symbol for site in structure]
    if atoms is not None:
        order = match_order(atoms, structure, tol=match_tol)
        pdos, pos_z = pdos[order], pos_z[order]
        symbols = [symbols[i] for i in order]
        side = np.asarray(atoms.arrays.get("side", np.zeros(len(atoms), int))) if hasattr(atoms, "arrays") \
            else np.zeros(len(order), int)
    else:
        side = np.zeros(len(structure), int)
    params = _run_parameters(vr)
    lvhar = bool(vr.parameters.get("LVHAR", False))
    params.update({"directory": str(directory), "pdos_from": used, "dos_complete_up_to": round(top - ef, 4),
                   "potential": "electrostatic (LVHAR)" if lvhar else "total local potential (LVTOT, includes xc)",
                   "dipole_correction": bool(vr.parameters.get("LDIPOL", False))})
    if extra is not None:
        params["dos_extra_width"] = round(extra, 6)
    if not lvhar:
        warnings.warn("LOCPOT was not written with LVHAR = True: it includes the exchange-correlation "
                      "potential, not what the potential line-up assumes", stacklevel=2)
    return ElectronicStructure(
        energy=float(vr.final_energy), fermi_level=ef, energies=energies, pdos=pdos, z=z, potential=vz,
        positions_z=pos_z, side=side, symbols=symbols, cell_length=c, calculator="vasp",
        parameters=jsonable(params), wall_time_s=time.perf_counter() - t0, width=width,
        periods=dict(periods or {}))


def read_vasp_bulk(directory) -> dict:
    """Bulk reference (the keys of :func:`~sseflow.workflows.interfaces.electronic.bulk_reference`) from a VASP folder.

    VBM = highest eigenvalue with occupation above 1/2, CBM = lowest at or below 1/2, over
    k-points and spins; InputError when there are no empty states or no gap.
    ``mean_potential``: the cell average of the ``LOCPOT`` grid.
    """
    from sseflow.workflows.calculators.base import jsonable

    directory = Path(directory)
    vr = _read_vasprun(directory, projections=False)
    occ_e, emp_e = [], []
    for e, o in _eigen_arrays(vr).values():
        occ_e.append(e[o > 0.5])
        emp_e.append(e[o <= 0.5])
    occ_e, emp_e = np.concatenate(occ_e), np.concatenate(emp_e)
    if occ_e.size == 0 or emp_e.size == 0:
        raise InputError("bulk reference needs occupied and empty bands (raise NBANDS)")
    vbm, cbm = float(occ_e.max()), float(emp_e.min())
    if cbm <= vbm:
        raise InputError(f"no band gap in {directory} (VBM {vbm:.3f} eV, CBM {cbm:.3f} eV): not an insulator")
    loc = read_locpot(directory)
    structure = vr.final_structure
    params = _run_parameters(vr)
    return {"formula": structure.composition.hill_formula.replace(" ", ""), "energy_eV": float(vr.final_energy),
            "vbm": vbm, "cbm": cbm, "gap": cbm - vbm, "mean_potential": float(_primary_grid(loc).mean()),
            "fermi_level": float(vr.efermi), "n_kpoints": len(vr.actual_kpoints), "calculator": "vasp",
            "parameters": jsonable(params), "kpts": params["kpts"], "wall_time_s": 0.0}


# --------------------------------------------------------------------------- runners

def _run_static(atoms, backend, directory, *, kpts=None, dipole=None, incar=None):
    backend = _vasp_backend(backend)
    if not backend.command:
        raise InputError("no VASP run command: set SSEFLOW_VASP_CMD (e.g. 'srun vasp_std') "
                         "or 'command' in the vasp preset")
    a = _atoms(atoms)
    if dipole is None:
        dipole = _default_dipole(a)
    over = {**electronic_incar(a, dipole=bool(dipole)), **dict(incar or {})}
    directory = Path(directory or tempfile.mkdtemp(prefix="sseflow-vasp-electronic-"))
    directory.mkdir(parents=True, exist_ok=True)
    # the backend writes the inputs (POTCAR required: InputError naming PMG_VASP_PSP_DIR if not set),
    # runs the command in the folder and parses vasprun.xml
    result = backend.run(a, "static", directory, incar=over, kpoints=_kpoints(kpts))
    if getattr(result, "status", "ok") == "failed":
        raise InputError(f"VASP electronic static in {directory} failed: {result.error}")
    return directory, result, bool(dipole)


def vasp_electronic_structure(atoms, backend="vasp", *, directory=None, kpts=None, dipole: bool | None = None,
                              incar: dict | None = None, periods: dict | None = None, width: float = 0.1,
                              de: float = 0.01, erange=(-12.0, 6.0), pdos_from: str = "projections"):
    """Write the inputs, run VASP with the backend's command, read :func:`read_vasp_electronic`.

    The VASP counterpart of :func:`~sseflow.workflows.interfaces.electronic.electronic_structure`
    (``atoms`` carries ``arrays["side"]``).
    """
    t0 = time.perf_counter()
    directory, result, dip = _run_static(atoms, backend, directory, kpts=kpts, dipole=dipole, incar=incar)
    es = read_vasp_electronic(directory, atoms, periods=periods, width=width, de=de, erange=erange,
                              pdos_from=pdos_from)
    es.parameters.update({"kpts": list(kpts) if kpts is not None else es.parameters.get("kpts"),
                          "run_wall_time_s": round(float(result.wall_time_s), 2)})
    es.wall_time_s = time.perf_counter() - t0
    return es


def vasp_bulk_reference(structure, backend="vasp", *, directory=None, kpts=None, incar: dict | None = None) -> dict:
    """Bulk electrolyte reference with VASP: the same electronic INCAR (no dipole), run, :func:`read_vasp_bulk`."""
    t0 = time.perf_counter()
    directory, _result, _ = _run_static(structure, backend, directory, kpts=kpts, dipole=False, incar=incar)
    out = read_vasp_bulk(directory)
    if kpts is not None:
        out["kpts"] = list(kpts)
    out["wall_time_s"] = round(time.perf_counter() - t0, 2)
    return out


__all__ = ["ELECTRONIC_INCAR", "electronic_incar", "centre_of_mass_fractional", "has_vacuum", "write_electronic_inputs",
           "read_locpot", "match_order", "read_vasp_electronic", "read_vasp_bulk", "vasp_electronic_structure",
           "vasp_bulk_reference"]
