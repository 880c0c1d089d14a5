"""``calibrate`` leaves out the observations that state the ending (``--drop-outcomes``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

import sim
from sim.calibrate import calibrate, without_outcomes
from sim.cli import app
from sim.observations import ObservationsFile

SCENARIO = """\
kind: scenario
name: rate
clock: {horizon: 20}
agents:
  m:
    kind: individual
    positions: [no, yes]
    initial: no
    rules:
      - {kind: hazard, to: yes, pressure: one, resistance: 0, rate: 0.1}
signals:
  one: [{constant: 1.0}]
  yes: [{agent: m, position: yes}]
outcomes:
  early: {trigger: {kind: condition, condition: {signal: yes, at_least: 1}}}
  late: {trigger: {kind: deadline, at: 20}}
"""
ITEMS = [
    {"kind": "stance", "agent": "m", "position": "no", "at": 3},
    {"kind": "no_outcome", "at": 3},
    {"kind": "outcome", "outcome": "early", "at": [4, 6]},
]
BOUNDS = {"agents.m.rules.0.rate": (0.0, 0.5)}


def obs(items: list[dict]) -> ObservationsFile:
    return ObservationsFile.model_validate({"kind": "observations", "observations": items})


def scenario() -> sim.Scenario:
    from ruamel.yaml import YAML

    return sim.scenario_from_dict(YAML(typ="safe").load(SCENARIO))  # YAML 1.2: `no` is a string


def test_dropping_outcomes_is_calibrating_on_the_rest() -> None:
    sc = scenario()
    kw = dict(points=16, particles=128, seed=4)
    dropped = calibrate(sc, obs(ITEMS), BOUNDS, drop_outcomes=True, **kw)
    rest = calibrate(sc, obs(ITEMS[:2]), BOUNDS, **kw)
    kept = calibrate(sc, obs(ITEMS), BOUNDS, **kw)
    assert dropped.dropped == [3] and kept.dropped == []
    np.testing.assert_array_equal(dropped.log_likelihood, rest.log_likelihood)
    # the ending is informative here: keeping it changes the posterior
    assert not np.allclose(kept.log_likelihood, dropped.log_likelihood)


def test_no_outcome_is_not_the_ending_and_stays() -> None:
    left, dropped = without_outcomes(obs(ITEMS))
    assert [o.kind for o in left.observations] == ["stance", "no_outcome"] and dropped == [3]


def write(tmp_path: Path, items: list[dict]) -> list[str]:
    sc, ob = tmp_path / "rate.yaml", tmp_path / "rate.observations.yaml"
    sc.write_text(SCENARIO)
    ob.write_text(json.dumps({"kind": "observations", "observations": items}))
    return [
        "calibrate",
        str(sc),
        "--observations",
        str(ob),
        "--param",
        "agents.m.rules.0.rate=0:0.5",
        "--points",
        "8",
        "--particles",
        "64",
    ]


def test_cli_drops_outcomes_by_default(tmp_path) -> None:
    runner = CliRunner()
    args = write(tmp_path, ITEMS)
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    assert "left out the outcome observation(s) #3" in r.stdout
    post = json.loads((tmp_path / "a" / "posterior.json").read_text())
    assert post["outcomes_dropped"] == [3]
    r = runner.invoke(app, [*args, "--keep-outcomes", "--out", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "b" / "posterior.json").read_text())["outcomes_dropped"] == []


def test_cli_refuses_a_file_of_outcomes_only(tmp_path) -> None:
    runner = CliRunner()
    out = tmp_path / "c"
    r = runner.invoke(app, [*write(tmp_path, ITEMS[2:]), "--out", str(out)])
    assert r.exit_code == 2
    assert "every observation is an outcome" in r.stderr and "Traceback" not in r.output
    assert not out.exists()
