"""Lattice matching of an electrolyte and an electrode: surfaces, terminations, ZSL matches, ranking.

For every low-index surface of each side (``max_index``, symmetrically distinct Miller indices
of the conventional cell) the slab terminations are enumerated with pymatgen's
``SlabGenerator``; coincident supercells come from the Zur-McGill algorithm
(``ZSLGenerator``, the same matcher ``CoherentInterfaceBuilder`` uses).

Terminations: pymatgen merges terminations in two places -- ``get_slabs(filter_out_sym_slabs=True)``
drops a slab that is the *flipped* copy of another (same slab, top and bottom exchanged: for an
interface these are different contacts), and ``CoherentInterfaceBuilder`` keys terminations by a
label of the top plane's formula and point group, so two inequivalent cuts with the same top
plane overwrite each other unless ``label_index=True``. Here every cut (shift) is kept and two
are merged only when the slabs match *and* their top (interface-facing) and bottom regions
have the same layer profile, so inequivalent terminations of polar/asymmetric slabs survive.

Strain goes on the electrode (the soft metal) by default: it is the ZSL "film", strained
onto the electrolyte ("substrate") supercell, which keeps the electrolyte's bulk band
structure intact for the Schottky analysis.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sseflow.analysis.errors import InputError
from sseflow.analysis.slabs import plane_groups

SIDES = ("electrolyte", "electrode")

# anion / network-former pairs whose bonds a termination should not cut (PS4, PO4, SiS4 ...)
_FORMERS = ("B", "Al", "Si", "P", "Ge", "Sn", "As", "Sb", "Ga", "Zr", "Ti", "Ta", "Nb", "W", "Mo")
_ANIONS = ("O", "S", "Se", "Te", "N", "F", "Cl", "Br", "I")


# --------------------------------------------------------------------------- structures

def load_structure(name_or_path):
    """A bulk pymatgen Structure from a Structure, ASE Atoms, a file path or a library name.

    Names and files are resolved by :func:`sseflow.workflows.structures.library.get_structure`
    (a file path, a library name, alias or formula; ASE's reference crystal for an element the
    library lacks). The result is the conventional standard cell, so Miller indices mean what a
    crystallographer expects.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    if hasattr(name_or_path, "lattice") and hasattr(name_or_path, "sites"):
        s = name_or_path.copy()
    elif hasattr(name_or_path, "get_positions"):
        from pymatgen.io.ase import AseAtomsAdaptor

        s = AseAtomsAdaptor.get_structure(name_or_path)
    else:
        from sseflow.workflows.structures.library import get_structure

        s = get_structure(str(name_or_path), ase_elements=True)
    if not s.is_ordered:
        raise InputError(f"structure {s.composition.reduced_formula} is disordered: order it first")
    try:
        return SpacegroupAnalyzer(s, symprec=0.05).get_conventional_standard_structure()
    except Exception:  # noqa: BLE001 - odd cells: use as given
        return s


def polyhedral_bonds(structure, scale: float = 1.15) -> dict:
    """``{(former, anion): max_dist}`` for the network formers and anions present (PS4, PO4 ...).

    A termination that cuts such a bond would break a polyanion: such cuts are avoided when
    a cut that keeps them exists.
    """
    from ase.data import atomic_numbers, covalent_radii

    comp = getattr(structure, "composition", structure)
    els = {e.symbol for e in comp.elements}
    out = {}
    for f in _FORMERS:
        for a in _ANIONS:
            if f in els and a in els and f != a:
                out[(f, a)] = scale * (covalent_radii[atomic_numbers[f]] + covalent_radii[atomic_numbers[a]])
    return out


# --------------------------------------------------------------------------- terminations

@dataclass
class Termination:
    """One contact face of a surface: a cut (``shift``), seen from above or from below.

    ``top`` is the plane that faces the interface; ``flipped`` means the cut's bottom face is
    used (the slab turned over). The slabs are kept with c normal to the surface.
    """

    side: str
    formula: str
    miller: tuple[int, int, int]
    shift: float
    flipped: bool
    index: int                 # 1-based among the distinct faces of this surface
    top: str                   # composition of the interface-facing plane
    bottom: str                # composition of the opposite plane
    symmetric: bool            # top and bottom regions alike (flipping gives the same face)
    breaks_polyhedra: bool     # the cut breaks former-anion bonds (no intact cut existed)
    slab: Any = field(default=None, repr=False)  # thin slab (pymatgen Structure, c normal)
    structure: Any = field(default=None, repr=False)  # the bulk it was cut from

    @property
    def label(self) -> str:
        h, k, l = self.miller
        return f"{self.formula}({h}{k}{l})#{self.index}:{self.top}"

    def as_dict(self) -> dict:
        return {"side": self.side, "formula": self.formula, "miller": list(self.miller), "shift": round(self.shift, 6),
                "flipped": self.flipped, "index": self.index, "label": self.label, "top": self.top,
                "bottom": self.bottom, "symmetric": self.symmetric, "breaks_polyhedra": self.breaks_polyhedra}

    def make_slab(self, thickness: float):
        """This face as a slab at least ``thickness`` Å thick (whole oriented cells), c normal, top = contact."""
        return oriented_slab(self.structure, self.miller, self.shift, thickness, self.flipped)


def oriented_slab(structure, miller, shift: float, thickness: float, flipped: bool = False):
    """pymatgen slab of ``structure`` along ``miller`` cut at ``shift``, as a Structure with c normal
    to the surface; ``flipped`` turns it over (z -> -z) so that its bottom face is on top."""
    import warnings

    from pymatgen.core.surface import SlabGenerator

    sg = SlabGenerator(structure, tuple(miller), min_slab_size=thickness, min_vacuum_size=10.0, lll_reduce=False,
                       center_slab=False, in_unit_planes=False, primitive=True, reorient_lattice=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slab = sg.get_slab(shift=shift).get_orthogonal_c_slab()
    return _as_structure(slab, flipped)


def _as_structure(slab, flipped: bool):
    from pymatgen.core import Lattice, Structure

    m = slab.lattice.matrix
    n = np.cross(m[0], m[1])
    n = n / np.linalg.norm(n)
    c = float(m[2] @ n)
    lat = Lattice([m[0], m[1], n * abs(c)])
    frac = slab.frac_coords.copy()
    if c < 0:
        frac[:, 2] *= -1
    if flipped:
        frac[:, 2] *= -1
    # unwrap: the largest empty interval along c is the vacuum; the slab starts right above it
    z = np.sort(np.mod(frac[:, 2], 1.0))
    gaps = np.diff(np.concatenate([z, [z[0] + 1.0]]))
    start = z[(int(np.argmax(gaps)) + 1) % len(z)]
    frac[:, 2] = np.mod(frac[:, 2] - start + 1e-9, 1.0) - 1e-9 + 0.02
    return Structure(lat, slab.species, frac, coords_are_cartesian=False)


def _normal_heights(slab) -> np.ndarray:
    n = np.cross(slab.lattice.matrix[0], slab.lattice.matrix[1])
    n = n / np.linalg.norm(n)
    z = slab.cart_coords @ n
    c = slab.lattice.matrix[2] @ n
    return z if c > 0 else -z


def _region_profile(species, depth, region: float = 3.5, bin_w: float = 0.25) -> tuple:
    sel = depth <= region
    return tuple(sorted((s, int(round(d / bin_w))) for s, d, m in zip(species, depth, sel) if m))


def _plane_formula(species) -> str:
    """Reduced formula of a plane, elements alphabetical, no '2' for one element (F, not F2)."""
    if not species:
        return "-"
    counts: dict[str, int] = {}
    for s in species:
        counts[s] = counts.get(s, 0) + 1
    g = math.gcd(*counts.values())
    return "".join(f"{el}{'' if n // g == 1 else n // g}" for el, n in sorted(counts.items()))


def _describe(slab, tol: float = 0.5):
    species = [s.specie.symbol for s in slab]
    z = _normal_heights(slab)
    planes = plane_groups(z, tol)
    top = [s for s, p in zip(species, planes) if p == planes.max()]
    bot = [s for s, p in zip(species, planes) if p == 0]
    return _plane_formula(top), _plane_formula(bot), _region_profile(species, z.max() - z), \
        _region_profile(species, z - z.min())


def broken_bonds(slab, bulk, bonds: dict) -> int:
    """Former-anion bonds missing in ``slab`` compared with the bulk coordination (PS4 units cut)."""
    if not bonds:
        return 0
    formers = {f for f, _ in bonds}
    rmax = max(bonds.values())

    def coordination(struct, periodic_z: bool):
        out = {}
        for i, site in enumerate(struct):
            el = site.specie.symbol
            if el not in formers:
                continue
            n = 0
            for nb in struct.get_neighbors(site, rmax):
                cut = bonds.get((el, nb.specie.symbol))
                if cut and nb.nn_distance <= cut:
                    if not periodic_z and abs(nb.frac_coords[2] - site.frac_coords[2]) > 0.5:
                        continue
                    n += 1
            out.setdefault(el, []).append(n)
        return out

    bulk_cn = {el: max(v) for el, v in coordination(bulk, True).items()}
    return int(sum(bulk_cn.get(el, 0) - n for el, v in coordination(slab, False).items() for n in v))


def surface_terminations(structure, miller, side: str = "electrolyte", ftol: float = 0.1,
                         thickness: float = 6.0, keep_polyhedra: bool = True,
                         merge_equivalent: bool = True, max_faces: int = 6) -> list[Termination]:
    """Distinct contact faces of ``structure`` cut along ``miller``.

    Every cut pymatgen proposes is kept (``filter_out_sym_slabs=False``), each seen from
    above and, when its two faces differ, from below (the slab turned over). Two faces are
    merged only when their top (contact) and bottom layer profiles agree and
    ``StructureMatcher`` maps one slab onto the other, so the inequivalent terminations of
    polar/asymmetric slabs are all kept. With ``keep_polyhedra`` cuts that break
    former-anion bonds (P-S in PS4 ...) are dropped when an intact cut exists; when every cut
    breaks some, the ``max_faces`` faces breaking the fewest are kept.
    """
    import warnings

    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.core.surface import SlabGenerator

    miller = tuple(int(x) for x in miller)
    sg = SlabGenerator(structure, miller, min_slab_size=thickness, min_vacuum_size=10.0, lll_reduce=False,
                       center_slab=False, in_unit_planes=False, primitive=True, reorient_lattice=False)
    bonds = polyhedral_bonds(structure) if keep_polyhedra else None
    broken = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slabs = sg.get_slabs(bonds=bonds, ftol=ftol, filter_out_sym_slabs=False) if bonds else []
        if not slabs:
            broken = bool(bonds)
            slabs = sg.get_slabs(ftol=ftol, filter_out_sym_slabs=False)
        slabs = sorted(slabs, key=lambda s: s.shift)
        faces = []
        for slab in slabs:
            ortho = slab.get_orthogonal_c_slab()
            nb = broken_bonds(_as_structure(ortho, False), structure, bonds) if broken else 0
            for flipped in (False, True):
                faces.append((nb, float(slab.shift), flipped, _as_structure(ortho, flipped)))
    faces.sort(key=lambda f: (f[0], f[1], f[2]))
    formula = structure.composition.reduced_formula
    kept: list[tuple[Any, tuple]] = []
    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5, primitive_cell=False, scale=False)
    out: list[Termination] = []
    for _nb, shift, flipped, st in faces:
        if broken and len(out) >= max_faces:
            break
        top, bot, top_prof, bot_prof = _describe(st)
        if flipped and top_prof == bot_prof:
            continue  # turning a symmetric slab over gives the same face
        key = (top_prof, bot_prof, len(st))
        dup = False
        if merge_equivalent:
            for other, okey in kept:
                if okey == key and matcher.fit(st, other):
                    dup = True
                    break
        if dup:
            continue
        kept.append((st, key))
        out.append(Termination(side=side, formula=formula, miller=miller, shift=shift, flipped=flipped,
                               index=len(out) + 1, top=top, bottom=bot, symmetric=(top_prof == bot_prof),
                               breaks_polyhedra=broken, slab=st, structure=structure))
    return out


def distinct_millers(structure, max_index: int = 1) -> list[tuple[int, int, int]]:
    from pymatgen.core.surface import get_symmetrically_distinct_miller_indices

    return [tuple(int(x) for x in m) for m in get_symmetrically_distinct_miller_indices(structure, max_index)]


# --------------------------------------------------------------------------- strain

def strain_2d(from_vectors, to_vectors) -> dict:
    """Strain that takes the 2D lattice ``from_vectors`` onto ``to_vectors`` (rotation removed).

    Returns per-axis engineering strains of the two superlattice vectors (``a``, ``b``), the
    change of the angle between them (degrees), the in-plane Green-Lagrange tensor
    (``tensor``, in a frame with ``a`` along x), its principal values, and the von Mises
    strain of that tensor (pymatgen's definition, the out-of-plane component left at zero).
    """
    f = np.asarray(from_vectors, dtype=float)[:2]
    t = np.asarray(to_vectors, dtype=float)[:2]

    def frame(v):
        la, lb = np.linalg.norm(v[0]), np.linalg.norm(v[1])
        cos = float(np.clip(np.dot(v[0], v[1]) / (la * lb), -1, 1))
        return np.array([[la, 0.0], [lb * cos, lb * math.sqrt(max(0.0, 1 - cos * cos))]]), la, lb, math.degrees(math.acos(cos))

    F0, la0, lb0, g0 = frame(f)
    F1, la1, lb1, g1 = frame(t)
    # rows are vectors: F1 = F0 @ D^T  ->  D = (solve(F0, F1))^T
    D = np.linalg.solve(F0, F1).T
    E = 0.5 * (D.T @ D - np.eye(2))
    E3 = np.zeros((3, 3))
    E3[:2, :2] = E
    dev = E3 - np.trace(E3) / 3 * np.eye(3)
    vm = float(np.sqrt(2.0 / 3.0 * np.sum(dev * dev)))
    return {"a": float(la1 / la0 - 1), "b": float(lb1 / lb0 - 1), "angle_deg": float(g1 - g0),
            "tensor": [[float(E[0, 0]), float(E[0, 1])], [float(E[1, 0]), float(E[1, 1])]],
            "principal": [float(x) for x in np.linalg.eigvalsh(E)], "von_mises": vm,
            "max_abs": float(max(abs(la1 / la0 - 1), abs(lb1 / lb0 - 1), *np.abs(np.linalg.eigvalsh(E))))}


ZERO_STRAIN = {"a": 0.0, "b": 0.0, "angle_deg": 0.0, "tensor": [[0.0, 0.0], [0.0, 0.0]], "principal": [0.0, 0.0],
               "von_mises": 0.0, "max_abs": 0.0}


# --------------------------------------------------------------------------- candidates

@dataclass
class InterfaceCandidate:
    """One lattice match of two terminations, with its strain, size and rank."""

    electrolyte: str
    electrode: str
    electrolyte_termination: Termination
    electrode_termination: Termination
    strained_side: str
    area: float                          # Å^2 of the interface cell
    electrolyte_sl_vectors: np.ndarray   # 2x3, superlattice vectors on the electrolyte slab
    electrode_sl_vectors: np.ndarray     # 2x3, on the electrode slab (before straining)
    strain: dict                         # side -> strain_2d dict
    n_atoms: int
    electrolyte_thickness: float         # Å, top-to-bottom atom distance of the slab
    electrode_thickness: float
    electrolyte_atoms: int
    electrode_atoms: int
    multiplicity: tuple[int, int]        # supercell areas in units of each side's surface cell
    score: float = 0.0
    rank: int = 0
    merged: int = 0                      # identical candidates (every label and number) listed as this one
    settings: dict = field(default_factory=dict)
    slabs: dict = field(default_factory=dict, repr=False)  # side -> slab (Structure, c normal) used for the counts

    @property
    def electrolyte_miller(self):
        return self.electrolyte_termination.miller

    @property
    def electrode_miller(self):
        return self.electrode_termination.miller

    @property
    def von_mises(self) -> float:
        return max(s["von_mises"] for s in self.strain.values())

    @property
    def label(self) -> str:
        return f"{self.electrolyte_termination.label} | {self.electrode_termination.label}"

    def as_dict(self) -> dict:
        return {
            "rank": self.rank, "label": self.label, "electrolyte": self.electrolyte, "electrode": self.electrode,
            "electrolyte_miller": list(self.electrolyte_miller), "electrode_miller": list(self.electrode_miller),
            "electrolyte_termination": self.electrolyte_termination.as_dict(),
            "electrode_termination": self.electrode_termination.as_dict(),
            "strained_side": self.strained_side, "area_A2": round(self.area, 4),
            "strain": self.strain, "von_mises_strain": self.von_mises,
            "n_atoms": self.n_atoms, "electrolyte_atoms": self.electrolyte_atoms, "electrode_atoms": self.electrode_atoms,
            "electrolyte_thickness_A": round(self.electrolyte_thickness, 4),
            "electrode_thickness_A": round(self.electrode_thickness, 4),
            "multiplicity": list(self.multiplicity), "score": round(self.score, 6),
            "electrolyte_sl_vectors": np.round(self.electrolyte_sl_vectors, 6).tolist(),
            "electrode_sl_vectors": np.round(self.electrode_sl_vectors, 6).tolist(),
            "settings": dict(self.settings),
        }


def _thickness(slab) -> float:
    z = _normal_heights(slab)
    return float(z.max() - z.min())


def _area(vectors) -> float:
    v = np.asarray(vectors, dtype=float)
    return float(np.linalg.norm(np.cross(v[0], v[1])))


def supercell_matrix(unit_vectors, sl_vectors) -> np.ndarray:
    """Integer 2x2 ``T`` with ``sl_vectors = T @ unit_vectors`` (raises when not a supercell)."""
    u = np.asarray(unit_vectors, dtype=float)[:2]
    sl = np.asarray(sl_vectors, dtype=float)[:2]
    T = sl @ np.linalg.pinv(u)
    Ti = np.round(T)
    if not np.allclose(T, Ti, atol=1e-4) or abs(np.linalg.det(Ti)) < 0.5:
        raise ValueError("superlattice vectors are not an integer supercell of the slab's surface cell")
    return Ti.astype(int)


def _vec_key(v) -> tuple:
    return tuple(np.round(np.asarray(v, dtype=float)[:2].ravel(), 3))


def find_candidates(electrolyte, electrode, *, max_strain: float = 0.05, max_area: float = 150.0,
                    max_atoms: int = 200, max_index: int = 1, electrolyte_millers=None, electrode_millers=None,
                    electrolyte_thickness: float = 9.0, electrode_thickness: float = 8.0,
                    strain_on: str = "electrode", keep_polyhedra: bool = True, ftol: float = 0.1,
                    max_per_pair: int = 3, weights: tuple[float, float, float] = (1.0, 0.5, 0.5),
                    limit: int | None = None, progress=None) -> list[InterfaceCandidate]:
    """Ranked lattice matches of ``electrolyte`` and ``electrode`` surfaces.

    Both sides: Miller indices up to ``max_index`` (or the given lists), each with all its
    distinct contact faces (:func:`surface_terminations`). Each pair of surfaces is matched
    with ZSL; matches whose strain on the strained side exceeds ``max_strain`` (von Mises and
    every per-axis / principal value), whose area exceeds ``max_area`` Å^2, or whose cell
    (slabs of the given thicknesses, Å, rounded up to whole oriented cells) exceeds
    ``max_atoms`` are dropped. ``max_per_pair`` keeps the best few distinct matches of each
    pair of surfaces; each is combined with every pair of faces.

    Ranking score (lower is better): ``w_s * von_mises / max_strain + w_a * area / max_area +
    w_n * n_atoms / max_atoms`` with ``weights = (w_s, w_a, w_n)``. Candidates identical in
    every label and number (faces, cuts, strains, sizes, superlattice vectors) are listed once.
    ``progress``: an object with ``stage(name, total)`` and ``advance()`` (see ``progress.py``).
    """
    from pymatgen.analysis.interfaces.zsl import ZSLGenerator

    if strain_on not in SIDES:
        raise InputError(f"strain_on must be one of {SIDES}, not {strain_on!r}")
    if not (0 < max_strain < 0.5):
        raise InputError("max_strain is a fraction (0.05 = 5 %)")
    if max_atoms < 2 or max_area <= 0:
        raise InputError("max_atoms and max_area must be positive")
    el = load_structure(electrolyte)
    ed = load_structure(electrode)
    names = {"electrolyte": _name(electrolyte, el), "electrode": _name(electrode, ed)}
    structs = {"electrolyte": el, "electrode": ed}
    thick = {"electrolyte": float(electrolyte_thickness), "electrode": float(electrode_thickness)}
    millers = {
        "electrolyte": [tuple(m) for m in electrolyte_millers] if electrolyte_millers else distinct_millers(el, max_index),
        "electrode": [tuple(m) for m in electrode_millers] if electrode_millers else distinct_millers(ed, max_index),
    }
    # side -> miller -> in-plane-lattice key -> [(termination, thick slab)]
    groups: dict[str, dict[tuple, dict[tuple, list]]] = {s: {} for s in SIDES}
    if progress is not None:
        progress.stage("surfaces", sum(len(millers[s]) for s in SIDES))
    for side in SIDES:
        for m in millers[side]:
            if progress is not None:
                progress.advance()
            for t in surface_terminations(structs[side], m, side=side, ftol=ftol, keep_polyhedra=keep_polyhedra):
                slab = t.make_slab(thick[side])
                groups[side].setdefault(m, {}).setdefault(_vec_key(slab.lattice.matrix), []).append((t, slab))
    film_side = strain_on
    sub_side = "electrolyte" if film_side == "electrode" else "electrode"
    zsl = ZSLGenerator(max_area_ratio_tol=max(0.02, 2.5 * max_strain), max_area=max_area,
                       max_length_tol=max_strain, max_angle_tol=max_strain, bidirectional=False)
    settings = {"max_strain": max_strain, "max_area": max_area, "max_atoms": max_atoms, "max_index": max_index,
                "electrolyte_thickness": thick["electrolyte"], "electrode_thickness": thick["electrode"],
                "strain_on": strain_on, "keep_polyhedra": keep_polyhedra, "ftol": ftol}
    out: list[InterfaceCandidate] = []
    if progress is not None:
        progress.stage("matching", len(groups[film_side]) * len(groups[sub_side]))
    for fgroups in groups[film_side].values():
        for sgroups in groups[sub_side].values():
            if progress is not None:
                progress.advance()
            for fkey, fterms in fgroups.items():
                for skey, sterms in sgroups.items():
                    out.extend(_match_pair(zsl, fterms, sterms, film_side, sub_side, names, max_strain, max_area,
                                           max_atoms, max_per_pair, settings))
    ws, wa, wn = weights
    for c in out:
        c.score = ws * c.von_mises / max_strain + wa * c.area / max_area + wn * c.n_atoms / max_atoms
    out.sort(key=lambda c: (round(c.score, 9), c.label))
    out = _merge_identical(out)
    for i, c in enumerate(out, 1):
        c.rank = i
    return out[:limit] if limit else out


def _candidate_key(c: InterfaceCandidate) -> str:
    """Everything a candidate reports but its rank, as text: equal keys are the same candidate."""
    import json

    d = c.as_dict()
    d.pop("rank", None)
    return json.dumps(d, sort_keys=True, default=str)


def _merge_identical(cands: list[InterfaceCandidate]) -> list[InterfaceCandidate]:
    """The candidates in order, each one that repeats an earlier one in every label and number
    dropped (counted in the earlier one's ``merged``)."""
    first: dict[str, InterfaceCandidate] = {}
    out = []
    for c in cands:
        k = _candidate_key(c)
        if k in first:
            first[k].merged += 1
            continue
        first[k] = c
        out.append(c)
    return out


def _match_pair(zsl, fterms, sterms, film_side, sub_side, names, max_strain, max_area, max_atoms, max_per_pair,
                settings) -> list[InterfaceCandidate]:
    f_vec = np.asarray(fterms[0][1].lattice.matrix[:2])
    s_vec = np.asarray(sterms[0][1].lattice.matrix[:2])
    f_area, s_area = _area(f_vec), _area(s_vec)
    matches = []
    for match in zsl(f_vec, s_vec, lowest=False):
        st = strain_2d(match.film_sl_vectors, match.substrate_sl_vectors)
        if st["von_mises"] > max_strain or st["max_abs"] > max_strain:
            continue
        area = _area(match.substrate_sl_vectors)
        if area > max_area * (1 + 1e-9):
            continue
        matches.append((st["von_mises"] + 1e-3 * area / max_area, area, st, match))
    matches.sort(key=lambda x: x[0])
    seen, picked = set(), []
    for item in matches:  # ZSL repeats equivalent cells: one per (area, strain)
        k = (round(item[1], 1), round(item[2]["von_mises"], 4), round(_area(item[3].film_sl_vectors), 1))
        if k in seen:
            continue
        seen.add(k)
        picked.append(item)
        if len(picked) >= max_per_pair:
            break
    out = []
    for _, area, st, match in picked:
        fsl = np.asarray(match.film_sl_vectors, dtype=float)
        ssl = np.asarray(match.substrate_sl_vectors, dtype=float)
        film_area = _area(fsl)
        for ft, fslab in fterms:
            for stt, sslab in sterms:
                n_f = int(round(len(fslab) * film_area / f_area))
                n_s = int(round(len(sslab) * area / s_area))
                if n_f + n_s > max_atoms:
                    continue
                by_side = {film_side: (ft, fslab, fsl, n_f, int(round(film_area / f_area)), st),
                           sub_side: (stt, sslab, ssl, n_s, int(round(area / s_area)), dict(ZERO_STRAIN))}
                e, d = by_side["electrolyte"], by_side["electrode"]
                c = InterfaceCandidate(
                    electrolyte=names["electrolyte"], electrode=names["electrode"],
                    electrolyte_termination=e[0], electrode_termination=d[0], strained_side=film_side,
                    area=area, electrolyte_sl_vectors=e[2], electrode_sl_vectors=d[2],
                    strain={"electrolyte": e[5], "electrode": d[5]}, n_atoms=n_f + n_s,
                    electrolyte_thickness=_thickness(e[1]), electrode_thickness=_thickness(d[1]),
                    electrolyte_atoms=e[3], electrode_atoms=d[3], multiplicity=(e[4], d[4]),
                    settings=dict(settings))
                c.slabs = {"electrolyte": e[1], "electrode": d[1]}
                out.append(c)
    return out


def _name(given, structure) -> str:
    if isinstance(given, (str, os.PathLike)):
        p = Path(str(given))
        return p.stem if p.suffix else str(given)
    return structure.composition.reduced_formula
