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


# ------------------------------------------------------------------ rigid-unit search

def _angle(a, b, c):
    import numpy as np

    u, v = np.asarray(a) - b, np.asarray(c) - b
    return float(np.degrees(np.arccos(np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v))))


def test_rigid_units_have_the_stated_geometry():
    import numpy as np

    ps4 = ss.unit_molecule("PS4")
    assert ps4.composition.formula == "P1 S4"
    d = ps4.distance_matrix[0, 1:]
    assert d == pytest.approx([ss.P_S_BOND] * 4)
    assert _angle(ps4.cart_coords[1], ps4.cart_coords[0], ps4.cart_coords[2]) == pytest.approx(109.47, abs=0.01)
    p2s7 = ss.unit_molecule("P2S7")
    assert p2s7.composition.reduced_formula == "P2S7"
    sp = [str(s) for s in p2s7.species]
    dm = p2s7.distance_matrix
    bonds = [(i, j) for i in range(len(sp)) for j in range(i + 1, len(sp)) if dm[i, j] < 2.5]
    assert len(bonds) == 8 and all({sp[i], sp[j]} == {"P", "S"} for i, j in bonds)
    assert dm[dm < 2.5][dm[dm < 2.5] > 0] == pytest.approx([ss.P_S_BOND] * 16)
    bridge = [i for i in range(len(sp)) if sp[i] == "S" and sum(i in b for b in bonds) == 2]
    assert len(bridge) == 1
    p = [i for i in range(len(sp)) if sp[i] == "P"]
    assert _angle(p2s7.cart_coords[p[0]], p2s7.cart_coords[bridge[0]], p2s7.cart_coords[p[1]]) == \
        pytest.approx(ss.TETRAHEDRAL, abs=0.01)
    s_idx = [i for i in range(len(sp)) if sp[i] == "S"]
    nb = [dm[i, j] for i in s_idx for j in s_idx if i < j]
    assert min(nb) > 3.0                                # the two halves are staggered, no S-S clash
    assert ss.unit_molecule("Li").composition.formula == "Li1"
    with pytest.raises(InputError, match="unknown rigid unit"):
        ss.unit_molecule("PS5")
    assert np.allclose(p2s7.center_of_mass, p2s7.center_of_mass)


def test_units_split_the_formula():
    sp, c = ss.parse_target("Li7P3S11")
    assert ss.split_units(sp, c, ss.parse_units("PS4,P2S7")) == [("PS4", 1), ("P2S7", 1), ("Li", 7)]
    sp, c = ss.parse_target("Li3PS4")
    assert ss.split_units(sp, c, ss.parse_units("PS4")) == [("PS4", 1), ("Li", 3)]
    with pytest.raises(InputError, match="more"):
        ss.split_units(sp, c, ss.parse_units("PS4*2"))
    with pytest.raises(InputError, match="UNIT"):
        ss.parse_units("PS4*x")


def test_unit_draw_is_symmetric_whole_and_keeps_units_intact():
    import numpy as np
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    sp, c = ss.parse_target("Li7P3S11")
    parts = ss.split_units(sp, c, ss.parse_units("PS4,P2S7"))
    s = None
    for seed in range(6):
        s = ss.generate_units(parts, 2, 2, seed, volume=26.0 * 42)
        if s is not None:
            break
    assert s is not None
    assert s.composition.formula == "Li14 P6 S22"
    assert s.volume == pytest.approx(26.0 * 42)
    assert SpacegroupAnalyzer(s, symprec=0.01).get_space_group_number() >= 2       # the inversion is there
    assert ss._too_close(s) is None
    # every P keeps 4 S at the unit's bond length; Li sits at least ATOM_GAP from S
    dm = s.distance_matrix
    sym = np.array([str(x.specie) for x in s])
    for i in np.where(sym == "P")[0]:
        assert np.sum(np.abs(dm[i, sym == "S"] - ss.P_S_BOND) < 0.01) == 4
    assert dm[np.ix_(sym == "Li", sym == "S")].min() >= ss.ATOM_GAP["S"] - 1e-6


def test_unit_draw_in_a_given_cell_keeps_that_cell():
    from pymatgen.core import Lattice

    sp, c = ss.parse_target("Li7P3S11")
    parts = ss.split_units(sp, c, ss.parse_units("PS4,P2S7"))
    cell = Lattice.from_parameters(12.5009, 6.0316, 12.5303, 102.845, 113.299, 74.460)   # Li7P3S11, P-1
    s = ss.generate_units(parts, 2, 2, 18, lattice=cell)    # at the experimental density most draws find no room
    assert s is not None and s.composition.formula == "Li14 P6 S22"
    assert s.volume == pytest.approx(cell.volume, rel=1e-6)       # not a random lattice of 26 A^3/atom
    assert ss._too_close(s) is None


def test_search_in_a_given_cell_relaxes_in_it_first_then_frees_it(tmp_path):
    # fcc Al drawn in a 10 % expanded cubic cell: the fixed-cell stage keeps that volume, the free
    # stage takes it to EMT's own (about 16 A^3/atom), and the provenance says which cell was given
    res = ss.search("Al", spacegroup=225, formula_units=1, trials=1, calculator="emt", seed=0,
                    lattice=(4.45, 4.45, 4.45, 90, 90, 90), lattice_source="a test cell")
    best = res.best
    assert best is not None and best.spacegroup_number == 225
    assert 14.0 < best.structure.volume / len(best.structure) < 19.0        # relaxed away from 22.0
    p = res.provenance()
    assert p["cell_given"] == [4.45, 4.45, 4.45, 90.0, 90.0, 90.0] and p["cell_source"] == "a test cell"
    assert "cell fixed" in p["cell_protocol"]
    paths = ss.write_result(res, tmp_path)
    assert "# cell given: a, b, c, alpha, beta, gamma = 4.45, 4.45, 4.45, 90, 90, 90 (a test cell)" in \
        open(paths["cif"]).read()


@pytest.mark.parametrize("args, word", [
    (["--lattice", "4,4,4,90,90"], "six"),
    (["--lattice", "4,4,x,90,90,90"], "numbers"),
    (["--lattice", "4,4,4,90,90,200"], "alpha"),
    (["--lattice", "4,4,nan,90,90,90"], "a, b, c"),
    (["--lattice", "40,40,40,90,90,90"], "per atom"),
    (["--lattice-source", "a paper"], "--lattice"),
])
def test_given_cell_bad_input_is_one_line_exit_2(args, word, tmp_path):
    p = run_cli("phases", "search", "Al", "--spacegroup", 225, "-z", 1, "--calculator", "emt", *args,
                "-o", tmp_path, timeout=120)
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and word in lines[0], p.stderr
    assert not list(tmp_path.iterdir())


def test_given_cell_needs_one_z(tmp_path):
    with pytest.raises(InputError, match="--formula-units"):
        ss.search("Al", spacegroup=225, trials=1, calculator="emt", lattice=(4, 4, 4, 90, 90, 90))


def test_wyckoff_sets_of_a_group_are_listed():
    sp, c = ss.parse_target("Li3P")
    sets = ss.wyckoff_sets(sp, c, 2, 194)
    assert len(sets) == 36
    # the Na3As type of Li3P: Li on 2b + 4f, P on 2c (or the equivalent 2d)
    assert sum(sorted(li) == ["2b", "4f"] and p in (["2c"], ["2d"]) for li, p in sets) == 2
    assert ss.wyckoff_sets(["Al"], [1], 1, 225) == [[["4a"]], [["4b"]]]
    assert ss.wyckoff_sets(*ss.parse_target("SiP2"), 8, 55) is None          # too many: random draws


def test_search_cycles_through_the_wyckoff_sets():
    res = ss.search("Al", spacegroup=225, formula_units=1, trials=4, calculator="emt", seed=2)
    drawn = [c.wyckoff for c in res.candidates]
    assert sorted(map(str, drawn[:2])) == ["[['4a']]", "[['4b']]"]       # each set once before a repeat
    assert drawn[2:] == drawn[:2]
    assert res.provenance()["wyckoff_sampling"].startswith("enumerated") and "Z=1/225: 2 sets" in \
        res.provenance()["wyckoff_sampling"]
    free = ss.search("Al", formula_units=1, trials=1, calculator="emt", seed=2)     # no group given
    assert free.candidates[0].wyckoff is None and free.provenance()["wyckoff_sampling"].startswith("random")


def test_units_need_a_space_group(tmp_path):
    p = run_cli("phases", "search", "Li3PS4", "-z", 2, "--units", "PS4", "--calculator", "emt", "-o", tmp_path,
                timeout=120)
    assert p.returncode == 2 and "--units needs --spacegroup" in p.stderr.strip().splitlines()[0]


# ------------------------------------------------------------------ searched / ordered library phases

def _searched_rows():
    from sseflow.workflows.structures.library import phases

    return [r for r in phases() if r.get("origin") in ("searched", "ordered prototype", "prototype model")]


def test_searched_library_phases_carry_their_provenance():
    rows = _searched_rows()
    assert {r["formula"] for r in rows} >= {"Li5SiP3", "SiP", "Li7P3S11"}
    for r in rows:
        for key in ("source", "model", "note", "licence", "method"):
            assert r.get(key), (r["name"], key)
        m = r["method"]
        assert (m["calculator"], m["model"].split()[0]) in {("chgnet", "CHGNet"), ("sevennet", "SevenNet")}
        assert "not an experimental" in r["note"]
        if r["origin"] == "prototype model":
            assert m["prototype"] and m["decoration"] and m["relaxation"]["converged"]
        elif r["origin"] == "searched":
            for key in ("trials", "spacegroups_searched", "z", "seed", "energy_above_next_distinct_meV"):
                assert key in m, (r["name"], key)
        else:
            for key in ("prototype", "ordering_method", "orderings_relaxed", "supercell"):
                assert key in m, (r["name"], key)


@pytest.mark.parametrize("row", _searched_rows(), ids=lambda r: r["name"])
def test_searched_library_phase_parses_as_stated(row):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from sseflow.workflows.structures.library import DATA_DIR, get_structure

    text = (DATA_DIR / row["file"]).read_text()
    head = "\n".join(ln for ln in text.splitlines() if ln.startswith("#"))
    assert ("SEARCHED" in head) or ("ORDERED MODEL" in head) or ("MODEL structure" in head)
    s = get_structure(row["name"])
    assert s.is_ordered and len(s) == row["nsites"]
    assert s.composition.reduced_formula == row["formula"]
    assert SpacegroupAnalyzer(s, symprec=0.01).get_space_group_number() == row["spacegroup"]
    assert ss._too_close(s) is None


def test_search_on_given_wyckoff_positions():
    res = ss.search("Al", spacegroup=225, formula_units=1, trials=3, calculator="emt", seed=2, wyckoff="Al:4b")
    assert [c.wyckoff for c in res.candidates] == [[["4b"]]] * 3           # every draw on the given set
    assert res.provenance()["wyckoff_sampling"] == "given: every draw on the Wyckoff positions Al 4b"
    sp, c = ss.parse_target("Li4GeS4")
    want = {"Ge": ["4c"], "Li": ["8d", "4c", "4c"], "S": ["8d", "4c", "4c"]}
    assert ss.parse_wyckoff("S:8d,4c,4c; Li:8d,4c,4c; Ge:4c", sp, c, 4, 62) == [want[e] for e in sp]


@pytest.mark.parametrize("wyckoff, message", [
    ("Li:8d,4c;Ge:4c;S:8d,4c,4c", "the positions of Li hold 12 atoms; Z = 4 in Pnma needs 16"),
    ("Li:8d,4c,4x;Ge:4c;S:8d,4c,4c", "space group 62 (Pnma) has no position 4x"),
    ("Li:8d,8d;S:8d,4c,4c", "must give the positions of every element"),
    ("Li8d,8d;Ge:4c;S:8d,4c,4c", "is not EL:POS,POS"),
])
def test_bad_wyckoff_positions_get_one_line(tmp_path, wyckoff, message):
    p = run_cli("phases", "search", "Li4GeS4", "--spacegroup", 62, "-z", 4, "--wyckoff", wyckoff, "--calculator",
                "emt", "-o", tmp_path, timeout=120)
    assert p.returncode == 2 and message in p.stderr.strip().splitlines()[0] and "Traceback" not in p.stderr
