"""Events that change a population's per-person thresholds or resistances.

Semantics (one per ``change``, applied to every person of the population in
the replicates where the event happens): ``add`` shifts each person's value by
the amount, ``scale`` multiplies each person's value by it, ``set`` gives every
person the same value. The counts are checked exactly where the thresholds are
given as a list, and against closed forms where resistances are drawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import z_tolerance

import sim
from sim.engine import simulate_block
from sim.engine.populations import make_population
from sim.engine.streams import Streams
from sim.errors import InputError
from sim.plan import compile_plan

THRESHOLDS = [0.05 + 0.1 * i for i in range(10)]  # 0.05, 0.15, ..., 0.95


def _threshold_crowd(
    effects: list[tuple[float, dict[str, Any]]],
    support: list[list[float]],
    reversible: bool,
    horizon: int = 12,
) -> dict[str, Any]:
    """Ten people with thresholds THRESHOLDS; support from a piecewise curve; timed changes."""
    return {
        "kind": "scenario",
        "name": "crowd",
        "clock": {"horizon": horizon},
        "agents": {
            "crowd": {
                "kind": "population",
                "size": 10,
                "positions": ["out", "in"],
                "initial": "out",
                "rule": {
                    "kind": "threshold",
                    "to": "in",
                    "support": "s",
                    "threshold": THRESHOLDS,
                    "reversible": reversible,
                },
            },
            "src": {"kind": "source", "curve": {"kind": "piecewise", "points": support}},
        },
        "signals": {"s": [{"curve": "src"}]},
        "events": {
            f"e{i}": {
                "trigger": {"kind": "at", "time": t},
                "effects": [{"kind": "change", "agent": "crowd", "param": "threshold", **how}],
            }
            for i, (t, how) in enumerate(effects)
        },
        "outcomes": {"end": {"trigger": {"kind": "deadline", "at": horizon}}},
    }


def _counts(data: dict[str, Any], n: int = 3) -> np.ndarray:
    """Number in ``in`` at each tick (rows: ticks), same in every replicate."""
    block = simulate_block(
        compile_plan(sim.scenario_from_dict(data)), np.random.default_rng(0), n, record=True
    )
    rec = block.state.recording
    assert rec is not None
    col = rec.columns.index("crowd.in")
    values = np.array([v[:, col] for v in rec.values]) * 10
    assert np.all(values == values[:, :1])  # deterministic: every replicate alike
    return np.rint(values[:, 0]).astype(int)


FLAT = [[0, 0.5], [100, 0.5]]


@pytest.mark.parametrize("reversible", [False, True])
def test_add_shifts_every_threshold(reversible: bool) -> None:
    # support 0.5: 5 reached (<= 0.45); at t=4 thresholds -0.2: those <= 0.7 -> 7
    # at t=8 +0.4 (net +0.2): those <= 0.3 -> 3, or 7 kept when irreversible
    data = _threshold_crowd([(4, {"add": -0.2}), (8, {"add": 0.4})], FLAT, reversible)
    counts = _counts(data)
    assert counts[:3].tolist() == [5, 5, 5]
    assert counts[3:7].tolist() == [7] * 4
    assert counts[7:].tolist() == ([3] * 5 if reversible else [7] * 5)


@pytest.mark.parametrize("reversible", [False, True])
def test_scale_and_set_every_threshold(reversible: bool) -> None:
    # scale 2 at t=3: 2 * th <= 0.5 -> th <= 0.25 -> 3 (irreversible keeps 5);
    # set 0.6 at t=6: nobody (0.5 < 0.6), irreversible keeps 5; set 0.5 at t=9: all 10
    effects = [(3, {"scale": 2.0}), (6, {"set": 0.6}), (9, {"set": 0.5})]
    counts = _counts(_threshold_crowd(effects, FLAT, reversible))
    assert counts[:2].tolist() == [5, 5]
    assert counts[2:5].tolist() == ([3] * 3 if reversible else [5] * 3)
    assert counts[5:8].tolist() == ([0] * 3 if reversible else [5] * 3)
    assert counts[8:].tolist() == [10] * 4


def test_scale_after_set_and_add_after_set() -> None:
    # after a set every person holds the same value, and later changes move it for all
    effects = [(2, {"set": 0.6}), (5, {"scale": 0.5}), (8, {"add": 0.2})]
    counts = _counts(_threshold_crowd(effects, FLAT, reversible=True))
    # t1: 5; t2-4: all at 0.6, none; t5-7: all at 0.3, all; t8-: all at 0.5, all
    assert counts[0] == 5
    assert counts[1:4].tolist() == [0, 0, 0]
    assert counts[4:7].tolist() == [10, 10, 10]
    assert counts[7:].tolist() == [10] * 5  # 0.3 + 0.2 = 0.5 reaches 0.5 (tolerance 1e-9)


def test_lowered_thresholds_are_compared_with_the_support_from_then_on() -> None:
    # support 0.8 for two ticks (8 reached), then 0.3; at t=5 thresholds -0.1:
    # a person switches when the support now reaches the new threshold, so
    # th - 0.1 <= 0.3 (th <= 0.4, 4 people) adds nobody: the 0.85 stays out
    # although the earlier 0.8 would have reached it
    support = [[0, 0.8], [2, 0.8], [2.5, 0.3], [100, 0.3]]
    counts = _counts(_threshold_crowd([(5, {"add": -0.1})], support, reversible=False))
    assert counts.tolist() == [8] * 12
    # while lowering them past the past support's reach adds them as soon as it is reached now
    counts = _counts(_threshold_crowd([(5, {"add": -0.6})], support, reversible=False))
    assert counts.tolist() == [8] * 4 + [9] * 8


def _dense_crowd(effect: dict[str, Any], horizon: int, size: int = 100) -> dict[str, Any]:
    return {
        "kind": "scenario",
        "name": "dense",
        "clock": {"horizon": horizon},
        "agents": {
            "crowd": {
                "kind": "population",
                "size": size,
                "positions": ["out", "in"],
                "initial": "out",
                "rule": {
                    "kind": "hazard",
                    "to": "in",
                    "pressure": "p",
                    "resistance": {"uniform": [0.2, 0.4]},
                    "rate": 0.1,
                },
            }
        },
        "signals": {"p": [{"constant": 1.0}]},
        "events": {
            "change": {
                "trigger": {"kind": "at", "time": 0},
                "effects": [{"kind": "change", "agent": "crowd", "param": "resistance", **effect}],
            }
        },
        "outcomes": {"end": {"trigger": {"kind": "deadline", "at": horizon}}},
    }


def _switched_by(ps_of_r: Any, T: int) -> float:
    """E over r ~ U(0.2, 0.4) of 1 - (1 - p(r))^T (midpoint rule, error ~1e-10)."""
    r = 0.2 + 0.2 * (np.arange(100_000) + 0.5) / 100_000
    return float(np.mean(1 - (1 - ps_of_r(r)) ** T))


@pytest.mark.parametrize(
    ("effect", "per_hour"),
    [
        ({"add": 0.5}, lambda r: 0.1 * (1 - (r + 0.5))),  # each shifted by +0.5
        ({"scale": 2.0}, lambda r: 0.1 * (1 - 2 * r)),  # each doubled
        ({"set": 0.9}, lambda r: 0.1 * (1 - 0.9) + 0 * r),  # all at 0.9
        ({"set": 1.5}, lambda r: 0 * r),  # out of reach: nobody moves
    ],
    ids=["add", "scale", "set", "set-out-of-reach"],
)
def test_dense_resistances_change_per_person(effect: dict[str, Any], per_hour: Any) -> None:
    T, n, size = 8, 400, 100
    out = sim.run(sim.scenario_from_dict(_dense_crowd(effect, T, size)), replicates=n, seed=4)
    exact = _switched_by(per_hour, T)
    got = float(out.final_fraction[:, 0].mean())
    # people are independent Bernoulli(exact) (their resistances drawn independently)
    assert abs(got - exact) < z_tolerance(exact, n * size)


def test_negative_scale_of_threshold_population_is_a_located_error() -> None:
    data = _threshold_crowd([(4, {"scale": -1.0})], FLAT, reversible=False)
    with pytest.raises(InputError) as err:
        sim.scenario_from_dict(data)
    text = str(err.value)
    assert "events.e0.effects.0.scale" in text and "order" in text


def test_changed_thresholds_follow_their_rows_when_a_block_is_resampled() -> None:
    data = _threshold_crowd([], FLAT, reversible=True)
    plan = compile_plan(sim.scenario_from_dict(data))
    pop = make_population(
        plan.populations[0],
        3,
        1.0,
        [np.tile(THRESHOLDS, (3, 1))],
        Streams([np.random.default_rng(0)]),
    )
    pop.change_person("add", -0.2, np.array([True, False, False]))
    pop.change_person("scale", 0.0, np.array([False, False, True]))
    assert pop.moved(None, np.full(3, 0.5), None, None).tolist() == [7, 5, 10]  # type: ignore[arg-type]
    pop.take(np.array([2, 2, 0, 1]))
    assert pop.moved(None, np.full(4, 0.5), None, None).tolist() == [10, 10, 7, 5]  # type: ignore[arg-type]


def test_the_trace_tells_the_change() -> None:
    data = _threshold_crowd([(4, {"add": -0.2})], FLAT, reversible=True)
    lines, _ = sim.trace_replicate(sim.scenario_from_dict(data), seed=1, replicate=0)
    assert any(line.endswith("crowd.rule.threshold: -0.2 each") for line in lines), lines
    assert any("crowd: 5 -> 7 of 10 in" in line for line in lines), lines
