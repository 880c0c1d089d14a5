"""The World: the public view of a block, and the phase order its processes keep."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sim
from sim.engine import Block, Tracer
from sim.engine.processes import (
    CONDITIONS,
    DECISIONS,
    EVENTS,
    OUTCOMES,
    POPULATIONS,
    Clock,
    TickEnvironment,
)
from sim.plan import compile_plan


def _scenario() -> dict[str, Any]:
    return {
        "kind": "scenario",
        "name": "w",
        "clock": {"horizon": 20},
        "agents": {
            "a": {"kind": "individual", "positions": ["no", "yes"], "initial": "no"},
            "b": {
                "kind": "individual",
                "positions": ["no", "yes"],
                "initial": "no",
                "rules": [
                    {"kind": "hazard", "to": "yes", "pressure": "p", "resistance": 2, "rate": 0.1}
                ],
            },
            "crowd": {
                "kind": "population",
                "size": 10,
                "positions": ["out", "in"],
                "initial": "out",
                "rule": {"kind": "threshold", "to": "in", "support": "p", "threshold": 0.5},
            },
            "board": {"kind": "group", "members": ["a", "b"]},
        },
        "flags": {"alarm": False},
        "signals": {"p": [{"constant": 0.7}, {"flag": "alarm", "weight": 0.1}]},
        "events": {"bang": {"trigger": {"kind": "at", "time": 3}}},
        "outcomes": {"end": {"trigger": {"kind": "deadline", "at": 20}}},
    }


def _block(size: int = 4, tracer: Tracer | None = None) -> Block:
    plan = compile_plan(sim.scenario_from_dict(_scenario()))
    return Block(plan, np.random.default_rng(0), size, tracer=tracer)


def test_world_reads_the_state_as_of_the_last_tick() -> None:
    block = _block()
    w = block.world
    assert (w.now, w.tick, w.replicates, w.tick_hours) == (0.0, 0, 4, 1.0)
    for _ in range(3):
        block.step()
    assert (w.now, w.tick) == (3.0, 3)
    assert w.positions("a") == ["no", "yes"]
    np.testing.assert_array_equal(w.position("a"), [0, 0, 0, 0])
    np.testing.assert_array_equal(w.fraction("crowd", "in"), [1.0] * 4)  # 0.7 >= 0.5
    np.testing.assert_array_equal(w.fraction("board", "yes"), [0.0] * 4)
    np.testing.assert_allclose(w.signal("p"), 0.7)
    np.testing.assert_array_equal(w.flag("bang"), [True] * 4)  # the event at 3 h
    np.testing.assert_array_equal(w.flag("alarm"), [False] * 4)
    np.testing.assert_array_equal(w.param("b", "resistance"), [2.0] * 4)
    np.testing.assert_array_equal(w.active, [True] * 4)
    assert w.outcome_code("end") == 0


def test_world_writes_take_a_replicate_mask() -> None:
    tracer = Tracer(1, lambda t: f"{t:g} h")
    block = _block(tracer=tracer)
    w = block.world
    block.step()
    rows = np.array([False, True, True, False])
    w.force("a", "yes", where=rows)
    w.set_flag("alarm", where=rows)
    w.offset("b", 0.5, where=rows)
    w.change("b", "rate", scale=2.0)
    w.trace("mediator calls", where=rows)
    np.testing.assert_array_equal(w.is_in("a", "yes"), rows)
    np.testing.assert_allclose(w.signal("p"), np.where(rows, 0.8, 0.7))  # no stale cache
    np.testing.assert_allclose(w.param("b", "offset"), np.where(rows, 0.5, 0.0))
    np.testing.assert_allclose(w.param("b", "rate"), 0.2)
    np.testing.assert_array_equal(w.fraction("board", "yes"), np.where(rows, 0.5, 0.0))
    assert tracer.lines[-1] == "1 h  mediator calls"
    assert "1 h  a: no -> yes (forced)" in tracer.lines
    out = block.run()
    np.testing.assert_array_equal(out.switch_time[:, 0], np.where(rows, 1.0, np.nan))


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda w: w.force("zed", "yes"), "unknown individual 'zed' (known: a, b)"),
        (lambda w: w.force("a", "maybe"), "'a' has no position 'maybe' (known: no, yes)"),
        (lambda w: w.flag("nope"), "unknown flag or event 'nope' (known: alarm, bang)"),
        (lambda w: w.fraction("x", "in"), "unknown population or group 'x'"),
        (lambda w: w.change("b", "rate"), "exactly one of set, add, scale"),
        (lambda w: w.offset("a", 1.0), "'a' has no rule with a per-replicate 'offset'"),
        (lambda w: w.set_flag("alarm", where=[True]), "one bool per replicate (4)"),
        (lambda w: w.random(), "no stream for processes"),
    ],
)
def test_world_errors_name_what_is_known(call: Any, message: str) -> None:
    with pytest.raises(
        (ValueError, RuntimeError), match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        call(_block().world)


def test_state_registered_in_the_world_is_resampled_with_the_block() -> None:
    block = _block(size=3)
    s = block.world.state("offers", 0)
    s += np.array([1, 2, 3])
    block.take(np.array([2, 2, 0]))
    np.testing.assert_array_equal(block.world.state("offers"), [3, 3, 1])


def test_phases_run_in_priority_order_whatever_the_scheduling_order() -> None:
    env = TickEnvironment()
    clock = Clock(env, 0.1, 10)
    seen: list[tuple[int, int, int]] = []

    def waiter(k: int, phase: int, pos: int) -> Any:
        yield clock.at(k, phase, pos)
        seen.append((k, phase, pos))

    wanted = [(k, p, i) for k in (3, 7) for p in (EVENTS, POPULATIONS, DECISIONS) for i in (0, 1)]
    wanted += [(7, OUTCOMES, 5), (7, CONDITIONS, 0)]
    for args in reversed(wanted):
        env.process(waiter(*args))
    env.run()
    assert seen == sorted(wanted)
    assert env.now == 7 * 0.1  # the exact tick time, not a sum of delays
