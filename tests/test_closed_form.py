"""Engine results against closed forms and limit cases, one rule kind at a time.

Tolerances: 99.9% normal intervals of the estimated proportion (z = 3.29),
with fixed seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import board_scenario, poisson_binomial_tail, z_tolerance

import sim
from sim.engine import simulate_block
from sim.plan import compile_plan
from sim.rules import friedkin_johnsen_equilibrium


def p_of(result: sim.RunResult, outcome: str) -> float:
    return result.summary()["outcomes"][outcome]["p"]


@pytest.mark.parametrize("tick", [1.0, 2.0])
def test_constant_hazards_k_of_n_vote_is_poisson_binomial_tail(tick: float) -> None:
    res, rate, k, T = [0.2, 0.5, 0.6, 0.8], 0.04, 3, 20
    sc = sim.scenario_from_dict(board_scenario(res, rate, {"at_least": k}, T, tick=tick))
    n = 20_000
    out = sim.run(sc, replicates=n, seed=11)
    ps = [1 - (1 - rate * (1 - r)) ** T for r in res]
    exact = poisson_binomial_tail(ps, k)
    assert abs(p_of(out, "passed") - exact) < z_tolerance(exact, n)
    assert p_of(out, "passed") + p_of(out, "deadline") == pytest.approx(1.0)


def test_member_switch_probability_is_geometric() -> None:
    res, rate, T = [0.5], 0.02, 30
    sc = sim.scenario_from_dict(board_scenario(res, rate, {"at_least": 1}, T))
    n = 20_000
    out = sim.run(sc, replicates=n, seed=5)
    exact = 1 - (1 - rate * 0.5) ** T
    assert abs(out.summary()["agents"]["m0"]["p_switch"] - exact) < z_tolerance(exact, n)
    # first switch times are geometric: mean of those before T from the truncated law
    p = rate * 0.5
    t = np.arange(1, T + 1)
    pmf = (1 - p) ** (t - 1) * p
    mean_exact = float((t * pmf).sum() / pmf.sum())
    times = out.switch_time[:, 0]
    times = times[np.isfinite(times)]
    assert abs(times.mean() - mean_exact) < 3.29 * times.std() / np.sqrt(times.size)


def test_resistance_above_reachable_pressure_never_returns() -> None:
    sc = sim.scenario_from_dict(board_scenario([1.01, 1.2], 5.0, {"at_least": 1}, 50))
    out = sim.run(sc, replicates=600, seed=1)
    assert p_of(out, "passed") == 0.0
    assert p_of(out, "deadline") == 1.0


def test_deadline_at_zero_always_gives_the_deadline_at_the_first_tick() -> None:
    sc = sim.scenario_from_dict(board_scenario([0.0], 1.0, {"at_least": 1}, 0, pressure=0.0))
    out = sim.run(sc, replicates=300, seed=1)
    assert p_of(out, "deadline") == 1.0
    assert np.all(out.time == 1.0)


def test_fixed_threshold_population_cascade_is_exact() -> None:
    data = {
        "kind": "scenario",
        "name": "cascade",
        "clock": {"horizon": 10},
        "agents": {
            "crowd": {
                "kind": "population",
                "size": 6,
                "positions": ["out", "in"],
                "initial": "out",
                "rule": {
                    "kind": "threshold",
                    "to": "in",
                    "support": "share",
                    "threshold": [0.0, 0.1, 0.1, 0.3, 0.5, 0.9],
                },
            }
        },
        "signals": {"share": [{"fraction": "crowd", "position": "in"}]},
        "outcomes": {
            "most": {
                "trigger": {"kind": "condition", "condition": {"signal": "share", "at_least": 0.8}}
            }
        },
    }
    out = sim.run(sim.scenario_from_dict(data), replicates=50, seed=0)
    # t1: thresholds <= 0 -> 1 in; t2: <= 1/6 -> 3; t3: <= 1/2 -> 5 (5/6 >= 0.8); then stuck
    assert np.all(out.time == 3.0)
    assert np.all(out.half_time[:, 0] == 2.0)
    assert np.allclose(out.final_fraction[:, 0], 5 / 6)


def test_friedkin_johnsen_converges_to_closed_form() -> None:
    w = {
        "a": {"a": 0.5, "b": 0.3, "c": 0.2},
        "b": {"a": 0.2, "b": 0.6, "c": 0.2},
        "c": {"a": 0.1, "b": 0.1, "c": 0.8},
    }
    s = {"a": 0.3, "b": 0.1, "c": 0.5}
    x0 = {"a": 0.9, "b": 0.2, "c": 0.4}
    agents = {
        k: {
            "kind": "individual",
            "positions": ["low", "high"],
            "initial": "low",
            "rules": [
                {
                    "kind": "averaging",
                    "to": "high",
                    "opinion": x0[k],
                    "stubbornness": s[k],
                    "weights": w[k],
                }
            ],
        }
        for k in "abc"
    }
    data = {
        "kind": "scenario",
        "name": "fj",
        "clock": {"horizon": 400},
        "agents": agents,
        "outcomes": {"end": {"trigger": {"kind": "deadline", "at": 400}}},
    }
    block = simulate_block(compile_plan(sim.scenario_from_dict(data)), np.random.default_rng(0), 4)
    W = np.array([[w[i][j] for j in "abc"] for i in "abc"])
    expect = friedkin_johnsen_equilibrium(
        W, np.array([s[k] for k in "abc"]), np.array([x0[k] for k in "abc"])
    )
    opinions = [block.world.opinion(k)[0] for k in "abc"]
    np.testing.assert_allclose(opinions, expect, atol=1e-9)
    np.testing.assert_array_equal(block.output().final_pos[0], (expect >= 0.5).astype(int))


def _vote_data(quorum: dict, veto: list[str], yes: list[str], resigned: list[str]) -> dict:
    members = ["chair", "b", "c", "d", "e", "f"]
    agents = {}
    for m in members:
        rules = []
        if m in yes:
            rules.append({"kind": "scheduled", "to": "yes", "at": 1})
        if m in resigned:
            rules.append({"kind": "scheduled", "to": "resigned", "at": 1})
        agents[m] = {
            "kind": "individual",
            "positions": ["no", "yes", "resigned"],
            "initial": "no",
            "rules": rules,
        }
    agents["board"] = {"kind": "group", "members": members}
    return {
        "kind": "scenario",
        "name": "vote",
        "clock": {"horizon": 3},
        "agents": agents,
        "decisions": {
            "v": {
                "group": "board",
                "motion": "yes",
                "schedule": {"start": 2, "every": 1},
                "quorum": quorum,
                "veto": veto,
                "absent": ["resigned"],
            }
        },
        "outcomes": {"passed": {"trigger": {"kind": "decision", "decision": "v"}}},
    }


@pytest.mark.parametrize(
    ("quorum", "veto", "yes", "resigned", "passes"),
    [
        ({"fraction": "2/3"}, [], ["b", "c", "d", "e"], [], True),  # 4 of 6 = 2/3 exactly
        ({"fraction": "2/3"}, [], ["b", "c", "d"], [], False),  # 3 of 6 < 2/3
        ({"fraction": "2/3"}, [], ["b", "c"], ["d", "e", "f"], True),  # 2 of 3 present
        ({"fraction": "2/3"}, ["chair"], ["b", "c", "d", "e"], [], False),  # chair vetoes
        ({"fraction": "2/3"}, ["chair"], ["b", "c", "d", "e"], ["chair"], True),  # absent: no veto
        ({"fraction": "2/3"}, [], ["b", "c", "d"], ["chair"], False),  # 3 of 5: 9 < 10
        ({"unanimous": True}, [], ["b", "c", "d", "e", "f"], ["chair"], True),
        ({"unanimous": True}, [], ["b", "c", "d", "e"], ["chair"], False),
        ({"at_least": 4}, [], ["b", "c", "d", "e"], ["f"], True),
    ],
)
def test_quorum_fraction_veto_and_absence(quorum, veto, yes, resigned, passes) -> None:
    out = sim.run(
        sim.scenario_from_dict(_vote_data(quorum, veto, yes, resigned)), replicates=5, seed=0
    )
    assert (p_of(out, "passed") == 1.0) is passes
    if passes:
        assert np.all(out.time == 2.0)


def test_scheduled_uniform_time_takes_effect_at_ceiling() -> None:
    data = board_scenario([0.0], 0.0, {"at_least": 1}, 100)
    data["agents"]["m0"]["rules"] = [
        {"kind": "scheduled", "to": "yes", "at": {"uniform": [10, 14]}}
    ]
    n = 8000
    out = sim.run(sim.scenario_from_dict(data), replicates=n, seed=3)
    t = out.time
    # ceil of U(10, 14): 11, 12, 13, 14 each with probability 1/4
    for v in (11.0, 12.0, 13.0, 14.0):
        assert abs((t == v).mean() - 0.25) < z_tolerance(0.25, n)


def test_population_hazard_counts_and_dense_paths_match_closed_form() -> None:
    T, rate = 10, 0.1
    base = {
        "kind": "scenario",
        "name": "pop",
        "clock": {"horizon": T},
        "agents": {
            "crowd": {
                "kind": "population",
                "size": 200,
                "positions": ["out", "in"],
                "initial": "out",
                "rule": {
                    "kind": "hazard",
                    "to": "in",
                    "pressure": "p",
                    "resistance": 0.5,
                    "rate": rate,
                },
            }
        },
        "signals": {"p": [{"constant": 1.0}]},
        "outcomes": {"end": {"trigger": {"kind": "deadline", "at": T}}},
    }
    n = 2000
    counts = sim.run(sim.scenario_from_dict(base), replicates=n, seed=1)
    exact = 1 - (1 - rate * 0.5) ** T
    f = counts.final_fraction[:, 0]
    assert abs(f.mean() - exact) < 3.29 * f.std() / np.sqrt(n)
    base["agents"]["crowd"]["rule"]["resistance"] = {"choice": [0.0, 0.8]}
    dense = sim.run(sim.scenario_from_dict(base), replicates=n, seed=1)
    exact = 0.5 * (1 - (1 - rate) ** T) + 0.5 * (1 - (1 - rate * 0.2) ** T)
    f = dense.final_fraction[:, 0]
    assert abs(f.mean() - exact) < 3.29 * f.std() / np.sqrt(n)


def test_reversible_threshold_individual_switches_back() -> None:
    data = board_scenario([0.0], 0.0, {"at_least": 1}, 12, pressure=0.0)
    data["agents"]["m0"]["rules"] = [
        {"kind": "threshold", "to": "yes", "support": "wave", "threshold": 0.5, "reversible": True}
    ]
    data["agents"]["src"] = {
        "kind": "source",
        "curve": {"kind": "piecewise", "points": [[0, 0], [4, 1], [8, 0]]},
    }
    data["signals"]["wave"] = [{"curve": "src"}]
    data["decisions"]["vote"]["schedule"] = {"start": 11, "every": 1}
    block = simulate_block(compile_plan(sim.scenario_from_dict(data)), np.random.default_rng(0), 2)
    out = block.output()
    # wave: t=2 -> 0.5 (reached), t=6 -> 0.5 (still), t=7 -> 0.25 (back)
    assert out.switch_time[0, 0] == 2.0
    assert out.final_pos[0, 0] == 0


def _pulse_scenario(kind: str, reversible: bool, population: bool) -> dict:
    """Pressure 1 up to t = 10, then 0; resistance 0.5; observe the state at t = 30."""
    rule = {
        "kind": kind,
        "to": "yes",
        "pressure": "p",
        "resistance": 0.5,
        "rate": 0.1,
        "reversible": reversible,
    }
    if kind == "logistic":
        rule["slope"] = 4.0
    if population:
        agent = {
            "kind": "population",
            "size": 50,
            "positions": ["no", "yes"],
            "initial": "no",
            "rule": rule,
        }
    else:
        agent = {"kind": "individual", "positions": ["no", "yes"], "initial": "no", "rules": [rule]}
    return {
        "kind": "scenario",
        "name": "pulse",
        "clock": {"horizon": 30},
        "agents": {
            "x": agent,
            "src": {
                "kind": "source",
                "curve": {"kind": "step", "at": 10.5, "before": 1.0, "after": 0.0},
            },
        },
        "signals": {"p": [{"curve": "src"}]},
        "outcomes": {"end": {"trigger": {"kind": "deadline", "at": 30}}},
    }


@pytest.mark.parametrize("population", [False, True])
def test_reversible_hazard_switches_back_after_the_pressure_drops(population: bool) -> None:
    n = 6000 if not population else 1500
    out = sim.run(
        sim.scenario_from_dict(_pulse_scenario("hazard", True, population)), replicates=n, seed=4
    )
    p, q = 0.1 * 0.5, 0.1 * 0.5  # forward while pressure 1, back while pressure 0
    exact = (1 - (1 - p) ** 10) * (1 - q) ** 20
    if population:
        got = out.final_fraction[:, 0]
        assert abs(got.mean() - exact) < 3.29 * got.std() / np.sqrt(n)
    else:
        got = (out.final_pos[:, 0] == 1).astype(float)
        assert abs(got.mean() - exact) < z_tolerance(exact, n)
        # irreversible: the same switches, none undone
        once = sim.run(
            sim.scenario_from_dict(_pulse_scenario("hazard", False, population)),
            replicates=n,
            seed=4,
        )
        assert abs((once.final_pos[:, 0] == 1).mean() - (1 - (1 - p) ** 10)) < z_tolerance(0.4, n)


def test_reversible_logistic_is_a_two_state_markov_chain() -> None:
    n = 8000
    out = sim.run(
        sim.scenario_from_dict(_pulse_scenario("logistic", True, False)), replicates=n, seed=6
    )
    x = 4.0 * 0.5
    on = (0.1 / (1 + np.exp(-x)), 0.1 / (1 + np.exp(x)))  # forward, back while pressure is 1
    off = (0.1 / (1 + np.exp(x)), 0.1 / (1 + np.exp(-x)))  # forward, back while pressure is 0
    prob = 0.0
    for t in range(1, 31):
        f, b = on if t <= 10 else off
        prob = prob * (1 - b) + (1 - prob) * f
    got = (out.final_pos[:, 0] == 1).mean()
    assert abs(got - prob) < z_tolerance(prob, n)


def test_decision_on_event_and_event_outcome() -> None:
    data = board_scenario([0.0, 0.0], 1.0, {"at_least": 2}, 100)
    data["decisions"]["vote"] = {
        "group": "board",
        "motion": "yes",
        "on": "meeting",
        "quorum": {"at_least": 2},
    }
    data["events"] = {
        "meeting": {"trigger": {"kind": "at", "time": 7.5}},
        "walkout": {"trigger": {"kind": "at", "time": 40}},
    }
    out = sim.run(sim.scenario_from_dict(data), replicates=20, seed=0)
    # both members switch at t = 1 (p = 1); the only vote is at the meeting, tick 8
    assert np.all(out.time == 8.0) and out.outcome_labels() == ["passed"] * 20
    data["decisions"]["vote"]["quorum"] = {"at_least": 2}
    data["agents"]["m1"]["rules"] = []
    data["outcomes"] = {
        "passed": {"trigger": {"kind": "decision", "decision": "vote"}},
        "walked": {"trigger": {"kind": "event", "event": "walkout"}},
    }
    out = sim.run(sim.scenario_from_dict(data), replicates=20, seed=0)
    assert np.all(out.time == 40.0) and out.outcome_labels() == ["walked"] * 20


def test_condition_event_takes_effect_from_the_next_tick() -> None:
    data = board_scenario([0.0], 1.0, {"at_least": 1}, 100, pressure=0.0)
    data["flags"] = {"go": False}
    data["signals"]["p"] = [{"flag": "go"}]
    data["agents"]["clock_src"] = {
        "kind": "source",
        "curve": {"kind": "ramp", "start": 0, "end": 10},
    }
    data["signals"]["time"] = [{"curve": "clock_src"}]
    data["events"] = {
        "alarm": {
            "trigger": {"kind": "when", "condition": {"signal": "time", "at_least": 0.5}},
            "effects": [{"kind": "set_flag", "flag": "go"}],
        }
    }
    out = sim.run(sim.scenario_from_dict(data), replicates=10, seed=0)
    # time reaches 0.5 at t = 5; the flag is set from t = 6, where the member (p = 1)
    # switches and the vote passes
    assert np.all(out.time == 6.0)
