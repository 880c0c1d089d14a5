"""Defects of issue 11: a scheduled rule with a later ``from``, a force on an
averaging (or reversible) individual, and the first firing of a ``start: 0`` schedule.

Each case is checked replicate by replicate against the tick the documented
semantics give (README, "Stance rules", "Events", "Order within a tick").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sim
from sim.engine import Block
from sim.plan import compile_plan, tick_range


def _three_step(order: str, at_first: Any, at_second: float, horizon: float = 60) -> dict[str, Any]:
    """x -> y at ``at_first``, y -> z at ``at_second``; ``order`` lists the rule ids."""
    rules = {
        "first": {"id": "first", "kind": "scheduled", "to": "y", "at": at_first},
        "second": {"id": "second", "kind": "scheduled", "from": "y", "to": "z", "at": at_second},
    }
    return {
        "kind": "scenario",
        "name": "scheduled",
        "clock": {"horizon": horizon},
        "agents": {
            "a": {
                "kind": "individual",
                "positions": ["x", "y", "z"],
                "initial": "x",
                "rules": [rules[r] for r in order.split()],
            },
        },
        "outcomes": {
            "at_z": {
                "trigger": {"kind": "condition", "condition": {"agent": "a", "position": "z"}}
            },
        },
    }


@pytest.mark.parametrize(("order", "late"), [("second first", 1), ("first second", 0)])
def test_a_scheduled_rule_whose_from_comes_later_switches_once_it_is_there(
    order: str, late: int
) -> None:
    """z at max(due, arrival in y); a rule listed before the arrival's waits one tick.

    Scheduled switches run in file order in phase 1, so when "second" is tried
    before "first" moves the agent into y, it sees y at the next tick only.
    """
    ticks = np.arange(1, 41)  # the arrival in y: 1 .. 40
    data = _three_step(order, {"choice": ticks.tolist()}, 15)
    out = sim.run(sim.scenario_from_dict(data), replicates=2000, seed=7)
    arrival = out.switch_time[:, 0]  # first switch: x -> y
    assert set(arrival) == set(ticks.astype(float))  # every case is covered
    np.testing.assert_array_equal(out.time, np.maximum(15, arrival + late))


def test_a_scheduled_rule_whose_from_never_comes_never_switches() -> None:
    data = _three_step("second first", "never", 15)
    out = sim.run(sim.scenario_from_dict(data), replicates=10, seed=1)
    assert out.summary()["outcomes"]["unresolved"]["p"] == 1.0
    assert np.all(np.isnan(out.switch_time))


def test_a_scheduled_rule_switches_once() -> None:
    """After switching, a reversible rule may bring the agent back: the schedule does not repeat."""
    data = _three_step("first", 5, 0, horizon=20)
    data["agents"]["a"]["rules"].append(
        {
            "kind": "threshold",
            "from": "x",
            "to": "y",
            "support": "s",
            "threshold": 1,
            "reversible": True,
        }
    )
    data["signals"] = {"s": [{"constant": 0.0}]}
    data["outcomes"] = {"end": {"trigger": {"kind": "deadline", "at": 20}}}
    out = sim.run(sim.scenario_from_dict(data), replicates=4, seed=1)
    # x -> y at 5 (scheduled), back to x at 5 (the threshold rule, support 0 < 1), for good
    assert np.all(out.switch_time[:, 0] == 5)
    assert np.all(out.final_pos[:, 0] == 0)


def _averaging(force_at: float) -> dict[str, Any]:
    return {
        "kind": "scenario",
        "name": "force",
        "clock": {"horizon": 30},
        "agents": {
            "chair": {
                "kind": "individual",
                "positions": ["against", "approve"],
                "initial": "against",
                "rules": [
                    {
                        "id": "listens",
                        "kind": "averaging",
                        "to": "approve",
                        "opinion": 0.2,
                        "stubbornness": 0.5,
                        "weights": {"low": 1.0},
                    }
                ],
            },
        },
        "signals": {"low": [{"constant": 0.1}]},
        "events": {
            "pressed": {
                "trigger": {"kind": "at", "time": force_at},
                "effects": [{"kind": "force", "agent": "chair", "position": "approve"}],
            }
        },
        "outcomes": {"end": {"trigger": {"kind": "deadline", "at": 30}}},
    }


def test_a_force_on_an_averaging_individual_holds() -> None:
    """Its opinion stays below the cut-off (0.2 -> 0.15 -> ...), yet the force holds."""
    plan = compile_plan(sim.scenario_from_dict(_averaging(10)))
    block = Block(plan, np.random.default_rng(0), 3)
    for k in range(1, 12):
        block.step()
        approve = block.state.pos[:, 0] == 1
        assert np.all(approve == (k >= 10)), k
    assert np.all(block.state.opinion[:, 0] < 0.5)
    out = sim.run(sim.scenario_from_dict(_averaging(10)), replicates=3, seed=1)
    assert np.all(out.switch_time[:, 0] == 10)
    assert np.all(out.final_pos[:, 0] == 1)


def test_a_force_against_a_reversible_rule_holds() -> None:
    data = _three_step("first", "never", 0)
    data["agents"]["a"]["rules"] = [
        {"kind": "threshold", "to": "y", "support": "s", "threshold": 1, "reversible": True}
    ]
    data["signals"] = {"s": [{"constant": 0.0}]}
    data["events"] = {
        "push": {
            "trigger": {"kind": "at", "time": 4},
            "effects": [{"kind": "force", "agent": "a", "position": "y"}],
        }
    }
    data["outcomes"] = {"end": {"trigger": {"kind": "deadline", "at": 20}}}
    out = sim.run(sim.scenario_from_dict(data), replicates=3, seed=1)
    assert np.all(out.final_pos[:, 0] == 1)
    assert np.all(out.switch_time[:, 0] == 4)


# ------------------------------------------------------- a schedule's first tick
def test_a_schedule_from_zero_first_fires_at_the_first_tick() -> None:
    """Time 0 is the start, before any tick: it takes effect at t = tick, later times stay put."""
    assert tick_range(0, 6, None, 1.0, 24) == {1, 6, 12, 18, 24}
    assert tick_range(0, 6, None, 2.0, 12) == {1, 3, 6, 9, 12}  # hours 2, 6, 12, 18, 24
    assert tick_range(6, 6, None, 1.0, 24) == {6, 12, 18, 24}


def test_an_every_event_and_a_vote_from_zero_happen_at_the_first_tick() -> None:
    data: dict[str, Any] = {
        "kind": "scenario",
        "name": "zero",
        "clock": {"horizon": 12},
        "agents": {
            "a": {"kind": "individual", "positions": ["no", "yes"], "initial": "yes"},
            "board": {"kind": "group", "members": ["a"]},
        },
        "signals": {"rounds": [{"flag": "round"}]},
        "events": {"round": {"trigger": {"kind": "every", "start": 0, "every": 6}}},
        "decisions": {
            "vote": {
                "group": "board",
                "motion": "yes",
                "schedule": {"start": 0, "every": 6},
                "quorum": {"at_least": 1},
            }
        },
        "outcomes": {"passed": {"trigger": {"kind": "decision", "decision": "vote"}}},
    }
    out = sim.run(sim.scenario_from_dict(data), replicates=2, seed=1)
    assert np.all(out.time == 1.0)
    data["outcomes"] = {"round": {"trigger": {"kind": "event", "event": "round"}}}
    del data["decisions"]
    out = sim.run(sim.scenario_from_dict(data), replicates=2, seed=1)
    assert np.all(out.time == 1.0)
