"""Substitution screening of an electrolyte: substituted and charge-compensated structures,
their relaxation with a calculator backend, and their thermodynamics against a reference set.

The science without structures (oxidation states, charge balance, proposals, ranking, table,
figure) is in :mod:`sseflow.analysis.substitution`. Here:

* :func:`load_host`: a library name (``Li10GeP2S12``), a structure file or a pymatgen Structure;
* :func:`build_variant`: the structure of one :class:`~sseflow.analysis.substitution.Variant`:
  every site atom replaced, then

  - **Li interstitials** at the largest empty spheres of a deterministic void search
    (:func:`find_voids`): a grid of spacing ``VOID_GRID_A`` (0.25 Å) over the cell; the point
    farthest from every atom (periodic images included) takes the first Li; the search is
    repeated with that Li added, so each new Li goes to the largest void left (ties: the first
    grid point, in the order a, b, c of the fractional grid);
  - **anion vacancies**: the anion nearest to a substituted site is removed, the substituted sites
    taking turns in site order (the vacancy bound to the lower-valent substituent, which
    attracts it electrostatically; ties: the lowest site index);
  - **Li vacancies**: the same rule with Li (the Li nearest to the higher-valent substituent);

  the relaxation (positions and cell) then lets the structure settle;
* **partial substitution** (``fraction`` x < 1): :func:`choose_supercell` takes the smallest
  diagonal supercell of the host cell (at most 4 cells) in which x N site atoms are a whole
  number k (among the scalings of that many cells the most compact: the longest shortest
  lattice vector, then the shortest longest one, then a before b before c), and
  :func:`rank_orderings` ranks the symmetry-distinct ways of choosing the k sites: every
  combination is enumerated (up to ``MAX_COMBINATIONS``; beyond, the ``DEFAULT_RANKED`` lowest
  of pymatgen's ``OrderDisorderedStructureTransformation``, as in
  :mod:`sseflow.workflows.structures.ordering`), combinations related by a symmetry operation of
  the host supercell (spglib through pymatgen's ``SpacegroupAnalyzer``, symprec 0.01 Å, its
  lattice translations included) are one ordering, and the orderings are ranked by their Ewald
  energy with formal charges (pymatgen ``EwaldSummation``; the host's oxidation states, the
  substituent's from :func:`~sseflow.analysis.substitution.substituent_oxidation_state`); ties
  (always so for an isovalent substituent) go to the most spread-out substituents (the lower
  Ewald energy of the substituted sites alone as unit charges), then to the lowest site
  indices. The ``orderings`` (default 3) lowest are built (each with its compensation, placed
  by the rules above) and relaxed; the lowest energy per atom is kept and its notes give the
  energy gap to the next relaxed ordering;
* :func:`screen_substitutions`: every candidate and the host relaxed with one backend (default
  CHGNet), together with the elemental phases of their elements; formation energies from the
  *same backend's* elements and merged with the reference file by the functions a study's
  ``reference: both`` uses (:func:`sseflow.workflows.computed_entries.entries_from_results`,
  the file's entries of the chemical system through
  ``sseflow.workflows.stages.thermo.merge_file_entries`` /
  :func:`sseflow.workflows.computed_entries.merge_entries`, which refuse to mix correction
  schemes). Each candidate gets its own reference set (the file's entries of its system with Li
  and Si, plus its computed entry and the computed elements), so candidates are not measured
  against each other. E_hull, the stability window (:class:`sseflow.analysis.window.WindowCalculator`:
  the window of the equilibrium assemblage at its composition) and the most negative chemical
  reaction energy with Li and with Li15Si4 (:class:`sseflow.analysis.reactions.ReactionCalculator`,
  the candidate at its computed energy) follow.
"""
from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from sseflow.analysis.errors import InputError
from sseflow.workflows.calculators.registry import DEFAULT as DEFAULT_CALCULATOR

VOID_GRID_A = 0.25
MAX_COMBINATIONS = 20000   # site choices enumerated exhaustively for a partial substitution
DEFAULT_ORDERINGS = 3      # orderings of a partial substitution relaxed
ALLOY = "Li15Si4"
LITERATURE = ("A published screening of Ge substitution in Li10GeP2S12 reports Li10SrP2S12 with a "
              "0.13 eV Schottky barrier and a 3.10 Å electron-transfer region against Li metal.")


# --------------------------------------------------------------------------- structures

def load_host(host) -> tuple[Any, str]:
    """(pymatgen Structure, name) of a library name, a structure file or a Structure."""
    from pymatgen.core import Structure

    if isinstance(host, Structure):
        s, name = host.copy(), _formula(host)
    else:
        from sseflow.workflows.structures.library import get_structure

        if not isinstance(host, (str, os.PathLike)) or not str(host).strip():
            raise InputError("host must be a library name, a structure file or a pymatgen Structure")
        s = get_structure(str(host))
        name = (s.properties or {}).get("sseflow_library") or (
            _formula(s) if os.path.exists(os.path.expanduser(str(host))) else str(host))
    if not s.is_ordered:
        raise InputError(f"host {name} has partially occupied sites: give an ordered cell")
    return s, str(name)


def _formula(structure) -> str:
    """sseflow's reduced formula of a structure (Li10GeP2S12, not pymatgen's Li10Ge(PS6)2)."""
    from sseflow.analysis.formula import reduced_formula

    return reduced_formula({str(el): a for el, a in structure.composition.get_el_amt_dict().items()})


def _images(lattice) -> np.ndarray:
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)], dtype=float)
    return shifts @ lattice.matrix


def find_voids(structure, n: int, spacing: float = VOID_GRID_A) -> list[np.ndarray]:
    """Fractional coordinates of ``n`` interstitial positions, each the centre of the largest empty
    sphere left after the previous ones were filled (module notes); deterministic."""
    from scipy.spatial import cKDTree

    if n <= 0:
        return []
    lat = structure.lattice
    m = [max(4, int(math.ceil(L / spacing))) for L in lat.abc]
    axes = [np.arange(k) / k for k in m]
    fgrid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    cgrid = lat.get_cartesian_coords(fgrid)
    imgs = _images(lat)
    atoms = structure.cart_coords
    tree = cKDTree((atoms[None, :, :] + imgs[:, None, :]).reshape(-1, 3))
    dmin, _ = tree.query(cgrid)
    out = []
    for _ in range(int(n)):
        i = int(np.argmax(dmin))
        f = fgrid[i].copy()
        out.append(f)
        c = lat.get_cartesian_coords(f)
        d_new = np.min(np.linalg.norm(cgrid[:, None, :] - (c + imgs)[None, :, :], axis=-1), axis=1)
        dmin = np.minimum(dmin, d_new)
    return out


def _nearest(structure, element: str, centres: Sequence[int], k: int) -> list[int]:
    """Indices of ``k`` ``element`` sites, each the nearest remaining one to the centres in turn."""
    cands = [i for i, s in enumerate(structure) if s.specie.symbol == element]
    if k > len(cands):
        raise InputError(f"cannot remove {k} {element}: the cell has {len(cands)}")
    if not centres:
        raise InputError("no substituted site to place the vacancies next to")
    fc = structure.frac_coords
    d = structure.lattice.get_all_distances(fc[list(centres)], fc[cands])  # (centres, cands)
    chosen: list[int] = []
    for t in range(k):
        row = d[t % len(centres)]
        order = sorted(range(len(cands)), key=lambda j: (round(float(row[j]), 6), cands[j]))
        j = next(j for j in order if cands[j] not in chosen)
        chosen.append(cands[j])
    return chosen


def build_variant(host, site: str, variant, indices: Sequence[int] | None = None) -> Any:
    """The structure of ``variant`` (an :class:`~sseflow.analysis.substitution.Variant` planned on
    this host cell) before relaxation; site properties carry ``substitution`` tags. ``indices``:
    the ``site`` atoms replaced (a partial substitution); None: every one."""
    from sseflow.analysis.substitution import ANION_VACANCY, LI_INTERSTITIAL, LI_VACANCY

    s = host.copy()
    idx = [i for i, x in enumerate(s) if x.specie.symbol == site]
    if not idx:
        raise InputError(f"site element {site} is not in the host")
    if indices is not None:
        if not set(indices) <= set(idx) or len(set(indices)) != len(indices):
            raise InputError(f"the sites to substitute must be distinct {site} sites of the cell")
        idx = sorted(int(i) for i in indices)
    for i in idx:
        s.replace(i, variant.substituent, coords=s[i].frac_coords)
    s.add_site_property("substitution", ["substituted" if i in idx else "host" for i in range(len(s))])
    if variant.compensation == LI_INTERSTITIAL:
        k = int(round(variant.changes.get("Li", 0)))
        for f in find_voids(s, k):
            s.append("Li", f, properties={"substitution": "interstitial"})
    elif variant.compensation in (ANION_VACANCY, LI_VACANCY):
        (el, d), = variant.changes.items()
        s.remove_sites(_nearest(s, el, idx, int(round(-d))))
    want = {el: a for el, a in variant.cell_composition.items()}
    have = {str(el): a for el, a in s.composition.get_el_amt_dict().items()}
    if any(abs(have.get(el, 0) - a) > 1e-6 for el, a in want.items()) or set(have) != set(want):
        raise InputError(f"built {s.composition.formula} for {variant.formula}: internal error")
    return s


# --------------------------------------------------------------------------- partial substitution

def choose_supercell(structure, site: str, fraction: float, max_cells: int | None = None) -> tuple[tuple, int]:
    """(diagonal scaling of the host cell, site atoms replaced) of a partial substitution (module
    notes); InputError when no supercell of up to ``max_cells`` (4) cells holds a whole number."""
    from itertools import permutations

    from sseflow.analysis.substitution import MAX_SUPERCELL_CELLS, cells_for_fraction
    from sseflow.workflows.structures.ordering import supercells

    n = sum(1 for x in structure if x.specie.symbol == site)
    m, k = cells_for_fraction(n, fraction, site, max_cells or MAX_SUPERCELL_CELLS)
    abc = structure.lattice.abc

    def compact(sc):
        lengths = [a * x for a, x in zip(abc, sc)]
        return (-round(min(lengths), 6), round(max(lengths), 6), tuple(-x for x in sc))

    return min({p for sc in supercells(m) for p in permutations(sc)}, key=compact), k


@dataclass
class SiteOrdering:
    """One symmetry-distinct choice of the substituted sites."""

    rank: int                   # by Ewald energy (then spread, then indices), 1 = lowest
    indices: tuple              # structure indices of the substituted sites
    ewald_eV: float             # Ewald energy of the cell with formal charges (eV)
    spread_eV: float            # Ewald energy between the substituted sites alone as unit charges (eV)
    multiplicity: int = 1       # equivalent choices in the cell


@dataclass
class SiteOrderings:
    orderings: list             # the ``top`` lowest SiteOrdering
    combinations: int           # ways of choosing k of the N sites
    distinct: int               # symmetry-distinct among those ranked
    method: str
    symmetry_operations: int

    def describe(self) -> str:
        return (f"{self.distinct} symmetry-distinct of {self.combinations} site choices ({self.method}), "
                "ranked by Ewald energy (formal charges)")


def _site_permutations(structure, idx: Sequence[int], symprec: float = 0.01) -> list[tuple]:
    """The permutations of the sites ``idx`` by the symmetry operations of ``structure`` (spglib,
    lattice translations of a supercell included)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    fc = structure.frac_coords[list(idx)]
    perms = {tuple(range(len(idx)))}
    try:
        ops = SpacegroupAnalyzer(structure, symprec=symprec).get_symmetry_operations(cartesian=False)
    except Exception:  # noqa: BLE001 - no symmetry found: every choice is its own ordering
        ops = []
    rows = np.arange(len(idx))
    for op in ops:
        d = structure.lattice.get_all_distances(op.operate_multi(fc), fc)
        j = d.argmin(axis=1)
        if d[rows, j].max() < 0.1 and len(set(j.tolist())) == len(idx):
            perms.add(tuple(int(x) for x in j))
    return sorted(perms)


def rank_orderings(structure, site: str, substituent: str, k: int, oxidation_states: dict | None = None,
                   top: int = DEFAULT_ORDERINGS, max_combinations: int = MAX_COMBINATIONS) -> SiteOrderings:
    """The ``top`` lowest symmetry-distinct choices of ``k`` ``site`` atoms of ``structure`` to be
    replaced by ``substituent`` (module notes)."""
    from itertools import combinations
    from math import comb

    from pymatgen.analysis.ewald import EwaldSummation

    from sseflow.analysis.substitution import host_oxidation_states, substituent_oxidation_state

    if int(top) < 1:
        raise InputError(f"orderings must be at least 1 (got {top})")
    idx = [i for i, x in enumerate(structure) if x.specie.symbol == site]
    n, k = len(idx), int(k)
    if not 0 < k <= n:
        raise InputError(f"cannot substitute {k} of the {n} {site} of the cell")
    comp = {str(el): float(a) for el, a in structure.composition.get_el_amt_dict().items()}
    ox = dict(oxidation_states) if oxidation_states else host_oxidation_states(comp)
    q0 = float(ox[site])
    q = float(substituent_oxidation_state(substituent, q0))
    s = structure.copy()
    s.remove_oxidation_states()
    s.add_oxidation_state_by_element({el: ox[el] for el in comp})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = EwaldSummation(s).total_energy_matrix
    m = 0.5 * (m + m.T)
    e0, rowsum = float(m.sum()), m.sum(axis=1)
    f = q / q0 - 1.0
    perms = _site_permutations(structure, idx)

    def energies(c):  # positions in idx -> (Ewald energy, spread)
        ii = [idx[j] for j in c]
        block = m[np.ix_(ii, ii)]
        pair = float(block.sum() - np.trace(block))
        return e0 + 2 * f * float(rowsum[ii].sum()) + f * f * float(block.sum()), pair / (q0 * q0)

    total = comb(n, k)
    orbits: dict[tuple, int] = {}
    if total <= max_combinations:
        method, seen = "every choice enumerated", set()
        for c in combinations(range(n), k):
            if c in seen:
                continue
            orbit = {tuple(sorted(p[j] for j in c)) for p in perms}
            seen |= orbit
            orbits[min(orbit)] = len(orbit)
    else:
        method = "the lowest of pymatgen's OrderDisorderedStructureTransformation"
        for c in _odst_choices(s, idx, substituent, q, k):
            orbit = {tuple(sorted(p[j] for j in c)) for p in perms}
            orbits.setdefault(min(orbit), len(orbit))
    ranked = []
    for c, mult in orbits.items():
        e, spread = energies(c)
        ranked.append((round(e, 6), round(spread, 6), c, e, spread, mult))
    ranked.sort(key=lambda t: t[:3])
    out = [SiteOrdering(r + 1, tuple(idx[j] for j in t[2]), t[3], t[4], t[5]) for r, t in enumerate(ranked[:int(top)])]
    return SiteOrderings(out, total, len(ranked), method, len(perms))


def _odst_choices(s, idx: Sequence[int], substituent: str, q: float, k: int) -> list[tuple]:
    """Site choices (positions in ``idx``) of pymatgen's Ewald-ranked orderings of the cell with
    the ``idx`` sites partially occupied (too many choices to enumerate)."""
    from pymatgen.core import Species
    from pymatgen.transformations.standard_transformations import OrderDisorderedStructureTransformation

    from sseflow.workflows.structures.ordering import DEFAULT_RANKED

    d = s.copy()
    x = k / len(idx)
    for i in idx:
        sp = d[i].specie
        d.replace(i, {sp: 1 - x, Species(substituent, q): x}, coords=d[i].frac_coords)
    trans = OrderDisorderedStructureTransformation(algo=OrderDisorderedStructureTransformation.ALGO_FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = trans.apply_transformation(d, return_ranked_list=DEFAULT_RANKED)
    fc = s.frac_coords[list(idx)]
    out = []
    for g in got:
        o = g["structure"]
        sub = [site.frac_coords for site in o if site.specie.symbol == substituent]
        dist = s.lattice.get_all_distances(np.array(sub), fc)
        out.append(tuple(sorted(int(j) for j in dist.argmin(axis=1))))
    return out


# --------------------------------------------------------------------------- calculations

@dataclass
class Calculation:
    label: str
    kind: str                  # host | candidate | element
    input_structure: Any
    result: Any = None         # CalcResult (or a stored task document when reused)
    task_key: str | None = None
    reused: bool = False
    entry: Any = None          # its formation-energy Entry (calculator's scale)

    @property
    def structure(self):
        return self.result.structure if hasattr(self.result, "structure") else None


# Extra elemental polymorphs relaxed besides the library's / ASE's reference crystal (the lower
# energy per atom is the element's reference, as in entries_from_results): alpha-Sn (diamond).
EXTRA_ELEMENT_PHASES = {"Sn": ("diamond", 6.49)}


def elemental_structures(element: str) -> list:
    """The elemental reference phases relaxed for the formation energies: the library's (primitive
    cell), else ASE's reference crystal of the element (primitive), plus :data:`EXTRA_ELEMENT_PHASES`."""
    from ase.build import bulk
    from pymatgen.io.ase import AseAtomsAdaptor

    from sseflow.workflows.structures.library import get_structure

    out = []
    try:
        out.append(get_structure(element, primitive=True, ase_elements=True))
    except InputError:
        try:
            out.append(AseAtomsAdaptor.get_structure(bulk(element)))
        except Exception:  # noqa: BLE001 - ASE has no reference crystal for it
            raise InputError(f"no elemental reference structure for {element}: add one to the library") from None
    if element in EXTRA_ELEMENT_PHASES:
        kind, a = EXTRA_ELEMENT_PHASES[element]
        out.append(AseAtomsAdaptor.get_structure(bulk(element, kind, a=a)))
    return out


def _backend(calculator, preset):
    if isinstance(calculator, str) or calculator is None:
        from sseflow.workflows.calculators import get_calculator

        return get_calculator(calculator or DEFAULT_CALCULATOR, preset=preset)
    return calculator


class _Reused:
    """A stored completed task seen through the fields entries_from_results and the rows read."""

    def __init__(self, doc: dict):
        from pymatgen.core import Structure

        self.doc = doc
        self.structure = Structure.from_dict(doc.get("output_structure") or doc["structure"])
        self.calculator = doc["calculator"]
        self.correction_scheme = doc.get("correction_scheme")
        self.status = "completed"
        self.energy_per_atom = doc["energy_per_atom"]
        self.task_id = doc["key"]
        self.converged = bool(doc.get("converged", True))
        self.n_steps = doc.get("n_steps")
        self.outcome = "completed"


def relax_all(calcs: Sequence[Calculation], backend, store=None, preset: dict | None = None,
              progress=None, relax_cell: bool = True) -> None:
    """Relax every calculation in place; with a ``store`` (a ResultsStore), reuse a stored
    relaxation of the same structure and parameters and store the new ones as TaskDocuments."""
    from sseflow.workflows.store.documents import TaskDocument

    params = None
    if store is not None:
        from sseflow.workflows.stages.calculations import expected_parameters, find_task

        params = expected_parameters(backend.name, preset, "relax", relax_cell)
    if progress is not None:
        progress.stage(f"relaxing ({backend.name})", len(calcs))
    for c in calcs:
        hit = find_task(store, c.input_structure, backend.name, "relax", params) if store is not None else None
        if hit is not None:
            c.result, c.task_key, c.reused = _Reused(hit), hit["key"], True
        else:
            with warnings.catch_warnings():  # scipy's "logm result may be inaccurate" on every cell step
                warnings.filterwarnings("ignore", message="logm result may be inaccurate")
                c.result = backend.relax(c.input_structure, relax_cell=relax_cell)
            if store is not None:
                c.task_key = store.put(TaskDocument.from_calc_result(c.result, c.input_structure, label=c.label))
                c.result.task_id = c.task_key
            if c.result.status != "completed":
                raise InputError(f"{c.label}: {backend.name} relaxation failed: {c.result.error}")
        if progress is not None:
            progress.advance()


# --------------------------------------------------------------------------- reference energies

def _merged_entries(computed, reference, scheme: str | None, chemsys: str, energy_column: str | None):
    """The reference's entries of ``chemsys`` and the computed ones put on the reference's scale,
    by the functions a study's ``reference: both`` uses (a file: ``stages.thermo.merge_file_entries``
    itself; a ReferenceSet: the same ``entries_on_scale`` + ``merge_entries``)."""
    if isinstance(reference, (str, os.PathLike)):
        from sseflow.workflows.stages.thermo import merge_file_entries

        return merge_file_entries(computed, _ref_dict(reference, scheme, energy_column), chemsys)
    from sseflow.workflows.computed_entries import entries_on_scale, merge_entries

    if not scheme:
        raise InputError("give the correction scheme of the reference set's energies (correction_scheme=...)")
    ours = entries_on_scale(computed, scheme)
    return merge_entries(reference.entries_in(chemsys.split("-")), ours, scheme_of_unlabelled=scheme)


def _ref_dict(reference, scheme: str | None, energy_column: str | None) -> dict:
    return {"source": "both", "file": str(reference), "energy_column": energy_column, "correction_scheme": scheme}


def reference_scheme_of(reference, scheme: str | None, energy_column: str | None = None, rs=None) -> tuple[str | None, str]:
    """(correction scheme of the reference's energies, how it is known): given, or what a
    reference file declares (``stages.thermo.reference_scheme``)."""
    if not isinstance(reference, (str, os.PathLike)):
        return scheme, "given" if scheme else ""
    from sseflow.workflows.stages.thermo import reference_scheme

    return reference_scheme(_ref_dict(reference, scheme, energy_column), rs)


# --------------------------------------------------------------------------- the screening

@dataclass
class SubstitutionScreen:
    """The ranked candidates and everything they were made from."""

    host: str
    host_formula: str
    site: str
    calculator: str
    reference: str
    reference_hash: str | None
    correction_scheme: str
    rows: list[dict]
    plans: list = field(default_factory=list)
    calculations: list[Calculation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    alloy: str = ALLOY
    exclude: list[str] = field(default_factory=list)
    fraction: float = 1.0             # of the site atoms substituted (1: every one)
    supercell: str | None = None      # a partial substitution: the scaling of the host cell ("2x1x1")
    substituted: int | None = None    # a partial substitution: site atoms replaced in that supercell
    site_atoms: int | None = None     # ... of so many

    def table(self, fmt: str = "text") -> str:
        from sseflow.analysis.substitution import format_substitution

        if fmt == "json":
            import json

            return json.dumps(self.to_dict(), indent=2, allow_nan=False)
        return format_substitution(self.rows, fmt, self.alloy)

    def figure(self, path=None):
        """E_hull against the reduction limit, and the reaction energies with Li and Li15Si4
        (a matplotlib Figure, written to ``path`` when given)."""
        from sseflow.analysis.substitution import plot_substitution

        return plot_substitution(self.rows, path, self.alloy,
                                 title=f"{self.host}: substitution of {self.site} ({self.calculator})")

    def structures(self) -> dict[str, Any]:
        """Relaxed structures by candidate label."""
        return {c.label: c.structure for c in self.calculations if c.kind in ("host", "candidate")}

    def write_structures(self, folder) -> list[str]:
        """The relaxed host and candidates as CIFs ``<rank>_<formula>_<compensation>.cif`` in ``folder``
        (made when missing); returns the file names."""
        from pathlib import Path

        out = Path(os.path.expanduser(str(folder)))
        out.mkdir(parents=True, exist_ok=True)
        by_label = {c.label: c.structure for c in self.calculations if c.kind in ("host", "candidate")}
        names = []
        for r in self.rows:
            s = by_label.get(r["label"])
            if s is None:
                continue
            name = f"{r['rank']}_{r['formula']}_{r['compensation']}.cif".replace("/", "-")
            s.to(filename=str(out / name))
            names.append(name)
        return names

    def to_dict(self) -> dict:
        return {"host": self.host, "host_formula": self.host_formula, "site": self.site,
                "calculator": self.calculator, "reference": self.reference, "reference_hash": self.reference_hash,
                "correction_scheme": self.correction_scheme, "alloy": self.alloy, "rows": self.rows,
                "notes": self.notes,
                **({"fraction": self.fraction, "supercell": self.supercell, "substituted_sites": self.substituted,
                    "site_atoms": self.site_atoms} if self.fraction < 1 else {})}

    def describe_site(self) -> str:
        """What was substituted: "every Ge", or "1 of 2 Ge (x = 0.5) per 1x1x1 supercell"."""
        if self.fraction >= 1:
            return f"every {self.site}"
        return (f"{self.substituted} of {self.site_atoms} {self.site} (x = {self.fraction:.4g}) in a {self.supercell} "
                "supercell of the host cell")


def _element_calcs(elements: Iterable[str]) -> list[Calculation]:
    return [Calculation(el if i == 0 else f"{el} ({s.composition.reduced_formula}, {len(s)} sites)", "element", s)
            for el in sorted(elements) for i, s in enumerate(elemental_structures(el))]


def screen_substitutions(host, site: str, substituents: Sequence[str] | None = None, *, auto: int | None = None,
                         reference=None, calculator=DEFAULT_CALCULATOR, preset: dict | None = None,
                         correction_scheme: str | None = None, energy_column: str | None = None,
                         exclude: Iterable[str] = (), oxidation_states: dict | None = None,
                         compensations: Iterable[str] | None = None, include_host: bool = True,
                         store=None, progress=None, fraction: float = 1.0, orderings: int = DEFAULT_ORDERINGS,
                         exclude_elements: Iterable[str] = (), any_element: bool = False) -> SubstitutionScreen:
    """Substitute every ``site`` atom of ``host`` by each substituent (or ``auto`` proposals),
    with the charge-compensated variants, relax everything with ``calculator`` and rank the
    candidates (module notes). ``reference``: a formation-energy file (``correction_scheme``: the
    scheme of its energies; None: what the file declares) or a ReferenceSet (``correction_scheme``
    required); the computed entries are put on that scale before they are merged.

    ``fraction`` < 1: only that fraction of the site atoms is substituted, in the smallest
    supercell that holds a whole number of them; the ``orderings`` lowest symmetry-distinct
    choices of the sites (Ewald ranking) are relaxed and the lowest in energy kept (module notes).
    ``exclude_elements``, ``any_element``: the element filter of the ``auto`` proposals
    (:func:`sseflow.analysis.substitution.propose_substituents`)."""
    from sseflow.analysis.reference import ReferenceSet, load_reference
    from sseflow.workflows.settings import settings
    from sseflow.analysis.substitution import (
        COMPENSATIONS, charge_balance, check_fraction, energy_above_hull, host_oxidation_states, plan_substitution,
        propose_substituents, rank_rows)
    from sseflow.analysis.formula import reduce_amounts
    from sseflow.analysis.reactions import ReactionCalculator
    from sseflow.analysis.window import WindowCalculator
    from sseflow.workflows.computed_entries import entries_from_results

    if reference is None:
        raise InputError("a reference set is needed (--reference PATH)")
    fraction = check_fraction(fraction)
    if isinstance(orderings, bool) or not isinstance(orderings, (int, np.integer)) or orderings < 1:
        raise InputError(f"orderings must be a whole number >= 1 (got {orderings!r})")
    structure, name = load_host(host)
    cell = {str(el): float(a) for el, a in structure.composition.get_el_amt_dict().items()}
    if site not in cell:
        raise InputError(f"site element {site} is not in the host {_formula(structure)}")
    partial = fraction < 1
    scaling, n_sub, target = (1, 1, 1), None, structure
    if partial:  # the supercell and its composition; the host itself is relaxed in its own cell
        scaling, n_sub = choose_supercell(structure, site, fraction)
        target = structure * scaling if scaling != (1, 1, 1) else structure.copy()
        cell = {str(el): float(a) for el, a in target.composition.get_el_amt_dict().items()}
    ox = dict(oxidation_states) if oxidation_states else host_oxidation_states(cell)
    file_rs = (reference if isinstance(reference, ReferenceSet)
               else load_reference(reference, energy_column, cache_dir=settings().cache_dir))
    notes: list[str] = []
    if auto:
        props = propose_substituents(cell, site, int(auto), ox, allowed=file_rs.elements,
                                     exclude_elements=exclude_elements, any_element=any_element)
        notes.append("proposed (pymatgen substitution statistics x ionic-radius x charge factor): " + ", ".join(
            f"{p.element}{p.oxidation_state:+d} (score {p.score:.3g})" for p in props))
        notes.append("proposals: " + props.filter_note())
        substituents = [p.element for p in props]
    if not substituents:
        raise InputError("no substituent: give --with A,B,.. or --auto N")
    subs = list(dict.fromkeys(substituents))
    missing = sorted({s for s in subs if s not in file_rs.elements} | ({"Li", "Si"} - file_rs.elements))
    plans = [plan_substitution(cell, site, s, ox, compensations if compensations is not None else COMPENSATIONS,
                               n_substituted=n_sub)
             for s in subs]
    if missing:
        raise InputError(f"the reference data ({file_rs.source}) has no entries for {', '.join(missing)}")
    scheme, how = reference_scheme_of(reference, correction_scheme, energy_column, file_rs)
    if not scheme:
        from sseflow.analysis.schemes import scheme_names

        raise InputError(f"the correction scheme of the reference's energies is not declared: give it "
                         f"({scheme_names()})")
    backend = _backend(calculator, preset)
    scheme_label = getattr(backend, "correction_scheme", "none")

    calcs: list[Calculation] = []
    if include_host:
        calcs.append(Calculation(f"{name} (host)", "host", structure))
    variants = []
    groups: list[tuple[Any, list[tuple[Calculation, SiteOrdering]], SiteOrderings]] = []  # partial: per variant
    for plan in plans:
        notes.extend(plan.notes)
        ranked = (rank_orderings(target, site, plan.substituent, n_sub, ox, top=int(orderings))
                  if partial else None)
        for v in plan.variants:
            if partial:
                group = [(Calculation(f"{v.label} [ordering {o.rank}]", "ordering",
                                      build_variant(target, site, v, o.indices)), o) for o in ranked.orderings]
                calcs.extend(c for c, _ in group)
                groups.append((v, group, ranked))
            else:
                calcs.append(Calculation(v.label, "candidate", build_variant(structure, site, v)))
            variants.append(v)
    elements = set(cell) | set(subs) | {"Li", "Si"}
    calcs += _element_calcs(elements)
    relax_all(calcs, backend, store=store, preset=preset, progress=progress)
    kept: dict[int, dict] = {}  # id(calculation) -> its ordering fields (partial)
    n_site = plans[0].site_atoms
    for v, group, ranked in groups:  # the lowest relaxed ordering of each variant is the candidate
        by_energy = sorted(group, key=lambda t: (float(t[0].result.energy_per_atom), t[1].rank))
        best, o = by_energy[0]
        best.kind, best.label = "candidate", v.label
        e0 = float(best.result.energy_per_atom)
        gap = 1000.0 * (float(by_energy[1][0].result.energy_per_atom) - e0) if len(by_energy) > 1 else None
        kept[id(best)] = {
            "fraction": v.n_substituted / n_site, "fraction_requested": fraction,
            "substituted_sites": v.n_substituted, "site_atoms": n_site,
            "supercell": "x".join(map(str, scaling)), "cell_atoms": len(target),
            "formula_per_host_fu": v.formula_per_host_fu, "orderings_combinations": ranked.combinations,
            "orderings_distinct": ranked.distinct, "orderings_relaxed": len(group), "ordering_rank_ewald": o.rank,
            "ordering_sites": list(o.indices), "ordering_gap_meV": gap,
            "ordering_energies_meV": {str(oo.rank): 1000.0 * (float(c.result.energy_per_atom) - e0) for c, oo in group},
            "ordering_ewald_eV": {str(oo.rank): oo.ewald_eV - ranked.orderings[0].ewald_eV for _, oo in group},
        }
        notes.append(
            f"{v.label}: {v.n_substituted} of {n_site} {site} replaced (x = "
            f"{v.n_substituted / n_site:.4g}) in a {'x'.join(map(str, scaling))} supercell of "
            f"the host cell ({len(target)} atoms before compensation); {ranked.describe()}; the lowest {len(group)} "
            f"relaxed, kept Ewald rank {o.rank}; "
            + (f"next ordering {gap:.1f} meV/atom higher" if gap is not None else "one ordering: no energy gap"))
    cand_calcs = [c for c in calcs if c.kind == "candidate"]
    if partial:
        cand_calcs = [next(c for c, _ in group if c.kind == "candidate") for _, group, _ in groups]

    computed = entries_from_results([c.result for c in calcs], backend)
    if len(computed) != len(calcs):
        raise InputError("a relaxation gave no usable energy")
    for c, e in zip(calcs, computed):
        c.entry = e
    elemental: dict = {}
    for c in calcs:  # the lowest elemental entry of each element (formation energy 0 on this scale)
        if c.kind == "element":
            el = next(iter(c.entry.composition))
            if el not in elemental or c.entry.energy_per_atom < elemental[el].energy_per_atom:
                elemental[el] = c.entry
    exclude = tuple(exclude)

    if progress is not None:
        progress.stage("thermodynamics", len(calcs) - len(elemental) - sum(c.kind == "ordering" for c in calcs))
    rows = []
    host_ox = dict(ox)
    evaluated = [(c, None) for c in calcs if c.kind == "host"] + \
        [(c, v) for c, v in zip(cand_calcs, variants)]
    for c, v in evaluated:
        e = c.entry
        comp = e.composition
        els = set(comp) | {"Li", "Si"}
        chemsys = "-".join(sorted(els))
        mine = [e] + [elemental[el] for el in sorted(els) if el in elemental]
        merged = _merged_entries(mine, reference, scheme, chemsys, energy_column)
        rs = ReferenceSet.from_entries(merged, source=f"substitution:{chemsys}")
        e = next(x for x in merged if x.entry_id == e.entry_id)  # the candidate on the reference's scale
        formula = v.formula if v is not None else _formula(structure)
        ehull = energy_above_hull(rs, comp, e.energy_per_atom, exclude)
        wc = WindowCalculator(rs, exclude)
        w = wc.window(formula, profile=False)
        rc = ReactionCalculator(rs, exclude, windows=wc)
        r_li = rc.react(formula, "Li", energy_a=e.energy_per_atom)
        r_al = rc.react(formula, ALLOY, energy_a=e.energy_per_atom)
        own = file_rs.matching(comp, exclude)
        ref_ehull = energy_above_hull(file_rs, comp, own[0].energy_per_atom, exclude) if own else None
        cb = v.charge if v is not None else charge_balance(reduce_amounts(cell)[0], host_ox)  # per formula unit
        res = c.result
        rows.append({
            "label": c.label, "formula": formula, "substituent": v.substituent if v else site,
            "compensation": v.compensation if v else "host", "rule": v.rule if v else "host as given",
            "charge_balanced": cb.balanced, "cation_charge": cb.cation_charge, "anion_charge": cb.anion_charge,
            "net_charge": cb.net, "charge": cb.describe(),
            "formation_energy_eV_per_atom": e.energy_per_atom,
            "formation_energy_calculator_scale_eV_per_atom": c.entry.energy_per_atom,
            "total_energy_eV_per_atom": e.data.get("total_energy_per_atom"),
            "e_above_hull_meV": ehull, "reference_e_above_hull_meV": ref_ehull,
            "reduction_V": w.reduction_V, "oxidation_V": w.oxidation_V,
            "reduction_products": w.reduction_products, "oxidation_products": w.oxidation_products,
            "rxn_li_meV": r_li.minimum.energy_meV_per_atom, "rxn_li_x": r_li.minimum.x,
            "rxn_li_reaction": r_li.minimum.reaction, "rxn_li_products": list(r_li.minimum.products),
            "rxn_alloy_meV": r_al.minimum.energy_meV_per_atom, "rxn_alloy_x": r_al.minimum.x,
            "rxn_alloy_reaction": r_al.minimum.reaction, "rxn_alloy_products": list(r_al.minimum.products),
            "chemsys": chemsys, "nsites": len(c.structure) if c.structure is not None else None,
            "relax_converged": bool(getattr(res, "converged", True)), "relax_steps": getattr(res, "n_steps", None),
            "task_id": c.task_key, "reused": c.reused,
        })
        if partial:
            rows[-1].update(kept.get(id(c)) or {"formula_per_host_fu": formula})
        if progress is not None:
            progress.advance()
    host_rows = [r for r in rows if r["compensation"] == "host"]
    for r in rows:  # the calculator's systematic error on this chemistry largely cancels in the difference
        r["e_above_hull_vs_host_meV"] = (r["e_above_hull_meV"] - host_rows[0]["e_above_hull_meV"]) if host_rows else None
    rows = rank_rows(rows)
    label = f"{reference}" if not isinstance(reference, ReferenceSet) else reference.source
    notes.append(f"energy scale: {backend.name} total energies ({scheme_label}) minus the same calculator's "
                 f"elemental phases ({', '.join(sorted(elemental))}), put on the reference's {scheme} scale "
                 f"({how}) and merged with its formation energies, as a study's reference: both does "
                 "(computed_entries.entries_from_results, entries_on_scale, merge_entries)")
    unconv = [r["label"] for r in rows if not r["relax_converged"]]
    if unconv:
        notes.append(f"relaxation not converged (energies of the last step): {', '.join(unconv)}")
    return SubstitutionScreen(name, _formula(structure), site, backend.name, label,
                              getattr(file_rs, "content_hash", None), scheme, rows, plans, calcs, notes,
                              exclude=list(exclude), fraction=(n_sub / plans[0].site_atoms) if partial else 1.0,
                              supercell="x".join(map(str, scaling)) if partial else None,
                              substituted=n_sub, site_atoms=plans[0].site_atoms if partial else None)

