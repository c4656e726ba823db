"""Correction schemes (MP2020, pre-2020 MP-legacy, uncorrected): the per-compound corrections,
conversions of formation energies between them, what reference files declare, and mixing computed
entries with a reference file on the file's scale (one-line refusals otherwise)."""
from __future__ import annotations

import hashlib

import pytest

from sseflow.analysis.entries import Entry
from sseflow.analysis.errors import InputError


def _antifluorite(a=5.70):
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["S", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]])


def _rocksalt(anion="Cl", a=5.13):
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Li", anion], [[0, 0, 0], [0.5, 0.5, 0.5]])


# pymatgen's tables: legacy sulfide -0.66346, oxide -0.70229; MP2020 S -0.503, oxide -0.687, Cl -0.614,
# Br -0.534; legacy Cl2 fitted at -1.25385 eV/atom against MP's uncorrected -1.84854
S_LEGACY, S_2020 = -0.66346, -0.503
CL_LEGACY, CL_2020 = -1.84853666 + 1.25385097674, -0.614


def test_names():
    from sseflow.analysis.schemes import MP2020, MP_LEGACY, UNCORRECTED, canonical_scheme, require_scheme

    assert canonical_scheme("mp2020") == canonical_scheme("MaterialsProject2020Compatibility") == MP2020
    assert canonical_scheme("legacy") == canonical_scheme("MaterialsProjectCompatibility") == MP_LEGACY
    assert canonical_scheme("MP-pre2020") == MP_LEGACY
    assert canonical_scheme("raw") == UNCORRECTED
    assert canonical_scheme("MP") is None and canonical_scheme("none (GPAW PBE)") is None
    with pytest.raises(InputError) as exc:
        require_scheme("PBE-ish")
    assert "\n" not in str(exc.value) and "MP-legacy" in str(exc.value)


def test_sulfide_corrections_per_scheme():
    from sseflow.analysis.schemes import scheme_correction

    li2s = _antifluorite()
    assert len(li2s) == 12                                        # conventional cell: 4 S
    assert scheme_correction(li2s, "MP2020") == pytest.approx(4 * S_2020, abs=1e-6)
    assert scheme_correction(li2s, "MP-legacy") == pytest.approx(4 * S_LEGACY, abs=1e-6)
    assert scheme_correction(li2s, "uncorrected") == 0.0
    # from the composition alone the sulfide is assumed: same numbers
    assert scheme_correction({"Li": 2, "S": 1}, "MP-legacy") == pytest.approx(S_LEGACY, abs=1e-6)
    assert scheme_correction("Li3P", "MP2020") == scheme_correction("Li3P", "MP-legacy") == 0.0
    assert scheme_correction("S", "MP-legacy") == 0.0              # elements: 0 in every scheme


def test_halide_and_gas_corrections():
    from sseflow.analysis.schemes import _LEGACY_GAS_FALLBACK, legacy_gas_terms, scheme_correction

    gas = legacy_gas_terms()
    assert gas["Cl"] == pytest.approx(CL_LEGACY, abs=1e-5)
    for el, v in _LEGACY_GAS_FALLBACK.items():                    # the fallback is today's pymatgen
        assert gas[el] == pytest.approx(v, abs=1e-5)
    licl = _rocksalt("Cl")
    assert scheme_correction(licl, "MP2020") == pytest.approx(4 * CL_2020, abs=1e-6)
    assert scheme_correction(licl, "MP-legacy") == pytest.approx(4 * CL_LEGACY, abs=1e-5)
    # bromides: corrected in MP2020 only
    assert scheme_correction(_rocksalt("Br", 5.5), "MP2020") == pytest.approx(4 * -0.534, abs=1e-6)
    assert scheme_correction(_rocksalt("Br", 5.5), "MP-legacy") == 0.0
    assert scheme_correction({"Li": 3, "N": 1}, "MP-legacy") == pytest.approx(gas["N"], abs=1e-9)


def test_convert_li2s_between_schemes():
    from sseflow.analysis.schemes import convert_formation_energy

    li2s = _antifluorite()
    shift = (S_LEGACY - S_2020) / 3                                # per atom of Li2S: -0.0535
    assert shift == pytest.approx(-0.05349, abs=1e-5)
    assert convert_formation_energy(-1.50, li2s, "MP2020", "MP-legacy") == pytest.approx(-1.50 + shift, abs=1e-6)
    assert convert_formation_energy(-1.50 + shift, li2s, "legacy", "MP2020") == pytest.approx(-1.50, abs=1e-6)
    assert convert_formation_energy(-1.00, li2s, "uncorrected", "MP2020") == pytest.approx(-1.00 + S_2020 / 3)
    assert convert_formation_energy(-1.23, li2s, "MP2020", "mp2020") == -1.23
    with pytest.raises(InputError):
        convert_formation_energy(-1.0, li2s, "none (GPAW PBE)", "MP2020")


def test_peroxide_typed_from_the_structure():
    from sseflow.analysis.schemes import scheme_correction
    from sseflow.workflows.structures.library import get_structure

    li2o2 = get_structure("Li2O2", primitive=True)
    n_o = li2o2.composition["O"]
    assert scheme_correction(li2o2, "MP2020") == pytest.approx(-0.465 * n_o, abs=1e-6)
    assert scheme_correction(li2o2, "MP-legacy") == pytest.approx(-0.46622 * n_o, abs=1e-6)
    assert scheme_correction({"Li": 2, "O": 1}, "MP-legacy") == pytest.approx(-0.70229, abs=1e-6)


def test_declared_scheme(tmp_path, monkeypatch):
    from sseflow.analysis import schemes

    table = tmp_path / "t.csv"
    table.write_text("formula,e\nLi2S,-1.5\n")
    assert schemes.declared_scheme(table) == (None, "")
    digest = hashlib.sha256(table.read_bytes()).hexdigest()
    monkeypatch.setitem(schemes.KNOWN_TABLES, digest, ("MP-legacy", "a test table"))
    assert schemes.declared_scheme(table)[0] == "MP-legacy"
    (tmp_path / "t.csv.scheme").write_text("# energies of this table\nmp2020\n")
    assert schemes.declared_scheme(table) == ("MP2020", "declared in t.csv.scheme")
    (tmp_path / "t.csv.scheme").write_text("# nothing\n\n")
    with pytest.raises(InputError, match="empty scheme declaration"):
        schemes.declared_scheme(table)


# ------------------------------------------------------------------ computed entries on a file's scale

def _computed(scheme="MP2020-compatible (CHGNet trained on MPtrj)"):
    li2s = _antifluorite()
    return [Entry("Li", {"Li": 1}, 0.0, "t-li", scheme), Entry("S", {"S": 1}, 0.0, "t-s", scheme),
            Entry("Li2S", {"Li": 2, "S": 1}, -1.50, "t-li2s", scheme, data={"structure": li2s}),
            Entry("LiCl", {"Li": 1, "Cl": 1}, -2.10, "t-licl", scheme),
            Entry("Cl", {"Cl": 1}, 0.0, "t-cl", scheme)]


def test_entries_on_scale():
    from sseflow.workflows.computed_entries import entries_on_scale

    out = {e.name: e for e in entries_on_scale(_computed(), "MP-legacy")}
    assert out["Li2S"].energy_per_atom == pytest.approx(-1.50 + (S_LEGACY - S_2020) / 3, abs=1e-6)
    assert out["LiCl"].energy_per_atom == pytest.approx(-2.10 + (CL_LEGACY - CL_2020) / 2, abs=1e-5)
    assert out["Li"].energy_per_atom == out["S"].energy_per_atom == 0.0
    assert {e.correction_scheme for e in out.values()} == {"MP-legacy"}
    assert out["Li2S"].data["converted_from"].startswith("MP2020-compatible")
    assert out["Li2S"].data["energy_per_atom_before"] == -1.50
    # already on the scale: the same objects
    same = _computed()
    assert entries_on_scale(same, "MP2020") == same
    # uncorrected -> legacy gets the whole legacy correction
    raw = {e.name: e for e in entries_on_scale(_computed("uncorrected"), "legacy")}
    assert raw["Li2S"].energy_per_atom == pytest.approx(-1.50 + S_LEGACY / 3, abs=1e-6)


def test_entries_on_scale_refuses_in_one_line():
    from sseflow.workflows.computed_entries import entries_on_scale

    for entries, target in ((_computed("none (GPAW PBE)"), "MP-legacy"), (_computed(), "PBE-ish")):
        with pytest.raises(InputError) as exc:
            entries_on_scale(entries, target)
        msg = str(exc.value)
        assert "\n" not in msg and "cannot be converted" in msg, msg


def test_file_mix_puts_computed_entries_on_the_files_scale(tmp_path):
    from sseflow.workflows.stages.thermo import merge_file_entries

    table = tmp_path / "ref.csv"
    table.write_text("formula,e\nLi2S,-1.56\nLi3PS4,-1.27\n")
    ref = {"file": str(table), "energy_column": None, "correction_scheme": None}
    with pytest.raises(InputError) as exc:                         # nothing declared
        merge_file_entries(_computed(), ref, "Li-S")
    assert "\n" not in str(exc.value) and "does not declare its correction scheme" in str(exc.value)
    (tmp_path / "ref.csv.scheme").write_text("MP-legacy\n")
    merged = merge_file_entries(_computed(), ref, "Li-S")
    ours = [e for e in merged if e.entry_id == "t-li2s"][0]
    assert ours.energy_per_atom == pytest.approx(-1.50 + (S_LEGACY - S_2020) / 3, abs=1e-6)
    assert any(e.name == "Li2S" and e.energy_per_atom == -1.56 for e in merged)   # the file's row as it is
    # given explicitly, the study's value wins over the sidecar
    merged = merge_file_entries(_computed(), {**ref, "correction_scheme": "MP2020"}, "Li-S")
    assert [e for e in merged if e.entry_id == "t-li2s"][0].energy_per_atom == -1.50
    with pytest.raises(InputError) as exc:
        merge_file_entries(_computed("none (GPAW PBE)"), ref, "Li-S")
    assert "\n" not in str(exc.value) and "none (GPAW PBE)" in str(exc.value)


# ------------------------------------------------------------------ study and CLI

STUDY = "name: s1\nelectrolytes: [Li3PS4]\nreference: {{source: both, file: ref.csv{extra}}}\n"


def _errors(text, tmp_path):
    from sseflow.workflows.study import StudyError, parse_study

    try:
        parse_study(text, source="study.yaml", base=tmp_path)
    except StudyError as exc:
        return exc.errors or [str(exc)]
    return []


def test_study_both_converts_or_refuses(tmp_path):
    (tmp_path / "ref.csv").write_text("formula,e\nLi2S,-1.56\n")
    errs = _errors(STUDY.format(extra=""), tmp_path)              # undeclared file
    assert len(errs) == 1 and "needs the correction scheme of ref.csv" in errs[0] and "\n" not in errs[0]
    assert _errors(STUDY.format(extra=", correction_scheme: MP-legacy"), tmp_path) == []
    (tmp_path / "ref.csv.scheme").write_text("legacy\n")
    assert _errors(STUDY.format(extra=""), tmp_path) == []         # the sidecar declares it
    errs = _errors(STUDY.format(extra=", correction_scheme: none"), tmp_path)
    assert len(errs) == 1 and "the correction schemes do not agree" in errs[0] and "cannot be converted" in errs[0]
    gpaw = STUDY.format(extra="") + "calculators: {relax: {name: gpaw}}\n"
    errs = _errors(gpaw, tmp_path)
    assert len(errs) == 1 and "'none (GPAW PBE)' cannot be converted" in errs[0], errs


def test_cli_reference_scheme(tmp_path):
    from sseflow.workflows.cli.common import resolve_reference_scheme

    table = tmp_path / "ref.csv"
    table.write_text("formula,e\nLi2S,-1.56\n")
    with pytest.raises(InputError, match="--reference-scheme"):
        resolve_reference_scheme(str(table))
    assert resolve_reference_scheme(str(table), "legacy") == "MP-legacy"
    (tmp_path / "ref.csv.scheme").write_text("MP2020\n")
    assert resolve_reference_scheme(str(table)) == "MP2020"


def test_study_scheme_contradicting_the_files_declaration(tmp_path):
    (tmp_path / "ref.csv").write_text("formula,e\nLi2S,-1.56\n")
    (tmp_path / "ref.csv.scheme").write_text("MP-legacy\n")
    errs = _errors(STUDY.format(extra=", correction_scheme: MP2020"), tmp_path)
    assert len(errs) == 1 and "contradicts what ref.csv declares, 'MP-legacy'" in errs[0], errs
    assert _errors(STUDY.format(extra=", correction_scheme: legacy"), tmp_path) == []
    # source 'file' does not mix anything: its label is not checked against the sidecar
    assert _errors("name: s1\nelectrolytes: [Li3PS4]\nreference: {source: file, file: ref.csv, "
                   "correction_scheme: MP2020}\n", tmp_path) == []


# ------------------------------------------------------------------ computed entries on a chosen scale

COMPUTED = "name: s2\nelectrolytes: [Li2S]\nreference: {{source: computed{extra}}}\n"


def test_computed_entries_on_a_chosen_scale():
    from sseflow.analysis.window import WindowCalculator
    from sseflow.analysis.reference import ReferenceSet
    from sseflow.workflows.stages.thermo import computed_on_scale

    own = _computed()
    legacy = computed_on_scale(own, {"source": "computed", "correction_scheme": "MP-legacy"}, {})
    li2s = [e for e in legacy if e.name == "Li2S"][0]
    assert li2s.energy_per_atom == pytest.approx(-1.50 + (S_LEGACY - S_2020) / 3, abs=1e-6)
    assert li2s.correction_scheme == "MP-legacy"
    # the Li2S oxidation limit (Li2S -> S + 2 Li) moves by the S correction difference per 2 Li
    w_own = WindowCalculator(ReferenceSet.from_entries([e for e in own if "Cl" not in e.composition])).window(
        "Li2S", profile=False)
    w_leg = WindowCalculator(ReferenceSet.from_entries([e for e in legacy if "Cl" not in e.composition])).window(
        "Li2S", profile=False)
    assert w_own.oxidation_V == pytest.approx(1.50 * 3 / 2, abs=1e-6)
    assert w_leg.oxidation_V - w_own.oxidation_V == pytest.approx(-(S_LEGACY - S_2020) / 2, abs=1e-6)


def test_study_computed_scale_is_checked(tmp_path):
    assert _errors(COMPUTED.format(extra=", correction_scheme: MP-legacy"), tmp_path) == []
    errs = _errors(COMPUTED.format(extra=", correction_scheme: PBE-ish"), tmp_path)
    assert len(errs) == 1 and "'PBE-ish' cannot be converted" in errs[0] and "\n" not in errs[0], errs
    gpaw = COMPUTED.format(extra=", correction_scheme: MP-legacy") + "calculators: {relax: {name: gpaw}}\n"
    errs = _errors(gpaw, tmp_path)
    assert len(errs) == 1 and "'none (GPAW PBE)' cannot be converted" in errs[0], errs
    # no scale asked for: GPAW's own energies are fine
    assert _errors(COMPUTED.format(extra="") + "calculators: {relax: {name: gpaw}}\n", tmp_path) == []
