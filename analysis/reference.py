"""Reference energies in: formation-energy tables, pymatgen entry JSON, Python entries.

A :class:`ReferenceSet` keeps every entry once, indexed by its element set, so the
entries of a chemical system are gathered by looking up its 2**n - 1 subsystems
(milliseconds for 130k rows) instead of scanning the table per query. Parsed CSV
tables are cached on disk keyed by the SHA-256 of the file content.
"""
from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import os
import pickle
from pathlib import Path
from typing import Iterable, Sequence

from analysis.entries import Entry
from analysis.errors import InputError
from analysis.formula import formula_string, parse_formula, reduced_formula_of

_CACHE_VERSION = 5


def cache_dir() -> Path:
    root = os.environ.get("SSEFLOW_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sseflow"
    )
    return Path(root)


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class ReferenceSet:
    """Entries indexed by element set. Use the ``from_*`` constructors or :func:`load_reference`."""

    def __init__(self, entries: Sequence[Entry], notes: Iterable[str] = (), source: str = "python",
                 content_hash: str | None = None, unreferenced: Iterable[str] = ()):
        self._entries: list[Entry] | None = list(entries)
        self.notes: list[str] = list(notes)
        self.source = source
        self.unreferenced = set(unreferenced)  # elements with no elemental entry (total-energy sets)
        self._index: dict[str, Sequence[int]] = {}
        for i, e in enumerate(self._entries):
            self._index.setdefault(_key(e.elements), []).append(i)
        self.content_hash = content_hash or self._hash_entries()

    @classmethod
    def _from_state(cls, state: dict, source: str) -> "ReferenceSet":
        """Fast path for cached tables: Entry objects are made only for the rows a query touches."""
        self = cls.__new__(cls)
        self._entries = None
        self._names = state["names"]
        self._energies = state["energies"]
        self._rownums = state["rownums"]
        flat, offs = state["index_flat"], state["index_offsets"]
        self._index = {k: flat[offs[i]:offs[i + 1]] for i, k in enumerate(state["index_keys"])}
        self.notes = list(state["notes"])
        self.source = source
        self.unreferenced = set()
        self.content_hash = state["hash"]
        self._name = Path(source).name
        self._cache: dict[int, Entry] = {}
        return self

    def _entry(self, i: int) -> Entry:
        if self._entries is not None:
            return self._entries[i]
        e = self._cache.get(i)
        if e is None:
            name, row = self._names[i], int(self._rownums[i])
            eid = f"{self._name}:row {row}" if row else f"{self._name}:element reference"
            e = self._cache[i] = Entry(name, parse_formula(name), float(self._energies[i]), eid)
        return e

    @property
    def entries(self) -> list[Entry]:
        if self._entries is None:
            self._entries = [self._entry(i) for i in range(len(self._names))]
        return self._entries

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self._names) if self._entries is None else len(self._entries)

    @property
    def elements(self) -> set[str]:
        out: set[str] = set()
        for key in self._index:
            out.update(key.split("-"))
        return out

    def entries_in(self, elements: Iterable[str], exclude: Iterable[str] = (),
                   hull_candidates: bool = False) -> list[Entry]:
        """All entries whose elements are a subset of ``elements`` (minus excluded formulas).

        With ``hull_candidates``, only the entries that can be on a convex hull: the lowest
        polymorph of each composition, and no compound with a positive formation energy.
        """
        els = sorted(set(elements))
        missing = [el for el in els if el not in self._index or el in self.unreferenced]
        if missing:
            raise InputError(
                f"chemical system {'-'.join(els)} is not covered by the reference data "
                f"({self.source}): no entries for element {', '.join(missing)}"
            )
        excluded = {reduced_formula_of(f) for f in exclude}
        out: list[Entry] = []
        for r in range(1, len(els) + 1):
            for sub in itertools.combinations(els, r):
                key = "-".join(sub)
                bucket = self._index.get(key, ())
                if hull_candidates and len(bucket):
                    bucket = self._candidates(key)
                for i in bucket:
                    e = self._entry(i)
                    if excluded and e.reduced_formula in excluded and len(e.composition) > 1:
                        continue
                    out.append(e)
        return out

    def _candidates(self, key: str) -> list[int]:
        cache = self.__dict__.setdefault("_cand_cache", {})
        if key not in cache:
            best: dict[tuple, int] = {}
            for i in self._index[key]:
                e = self._entry(i)
                if len(e.composition) > 1 and e.energy_per_atom > 0.0:
                    continue
                j = best.get(e.composition_key)
                if j is None or e.energy_per_atom < self._entry(j).energy_per_atom:
                    best[e.composition_key] = i
            cache[key] = list(best.values())
        return cache[key]

    def matching(self, composition: dict[str, float], exclude: Iterable[str] = ()) -> list[Entry]:
        """Entries with the same reduced composition (polymorphs), lowest energy first."""
        key = frozenset(composition)
        excluded = {reduced_formula_of(f) for f in exclude}
        n = sum(composition.values())
        target = {k: v / n for k, v in composition.items()}
        out = []
        for i in self._index.get(_key(key), ()):
            e = self._entry(i)
            m = e.natoms
            if all(abs(e.composition[k] / m - target[k]) < 1e-6 for k in target) and \
                    e.reduced_formula not in excluded:
                out.append(e)
        return sorted(out, key=lambda e: e.energy_per_atom)

    def _hash_entries(self) -> str:
        h = hashlib.sha256()
        for e in sorted(self.entries, key=lambda e: (e.name, e.energy_per_atom, e.entry_id)):
            h.update(f"{e.name}|{e.energy_per_atom!r}|{e.entry_id}\n".encode())
        return h.hexdigest()

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_csv(cls, path: str | os.PathLike, energy_column: str | None = None, use_cache: bool = True) -> "ReferenceSet":
        path = Path(path)
        if not path.is_file():
            raise InputError(f"reference file not found: {path}")
        digest = file_sha256(path)
        cache_file = cache_dir() / f"ref-{digest[:32]}-{energy_column or 'auto'}-v{_CACHE_VERSION}.pkl"
        if use_cache and cache_file.is_file():
            try:
                with open(cache_file, "rb") as fh:
                    state = pickle.load(fh)
                return cls._from_state(state, source=str(path))
            except Exception:  # a broken cache is rebuilt, never trusted
                pass
        entries, notes = _read_table(path, energy_column)
        state = _table_state(entries, notes, digest)
        if use_cache:
            try:
                cache_file.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
                with open(tmp, "wb") as fh:
                    pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, cache_file)
            except OSError:
                pass
        return cls._from_state(state, source=str(path))

    @classmethod
    def from_entries(cls, entries: Iterable, source: str = "python") -> "ReferenceSet":
        """From :class:`Entry` objects, ``(formula, formation_energy_per_atom)`` pairs, or
        pymatgen ``ComputedEntry``/``PDEntry`` objects (total energies, converted to
        formation energies against the lowest elemental entry of each element)."""
        items = list(entries)
        ours: list[Entry] = []
        pmg: list = []
        notes: list[str] = []
        for k, item in enumerate(items):
            if isinstance(item, Entry):
                ours.append(item)
            elif isinstance(item, (tuple, list)) and len(item) == 2:
                comp = parse_formula(str(item[0]))
                ours.append(Entry(str(item[0]), comp, float(item[1]), f"{source}:{k}"))
            elif hasattr(item, "composition") and hasattr(item, "energy"):
                pmg.append(item)
            else:
                raise InputError(f"cannot use {type(item).__name__} as a reference entry")
        unreferenced: set[str] = set()
        if pmg:
            conv, n2, unreferenced = _from_total_energies(pmg, source)
            ours += conv
            notes += n2
        else:
            ours, n2 = _add_missing_elements(ours, source)
            notes += n2
        ours, n3 = _clean(ours)
        return cls(ours, notes=notes + n3, source=source, unreferenced=unreferenced)

    @classmethod
    def from_entries_json(cls, path: str | os.PathLike) -> "ReferenceSet":
        path = Path(path)
        if not path.is_file():
            raise InputError(f"reference file not found: {path}")
        from monty.json import MontyDecoder  # lazy: pymatgen/monty only for this format

        try:
            raw = json.loads(path.read_text())
            data = MontyDecoder().process_decoded(raw)
        except Exception as exc:
            raise InputError(f"cannot read entries from {path}: {str(exc).splitlines()[0]}") from None
        if isinstance(data, dict) and "entries" in data:
            data = data["entries"]
        if not isinstance(data, list) or not data:
            raise InputError(f"{path} holds no list of pymatgen entries")
        rs = cls.from_entries(data, source=str(path))
        rs.content_hash = file_sha256(path)
        return rs


def _key(elements) -> str:
    return "-".join(sorted(elements))


def _table_state(entries: list[Entry], notes: list[str], digest: str) -> dict:
    """Columnar, pickle-friendly form of a parsed table (loads in ~0.1 s for 130k rows)."""
    import numpy as np

    groups: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        groups.setdefault(_key(e.elements), []).append(i)
    keys = list(groups)
    lens = [len(groups[k]) for k in keys]
    return {
        "names": [e.name for e in entries],
        "energies": np.array([e.energy_per_atom for e in entries], dtype=float),
        "rownums": np.array([int(e.entry_id.rsplit(" ", 1)[1]) if ":row " in e.entry_id else 0
                             for e in entries], dtype=np.int32),
        "index_keys": keys,
        "index_flat": np.array([i for k in keys for i in groups[k]], dtype=np.int32),
        "index_offsets": np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
        "notes": notes,
        "hash": digest,
    }


def load_reference(path: str | os.PathLike, energy_column: str | None = None) -> ReferenceSet:
    """Load a reference file by its extension: ``.csv`` tables, ``.json``/``.json.gz`` entries."""
    p = str(path)
    if p.endswith((".json", ".json.gz")):
        if p.endswith(".gz"):
            raise InputError(f"compressed JSON is not supported, unpack {path} first")
        return ReferenceSet.from_entries_json(path)
    return ReferenceSet.from_csv(path, energy_column=energy_column)


# ---------------------------------------------------------------------------- helpers
def _read_table(path: Path, energy_column: str | None) -> tuple[list[Entry], list[str]]:
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise InputError(f"reference file {path} is empty") from None
        rows = list(reader)
    if "formula" not in header:
        raise InputError(f"reference file {path} has no 'formula' column (columns: {', '.join(header)})")
    fcol = header.index("formula")
    if energy_column is not None:
        if energy_column not in header:
            raise InputError(f"reference file {path} has no column '{energy_column}' (columns: {', '.join(header)})")
        ecol = header.index(energy_column)
    else:
        numeric = [j for j, h in enumerate(header) if j != fcol and _is_numeric_column(rows, j)]
        if not numeric:
            raise InputError(f"reference file {path} has no usable energy column (no numeric column)")
        if len(numeric) > 1:
            names = ", ".join(header[j] for j in numeric)
            raise InputError(f"reference file {path} has several numeric columns ({names}): choose one with --energy-column")
        ecol = numeric[0]
    entries: list[Entry] = []
    notes: list[str] = []
    bad_formula = 0
    bad_energy = 0
    name = path.name
    for r, row in enumerate(rows, start=2):
        if len(row) <= max(fcol, ecol):
            bad_formula += 1
            continue
        try:
            comp = parse_formula(row[fcol].strip())
        except InputError:
            bad_formula += 1
            continue
        try:
            energy = float(row[ecol])
        except ValueError:
            energy = math.nan
        if not math.isfinite(energy):
            bad_energy += 1
            continue
        entries.append(Entry(row[fcol].strip(), comp, energy, f"{name}:row {r}"))
    if bad_formula:
        notes.append(f"{bad_formula} rows with an unreadable formula were skipped")
    if bad_energy:
        notes.append(f"{bad_energy} rows with a non-finite or missing energy were skipped")
    if not entries:
        raise InputError(f"reference file {path} has no usable rows")
    entries, n2 = _add_missing_elements(entries, name)
    entries, n3 = _clean(entries)
    return entries, notes + n2 + n3


def _is_numeric_column(rows: list[list[str]], j: int) -> bool:
    sample = [r[j] for r in rows[:200] if len(r) > j and r[j].strip()]
    if not sample:
        return False
    try:
        for v in sample:
            float(v)
    except ValueError:
        return False
    return True


def _add_missing_elements(entries: list[Entry], source: str) -> tuple[list[Entry], list[str]]:
    present = set()
    have_elemental = set()
    for e in entries:
        present |= e.elements
        if len(e.composition) == 1:
            have_elemental |= e.elements
    missing = sorted(present - have_elemental)
    added = [Entry(el, {el: 1.0}, 0.0, f"{source}:element reference") for el in missing]
    notes = [f"added {len(missing)} elemental references at formation energy 0 eV/atom"] if missing else []
    return entries + added, notes


def _clean(entries: list[Entry]) -> tuple[list[Entry], list[str]]:
    """Drop exact duplicates (same formula, same energy); report them."""
    seen: set[tuple[str, float]] = set()
    out: list[Entry] = []
    dups: list[str] = []
    for e in entries:
        key = (e.name, round(e.energy_per_atom, 10))
        if key in seen:
            dups.append(e.name)
            continue
        seen.add(key)
        out.append(e)
    notes = []
    if dups:
        shown = ", ".join(sorted(set(dups))[:5])
        notes.append(f"{len(dups)} duplicate rows (same formula and energy) were used once: {shown}"
                     + (" ..." if len(set(dups)) > 5 else ""))
    return out, notes


def _from_total_energies(items: list, source: str) -> tuple[list[Entry], list[str], set[str]]:
    """Convert pymatgen entries (total energies) to formation energies per atom."""
    notes: list[str] = []
    refs: dict[str, float] = {}
    rows = []
    schemes = set()
    bad = 0
    for k, it in enumerate(items):
        comp = {str(el): float(a) for el, a in it.composition.get_el_amt_dict().items() if a > 0}
        n = sum(comp.values())
        e = float(it.energy)
        if not math.isfinite(e) or n <= 0:
            bad += 1
            continue
        epa = e / n
        eid = str(getattr(it, "entry_id", None) or f"{source}:{k}")
        scheme = (getattr(it, "parameters", None) or {}).get("correction_scheme") if hasattr(it, "parameters") else None
        if hasattr(it, "energy_adjustments") and it.energy_adjustments:
            names = sorted({type(a).__name__ for a in it.energy_adjustments})
            scheme = scheme or ("+".join(names))
        schemes.add(scheme)
        rows.append((formula_string(comp), comp, epa, eid, scheme))
        if len(comp) == 1:
            el = next(iter(comp))
            refs[el] = min(refs.get(el, math.inf), epa)
    if bad:
        notes.append(f"{bad} entries with non-finite energy were skipped")
    present = set().union(*(set(r[1]) for r in rows)) if rows else set()
    unreferenced = present - set(refs)
    if unreferenced:
        notes.append(f"no elemental entry for {', '.join(sorted(unreferenced))}: their systems cannot be used")
    out = []
    for name, comp, epa, eid, scheme in rows:
        if set(comp) & unreferenced:
            continue
        n = sum(comp.values())
        ef = epa - sum(a * refs[el] for el, a in comp.items()) / n
        out.append(Entry(name, comp, ef, eid, scheme))
    return out, notes, unreferenced
