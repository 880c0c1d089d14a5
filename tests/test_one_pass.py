"""Errors in one pass: schema and reference problems together, sorted by line.

A scenario with a key typo, an unknown agent and a probability of 1.5 gets all
three errors in one run of ``stancesim validate``, and ``Scenario.model_validate``
refuses a reference to nothing (it used to surface as a ``KeyError`` in the engine).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.scenario import Scenario

runner = CliRunner()

THREE_MISTAKES = """\
kind: scenario
name: three
clock: {horizon: 10}
agents:
  a:
    kind: individual
    positions: [no, yes]
    initial: no
    rules: [{kind: hazard, to: yes, pressure: push, resistance: 0.2, rtae: 0.1}]
  crowd:
    kind: population
    size: 10
    positions: [out, in]
    initial: out
    rule: {kind: threshold, to: in, support: push, threshold: 0.5, spontaneous: 1.5}
  board: {kind: group, members: [a, bob]}
signals:
  push: [{constant: 1.0}]
outcomes:
  lapsed: {trigger: {kind: deadline, at: 10}}
"""

GOOD: dict[str, Any] = {
    "kind": "scenario",
    "name": "good",
    "clock": {"horizon": 10},
    "agents": {
        "a": {
            "kind": "individual",
            "positions": ["no", "yes"],
            "initial": "no",
            "rules": [
                {"kind": "hazard", "to": "yes", "pressure": "push", "resistance": 0.2, "rate": 0.1}
            ],
        },
    },
    "signals": {"push": [{"constant": 1.0}]},
    "outcomes": {"lapsed": {"trigger": {"kind": "deadline", "at": 10}}},
}


def test_validate_reports_a_typo_an_unknown_agent_and_a_bad_probability_at_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "three.yaml"
    path.write_text(THREE_MISTAKES)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [ln.removeprefix("error: ") for ln in result.stderr.splitlines()]
    assert lines == [
        f"{path}:9:70: agents.a.rules.0.rtae: unknown key 'rtae'; did you mean 'rate'?",
        f"{path}:15:68: agents.crowd.rule.spontaneous: a probability must lie in [0, 1], got 1.5",
        f"{path}:16:37: agents.board.members.1: unknown individual 'bob' (known: a)",
    ]


def test_run_reports_every_problem_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "three.yaml"
    path.write_text(THREE_MISTAKES)
    result = runner.invoke(app, ["run", str(path), "-n", "1", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 3
    assert not (tmp_path / "out").exists()


def test_problems_come_sorted_by_line(tmp_path: Path) -> None:
    # the reference mistake comes first in the file, the schema mistake last
    text = (
        THREE_MISTAKES.replace("pressure: push", "pressure: psuh")
        .replace("rtae", "rate")
        .replace("spontaneous: 1.5", "spontaneous: 0.5")
        .replace("[a, bob]", "[a]")
    )
    text = text.replace("at: 10}}", "at: 10}, bogus: 1}")
    path = tmp_path / "sorted.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert "unknown signal 'psuh'; did you mean 'push'?" in lines[0]
    assert "unknown key 'bogus'" in lines[1]


def test_model_validate_cannot_skip_the_reference_checks() -> None:
    data = copy.deepcopy(GOOD)
    data["agents"]["a"]["rules"][0]["pressure"] = "psuh"
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate(data)
    errors = info.value.errors(include_url=False)
    assert [(e["loc"], e["msg"]) for e in errors] == [
        (
            ("agents", "a", "rules", 0, "pressure"),
            "unknown signal 'psuh'; did you mean 'push'?",
        )
    ]


def test_model_validate_reports_schema_and_reference_errors_together() -> None:
    data = copy.deepcopy(GOOD)
    data["agents"]["a"]["rules"][0]["pressure"] = "psuh"
    data["agents"]["a"]["rules"][0]["rate"] = -1
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate(data)
    locs = {e["loc"][-1] for e in info.value.errors()}
    assert {"pressure", "hazard"} <= locs or {"pressure", "rate"} <= locs


def test_a_valid_scenario_still_validates_and_runs() -> None:
    sc = Scenario.model_validate(copy.deepcopy(GOOD))
    assert sc.agents["a"].positions == ["no", "yes"]
    assert sim.run(sc, replicates=4, seed=0).replicates == 4


def test_references_in_a_broken_agent_are_not_reported_twice() -> None:
    # positions that fail the schema: no "unknown position" for every rule that names one
    data = copy.deepcopy(GOOD)
    data["agents"]["a"]["positions"] = "no, yes"
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate(data)
    assert all(e["type"] != "reference" for e in info.value.errors())
