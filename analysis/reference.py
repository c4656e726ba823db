"""Reference energies in: formation-energy tables, pymatgen entry JSON, Python entries.

A :class:`ReferenceSet` keeps every entry once, indexed by its element set, so the
entries of a chemical system are gathered by looking up its 2**n - 1 subsystems
(milliseconds for 130k rows) instead of scanning the table per query; for systems of
many elements the index's element sets are tested instead, so the cost never grows as 2**n.

Parsed CSV tables are cached on disk as plain arrays (numpy ``.npz``, read with
``allow_pickle=False``: loading a cache never runs code). The cache is a cache, not an
authority: it carries a format tag, its version, the SHA-256 of the table it was made from
and the energy column, all checked on load together with the consistency of its arrays; a
cache that does not match or is damaged is rebuilt from the table, with a note.
"""
from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import os
import re
from pathlib import Path
from typing import Iterable, Sequence

from sseflow.analysis.elements import ATOMIC_NUMBER
from sseflow.analysis.entries import MAX_ABS_ENERGY, Entry, check_energy, decode_pymatgen_entry
from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import MAX_AMOUNT, formula_string, parse_formula, reduced_formula_of

_CACHE_FORMAT = "sseflow-reference-table"
_CACHE_VERSION = 6
_DUPLICATE_NOTE = " duplicate rows (same formula and energy) were used once"  # shown once per table
_CACHE_ARRAYS = ("meta", "names", "energies", "rownums", "index_flat", "index_offsets")


def default_cache_dir() -> Path:
    """The cache folder when none is passed (direct library use): ``$SSEFLOW_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/sseflow``, else ``~/.cache/sseflow``. sseflow's commands and workflows pass
    ``cache_dir`` from their settings (``sseflow.workflows.settings``), which read the same variable."""
    root = os.environ.get("SSEFLOW_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sseflow"
    )
    return Path(root)


def cache_path(digest: str, energy_column: str | None, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the parsed table with content hash ``digest`` (and this energy column) is cached,
    in ``cache_dir`` (None: :func:`default_cache_dir`)."""
    if energy_column is None:
        tag = "auto"
    else:  # a column name is user text: keep the file name tame, the hash keeps it unique
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", energy_column)[:32]
        tag = f"col-{safe}-{hashlib.sha256(energy_column.encode()).hexdigest()[:8]}"
    return Path(cache_dir or default_cache_dir()) / f"ref-{digest[:32]}-{tag}-v{_CACHE_VERSION}.npz"


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
        for key in self._subsystem_keys(els):
            bucket = self._index[key]
            if hull_candidates and len(bucket):
                bucket = self._candidates(key)
            for i in bucket:
                e = self._entry(i)
                if excluded and e.reduced_formula in excluded and len(e.composition) > 1:
                    continue
                out.append(e)
        return out

    def _subsystem_keys(self, els: list[str]) -> list[str]:
        """Index keys of the subsystems of ``els`` (sorted), smallest subsystems first.

        A system of n elements has 2**n - 1 subsystems; when that exceeds the number of
        element sets in the index, the index keys are tested instead (a subset test each),
        so the cost never grows exponentially with n. Both give the same keys in the same order.
        """
        if len(els) < 60 and (1 << len(els)) - 1 <= len(self._index):
            keys = []
            for r in range(1, len(els) + 1):
                for sub in itertools.combinations(els, r):
                    key = "-".join(sub)
                    if key in self._index:
                        keys.append(key)
            return keys
        sets = self.__dict__.get("_key_sets")
        if sets is None:
            sets = self.__dict__["_key_sets"] = [(k, tuple(k.split("-"))) for k in self._index]
        want = set(els)
        found = [(len(t), t, k) for k, t in sets if want.issuperset(t)]
        found.sort()
        return [k for _, _, k in found]

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
    def from_csv(cls, path: str | os.PathLike, energy_column: str | None = None, use_cache: bool = True,
                 cache_dir: str | os.PathLike | None = None) -> "ReferenceSet":
        path = Path(path)
        if not path.is_file():
            raise InputError(f"reference file not found: {path}")
        digest = file_sha256(path)
        cache_file = cache_path(digest, energy_column, cache_dir)
        rebuilt = None
        if use_cache and cache_file.is_file():
            try:
                rs = cls._from_state(_read_cache(cache_file, digest, energy_column), source=str(path))
            except _CacheMismatch as exc:  # never trusted: parse the table again
                rebuilt = f"cache {cache_file} not used ({exc}): rebuilt from the table"
            else:
                # the duplicate-rows note was given when this cache was written: once per table,
                # not on every command
                rs.notes = [n for n in rs.notes if f"{_DUPLICATE_NOTE}:" not in n]
                return rs
        entries, notes = _read_table(path, energy_column)
        state = _table_state(entries, notes, digest)
        if use_cache:
            _write_cache(cache_file, state, energy_column)
        rs = cls._from_state(state, source=str(path))
        if rebuilt:
            rs.notes.append(rebuilt)
        return rs

    @classmethod
    def from_entries(cls, entries: Iterable, source: str = "python") -> "ReferenceSet":
        """From :class:`Entry` objects, ``(formula, formation_energy_per_atom)`` pairs, or
        pymatgen entries (``PDEntry``, ``ComputedEntry``, ``ComputedStructureEntry``) with
        *total* energies (``entry.energy``, corrections included), converted to formation
        energies per atom against the lowest-energy elemental entry of each element in the
        list. Every element needs an elemental entry there; the systems of an element without
        one cannot be used (a note says which). A pymatgen ``PhaseDiagram`` is read by
        :meth:`from_phase_diagram`."""
        if _is_phase_diagram(entries):
            return cls.from_phase_diagram(entries, source)
        try:
            items = list(entries)
        except TypeError:
            raise InputError(f"cannot make a reference set from {type(entries).__name__}: give a list of "
                             f"entries or (formula, formation energy per atom) pairs") from None
        ours: list[Entry] = []
        pmg: list = []
        notes: list[str] = []
        for k, item in enumerate(items):
            if isinstance(item, Entry):
                check_energy(item.energy_per_atom, f"{source}: entry {item.entry_id or k} ({item.name})")
                ours.append(item)
            elif isinstance(item, (tuple, list)) and len(item) == 2:
                comp = parse_formula(str(item[0]))
                energy = check_energy(item[1], f"{source}: entry {k} ({item[0]})")
                ours.append(Entry(str(item[0]), comp, energy, f"{source}:{k}"))
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
    def from_phase_diagram(cls, pd, source: str = "phase diagram") -> "ReferenceSet":
        """From a pymatgen ``PhaseDiagram``: every entry of ``pd.all_entries`` (stable or not) at
        its formation energy per atom against the diagram's own elemental references
        (``pd.get_form_energy_per_atom``), so hulls, energies above the hull and decompositions
        are the diagram's. A ``GrandPotentialPhaseDiagram`` is refused: give the closed diagram
        (windows and open-system reactions open Li themselves)."""
        if not _is_phase_diagram(pd):
            raise InputError(f"expected a pymatgen PhaseDiagram, not {type(pd).__name__}")
        if getattr(pd, "chempots", None):
            raise InputError("a grand-potential phase diagram cannot be a reference set: give the closed "
                             "PhaseDiagram (sseflow opens the system to Li itself)")
        out: list[Entry] = []
        bad = 0
        for k, it in enumerate(pd.all_entries):
            what, eid, scheme = _pmg_labels(it, k, source)
            comp = {str(el): float(a) for el, a in it.composition.get_el_amt_dict().items() if a > 0}
            for el in comp:
                if el not in ATOMIC_NUMBER:
                    raise InputError(f"{what}: unknown element '{el}'")
            ef = float(pd.get_form_energy_per_atom(it))
            if not math.isfinite(ef):
                bad += 1
                continue
            name = formula_string(comp)
            out.append(Entry(name, comp, check_energy(ef, f"{what}, {name}"), eid, scheme))
        if not out:
            raise InputError(f"{source}: the phase diagram has no entries with a finite energy")
        notes = [f"{bad} entries with non-finite energy were skipped"] if bad else []
        out, n2 = _clean(out)
        return cls(out, notes=notes + n2, source=source)

    @classmethod
    def from_entries_json(cls, path: str | os.PathLike) -> "ReferenceSet":
        path = Path(path)
        if not path.is_file():
            raise InputError(f"reference file not found: {path}")
        try:
            raw = json.loads(_read_text(path))
        except (ValueError, RecursionError) as exc:
            raise InputError(f"cannot read entries from {path}: not valid JSON "
                             f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        if isinstance(raw, dict) and "entries" in raw:
            raw = raw["entries"]
        if not isinstance(raw, list) or not raw:
            raise InputError(f"{path} holds no list of pymatgen entries")
        data = [decode_pymatgen_entry(item, k, str(path)) for k, item in enumerate(raw)]
        rs = cls.from_entries(data, source=str(path))
        rs.content_hash = file_sha256(path)
        return rs


def _key(elements) -> str:
    return "-".join(sorted(elements))


def _table_state(entries: list[Entry], notes: list[str], digest: str) -> dict:
    """Columnar form of a parsed table: what :meth:`ReferenceSet._from_state` and the cache use."""
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


class _CacheMismatch(Exception):
    """A cache file that does not belong to the table, or is damaged: rebuild it."""


def _write_cache(cache_file: Path, state: dict, energy_column: str | None) -> None:
    """Write ``state`` as plain arrays (atomic replace); a cache that cannot be written is skipped."""
    import numpy as np

    meta = {"format": _CACHE_FORMAT, "version": _CACHE_VERSION, "source_sha256": state["hash"],
            "energy_column": energy_column, "entries": len(state["names"]),
            "index_keys": list(state["index_keys"]), "notes": list(state["notes"])}
    arrays = {
        "meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
        "names": np.frombuffer("\n".join(state["names"]).encode("utf-8"), dtype=np.uint8),
        "energies": np.asarray(state["energies"], dtype=np.float64),
        "rownums": np.asarray(state["rownums"], dtype=np.int32),
        "index_flat": np.asarray(state["index_flat"], dtype=np.int32),
        "index_offsets": np.asarray(state["index_offsets"], dtype=np.int64),
    }
    tmp = cache_file.with_name(f"{cache_file.name}.tmp{os.getpid()}")
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, cache_file)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass


def _read_cache(cache_file: Path, digest: str, energy_column: str | None) -> dict:
    """The state stored in ``cache_file``, or :class:`_CacheMismatch` saying why it cannot be used.

    Only a zip archive of ``.npy`` arrays is opened, with ``allow_pickle=False``; its format,
    version, source hash and energy column must match, and its arrays must fit together.
    """
    import numpy as np

    try:
        with open(cache_file, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise _CacheMismatch(f"unreadable: {exc.strerror or type(exc).__name__}") from None
    if magic != b"PK\x03\x04":
        raise _CacheMismatch("not an sseflow cache file")
    try:
        with np.load(cache_file, allow_pickle=False) as z:
            missing = [k for k in _CACHE_ARRAYS if k not in z.files]
            if missing:
                raise _CacheMismatch(f"damaged: no {', '.join(missing)}")
            arr = {k: z[k] for k in _CACHE_ARRAYS}
    except _CacheMismatch:
        raise
    except Exception as exc:  # a truncated or garbled archive, an object array ...
        raise _CacheMismatch(f"damaged: {type(exc).__name__}") from None
    for k, kind in (("meta", "u"), ("names", "u"), ("energies", "f"), ("rownums", "i"),
                    ("index_flat", "i"), ("index_offsets", "i")):
        if arr[k].ndim != 1 or arr[k].dtype.kind != kind:
            raise _CacheMismatch(f"damaged: array '{k}' has the wrong type")
    try:
        meta = json.loads(arr["meta"].tobytes().decode("utf-8"))
        names = arr["names"].tobytes().decode("utf-8").split("\n")
    except ValueError:
        raise _CacheMismatch("damaged: unreadable header") from None
    if not isinstance(meta, dict) or meta.get("format") != _CACHE_FORMAT:
        raise _CacheMismatch("not an sseflow cache file")
    if meta.get("version") != _CACHE_VERSION:
        raise _CacheMismatch(f"format version {meta.get('version')!r}, expected {_CACHE_VERSION}")
    if meta.get("source_sha256") != digest:
        raise _CacheMismatch("made from a different file")
    if meta.get("energy_column") != energy_column:
        raise _CacheMismatch("made for another energy column")
    keys, notes, n = meta.get("index_keys"), meta.get("notes"), meta.get("entries")
    if not (isinstance(keys, list) and all(isinstance(k, str) and k for k in keys)
            and isinstance(notes, list) and all(isinstance(x, str) for x in notes)
            and isinstance(n, int) and n > 0 and len(set(keys)) == len(keys)):
        raise _CacheMismatch("damaged: bad header fields")
    energies, rownums = arr["energies"], arr["rownums"]
    flat, offs = arr["index_flat"], arr["index_offsets"]
    if not (len(names) == len(energies) == len(rownums) == len(flat) == n and len(offs) == len(keys) + 1):
        raise _CacheMismatch("damaged: array lengths do not match")
    if offs[0] != 0 or offs[-1] != n or np.any(np.diff(offs) <= 0):
        raise _CacheMismatch("damaged: bad index offsets")
    if not np.array_equal(np.sort(flat), np.arange(n)):
        raise _CacheMismatch("damaged: bad index")
    if not np.all(np.isfinite(energies)) or np.any(np.abs(energies) > MAX_ABS_ENERGY) or np.any(rownums < 0):
        raise _CacheMismatch("damaged: bad values")
    if not all(names) or not set("-".join(keys).split("-")) <= ATOMIC_NUMBER.keys():
        raise _CacheMismatch("damaged: bad names")
    return {"names": names, "energies": energies, "rownums": rownums, "index_keys": keys,
            "index_flat": flat, "index_offsets": offs, "notes": notes, "hash": digest}


def load_reference(path: str | os.PathLike, energy_column: str | None = None,
                   cache_dir: str | os.PathLike | None = None) -> ReferenceSet:
    """Load a reference file by its extension: ``.csv`` tables, ``.json``/``.json.gz`` entries.
    ``cache_dir``: where parsed tables are cached (None: :func:`default_cache_dir`)."""
    p = str(path)
    if p.endswith((".json", ".json.gz")):
        if p.endswith(".gz"):
            raise InputError(f"compressed JSON is not supported, unpack {path} first")
        return ReferenceSet.from_entries_json(path)
    return ReferenceSet.from_csv(path, energy_column=energy_column, cache_dir=cache_dir)


# ---------------------------------------------------------------------------- helpers
def _read_text(path: Path) -> str:
    """The file as text: UTF-8, with or without the byte-order mark spreadsheets write."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        line = raw.count(b"\n", 0, start) + 1
        raise InputError(f"{path} is not UTF-8 text (byte 0x{raw[start]:02x} on line {line}): "
                         f"save it as UTF-8") from None


def _read_table(path: Path, energy_column: str | None) -> tuple[list[Entry], list[str]]:
    text = _read_text(path)
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise InputError(f"reference file {path} is empty") from None
        rows = list(reader)
    except csv.Error as exc:
        raise InputError(f"reference file {path} is not a readable CSV table (line {reader.line_num}: {exc})") from None
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
        check_energy(energy, f"reference file {path}, row {r} ({_brief(row[fcol].strip())})")
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


def _brief(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


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
        notes.append(f"{len(dups)}{_DUPLICATE_NOTE}: {shown}"
                     + (" ..." if len(set(dups)) > 5 else ""))
    return out, notes


def _is_phase_diagram(obj) -> bool:
    return hasattr(obj, "all_entries") and hasattr(obj, "el_refs") and hasattr(obj, "get_form_energy_per_atom")


def _pmg_labels(it, k: int, source: str) -> tuple[str, str, str | None]:
    """(where, for messages; entry id; correction scheme) of the ``k``-th pymatgen entry."""
    eid0 = getattr(it, "entry_id", None)
    what = f"{source}: entry {k + 1}" + (f" ({eid0})" if eid0 else "")
    scheme = (getattr(it, "parameters", None) or {}).get("correction_scheme") if hasattr(it, "parameters") else None
    if getattr(it, "energy_adjustments", None):
        scheme = scheme or "+".join(sorted({type(a).__name__ for a in it.energy_adjustments}))
    return what, str(eid0 or f"{source}:{k}"), scheme


def _from_total_energies(items: list, source: str) -> tuple[list[Entry], list[str], set[str]]:
    """Convert pymatgen entries (total energies) to formation energies per atom."""
    notes: list[str] = []
    refs: dict[str, float] = {}
    rows = []
    schemes = set()
    bad = 0
    for k, it in enumerate(items):
        amounts = {str(el): float(a) for el, a in it.composition.get_el_amt_dict().items()}
        what, eid, scheme = _pmg_labels(it, k, source)
        for el, a in amounts.items():
            if el not in ATOMIC_NUMBER:
                raise InputError(f"{what}: unknown element '{el}'")
            if not (math.isfinite(a) and 0 <= a <= MAX_AMOUNT):
                raise InputError(f"{what}: amount {a:g} of {el} is out of range (0 to {MAX_AMOUNT:g})")
        comp = {el: a for el, a in amounts.items() if a > 0}
        n = sum(comp.values())
        e = float(it.energy)
        if not math.isfinite(e) or n <= 0:
            bad += 1
            continue
        epa = e / n
        schemes.add(scheme)
        rows.append((formula_string(comp), comp, epa, eid, scheme, what))
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
    for name, comp, epa, eid, scheme, what in rows:
        if set(comp) & unreferenced:
            continue
        n = sum(comp.values())
        ef = epa - sum(a * refs[el] for el, a in comp.items()) / n
        check_energy(ef, f"{what}, {name}")
        out.append(Entry(name, comp, ef, eid, scheme))
    return out, notes, unreferenced
