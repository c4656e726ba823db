"""Build an interface cell from a lattice match: gap, rigid-shift scan, stacking, fixed layers, tags.

The electrolyte slab sits at the bottom with its contact face up; the electrode slab is put on
top, turned over (its contact face down), strained onto the electrolyte's in-plane cell (the
default; :func:`~sseflow.workflows.interfaces.matching.find_candidates` ``strain_on``) and shifted in
plane. Turning a slab over maps frac (u, v, z) -> (u, v, -z), a mirror, as pymatgen's
``Interface.from_slabs`` does; for an achiral crystal (every crystal with an improper
symmetry operation, all the electrodes and electrolytes here) the mirror image is the same
crystal, rotated. A chiral (Sohncke) crystal gets a warning.

Stacking: ``"vacuum"`` (one interface, vacuum above the electrode, bottom electrolyte layers
fixed) or ``"periodic"`` (electrolyte | electrode | electrolyte ..., two interfaces per cell,
both with the same gap, the central electrolyte layers fixed).

Per-atom labels: ``atoms.arrays["side"]`` (0 electrolyte, 1 electrode), ``atoms.arrays["layer"]``
(1 = the plane touching the interface, counted away from it on each side), ASE tags
``-layer`` on the electrolyte and ``+layer`` on the electrode; the pymatgen Structure carries
``side``/``layer``/``fixed`` site properties.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sseflow.analysis.errors import InputError
from sseflow.analysis.slabs import plane_groups
from sseflow.workflows.calculators.registry import DEFAULT as DEFAULT_CALCULATOR
from sseflow.workflows.interfaces.matching import InterfaceCandidate, supercell_matrix

EV_PER_A2_TO_J_PER_M2 = 16.021766208
SCAN_GAPS = (1.6, 2.0, 2.4, 2.8, 3.2)  # Å: interlayer distances of the default gap/shift scan
SIDE_CODE = {"electrolyte": 0, "electrode": 1}


# --------------------------------------------------------------------------- geometry checks

def min_distance_ratio(atoms, pairs: bool = False):
    """Smallest d_ij / (r_i + r_j) over all atom pairs (covalent radii, minimum image).

    With ``pairs=True`` also returns the offending pair ``(i, j)``.
    """
    from ase.data import covalent_radii
    from ase.geometry import get_distances

    pos = atoms.get_positions()
    _, d = get_distances(pos, cell=atoms.cell, pbc=atoms.pbc)
    r = covalent_radii[atoms.numbers]
    ratio = d / (r[:, None] + r[None, :])
    np.fill_diagonal(ratio, np.inf)
    k = int(np.argmin(ratio))
    i, j = divmod(k, len(atoms))
    return (float(ratio[i, j]), (i, j)) if pairs else float(ratio[i, j])


def check_distances(atoms, min_ratio: float = 0.7) -> None:
    """Raise InputError when two atoms are closer than ``min_ratio`` x the sum of covalent radii."""
    ratio, (i, j) = min_distance_ratio(atoms, pairs=True)
    if ratio < min_ratio:
        s = atoms.get_chemical_symbols()
        raise InputError(f"atoms {i} ({s[i]}) and {j} ({s[j]}) are {ratio:.2f} x the sum of their covalent radii "
                         f"apart (< {min_ratio}): the cell is rejected")


def is_chiral(structure) -> bool:
    """True when the crystal has no improper symmetry operation (a Sohncke space group)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        ops = SpacegroupAnalyzer(structure, symprec=0.05).get_symmetry_operations()
    except Exception:  # noqa: BLE001
        return False
    return not any(np.linalg.det(op.rotation_matrix) < 0 for op in ops)


# --------------------------------------------------------------------------- result

@dataclass
class BuiltInterface:
    """An interface cell and how it was made."""

    atoms: Any                      # ase.Atoms, with tags, arrays side/layer and FixAtoms
    candidate: InterfaceCandidate
    gap: float                      # Å, between the contact planes (normal distance)
    in_plane_offset: tuple[float, float]  # frac of the interface cell, electrode vs electrolyte
    stacking: str                   # vacuum | periodic
    vacuum: float
    n_interfaces: int
    area: float                     # Å^2
    fixed: list[int]
    electrolyte_period: float       # Å, repeat distance of the electrolyte along the normal
    electrode_period: float
    scan: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def structure(self):
        """pymatgen Structure with ``side``, ``layer``, ``fixed`` site properties."""
        from pymatgen.io.ase import AseAtomsAdaptor

        a = self.atoms.copy()
        a.set_constraint()
        s = AseAtomsAdaptor.get_structure(a)
        side = ["electrolyte" if x == 0 else "electrode" for x in self.atoms.arrays["side"]]
        fixed = np.zeros(len(a), bool)
        fixed[self.fixed] = True
        for key, val in (("side", side), ("layer", [int(x) for x in self.atoms.arrays["layer"]]),
                         ("fixed", [bool(x) for x in fixed])):
            s.add_site_property(key, val)
        return s

    def side_atoms(self, side: str, extra_vacuum: float | None = None):
        """Only one side's atoms, in the same cell (for the isolated-slab energies of W_ad).

        Periodic stacking: the cell gets ``extra_vacuum`` Å (default 12) along c so the slab is
        isolated; the fixed atoms stay fixed.
        """
        from ase.constraints import FixAtoms

        code = SIDE_CODE[side]
        keep = np.where(self.atoms.arrays["side"] == code)[0]
        sub = self.atoms[keep]
        fixed = [int(np.where(keep == i)[0][0]) for i in self.fixed if i in set(keep.tolist())]
        sub.set_constraint(FixAtoms(indices=fixed) if fixed else None)
        if self.stacking == "periodic":
            ev = 12.0 if extra_vacuum is None else float(extra_vacuum)
            z = sub.get_positions()[:, 2]
            # unwrap across the periodic boundary before adding vacuum
            c = sub.cell[2, 2]
            zs = np.sort(np.mod(z, c))
            gaps = np.diff(np.concatenate([zs, [zs[0] + c]]))
            start = zs[(int(np.argmax(gaps)) + 1) % len(zs)]
            pos = sub.get_positions()
            pos[:, 2] = np.mod(pos[:, 2] - start, c)
            cell = sub.cell.array.copy()
            cell[2] = [0, 0, pos[:, 2].max() + ev]
            pos[:, 2] += ev / 2
            sub.set_cell(cell)
            # apply_constraint=False: FixAtoms would otherwise leave the fixed atoms where they
            # were, tearing the slab apart (the isolated slab's energy then makes W_ad absurd)
            sub.set_positions(pos, apply_constraint=False)
        return sub

    def summary(self) -> dict:
        c = self.candidate
        syms = self.atoms.get_chemical_symbols()
        return {
            "label": c.label, "electrolyte": c.electrolyte, "electrode": c.electrode,
            "electrolyte_miller": list(c.electrolyte_miller), "electrode_miller": list(c.electrode_miller),
            "electrolyte_termination": c.electrolyte_termination.as_dict(),
            "electrode_termination": c.electrode_termination.as_dict(),
            "formula": self.atoms.get_chemical_formula(mode="hill"), "n_atoms": len(self.atoms),
            "electrolyte_atoms": int((self.atoms.arrays["side"] == 0).sum()),
            "electrode_atoms": int((self.atoms.arrays["side"] == 1).sum()),
            "area_A2": round(self.area, 4), "strained_side": c.strained_side, "strain": c.strain,
            "von_mises_strain": c.von_mises, "electrolyte_thickness_A": round(c.electrolyte_thickness, 3),
            "electrode_thickness_A": round(c.electrode_thickness, 3), "gap_A": round(self.gap, 4),
            "in_plane_offset": [round(float(x), 4) for x in self.in_plane_offset], "stacking": self.stacking,
            "vacuum_A": self.vacuum, "n_interfaces": self.n_interfaces, "n_fixed": len(self.fixed),
            "fixed_species": sorted({syms[i] for i in self.fixed}),
            "electrolyte_period_A": round(self.electrolyte_period, 4),
            "electrode_period_A": round(self.electrode_period, 4),
            "min_distance_ratio": round(min_distance_ratio(self.atoms), 4),
            "cell": np.round(self.atoms.cell.array, 5).tolist(), "scan": self.scan, "warnings": self.warnings,
        }


# --------------------------------------------------------------------------- building

def _supercell(slab, sl_vectors):
    T = supercell_matrix(slab.lattice.matrix[:2], sl_vectors)
    T3 = np.eye(3, dtype=int)
    T3[:2, :2] = T
    s = slab.copy()
    s.make_supercell(T3)
    return s, T


def normal_period(structure, miller) -> float:
    """Shortest repeat distance of the bulk along the normal of the (hkl) planes (Å).

    The smallest positive normal component of a lattice translation of the primitive cell:
    a/2 for rock salt (100), the oriented-cell height for a primitive lattice. This is the
    window of the macroscopic average and the thickness of one DOS layer.
    """
    from fractions import Fraction

    lat = structure.lattice
    n = lat.reciprocal_lattice_crystallographic.get_cartesian_coords(np.asarray(miller, float))
    n = n / np.linalg.norm(n)
    try:
        prim = structure.get_primitive_structure().lattice
    except Exception:  # noqa: BLE001
        prim = lat
    x = np.abs(prim.matrix @ n)
    x = x[x > 1e-6]
    if len(x) == 0:
        return float(lat.d_hkl(miller))
    base = float(x.min())
    # x_i = h_i * p with integers h_i: p = base / q where q = lcm of the denominators of x_i/base
    q = 1
    for xi in x:
        fr = Fraction(float(xi / base)).limit_denominator(24)
        q = q * fr.denominator // math.gcd(q, fr.denominator)
    return base / q


def _period(term) -> float:
    """Repeat distance along the normal of the termination's bulk."""
    return normal_period(term.structure, term.miller)


class _Geometry:
    """Frac in-plane coordinates and heights of both sides, ready to assemble at any gap/offset."""

    def __init__(self, cand: InterfaceCandidate, electrolyte_slab=None, electrode_slab=None):
        from pymatgen.core import Lattice

        e_slab = electrolyte_slab or cand.slabs.get("electrolyte")
        d_slab = electrode_slab or cand.slabs.get("electrode")
        if e_slab is None or d_slab is None:
            raise InputError("the candidate carries no slabs: build it from find_candidates() output")
        e_sc, self.T_e = _supercell(e_slab, cand.electrolyte_sl_vectors)
        d_sc, self.T_d = _supercell(d_slab, cand.electrode_sl_vectors)
        ref = cand.electrolyte_sl_vectors if cand.strained_side == "electrode" else cand.electrode_sl_vectors
        a, b = np.linalg.norm(ref[0]), np.linalg.norm(ref[1])
        gamma = math.degrees(math.acos(np.clip(np.dot(ref[0], ref[1]) / (a * b), -1, 1)))
        self.inplane = Lattice.from_parameters(a, b, 10.0, 90, 90, gamma).matrix[:2]
        self.e_species = [s.specie.symbol for s in e_sc]
        self.d_species = [s.specie.symbol for s in d_sc]
        self.e_uv = np.mod(e_sc.frac_coords[:, :2], 1.0)
        self.d_uv = np.mod(d_sc.frac_coords[:, :2], 1.0)
        self.e_h = e_sc.frac_coords[:, 2] * e_sc.lattice.c
        self.e_h = self.e_h - self.e_h.min()
        hd = d_sc.frac_coords[:, 2] * d_sc.lattice.c
        self.d_h = hd.max() - hd          # turned over: contact plane at 0
        self.e_layer = _layers_from_contact(self.e_h, top_is_contact=True)
        self.d_layer = _layers_from_contact(self.d_h, top_is_contact=False)
        self.area = float(np.linalg.norm(np.cross(self.inplane[0], self.inplane[1])))
        # the electrode's own surface cell, in frac of the interface cell (for the shift scan)
        self.d_unit_frac = np.linalg.inv(self.T_d)  # rows: unit vectors in sl-frac coordinates

    def assemble(self, gap: float, offset, stacking: str, vacuum: float):
        from ase import Atoms

        e_top = self.e_h.max()
        d_thick = self.d_h.max()
        if stacking == "vacuum":
            z0 = vacuum / 2.0
            c = e_top + gap + d_thick + vacuum
        elif stacking == "periodic":
            z0 = 0.0
            c = e_top + gap + d_thick + gap
        else:
            raise InputError(f"stacking must be 'vacuum' or 'periodic', not {stacking!r}")
        uv = np.vstack([self.e_uv, np.mod(self.d_uv + np.asarray(offset, float)[None, :], 1.0)])
        z = np.concatenate([self.e_h + z0, e_top + gap + self.d_h + z0])
        cell = np.zeros((3, 3))
        cell[:2, :2] = self.inplane[:, :2]
        cell[2, 2] = c
        pos = uv @ cell[:2] + np.outer(z, [0, 0, 1])
        atoms = Atoms(self.e_species + self.d_species, positions=pos, cell=cell, pbc=True)
        atoms.arrays["side"] = np.array([0] * len(self.e_species) + [1] * len(self.d_species), dtype=int)
        atoms.arrays["layer"] = np.concatenate([self.e_layer, self.d_layer]).astype(int)
        atoms.set_tags(np.where(atoms.arrays["side"] == 0, -atoms.arrays["layer"], atoms.arrays["layer"]))
        return atoms


def _layers_from_contact(h, top_is_contact: bool, tol: float = 0.5) -> np.ndarray:
    g = plane_groups(h, tol)
    return (g.max() - g + 1) if top_is_contact else (g + 1)


def _fixed_indices(atoms, stacking: str, fixed_layers: int) -> list[int]:
    if fixed_layers <= 0:
        return []
    side = atoms.arrays["side"]
    layer = atoms.arrays["layer"]
    el = side == 0
    nl = int(layer[el].max())
    if stacking == "vacuum":
        fixed_l = set(range(nl - fixed_layers + 1, nl + 1))    # farthest from the interface
    else:
        mid = (nl + 1) / 2.0                                     # farthest from both interfaces
        order = sorted(range(1, nl + 1), key=lambda k: (abs(k - mid), k))
        fixed_l = set(order[:fixed_layers])
    if len(fixed_l) >= nl:
        raise InputError(f"cannot fix {fixed_layers} of the electrolyte's {nl} layers")
    return [int(i) for i in np.where(el & np.isin(layer, list(fixed_l)))[0]]


def build_interface(candidate: InterfaceCandidate, *, gap: float = 2.0, in_plane_offset=(0.0, 0.0),
                    stacking: str = "vacuum", vacuum: float = 12.0, fixed_layers: int = 2,
                    min_ratio: float = 0.7, scan: bool = False, scan_grid: int = 3,
                    scan_gaps=SCAN_GAPS, calculator=None, electrolyte_slab=None,
                    electrode_slab=None, progress=None) -> BuiltInterface:
    """The interface cell of ``candidate``.

    Without ``scan``: the electrode at ``gap`` Å above the electrolyte, shifted by
    ``in_plane_offset`` (fractions of the interface cell). With ``scan``: rigid shifts of the
    electrode over a ``scan_grid`` x ``scan_grid`` grid of its own surface cell times the gaps
    ``scan_gaps``; cells failing the distance check are skipped, the rest are scored by one
    single point each with ``calculator`` (a backend, a backend name, or an ASE calculator;
    default CHGNet) and the lowest energy wins. Any cell with two atoms closer than
    ``min_ratio`` x the sum of their covalent radii is rejected (InputError). ``progress``: an
    object with ``stage(name, total)`` and ``advance()`` told of each cell of the scan.
    """
    from ase.constraints import FixAtoms

    geo = _Geometry(candidate, electrolyte_slab, electrode_slab)
    warn = []
    d_struct = candidate.electrode_termination.structure
    if d_struct is not None and is_chiral(d_struct):
        warn.append(f"{candidate.electrode} is chiral: turning its slab over gives its mirror image")
    if stacking not in ("vacuum", "periodic"):
        raise InputError(f"stacking must be 'vacuum' or 'periodic', not {stacking!r}")
    rows: list[dict] = []
    if scan:
        calc = _ase_calculator(calculator)
        best = None
        if progress is not None:
            progress.stage("gap/shift scan", len(scan_gaps) * scan_grid * scan_grid)
        for g in scan_gaps:
            for i in range(scan_grid):
                for j in range(scan_grid):
                    if progress is not None:
                        progress.advance()
                    off = (i / scan_grid) * geo.d_unit_frac[0] + (j / scan_grid) * geo.d_unit_frac[1]
                    off = np.mod(off, 1.0)
                    at = geo.assemble(float(g), off, stacking, vacuum)
                    ratio = min_distance_ratio(at)
                    row = {"gap": float(g), "offset": [round(float(x), 4) for x in off],
                           "min_distance_ratio": round(ratio, 4)}
                    if ratio < min_ratio:
                        row["rejected"] = "atoms too close"
                    else:
                        at.calc = calc
                        e = float(at.get_potential_energy())
                        row["energy"] = e
                        row["energy_per_atom"] = e / len(at)
                        if best is None or e < best[0]:
                            best = (e, float(g), off)
                    rows.append(row)
        if best is None:
            raise InputError("every shift/gap of the scan puts atoms too close: widen scan_gaps")
        _, gap, in_plane_offset = best
        emin = best[0]
        if len(scan_gaps) > 1 and gap in (min(scan_gaps), max(scan_gaps)):
            warn.append(f"the best gap of the scan ({gap:g} Å) is at the edge of the scanned range "
                        f"{min(scan_gaps):g}-{max(scan_gaps):g} Å: widen it, e.g. "
                        f"'sseflow interface build ... --gap-range {max(0.5, min(scan_gaps) - 0.8):g},"
                        f"{max(scan_gaps) + 0.8:g}'")
        for r in rows:
            if "energy" in r:
                r["relative_energy"] = r["energy"] - emin
    atoms = geo.assemble(float(gap), np.asarray(in_plane_offset, float), stacking, vacuum)
    check_distances(atoms, min_ratio)
    fixed = _fixed_indices(atoms, stacking, fixed_layers)
    if fixed:
        atoms.set_constraint(FixAtoms(indices=fixed))
    built = BuiltInterface(
        atoms=atoms, candidate=candidate, gap=float(gap),
        in_plane_offset=tuple(float(x) for x in np.asarray(in_plane_offset, float)), stacking=stacking,
        vacuum=float(vacuum) if stacking == "vacuum" else 0.0, n_interfaces=1 if stacking == "vacuum" else 2,
        area=geo.area, fixed=fixed, electrolyte_period=_period(candidate.electrolyte_termination),
        electrode_period=_period(candidate.electrode_termination), scan=rows, warnings=warn)
    atoms.info["interface"] = {k: v for k, v in built.summary().items() if k not in ("scan", "cell")}
    return built


def _ase_calculator(calculator):
    if calculator is None:
        calculator = DEFAULT_CALCULATOR
    if isinstance(calculator, str):
        from sseflow.workflows.calculators import get_calculator

        return get_calculator(calculator).ase_calculator()
    if hasattr(calculator, "ase_calculator"):
        return calculator.ase_calculator()
    return calculator  # an ASE calculator


def write_structure_files(built: BuiltInterface, prefix) -> list[str]:
    """``PREFIX.extxyz`` (tags, side, layer arrays) and ``PREFIX.cif``; returns the paths."""
    from ase.io import write

    out = []
    a = built.atoms.copy()
    a.info = {k: v for k, v in a.info.items() if k != "interface"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write(f"{prefix}.extxyz", a)
        out.append(f"{prefix}.extxyz")
        built.structure.to(filename=f"{prefix}.cif")
        out.append(f"{prefix}.cif")
    return out
