"""The UK case as a forecast (scenarios/uk_2022_07.forecast.yaml) and its observations.

Checked here: the forecast has the explanatory scenario's outcome definitions;
its observations file validates against it and takes every report's rates
from the committed rule per class of source; and an uncertain event's prior
(the wave: probability 0.5, time uniform on [0, 12]) is what the runs show,
against the binomial closed form. Nothing here is checked against the known
ending.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.observations import ReportObs, load_observations, load_source_classes

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
FORECAST = SCENARIOS / "uk_2022_07.forecast.yaml"
OBSERVATIONS = SCENARIOS / "uk_2022_07.forecast.observations.yaml"
Z = 3.29


def load(path: Path) -> dict[str, Any]:
    """A YAML file as plain data."""
    return dict(yaml.safe_load(path.read_text()))


def test_the_forecast_has_the_case_outcome_definitions() -> None:
    case = load(SCENARIOS / "uk_2022_07.yaml")
    forecast = load(FORECAST)
    assert forecast["outcomes"] == case["outcomes"]
    assert forecast["clock"] == case["clock"]


def test_later_mechanisms_are_uncertain_events() -> None:
    events = load(FORECAST)["events"]
    for name in ("wave", "delegation", "rule_change", "critic_sacked"):
        trigger = events[name]["trigger"]
        assert trigger["kind"] == "at" and 0 < trigger["probability"] < 1, name
        assert isinstance(trigger["time"], dict), name  # a distribution, not a known date


def test_the_observations_validate_and_name_committed_classes() -> None:
    result = CliRunner().invoke(app, ["validate", str(OBSERVATIONS)])
    assert result.exit_code == 0, result.output
    obs, _ = load_observations(OBSERVATIONS)
    assert obs.scenario == "uk_2022_07.forecast.yaml"
    classes = load_source_classes(SCENARIOS / "source_classes.yaml").classes
    reports = [o for o in obs.observations if isinstance(o, ReportObs)]
    assert reports
    for o in reports:
        assert o.source_class in classes
        rates = classes[o.source_class]
        assert (o.true_positive, o.false_positive) == (rates.true_positive, rates.false_positive)
    raw = load(OBSERVATIONS)["observations"]
    assert not any("true_positive" in o or "false_positive" in o for o in raw)
    assert all(o.get("source") for o in raw)
    (outcome,) = [o for o in obs.observations if o.kind == "outcome"]
    assert outcome.known_at == max(o.known_at for o in obs.observations)


def test_the_wave_comes_in_half_the_replicates_as_its_prior_says() -> None:
    d = load(FORECAST)
    d["agents"]["pm"]["rules"][0]["rate"] = 0  # every replicate runs on: no selection by the ending
    n = 1200
    res = sim.run(sim.scenario_from_dict(copy.deepcopy(d)), replicates=n, seed=11, record=True)
    tr = res.trajectories
    assert tr is not None
    at = tr["t"] == 13  # a day hour after the wave's latest time (12 h)
    known = (
        0.5 * tr["payroll.resigned"][at] + 0.76 * tr["cabinet.resigned"][at] + 0.1
    )  # the signal's terms other than the wave (night is 0 at 13 h)
    wave = tr["payroll_pressure"][at] - known > 0.1
    assert wave.size == n
    assert abs(wave.mean() - 0.5) < Z * np.sqrt(0.25 / n)
