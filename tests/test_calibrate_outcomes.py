"""``calibrate``: it leaves out the observations that state the ending (``--drop-outcomes``),
and it resolves ``--param`` paths as ``--set`` does (rules by index or by id)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import sim
import sim.calibrate
from sim.calibrate import calibrate, without_outcomes
from sim.cli import app
from sim.errors import InputError
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


# a second rule with an id: a rule named by id must be the one set, not the first
TWO_RULES = SCENARIO.replace(
    "      - {kind: hazard, to: yes, pressure: one, resistance: 0, rate: 0.1}\n",
    "      - {kind: hazard, to: yes, pressure: one, resistance: 0, rate: 0.01}\n"
    "      - {id: fast, kind: hazard, to: yes, pressure: one, resistance: 0, rate: 0.1}\n",
)


def two_rules() -> sim.Scenario:
    from ruamel.yaml import YAML

    return sim.scenario_from_dict(YAML(typ="safe").load(TWO_RULES))


def test_a_rule_named_by_id_is_calibrated_as_by_its_index() -> None:
    sc = two_rules()
    kw = dict(points=8, particles=64, seed=2)
    by_id = calibrate(sc, obs(ITEMS[:2]), {"agents.m.rules.fast.rate": (0.0, 0.5)}, **kw)
    by_index = calibrate(sc, obs(ITEMS[:2]), {"agents.m.rules.1.rate": (0.0, 0.5)}, **kw)
    # the same parameter, so the same likelihood at every design point
    np.testing.assert_array_equal(by_id.log_likelihood, by_index.log_likelihood)
    data = by_id.calibrated_scenario(sc)
    rules = data["agents"]["m"]["rules"]
    keep = by_id.weights > by_id.weights.max() * 1e-6
    assert rules[1]["id"] == "fast"
    assert rules[1]["rate"]["choice"] == [float(v) for v in by_id.values[keep, 0]]
    assert rules[0]["rate"] == 0.01  # the first rule is left alone
    # the same posterior whichever way the rule is named, and a valid scenario
    assert data["agents"] == by_index.calibrated_scenario(sc)["agents"]
    sim.scenario_from_dict(data)


def test_a_bad_path_is_refused_before_any_design_point(monkeypatch) -> None:
    def evaluated(task: dict) -> None:
        raise AssertionError("a design point was evaluated")

    monkeypatch.setattr(sim.calibrate, "_indexed", evaluated)
    bounds = {"agents.m.rules.nosuch.rate": (0.0, 0.5)}
    with pytest.raises(InputError, match="no index or id 'nosuch'"):
        calibrate(two_rules(), obs(ITEMS[:2]), bounds, points=4, particles=16)


@pytest.fixture()
def two_rule_args(tmp_path, monkeypatch) -> list[str]:
    """A calibrate command line on the two-rule scenario; calibrating itself fails the test."""

    def calibrated(*args: object, **kwargs: object) -> None:
        raise AssertionError("the calibration ran")

    monkeypatch.setattr(sim.calibrate, "calibrate", calibrated)
    args = write(tmp_path, ITEMS[:2])
    (tmp_path / "rate.yaml").write_text(TWO_RULES)
    return args


def test_cli_refuses_a_bad_path_before_any_work(tmp_path, two_rule_args) -> None:
    args = two_rule_args
    args[args.index("agents.m.rules.0.rate=0:0.5")] = "agents.m.rules.nosuch.rate=0:0.5"
    out = tmp_path / "d"
    r = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    # names the --param, and the rules there are (by index and by id)
    assert "--param agents.m.rules.nosuch.rate" in r.stderr
    assert "indices 0 to 1; ids: fast" in r.stderr and "no index or id 'nosuch'" in r.stderr
    assert not out.exists()


def test_cli_calibrates_a_rule_named_by_id(tmp_path) -> None:
    args = write(tmp_path, ITEMS[:2])
    (tmp_path / "rate.yaml").write_text(TWO_RULES)
    args[args.index("agents.m.rules.0.rate=0:0.5")] = "agents.m.rules.fast.rate=0:0.5"
    out = tmp_path / "e"
    r = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert r.exit_code == 0, r.output
    from ruamel.yaml import YAML

    rules = YAML(typ="safe").load((out / "calibrated.yaml").read_text())["agents"]["m"]["rules"]
    assert rules[0]["rate"] == 0.01 and set(rules[1]["rate"]) == {"choice", "p"}
    post = json.loads((out / "posterior.json").read_text())
    assert list(post["mean"]) == ["agents.m.rules.fast.rate"]


def test_cli_refuses_a_parameter_given_twice(tmp_path, two_rule_args) -> None:
    args = two_rule_args
    out = tmp_path / "d"
    r = CliRunner().invoke(
        app, [*args, "--param", "agents.m.rules.0.rate=0.1:0.2", "--out", str(out)]
    )
    assert r.exit_code == 2, r.output
    assert "given twice" in r.stderr and not out.exists()
