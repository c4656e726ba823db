"""The Quantum ESPRESSO route to an :class:`~sseflow.workflows.interfaces.electronic.ElectronicStructure`.

Three QE programs, run in one directory (``prefix = "sseflow"``, ``outdir = "./"``):

1. ``pw.x`` scf through the QE backend (:mod:`sseflow.workflows.calculators.qe`, ASE's Espresso
   calculator): smearing, ``nbnd`` well above the occupied bands with all of them converged
   (``diago_full_acc``), and for a slab with vacuum QE's dipole correction (``tefield`` +
   ``dipfield`` along ``edir = 3``, the sawtooth placed in the middle of the vacuum).
2. ``projwfc.x``: the atom-projected DOS. Its Gaussian (``degauss = width / Ry``,
   ``ngauss = 0``) is the same ``exp(-(E-e)^2/w^2) / (sqrt(pi) w)`` as
   :func:`sseflow.analysis.schottky.broadened_dos`; the ``*.pdos_atm#N(El)_wfc#M(l)`` files are
   summed per atom over wavefunctions and spin (the ``ldos`` columns) and interpolated onto
   the sseflow grid ``E_F + [erange[0], ...]`` (step ``de``).
3. ``pp.x`` with ``plot_num = 11`` (V_bare + V_H, the electrostatic potential energy of an
   electron in Ry, including the dipole-correction sawtooth when ``tefield`` is on), written as
   a Gaussian cube, converted to eV and planar-averaged along the third cell vector. The
   sign is that of GPAW's ``get_electrostatic_potential``: low at the nuclei, the vacuum
   level is the maximum.

E_F, the total energy and the eigenvalues come from ``<prefix>.save/data-file-schema.xml``
(Hartree, converted with QE's own constant). :func:`read_qe_electronic` does the reading
alone on a finished directory; :func:`qe_bulk_reference` is :func:`~sseflow.workflows.interfaces.electronic.bulk_reference`
for QE (fixed occupations, empty bands, VBM/CBM from the eigenvalues, cell-mean potential).
There is no layer DOS from the planar densities of the states here (``layer_*`` are None):
:func:`~sseflow.workflows.interfaces.electronic.schottky_from_electronic` groups ``pdos`` into layers
(``source="atoms"``, which it also falls back to).
"""
from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from sseflow.analysis.errors import InputError
from sseflow.analysis.slabs import has_vacuum, normal_length, vacuum_gap

# QE 6.x constants (Modules/constants.f90, CODATA 2018 values)
HA_EV = 27.211386245988
RY_EV = HA_EV / 2
BOHR_A = 0.529177210903

PREFIX = "sseflow"
PW_OUT = "espresso.pwo"
PROJWFC_IN, PROJWFC_OUT = "projwfc.in", "projwfc.out"
PP_IN, PP_OUT = "pp_potential.in", "pp_potential.out"
POT_CUBE = "potential.cube"

_PDOS_RE = re.compile(r"\.pdos_atm#(\d+)\(([^)]+)\)_wfc#(\d+)\(([^)]+)\)$")


# --------------------------------------------------------------------------- parsers

def read_pdos_file(path) -> tuple[np.ndarray, np.ndarray]:
    """One projwfc.x ``pdos_atm#..._wfc#...`` file: (energies eV, ldos summed over spin).

    The header names the columns (``ldos(E)`` or ``ldosup(E) ldosdw(E)``, then the
    m-resolved ``pdos``); the ``ldos`` columns are the sum over m and are added up here.
    A k-resolved file (first column ``ik``) is refused.
    """
    path = Path(path)
    with open(path) as fh:
        header = fh.readline()
    if not header.lstrip().startswith("#"):
        raise InputError(f"{path.name}: no projwfc.x header line")
    labels = re.findall(r"([A-Za-z]+)\(E\)", header)
    if re.match(r"#\s*ik\b", header.strip()):
        raise InputError(f"{path.name}: k-resolved PDOS (kresolveddos) is not supported")
    cols = [i + 1 for i, lab in enumerate(labels) if lab.lower().startswith("ldos")]
    if not cols:
        raise InputError(f"{path.name}: no ldos column in header {header.strip()!r}")
    data = np.loadtxt(path, comments="#", ndmin=2)
    if data.shape[1] < max(cols) + 1:
        raise InputError(f"{path.name}: {data.shape[1]} columns, header says {len(labels) + 1}")
    return data[:, 0].copy(), data[:, cols].sum(axis=1)


def pdos_files(directory, prefix: str = PREFIX) -> dict[int, list[tuple[Path, str, int, str]]]:
    """``{atom number (1-based): [(path, species, wfc number, label), ...]}`` of projwfc.x's files."""
    out: dict[int, list] = {}
    for p in sorted(Path(directory).glob(f"{prefix}.pdos_atm#*")):
        m = _PDOS_RE.search(p.name)
        if m:
            out.setdefault(int(m.group(1)), []).append((p, m.group(2), int(m.group(3)), m.group(4)))
    return out


def read_atom_pdos(directory, n_atoms: int | None = None, prefix: str = PREFIX) -> tuple[np.ndarray, np.ndarray]:
    """Atom-projected DOS from projwfc.x's files: (energies eV on its grid, (n_atoms, n_e) states/eV).

    Each atom's curve is the sum over its wavefunctions (all l) and spins. An atom without any
    projector file (no atomic wavefunction in its pseudopotential) gets zeros.
    """
    files = pdos_files(directory, prefix)
    if not files:
        raise InputError(f"no {prefix}.pdos_atm#* files in {directory} (did projwfc.x run?)")
    n = int(n_atoms) if n_atoms is not None else max(files)
    if max(files) > n:
        raise InputError(f"projwfc.x files for atom {max(files)} but the structure has {n} atoms")
    grid = None
    pdos = None
    for atom, entries in files.items():
        for path, _sp, _w, _lab in entries:
            e, d = read_pdos_file(path)
            if grid is None:
                grid = e
                pdos = np.zeros((n, len(e)))
            elif len(e) != len(grid) or not np.allclose(e, grid, atol=1e-6):
                raise InputError(f"{path.name}: energy grid differs from the other projwfc.x files")
            pdos[atom - 1] += d
    return grid, pdos


def read_cube(path) -> dict:
    """A Gaussian cube file (pp.x ``output_format = 6``).

    Returns ``data`` (n1, n2, n3) as written (pp.x: Ry for potentials), ``origin`` and
    ``axes`` (grid step vectors, rows) in Å, ``shape``, ``numbers`` and ``positions`` (Å).
    pp.x writes the periodic grid without the repeated boundary point, so the cell is
    ``shape[i] * axes[i]``.
    """
    with open(path) as fh:
        lines = fh.readlines()
    tok = lines[2].split()
    nat = int(tok[0])
    origin = np.array([float(x) for x in tok[1:4]])
    shape, axes = [], []
    bohr = True
    for i in range(3):
        t = lines[3 + i].split()
        ni = int(t[0])
        bohr = ni > 0   # negative counts mean Å
        shape.append(abs(ni))
        axes.append([float(x) for x in t[1:4]])
    axes = np.array(axes)
    scale = BOHR_A if bohr else 1.0
    numbers, positions = [], []
    for i in range(abs(nat)):
        t = lines[6 + i].split()
        numbers.append(int(t[0]))
        positions.append([float(x) for x in t[2:5]])
    start = 6 + abs(nat) + (1 if nat < 0 else 0)
    data = np.array(" ".join(lines[start:]).split(), dtype=float)
    n = int(np.prod(shape))
    if data.size != n:
        raise InputError(f"{Path(path).name}: {data.size} values for a {shape[0]}x{shape[1]}x{shape[2]} grid")
    return {"data": data.reshape(shape), "origin": origin * scale, "axes": axes * scale, "shape": tuple(shape),
            "numbers": np.array(numbers, int), "positions": np.array(positions).reshape(-1, 3) * scale}


def read_qe_xml(directory, prefix: str = PREFIX) -> dict:
    """Energies and eigenvalues from ``<prefix>.save/data-file-schema.xml`` (QE >= 6.2), in eV.

    ``eigenvalues``: (n_spin, n_k, n_bands); ``weights``: k-point weights (sum 1);
    ``fermi_level`` (smearing), ``highest_occupied``/``lowest_unoccupied`` (fixed
    occupations) when pw.x wrote them, else None.
    """
    d = Path(directory)
    path = d / f"{prefix}.save" / "data-file-schema.xml"
    if not path.is_file():
        alt = d / f"{prefix}.xml"
        if not alt.is_file():
            raise InputError(f"no pw.x data file {path} (did pw.x finish?)")
        path = alt
    root = ET.parse(path).getroot()
    out = root.find("output")
    if out is None:
        raise InputError(f"{path}: no <output> (pw.x did not finish)")
    bs = out.find("band_structure")

    def num(node, tag):
        x = node.find(tag)
        return float(x.text) if x is not None and x.text else None

    lsda = (bs.findtext("lsda") or "false").strip() == "true"
    nbnd = int(bs.findtext("nbnd") or 0)
    if lsda and bs.find("nbnd_up") is not None:
        nbnd = int(bs.findtext("nbnd_up"))
    ks = bs.findall("ks_energies")
    w = np.array([float(k.find("k_point").get("weight")) for k in ks])
    eig = np.array([np.array(k.find("eigenvalues").text.split(), float) for k in ks]) * HA_EV
    occ = np.array([np.array(k.find("occupations").text.split(), float) for k in ks])
    ns = 2 if lsda else 1
    eig = eig.reshape(len(ks), ns, -1).transpose(1, 0, 2)
    occ = occ.reshape(len(ks), ns, -1).transpose(1, 0, 2)
    etot = num(out.find("total_energy"), "etot")
    ef = num(bs, "fermi_energy")
    ho = num(bs, "highestOccupiedLevel")
    lu = num(bs, "lowestUnoccupiedLevel")
    return {"energy": etot * HA_EV if etot is not None else None,
            "fermi_level": ef * HA_EV if ef is not None else None,
            "highest_occupied": ho * HA_EV if ho is not None else None,
            "lowest_unoccupied": lu * HA_EV if lu is not None else None,
            "n_electrons": num(bs, "nelec"), "n_bands": nbnd, "n_spin": ns, "eigenvalues": eig,
            "occupations": occ, "weights": w / w.sum() if w.sum() else w,
            "occupations_kind": (bs.findtext("occupations_kind") or "").strip(), "path": str(path)}


def upf_valence(path) -> float:
    """``z_valence`` of a UPF pseudopotential (v1 or v2)."""
    text = Path(path).read_text(errors="replace")[:200000]
    m = re.search(r'z_valence\s*=\s*"\s*([-+0-9.eEdD]+)\s*"', text)
    if m:
        return float(m.group(1).replace("D", "E").replace("d", "e"))
    m = re.search(r"^\s*([-+0-9.eEdD]+)\s+Z valence", text, re.M)
    if m:
        return float(m.group(1).replace("D", "E").replace("d", "e"))
    raise InputError(f"no z_valence in {path}")


# --------------------------------------------------------------------------- running

def _backend(backend, **overrides):
    if backend is None or isinstance(backend, str):
        from sseflow.workflows.calculators import get_calculator

        backend = get_calculator(backend or "qe", **overrides)
    elif overrides:
        raise InputError("overrides are only accepted with a backend name")
    if getattr(backend, "name", None) != "qe":
        raise InputError(f"the QE electronic step needs the 'qe' backend, not '{getattr(backend, 'name', backend)}'")
    return backend


def qe_tool_command(backend, tool: str) -> list[str]:
    """The run command of ``tool`` (``projwfc.x``, ``pp.x``): the backend's pw.x command with
    ``pw.x`` replaced (keeps ``mpirun -n 4`` and a folder), else ``tool`` on PATH."""
    cmd = shlex.split(getattr(backend, "command", None) or "pw.x")
    for i, tok in enumerate(cmd):
        if os.path.basename(tok) == "pw.x":
            cand = os.path.join(os.path.dirname(tok), tool) if os.path.dirname(tok) else tool
            if shutil.which(cand):
                return cmd[:i] + [cand]
    if shutil.which(tool):
        return [tool]
    raise InputError(f"Quantum ESPRESSO post-processing program {tool} not found (next to pw.x or on PATH)")


def _run_tool(cmd: list[str], directory: Path, inp: str, text: str, out: str) -> None:
    (directory / inp).write_text(text)
    with open(directory / out, "w") as fh:
        proc = subprocess.run([*cmd, "-in", inp], cwd=directory, stdout=fh, stderr=subprocess.STDOUT)
    log = (directory / out).read_text(errors="replace")
    if proc.returncode != 0 or "JOB DONE" not in log:
        tail = "\n".join(log.strip().splitlines()[-8:])
        raise InputError(f"{cmd[-1]} failed in {directory} (exit {proc.returncode}):\n{tail}")


def run_projwfc(directory, backend=None, *, width: float = 0.1, de: float = 0.01, prefix: str = PREFIX,
                emin: float = -100.0, emax: float = 100.0) -> None:
    """projwfc.x on a finished pw.x run: Gaussian ``width`` eV, step ``de`` eV (files ``<prefix>.pdos_*``)."""
    d = Path(directory)
    for old in d.glob(f"{prefix}.pdos_*"):
        old.unlink()
    text = ("&projwfc\n"
            f"  prefix = '{prefix}'\n  outdir = './'\n  filpdos = '{prefix}'\n"
            f"  Emin = {emin:.4f}\n  Emax = {emax:.4f}\n  DeltaE = {de:.6f}\n"
            f"  ngauss = 0\n  degauss = {width / RY_EV:.8f}\n/\n")
    _run_tool(qe_tool_command(backend, "projwfc.x"), d, PROJWFC_IN, text, PROJWFC_OUT)


def run_pp_potential(directory, backend=None, *, prefix: str = PREFIX, fileout: str = POT_CUBE) -> Path:
    """pp.x ``plot_num = 11`` (V_bare + V_H, Ry) on the full FFT grid as a Gaussian cube."""
    d = Path(directory)
    text = ("&inputpp\n"
            f"  prefix = '{prefix}'\n  outdir = './'\n  filplot = '{prefix}.pot11'\n  plot_num = 11\n/\n"
            "&plot\n"
            f"  nfile = 1\n  filepp(1) = '{prefix}.pot11'\n  weight(1) = 1.0\n"
            f"  iflag = 3\n  output_format = 6\n  fileout = '{fileout}'\n/\n")
    _run_tool(qe_tool_command(backend, "pp.x"), d, PP_IN, text, PP_OUT)
    return d / fileout


def dipole_settings(atoms, eopreg: float | None = None) -> dict:
    """pw.x ``&control``/``&system`` entries for the dipole correction along z.

    The sawtooth's decreasing part (``eopreg``, a fraction of c: at most 0.1 and a third of
    the vacuum) is centred in the largest vacuum gap; ``emaxpos`` is its start.
    """
    c = normal_length(atoms.cell)
    width, start = vacuum_gap(atoms)
    if eopreg is None:
        eopreg = min(0.1, width / (3 * c))
    mid = (start + width / 2) / c
    emaxpos = (mid - eopreg / 2) % 1.0
    return {"control": {"tefield": True, "dipfield": True},
            "system": {"edir": 3, "emaxpos": round(emaxpos, 6), "eopreg": round(float(eopreg), 6), "eamp": 0.0}}


def _valence(atoms, backend) -> float:
    folder = Path(backend.pseudo_dir)
    return sum(upf_valence(folder / backend.pseudopotentials[s]) for s in atoms.get_chemical_symbols())


def _run_pw(atoms, backend, directory: Path, *, kpts=None, nbands: int | None = None, extra: dict | None = None):
    """pw.x scf through the backend's ASE calculator with the electronic-step changes."""
    from ase.io.espresso import Namelist

    calc = backend.ase_calculator(directory=directory)
    inp = Namelist(calc.parameters.get("input_data") or {})
    inp.to_nested("pw")
    inp["control"].update({"calculation": "scf", "prefix": PREFIX, "outdir": "./", "disk_io": "low",
                           "tstress": False, "tprnfor": True})
    if nbands is not None:
        inp["system"]["nbnd"] = int(nbands)
    inp["electrons"]["diago_full_acc"] = True  # empty bands converged like the occupied ones
    for sect, vals in (extra or {}).items():
        for k, v in vals.items():
            if v is None:
                inp[sect].pop(k, None)
            else:
                inp[sect][k] = v
    calc.parameters["input_data"] = inp
    if kpts is not None:
        calc.parameters.pop("kspacing", None)
        calc.parameters["kpts"] = tuple(int(k) for k in kpts)  # QE's unshifted mesh contains Gamma
    a = atoms.copy()
    a.set_constraint()
    a.calc = calc
    try:
        energy = float(a.get_potential_energy())
    except Exception as exc:  # noqa: BLE001 - pw.x failures of any kind
        tail = ""
        out = directory / PW_OUT
        if out.is_file():
            tail = "\n".join(out.read_text(errors="replace").strip().splitlines()[-6:])
        raise InputError(f"pw.x scf failed in {directory}: {type(exc).__name__}: {exc}\n{tail}") from None
    return a, energy, dict(inp)


def _fermi_level(xml: dict) -> float:
    """pw.x's E_F; with fixed occupations (where the data file's E_F is the HOMO) mid-gap."""
    ho, lu = xml["highest_occupied"], xml["lowest_unoccupied"]
    if xml["occupations_kind"] == "fixed" and ho is not None:
        return ho if lu is None else 0.5 * (ho + lu)
    if xml["fermi_level"] is None:
        raise InputError("no Fermi level in the pw.x data file")
    return float(xml["fermi_level"])


def _planar_potential(directory, cube: str = POT_CUBE):
    cub = read_cube(Path(directory) / cube)
    v = cub["data"] * RY_EV  # Ry -> eV, electron potential energy (vacuum = maximum)
    return cub, v.mean(axis=(0, 1)), v


# --------------------------------------------------------------------------- public

def read_qe_electronic(directory, atoms=None, *, periods: dict | None = None, width: float = 0.1,
                       de: float = 0.01, erange=(-12.0, 6.0), parameters: dict | None = None,
                       wall_time_s: float = 0.0, prefix: str = PREFIX):
    """An :class:`~sseflow.workflows.interfaces.electronic.ElectronicStructure` from a finished run directory.

    Needs the pw.x data file, projwfc.x's ``<prefix>.pdos_atm#*`` files and the pp.x cube
    ``potential.cube``. ``atoms`` (with ``arrays["side"]``) defaults to the structure in
    ``espresso.pwo`` (all atoms then count as electrolyte). The DOS grid is
    ``E_F + [erange[0], min(erange[1], top)]`` where ``top`` is 3 ``width`` below the lowest
    eigenvalue of the highest band over the k-points (above it the DOS is incomplete;
    ``parameters["dos_complete_up_to"]``).
    """
    from sseflow.workflows.interfaces.electronic import ElectronicStructure

    d = Path(directory)
    if atoms is None:
        from ase.io import read

        if not (d / PW_OUT).is_file():
            raise InputError(f"no {PW_OUT} in {d}: pass atoms")
        atoms = read(d / PW_OUT, format="espresso-out")
    a = atoms.copy()
    xml = read_qe_xml(d, prefix)
    ef = _fermi_level(xml)
    top = float(xml["eigenvalues"][:, :, -1].min())
    emax = min(float(erange[1]), top - ef - 3 * width)
    if emax < 1.0:
        raise InputError(f"only {top - ef:.2f} eV of empty states above E_F: raise nbands")
    energies = ef + np.arange(float(erange[0]), emax + de / 2, de)
    e_grid, raw = read_atom_pdos(d, len(a), prefix)
    pdos = np.array([np.interp(energies, e_grid, row, left=0.0, right=0.0) for row in raw])
    cub, vz, _ = _planar_potential(d)
    c = normal_length(a.cell)
    if abs(np.linalg.norm(cub["axes"][2]) * cub["shape"][2] - np.linalg.norm(a.cell[2])) > 1e-3:
        raise InputError("the potential cube does not span the structure's third cell vector")
    z = np.arange(len(vz)) * c / len(vz)
    # heights along the normal, in the cell (= positions[:, 2] for a cell with c along z)
    pos_z = a.get_scaled_positions(wrap=False)[:, 2] * c
    side = np.asarray(a.arrays.get("side", np.zeros(len(a), int)))
    params = dict(parameters or {})
    params.update({"nbands": xml["n_bands"], "n_electrons": xml["n_electrons"],
                   "dos_complete_up_to": round(top - ef, 4), "n_kpoints": int(xml["eigenvalues"].shape[1]),
                   "potential": "pp.x plot_num=11 (V_bare + V_H), electron potential energy"})
    return ElectronicStructure(
        energy=float(xml["energy"]), fermi_level=float(ef), energies=energies, pdos=pdos, z=z, potential=vz,
        positions_z=pos_z, side=side, symbols=a.get_chemical_symbols(), cell_length=c,
        calculator="qe", parameters=params, wall_time_s=float(wall_time_s), width=float(width),
        periods=dict(periods or {}))


def qe_electronic_structure(atoms, backend="qe", *, periods: dict | None = None, kpts=None, directory,
                            width: float = 0.1, de: float = 0.01, erange=(-12.0, 6.0), nbands: int | None = None,
                            band_factor: float = 1.5, dipole_correction: bool | None = None, **overrides):
    """pw.x scf + projwfc.x + pp.x in ``directory``, read into an ``ElectronicStructure``.

    ``backend``: a QE backend or ``"qe"`` (``overrides`` then go to it: ``ecutwfc``,
    ``pseudopotentials``, ``degauss`` ...). ``kpts`` replaces the density-based mesh
    (QE's unshifted mesh, Gamma included). ``nbands`` defaults to ``band_factor`` x the
    occupied bands + 4 (valence charges read from the pseudopotentials), all converged.
    ``dipole_correction`` (default: on when the cell has a vacuum gap wider than 6 Å) turns
    on QE's dipole correction (:func:`dipole_settings`). ``width``/``de``/``erange``: the DOS
    as in :func:`~sseflow.workflows.interfaces.electronic.electronic_structure`.
    """
    t0 = time.perf_counter()
    backend = _backend(backend, **overrides)
    a = backend._prepare(atoms)
    if directory is None:
        raise InputError("qe_electronic_structure needs a directory (projwfc.x and pp.x read the pw.x files)")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    if dipole_correction is None:
        dipole_correction = has_vacuum(a)
    nel = _valence(a, backend)
    if nbands is None:
        nbands = int(math.ceil(band_factor * math.ceil(nel / 2))) + 4
    extra = dipole_settings(a) if dipole_correction else None
    _, _, inp = _run_pw(a, backend, d, kpts=kpts, nbands=nbands, extra=extra)
    run_projwfc(d, backend, width=width, de=min(de, width / 4))
    run_pp_potential(d, backend)
    params = dict(backend.parameters)
    params.update({"kpts": list(kpts) if kpts is not None else None, "dipole_correction": bool(dipole_correction),
                   "pw_input": {k: dict(v) for k, v in inp.items()}})
    return read_qe_electronic(d, a, periods=periods, width=width, de=de, erange=erange, parameters=params,
                              wall_time_s=time.perf_counter() - t0)


def qe_bulk_reference(structure, backend="qe", *, kpts=None, directory, nbands: int | None = None,
                      occupations: str = "fixed", **overrides) -> dict:
    """Bulk band edges and cell-mean electrostatic potential with QE (keys of ``bulk_reference``).

    A gapped, spin-paired bulk: ``occupations="fixed"`` by default with ``nbands`` (default
    occupied + max(4, 20 %)) all converged; VBM/CBM are the extremes of the highest occupied /
    lowest empty band over the k-points of the mesh; ``mean_potential`` is the cell mean of
    pp.x's ``plot_num = 11`` potential (eV, the convention of :func:`qe_electronic_structure`).
    ``fermi_level`` is mid-gap for fixed occupations, pw.x's E_F with smearing.
    """
    from sseflow.workflows.calculators.base import jsonable, to_atoms

    t0 = time.perf_counter()
    backend = _backend(backend, **overrides)
    a = backend._prepare(to_atoms(structure))
    if directory is None:
        raise InputError("qe_bulk_reference needs a directory")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    nel = _valence(a, backend)
    nocc = int(round(nel / 2))
    if abs(2 * nocc - nel) > 1e-6:
        raise InputError("bulk reference needs an even number of electrons (spin-paired insulator)")
    if nbands is None:
        nbands = nocc + max(4, int(math.ceil(0.2 * nocc)))
    if nbands <= nocc:
        raise InputError("bulk reference has no empty bands: raise nbands")
    extra = {"system": {"occupations": occupations}}
    if occupations == "fixed":
        extra["system"].update({"smearing": None, "degauss": None})
    _run_pw(a, backend, d, kpts=kpts, nbands=nbands, extra=extra)
    run_pp_potential(d, backend)
    xml = read_qe_xml(d)
    eig = xml["eigenvalues"]
    if xml["n_spin"] != 1:
        raise InputError("bulk reference must be spin-paired")
    vbm = float(eig[0, :, :nocc].max())
    cbm = float(eig[0, :, nocc:].min())
    if cbm - vbm <= 0:
        raise InputError(f"bulk {a.get_chemical_formula()} has no gap on this mesh (CBM - VBM = {cbm - vbm:.3f} eV)")
    ef = 0.5 * (vbm + cbm) if xml["occupations_kind"] == "fixed" else _fermi_level(xml)
    _, _, v = _planar_potential(d)
    return {"formula": a.get_chemical_formula(mode="hill"), "energy_eV": float(xml["energy"]), "vbm": vbm,
            "cbm": cbm, "gap": cbm - vbm, "mean_potential": float(v.mean()), "fermi_level": float(ef),
            "n_kpoints": int(eig.shape[1]), "calculator": "qe", "parameters": jsonable(dict(backend.parameters)),
            "kpts": list(kpts) if kpts is not None else None, "wall_time_s": round(time.perf_counter() - t0, 2),
            "n_bands": int(eig.shape[2]), "n_occupied": nocc, "directory": str(d)}


__all__ = ["qe_electronic_structure", "read_qe_electronic", "qe_bulk_reference", "read_pdos_file", "vacuum_gap",
           "has_vacuum", "normal_length", "upf_valence", "qe_tool_command",
           "read_atom_pdos", "read_cube", "read_qe_xml", "dipole_settings", "run_projwfc", "run_pp_potential"]
