"""Rejuvenation of the nowcast's particles against quadrature, enumeration and limit cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import ROOT
from conftest import observations as obs
from scipy import integrate, stats

import sim
from sim import rejuvenate as RJ
from sim.engine import Block
from sim.nowcast import nowcast
from sim.plan import compile_plan
from sim.seeds import nowcast_particles_rng

Z = 3.29  # two-sided 99.9%
RATE = "agents.m.rules.0.rate"


def rate_scenario(rate: object) -> sim.Scenario:
    """One member switches with hazard ``rate`` per hour (pressure 1, resistance 0)."""
    return sim.scenario_from_dict(
        {
            "kind": "scenario",
            "name": "rate",
            "clock": {"horizon": 40},
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
                            "rate": rate,
                        }
                    ],
                }
            },
            "signals": {"one": [{"constant": 1.0}], "yes": [{"agent": "m", "position": "yes"}]},
            "outcomes": {
                "early": {
                    "trigger": {"kind": "condition", "condition": {"signal": "yes", "at_least": 1}}
                },
                "late": {"trigger": {"kind": "deadline", "at": 40}},
            },
        }
    )


def stays(*hours: float) -> list[dict]:
    return [{"kind": "stance", "agent": "m", "position": "no", "at": t} for t in hours]


def posterior_moments(like, lo: float, hi: float, prior=lambda r: 1.0) -> tuple[float, float]:
    """Mean and sd of a density ∝ prior(r) like(r) on [lo, hi], by quadrature."""
    z = integrate.quad(lambda r: prior(r) * like(r), lo, hi)[0]
    m = integrate.quad(lambda r: r * prior(r) * like(r), lo, hi)[0] / z
    m2 = integrate.quad(lambda r: r * r * prior(r) * like(r), lo, hi)[0] / z
    return m, float(np.sqrt(m2 - m * m))


def test_posterior_of_a_rate_matches_quadrature_when_switched_in_a_window() -> None:
    # rate ~ U(0, 0.2); still "no" at 5, 10, 15 h, "yes" at 20 h:
    # L(r) = (1 - r)^15 (1 - (1 - r)^5); two resamplings, each followed by MH moves
    sc = rate_scenario({"uniform": [0, 0.2]})
    o = obs(*stays(5, 10, 15), {"kind": "stance", "agent": "m", "position": "yes", "at": 20})
    n = nowcast(sc, o, at=20, particles=20_000, seed=3, allow_ended=True)
    assert n.resamples == 2 and n.moves.proposed[RATE] > 0
    mean, sd = posterior_moments(lambda r: (1 - r) ** 15 * (1 - (1 - r) ** 5), 0, 0.2)
    got = n.parameters[RATE]
    assert abs(got["mean"] - mean) < Z * sd / np.sqrt(n.ess_min)
    assert abs(got["sd"] - sd) < Z * sd / np.sqrt(2 * n.ess_min)


def test_posterior_and_outcome_match_quadrature_when_not_switched_by_t() -> None:
    # not switched by 10 h: L(r) = (1 - r)^10; P(early) = E[1 - (1 - r)^30 | not by 10]
    sc = rate_scenario({"uniform": [0, 0.2]})
    n = nowcast(sc, obs(*stays(4, 7, 10)), at=10, particles=20_000, seed=5)
    assert n.resamples >= 1
    like = lambda r: (1 - r) ** 10  # noqa: E731
    mean, sd = posterior_moments(like, 0, 0.2)
    assert abs(n.parameters[RATE]["mean"] - mean) < Z * sd / np.sqrt(n.ess_min)
    z = integrate.quad(like, 0, 0.2)[0]
    p_early = integrate.quad(lambda r: like(r) * (1 - (1 - r) ** 30), 0, 0.2)[0] / z
    se = np.sqrt(p_early * (1 - p_early) / n.ess_min)
    assert abs(n.probabilities["early"] - p_early) < Z * se


def test_a_clipped_normal_prior_keeps_its_atoms() -> None:
    # rate ~ normal(0.1, 0.08) clipped to [0, 0.2]: atoms at 0 and 0.2 (10.6% each);
    # not switched by 10 h. The walk moves a latent unclipped value.
    sc = rate_scenario({"normal": [0.1, 0.08], "clip": [0, 0.2]})
    n = nowcast(sc, obs(*stays(4, 7, 10)), at=10, particles=20_000, seed=7)
    assert n.resamples >= 1
    g = stats.norm(0.1, 0.08)
    lo_mass, hi_mass = g.cdf(0), g.sf(0.2)
    like = lambda r: (1 - r) ** 10  # noqa: E731
    z = integrate.quad(lambda r: g.pdf(r) * like(r), 0, 0.2)[0] + lo_mass + hi_mass * like(0.2)
    m1 = integrate.quad(lambda r: r * g.pdf(r) * like(r), 0, 0.2)[0] + 0.2 * hi_mass * like(0.2)
    m2 = integrate.quad(lambda r: r * r * g.pdf(r) * like(r), 0, 0.2)[0]
    m2 += 0.04 * hi_mass * like(0.2)
    mean, sd = m1 / z, np.sqrt(m2 / z - (m1 / z) ** 2)
    assert abs(n.parameters[RATE]["mean"] - mean) < Z * sd / np.sqrt(n.ess_min)


def test_plain_jitter_fails_the_quadrature_check(monkeypatch) -> None:
    # the same check as above with the path likelihood left out (a jitter within the
    # prior): the posterior drifts back towards the prior, and the check sees it
    monkeypatch.setattr(
        RJ.PathRecorder, "_log_likelihood", lambda self, t, values, hist: np.zeros(len(values))
    )
    sc = rate_scenario({"uniform": [0, 0.2]})
    o = obs(*stays(5, 10, 15), {"kind": "stance", "agent": "m", "position": "yes", "at": 20})
    n = nowcast(sc, o, at=20, particles=20_000, seed=3, allow_ended=True)
    mean, sd = posterior_moments(lambda r: (1 - r) ** 15 * (1 - (1 - r) ** 5), 0, 0.2)
    assert abs(n.parameters[RATE]["mean"] - mean) > Z * sd / np.sqrt(n.ess_min)


def test_without_rejuvenation_the_values_collapse_and_with_it_they_do_not() -> None:
    sc = rate_scenario({"uniform": [0, 0.2]})
    o = obs(*stays(3, 6, 9, 12, 15))
    kw = dict(at=15, particles=4000, seed=11)
    off = nowcast(sc, o, rejuvenate=False, **kw)
    on = nowcast(sc, o, rejuvenate=True, **kw)
    assert off.resamples >= 1 and on.resamples == off.resamples
    # resampling keeps at most as many distinct values as the fewest effective particles
    assert off.parameters[RATE]["distinct"] <= off.ess_min + 1
    assert on.parameters[RATE]["distinct"] > 0.6 * 4000
    assert not off.moves.proposed and on.moves.proposed[RATE] > 0
    assert off.as_dict()["rejuvenate"] is False and on.as_dict()["rejuvenate"] is True


def test_factors_match_enumerating_which_rule_fires() -> None:
    # three competing rules, tried in order, the first whose uniform falls below its p moves
    rng = np.random.default_rng(0)
    rows = 200
    pis = [rng.random(rows) for _ in range(3)]
    dests = [np.full(rows, 1), np.full(rows, 2), np.full(rows, 1)]
    for j in range(3):
        for obs_pos in (0, 1, 2):  # 0: stayed
            observed = np.full(rows, obs_pos)
            moved = observed != 0
            c1, ik, c2 = RJ.PathRecorder.factors(pis, dests, moved, observed, j)
            got = c1 + ik * pis[j] + (1 - pis[j]) * c2
            exact = np.zeros(rows)
            for fires in itertools.product([False, True], repeat=3):
                p = np.ones(rows)
                for f, q in zip(fires, pis, strict=True):
                    p = p * (q if f else 1 - q)
                first = next((m for m, f in enumerate(fires) if f), None)
                lands = 0 if first is None else int(dests[first][0])
                if lands == obs_pos:
                    exact += p
            np.testing.assert_allclose(got, exact, rtol=1e-12, atol=1e-15)


def test_recorded_likelihood_is_the_closed_form_of_the_simulated_path() -> None:
    sc = rate_scenario({"uniform": [0, 0.2]})
    plan = compile_plan(sc)
    block = Block(plan, nowcast_particles_rng(2), 2000)
    (target,) = RJ.targets(plan)
    rec = RJ.PathRecorder(block, [target])
    switched_at = np.zeros(2000, dtype=int)
    for k in range(1, 26):
        block.step()
        now = block.world.is_in("m", "yes")
        switched_at[(switched_at == 0) & now] = k
    r = block.world.param("m", "rate")
    exact = np.where(
        switched_at > 0,
        (switched_at - 1) * np.log1p(-r) + np.log(r),
        25 * np.log1p(-r),
    )
    np.testing.assert_allclose(rec.log_likelihood(target, r), exact, rtol=1e-10)


def test_the_recorder_leaves_the_model_alone() -> None:
    sc = sim.load_scenario(ROOT / "scenarios" / "openai_2023_11.yaml")
    plan = compile_plan(sc)
    plain = Block(plan, nowcast_particles_rng(4), 512).run()
    block = Block(plan, nowcast_particles_rng(4), 512)
    rec = RJ.PathRecorder(block, RJ.targets(plan))
    watched = block.run()
    np.testing.assert_array_equal(plain.outcome, watched.outcome)
    np.testing.assert_array_equal(plain.end_time, watched.end_time)
    np.testing.assert_array_equal(plain.switch_time, watched.switch_time)
    # every particle's own path is possible under its own values
    for t in rec.targets:
        assert np.isfinite(rec.log_likelihood(t, block.state.param[t.slot])).all()


def test_which_parameters_are_moved() -> None:
    sc = sim.load_scenario(ROOT / "scenarios" / "openai_2023_11.yaml")
    labels = [t.label for t in RJ.targets(compile_plan(sc))]
    # the drawn ones of individuals' hazard and threshold rules; constants and
    # populations are left alone
    assert labels == [
        "agents.sutskever.rules.letter.threshold",
        "agents.dangelo.rules.reinstate.resistance",
        "agents.mccauley.rules.reinstate.resistance",
        "agents.toner.rules.reinstate.resistance",
    ]


def test_a_parameter_an_effect_changes_is_left_alone() -> None:
    data = rate_scenario({"uniform": [0, 0.2]}).canonical()
    data["events"] = {
        "calm": {
            "trigger": {"kind": "at", "time": 5},
            "effects": [{"kind": "change", "agent": "m", "param": "rate", "scale": 0.5}],
        }
    }
    assert RJ.targets(compile_plan(sim.scenario_from_dict(data))) == []


def test_ess_after_each_observation_is_named_and_exact() -> None:
    sc = rate_scenario({"uniform": [0, 0.2]})
    o = obs(*stays(5, 10))
    n = nowcast(sc, o, at=10, particles=3000, seed=9, rejuvenate=False)
    # the same particles unobserved: the ESS after "no at 5 h" is the number still at "no"
    block = Block(compile_plan(sc), nowcast_particles_rng(9), 3000)
    for _ in range(5):
        block.step()
    alive = int(block.world.is_in("m", "no").sum())
    first = n.ess_observations[0]
    assert (first["observation"], first["t"], first["label"]) == (1, 5.0, "1: stance")
    assert first["ess"] == pytest.approx(alive)
    assert [e["observation"] for e in n.ess_observations] == [1, 2, 0]  # 0: no outcome by T
    assert n.as_dict()["ess_observations"] == n.ess_observations


def test_truncated_priors_keep_their_bounds_and_spread() -> None:
    """A truncated prior is the truncated law: no density outside, its own sd (not the parent's)."""
    from sim.distributions import LogNormal, Normal

    normal = RJ.prior_of(Normal(normal=(0.1, 0.1), truncate=(0.05, 0.2)))
    assert normal is not None
    assert normal.logpdf(np.array([0.3]))[0] == -np.inf
    assert normal.logpdf(np.array([0.04]))[0] == -np.inf
    exact = stats.truncnorm(-0.5, 1.0, loc=0.1, scale=0.1)
    assert normal.spread() == pytest.approx(exact.std(), rel=1e-12)
    lognormal = RJ.prior_of(LogNormal(lognormal=(0.0, 1.0), truncate=(0.5, 3.0)))
    assert lognormal is not None
    assert lognormal.logpdf(np.array([3.5]))[0] == -np.inf
    assert lognormal.logpdf(np.array([0.4]))[0] == -np.inf
    # against numerical integration of the renormalised density
    mass = stats.lognorm(1.0).cdf(3.0) - stats.lognorm(1.0).cdf(0.5)
    pdf = lambda x: stats.lognorm(1.0).pdf(x) / mass  # noqa: E731
    m1 = integrate.quad(lambda x: x * pdf(x), 0.5, 3.0)[0]
    m2 = integrate.quad(lambda x: x * x * pdf(x), 0.5, 3.0)[0]
    assert lognormal.spread() == pytest.approx(np.sqrt(m2 - m1 * m1), rel=1e-9)
    x = np.array([0.7, 1.0, 2.9])
    np.testing.assert_allclose(np.exp(lognormal.logpdf(x)), pdf(x), rtol=1e-9)
