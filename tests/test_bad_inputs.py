"""Bad input of every kind: one line on stderr, exit status 2, no traceback, and no hang."""
import json

import pytest

from helpers import run_cli

TABLE = "formula,e_form\nLi2S,-1.50\nLi3P,-0.60\nP2S5,-0.40\nLi3PS4,-1.25\nLiS4,-0.50\n"


@pytest.fixture
def table(tmp_path):
    p = tmp_path / "ref.csv"
    p.write_text(TABLE)
    return p


def one_line_error(r) -> str:
    """The single stderr line of a refused command (rc 2, no traceback)."""
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr[-2000:]
    return lines[0]


# ------------------------------------------------------------------ reference files

def test_reference_csv_not_utf8(tmp_path):
    p = tmp_path / "latin1.csv"
    p.write_bytes("formula,e_form\nLi2S,-1.5\nLi3PS4,-1.25\n# Schröder\n".encode("latin-1"))
    line = one_line_error(run_cli("window", "Li3PS4", "--reference", p))
    assert "UTF-8" in line and str(p) in line and "line 4" in line


def test_reference_csv_with_byte_order_mark(table, tmp_path):
    bom = tmp_path / "excel.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + TABLE.encode())
    plain = run_cli("window", "Li3PS4", "--reference", table, "--json")
    r = run_cli("window", "Li3PS4", "--reference", bom, "--json")
    assert plain.returncode == 0 and r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json.loads(plain.stdout)


@pytest.mark.parametrize("value", ["1e300", "-1e300", "-1500"])
def test_reference_csv_energy_out_of_range(tmp_path, value):
    p = tmp_path / "huge.csv"
    p.write_text(f"formula,e_form\nLi2S,{value}\nLi3P,-0.6\nLi3PS4,-1.25\n")
    line = one_line_error(run_cli("window", "Li3PS4", "--reference", p))
    assert f"{float(value):g}" in line and "row 2" in line and "Li2S" in line


def _entries_json(tmp_path, edit):
    pytest.importorskip("pymatgen")
    from pymatgen.entries.computed_entries import ComputedEntry

    items = [ComputedEntry("Li", -1.9, entry_id="mp-1").as_dict(),
             ComputedEntry("S", -4.1, entry_id="mp-2").as_dict(),
             ComputedEntry("Li2S", -3 * 1.9 - 4.1 - 3.0, entry_id="mp-3").as_dict()]
    items = json.loads(json.dumps(items))
    edit(items)
    p = tmp_path / "entries.json"
    p.write_text(json.dumps(items))
    return p


@pytest.mark.parametrize("edit,words", [
    (lambda d: d[2].pop("correction"), ["entry 3", "mp-3", "correction"]),
    (lambda d: d[2].pop("energy"), ["entry 3", "mp-3", "energy"]),
    (lambda d: d[1].update(energy="-4.1 eV"), ["entry 2", "mp-2", "energy"]),
    (lambda d: d[2].update(composition={"Li": "two", "S": 1}), ["entry 3", "mp-3", "composition"]),
    (lambda d: d[2].update(energy=-1e5), ["entry 3", "mp-3", "out of range"]),
])
def test_entries_json_bad_entry(tmp_path, edit, words):
    p = _entries_json(tmp_path, edit)
    line = one_line_error(run_cli("window", "Li2S", "--reference", p))
    for w in words:
        assert w in line, line


# ------------------------------------------------------------------ numbers on the command line

@pytest.mark.parametrize("option", ["--energy-a", "--energy-b"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e308", "-1e300", "150"])
def test_react_energy_not_finite_or_out_of_range(table, option, value):
    r = run_cli("react", "Li3PS4", "Li2S", "--reference", table, option, value)
    line = one_line_error(r)
    assert option in line
    assert (value.lstrip("-") in line) or (f"{float(value):g}" in line), line
    assert r.stdout == ""


def test_react_potential_not_finite(table):
    line = one_line_error(run_cli("react", "Li3PS4", "Li2S", "--reference", table, "--potential", "nan"))
    assert "--potential" in line and "nan" in line


@pytest.mark.parametrize("command", ["window", "react"])
def test_formula_amount_out_of_range(table, command):
    huge = "Li3P" + "1" * 400 + "S4"
    args = ["Li3PS4", huge] if command == "react" else [huge]
    line = one_line_error(run_cli(command, *args, "--reference", table, timeout=60))
    assert "out of range" in line and len(line) < 400


def test_formula_amounts_bounded():
    """Amounts of an element lie between 1e-6 and 1e6 (after brackets are multiplied out)."""
    from sseflow.analysis.errors import InputError
    from sseflow.analysis.formula import parse_formula

    for bad in ("Li" + "9" * 400 + "S", "Li1000001S", "((Li1000)1000)1000S", "Li0.0000001S"):
        with pytest.raises(InputError, match="out of range"):
            parse_formula(bad)
    assert parse_formula("Li1000000S0.000001") == {"Li": 1e6, "S": 1e-6}
    assert parse_formula("((Li10)10)10S")["Li"] == 1000.0


# ------------------------------------------------------------------ many elements

ELEMENTS_30 = ["Li", "Na", "K", "Rb", "Cs", "Mg", "Ca", "Sr", "Ba", "B", "Al", "Ga", "In", "C", "Si", "Ge",
               "Sn", "N", "P", "As", "Sb", "O", "S", "Se", "Te", "F", "Cl", "Br", "I", "Zn"]


@pytest.fixture
def table30(tmp_path):
    rows = [f"{el},0.0" for el in ELEMENTS_30] + ["Li2O,-2.08", "LiF,-3.2", "Li2S,-1.5", "LiCl,-2.1",
                                                 "Li3P,-0.6", "Li3N,-0.4", "MgO,-3.0", "Al2O3,-3.4"]
    p = tmp_path / "many.csv"
    p.write_text("formula,e_form\n" + "\n".join(rows) + "\n")
    return p


@pytest.mark.parametrize("command", ["window", "react"])
def test_thirty_element_formula_answers(table30, command):
    formula = "".join(ELEMENTS_30)
    args = [formula, "Li"] if command == "react" else [formula]
    r = run_cli(command, *args, "--reference", table30, "--json", timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    if command == "window":
        assert out[0]["chemsys"] == "-".join(sorted(ELEMENTS_30))
    else:
        assert out["minimum"]["energy_meV_per_atom"] < -1.0  # the formula's O, F, S ... take up Li


# ------------------------------------------------------------------ study files

def _study(tmp_path, body: str):
    p = tmp_path / "study.yaml"
    p.write_text("name: s1\nelectrolytes: [Li3PS4]\nanodes: [Li]\n" + body)
    return p


def test_study_alias_bomb(tmp_path):
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    p = _study(tmp_path, "x:\n" + "".join(f"  {line}\n" for line in levels))
    line = one_line_error(run_cli("submit", p, "--dry-run", timeout=60))
    assert str(p) in line and "alias" in line


def test_study_merge_key_bomb(tmp_path):
    levels = ["m0: &m0 {k0: 1, k1: 2, k2: 3, k3: 4, k4: 5, k5: 6, k6: 7, k7: 8, k8: 9, k9: 10}"]
    for i in range(1, 9):
        levels.append(f"m{i}: &m{i} {{<<: [" + ", ".join([f"*m{i - 1}"] * 10) + "]}")
    p = _study(tmp_path, "x:\n" + "".join(f"  {line}\n" for line in levels))
    line = one_line_error(run_cli("submit", p, "--dry-run", timeout=60))
    assert "alias" in line


def test_study_recursive_alias(tmp_path):
    p = _study(tmp_path, "x: &x [1, *x]\n")
    line = one_line_error(run_cli("submit", p, "--dry-run", timeout=60))
    assert f"{p}:4" in line


def test_study_nested_too_deeply(tmp_path):
    p = _study(tmp_path, "x: " + "[" * 5000 + "]" * 5000 + "\n")
    line = one_line_error(run_cli("submit", p, "--dry-run", timeout=60))
    assert "nested" in line


def test_study_too_many_aliases():
    """More than 1000 aliases are refused, even when they expand to little."""
    from sseflow.workflows.study import StudyError, parse_study

    text = "name: s1\nanodes: [Li]\nelectrolytes: &e [Li3PS4]\nx: [" + ", ".join(["*e"] * 1001) + "]\n"
    with pytest.raises(StudyError, match="aliases"):
        parse_study(text, source="s.yaml", check_files=False)


def test_study_file_too_large(tmp_path):
    """A study file is at most 1 MB."""
    from sseflow.workflows.study import StudyError, load_study

    p = tmp_path / "big.yaml"
    p.write_text("name: s1\nelectrolytes: [Li3PS4]\nanodes: [Li]\n" + "# padding\n" * 110_000)
    with pytest.raises(StudyError, match="more than"):
        load_study(p)


def test_user_errors_share_one_base():
    """Every error whose message is for the user derives from SseflowError (the CLI prints it as one line)."""
    from sseflow.analysis.errors import InputError, SseflowError
    from sseflow.workflows.store.config import ConfigError, StoreError, StoreLockedError
    from sseflow.workflows.study import StudyError

    for cls in (InputError, StudyError, StoreError, StoreLockedError, ConfigError):
        assert issubclass(cls, SseflowError), cls
    assert issubclass(InputError, ValueError) and issubclass(StoreError, RuntimeError)
