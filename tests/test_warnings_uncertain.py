"""A warning when an uncertain event's or switch's time can fall past the horizon.

Such an event comes within a run with probability P·F(horizon), not the P
written: the warning gives both, and the run's share of replicates where it
came agrees with the warned number.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import z_tolerance
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.scenario.lint import by_horizon

runner = CliRunner()

SCENARIO = """\
kind: scenario
name: maybe
clock: {{horizon: {horizon}}}
agents:
  m:
    kind: individual
    positions: [no, yes]
    initial: no
    rules:
      - kind: scheduled
        to: yes
        at: {at}
        probability: {switch_p}
events:
  offer:
    trigger:
      kind: at
      time: {time}
      probability: {event_p}
outcomes:
  came:
    trigger: {{kind: event, event: offer}}
  none:
    trigger: {{kind: deadline, at: {horizon}}}
"""


def write(tmp_path: Path, **fields: object) -> Path:
    values = {
        "horizon": 80,
        "at": "{lognormal: [4, 0.5]}",
        "switch_p": 0.5,
        "time": "{uniform: [0, 100]}",
        "event_p": 0.6,
        **fields,
    }
    path = tmp_path / "maybe.yaml"
    path.write_text(SCENARIO.format(**values), encoding="utf-8")
    return path


def phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def test_validate_warns_with_file_line_field_and_both_probabilities(tmp_path: Path) -> None:
    path = write(tmp_path)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    # the event: U(0, 100) falls within 80 h with probability 0.8, so it comes with 0.6 × 0.8
    assert (
        f"warning: {path}:19:7: events.offer.trigger.probability: event offer has probability "
        "0.6, but its time can fall after the horizon 80 h (P(time <= 80 h) = 0.8), so it "
        "comes within a run with probability 0.6 × 0.8 = 0.48, not 0.6; state the "
        "probability of the time falling within the horizon, or lengthen the horizon"
    ) in lines, result.stderr
    # the switch: log-normal(4, 0.5) falls within 80 h with probability Φ((ln 80 - 4) / 0.5)
    f = phi((math.log(80) - 4) / 0.5)
    switch = next(line for line in lines if "agents.m.rules.0.probability" in line)
    assert switch.startswith(f"warning: {path}:13:9: agents.m.rules.0.probability: ")
    assert "the switch of m to yes has probability 0.5, but its time can fall" in switch
    assert f"P(time <= 80 h) = {f:.3g}" in switch
    assert f"probability 0.5 × {f:.3g} = {0.5 * f:.3g}, not 0.5" in switch


def test_a_run_warns_too_and_its_share_is_the_warned_number(tmp_path: Path) -> None:
    path = write(tmp_path)
    n = 8192
    result = runner.invoke(app, ["run", str(path), "-n", str(n), "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert "events.offer.trigger.probability: event offer has probability 0.6" in result.stderr
    res = sim.run(sim.load_scenario(path), n, seed=3)
    came = float(np.mean(res.outcome == 0))
    assert abs(came - 0.48) < z_tolerance(0.48, n)


@pytest.mark.parametrize(
    "fields",
    [
        {"time": "{uniform: [0, 80]}", "at": 30},  # within the horizon
        {"event_p": 0, "switch_p": 0},  # never: nothing lower than written
    ],
)
def test_no_warning_when_the_stated_probability_holds(tmp_path: Path, fields) -> None:
    result = runner.invoke(app, ["validate", str(write(tmp_path, **fields))])
    assert result.exit_code == 0, result.output
    assert "probability" not in result.stderr, result.stderr


def test_a_stated_certainty_warns_too(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(write(tmp_path, event_p=1, at=30))])
    assert result.exit_code == 0, result.output
    assert "with probability 1 × 0.8 = 0.8, not 1" in result.stderr, result.stderr


def test_a_time_wholly_past_the_horizon_gets_the_one_warning_it_had(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(write(tmp_path, time=120, at=30))])
    assert result.exit_code == 0, result.output
    assert "the event time 120 h is after the horizon 80 h" in result.stderr
    assert "probability" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("time", "exact"),
    [
        ({"uniform": [10, 50]}, 0.75),
        ({"triangular": [0, 20, 60]}, 1 - (60 - 40) ** 2 / (60 * 40)),
        ({"normal": [30, 10], "clip": [0, 100]}, phi(1.0)),
        ({"choice": [10, 30, 50], "p": [0.2, 0.5, 0.3]}, 0.7),
        ({"lognormal": [3, 0.5]}, phi((math.log(40) - 3) / 0.5)),
        ({"beta": [2, 3]}, 1.0),
        (40, 1.0),
        (41, 0.0),
        ("never", 0.0),
    ],
)
def test_the_share_within_the_horizon_is_the_cdf(time, exact) -> None:
    from pydantic import TypeAdapter

    from sim.distributions import Distribution

    value = time if not isinstance(time, dict) else TypeAdapter(Distribution).validate_python(time)
    assert by_horizon(value, 40) == pytest.approx(exact, abs=1e-12)
