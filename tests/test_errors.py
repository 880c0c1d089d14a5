"""A corpus of bad scenario files: each error names file, line, column, field and expectation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT
from typer.testing import CliRunner

from sim.cli import app

BAD = sorted((ROOT / "tests" / "bad").glob("*.yaml"))
runner = CliRunner()


def expected(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: ")
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_file_reports_exact_location_and_message(path: Path) -> None:
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [ln.removeprefix("error: ") for ln in result.stderr.splitlines()]
    assert f"{path}:{expected(path)}" in lines


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_reported_position_points_at_the_named_key(path: Path) -> None:
    m = re.match(r"(\d+):(\d+): ([\w.]+):", expected(path))
    if m is None:
        return  # a YAML syntax error names no field
    line, col, field = int(m[1]), int(m[2]), m[3]
    parts = field.split(".")
    if "no kind" in expected(path):
        parts = parts[:-1]  # a missing key: the position is its parent's
    if not parts or parts[-1].isdigit():
        return  # the root, or a sequence item (whose position is the item's)
    text = path.read_text(encoding="utf-8").splitlines()[line - 1][col - 1 :]
    assert text.startswith(parts[-1]), (text, parts[-1])


def test_run_on_a_bad_file_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(BAD[0]), "--out", str(out)])
    assert result.exit_code == 2
    assert not out.exists()


def test_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "cannot read file" in result.stderr


def test_set_unknown_path_names_the_flag() -> None:
    bench = ROOT / "scenarios" / "bench_770.yaml"
    result = runner.invoke(app, ["run", str(bench), "--set", "agents.tonr.rules.0.rate=1"])
    assert result.exit_code == 2
    assert "--set agents.tonr.rules.0.rate=1: agents.tonr: no such key 'tonr'" in result.stderr


def test_set_invalid_value_is_validated_like_the_file() -> None:
    bench = ROOT / "scenarios" / "bench_770.yaml"
    result = runner.invoke(app, ["run", str(bench), "--set", "agents.employees.rule.spontaneous=2"])
    assert result.exit_code == 2
    assert (
        "--set agents.employees.rule.spontaneous=2: agents.employees.rule.spontaneous: "
        "a probability must lie in [0, 1], got 2.0"
    ) in result.stderr


def test_validate_mixed_files_exits_2_and_reports_the_good_one() -> None:
    good = ROOT / "scenarios" / "bench_770.yaml"
    result = runner.invoke(app, ["validate", str(good), str(BAD[0])])
    assert result.exit_code == 2
    assert f"{good}: ok" in result.stdout


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        # a key beside a union's tag (signal) once read as "allowed here: uniform"
        ("at_least: 0.33}", "atleast: 0.33}", "unknown key 'atleast'; did you mean 'at_least'?"),
        # a typo of a key the mapping already has
        ("  horizon: 240", "  horizon: 240\n  horizn: 240", "did you mean 'horizon'?"),
    ],
)
def test_an_unknown_key_gets_the_likely_key_not_a_wrong_list(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    text = (ROOT / "scenarios" / "five_member_board.yaml").read_text()
    assert old in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new, 1))
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert said in result.stderr and "uniform" not in result.stderr, result.stderr


def test_a_problem_a_set_value_causes_in_the_file_names_that_set() -> None:
    board = ROOT / "scenarios" / "five_member_board.yaml"
    result = runner.invoke(app, ["run", str(board), "-n", "4", "--set", "clock.tick=7"])
    assert result.exit_code == 2
    assert "not a whole number of ticks" in result.stderr
    assert "(after --set clock.tick=7)" in result.stderr, result.stderr


def test_validate_locates_a_bad_range_in_a_sweep_file(tmp_path: Path) -> None:
    src = ROOT / "scenarios" / "openai_2023_11.sweep.yaml"
    text = src.read_text()
    old = "resistance: 0.6:0.95:8      #"
    assert old in text
    (tmp_path / "openai_2023_11.yaml").write_bytes(
        (ROOT / "scenarios" / "openai_2023_11.yaml").read_bytes()
    )
    bad = tmp_path / "s.yaml"
    bad.write_text(text.replace(old, "resistance: 0.95:0.6:8      #", 1))
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert (
        f"{bad}:7:3: parameters." in result.stderr and "low 0.95 is above high 0.6" in result.stderr
    )
