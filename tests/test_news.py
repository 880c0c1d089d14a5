"""Forecasting with the news: uncertain events and switches, reports, "not yet", publication.

Every expectation is a closed form (Bayes' rule, a geometric waiting time, a
mixture), never a known ending. Seeds are fixed; tolerances are 99.9% normal
intervals (conftest.z_tolerance) on the effective number of particles.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from conftest import observations as obs
from conftest import z_tolerance

import sim
from sim.errors import InputError
from sim.nowcast import NoConsistentParticle, nowcast
from sim.observations import ObservationsFile, check_against, load_observations


def near(got: float, exact: float, n: float) -> None:
    assert abs(got - exact) < z_tolerance(exact, int(n)), (got, exact, n)


# --------------------------------------------------------- uncertain switches
def maybe_event(probability: float | None, time: Any = None) -> sim.Scenario:
    """An event at a random time (default U(0, 100)) that comes only with ``probability``."""
    time = time or {"uniform": [0, 100]}
    trigger: dict[str, Any] = {"kind": "at", "time": time}
    if probability is not None:
        trigger["probability"] = probability
    return sim.scenario_from_dict(
        {
            "kind": "scenario",
            "name": "maybe",
            "clock": {"horizon": 100},
            "agents": {"m": {"kind": "individual", "positions": ["no"], "initial": "no"}},
            "events": {"offer": {"trigger": trigger}},
            "outcomes": {
                "came": {"trigger": {"kind": "event", "event": "offer"}},
                "none": {"trigger": {"kind": "deadline", "at": 100}},
            },
        }
    )


def vote_at_50(rule: dict[str, Any]) -> sim.Scenario:
    """Member m may switch (``rule``); at t = 50 the outcome says whether it had."""
    return sim.scenario_from_dict(
        {
            "kind": "scenario",
            "name": "two outcomes",
            "clock": {"horizon": 60},
            "agents": {
                "m": {
                    "kind": "individual",
                    "positions": ["no", "yes"],
                    "initial": "no",
                    "rules": [rule],
                },
                "k": {"kind": "individual", "positions": ["no", "yes"], "initial": "no"},
                "g": {"kind": "group", "members": ["m", "k"]},
            },
            "signals": {"closing": [{"flag": "close"}], "one": [{"constant": 1.0}]},
            "events": {"close": {"trigger": {"kind": "at", "time": 50}}},
            "outcomes": {
                "switched": {
                    "trigger": {
                        "kind": "condition",
                        "condition": {
                            "all": [
                                {"agent": "m", "position": "yes"},
                                {"signal": "closing", "at_least": 1},
                            ]
                        },
                    }
                },
                "stayed": {"trigger": {"kind": "deadline", "at": 50}},
            },
        }
    )


SWITCH_AT_10 = {"kind": "scheduled", "to": "yes", "at": 10, "probability": 0.3}


def test_an_event_with_a_probability_comes_that_often_at_its_drawn_time() -> None:
    n = 8192
    r = sim.run(maybe_event(0.3, {"uniform": [10, 50]}), replicates=n, seed=5)
    came = r.outcome == 0
    near(came.mean(), 0.3, n)
    # given it comes, its time is U(10, 50), taking effect at the next whole hour: mean 30.5
    sd = 40 / np.sqrt(12) / np.sqrt(came.sum())
    assert abs(r.time[came].mean() - 30.5) < 3.29 * sd


def test_a_scheduled_switch_with_a_probability_is_an_uncertain_switch() -> None:
    n = 8192
    r = sim.run(vote_at_50(SWITCH_AT_10), replicates=n, seed=6)
    near((r.outcome == 0).mean(), 0.3, n)
    switched = r.switch_time[:, 0]
    assert set(np.unique(switched[~np.isnan(switched)])) == {10.0}


def test_without_probability_nothing_more_is_drawn() -> None:
    # probability 1 draws one uniform per replicate after the times; none draws nothing:
    # the times are the same either way, and later draws shift only with a probability
    sc = maybe_event(None)
    one = maybe_event(1.0)
    a = sim.run(sc, replicates=512, seed=1)
    b = sim.run(one, replicates=512, seed=1)
    assert np.array_equal(a.time, b.time)  # the event is the last draw: nothing after it moves
    assert "probability" not in sc.canonical()["events"]["offer"]["trigger"]
    assert sc.canonical() == maybe_event(None).canonical()


def test_probability_must_be_a_probability() -> None:
    with pytest.raises(Exception, match="probability"):
        maybe_event(1.5)


# ------------------------------------------------------------------- reports
def test_a_report_moves_a_two_outcome_prior_exactly_as_bayes_says() -> None:
    sc = vote_at_50(SWITCH_AT_10)
    n = 20_000
    tp, fp = 0.9, 0.2
    report = {
        "kind": "report",
        "condition": {"agent": "m", "position": "yes"},
        "at": 20,
        "true_positive": tp,
        "false_positive": fp,
        "source": "a major outlet citing several people",
    }
    nc = nowcast(sc, obs(report), at=20, particles=n, seed=3)
    near(nc.probabilities["switched"], 0.3 * tp / (0.3 * tp + 0.7 * fp), nc.ess_min)
    # a report of the opposite condition (through a group count): it holds where m did not
    # switch, so the odds of "switched" move by fp / tp
    report["condition"] = {"not": {"count": "g", "position": "yes", "at_least": 1}}
    nc = nowcast(sc, obs(report), at=20, particles=n, seed=3)
    near(nc.probabilities["switched"], 0.3 * fp / (0.3 * fp + 0.7 * tp), nc.ess_min)


def test_a_report_over_a_window_averages_its_ticks() -> None:
    # switched at 10: over the window [5, 14] it holds at ticks 10..14 (5 of 10)
    sc = vote_at_50(SWITCH_AT_10)
    n = 20_000
    report = {
        "kind": "report",
        "condition": {"agent": "m", "position": "yes"},
        "at": [5, 14],
        "true_positive": 0.8,
        "false_positive": 0.1,
    }
    nc = nowcast(sc, obs(report), at=14, particles=n, seed=4)
    lik_switched = 0.5 * 0.8 + 0.5 * 0.1
    exact = 0.3 * lik_switched / (0.3 * lik_switched + 0.7 * 0.1)
    near(nc.probabilities["switched"], exact, nc.ess_min)


def test_a_count_observation_of_a_group() -> None:
    sc = vote_at_50(SWITCH_AT_10)
    n = 20_000
    seen = {"kind": "count", "group": "g", "position": "yes", "value": 1, "at": 20, "error": 0.1}
    nc = nowcast(sc, obs(seen), at=20, particles=n, seed=5)
    near(nc.probabilities["switched"], 0.3 * 0.9 / (0.3 * 0.9 + 0.7 * 0.1), nc.ess_min)


# ----------------------------------------------------------------- not yet
def hazard_case() -> sim.Scenario:
    """m switches with a constant 5% per hour; 'early' if it does by 60, else 'late'."""
    return sim.scenario_from_dict(
        {
            "kind": "scenario",
            "name": "constant hazard",
            "clock": {"horizon": 80},
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
                            "rate": 0.05,
                        }
                    ],
                }
            },
            "signals": {"one": [{"constant": 1.0}]},
            "outcomes": {
                "early": {
                    "trigger": {
                        "kind": "condition",
                        "condition": {"agent": "m", "position": "yes"},
                    }
                },
                "late": {"trigger": {"kind": "deadline", "at": 60}},
            },
        }
    )


def test_not_yet_on_a_constant_hazard_gives_the_exact_conditional_probability() -> None:
    sc = hazard_case()
    n = 20_000
    prior = nowcast(sc, [], at=0, particles=n, seed=7)
    near(prior.probabilities["early"], 1 - 0.95**60, n)
    not_yet = {"kind": "not_before", "agent": "m", "position": "yes", "at": 30}
    # the observation alone (allow_ended: the default conditioning is off)
    nc = nowcast(sc, obs(not_yet), at=30, particles=n, seed=7, allow_ended=True)
    near(nc.probabilities["early"], 1 - 0.95**30, nc.ess_min)


def test_not_yet_of_an_uncertain_event() -> None:
    # comes with probability 0.6 at U(0, 100); not by 40: P = 0.6 * 0.6 / (1 - 0.6 * 0.4)
    sc = maybe_event(0.6)
    n = 20_000
    nc = nowcast(
        sc, obs({"kind": "not_before", "event": "offer", "at": 40}), 40, n, 8, allow_ended=True
    )
    near(nc.probabilities["came"], 0.36 / 0.76, nc.ess_min)
    # "not yet" read at 40.5 with 1-hour ticks: up to the last tick by then (40), not 41
    nc2 = nowcast(
        sc, obs({"kind": "not_before", "event": "offer", "at": 40.5}), 41, n, 8, allow_ended=True
    )
    assert nc2.probabilities == nc.probabilities


# ------------------------------------------------- what was known at time T
def test_default_no_outcome_conditioning_equals_the_explicit_observation() -> None:
    sc = hazard_case()
    n = 4096
    default = nowcast(sc, [], at=30, particles=n, seed=9)
    explicit = nowcast(
        sc, obs({"kind": "no_outcome", "at": 30}), at=30, particles=n, seed=9, allow_ended=True
    )
    assert default.probabilities == explicit.probabilities
    assert default.no_outcome_by == 30
    near(default.probabilities["early"], 1 - 0.95**30, default.ess_min)
    # off: the plain prior, ended particles included
    ended = nowcast(sc, [], at=30, particles=n, seed=9, allow_ended=True)
    assert ended.no_outcome_by == 0
    near(ended.probabilities["early"], 1 - 0.95**60, n)
    # between ticks: only the ticks by T count (29 at T = 29.5)
    half = nowcast(sc, [], at=29.5, particles=n, seed=9)
    at29 = nowcast(sc, [], at=29, particles=n, seed=9)
    assert half.probabilities == at29.probabilities


def test_an_observed_outcome_replaces_the_default_conditioning() -> None:
    sc = hazard_case()
    seen = obs({"kind": "outcome", "outcome": "early", "at": [10, 20], "published": 21})
    nc = nowcast(sc, seen, at=40, particles=2048, seed=1)
    assert nc.probabilities["early"] == pytest.approx(1.0)
    assert nc.no_outcome_by == 0


def test_every_particle_ended_is_a_clear_error() -> None:
    sc = hazard_case()
    with pytest.raises(NoConsistentParticle, match="--allow-ended"):
        nowcast(sc, [], at=70, particles=256, seed=1)


def test_an_observation_is_used_if_and_only_if_published_by_t() -> None:
    sc = vote_at_50(SWITCH_AT_10)
    n = 4096
    report = {
        "kind": "report",
        "condition": {"agent": "m", "position": "yes"},
        "at": 20,
        "published": 40,
        "true_positive": 0.9,
        "false_positive": 0.2,
    }
    none = nowcast(sc, [], at=30, particles=n, seed=2)
    late = nowcast(sc, obs(report), at=30, particles=n, seed=2)
    assert late.probabilities == none.probabilities and late.used == 0
    used = nowcast(sc, obs(report), at=40, particles=n, seed=2)
    unpublished = {k: v for k, v in report.items() if k != "published"}
    same = nowcast(sc, obs(unpublished), at=40, particles=n, seed=2)
    assert used.probabilities == same.probabilities and used.used == 1
    assert used.probabilities != none.probabilities


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            {
                "kind": "report",
                "condition": {"agent": "m", "position": "yes"},
                "at": 1,
                "true_positive": 0.2,
                "false_positive": 0.3,
            },
            "true_positive 0.2 must be above false_positive 0.3",
        ),
        ({"kind": "not_before", "event": "close", "at": [1, 2]}, "not_before takes one time"),
        ({"kind": "not_before", "at": 2}, "exactly one of event and agent"),
        (
            {"kind": "stance", "agent": "m", "position": "yes", "at": 5, "published": 4},
            "published 4 is before",
        ),
        ({"kind": "count", "group": "g", "position": "yes", "at": 5}, "value: N or between"),
    ],
)
def test_bad_observations_are_refused_with_their_line(tmp_path, item, message) -> None:
    import yaml

    path = tmp_path / "obs.yaml"
    path.write_text(yaml.safe_dump({"kind": "observations", "observations": [item]}))
    with pytest.raises(InputError) as e:
        load_observations(path)
    text = str(e.value)
    assert message in text and "obs.yaml:3" in text, text


@pytest.mark.parametrize(
    ("item", "message", "field"),
    [
        (
            {
                "kind": "report",
                "condition": {"all": [{"agent": "m", "position": "maybe"}]},
                "at": 1,
                "true_positive": 0.9,
                "false_positive": 0.1,
            },
            "unknown position 'maybe'",
            "observations.0.condition.all.0.position",
        ),
        (
            {
                "kind": "report",
                "condition": {"count": "board", "position": "yes", "at_least": 1},
                "at": 1,
                "true_positive": 0.9,
                "false_positive": 0.1,
            },
            "unknown group 'board'",
            "observations.0.condition.count",
        ),
        (
            {"kind": "not_before", "agent": "m", "position": "no", "at": 3},
            "starts in 'no'",
            "observations.0.position",
        ),
        (
            {"kind": "not_before", "event": "nothing", "at": 3},
            "unknown event 'nothing'",
            "observations.0.event",
        ),
        (
            {"kind": "count", "group": "g", "position": "yes", "value": 3, "at": 3},
            "has 2 members",
            "observations.0.value",
        ),
        (
            {"kind": "fraction", "population": "g", "position": "yes", "between": [0, 1], "at": 3},
            None,
            None,
        ),
    ],
)
def test_observations_are_checked_against_the_scenario(tmp_path, item, message, field) -> None:
    import yaml

    path = tmp_path / "obs.yaml"
    path.write_text(yaml.safe_dump({"kind": "observations", "observations": [item]}))
    o, located = load_observations(path)
    sc = vote_at_50(SWITCH_AT_10)
    if message is None:
        check_against(o, located, sc)  # a group's share is a fraction too
        return
    with pytest.raises(InputError) as e:
        check_against(o, located, sc)
    text = str(e.value)
    assert message in text and field in text and "obs.yaml:" in text, text


def test_a_group_share_is_observable() -> None:
    sc = vote_at_50(SWITCH_AT_10)
    seen = {
        "kind": "fraction",
        "population": "g",
        "position": "yes",
        "between": [0.5, 0.5],
        "at": 20,
    }
    nc = nowcast(sc, obs(seen), at=20, particles=2048, seed=1)
    assert nc.probabilities["switched"] == pytest.approx(1.0)


def test_observations_round_trip_through_json() -> None:
    # calibrate sends observations to its workers as JSON
    o = obs(
        {
            "kind": "report",
            "condition": {"not": {"agent": "m", "position": "yes"}},
            "at": 1,
            "true_positive": 0.9,
            "false_positive": 0.1,
            "published": 3,
            "source": "X",
        },
        {"kind": "not_before", "agent": "m", "position": ["yes"], "at": 2},
    )
    again = ObservationsFile.model_validate(copy.deepcopy(o.model_dump(mode="json", by_alias=True)))
    assert again == o
