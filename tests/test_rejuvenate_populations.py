"""Rejuvenation of a population's parameters against an exact computation (a chain over counts)."""

from __future__ import annotations

import itertools
import math

import numpy as np
from conftest import ROOT
from scipy import stats

import sim
from sim import rejuvenate_populations as RP
from sim.engine import Block
from sim.nowcast import nowcast
from sim.observations import ObservationsFile
from sim.plan import compile_plan
from sim.seeds import nowcast_particles_rng

Z = 3.29  # two-sided 99.9%
N, HORIZON = 20, 40
LO, HI = 0.02, 0.2  # the rate's uniform prior
LABEL = "agents.crowd.rule.rate"
EVERYONE = {"signal": "all_in", "at_least": 1}


def crowd(rate: object = None, **rule: object) -> sim.Scenario:
    """``N`` people join at ``rate`` per hour (pressure 1, resistance 0), one rate per replicate."""
    return sim.scenario_from_dict(
        {
            "kind": "scenario",
            "name": "crowd",
            "clock": {"horizon": HORIZON},
            "agents": {
                "crowd": {
                    "kind": "population",
                    "size": N,
                    "positions": ["out", "in"],
                    "initial": "out",
                    "rule": {
                        "kind": "hazard",
                        "to": "in",
                        "pressure": "one",
                        "resistance": 0.0,
                        "rate": rate or {"uniform": [LO, HI]},
                        **rule,
                    },
                }
            },
            "signals": {
                "one": [{"constant": 1.0}],
                "all_in": [{"fraction": "crowd", "position": "in"}],
            },
            "outcomes": {
                "all_in": {"trigger": {"kind": "condition", "condition": EVERYONE}},
                "late": {"trigger": {"kind": "deadline", "at": HORIZON}},
            },
        }
    )


def test_which_population_parameters_are_moved() -> None:
    assert [t.label for t in RP.population_targets(compile_plan(crowd()))] == [LABEL]
    assert RP.population_targets(compile_plan(crowd(0.1))) == []  # a constant
    assert RP.population_targets(compile_plan(crowd(reversible=True))) == []
    # per-person resistances (hazard_dense), as in the OpenAI forecast, are left alone
    forecast = sim.load_scenario(ROOT / "scenarios" / "openai_2023_11.forecast.yaml")
    assert RP.population_targets(compile_plan(forecast)) == []


def test_recorded_likelihood_is_the_binomial_chain_of_the_path() -> None:
    """log L(θ) plus the binomial coefficients is the sum of binomial log-pmfs of each tick."""
    plan = compile_plan(crowd())
    block = Block(plan, nowcast_particles_rng(2), 256)
    (target,) = RP.population_targets(plan)
    rec = RP.PopulationRecorder(block, [target], until=15)
    counts = [block.state.populations[0].counts[:, 1].copy()]
    for _ in range(15):
        block.step()
        counts.append(block.state.populations[0].counts[:, 1].copy())
    for theta in (0.03, 0.1, 0.19):
        values = np.full(256, theta)
        q = theta
        exact = sum(stats.binom.logpmf(b - a, N - a, q) for a, b in itertools.pairwise(counts))
        coef = sum(
            np.log([math.comb(int(n), int(m)) for n, m in zip(N - a, b - a, strict=True)])
            for a, b in itertools.pairwise(counts)
        )
        np.testing.assert_allclose(rec.log_likelihood(target, values) + coef, exact, rtol=1e-10)


def _chain(theta: float, windows: dict[int, tuple[int, int]], until: int) -> tuple[float, float]:
    """P(the counts fall in every window) and P(all in by ``until`` and those windows), exactly.

    The count X_t moves by Binomial(N - X_t, θ) a tick.
    """
    q = theta
    step = np.zeros((N + 1, N + 1))
    for a in range(N + 1):
        step[a, a:] = stats.binom.pmf(np.arange(N - a + 1), N - a, q)
    x = np.zeros(N + 1)
    x[0] = 1.0
    for t in range(1, until + 1):
        x = x @ step
        if t in windows:
            lo, hi = windows[t]
            x[:lo] = 0.0
            x[hi + 1 :] = 0.0
    return float(x.sum()), float(x[N])


def test_posterior_of_a_population_resistance_matches_an_exact_chain() -> None:
    """Counts seen in two windows: the posterior mean of θ and P(all in by the horizon)."""
    seen = ObservationsFile.model_validate(
        {
            "kind": "observations",
            "observations": [
                {
                    "kind": "fraction",
                    "population": "crowd",
                    "position": "in",
                    "at": 8,
                    "between": [0.2, 0.35],
                },
                {
                    "kind": "fraction",
                    "population": "crowd",
                    "position": "in",
                    "at": 16,
                    "between": [0.45, 0.6],
                },
            ],
        }
    )
    windows = {8: (4, 7), 16: (9, 12)}  # shares 0.2-0.35 and 0.45-0.6 of 20 people
    grid = LO + (np.arange(900) + 0.5) * (HI - LO) / 900  # midpoints under the uniform prior
    evidence, all_in = np.array([_chain(th, windows, HORIZON) for th in grid]).T
    # all_in uses the windows too (the crisis is observed to go on); the outcome needs
    # everyone in, and the deadline at the horizon comes after the condition at a tie
    mean = float((grid * evidence).sum() / evidence.sum())
    sd = float(np.sqrt(((grid - mean) ** 2 * evidence).sum() / evidence.sum()))
    p_all = float(all_in.sum() / evidence.sum())
    for rejuvenate in (True, False):
        n = nowcast(crowd(), seen, at=16, particles=20_000, seed=3, rejuvenate=rejuvenate)
        assert n.resamples >= 1
        got = n.parameters[LABEL]
        assert abs(got["mean"] - mean) < Z * sd / np.sqrt(n.ess_min), (rejuvenate, got, mean)
        se = np.sqrt(p_all * (1 - p_all) / n.ess_min)
        assert abs(n.probabilities["all_in"] - p_all) < Z * se, (rejuvenate, n.probabilities)
        if rejuvenate:
            assert n.moves.accepted[LABEL] > 0
            # the copies of each survivor are moved apart
            assert got["distinct"] > 5_000
        else:
            assert got["distinct"] < 5_000
