"""Nowcasting against closed forms, rejection sampling and limit cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import ROOT, z_tolerance
from conftest import observations as obs

import sim
from sim.nowcast import DegenerateWeights, nowcast


def switch_scenario(at: object) -> sim.Scenario:
    """One member switches at a random time; 'early' if by t = 70, else 'late' at 70."""
    return sim.scenario_from_dict(
        {
            "kind": "scenario",
            "name": "switch",
            "clock": {"horizon": 100},
            "agents": {
                "m": {
                    "kind": "individual",
                    "positions": ["no", "yes"],
                    "initial": "no",
                    "rules": [{"kind": "scheduled", "to": "yes", "at": at}],
                }
            },
            "signals": {"yes": [{"agent": "m", "position": "yes"}]},
            "outcomes": {
                "early": {
                    "trigger": {"kind": "condition", "condition": {"signal": "yes", "at_least": 1}}
                },
                "late": {"trigger": {"kind": "deadline", "at": 70}},
            },
        }
    )


def test_no_observations_equals_the_plain_run() -> None:
    sc = sim.load_scenario(ROOT / "scenarios" / "openai_2023_11.yaml")
    plain = sim.run(sc, replicates=512, seed=9)
    nc = nowcast(
        sc, obs({"kind": "no_outcome", "at": 500, "error": 0.1}), at=10, particles=512, seed=9
    )
    for name, o in plain.summary()["outcomes"].items():
        assert nc.probabilities[name] == pytest.approx(o["p"], abs=1e-12)


def test_uniform_switch_time_conditioned_on_no_switch_yet() -> None:
    # U(0, 100): P(switch by 70) = 0.7; given none by 40: P = (70 - 40) / (100 - 40) = 0.5
    sc = switch_scenario({"uniform": [0, 100]})
    n = 20_000
    prior = nowcast(sc, obs({"kind": "no_outcome", "at": 40}), at=0, particles=n, seed=1)
    assert abs(prior.probabilities["early"] - 0.7) < z_tolerance(0.7, n)
    post = nowcast(sc, obs({"kind": "no_outcome", "at": 40}), at=40, particles=n, seed=1)
    assert abs(post.probabilities["early"] - 0.5) < z_tolerance(0.5, n) * 1.5


def test_noisy_stance_report_is_bayes_rule() -> None:
    # switch at t = 10 with probability 0.3; a report at t = 20 says "yes" and is wrong
    # 20% of the time
    sc = switch_scenario({"choice": [10, 1000], "p": [0.3, 0.7]})
    n = 20_000
    report = {"kind": "stance", "agent": "m", "position": "yes", "at": 5, "error": 0.2}
    # the report is taken at t = 5, before any switch: it says yes, so it is wrong for everyone
    # (allow_ended: the switch ends the run, and this asks what the report alone says)
    nc = nowcast(sc, obs(report), at=5, particles=n, seed=2, allow_ended=True)
    assert abs(nc.probabilities["early"] - 0.3) < z_tolerance(0.3, n) * 1.5
    report["at"] = 20
    nc = nowcast(sc, obs(report), at=20, particles=n, seed=2, allow_ended=True)
    exact = 0.3 * 0.8 / (0.3 * 0.8 + 0.7 * 0.2)
    assert abs(nc.probabilities["early"] - exact) < z_tolerance(exact, n) * 1.5


def test_observed_final_outcome_gives_probability_one() -> None:
    sc = sim.load_scenario(ROOT / "scenarios" / "bench_770.yaml")
    nc = nowcast(
        sc,
        obs({"kind": "outcome", "outcome": "return", "at": [84, 108]}),
        at=108,
        particles=2048,
        seed=3,
    )
    assert nc.probabilities["return"] == pytest.approx(1.0)


def test_smc_agrees_with_exact_rejection_and_resamples_mid_run() -> None:
    sc = sim.load_scenario(ROOT / "scenarios" / "bench_770.yaml")
    observations = obs(
        {
            "kind": "fraction",
            "population": "employees",
            "position": "signed",
            "at": 46,
            "between": [0.6, 1.0],
        },
        {"kind": "stance", "agent": "toner", "position": "reinstate", "at": 84},
        {"kind": "no_outcome", "at": 90},
    )
    nc = nowcast(sc, observations, at=90, particles=8192, seed=4)
    assert nc.resamples >= 1
    # the effective sample size recovers to the full count after each resampling
    after = [e for (_, e) in nc.ess_trace if e == 8192]
    assert len(after) == nc.resamples
    # exact rejection: plain replicates consistent with every observation
    from sim.engine import Block
    from sim.plan import compile_plan
    from sim.runner import block_rng

    plan = compile_plan(sc)
    keep, ret = 0, 0
    for b in range(16):
        block = Block(plan, block_rng(100 + b, 0), 2048)
        world = block.world
        ok = np.ones(2048, dtype=bool)
        while block.k < plan.n_ticks and world.active.any():
            block.step()
            if block.k == 46:
                ok &= world.fraction("employees", "signed") >= 0.6
            if block.k == 84:
                ok &= world.is_in("toner", "reinstate")
            if block.k == 90:
                ok &= world.outcome < 0
        keep += ok.sum()
        ret += (ok & (world.outcome == 0)).sum()
    p_rej = ret / keep
    se = np.sqrt(p_rej * (1 - p_rej) * (1 / keep + 1 / nc.ess_min))
    assert abs(nc.probabilities["return"] - p_rej) < 3.29 * se


def test_effective_sample_size_warning() -> None:
    sc = switch_scenario({"uniform": [0, 100]})
    # a near-impossible report: switched within [0, 1]
    report = {"kind": "stance", "agent": "m", "position": "yes", "at": 1, "error": 0.0001}
    with pytest.warns(DegenerateWeights, match="effective sample size"):
        nowcast(sc, obs(report), at=1, particles=1000, seed=1, allow_ended=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateWeights)
        nowcast(sc, obs({"kind": "no_outcome", "at": 40}), at=40, particles=1000, seed=1)


def test_calibration_recovers_a_closed_form_posterior() -> None:
    from sim.calibrate import calibrate

    # the switch time theta ~ U(0, 100) (the prior box); a report, wrong with
    # probability 0.2, says the member had switched by t = 50:
    # P(theta <= 50 | report) = 0.5 * 0.8 / (0.5 * 0.8 + 0.5 * 0.2) = 0.8
    sc = switch_scenario(50.0)
    report = obs({"kind": "stance", "agent": "m", "position": "yes", "at": 50, "error": 0.2})
    cal = calibrate(
        sc, report, {"agents.m.rules.0.at": (0.0, 100.0)}, points=400, particles=64, seed=1
    )
    below = cal.weights[cal.values[:, 0] <= 50].sum()
    assert below == pytest.approx(0.8, abs=0.01)
    calibrated = sim.scenario_from_dict(cal.calibrated_scenario(sc))
    at = calibrated.agents["m"].rules[0].at
    assert sum(p for v, p in zip(at.choice, at.p, strict=True) if v <= 50) == pytest.approx(
        0.8, abs=0.01
    )


def test_calibration_of_a_switching_rate_matches_numerical_integration() -> None:
    from sim.calibrate import calibrate

    # hazard p = rate * (1 - 0) per hour, rate ~ U(0, 0.2); switched by t = 10 (a Bernoulli report)
    sc = sim.scenario_from_dict(
        {
            "kind": "scenario",
            "name": "rate",
            "clock": {"horizon": 20},
            "agents": {
                "m": {
                    "kind": "individual",
                    "positions": ["no", "yes"],
                    "initial": "no",
                    "rules": [
                        {
                            "kind": "hazard",
                            "to": "yes",
                            "pressure": "one",
                            "resistance": 0,
                            "rate": 0.1,
                        }
                    ],
                }
            },
            "signals": {"one": [{"constant": 1.0}]},
            "outcomes": {"end": {"trigger": {"kind": "deadline", "at": 20}}},
        }
    )
    report = obs({"kind": "stance", "agent": "m", "position": "yes", "at": 10})
    cal = calibrate(
        sc,
        report,
        {"agents.m.rules.0.rate": (0.0, 0.2)},
        points=256,
        particles=1024,
        seed=2,
        jobs=2,
    )
    grid = np.linspace(0, 0.2, 20001)
    like = 1 - (1 - grid) ** 10
    exact = float((grid * like).sum() / like.sum())
    assert cal.posterior_mean()["agents.m.rules.0.rate"] == pytest.approx(exact, abs=0.004)


ARTICLE = ROOT / "scenarios" / "openai_2023_11.yaml"
OBSERVED = ROOT / "scenarios" / "openai_2023_11.observations.yaml"


def test_cli_nowcast_backtest_and_calibrate(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from sim.cli import app

    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "nowcast",
            str(ARTICLE),
            "--observations",
            str(OBSERVED),
            "--particles",
            "512",
            "--json",
            "--at",
            "0",
            "--at",
            "112",
        ],
    )
    assert r.exit_code == 0, r.output
    curve = json.loads(r.stdout)
    assert [c["at"] for c in curve] == [0, 112]
    assert curve[1]["p"]["return"] == pytest.approx(1.0)  # the return was observed by 112 h
    r = runner.invoke(
        app,
        [
            "backtest",
            str(ARTICLE),
            "--observations",
            str(OBSERVED),
            "--particles",
            "512",
            "--out",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "backtest.json").read_text())
    assert data["realised"] == "return"
    p = data["return"]
    # the Brier score of the realised binary event; the multi-outcome one under its own name
    assert data["scores"]["brier"][0] == pytest.approx((1 - p[0]) ** 2)
    assert data["scores"]["brier_all_outcomes"][0] == pytest.approx(
        (1 - p[0]) ** 2 + data["outcomes"]["microsoft"][0] ** 2
    )
    assert (tmp_path / "backtest.png").exists()
    r = runner.invoke(
        app,
        [
            "calibrate",
            str(ARTICLE),
            "--observations",
            str(OBSERVED),
            "--param",
            "agents.employees.rule.resistance=0.3:0.6",
            "--points",
            "12",
            "--particles",
            "128",
            "--out",
            str(tmp_path / "cal"),
        ],
    )
    assert r.exit_code == 0, r.output
    post = json.loads((tmp_path / "cal" / "posterior.json").read_text())
    assert sum(pt["weight"] for pt in post["points"]) == pytest.approx(1.0)
    calibrated = sim.load_scenario(tmp_path / "cal" / "calibrated.yaml")
    assert calibrated.agents["employees"].rule.resistance.choice
    r = runner.invoke(
        app,
        [
            "calibrate",
            str(ARTICLE),
            "--observations",
            str(OBSERVED),
            "--param",
            "agents.nobody.rate=0:1",
        ],
    )
    assert r.exit_code == 2 and "nobody" in r.stderr
