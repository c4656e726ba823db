"""``sseflow phases search``: random symmetric candidates (pyxtal) relaxed with a calculator,
deduplicated, the lowest written as a CIF whose provenance says it was searched.

EMT on Al keeps these fast: one atom per primitive cell, fcc is its lowest structure."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("pyxtal", reason="the structure search needs pyxtal (pip install pyxtal)")

from helpers import run_cli  # noqa: E402
from sseflow.analysis.errors import InputError  # noqa: E402
from sseflow.workflows.structures import search as ss  # noqa: E402


@pytest.fixture(scope="module")
def al_fcc(tmp_path_factory):
    out = tmp_path_factory.mktemp("search")
    p = run_cli("phases", "search", "Al", "--spacegroup", 225, "-z", 1, "--trials", 3, "--calculator", "emt",
                "--seed", 7, "-o", out, "--json", timeout=300)
    return p, out


def test_cli_writes_searched_cif_with_provenance(al_fcc):
    p, out = al_fcc
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)          # strictly JSON: nothing else on stdout
    prov = doc["provenance"]
    assert prov["origin"] == "searched"
    assert (prov["spacegroup"], prov["spacegroup_number"], prov["z"]) == ("Fm-3m", 225, 1)
    assert (prov["trials"], prov["calculator"], prov["model"], prov["seed"]) == (3, "emt", "ASE EMT", 7)
    cif = (out / "Al_searched.cif").read_text()
    head = [ln for ln in cif.splitlines() if ln.startswith("#")]
    text = "\n".join(head)
    assert "SEARCHED" in text and "not an experimental" in text
    for want in ("Fm-3m (225)", "Z = 1", "trials 3", "ASE EMT", "seed: 7", "sseflow version"):
        assert want in text, want
    side = json.loads((out / "Al_searched.json").read_text())
    assert side["provenance"] == prov
    from pymatgen.core import Structure

    s = Structure.from_str(cif, fmt="cif")
    assert s.composition.reduced_formula == "Al"
    # fcc Al with EMT: about 4.05 Å conventional, 16.6 Å^3/atom
    assert 14.0 < s.volume / len(s) < 19.0


def test_dedupe_merges_identical_candidates(al_fcc):
    doc = json.loads(al_fcc[0].stdout)
    accepted = [c for c in doc["candidates"] if c["status"] == "accepted"]
    assert len(accepted) >= 2
    # every Fm-3m Z=1 candidate relaxes to the same fcc cell: one distinct structure
    assert len(doc["table"]) == 1 < len(accepted)
    assert doc["table"][0]["duplicates"] == len(accepted) - 1
    assert doc["provenance"]["gap_to_next_distinct_meV"] is None


def test_search_is_deterministic_for_a_seed():
    a = ss.search("Al", formula_units=1, trials=3, calculator="emt", seed=3)
    b = ss.search("Al", formula_units=1, trials=3, calculator="emt", seed=3)
    c = ss.search("Al", formula_units=1, trials=3, calculator="emt", seed=4)
    key = lambda r: [(x.spacegroup_generated, x.seed, x.status, x.energy_per_atom) for x in r.candidates]  # noqa: E731
    assert key(a) == key(b)
    assert [x.seed for x in a.candidates] != [x.seed for x in c.candidates]
    assert [r["energy_per_atom"] for r in a.table()] == sorted(r["energy_per_atom"] for r in a.table())
    assert a.table()[0]["relative_energy_meV"] == 0.0


def test_dedupe_keeps_the_lowest_and_counts_the_rest():
    from pymatgen.core import Lattice, Structure

    fcc = Structure(Lattice.cubic(4.05), ["Al"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    prim = fcc.get_primitive_structure()
    bcc = Structure(Lattice.cubic(3.2), ["Al"] * 2, [[0, 0, 0], [0.5, 0.5, 0.5]])
    cands = [ss.Candidate(trial=i, z=1, spacegroup_generated=225, seed=0, status="accepted", energy_per_atom=e,
                          structure=s) for i, (s, e) in enumerate([(fcc, -0.9), (bcc, -0.5), (prim, -1.0)], 1)]
    out = ss.dedupe(cands)
    assert [c.trial for c in out] == [3, 2]
    assert out[0].duplicates == 1 and out[1].duplicates == 0


def test_close_atoms_are_rejected():
    from pymatgen.core import Lattice, Structure

    s = Structure(Lattice.cubic(4.0), ["Al", "Al"], [[0, 0, 0], [0.1, 0, 0]])   # 0.4 Å apart
    assert ss._too_close(s) == pytest.approx(0.4)
    assert ss._too_close(Structure(Lattice.cubic(4.0), ["Al"], [[0, 0, 0]])) is None


def test_incompatible_space_group_is_detected():
    species, counts = ss.parse_target("Li2S")
    assert ss.compatible(counts, 1, 225)          # antifluorite
    assert not ss.compatible(counts, 1, 221)      # Pm-3m has no sites for 2 Li + 1 S
    with pytest.raises(InputError, match="221"):
        ss.search("Li2S", spacegroup=221, formula_units=1, trials=1, calculator="emt")


@pytest.mark.parametrize("args, word", [
    (["Xx2"], "Xx"),
    (["Al", "-z", 0], "formula-units"),
    (["Al", "-z", 13], "formula-units"),
    (["Al", "--trials", 0], "trials"),
    (["Al", "--trials", 5000], "trials"),
    (["Al", "--spacegroup", 231], "spacegroup"),
    (["Li2S", "--spacegroup", 221, "-z", 1], "Wyckoff"),
    (["Al", "-z", 1, "--max-atoms", 4], "not both"),
    (["LiF", "-z", 1, "--calculator", "emt"], "emt"),
])
def test_bad_input_is_one_line_exit_2(args, word, tmp_path):
    p = run_cli("phases", "search", *args, "--calculator" if "--calculator" not in args else "--seed",
                "emt" if "--calculator" not in args else 0, "-o", tmp_path, timeout=120)
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and word in lines[0], p.stderr
    assert p.stdout == ""
    assert not list(tmp_path.iterdir())
