"""Substituted structures (void search, vacancies), the screening pipeline with a stand-in
calculator, ``sseflow substitute`` (output contract, bad input, --store) and the query view."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from helpers import FakeResult, sseflow

from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import parse_formula, reduced_formula
from sseflow.analysis.substitution import ANION_VACANCY, LI_INTERSTITIAL, LI_VACANCY, plan_substitution

# Formation energies of a stand-in calculator (eV/atom) and its elemental energies (eV/atom):
# a phase's total energy is sum(n_el * MU[el]) + N * FORM[reduced formula] (0 for elements).
MU = {"Li": -1.9, "Ge": -4.5, "P": -5.4, "S": -4.1, "Sr": -1.6, "Si": -5.4, "Ca": -2.0, "Zr": -8.5, "Nb": -10.1}
FORM = {"Li10GeP2S12": -1.10, "Li10SrP2S12": -1.00, "Li12SrP2S12": -1.16, "Li10SrP2S11": -1.05,
        "Li10ZrP2S12": -1.14}

REF = """formula,e_form
Li,0
Ge,0
P,0
S,0
Sr,0
Si,0
Zr,0
Nb,0
Li2S,-1.50
Li3PS4,-1.10
Li10GeP2S12,-1.09
GeS2,-0.65
SrS,-2.30
ZrS2,-1.90
Li3P,-0.70
LiSi,-0.20
Li15Si4,-0.25
SiS2,-0.60
"""


class FakeBackend:
    """Returns the model energy of the input structure unchanged (no relaxation)."""

    name = "fake"
    correction_scheme = "MP2020"

    def __init__(self):
        self.relaxed = []

    def relax(self, structure, relax_cell=True):
        comp = {str(el): a for el, a in structure.composition.get_el_amt_dict().items()}
        n = sum(comp.values())
        formula = reduced_formula(comp)
        form = 0.0 if len(comp) == 1 else {reduced_formula(parse_formula(k)): e for k, e in FORM.items()}.get(formula, -0.5)
        self.relaxed.append(formula)
        return FakeResult(structure, sum(a * MU[el] for el, a in comp.items()) / n + form)


@pytest.fixture
def lgps():
    from sseflow.workflows.substitution import load_host

    s, name = load_host("Li10GeP2S12")
    assert name == "Li10GeP2S12"
    return s


# ------------------------------------------------------------------ structures

def test_void_search_finds_the_bcc_tetrahedral_site():
    from pymatgen.core import Lattice, Structure

    from sseflow.workflows.substitution import find_voids

    s = Structure(Lattice.cubic(4.0), ["Li"], [[0, 0, 0]])
    first, second = find_voids(s, 2)
    assert np.allclose(first, [0.5, 0.5, 0.5])          # the body centre of a simple cubic cell
    s.append("Li", first)                                # now bcc: largest hole is tetrahedral
    d = min(s.lattice.get_all_distances([second], s.frac_coords)[0])
    assert d == pytest.approx(4.0 * np.sqrt(5) / 4, abs=1e-6)


def _formula(structure) -> str:
    return reduced_formula({str(el): a for el, a in structure.composition.get_el_amt_dict().items()})


def _variant(plan, kind):
    return next(v for v in plan.variants if v.compensation == kind)


def test_li_interstitials_go_to_empty_space_deterministically(lgps):
    from sseflow.workflows.substitution import build_variant

    v = _variant(plan_substitution({"Li": 20, "Ge": 2, "P": 4, "S": 24}, "Ge", "Sr"), LI_INTERSTITIAL)
    a, b = build_variant(lgps, "Ge", v), build_variant(lgps, "Ge", v)
    assert _formula(a) == reduced_formula(parse_formula("Li12SrP2S12")) and len(a) == 54
    assert np.allclose(a.frac_coords, b.frac_coords)
    new = [i for i, t in enumerate(a.site_properties["substitution"]) if t == "interstitial"]
    assert len(new) == 4
    d = a.distance_matrix
    np.fill_diagonal(d, np.inf)
    host_min = lgps.distance_matrix[np.triu_indices(len(lgps), 1)].min()
    # each added Li is at least as far from every atom as the closest pair of the host is apart
    assert d[new].min() >= 0.9 * host_min


def test_vacancies_are_the_atoms_nearest_the_substituent(lgps):
    from sseflow.workflows.substitution import build_variant

    cell = {"Li": 20, "Ge": 2, "P": 4, "S": 24}
    for sub, kind, el in (("Sr", ANION_VACANCY, "S"), ("Nb", LI_VACANCY, "Li")):
        v = _variant(plan_substitution(cell, "Ge", sub), kind)
        s = build_variant(lgps, "Ge", v)
        assert _formula(s) == reduced_formula(parse_formula(v.formula))
        ge = [i for i, x in enumerate(lgps) if x.specie.symbol == "Ge"]
        idx = [i for i, x in enumerate(lgps) if x.specie.symbol == el]
        dist = lgps.lattice.get_all_distances(lgps.frac_coords[ge], lgps.frac_coords[idx]).min(axis=0)
        kept = {tuple(np.round(f % 1.0, 6)) for f in s.frac_coords[[i for i, x in enumerate(s) if x.specie.symbol == el]]}
        removed = [dist[j] for j, i in enumerate(idx) if tuple(np.round(lgps.frac_coords[i] % 1.0, 6)) not in kept]
        assert len(removed) == -int(v.changes[el])
        remaining = [dist[j] for j, i in enumerate(idx) if tuple(np.round(lgps.frac_coords[i] % 1.0, 6)) in kept]
        assert max(removed) <= min(remaining) + 1e-6


def test_host_from_a_structure_file_and_unknown_hosts(tmp_path, lgps):
    from sseflow.workflows.substitution import load_host

    lgps.to(filename=str(tmp_path / "lgps.cif"))
    s, name = load_host(str(tmp_path / "lgps.cif"))
    assert name == "Li10GeP2S12" and len(s) == len(lgps)
    with pytest.raises(InputError):
        load_host(str(tmp_path / "missing.cif"))
    with pytest.raises(InputError, match="unknown structure"):
        load_host("NoSuchPhase")


def test_disordered_host_is_refused():
    from pymatgen.core import Lattice, Structure

    from sseflow.workflows.substitution import load_host

    s = Structure(Lattice.cubic(4.0), [{"Li": 0.5, "Na": 0.5}], [[0, 0, 0]])
    with pytest.raises(InputError, match="partially occupied"):
        load_host(s)


# ------------------------------------------------------------------ the screening

@pytest.fixture
def ref_csv(tmp_path):
    p = tmp_path / "ref.csv"
    p.write_text(REF)
    return p


def test_screening_pipeline(lgps, ref_csv):
    from matplotlib.figure import Figure

    from sseflow.analysis.reference import ReferenceSet, load_reference
    from sseflow.analysis.substitution import energy_above_hull
    from sseflow.workflows.substitution import screen_substitutions

    backend = FakeBackend()
    res = screen_substitutions(lgps, "Ge", ["Sr", "Zr"], reference=ref_csv, calculator=backend,
                               correction_scheme="MP2020")
    rows = {r["formula"]: r for r in res.rows}
    assert set(rows) == {"Li10GeP2S12", "Li10SrP2S12", "Li12SrP2S12", "Li10SrP2S11", "Li10ZrP2S12"}
    # every element of the candidates relaxed with the same calculator
    assert {"Li", "Ge", "P", "S", "Sr", "Zr", "Si"} <= set(backend.relaxed)
    # formation energies come back on the reference's scale: the calculator's elements removed
    for f, r in rows.items():
        assert r["formation_energy_eV_per_atom"] == pytest.approx(FORM[f])
    # E_hull against the file's entries of the system plus the candidate's own entry
    file_rs = load_reference(ref_csv)
    for f, r in rows.items():
        assert r["e_above_hull_meV"] == pytest.approx(energy_above_hull(file_rs, parse_formula(f), FORM[f]), abs=1e-6)
    assert rows["Li10GeP2S12"]["reference_e_above_hull_meV"] is not None
    assert rows["Li10SrP2S12"]["charge_balanced"] is False and rows["Li10SrP2S12"]["net_charge"] == -2
    assert (rows["Li10GeP2S12"]["cation_charge"], rows["Li10GeP2S12"]["anion_charge"]) == (24, -24)
    assert "+22 against -24" in rows["Li10SrP2S12"]["charge"]
    assert res.rows[-1]["formula"] == "Li10SrP2S12"            # the unbalanced one last
    for r in res.rows:
        assert r["rxn_li_meV"] <= 0 and r["rxn_alloy_meV"] <= 0
        assert r["reduction_V"] >= 0
    assert "same calculator's elemental phases" in " ".join(res.notes)
    fig = res.figure()
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert len(list(csv.DictReader(io.StringIO(res.table("csv"))))) == 5
    # a ReferenceSet object gives the same numbers as the file
    res2 = screen_substitutions(lgps, "Ge", ["Zr"], reference=file_rs, calculator=FakeBackend(), include_host=False,
                                correction_scheme="MP2020")
    assert res2.rows[0]["e_above_hull_meV"] == pytest.approx(rows["Li10ZrP2S12"]["e_above_hull_meV"])
    assert isinstance(file_rs, ReferenceSet)


def test_computed_entries_are_put_on_the_reference_scale(lgps, ref_csv):
    from sseflow.analysis.schemes import convert_formation_energy
    from sseflow.workflows.substitution import screen_substitutions

    res = screen_substitutions(lgps, "Ge", ["Zr"], reference=ref_csv, calculator=FakeBackend(),
                               correction_scheme="MP-legacy")
    assert res.correction_scheme == "MP-legacy"
    for r in res.rows:
        s = next(c.structure for c in res.calculations if c.label == r["label"])
        want = convert_formation_energy(FORM[r["formula"]], s, "MP2020", "MP-legacy")
        assert want != pytest.approx(FORM[r["formula"]], abs=1e-4)   # sulfides: the schemes differ
        assert r["formation_energy_eV_per_atom"] == pytest.approx(want)
    with pytest.raises(InputError, match="cannot be converted"):
        screen_substitutions(lgps, "Ge", ["Zr"], reference=ref_csv, calculator=FakeBackend(),
                             correction_scheme="my-own-scheme")
    with pytest.raises(InputError, match="not declared"):
        screen_substitutions(lgps, "Ge", ["Zr"], reference=ref_csv, calculator=FakeBackend())


# ------------------------------------------------------------------ the command

@pytest.fixture
def fake_cli(monkeypatch, home, ref_csv):
    import sseflow.workflows.substitution as sub

    import sseflow.workflows.stages.calculations as calcs

    monkeypatch.setattr(sub, "_backend", lambda calculator, preset: FakeBackend())
    monkeypatch.setattr(calcs, "expected_parameters", lambda *a, **k: {"fmax": 0.05})
    return ref_csv


def test_cli_json_stdout_only(capsys, fake_cli, tmp_path):
    code, out, err = sseflow(capsys, "substitute", "Li10GeP2S12", "--site", "Ge", "--with", "Sr",
                             "--reference", fake_cli, "--reference-scheme", "MP2020", "--json",
                             "--plot", tmp_path / "sub.png", "--structures", tmp_path / "cifs")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["site"] == "Ge" and doc["correction_scheme"] == "MP2020"
    assert [r["rank"] for r in doc["rows"]] == list(range(1, 5))
    assert (tmp_path / "sub.png").stat().st_size > 0
    cifs = sorted(p.name for p in (tmp_path / "cifs").iterdir())
    assert cifs == sorted(f"{r['rank']}_{r['formula']}_{r['compensation']}.cif" for r in doc["rows"])
    assert "literature" in err


def test_cli_text_says_not_charge_balanced(capsys, fake_cli):
    code, out, err = sseflow(capsys, "substitute", "Li10GeP2S12", "--site", "Ge", "--with", "Sr",
                             "--reference", fake_cli, "--reference-scheme", "MP2020", "--compensation", "li-interstitial")
    assert code == 0, err
    assert "Li12SrP2S12" in out and "Li10SrP2S11" not in out
    assert "Li10SrP2S12 is NOT charge balanced: +22 against -24" in err


@pytest.mark.parametrize("args, match", [
    (["--with", "Xx"], "unknown element 'Xx'"),
    (["--with", "Sr", "--site", "Sn"], "site element Sn is not in the host"),
    (["--with", "Sr", "--fmax", "nan"], "not a finite number"),
    (["--with", "Sr", "-o", "/nonexistent/dir/t.txt"], "cannot write there"),
    (["--with", "Sr", "--compensation", "magic"], "unknown 'magic'"),
    (["--with", "Sr", "--structures", "/proc/nope"], "cannot write there"),
    ([], "either --with"),
])
def test_cli_bad_input(capsys, fake_cli, args, match):
    argv = ["substitute", "Li10GeP2S12", "--reference", fake_cli, "--reference-scheme", "MP2020", *args]
    if "--site" not in args:
        argv += ["--site", "Ge"]
    code, out, err = sseflow(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and match in err


def test_cli_store_and_query(capsys, fake_cli):
    code, out, err = sseflow(capsys, "substitute", "Li10GeP2S12", "--site", "Ge", "--with", "Sr",
                             "--reference", fake_cli, "--reference-scheme", "MP2020", "--store", "--json")
    assert code == 0, err
    code, out, err = sseflow(capsys, "query", "substitutions", "--formula", "Li12SrP2S12", "--json")
    assert code == 0, err
    assert [d["formula"] for d in json.loads(out)] == ["Li12SrP2S12"]
    code, out, err = sseflow(capsys, "substitute", "Li10GeP2S12", "--site", "Ge", "--with", "Zr",
                             "--reference", fake_cli, "--reference-scheme", "MP2020", "--store", "--format", "csv")
    assert code == 0, err
    assert "stored 2 substitution document(s)" in err
    code, out, err = sseflow(capsys, "query", "substitutions", "--json")
    assert code == 0, err
    docs = json.loads(out)
    assert {d["formula"] for d in docs} == {"Li10GeP2S12", "Li10ZrP2S12", "Li10SrP2S12", "Li12SrP2S12",
                                            "Li10SrP2S11"}
    code, out, err = sseflow(capsys, "query", "substitutions")
    assert code == 0 and "Li10ZrP2S12" in out


# ------------------------------------------------------------------ the study

def test_study_substitution_firework_and_report(capsys, fake_cli, tmp_path):
    """compute.substitution: one substitution Firework per electrolyte with the site, its documents
    in the store, the substitution table of the report written again from the database."""
    from helpers import stored

    (tmp_path / "sub.yaml").write_text(f"""name: lgps_sub
electrolytes: [Li10GeP2S12]
anodes: [Li]
reference: {{source: file, file: {fake_cli}, correction_scheme: MP2020}}
compute:
  windows: false
  reactions: false
  substitution: {{site: Ge, with: [Zr, Sr], compensations: [li-interstitial]}}
output: out
""")
    rc, out, err = sseflow(capsys, "study", "sub.yaml")
    assert rc == 0, err
    assert "1 substitution" in err
    docs = stored(tmp_path / "home")["substitutions"]
    assert {d["formula"] for d in docs} == {"Li10GeP2S12", "Li10ZrP2S12", "Li10SrP2S12", "Li12SrP2S12"}
    md = tmp_path / "out" / "substitution_Li10GeP2S12_Ge.md"
    first = md.read_text()
    assert "Li12SrP2S12" in first and "NO (-2)" in first
    assert (tmp_path / "out" / "substitution_Li10GeP2S12_Ge.png").is_file()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [r["rank"] for r in report["substitutions"]] == [1, 2, 3, 4]
    md.unlink()
    rc, out, err = sseflow(capsys, "report", "--from-db", "-o", tmp_path / "again")
    assert rc == 0, err
    assert (tmp_path / "again" / "substitution_Li10GeP2S12_Ge.md").read_text() == first


def test_study_partial_substitution(capsys, fake_cli, tmp_path):
    """compute.substitution.fraction: half the Ge of the 50-atom cell, as in the command."""
    from helpers import stored

    (tmp_path / "half.yaml").write_text(f"""name: lgps_half
electrolytes: [Li10GeP2S12]
reference: {{source: file, file: {fake_cli}, correction_scheme: MP2020}}
compute:
  windows: false
  reactions: false
  substitution: {{site: Ge, with: [Zr], fraction: 0.5, orderings: 1}}
output: out
""")
    rc, out, err = sseflow(capsys, "study", "half.yaml")
    assert rc == 0, err
    docs = stored(tmp_path / "home")["substitutions"]
    assert {d["formula"] for d in docs} == {"Li10GeP2S12", "Li20GeZrP4S24"}


def test_study_substitution_validation(capsys, home, tmp_path):
    for bad, word in (("fraction: 1.5", "fraction"), ("fraction: .nan", "fraction"), ("orderings: 0", "orderings"),
                      ("any_element: true", "auto")):
        (tmp_path / "bad.yaml").write_text(f"""name: bad
electrolytes: [Li10GeP2S12]
reference: {{source: file, file: x.csv}}
compute: {{windows: false, reactions: false, substitution: {{site: Ge, with: [Sn], {bad}}}}}
""")
        rc, out, err = sseflow(capsys, "submit", "bad.yaml")
        assert rc == 2 and len(err.strip().splitlines()) == 1 and word in err, (bad, err)
    (tmp_path / "bad.yaml").write_text("""name: bad
electrolytes: [Li10GeP2S12]
compute: {windows: false, reactions: false, substitution: {site: Ge, with: [Xx]}}
""")
    rc, out, err = sseflow(capsys, "submit", "bad.yaml")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "unknown element 'Xx'" in err


def test_cli_auto_proposes_from_the_covered_elements(capsys, fake_cli):
    from sseflow.analysis.reference import load_reference
    from sseflow.analysis.substitution import propose_substituents

    code, out, err = sseflow(capsys, "substitute", "Li10GeP2S12", "--site", "Ge", "--auto", "2", "--no-host",
                             "--reference", fake_cli, "--reference-scheme", "MP2020", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    want = [p.element for p in propose_substituents("Li10GeP2S12", "Ge", 2,
                                                    allowed=load_reference(fake_cli).elements)]
    assert sorted({r["substituent"] for r in doc["rows"]}) == sorted(want)
    assert "proposed" in " ".join(doc["notes"])


def test_study_substitution_adds_interfaces_of_the_best_candidates(capsys, fake_cli, tmp_path):
    """compute.substitution.interfaces: once the candidates are ranked, the host and the best
    charge-balanced candidate get interface Fireworks with each anode (before the report), built
    from their relaxed structures; the report lists both interfaces."""
    from helpers import stored

    (tmp_path / "subi.yaml").write_text(f"""name: lgps_subi
electrolytes: [Li10GeP2S12]
anodes: [Li]
reference: {{source: file, file: {fake_cli}, correction_scheme: MP2020}}
interface: {{relax: false, scan: false, electrolyte_miller: [[0, 0, 1]], electrode_miller: [[1, 1, 0]],
            electrolyte_thickness: 7.0, electrode_thickness: 5.0, max_atoms: 160, max_area: 120.0,
            max_strain: 0.06}}
compute:
  windows: false
  reactions: false
  substitution: {{site: Ge, with: [Zr, Sr], compensations: [], interfaces: 1}}
output: out
""")
    rc, out, err = sseflow(capsys, "study", "subi.yaml")
    assert rc == 0, err
    db = stored(tmp_path / "home")
    names = sorted(fw["name"] for fw in db["fireworks"])
    # Sr without compensation is not charge balanced: the best balanced candidate is Li10ZrP2S12
    assert [n for n in names if n.startswith("interface ")] == ["interface Li10GeP2S12 | Li",
                                                                 "interface Li10ZrP2S12 | Li"]
    assert all(fw["state"] == "COMPLETED" for fw in db["fireworks"])
    assert len(db["interfaces"]) == 2
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert sorted((i["electrolyte"], i["anode"]) for i in report["interfaces"]) == [
        ("Li10Ge(PS6)2", "Li"), ("Li10Zr(PS6)2", "Li")]
    assert (tmp_path / "out" / "interfaces.md").is_file()
