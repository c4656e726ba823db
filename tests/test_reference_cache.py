"""The on-disk cache of parsed reference tables is a cache, never an authority.

A cache file that belongs to another table, is damaged, or is not an sseflow cache at all is
rebuilt from the table (with a note on stderr); loading a cache never runs code.
"""
import json
import os
import pickle
import shutil

import pytest

from helpers import run_cli

TABLE_A = "formula,e_form\nLi2S,-1.50\nLi3P,-0.60\nP2S5,-0.40\nLi3PS4,-1.25\nLiS4,-0.50\n"
TABLE_B = "formula,e_form\nLi2S,-1.10\nLi3P,-0.30\nP2S5,-0.55\nLi3PS4,-0.95\nLi7P3S11,-0.98\n"


def _window(table, cache, *extra):
    r = run_cli("window", "Li3PS4", "--reference", table, "--json", *extra, env={"SSEFLOW_CACHE_DIR": str(cache)})
    return r


def _cache_files(cache) -> set:
    return {p for p in cache.rglob("*") if p.is_file()}


@pytest.fixture
def tables(tmp_path):
    a = tmp_path / "a.csv"
    b = tmp_path / "b.csv"
    a.write_text(TABLE_A)
    b.write_text(TABLE_B)
    return a, b


def _fresh(table, tmp_path, name):
    """The result with a cache folder of its own (no cache to reuse)."""
    r = _window(table, tmp_path / name)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _cache_notes(stderr: str, table) -> list[str]:
    """Notes about the cache (the table's path, which may hold any word, taken off)."""
    prefix = f"note: {table}: "
    return [line for line in stderr.splitlines()
            if line.startswith(prefix) and "cache" in line[len(prefix):].replace(str(table.parent), "")]


def test_swapped_cache_is_rebuilt_with_a_note(tables, tmp_path):
    a, b = tables
    want_a, want_b = _fresh(a, tmp_path, "fa"), _fresh(b, tmp_path, "fb")
    assert want_a != want_b  # the two tables give different windows
    cache = tmp_path / "cache"
    assert _window(a, cache).returncode == 0
    file_a = _cache_files(cache)
    assert _window(b, cache).returncode == 0
    file_b = _cache_files(cache) - file_a
    assert len(file_a) == 1 and len(file_b) == 1
    shutil.copyfile(next(iter(file_a)), next(iter(file_b)))  # A's cache under B's name

    r = _window(b, cache)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == want_b
    assert len(_cache_notes(r.stderr, b)) == 1, r.stderr
    # the cache was rebuilt: the next run uses it without a note
    r = _window(b, cache)
    assert r.returncode == 0 and json.loads(r.stdout) == want_b
    assert _cache_notes(r.stderr, b) == [], r.stderr


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_cache_is_rebuilt_with_a_note(tables, tmp_path, damage):
    a, _ = tables
    want = _fresh(a, tmp_path, "fresh")
    cache = tmp_path / "cache"
    assert _window(a, cache).returncode == 0
    (f,) = _cache_files(cache)
    data = f.read_bytes()
    f.write_bytes({"truncated": data[: len(data) // 2], "garbage": os.urandom(len(data)), "empty": b""}[damage])

    r = _window(a, cache)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == want
    assert len(_cache_notes(r.stderr, a)) == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_inconsistent_cache_is_rebuilt(tables, tmp_path, monkeypatch):
    """A cache whose arrays do not fit together (one energy missing) is not used."""
    import numpy as np

    from sseflow.analysis.reference import load_reference

    a, _ = tables
    monkeypatch.setenv("SSEFLOW_CACHE_DIR", str(tmp_path / "cache"))
    want = sorted((e.name, e.energy_per_atom) for e in load_reference(a).entries)
    (f,) = _cache_files(tmp_path / "cache")
    with np.load(f, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["energies"] = arrays["energies"][:-1]
    with open(f, "wb") as fh:
        np.savez(fh, **arrays)

    rs = load_reference(a)
    assert sorted((e.name, e.energy_per_atom) for e in rs.entries) == want
    assert any("cache" in n.replace(str(tmp_path), "") for n in rs.notes)
    assert not any("cache" in n.replace(str(tmp_path), "") for n in load_reference(a).notes)  # rebuilt and rewritten


class _Payload:
    """Unpickling this object would create a folder: the sign that a cache was executed."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickle_in_place_of_the_cache_is_never_run(tables, tmp_path):
    a, _ = tables
    want = _fresh(a, tmp_path, "fresh")
    cache = tmp_path / "cache"
    marker = tmp_path / "unpickled"
    assert _window(a, cache).returncode == 0
    files = _cache_files(cache)
    assert files
    for f in files:
        f.write_bytes(pickle.dumps(_Payload(marker)))

    r = _window(a, cache)
    assert r.returncode == 0, r.stderr
    assert not marker.exists()
    assert json.loads(r.stdout) == want
    assert len(_cache_notes(r.stderr, a)) == 1, r.stderr


def test_cache_files_stay_in_the_cache_folder(tmp_path):
    """An energy column's name is user text: it never makes a path outside the cache folder."""
    t = tmp_path / "t.csv"
    t.write_text("formula,e/../../x,e2\nLi2S,-1.5,-1.0\nLi3P,-0.6,-0.5\nLi3PS4,-1.25,-1.0\nP2S5,-0.4,-0.3\n")
    cache = tmp_path / "cache"
    r = _window(t, cache, "--energy-column", "e/../../x")
    assert r.returncode == 0, r.stderr
    files = _cache_files(tmp_path) - {t}
    assert files and all(f.parent == cache for f in files), files


def test_duplicate_rows_note_is_shown_once_per_table(tmp_path):
    """The note about duplicate rows comes when the table is parsed, not again from its cache;
    the other notes and the results stay the same, and a new cache shows it again."""
    table = tmp_path / "dups.csv"
    table.write_text(TABLE_A + "Li2S,-1.50\nLi2S,-1.50\n")
    cache = tmp_path / "cache"

    def dup_notes(r):
        return [line for line in r.stderr.splitlines() if "duplicate rows" in line]

    first = _window(table, cache)
    assert first.returncode == 0, first.stderr
    assert dup_notes(first) == [f"note: {table}: 2 duplicate rows (same formula and energy) were used once: Li2S"]
    second = _window(table, cache)
    assert second.returncode == 0, second.stderr
    assert dup_notes(second) == [], second.stderr
    assert "elemental references" in second.stderr  # other notes of the table are still given
    assert json.loads(second.stdout) == json.loads(first.stdout)
    for f in _cache_files(cache):
        f.unlink()
    third = _window(table, cache)
    assert len(dup_notes(third)) == 1, third.stderr  # a new cache: the table was parsed again
