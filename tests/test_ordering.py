"""Ordered models of a disordered prototype (``sseflow phases order``): whole-atom supercells,
Ewald-ranked orderings, relaxation, provenance.

Fast cases: the Li5SiP3 antifluorite prototype (Li/Si on 8c) enumerated without relaxation, and
Cu0.5Au0.5 on fcc relaxed with EMT, whose lowest ordering is L1_0 (P4/mmm), the CuAu ground state."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("pyxtal", reason="Wyckoff tables come from pyxtal (pip install pyxtal)")

from helpers import run_cli  # noqa: E402
from sseflow.analysis.errors import InputError  # noqa: E402
from sseflow.workflows.structures import ordering as so  # noqa: E402

LI5SIP3_SITES = {"4a": {"P": 1.0}, "8c": {"Li": 5 / 6, "Si": 1 / 6}}
LI5SIP3_OX = {"Li": 1, "Si": 4, "P": -3}


@pytest.fixture(scope="module")
def li5sip3_proto():
    return so.prototype(225, 5.84, LI5SIP3_SITES)


def test_prototype_from_space_group(li5sip3_proto):
    s = li5sip3_proto
    assert len(s) == 12 and not s.is_ordered                    # 4 P + 8 tetrahedral sites
    comp = s.composition.get_el_amt_dict()
    assert comp["P"] == pytest.approx(4) and comp["Li"] == pytest.approx(20 / 3)
    assert comp["Si"] == pytest.approx(4 / 3)
    assert s.lattice.abc == pytest.approx((5.84, 5.84, 5.84))


def test_whole_atom_supercells(li5sip3_proto):
    assert so.cell_multiple(li5sip3_proto) == 3                 # 6 tetrahedral sites: 5 Li + 1 Si
    assert so.supercells(3) == [(1, 1, 3)]
    assert so.supercells(6) == [(1, 1, 6), (1, 2, 3)]
    assert all(a * b * c == 12 and a <= b <= c for a, b, c in so.supercells(12))


def test_orderings_have_the_stoichiometry_and_no_partial_occupancy(li5sip3_proto):
    kept, info = so.enumerate_orderings(li5sip3_proto, cells=[3, 6], top=6, oxidation_states=LI5SIP3_OX)
    assert info["base_cells"] == 3 and info["enumerated"] > len(kept) >= 2
    for o in kept:
        s = o.initial
        assert s.is_ordered
        assert all(len(site.species) == 1 and list(site.species.values())[0] == 1 for site in s)
        assert s.composition.reduced_formula == "Li5SiP3"
        assert len(s) in (9, 18)
        assert not any(hasattr(sp, "oxi_state") and sp.oxi_state for sp in s.composition)
    e = [o.ewald_per_atom for o in kept]
    assert e == sorted(e)
    assert [o.rank_ewald for o in kept] == list(range(1, len(kept) + 1))


def test_bad_cells_and_ordered_input(li5sip3_proto):
    with pytest.raises(InputError, match="multiple of 3"):
        so.enumerate_orderings(li5sip3_proto, cells=[4], oxidation_states=LI5SIP3_OX)
    with pytest.raises(InputError, match="nothing to order"):
        so.enumerate_orderings(so.prototype(225, 5.84, {"4a": {"P": 1}}), oxidation_states={"P": -3})
    with pytest.raises(InputError, match="oxidation"):
        so.enumerate_orderings(li5sip3_proto, oxidation_states={"Li": 1})


@pytest.fixture(scope="module")
def cuau(tmp_path_factory):
    out = tmp_path_factory.mktemp("order")
    p = run_cli("phases", "order", "--spacegroup", 225, "--lattice", 3.8, "--site", "4a:Cu=1/2,Au=1/2",
                "--oxidation", "Cu=1,Au=-1", "--cells", "2,4", "--top", 3, "--calculator", "emt", "-o", out,
                "--json", timeout=300)
    return p, out


def test_cli_orders_cuau_to_l10_with_provenance(cuau):
    p, out = cuau
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    prov = doc["provenance"]
    assert prov["origin"] == "ordered prototype"
    assert prov["formula"] == "CuAu"
    assert (prov["spacegroup"], prov["spacegroup_number"]) == ("P4/mmm", 123)     # L1_0
    assert prov["model"] == "ASE EMT" and prov["orderings_relaxed"] == 3
    assert "OrderDisorderedStructureTransformation" in prov["ordering_method"]
    assert "Fm-3m" in prov["prototype_spacegroup"]
    e = [r["energy_per_atom"] for r in doc["table"]]
    assert e == sorted(e) and doc["table"][0]["relative_energy_meV"] == 0.0
    cif = (out / "CuAu_ordered.cif").read_text()
    head = "\n".join(ln for ln in cif.splitlines() if ln.startswith("#"))
    for want in ("ORDERED MODEL", "not an experimental", "prototype: space group 225", "Ewald", "ASE EMT"):
        assert want in head, want
    from pymatgen.core import Structure

    s = Structure.from_str(cif, fmt="cif")
    assert s.is_ordered and s.composition.reduced_formula == "CuAu"
    assert json.loads((out / "CuAu_ordered.json").read_text())["provenance"] == prov


@pytest.mark.parametrize("args, word", [
    ([], "structure file or --spacegroup"),
    (["--spacegroup", 225, "--lattice", 3.8], "--site"),
    (["--spacegroup", 225, "--lattice", "3.8,4", "--site", "4a:Cu=1/2,Au=1/2"], "--lattice"),
    (["--spacegroup", 225, "--lattice", 3.8, "--site", "4a:Cu=0.7,Au=0.7"], "sum"),
    (["--spacegroup", 225, "--lattice", 3.8, "--site", "4a:Cu=1/2,Au=1/2", "--cells", 3,
      "--oxidation", "Cu=1,Au=-1"], "multiple of 2"),
    (["--spacegroup", 225, "--lattice", 3.8, "--site", "4a:Cu=1"], "nothing to order"),
])
def test_bad_input_is_one_line_exit_2(args, word, tmp_path):
    p = run_cli("phases", "order", *args, "--calculator", "none", "-o", tmp_path, timeout=120)
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and word in lines[0], p.stderr
    assert p.stdout == ""
