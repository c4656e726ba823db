"""ML structure search for phases the library has no citable coordinates for.

Random symmetric candidates (pyxtal ``from_random``: the formula's species, ``Z`` formula units in
the primitive cell, a space group given or drawn from those compatible with the composition) are
relaxed with a calculator backend (positions and cell, a short FIRE/BFGS run), screened (failed,
exploded, non-converged or with atoms closer than 0.5 Å: rejected), deduplicated with pymatgen's
``StructureMatcher`` and ranked by energy per atom. The result is a *searched* structure: a model
prediction of the potential, never an experimental frame; :func:`write_result` writes it as a CIF
whose header, and a side JSON, carry how it was found.

With ``units`` (e.g. ``"PS4,P2S7"``) each draw places rigid anion units with random orientations
and the rest of the formula as single atoms in void space (:func:`generate_units`), for phases
made of known molecular anions that a search over single atoms would not assemble in budget.

>>> res = search("Li2S", formula_units=1, trials=8, calculator="chgnet", seed=0)
>>> res.best.structure, res.table()
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from sseflow.analysis.errors import InputError
from sseflow.workflows.calculators.registry import DEFAULT as DEFAULT_CALCULATOR

MAX_TRIALS = 1000
MAX_FORMULA_UNITS = 12
MAX_ATOMS = 64
MIN_DISTANCE = 0.5        # Å: a relaxed candidate with atoms closer than this is rejected
MAX_VOLUME_RATIO = 4.0    # a candidate whose volume grew or shrank by more than this exploded
DEFAULT_FMAX = 0.1        # eV/Å: a screening relaxation, not a production one
DEFAULT_STEPS = 300
SYMPREC = 0.1             # Å: SpacegroupAnalyzer tolerance for the relaxed space group
ATTEMPTS_PER_TRIAL = 20   # pyxtal draws tried before a trial is given up
MAX_WYCKOFF_SETS = 1000   # enumerate Wyckoff-position sets when a space group has at most this many


def pyxtal_available() -> bool:
    try:
        import pyxtal  # noqa: F401
    except ImportError:
        return False
    return True


def _need_pyxtal():
    try:
        from pyxtal import pyxtal
    except ImportError:
        raise InputError("structure search needs pyxtal: pip install 'pyxtal>=1.0,<2'") from None
    return pyxtal


# ------------------------------------------------------------------ input

def parse_target(formula: str) -> tuple[list[str], list[int]]:
    """Species and their counts in one reduced formula unit; InputError for an unknown element."""
    from sseflow.analysis.formula import parse_formula

    comp = parse_formula(formula)
    if not comp:
        raise InputError(f"empty formula '{formula}'")
    counts = {}
    for el, n in comp.items():
        if abs(n - round(n)) > 1e-6 or round(n) <= 0:
            raise InputError(f"formula '{formula}': the search needs whole, positive atom counts")
        counts[el] = int(round(n))
    g = math.gcd(*counts.values())
    species = sorted(counts)
    return species, [counts[s] // g for s in species]


def _group(number: int):
    from pyxtal.symmetry import Group

    return Group(int(number))


def compatible(counts: list[int], z: int, number: int) -> bool:
    """Whether space group ``number`` has Wyckoff positions for ``z`` formula units (primitive cell)."""
    g = _group(number)
    n = [c * z * int(g.cellsize()) for c in counts]
    try:
        ok = g.check_compatible(n)
    except Exception:  # pyxtal raises for some impossible combinations
        return False
    return bool(ok[0] if isinstance(ok, tuple) else ok)


def compatible_groups(counts: list[int], z: int, groups=None) -> list[int]:
    """The space groups (of ``groups``, default 2-230) compatible with ``z`` formula units."""
    return [n for n in (groups or range(2, 231)) if compatible(counts, z, n)]


def formula_units_range(counts: list[int], z: int | None, max_atoms: int | None) -> list[int]:
    """The Z values searched: ``z`` alone, else every Z with at most ``max_atoms`` atoms (default
    ``MAX_ATOMS // 4`` atoms' worth, at most 4)."""
    per_fu = sum(counts)
    if z is not None and max_atoms is not None:
        raise InputError("give --formula-units or --max-atoms, not both")
    if z is not None:
        if not 1 <= z <= MAX_FORMULA_UNITS:
            raise InputError(f"--formula-units must be between 1 and {MAX_FORMULA_UNITS} (got {z})")
        if z * per_fu > MAX_ATOMS:
            raise InputError(f"--formula-units {z}: {z * per_fu} atoms, more than {MAX_ATOMS}")
        return [z]
    if max_atoms is None:
        max_atoms = min(MAX_ATOMS // 4, 4 * per_fu)
    if not 1 <= max_atoms <= MAX_ATOMS:
        raise InputError(f"--max-atoms must be between 1 and {MAX_ATOMS} (got {max_atoms})")
    zs = [z for z in range(1, MAX_FORMULA_UNITS + 1) if z * per_fu <= max_atoms]
    if not zs:
        raise InputError(f"--max-atoms {max_atoms}: one formula unit has {per_fu} atoms")
    return zs


# ------------------------------------------------------------------ rigid units

P_S_BOND = 2.05           # Å: typical thiophosphate P-S bond (PS4 3- tetrahedra, 2.03-2.06 Å)
TETRAHEDRAL = math.degrees(math.acos(-1.0 / 3.0))   # 109.47°


def _tetrahedron(r: float) -> np.ndarray:
    """Four vertices of a regular tetrahedron at distance ``r`` from the origin."""
    return np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float) / math.sqrt(3.0) * r


def _rotation(a, b) -> np.ndarray:
    """Rotation matrix taking unit vector ``a`` onto unit vector ``b`` (Rodrigues)."""
    a, b = np.asarray(a, float) / np.linalg.norm(a), np.asarray(b, float) / np.linalg.norm(b)
    v, c = np.cross(a, b), float(np.dot(a, b))
    if np.linalg.norm(v) < 1e-12:
        if c > 0:
            return np.eye(3)
        p = np.array([1.0, 0, 0]) if abs(a[0]) < 0.9 else np.array([0, 1.0, 0])
        v = np.cross(a, p)
        v /= np.linalg.norm(v)
        return 2 * np.outer(v, v) - np.eye(3)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k * (1.0 / (1.0 + c))


def _axis_rotation(axis, angle: float) -> np.ndarray:
    """Rotation by ``angle`` (radians) about the unit vector ``axis``."""
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


def unit_molecule(name: str, bond: float = P_S_BOND, bridge_angle: float = TETRAHEDRAL):
    """An idealized rigid unit as a pymatgen ``Molecule``: ``PS4`` (regular tetrahedron, P-S =
    ``bond``), ``P2S7`` (two such tetrahedra sharing one S corner, P-S(bridge)-P = ``bridge_angle``,
    mirror-symmetric), ``P2S6`` (two PS3 halves joined by a P-P bond of 2.20 Å, staggered), or one
    atom (an element symbol)."""
    from pymatgen.core import Element, Molecule

    key = name.strip()
    if key == "PS4":
        return Molecule(["P"] + ["S"] * 4, np.vstack([[0, 0, 0], _tetrahedron(bond)]))
    if key == "P2S7":
        h = math.radians(bridge_angle) / 2.0
        p1 = bond * np.array([math.sin(h), 0.0, math.cos(h)])
        p2 = p1 * np.array([-1.0, 1.0, 1.0])
        tet = _tetrahedron(bond)
        rot = _rotation(tet[0], -p1)          # one vertex of P1's tetrahedron on the bridging S
        axis = -p1 / np.linalg.norm(p1)
        best = None
        for deg in range(0, 120, 2):          # turn P1's terminal S about P1-S(bridge): farthest apart
            s1 = p1 + tet[1:] @ rot.T @ _axis_rotation(axis, math.radians(deg)).T
            s2 = s1 * np.array([-1.0, 1.0, 1.0])   # mirror image through the bridge plane x = 0
            dmin = float(np.min(np.linalg.norm(s1[:, None, :] - s2[None, :, :], axis=-1)))
            if best is None or dmin > best[0] + 1e-9:
                best = (dmin, s1, s2)
        _, s1, s2 = best
        return Molecule(["S", "P", "P"] + ["S"] * 6, np.vstack([[0, 0, 0], p1, p2, s1, s2]))
    if key == "P2S6":
        pp = 2.20
        tet = _tetrahedron(bond)
        rot = _rotation(tet[0], [0, 0, -1.0])
        s1 = np.array([0, 0, pp / 2]) + tet[1:] @ rot.T
        s2 = s1 * np.array([-1.0, -1.0, -1.0])   # inversion: staggered
        return Molecule(["P", "P"] + ["S"] * 6, np.vstack([[0, 0, pp / 2], [0, 0, -pp / 2], s1, s2]))
    try:
        Element(key)
    except ValueError:
        raise InputError(f"unknown rigid unit '{name}' (PS4, P2S7, P2S6 or an element)") from None
    return Molecule([key], [[0.0, 0.0, 0.0]])


def parse_units(text: str | None) -> list[tuple[str, int]]:
    """``"PS4,P2S7"`` or ``"PS4*2"`` -> ``[(unit, count per formula unit)]``."""
    if not text:
        return []
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, n = part.partition("*")
        try:
            k = int(n) if n else 1
        except ValueError:
            raise InputError(f"--units: '{part}' is not UNIT or UNIT*N") from None
        if k < 1:
            raise InputError(f"--units: '{part}': the count must be at least 1")
        unit_molecule(name)          # validates the name
        out.append((name.strip(), k))
    return out


def split_units(species, counts, units) -> list[tuple[str, int]]:
    """Rigid units and the single atoms left over, with counts per formula unit; InputError when
    the units hold more atoms of an element than the formula."""
    left = dict(zip(species, counts))
    for name, k in units:
        for el, n in unit_molecule(name).composition.items():
            left[str(el)] = left.get(str(el), 0) - int(n) * k
    bad = {el: n for el, n in left.items() if n < 0}
    if bad:
        raise InputError(f"the units hold more {', '.join(sorted(bad))} than {_label(species, counts)}")
    return list(units) + [(el, n) for el, n in sorted(left.items()) if n > 0]


UNIT_GAP = 3.0             # Å: closest approach of atoms of two different rigid units at generation
ATOM_GAP = {"S": 2.3, "P": 2.9, "Cl": 2.3, "Br": 2.4, "I": 2.6, "O": 1.8, "N": 1.9}  # single atom to unit atoms
ATOM_ATOM_GAP = 2.3        # Å: two single atoms
PLACEMENT_ATTEMPTS = 400   # random positions or orientations tried per unit or atom
LATTICE_ATTEMPTS = 10     # random lattices tried per draw
MIN_WIDTH = 6.0            # Å: smallest distance between lattice planes of a drawn cell (Niggli-reduced)
UNITS_VOLUME_PER_ATOM = 26.0   # Å^3: default volume of a unit draw (gamma-Li3PS4 of the library, 19.3, x 1.35)


def _place(lat, ops, mult, mols, atoms, rng):
    """Species and fractional coordinates of the units and atoms placed in ``lat``, or None."""
    from scipy.spatial.transform import Rotation

    species: list[str] = []
    frac = np.zeros((0, 3))
    owner: list[int] = []                        # which placed copy each atom belongs to
    copy_id = 0

    def images(fc):
        return [np.array([op.operate(x) for x in fc]) % 1.0 for op in ops]

    for _, m in mols:
        cart0 = m.cart_coords - m.center_of_mass
        intra = m.distance_matrix
        for _ in range(PLACEMENT_ATTEMPTS):
            rot = Rotation.random(random_state=int(rng.integers(2**31 - 1))).as_matrix()
            centre = rng.random(3)
            fc = lat.get_fractional_coords(cart0 @ rot.T) + centre
            imgs = images(fc)
            allnew = np.vstack(imgs)
            ids = np.repeat(np.arange(len(imgs)), len(fc))
            d_new = lat.get_all_distances(allnew, allnew)
            same = ids[:, None] == ids[None, :]
            if np.any(d_new[~same] < UNIT_GAP):
                continue
            if len(frac) and np.any(lat.get_all_distances(allnew, frac) < UNIT_GAP):
                continue
            # a unit must not touch its own periodic images either: a pair nearer through a
            # periodic image than within the unit must still be UNIT_GAP apart
            d_self = lat.get_all_distances(imgs[0], imgs[0])
            if np.any((d_self < intra - 0.01) & (d_self < UNIT_GAP)):
                continue
            species += [str(sp) for sp in m.species] * len(imgs)
            frac = np.vstack([frac, allnew])
            owner += list(copy_id + ids)
            copy_id += len(imgs)
            break
        else:
            return None
    anion = np.array([sp in ("S", "O", "Se", "Cl", "Br", "I", "N", "F") for sp in species])
    for _, m in atoms:
        el = str(m.species[0])
        cands = rng.random((PLACEMENT_ATTEMPTS, 3))
        pts = np.vstack([np.array([op.operate(c) for op in ops]) % 1.0 for c in cands]).reshape(len(cands), mult, 3)
        ok, near = [], []
        for i in range(len(cands)):
            im = pts[i]
            if mult > 1:
                dd = lat.get_all_distances(im, im) + np.eye(mult) * 99
                if np.min(dd) < ATOM_ATOM_GAP:
                    continue
            if len(frac):
                d = lat.get_all_distances(im, frac)
                gaps = np.array([ATOM_GAP.get(sp, ATOM_ATOM_GAP) if j < len(owner) and owner[j] >= 0 else
                                 ATOM_ATOM_GAP for j, sp in enumerate(species)])
                if np.any(d < gaps[None, :]):
                    continue
                if anion.any() and np.min(d[:, anion]) < 3.0:
                    near.append(i)
            ok.append(i)
        pick = near or ok
        if not pick:
            return None
        i = pick[int(rng.integers(len(pick)))]
        species += [el] * mult
        frac = np.vstack([frac, pts[i]])
        owner += [-1] * mult
        anion = np.concatenate([anion, np.zeros(mult, bool)])
    return species, frac


def generate_units(parts, z, number, seed, volume=None, volume_per_atom: float | None = None, lattice=None):
    """One random structure built from rigid units and single atoms in space group ``number``.

    The algorithm (pyxtal's molecular generator cannot pack these units at solid densities in
    reasonable time): a random lattice of the group's type (pyxtal ``Lattice``) with ``volume``
    (default ``volume_per_atom``, else ``UNITS_VOLUME_PER_ATOM``, x atoms), Niggli reduced and
    redrawn (``LATTICE_ATTEMPTS``) while two lattice planes are closer than ``MIN_WIDTH``; then each unit of the asymmetric unit, largest first,
    at a random fractional position with a random orientation (uniform rotation), copied by the
    group's symmetry operations (units on general positions only), kept when no atom comes within
    ``UNIT_GAP`` of another unit's atoms (``PLACEMENT_ATTEMPTS`` tries); then the single atoms at
    random void points at least ``ATOM_GAP`` from unit atoms and ``ATOM_ATOM_GAP`` from each other,
    preferring points within 3 Å of an anion of the units (a cation coordinated by them). With
    ``lattice`` (a pymatgen Lattice of the conventional cell, e.g. a cell known from diffraction)
    every draw uses that cell and only the placement is random. pymatgen Structure (primitive cell)
    or None when a unit or atom finds no room."""
    import warnings

    from pymatgen.core import Lattice, Structure
    from pymatgen.symmetry.groups import SpaceGroup

    _need_pyxtal()
    from pyxtal.lattice import Lattice as PLattice

    rng = np.random.default_rng(int(seed))
    g = _group(number)
    ops = SpaceGroup.from_int_number(int(number)).symmetry_ops
    mult = len(ops)
    items = []                                  # (name, molecule or None, copies in the cell)
    for name, k in parts:
        n = k * z * int(g.cellsize())
        if n % mult:
            return None                          # not on general positions: not supported here
        mol = unit_molecule(name)
        items.extend([(name, mol)] * (n // mult))
    n_atoms = sum(len(m) for _, m in items) * mult
    if volume is None:
        volume = (volume_per_atom or UNITS_VOLUME_PER_ATOM) * n_atoms
    mols = sorted([(nm, m) for nm, m in items if len(m) > 1], key=lambda t: -len(t[1]))
    atoms = [(nm, m) for nm, m in items if len(m) == 1]
    for _ in range(LATTICE_ATTEMPTS):
        if lattice is not None:
            lat = lattice
        else:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    lat = Lattice(PLattice(g.lattice_type, volume=float(volume), random_state=rng).matrix)
                    lat = lat.get_niggli_reduced_lattice()
            except Exception:
                continue
            a, b, c = lat.matrix
            widths = [lat.volume / np.linalg.norm(np.cross(u, v)) for u, v in ((b, c), (c, a), (a, b))]
            if min(widths) < MIN_WIDTH:
                continue                               # a slab-like cell: units cannot fit across it
        placed = _place(lat, ops, mult, mols, atoms, rng)
        if placed is not None:
            break
    else:
        return None
    species, frac = placed
    s = Structure(lat, species, frac)
    try:
        s = s.get_primitive_structure(tolerance=0.01)
    except Exception:
        pass
    return s.get_sorted_structure()


# ------------------------------------------------------------------ result

@dataclass
class Candidate:
    trial: int
    z: int
    spacegroup_generated: int
    seed: int
    status: str = "pending"          # accepted / rejected
    reason: str | None = None
    energy_per_atom: float | None = None
    structure: object = None         # relaxed pymatgen Structure
    spacegroup_symbol: str | None = None
    spacegroup_number: int | None = None
    n_steps: int = 0
    wall_time_s: float = 0.0
    duplicates: int = 0              # other accepted candidates StructureMatcher merged into this one
    wyckoff: list | None = None      # the Wyckoff positions drawn per species (enumerated sampling)

    def row(self, e_min: float | None = None) -> dict:
        rel = None
        if self.energy_per_atom is not None and e_min is not None:
            rel = 1000.0 * (self.energy_per_atom - e_min)
        return {"trial": self.trial, "z": self.z, "spacegroup_generated": self.spacegroup_generated,
                "status": self.status, "reason": self.reason, "energy_per_atom": self.energy_per_atom,
                "relative_energy_meV": rel, "spacegroup": self.spacegroup_symbol,
                "spacegroup_number": self.spacegroup_number,
                "nsites": len(self.structure) if self.structure is not None else None,
                "n_steps": self.n_steps, "duplicates": self.duplicates,
                **({"wyckoff": self.wyckoff} if self.wyckoff is not None else {}),
                "wall_time_s": round(self.wall_time_s, 3)}


class RankedStructures:
    """The ranking shared by a search and an ordering: ``distinct`` holds the accepted,
    deduplicated structures, lowest energy first (each with ``energy_per_atom`` and ``row(e0)``)."""

    distinct: list

    @property
    def best(self):
        return self.distinct[0] if self.distinct else None

    @property
    def gap_meV(self) -> float | None:
        """Energy of the next distinct structure above the best one (meV/atom)."""
        if len(self.distinct) < 2:
            return None
        return 1000.0 * (self.distinct[1].energy_per_atom - self.distinct[0].energy_per_atom)

    def table(self) -> list[dict]:
        """Ranked distinct structures: energy/atom, relaxed space group, energy relative to the best."""
        e0 = self.best.energy_per_atom if self.best else None
        return [{"rank": i + 1, **c.row(e0)} for i, c in enumerate(self.distinct)]


@dataclass
class SearchResult(RankedStructures):
    formula: str
    species: list
    counts: list
    zs: list
    spacegroups: list | None         # the groups given, or None for "every compatible group"
    trials: int
    calculator: str
    model: str
    seed: int
    fmax: float
    steps: int
    candidates: list = field(default_factory=list)   # every trial, in trial order
    distinct: list = field(default_factory=list)     # accepted, deduplicated, lowest energy first
    wall_time_s: float = 0.0
    units: list | None = None        # rigid units and atoms per formula unit, for a unit search
    volume_per_atom: float | None = None
    lattice: tuple | None = None     # (a, b, c, alpha, beta, gamma) of a given cell
    lattice_source: str | None = None
    wyckoff_sets: dict | None = None  # {"Z/group": number of Wyckoff-position sets} when enumerated
    wyckoff_given: list | None = None  # the one Wyckoff-position set every draw used, when given

    def provenance(self) -> dict:
        import sseflow

        b = self.best
        return {
            "origin": "searched",
            "note": "predicted by a random symmetric structure search relaxed with a machine-learned or "
                    "model potential; not an experimental structure",
            "formula": self.formula,
            "spacegroup": b.spacegroup_symbol if b else None,
            "spacegroup_number": b.spacegroup_number if b else None,
            "spacegroup_generated": b.spacegroup_generated if b else None,
            "spacegroups_searched": self.spacegroups or "all compatible",
            "z": b.z if b else None,
            "formula_units_searched": self.zs,
            "trials": self.trials,
            "accepted": sum(c.status == "accepted" for c in self.candidates),
            "distinct": len(self.distinct),
            "calculator": self.calculator,
            "model": self.model,
            "fmax_eV_A": self.fmax,
            "max_steps": self.steps,
            "energy_per_atom_eV": b.energy_per_atom if b else None,
            "energy_above_next_distinct_meV": (-self.gap_meV if self.gap_meV is not None else None),
            "gap_to_next_distinct_meV": self.gap_meV,
            "seed": self.seed,
            "trial": b.trial if b else None,
            "sseflow_version": sseflow.__version__,
            "pyxtal_version": _pyxtal_version(),
            **({"units": [f"{n}*{k}" if k != 1 else n for n, k in self.units],
                "unit_geometry": f"idealized rigid units: regular PS4 tetrahedra, P-S {P_S_BOND} A; P2S7 two "
                                 f"such tetrahedra sharing a corner, P-S-P {TETRAHEDRAL:.2f} deg; placed with "
                                 "random orientations on general positions, single atoms at random void points",
                **({} if self.lattice else {"volume_per_atom_A3": self.volume_per_atom or UNITS_VOLUME_PER_ATOM})}
               if self.units else {}),
            "wyckoff_sampling": (("given: every draw on the Wyckoff positions "
                                  + "; ".join(f"{el} {','.join(w)}" for el, w in zip(self.species, self.wyckoff_given)))
                                 if self.wyckoff_given else
                                 "enumerated: the trials cycle through every Wyckoff-position set of the group "
                                 "(pyxtal list_wyckoff_combinations) in a seeded order, "
                                 + ", ".join(f"{k}: {v} sets" for k, v in self.wyckoff_sets.items())
                                 if self.wyckoff_sets else "random (pyxtal from_random)"),
            **({"cell_given": [round(float(x), 5) for x in self.lattice],
                "cell_source": self.lattice_source,
                "cell_protocol": "every draw in the given conventional cell; each candidate relaxed first with the "
                                 "cell fixed (positions only), then with the cell free"} if self.lattice else {}),
        }

    def to_dict(self) -> dict:
        return {"provenance": self.provenance(), "table": self.table(),
                "candidates": [c.row(self.best.energy_per_atom if self.best else None) for c in self.candidates],
                "wall_time_s": round(self.wall_time_s, 3)}


def _pyxtal_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("pyxtal")
    except Exception:
        return None


def _model_name(backend) -> str:
    p = backend.parameters
    if backend.name == "chgnet":
        return f"CHGNet {p.get('model', '0.3.0')}"
    if backend.name == "sevennet":
        return f"SevenNet {p.get('model', 'SevenNet-0')}"
    if backend.name == "emt":
        return "ASE EMT"
    return backend.name


# ------------------------------------------------------------------ search

def wyckoff_sets(species, counts, z, number) -> list | None:
    """Every set of Wyckoff positions of group ``number`` that holds Z formula units (per species,
    a list of position labels, pyxtal's ``list_wyckoff_combinations``), or None when there are more
    than ``MAX_WYCKOFF_SETS`` or pyxtal cannot list them."""
    _need_pyxtal()
    from pyxtal.symmetry import Group

    g = _group(number)
    n = [c * z * int(g.cellsize()) for c in counts]
    try:
        combos, _free, _idx = Group(int(number)).list_wyckoff_combinations(n, Nmax=MAX_WYCKOFF_SETS + 1)
    except Exception:
        return None
    if not combos or len(combos) > MAX_WYCKOFF_SETS:
        return None
    return [[list(x) for x in c] for c in combos]


def parse_wyckoff(text, species, counts, z, number) -> list:
    """``"Li:8d,4c,4c;Ge:4c;S:8d,4c,4c"`` -> per species (in ``species`` order) a list of Wyckoff
    labels of group ``number``, checked to exist and to hold Z formula units of the conventional cell."""
    g = _group(number)
    labels = {f"{w.multiplicity}{w.letter}": w.multiplicity for w in g.Wyckoff_positions}
    given: dict[str, list[str]] = {}
    for part in str(text).replace(" ", "").split(";"):
        if not part:
            continue
        el, sep, rest = part.partition(":")
        if not sep or not rest:
            raise InputError(f"--wyckoff: '{part}' is not EL:POS,POS,.. (e.g. Li:8d,4c;S:4c)")
        if el in given:
            raise InputError(f"--wyckoff: {el} is given twice")
        given[el] = [w for w in rest.split(",") if w]
    if set(given) != set(species):
        raise InputError(f"--wyckoff must give the positions of every element: {', '.join(species)}")
    out = []
    for el, c in zip(species, counts):
        for w in given[el]:
            if w not in labels:
                raise InputError(f"--wyckoff: space group {number} ({g.symbol}) has no position {w} "
                                 f"(it has {', '.join(sorted(labels, key=lambda x: (labels[x], x)))})")
        want = c * z * int(g.cellsize())
        have = sum(labels[w] for w in given[el])
        if have != want:
            raise InputError(f"--wyckoff: the positions of {el} hold {have} atoms; Z = {z} in {g.symbol} "
                             f"needs {want} (conventional cell)")
        out.append(given[el])
    return out


def generate(species, counts, z, number, seed, lattice=None, sites=None):
    """One random symmetric structure (pymatgen, reduced to its primitive cell) or None; in the
    conventional cell ``lattice`` (pymatgen Lattice) when given, on the Wyckoff positions ``sites``
    (per species, e.g. ``[["2c"], ["2b", "4f"]]``) when given."""
    pyxtal = _need_pyxtal()
    g = _group(number)
    n = [c * z * int(g.cellsize()) for c in counts]
    import warnings

    import contextlib
    import io

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        c = pyxtal()
        try:
            kw = {}
            if lattice is not None:
                from pyxtal.lattice import Lattice as PLattice

                kw["lattice"] = PLattice.from_para(*lattice.abc, *lattice.angles, ltype=g.lattice_type)
            if sites is not None:
                kw["sites"] = [list(x) for x in sites]
            c.from_random(3, int(number), list(species), n, random_state=int(seed), **kw)
        except Exception:
            return None
        if not c.valid:
            return None
        s = c.to_pymatgen()
    try:
        s = s.get_primitive_structure(tolerance=0.01)
    except Exception:
        pass
    return s.get_sorted_structure()


def _too_close(s) -> float | None:
    """The shortest distance (periodic images included) when below ``MIN_DISTANCE``, else None."""
    from sseflow.workflows.structures.validate import closest_pair

    pair = closest_pair(s, MIN_DISTANCE)
    return None if pair is None else float(pair[2])


def _screen(cand: Candidate, res, initial, fmax) -> str | None:
    """Why a relaxed candidate is rejected, or None."""
    if res.status != "completed":
        return f"failed: {res.error or res.status}"
    if not res.converged:
        return f"not converged in {res.n_steps} steps (max force {res.max_force:.2g} eV/Å > {fmax:g})"
    e = float(res.energy_per_atom)
    if not math.isfinite(e):
        return "non-finite energy"
    s = res.structure
    ratio = s.volume / initial.volume
    if not 1.0 / MAX_VOLUME_RATIO <= ratio <= MAX_VOLUME_RATIO:
        return f"exploded (volume x{ratio:.2f})"
    d = _too_close(s)
    if d is not None:
        return f"atoms {d:.2f} Å apart (< {MIN_DISTANCE} Å)"
    return None


def _spacegroup(s) -> tuple[str | None, int | None]:
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        a = SpacegroupAnalyzer(s, symprec=SYMPREC)
        return a.get_space_group_symbol(), int(a.get_space_group_number())
    except Exception:
        return None, None


def dedupe(cands: list[Candidate]) -> list[Candidate]:
    """Accepted candidates grouped with ``StructureMatcher``; one per group (the lowest in
    energy, its ``duplicates`` counting the rest), lowest energy first."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    sm = StructureMatcher()
    out: list[Candidate] = []
    for c in sorted(cands, key=lambda c: (c.energy_per_atom, c.trial)):
        for d in out:
            if sm.fit(d.structure, c.structure):
                d.duplicates += 1
                break
        else:
            out.append(c)
    return out


def search(formula: str, spacegroup: int | None = None, formula_units: int | None = None,
           max_atoms: int | None = None, trials: int = 8, calculator: str = DEFAULT_CALCULATOR, seed: int = 0,
           fmax: float = DEFAULT_FMAX, steps: int = DEFAULT_STEPS, calculator_params: dict | None = None,
           progress: Callable[[Candidate], None] | None = None, units: str | list | None = None,
           volume_per_atom: float | None = None, lattice=None, lattice_source: str | None = None,
           wyckoff: str | None = None) -> SearchResult:
    """Random symmetric candidates of ``formula`` relaxed with ``calculator``; deterministic for a seed.

    ``units`` (e.g. ``"PS4,P2S7"``, per formula unit) makes it a molecular-unit search: the units
    are placed rigid with random orientations, the rest of the formula as single atoms
    (:func:`generate_units`); it needs ``spacegroup``. ``volume_per_atom`` sets the volume of each
    draw (default: pyxtal's estimate). ``lattice`` (a pymatgen Lattice or six cell parameters: a
    conventional cell known from diffraction, with ``lattice_source`` saying where from) fixes the
    cell of every draw; each candidate is then relaxed first in that cell (positions only), then
    with the cell free. It needs one Z (``formula_units``), and the cell's volume must give
    5-100 Å^3 per atom. ``wyckoff`` (``"Li:8d,4c,4c;Ge:4c;S:8d,4c,4c"``, with ``spacegroup`` and
    one ``formula_units``) puts every draw on that set of Wyckoff positions, e.g. the one a
    diffraction study reports for a phase whose coordinates are not available."""
    species, counts = parse_target(formula)
    unit_list = parse_units(units) if isinstance(units, (str, type(None))) else list(units)
    parts = split_units(species, counts, unit_list) if unit_list else None
    if parts is not None and spacegroup is None:
        raise InputError("--units needs --spacegroup")
    if volume_per_atom is not None and not 1.0 <= float(volume_per_atom) <= 200.0:
        raise InputError(f"--volume-per-atom must be between 1 and 200 A^3 (got {volume_per_atom})")
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= MAX_TRIALS:
        raise InputError(f"--trials must be between 1 and {MAX_TRIALS} (got {trials})")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"--seed must be a whole number >= 0 (got {seed})")
    zs = z_range = formula_units_range(counts, formula_units, max_atoms)
    lattice = _given_lattice(lattice)
    if lattice is not None:
        if spacegroup is None or formula_units is None:
            raise InputError("--lattice needs --spacegroup and --formula-units (the cell's content)")
        n_cell = sum(counts) * int(formula_units) * int(_group(int(spacegroup)).cellsize()) if 1 <= int(spacegroup) <= 230 else 0
        if n_cell and not 5.0 <= lattice.volume / n_cell <= 100.0:
            raise InputError(f"the given cell holds {n_cell} atoms at {lattice.volume / n_cell:.1f} A^3 per atom "
                             f"(expected 5-100): check --lattice, --spacegroup and --formula-units")
    _need_pyxtal()
    if spacegroup is not None:
        if not 1 <= int(spacegroup) <= 230:
            raise InputError(f"--spacegroup must be between 1 and 230 (got {spacegroup})")
        zs = [z for z in z_range if parts is not None or compatible(counts, z, spacegroup)]
        if not zs:
            sym = _group(spacegroup).symbol
            raise InputError(f"space group {spacegroup} ({sym}) has no Wyckoff positions for "
                             f"{_label(species, counts)} with Z = {', '.join(map(str, z_range))}")
        groups_by_z = {z: [int(spacegroup)] for z in zs}
    else:
        groups_by_z = {z: compatible_groups(counts, z) for z in zs}
        zs = [z for z in zs if groups_by_z[z]]
        if not zs:
            raise InputError(f"no space group fits {_label(species, counts)} with Z = "
                             f"{', '.join(map(str, z_range))}")

    from sseflow.workflows.calculators import get_calculator

    backend = get_calculator(calculator, **(calculator_params or {}))
    out = SearchResult(formula=_label(species, counts), species=species, counts=counts, zs=zs,
                       spacegroups=[int(spacegroup)] if spacegroup is not None else None, trials=trials,
                       calculator=backend.name, model=_model_name(backend), seed=seed, fmax=float(fmax),
                       steps=int(steps), units=parts,
                       volume_per_atom=float(volume_per_atom) if volume_per_atom is not None else None,
                       lattice=(tuple(lattice.abc) + tuple(lattice.angles)) if lattice is not None else None,
                       lattice_source=lattice_source)
    atoms_per_fu = sum(counts)
    rng = np.random.default_rng(seed)
    # one space group given, no rigid units: cycle through its Wyckoff-position sets (each once, in a
    # seeded order, before any repeats) instead of letting every draw pick them at random
    sets_by_z: dict[int, list] = {}
    if wyckoff is not None:
        if spacegroup is None or formula_units is None or parts is not None:
            raise InputError("--wyckoff needs --spacegroup and --formula-units, and no --units")
        out.wyckoff_given = parse_wyckoff(wyckoff, species, counts, int(formula_units), int(spacegroup))
        sets_by_z[int(formula_units)] = [out.wyckoff_given]
    elif spacegroup is not None and parts is None:
        order_rng = np.random.default_rng(seed + 7919)
        for z in zs:
            found = wyckoff_sets(species, counts, z, int(spacegroup))
            if found:
                sets_by_z[z] = [found[i] for i in order_rng.permutation(len(found))]
        if sets_by_z:
            out.wyckoff_sets = {f"Z={z}/{int(spacegroup)}": len(v) for z, v in sets_by_z.items()}
    t_all = time.perf_counter()
    for k in range(trials):
        z = zs[k % len(zs)]
        t0 = time.perf_counter()
        s0 = None
        sites = None
        if z in sets_by_z:
            sites = sets_by_z[z][(k // len(zs)) % len(sets_by_z[z])]
        for _ in range(ATTEMPTS_PER_TRIAL):
            groups = groups_by_z[z]
            number = int(groups[int(rng.integers(len(groups)))])
            trial_seed = int(rng.integers(2**31 - 1))
            if parts is None:
                s0 = generate(species, counts, z, number, trial_seed, lattice=lattice, sites=sites)
            else:
                vol = float(volume_per_atom or UNITS_VOLUME_PER_ATOM) * atoms_per_fu * z * int(_group(number).cellsize())
                s0 = generate_units(parts, z, number, trial_seed, volume=vol, lattice=lattice)
            if s0 is not None:
                break
        cand = Candidate(trial=k + 1, z=z, spacegroup_generated=number, seed=trial_seed, wyckoff=sites)
        if s0 is None:
            cand.status, cand.reason = "rejected", f"pyxtal found no structure in {ATTEMPTS_PER_TRIAL} draws"
        else:
            d0 = _too_close(s0)
            if d0 is not None:  # overlapping atoms in the draw; other InputErrors (the calculator's) propagate
                reason = f"atoms {d0:.2f} Å apart before relaxation (< {MIN_DISTANCE} Å)"
            else:
                n0 = 0
                if lattice is not None:   # settle the placement in the given cell first
                    fixed = backend.relax(s0, fmax=fmax, steps=steps, relax_cell=False)
                    s0, n0 = fixed.structure, int(fixed.n_steps)
                res = backend.relax(s0, fmax=fmax, steps=steps, relax_cell=True)
                reason = _screen(cand, res, s0, fmax)
                cand.n_steps = n0 + int(res.n_steps)
            if reason:
                cand.status, cand.reason = "rejected", reason
            else:
                cand.status = "accepted"
                cand.structure = res.structure
                cand.energy_per_atom = float(res.energy_per_atom)
                cand.spacegroup_symbol, cand.spacegroup_number = _spacegroup(res.structure)
        cand.wall_time_s = time.perf_counter() - t0
        out.candidates.append(cand)
        if progress is not None:
            progress(cand)
    out.distinct = dedupe([c for c in out.candidates if c.status == "accepted"])
    out.wall_time_s = time.perf_counter() - t_all
    return out


def _given_lattice(lattice):
    """A pymatgen Lattice from a Lattice, or six cell parameters (Å, degrees); None for None."""
    if lattice is None:
        return None
    from pymatgen.core import Lattice

    if isinstance(lattice, Lattice):
        return lattice
    try:
        v = [float(x) for x in lattice]
    except (TypeError, ValueError):
        raise InputError(f"a cell is six numbers a, b, c, alpha, beta, gamma (got {lattice!r})") from None
    if len(v) != 6 or not all(np.isfinite(v)) or min(v[:3]) <= 0 or not all(0 < x < 180 for x in v[3:]):
        raise InputError(f"a cell is six numbers a, b, c > 0 (Å) and 0 < alpha, beta, gamma < 180 (got {lattice!r})")
    try:
        lat = Lattice.from_parameters(*v)
    except Exception:
        raise InputError(f"the cell parameters {lattice!r} give no lattice") from None
    if not lat.volume > 1e-6 or not np.isfinite(lat.volume):
        raise InputError(f"the cell parameters {lattice!r} give no volume")
    return lat


def _label(species, counts) -> str:
    return "".join(f"{s}{n if n != 1 else ''}" for s, n in zip(species, counts))


# ------------------------------------------------------------------ output

def symmetrized_cif(structure) -> str:
    """CIF text of ``structure`` with its symmetry (``SYMPREC``), plain P1 when that fails."""
    from pymatgen.io.cif import CifWriter

    try:
        return str(CifWriter(structure, symprec=SYMPREC))
    except Exception:  # noqa: BLE001 - spglib cannot symmetrize it: write it as it is
        return str(CifWriter(structure))


def cif_text(result: SearchResult) -> str:
    """The best candidate as CIF (symmetrized), its provenance as ``#`` header lines."""
    b = result.best
    if b is None:
        raise InputError("the search found no acceptable structure")
    p = result.provenance()
    body = symmetrized_cif(b.structure)
    gap = p["gap_to_next_distinct_meV"]
    head = [
        f"# {p['formula']}: SEARCHED structure (ML structure search), not an experimental structure",
        f"# searched: space group {p['spacegroup']} ({p['spacegroup_number']}) after relaxation, "
        f"generated in {p['spacegroup_generated']}; Z = {p['z']}",
        f"# searched: trials {p['trials']} ({p['accepted']} accepted, {p['distinct']} distinct); "
        f"space groups {p['spacegroups_searched']}; Z searched {p['formula_units_searched']}",
        f"# model: {p['model']} (calculator {p['calculator']}, fmax {p['fmax_eV_A']:g} eV/A, "
        f"max steps {p['max_steps']})",
        f"# energy per atom: {p['energy_per_atom_eV']:.6f} eV",
        "# energy above the next distinct candidate: "
        + (f"{-gap:.1f} meV/atom (next distinct candidate {gap:.1f} meV/atom higher)" if gap is not None
           else "n/a (one distinct candidate)"),
        *([f"# searched with rigid units: {', '.join(p['units'])} per formula unit; {p['unit_geometry']}"
           + (f"; volume {p['volume_per_atom_A3']:g} A^3/atom at generation" if p.get('volume_per_atom_A3') else "")]
          if p.get("units") else []),
        *([f"# cell given: a, b, c, alpha, beta, gamma = {', '.join(f'{x:g}' for x in p['cell_given'])}"
           + (f" ({p['cell_source']})" if p.get("cell_source") else "") + f"; {p['cell_protocol']}"]
          if p.get("cell_given") else []),
        f"# seed: {p['seed']} (trial {p['trial']})",
        f"# sseflow version: {p['sseflow_version']}; pyxtal {p['pyxtal_version']}",
    ]
    return "\n".join(head) + "\n" + body


def write_ranked(result, directory: str | Path, stem: str, cif_text_of: Callable) -> dict:
    """``<stem>.cif`` (the best structure with its provenance header, ``cif_text_of(result)``) and
    ``<stem>.json`` (the whole result) in ``directory``; their paths."""
    from sseflow.workflows.calculators.base import jsonable

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = {}
    if result.best is not None:
        cif = d / f"{stem}.cif"
        cif.write_text(cif_text_of(result))
        paths["cif"] = str(cif)
    js = d / f"{stem}.json"
    js.write_text(json.dumps(jsonable({**result.to_dict(), "files": paths}), indent=1) + "\n")
    paths["json"] = str(js)
    return paths


def write_result(result: SearchResult, directory: str | Path) -> dict:
    """``<formula>_searched.cif`` and ``<formula>_searched.json`` in ``directory``; their paths."""
    return write_ranked(result, directory, f"{result.formula}_searched", cif_text)
