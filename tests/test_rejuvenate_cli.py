"""`--rejuvenate/--no-rejuvenate` of `stancesim nowcast` and `backtest`; the ESS report."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sim.cli import app

SCENARIO = """\
kind: scenario
name: rate
clock: {horizon: 40}
agents:
  m:
    kind: individual
    positions: [no, yes]
    initial: no
    rules:
      - {kind: hazard, to: yes, pressure: one, resistance: 0, rate: {uniform: [0, 0.2]}}
signals:
  one: [{constant: 1.0}]
  yes: [{agent: m, position: yes}]
outcomes:
  early: {trigger: {kind: condition, condition: {signal: yes, at_least: 1}}}
  late: {trigger: {kind: deadline, at: 40}}
"""
OBSERVATIONS = """\
kind: observations
observations:
  - {kind: stance, agent: m, position: no, at: 4, note: still no at 4 h}
  - {kind: stance, agent: m, position: no, at: 8}
  - {kind: outcome, outcome: early, at: [10, 20]}
"""


def files(tmp_path: Path) -> list[str]:
    sc, ob = tmp_path / "rate.yaml", tmp_path / "rate.observations.yaml"
    sc.write_text(SCENARIO)
    ob.write_text(OBSERVATIONS)
    return [str(sc), "--observations", str(ob), "--particles", "2000", "--seed", "3"]


def test_nowcast_reports_ess_per_observation_and_whether_it_rejuvenated(tmp_path) -> None:
    runner = CliRunner()
    base = ["nowcast", *files(tmp_path), "--at", "8"]
    r = runner.invoke(app, [*base, "--json"])
    assert r.exit_code == 0, r.output
    (on,) = json.loads(r.stdout)
    assert on["rejuvenate"] is True
    assert [e["label"] for e in on["ess_observations"]] == [
        "1: still no at 4 h",
        "2: stance",
        "no outcome by 8 h (implicit)",
    ]
    assert on["resamples"] >= 1 and on["moves"]["agents.m.rules.0.rate"]["accepted"] > 0
    r = runner.invoke(app, [*base, "--json", "--no-rejuvenate"])
    assert r.exit_code == 0, r.output
    (off,) = json.loads(r.stdout)
    assert off["rejuvenate"] is False and off["moves"] == {}
    # the same particles and observations: the ESS up to the first resampling agrees
    assert off["ess_observations"][0] == on["ess_observations"][0]
    r = runner.invoke(app, base)
    assert r.exit_code == 0, r.output
    assert "effective sample size after each observation" in r.stdout
    assert "rejuvenated after resampling" in r.stdout
    assert "1: still no at 4 h" in r.stdout


def test_backtest_records_the_option(tmp_path) -> None:
    runner = CliRunner()
    for flag, value in (("--rejuvenate", True), ("--no-rejuvenate", False)):
        out = tmp_path / flag.strip("-")
        args = ["backtest", *files(tmp_path), "--marks", "0,4,8", "--out", str(out), flag]
        r = runner.invoke(app, args)
        assert r.exit_code == 0, r.output
        data = json.loads((out / "backtest.json").read_text())
        assert data["rejuvenate"] is value
        assert len(data["ess_observations"]) == 3  # one list per mark
