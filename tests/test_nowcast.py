"""Nowcasting against closed forms, rejection sampling and limit cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import ROOT, z_tolerance

import sim
from sim.nowcast import DegenerateWeights, nowcast
from sim.observations import ObservationsFile


def obs(*items: dict) -> ObservationsFile:
    return ObservationsFile.model_validate({"kind": "observations", "observations": list(items)})


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
    nc = nowcast(sc, obs(report), at=5, particles=n, seed=2)
    assert abs(nc.probabilities["early"] - 0.3) < z_tolerance(0.3, n) * 1.5
    report["at"] = 20
    nc = nowcast(sc, obs(report), at=20, particles=n, seed=2)
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
    from sim.engine import Batch
    from sim.model import compile_plan
    from sim.runner import block_rng

    plan = compile_plan(sc)
    keep, ret = 0, 0
    for b in range(16):
        batch = Batch(plan, block_rng(100 + b, 0), 2048)
        ok = np.ones(2048, dtype=bool)
        while batch.k < plan.n_ticks and batch.active.any():
            batch.step()
            if batch.k == 46:
                ok &= batch.populations[0].fraction(1) >= 0.6
            if batch.k == 84:
                ok &= batch.pos[:, plan.ind_index["toner"]] == 1
            if batch.k == 90:
                ok &= batch.outcome < 0
        keep += ok.sum()
        ret += (ok & (batch.outcome == 0)).sum()
    p_rej = ret / keep
    se = np.sqrt(p_rej * (1 - p_rej) * (1 / keep + 1 / nc.ess_min))
    assert abs(nc.probabilities["return"] - p_rej) < 3.29 * se


def test_effective_sample_size_warning() -> None:
    sc = switch_scenario({"uniform": [0, 100]})
    # a near-impossible report: switched within [0, 1]
    report = {"kind": "stance", "agent": "m", "position": "yes", "at": 1, "error": 0.0001}
    with pytest.warns(DegenerateWeights, match="effective sample size"):
        nowcast(sc, obs(report), at=1, particles=1000, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateWeights)
        nowcast(sc, obs({"kind": "no_outcome", "at": 40}), at=40, particles=1000, seed=1)
