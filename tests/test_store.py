"""Results store: documents, idempotent upserts, queries, export/import, LaunchPad sharing.

Every test runs on the embedded store in a temporary folder and once more against a real
MongoDB wire-protocol server (the session's ``mongodb_uri`` fixture), in a throw-away database that
is dropped afterwards.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest

from sseflow.analysis.errors import InputError
from helpers import drop_database, uri_with_db
from sseflow.workflows.store import client as store_client
from sseflow.workflows.store.documents import (
    EntryDocument,
    ReactionDocument,
    TaskDocument,
    WindowDocument,
    content_hash,
)
from sseflow.workflows.store.api import load_rows, load_window_rows, open_store, store_results

@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No user configuration leaks in; every store opened by the test is closed afterwards."""
    for var in ("SSEFLOW_DB", "SSEFLOW_CONFIG", "MONGOMOCK_SERVERSTORE_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SSEFLOW_HOME", str(tmp_path / "home"))
    yield tmp_path
    store_client.close_all()


@pytest.fixture(params=["embedded", pytest.param("mongodb", marks=pytest.mark.mongodb)])
def backend(request, isolated):
    """A factory of fresh, empty stores of one backend: ``backend("a")`` -> config spec."""
    server = request.getfixturevalue("mongodb_uri") if request.param == "mongodb" else None
    made: list[str] = []

    def make(name: str = "main") -> str:
        if server is None:
            spec = f"embedded:{isolated / name / 'store.json'}"
        else:
            spec = uri_with_db(server, f"sseflow_test_{name}_{uuid.uuid4().hex[:8]}")
        made.append(spec)
        return spec

    make.kind = request.param
    yield make
    store_client.close_all()
    for spec in made:
        drop_database(spec)


def window_row(formula: str, red: float, ox: float, **kw) -> dict:
    from sseflow.analysis.formula import chemsys, parse_formula

    row = {
        "formula": formula,
        "reduction_V": red,
        "oxidation_V": ox,
        "reduction_reaction": f"{formula} + Li -> Li2S + P",
        "oxidation_reaction": f"{formula} -> S + LiPS3 + Li",
        "reduction_products": ["Li2S", "Li3P"],
        "oxidation_products": ["S"],
        "e_above_hull_meV": 0.0,
        "in_reference": True,
        "decomposition_energy_0V_meV": -312.5,
        "decomposition_energy_5V_meV": -101.25,
        "profile": [{"potential_V": 0.0, "li_per_formula": 8, "reaction": "x"},
                    {"potential_V": red, "li_per_formula": 0, "reaction": "y"}],
        "chemsys": chemsys(parse_formula(formula)),
    }
    row.update(kw)
    return row


FIVE = [window_row("Li3PS4", 1.713, 2.314), window_row("Li6PS5Cl", 1.708, 2.011, e_above_hull_meV=21.0),
        window_row("Li10GeP2S12", 1.713, 2.143, oxidation_V=None, in_reference=False),
        window_row("Li7La3Zr2O12", 0.05, 2.91), window_row("LiF", 0, 6.35, e_above_hull_meV=None)]
INPUTS = {"reference": "mp.csv", "reference_hash": "ref-aaaa", "exclude": ["Li2S2", "LiS4"], "temperature": 300}


# ----------------------------------------------------------------------------- documents

def test_window_document_round_trips_payload_and_records_provenance():
    row = window_row("Li3PS4", 1.7, 2.3, extra_note="kept")
    doc = WindowDocument.from_payload(row, INPUTS)
    assert doc.payload() == row and list(doc.payload()) == list(row)
    assert doc.schema_version == 1 and doc.kind == "window" and doc.key.startswith("window:")
    assert doc.reduced_formula == "Li3PS4" and doc.chemsys == "Li-P-S"
    assert doc.inputs.reference_hash == "ref-aaaa" and doc.inputs.exclude == ["Li2S2", "LiS4"]
    assert doc.inputs.temperature_K == 300
    assert doc.created_at.tzinfo is not None and doc.created_at.microsecond % 1000 == 0
    assert doc.versions["fireworks"] and doc.versions["pymatgen"] and doc.versions["sseflow"]
    json.dumps(doc.model_dump(mode="json"))  # JSON-serialisable
    back = WindowDocument.model_validate_json(doc.model_dump_json())
    assert back.payload() == row and back.key == doc.key


def test_natural_keys_identify_results():
    a = WindowDocument.from_payload(window_row("Li3PS4", 1.7, 2.3), INPUTS)
    # same formula and inputs, new numbers and a different reference path: same result slot
    b = WindowDocument.from_payload(window_row("Li3PS4", 1.8, 2.2), {**INPUTS, "reference": "/other/copy.csv",
                                                                     "exclude": ["LiS4", "Li2S2"],
                                                                     "temperature": 300.0})
    assert a.key == b.key
    for change in ({"reference_hash": "ref-bbbb"}, {"exclude": []}, {"temperature": 600},
                   {"options": {"energy_column": "e_form"}}):
        c = WindowDocument.from_payload(window_row("Li3PS4", 1.7, 2.3), {**INPUTS, **change})
        assert c.key != a.key, change
    r0 = ReactionDocument.from_payload({"reactant_a": "Li3PS4", "reactant_b": "Li", "potential_V": None,
                                        "minimum": None, "kinks": []}, INPUTS)
    r1 = ReactionDocument.from_payload({"reactant_a": "Li3PS4", "reactant_b": "Li", "potential_V": 0.0,
                                        "minimum": None, "kinks": []}, INPUTS)
    assert r0.key != r1.key and r0.mode == "chemical" and r1.mode == "electrochemical"
    assert r0.pair == ["Li", "Li3PS4"] and r0.chemsys == "Li-P-S"


def test_bad_results_are_input_errors():
    with pytest.raises(InputError, match="lacks formula"):
        WindowDocument.from_payload({"reduction_V": 1.0}, INPUTS)
    with pytest.raises(InputError, match="Qq"):
        WindowDocument.from_payload(dict(window_row("Li3PS4", 1, 2), formula="LiQq"), INPUTS)
    with pytest.raises(InputError, match="reserved"):
        WindowDocument.from_payload(window_row("Li3PS4", 1, 2, key="x"), INPUTS)
    with pytest.raises(InputError, match="kind 'phase'"):
        store_results("phase", [], INPUTS, config="embedded:/nonexistent/never/opened.json")


def test_task_and_entry_documents():
    from pymatgen.core import Lattice, Structure

    s = Structure(Lattice.cubic(4.2), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    t = TaskDocument.from_result(s, "chgnet", {"model": "0.3.0", "fmax": 0.05}, energy=-7.0,
                                 forces=[[0, 0, 0.3], [0, 0.4, 0]], stress=[1, 2, 3, 0, 0, 0],
                                 timings={"total": 1.5}, files={"log": "run.log"})
    assert t.formula == "LiCl" and t.chemsys == "Cl-Li" and t.nsites == 2
    assert t.energy_per_atom == pytest.approx(-3.5) and t.max_force_eV_A == pytest.approx(0.4)
    assert t.stress_GPa == [[1, 0, 0], [0, 2, 0], [0, 0, 3]]
    # the same structure with its sites in another order is the same task
    s2 = Structure(Lattice.cubic(4.2), ["Cl", "Li"], [[0.5, 0.5, 0.5], [0, 0, 0]])
    t2 = TaskDocument.from_result(s2, "chgnet", {"fmax": 0.05, "model": "0.3.0"}, energy=-7.1)
    assert t2.fingerprint == t.fingerprint and t2.key == t.key
    t3 = TaskDocument.from_result(s, "mace", {"model": "0.3.0", "fmax": 0.05}, energy=-7.0)
    assert t3.key != t.key
    json.dumps(t.model_dump(mode="json"))

    from sseflow.analysis.entries import Entry

    e = Entry(name="Li2S", composition={"Li": 2, "S": 1}, energy_per_atom=-1.45, entry_id="mp.csv:row 12")
    ed = EntryDocument.from_entry(e, reference="mp.csv", reference_hash="ref-aaaa", row=12)
    assert ed.chemsys == "Li-S" and ed.source.row == 12 and ed.source.type == "reference"
    et = EntryDocument.from_entry(e, task_id=t.key)
    assert et.source.task_id == t.key and et.key != ed.key


def test_numpy_values_and_paths_are_stored_as_plain_json(isolated):
    import numpy as np
    from pathlib import Path

    row = window_row("Li3PS4", np.float64(1.7), np.float64(2.3), reduction_products=("Li2S", "Li3P"),
                     profile=[{"potential_V": np.float32(0.5), "li_per_formula": np.int64(8), "reaction": "x"}])
    assert store_results("window", [row], {**INPUTS, "reference": Path("refs/mp.csv"),
                                           "exclude": np.array(["LiS4"])}) == 1
    back = load_window_rows()[0]
    assert back["reduction_products"] == ["Li2S", "Li3P"] and type(back["profile"][0]["li_per_formula"]) is int
    assert type(back["reduction_V"]) is float and back["reduction_V"] == 1.7
    with open_store() as store:
        assert store.find("windows")[0]["inputs"]["reference"] == "refs/mp.csv"
    with pytest.raises(InputError, match="cannot store a value of type object"):
        store_results("window", [dict(row, note=object())], INPUTS)


def test_content_hash_is_order_and_int_float_insensitive():
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1.0, 2], "a": 1.0})
    assert content_hash({"a": 1}) != content_hash({"a": 2})


# ----------------------------------------------------------------------------- the store (both backends)

def test_idempotent_upserts(backend):
    cfg = backend()
    assert store_results("window", FIVE, INPUTS, config=cfg) == 5
    assert store_results("window", FIVE, INPUTS, config=cfg) == 5
    with open_store(cfg) as store:
        assert store.count("windows") == 5
        first = {d["formula"]: d["_id"] for d in store.find("windows")}
    changed = [dict(r, reduction_V=r["reduction_V"] + 0.5) if r["formula"] == "LiF" else r for r in FIVE]
    store_results("window", changed, INPUTS, config=cfg)
    with open_store(cfg) as store:
        docs = store.find("windows")
        assert len(docs) == 5
        assert {d["formula"]: d["_id"] for d in docs} == first  # replaced in place
        assert next(d for d in docs if d["formula"] == "LiF")["reduction_V"] == 0.5
    store_results("window", FIVE[:2], {**INPUTS, "exclude": []}, config=cfg)  # other inputs: new documents
    with open_store(cfg) as store:
        assert store.count("windows") == 7
        assert store.db.windows.index_information()["key_unique"]["unique"] is True


def test_load_window_rows_gives_back_the_payloads(backend):
    cfg = backend()
    store_results("window", FIVE, INPUTS, config=cfg)
    assert load_window_rows(config=cfg) == FIVE
    order = ["LiF", "Li3PS4", "Li6PS5Cl"]
    assert [r["formula"] for r in load_window_rows(order, config=cfg)] == order
    # a formula matches its reduced form too
    assert load_window_rows(["Li6P2S8"], config=cfg) == [FIVE[0]]
    with pytest.raises(InputError, match="no stored window.*LiCl"):
        load_window_rows(["Li3PS4", "LiCl"], config=cfg)
    # the same formulas from a second reference set: mixing them is refused, picking one works
    other = [dict(r, reduction_V=9.0) for r in FIVE]
    store_results("window", other, {**INPUTS, "reference_hash": "ref-bbbb"}, config=cfg)
    assert load_window_rows(config=cfg) == other  # the most recent per formula
    assert load_window_rows(config=cfg, reference_hash="ref-aaaa") == FIVE
    store_results("window", FIVE[:1], INPUTS, config=cfg)  # Li3PS4 from ref-aaaa is now newest
    with pytest.raises(InputError, match="2 reference sets"):
        load_window_rows(config=cfg)


def test_reactions_screening_and_queries(backend):
    cfg = backend()
    rx = [{"reactant_a": "Li3PS4", "reactant_b": "Li", "potential_V": None,
           "minimum": {"x": 0.889, "energy_meV_per_atom": -752.3, "reaction": "...", "products": ["Li2S", "Li3P"]},
           "kinks": [{"x": 0.0, "energy_meV_per_atom": 0.0, "reaction": "", "products": ["Li3PS4"]}]},
          {"reactant_a": "Li7La3Zr2O12", "reactant_b": "Li", "potential_V": 0.0, "minimum": None, "kinks": []}]
    assert store_results("react", rx, INPUTS, config=cfg) == 2
    rows = [{"electrolyte": "Li6PS5Cl", "anode": "Li", "candidate": "Li3N", "score": 1.5, "rank": 1},
            {"electrolyte": "Li6PS5Cl", "anode": "Li", "candidate": "LiF", "score": 0.9, "rank": 2}]
    assert store_results("screening", rows, INPUTS, config=cfg) == 2
    store_results("window", FIVE, INPUTS, config=cfg)
    assert load_rows("reaction", config=cfg, formula="Li") == rx
    assert load_rows("reaction", config=cfg, formula="Li6P2S8") == rx[:1]
    assert load_rows("screening", config=cfg, electrolyte="Li6PS5Cl") == rows
    with open_store(cfg) as store:
        assert [d["formula"] for d in store.query("windows", chemsys="S-P-Li")] == ["Li3PS4"]
        assert [d["formula"] for d in store.query("windows", chemsys="Cl-Li-P-S")] == ["Li6PS5Cl"]
        assert store.query("reactions", chemsys="La-Li-O-Zr")[0]["mode"] == "electrochemical"
        assert len(store.query("windows", reference_hash="ref-zzzz")) == 0
        assert len(store.query("windows", reference_hash="ref-a")) == 5  # a prefix, as tables show it
        with pytest.raises(InputError, match="chemical system"):
            store.query("windows", chemsys="Li-Qq")
        with pytest.raises(InputError, match="calculator"):
            store.query("windows", calculator="chgnet")


def test_a_study_and_the_command_line_store_a_reaction_under_one_key(backend, tmp_path, capsys):
    """The Firetasks' stages and ``sseflow react|screen --store`` compute and store through the
    same stage functions: the same reaction or screening row gets the same document key, so the
    command replaces the study's document instead of adding a second one."""
    from helpers import REF_CSV, sseflow

    from sseflow.analysis.reference import load_reference
    from sseflow.workflows.stages.reactions import react_pair, screen_pair

    cfg = backend()
    ref = tmp_path / "ref.csv"
    ref.write_text(REF_CSV)
    info = {"source": "file", "reference": str(ref), "hash": load_reference(ref).content_hash, "task_ids": [],
            "entry_ids": [], "chemsys": "Al-Li-O"}
    with open_store(cfg) as store:
        with_li = react_pair("LiAlO2", "Li", "Al-Li-O", {"file": str(ref)}, info, [0.5], {}, "tiny", store=store)
        with_alloy = react_pair("LiAlO2", "LiAl", "Al-Li-O", {"file": str(ref)}, info, [0.5], {}, "tiny",
                                store=store)
        screened = screen_pair("LiAlO2", "Li", ["Li2O", "Al2O3"], {"file": str(ref)}, info, {}, "tiny", store=store)
    assert list(with_li) == ["LiAlO2__Li__chem"]  # Li is the reservoir at a potential: no open reaction
    assert list(with_alloy) == ["LiAlO2__LiAl__chem", "LiAlO2__LiAl__0p5V"]
    assert len(screened) == 2
    for args in (("react", "LiAlO2", "LiAl", "--potential", "0.5"), ("react", "LiAlO2", "Li"),
                 ("screen", "LiAlO2", "--anode", "Li", "--candidates", "Li2O,Al2O3")):
        code, _, err = sseflow(capsys, *args, "--reference", ref, "--store", "--config", cfg)
        assert code == 0, err
    with open_store(cfg) as store:
        reactions, rows = store.find("reaction"), store.find("screening")
    assert sorted(d["key"] for d in reactions) == sorted([*with_li.values(), *with_alloy.values()])
    assert sorted(d["key"] for d in rows) == sorted(screened)
    by_potential = {d["potential_V"]: d["inputs"] for d in reactions if d["reactant_b"] == "LiAl"}
    assert by_potential[None]["study"] == "tiny"  # stored by the study only
    assert "study" not in by_potential[0.5]  # the command's document replaced the study's


def test_tasks_query_by_calculator(backend):
    from pymatgen.core import Lattice, Structure

    cfg = backend()
    s = Structure(Lattice.cubic(3.5), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with open_store(cfg) as store:
        store.put(TaskDocument.from_result(s, "CHGNet", {"fmax": 0.05}, energy=-3.8))
        store.put(TaskDocument.from_result(s, "mace", {"fmax": 0.05}, energy=-3.9))
        store.put(TaskDocument.from_result(s, "mace", {"fmax": 0.05}, energy=-3.91))  # same task: replaced
        assert store.count("tasks") == 2
        assert [d["calculator"] for d in store.query("tasks", calculator="chgnet")] == ["CHGNet"]
        assert store.query("tasks", calculator="mace", formula="Li")[0]["energy"] == -3.91
        assert store.query("tasks", chemsys="Li-S") == []


def _sample(cfg: str) -> None:
    from pymatgen.core import Lattice, Structure

    store_results("window", FIVE, INPUTS, config=cfg)
    store_results("reaction", [{"reactant_a": "Li3PS4", "reactant_b": "Li", "potential_V": None,
                                "minimum": {"x": 0.5, "energy_meV_per_atom": -1.0, "reaction": "r",
                                            "products": ["Li2S"]}, "kinks": []}], INPUTS, config=cfg)
    s = Structure(Lattice.cubic(3.5), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with open_store(cfg) as store:
        store.put(TaskDocument.from_result(s, "chgnet", {"fmax": 0.05}, energy=-3.8, forces=[[0, 0, 1e-3]] * 2))
        import bson

        # BSON types JSON has no word for: they must survive the round trip exactly
        store.db.misc.insert_one({"i64": bson.Int64(7), "big": 2 ** 40, "nan": float("nan"), "inf": float("-inf"),
                                  "when": datetime(2024, 2, 29, 12, 0, 0, 123000, tzinfo=timezone.utc),
                                  "bin": bson.Binary(b"\x00\x01\xff"), "nested": {"list": [1, 2.5, None, True]}})


def test_export_import_round_trip_is_exact(backend, tmp_path):
    src, dst = backend("src"), backend("dst")
    _sample(src)
    with open_store(src) as store:
        n = store.export_jsonl(tmp_path / "a.jsonl")
        counts = store.counts()
    text_a = (tmp_path / "a.jsonl").read_text()
    assert n == sum(counts.values()) == len(text_a.splitlines()) - 1 == 8
    with open_store(dst) as store:
        assert store.import_jsonl(tmp_path / "a.jsonl") == n
        assert store.import_jsonl(tmp_path / "a.jsonl") == n  # again: replaced, not duplicated
        store.export_jsonl(tmp_path / "b.jsonl")
        assert store.counts() == counts
        misc = store.db.misc.find_one()
    text_b = (tmp_path / "b.jsonl").read_text()
    # the header names the database each export came from; the documents must match exactly
    head_a, body_a = text_a.split("\n", 1)
    head_b, body_b = text_b.split("\n", 1)
    assert body_b == body_a
    from bson import json_util

    head_a, head_b = json_util.loads(head_a), json_util.loads(head_b)
    assert head_a["sseflow_export"] == head_b["sseflow_export"] == 1
    if backend.kind == "mongodb":
        assert head_a["database"] != head_b["database"]
    import bson

    assert type(misc["i64"]) is bson.Int64 and misc["big"] == 2 ** 40 and misc["nan"] != misc["nan"]
    assert misc["bin"] == b"\x00\x01\xff" and misc["when"].replace(tzinfo=None) == datetime(2024, 2, 29, 12, 0, 0,
                                                                                            123000)
    assert load_window_rows(config=dst) == FIVE


def test_import_rejects_bad_lines_before_writing(backend, tmp_path):
    cfg = backend()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"collection": "windows", "document": {"_id": 1, "a": 1}}\n{"collection": 3}\n')
    with open_store(cfg) as store:
        with pytest.raises(InputError, match="bad.jsonl:2"):
            store.import_jsonl(bad)
        assert store.count("windows") == 0
    bad.write_text("not json\n")
    with open_store(cfg) as store, pytest.raises(InputError, match="not a JSON line"):
        store.import_jsonl(bad)


def test_launchpad_shares_the_store(backend):
    from fireworks import Firework, ScriptTask

    cfg = backend()
    lp = store_client.get_launchpad(cfg)
    assert store_client.get_launchpad(cfg) is lp
    fw = Firework(ScriptTask.from_str("echo hi"), name="probe")
    lp.add_wf(fw)
    with open_store(cfg) as store:
        assert store.db.fireworks.find_one({"name": "probe"})["state"] == "READY"
        assert store.db.name == lp.db.name
        if backend.kind == "embedded":
            assert lp.connection._store is store.handle.server_store
    assert lp.get_fw_ids() == [1]
    if backend.kind == "embedded":
        path = cfg.split(":", 1)[1]
        saved = json.load(open(path))
        assert any(d[1].get("name") == "probe" for d in saved["sseflow"]["fireworks"]["documents"])
