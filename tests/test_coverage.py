"""Coverage of a reference hull by the structure library; the library's sourced MP/JARVIS phases."""
from __future__ import annotations

import json
import os
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from helpers import SSEFLOW
from sseflow.analysis.errors import InputError
from sseflow.analysis.formula import parse_formula, reduced_formula
from sseflow.workflows.structures import coverage as cov_mod
from sseflow.workflows.structures.coverage import coverage, hull_distances, library_formulas
from sseflow.workflows.structures.library import DATA_DIR, entry_for, get_structure

ROOT = Path(__file__).resolve().parents[1]
MP_CSV = Path(os.environ.get("SSEFLOW_SHARED", ROOT.parent / "shared")) / "data" / "mp_formation_energies.csv"


def _x_si(formula: str) -> Fraction:
    c = parse_formula(formula)
    return Fraction(int(c.get("Si", 0)), int(sum(c.values())))


def synthetic_li_si(path: Path) -> Path:
    """A made-up Li-Si hull: Li, Li21Si5, LiSi, Si on it; Li15Si4 10 meV/atom above, Li12Si7 50 above.

    The library has Li, Si, LiSi, Li15Si4 and Li12Si7 but no Li21Si5.
    """
    a, b = (_x_si("Li21Si5"), Fraction(-150, 1000)), (_x_si("LiSi"), Fraction(-200, 1000))

    def hull(x):  # the segment Li21Si5 - LiSi
        return a[1] + (b[1] - a[1]) * (x - a[0]) / (b[0] - a[0])

    rows = {"Li": 0.0, "Si": 0.0, "Li21Si5": float(a[1]), "LiSi": float(b[1]),
            "Li15Si4": float(hull(_x_si("Li15Si4"))) + 0.010, "Li12Si7": float(hull(_x_si("Li12Si7"))) + 0.050}
    path.write_text("formula,e_form\n" + "".join(f"{f},{e!r}\n" for f, e in rows.items()))
    return path


def test_synthetic_hull_missing_near_and_far(tmp_path):
    ref = synthetic_li_si(tmp_path / "ref.csv")
    eh = {r["formula"]: r["e_above_hull_meV"] for r in hull_distances("Li-Si", ref)}
    assert eh == pytest.approx({"Li": 0, "Si": 0, "Li21Si5": 0, "LiSi": 0, "Li15Si4": 10.0, "Li12Si7": 50.0}, abs=0.06)
    cov = coverage("Si-Li", ref)
    assert cov["chemsys"] == "Li-Si"
    assert [r["formula"] for r in cov["hull_present"]] == ["Li", "Si", "LiSi"]
    assert cov["hull_present"][2]["library"] == ["LiSi"]
    assert [(r["formula"], r["e_above_hull_meV"]) for r in cov["near_hull_present"]] == [("Li15Si4", 10.0)]
    assert [(r["formula"], r["on_hull"]) for r in cov["missing"]] == [("Li21Si5", True)]
    listed = {r["formula"] for k in ("hull_present", "near_hull_present", "missing") for r in cov[k]}
    assert "Li12Si7" not in listed                       # 50 meV/atom: beyond the 25 meV/atom window
    # a narrower window drops the 10 meV phase; given formulas replace the library
    assert coverage("Li-Si", ref, tolerance_meV=5)["near_hull_present"] == []
    only = coverage("Li-Si", ref, available=["Li", "Si2", "Li42Si10"])
    assert [r["formula"] for r in only["missing"]] == ["LiSi", "Li15Si4"]
    assert [r["formula"] for r in only["hull_present"]] == ["Li", "Si", "Li21Si5"]
    # excluding Li21Si5 puts Li15Si4 on the hull
    assert {r["formula"] for r in coverage("Li-Si", ref, exclude=["Li21Si5"])["hull_present"]} == \
        {"Li", "Si", "Li15Si4", "LiSi"}


def test_coverage_bad_input(tmp_path):
    ref = synthetic_li_si(tmp_path / "ref.csv")
    with pytest.raises(InputError, match="unknown element 'Qq'"):
        coverage("Li-Qq", ref)
    with pytest.raises(InputError, match="no entries for element S"):
        coverage("Li-S", ref)
    with pytest.raises(InputError, match="reference file not found"):
        coverage("Li-Si", tmp_path / "missing.csv")


def _sseflow(*args, home):
    env = {k: v for k, v in os.environ.items()
           if k not in ("SSEFLOW_DB", "SSEFLOW_CONFIG", "MONGOMOCK_SERVERSTORE_FILE", "SSEFLOW_REFERENCE")}
    env["SSEFLOW_HOME"] = str(home)
    return subprocess.run([SSEFLOW, *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=600)


def test_cli_coverage_json_and_errors(tmp_path):
    ref = synthetic_li_si(tmp_path / "ref.csv")
    p = _sseflow("phases", "Li-Si", "--coverage", "--reference", str(ref), "--json", home=tmp_path / "h")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)                           # strictly JSON: nothing else on stdout
    assert data["reference"] == str(ref) and data["tolerance_meV"] == 25.0
    assert [(r["formula"], r["e_above_hull_meV"]) for r in data["missing"]] == [("Li21Si5", 0.0)]
    assert [r["formula"] for r in data["near_hull_present"]] == ["Li15Si4"]
    text = _sseflow("phases", "Li-Si", "--coverage", "--reference", str(ref), home=tmp_path / "h")
    assert text.returncode == 0 and "Li21Si5" in text.stdout and "Missing from the library (1)" in text.stdout
    for args in (["--reference", str(tmp_path / "none.csv")], [], ["--reference", str(ref), "--tolerance", "-3"]):
        p = _sseflow("phases", "Li-Si", "--coverage", *args, home=tmp_path / "h")
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        assert p.returncode == 2 and p.stdout == "" and len(lines) == 1, (args, p.stderr)
        assert lines[0].startswith("sseflow: error:") and "Traceback" not in p.stderr


def test_study_check_warns_about_missing_hull_phases(tmp_path, monkeypatch, capsys):
    import sseflow
    from sseflow.workflows.study import check_before_submit

    monkeypatch.setenv("SSEFLOW_HOME", str(tmp_path / "h"))
    monkeypatch.delenv("SSEFLOW_CONFIG", raising=False)
    monkeypatch.delenv("SSEFLOW_REFERENCE", raising=False)
    monkeypatch.setenv("SSEFLOW_SHARED", str(tmp_path / "no-shared"))
    st = sseflow.Study(name="lisi", electrolytes=["LiSi"], anodes=["Li"], compute={"reactions": False})
    check_before_submit(st)                               # no reference file: a note, not an error
    err = capsys.readouterr().err.splitlines()
    assert err == ["sseflow: note: coverage check skipped: no reference file (set SSEFLOW_REFERENCE or "
                   "'reference:' in the sseflow config file)"]
    # with nothing configured, the shared Materials Project table is the fallback when it is present
    shared_csv = tmp_path / "shared" / "data" / "mp_formation_energies.csv"
    shared_csv.parent.mkdir(parents=True)
    synthetic_li_si(shared_csv)
    monkeypatch.setenv("SSEFLOW_SHARED", str(tmp_path / "shared"))
    check_before_submit(st)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("sseflow: warning: coverage Li-Si:") and line.endswith(f"(vs {shared_csv})")
    monkeypatch.setenv("SSEFLOW_REFERENCE", str(synthetic_li_si(tmp_path / "ref.csv")))
    check_before_submit(st)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("sseflow: warning: coverage Li-Si: 1 hull and 0 near-hull") and "Li21Si5 (0)" in line
    # phases.skip removes a library phase from what the study relaxes
    check_before_submit(sseflow.Study(name="s", electrolytes=["LiSi"], anodes=["Li"], compute={"reactions": False},
                                      phases={"skip": ["Li15Si4"]}))
    (line,) = capsys.readouterr().err.splitlines()
    assert "1 hull and 1 near-hull" in line and "Li15Si4 (10)" in line
    # a file-based study is not checked
    check_before_submit(sseflow.Study(name="f", electrolytes=["LiSi"], reference={"source": "file",
                                                                                     "file": str(tmp_path / "ref.csv")}))
    assert capsys.readouterr().err == ""


def test_report_coverage_entry_and_footnote(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from sseflow.workflows import report

    ref = synthetic_li_si(tmp_path / "ref.csv")
    monkeypatch.setenv("SSEFLOW_REFERENCE", str(ref))
    tasks = {"t1": {"formula": "Li"}, "t2": {"formula": "Si8"}, "t3": {"formula": "Li12Si12"},
             "t4": {"formula": "Li60Si16"}}
    store = SimpleNamespace(get=lambda kind, k: tasks.get(k))
    cov = report._coverage({"Li-Si": {"task_ids": list(tasks)}}, {"source": "computed"}, store)
    assert cov["systems"]["Li-Si"] == {"searched": [], "hull_present": ["Li", "Si", "LiSi"],
                                       "near_hull_present": [["Li15Si4", 10.0]], "missing": [["Li21Si5", 0.0]]}
    json.dumps(cov)                                       # kept in the stored manifest
    note = report._coverage_footnote(cov)
    assert note == ("\nHull coverage vs ref.csv (phases within 25 meV/atom of its hull; E_hull in meV/atom): "
                    "Li-Si: 3 hull and 1 near-hull phases computed; missing Li21Si5 (0).\n")
    assert report._coverage_footnote(None) == ""


def test_searched_structures_are_named(tmp_path, monkeypatch):
    """Phases whose library structure is a model prediction (an ordered prototype, a search) are
    marked in the coverage rows and named in the report's footnote; sourced ones are not."""
    from types import SimpleNamespace

    from sseflow.workflows import report

    csv = tmp_path / "lipsi.csv"
    csv.write_text("formula,e_form\nLi,0\nSi,0\nP,0\nLiSi,-0.2\nLi3P,-0.6\nLi5SiP3,-0.55\n")
    cov = coverage("Li-P-Si", str(csv))
    flags = {r["formula"]: r["searched"] for r in cov["hull_present"]}
    assert flags["Li5SiP3"] is True and flags["LiSi"] is False and flags["Li3P"] is False
    monkeypatch.setenv("SSEFLOW_REFERENCE", str(csv))
    tasks = {"a": {"formula": "Li"}, "b": {"formula": "Si"}, "c": {"formula": "P"}, "d": {"formula": "Li10Si2P6"},
             "e": {"formula": "LiSi"}}
    store = SimpleNamespace(get=lambda kind, k: tasks.get(k))
    rep = report._coverage({"Li-P-Si": {"task_ids": list(tasks)}}, {"source": "computed"}, store)
    assert rep["systems"]["Li-P-Si"]["searched"] == ["Li5SiP3"]
    note = report._coverage_footnote(rep)
    assert "phases computed (searched or ordered structures: Li5SiP3); missing Li3P (0)" in note


@pytest.mark.skipif(not MP_CSV.is_file(), reason="Materials Project table not available")
def test_li_p_s_coverage_on_mp_data():
    from sseflow.analysis.reference import load_reference
    from sseflow.analysis.window import WindowCalculator

    ref = load_reference(MP_CSV)
    cov = coverage("Li-P-S", ref)
    lib = set(library_formulas("Li-P-S"))
    near = {r["formula"]: r["e_above_hull_meV"] for r in hull_distances("Li-P-S", ref) if r["e_above_hull_meV"] <= 25}
    assert {r["formula"] for r in cov["missing"]} == set(near) - lib
    assert {r["formula"] for r in cov["hull_present"] + cov["near_hull_present"]} == set(near) & lib
    assert {"Li", "P", "S", "Li2S", "Li3P", "Li3PS4"} <= {r["formula"] for r in cov["hull_present"]}
    # energies above the hull agree with `sseflow window`'s
    wc = WindowCalculator(ref)
    for r in cov["missing"] + cov["near_hull_present"]:
        if "Li" in parse_formula(r["formula"]):
            assert r["e_above_hull_meV"] == pytest.approx(wc.window(r["formula"], profile=False).e_above_hull_meV,
                                                          abs=0.06), r
    if "Li7P3S11" not in lib:
        assert "Li7P3S11" in {r["formula"] for r in cov["missing"]}
    # Li-Si: the sourced silicides close every gap but Li21Si5/Li22Si5
    lisi = coverage("Li-Si", ref)
    assert {"LiSi", "Li12Si7", "Li13Si4"} <= {r["formula"] for r in lisi["hull_present"]}


NEW = {  # library name: (reduced formula, space group, original id)
    "LiSi": ("LiSi", 88, "mp-795"), "Li12Si7": ("Li12Si7", 62, "mp-1314"), "Li13Si4": ("Li13Si4", 55, "mp-672287"),
    "Li3PS4-beta": ("Li3PS4", 62, None), "SiP2-Pbam": ("SiP2", 55, "JVASP-152"), "SiS2-I-42d": ("SiS2", 122, "mp-7583"),
    "GeS2-I-42d": ("GeS2", 122, "mp-7582"), "LiI": ("LiI", 186, "mp-570935"), "MgF2": ("MgF2", 136, "mp-1249"),
    "LiAlO2-gamma": ("LiAlO2", 92, "mp-3427"), "LiAlO2-alpha": ("LiAlO2", 166, "mp-8001"),
    "Li2ZrF6": ("Li2ZrF6", 162, "mp-4002"), "Li2ZrO3": ("Li2ZrO3", 15, "mp-4156"),
    "LiGe-I4_1amd": ("LiGe", 141, "mp-8490"), "PCl3": ("PCl3", 62, "mp-23230"), "P4S5": ("P4S5", 4, "mp-690"),
}


@pytest.mark.parametrize("name", sorted(NEW))
def test_sourced_phases_load_and_pass_the_distance_check(name):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from sseflow.workflows.structures.validate import DISTANCE_FACTOR, check_min_distance, min_distance_ratio

    formula, sg, oid = NEW[name]
    row = entry_for(name)
    s = get_structure(name)
    assert reduced_formula({el.symbol: a for el, a in s.composition.items()}) == formula == row["formula"]
    assert SpacegroupAnalyzer(s, symprec=0.01).get_space_group_number() == sg == row["spacegroup"]
    assert min_distance_ratio(s, formula) >= DISTANCE_FACTOR
    check_min_distance(s)
    head = (DATA_DIR / row["file"]).read_text()[:3000]
    assert "# Source:" in head and "# Licence:" in head and row["licence"]
    if oid:
        assert oid in row["original_id"] and oid in head
    if "mp-" in (oid or "") or name == "Li3PS4-beta":
        assert "Jain et al., APL Mater. 1, 011002 (2013)" in row["source"] and "CC BY 4.0" in row["source"]
    if name == "Li3PS4-beta":
        assert "mp-id not in the source file" in row["source"] and not row["default"]


def test_defaults_after_the_additions():
    assert entry_for("SiP2")["name"] == "SiP2-Pbam"           # ambient polymorph by formula
    assert entry_for("Li3PS4")["name"] == "Li3PS4-gamma"
    assert entry_for("LiAlO2")["name"] == "LiAlO2-gamma"
    assert entry_for("beta-Li3PS4")["name"] == "Li3PS4-beta"
    assert entry_for("SiS2")["name"] == "SiS2"
