"""Bad sweep files: each problem is refused with the sweep file's line, exit 2, nothing written.

A swept value that the scenario refuses is the sweep file's mistake: the
message points at that parameter's line and names the point and value, not
only the scenario's field.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT
from typer.testing import CliRunner

from sim.cli import app

runner = CliRunner()
SCENARIO = ROOT / "scenarios" / "openai_2023_11.yaml"
UNLIMITED = ["--max-memory", "1000TiB", "--max-work", "1e30"]
GOOD = "  agents.toner.rules.reinstate.resistance: 0.6:0.95:2"


def sweep_file(tmp_path: Path, param: str, *extra: str, scenario: str = str(SCENARIO)) -> Path:
    """A small sweep file: one good parameter on line 4, ``param`` on line 5, ``extra`` after."""
    lines = [
        "kind: sweep",
        f"scenario: {scenario}",
        "parameters:",
        GOOD,
        param,
        "replicates: 16",
        "seed: 1",
        *extra,
    ]
    path = tmp_path / "bad.sweep.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def refused(tmp_path: Path, path: Path, where: str, *fragments: str) -> None:
    """Both ``validate`` and ``sweep`` refuse ``path`` at ``where`` (``line:column``)."""
    out = tmp_path / "out"
    for args in (["validate", str(path)], ["sweep", str(path), "--out", str(out)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert f"{path}:{where}:" in result.stderr, result.stderr
        for fragment in fragments:
            assert fragment in result.stderr, result.stderr
        assert "sweep point" not in result.stderr and "--param" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("param", "fragments"),
    [
        (  # a path that names no field of the scenario
            "  agents.tonr.rules.reinstate.resistance: 0.1,0.2",
            ["parameters.agents.tonr.rules.reinstate.resistance:", "no such key 'tonr'"],
        ),
        (  # an index past the agent's rules
            "  agents.toner.rules.9.resistance: 0.1,0.2",  # index on purpose: past the last
            ["agent 'toner' has 2 rules", "no index '9'"],
        ),
        (  # a value that the scenario's schema refuses, at the second point of two
            "  agents.toner.rules.step_aside.resistance: [0.5, fuzz]",
            [
                "point 1",
                "value 'fuzz'",
                "rules.1.resistance",
                "expected a number",
            ],  # index on purpose
        ),
        (  # not a finite number
            "  agents.toner.rules.step_aside.resistance: .nan",
            ["point 0", "value nan", "finite number"],
        ),
        (  # out of the scenario's range
            "  agents.toner.rules.step_aside.resistance: 1e308",
            ["point 0", "out of range"],
        ),
        (  # a check across fields of the scenario that the value breaks
            "  clock.tick: 500,1000",
            ["point 0", "value 500", "tick 500.0 is longer than the horizon"],
        ),
    ],
)
def test_a_value_the_scenario_refuses_is_located_at_its_parameter(
    tmp_path: Path, param: str, fragments: list[str]
) -> None:
    refused(tmp_path, sweep_file(tmp_path, param), "5:3", *fragments)


def test_a_sampled_value_the_scenario_refuses_is_located_at_its_parameter(tmp_path: Path) -> None:
    path = sweep_file(
        tmp_path, "  agents.toner.rules.step_aside.rate: -2:-1", "sampler: lhs", "points: 8"
    )
    refused(tmp_path, path, "5:3", "point 0, value -1.", "rate")


@pytest.mark.parametrize(
    ("param", "extra", "where", "fragment"),
    [
        (  # bounds only, on a grid
            "  agents.toner.rules.step_aside.resistance: 0.1:0.9",
            [],
            "5:3",
            "a grid needs values or low:high:count",
        ),
        (  # points on a grid
            "  agents.toner.rules.step_aside.resistance: 0.1:0.9:2",
            ["points: 5"],
            "8:1",
            "points is for random, lhs and sobol",
        ),
        (  # a sampler with no points
            "  agents.toner.rules.step_aside.resistance: 0.1:0.9",
            ["sampler: lhs"],
            "8:1",
            "sampler lhs needs points",
        ),
        (  # a sampler with a list of values
            "  agents.toner.rules.step_aside.resistance: [0.1, 0.2]",
            ["sampler: sobol", "points: 4"],
            "5:3",
            "sampler sobol needs bounds low:high",
        ),
    ],
)
def test_sampler_options_are_located(
    tmp_path: Path, param: str, extra: list[str], where: str, fragment: str
) -> None:
    path = sweep_file(tmp_path, param, *extra)
    if "sampler: lhs" in extra:  # the good parameter has a count, which lhs does not need
        path.write_text(path.read_text().replace("0.6:0.95:2", "0.6:0.95"))
    refused(tmp_path, path, where, fragment)


def test_a_scenario_that_cannot_be_read_is_located_at_the_scenario_line(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, "  agents.toner.rules.step_aside.resistance: 0.1,0.2", scenario="x")
    refused(tmp_path, path, "2:1", "scenario:", "cannot read file")


def test_a_bad_set_entry_is_located_at_its_item(tmp_path: Path) -> None:
    path = sweep_file(
        tmp_path,
        "  agents.toner.rules.step_aside.resistance: 0.1,0.2",
        "set:",
        "  - agents.nob.size=3",
    )
    refused(tmp_path, path, "9:5", "no such key 'nob'")


@pytest.mark.parametrize(
    ("param", "extra", "where"),
    [
        ("  agents.toner.rules.step_aside.resistance: 0:1:100000000", [], "5:3"),
        (
            "  agents.toner.rules.step_aside.resistance: 0:1",
            ["sampler: random", "points: 1e9"],
            "9:1",
        ),
        (  # each parameter's count is fine, their product is not
            "  agents.toner.rules.step_aside.resistance: 0:1:100000\n  clock.tick: 1:2:100000",
            [],
            "3:1",
        ),
    ],
)
def test_a_huge_number_of_points_is_refused_at_once(
    tmp_path: Path, param: str, extra: list[str], where: str
) -> None:
    path = sweep_file(tmp_path, param, *extra)
    if extra:
        path.write_text(path.read_text().replace("0.6:0.95:2", "0.6:0.95"))
    out = tmp_path / "out"
    # validate has no budget; the sweep's budget refuses first, naming the limit to raise;
    # past raised limits, there are still too many points to list
    checks = [
        (["validate", str(path)], f"{path}:{where}:"),
        (["sweep", str(path), "--out", str(out)], "--max-"),
        (["sweep", str(path), "--out", str(out), *UNLIMITED], f"{path}:{where}:"),
    ]
    for args, expected in checks:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and expected in result.stderr, result.stderr
    assert "at most 1,000,000 points" in result.stderr
    assert not out.exists()


def test_a_problem_a_flag_causes_names_the_flag_not_the_file(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, "  agents.toner.rules.step_aside.resistance: 0.1,0.2")
    out = tmp_path / "out"
    result = runner.invoke(app, ["sweep", str(path), "--points", "5", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "--points: points is for random, lhs and sobol" in result.stderr, result.stderr
    assert str(path) not in result.stderr
    assert not out.exists()
