"""Effects whose size is drawn from a distribution, once per replicate (issue 15, item 3)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.distributions import Uniform
from sim.engine import BlockState
from sim.plan import compile_plan
from sim.runner import simulate_block

N = 100_000
Z = 5.0  # a correct rule fails a 5-sigma band about once in two million runs


def _hazard(resistance: Any = 0.5, rate: float = 1.0) -> dict[str, Any]:
    return {
        "kind": "individual",
        "positions": ["no", "yes"],
        "initial": "no",
        "rules": [
            {
                "kind": "hazard",
                "id": "sign",
                "to": "yes",
                "pressure": "one",
                "resistance": resistance,
                "rate": rate,
            }
        ],
    }


def _data(effects: list[dict[str, Any]], horizon: int = 1, **trigger: Any) -> dict[str, Any]:
    """One hazard individual under pressure 1; the event fires at the first tick."""
    return {
        "kind": "scenario",
        "name": "sizes",
        "clock": {"horizon": horizon},
        "agents": {"a": _hazard()},
        "signals": {"one": [{"constant": 1.0}]},
        "events": {"e": {"trigger": trigger or {"kind": "at", "time": 1}, "effects": effects}},
        "outcomes": {"end": {"trigger": {"kind": "deadline", "at": horizon}}},
    }


def _switched(data: dict[str, Any], seed: int = 3) -> float:
    plan = compile_plan(sim.scenario_from_dict(data))
    out = simulate_block(plan, np.random.default_rng(seed), N).output()
    return float(np.mean(out.final_pos[:, 0] == 1))


def _band(p: float) -> float:
    return Z * math.sqrt(p * (1 - p) / N)


def test_a_random_add_to_resistance_averages_the_switch_probability() -> None:
    """p = max(0, 1 - (0.5 + D)), D ~ U(-0.2, 0.8): E p = (1/1) * int_{-0.2}^{0.5} (0.5 - d) dd.

    The closed form, 0.245, is not the probability at the mean size (0.2).
    """
    add = {"kind": "change", "agent": "a", "param": "resistance", "add": {"uniform": [-0.2, 0.8]}}
    exact = 0.7**2 / 2
    assert abs(_switched(_data([add])) - exact) < _band(exact)


def test_a_random_offset_is_drawn_like_a_change() -> None:
    """An ``offset`` adds D to the pressure: the same closed form with -D."""
    offset = {"kind": "offset", "agent": "a", "add": {"uniform": [-0.8, 0.2]}}
    exact = 0.7**2 / 2
    assert abs(_switched(_data([offset])) - exact) < _band(exact)


def test_a_random_scale_of_a_rate() -> None:
    """rate 1 -> F ~ U(0, 1), excess 0.5, two ticks: P = 1 - E (1 - F/2)^2 = 1 - 0.875 / 1.5."""
    scale = {"kind": "change", "agent": "a", "param": "rate", "scale": {"uniform": [0, 1]}}
    exact = 1 - 0.875 / 1.5
    assert abs(_switched(_data([scale], horizon=2)) - exact) < _band(exact)


def test_a_truncated_normal_size_is_drawn_inside_its_bounds() -> None:
    size = {"normal": [0.0, 1.0], "truncate": [-0.5, 0.5]}
    data = _data([{"kind": "change", "agent": "a", "param": "resistance", "add": size}])
    plan = compile_plan(sim.scenario_from_dict(data))
    state = BlockState(plan, np.random.default_rng(0), 5000)
    drawn = state.param[plan.late_draws[0].slot]
    assert drawn.min() >= -0.5 and drawn.max() <= 0.5 and drawn.std() > 0.2


def test_the_size_is_drawn_last_and_once_per_replicate() -> None:
    """Every other draw is as with a constant size; the size comes next in the stream."""
    size = {"uniform": [0.1, 0.3]}
    random = _data([{"kind": "change", "agent": "a", "param": "resistance", "add": size}])
    fixed = _data([{"kind": "change", "agent": "a", "param": "resistance", "add": 0.2}])
    for data in (random, fixed):
        data["agents"]["a"]["rules"][0]["rate"] = {"uniform": [0, 1]}
        data["events"]["e"]["trigger"] = {"kind": "at", "time": {"uniform": [0, 1]}}
    p_random = compile_plan(sim.scenario_from_dict(random))
    p_fixed = compile_plan(sim.scenario_from_dict(fixed))
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    s_random, s_fixed = BlockState(p_random, a, 50), BlockState(p_fixed, b, 50)
    for kind, slot in (("param", p_fixed.param_slot[("a", 0, "rate")]), ("tick", 0)):
        got = s_random.param if kind == "param" else s_random.due
        want = s_fixed.param if kind == "param" else s_fixed.due
        np.testing.assert_array_equal(got[slot], want[slot])
    expected = Uniform(uniform=(0.1, 0.3)).draw(b, 50)
    np.testing.assert_array_equal(s_random.param[p_random.late_draws[0].slot], expected)
    assert a.random() == b.random()  # nothing else was drawn


def test_a_recurring_event_adds_the_same_size_each_time() -> None:
    data = _data(
        [{"kind": "change", "agent": "a", "param": "resistance", "add": {"uniform": [1, 2]}}],
        horizon=4,
        kind="every",
        start=1,
        every=1,
    )
    plan = compile_plan(sim.scenario_from_dict(data))
    run = simulate_block(plan, np.random.default_rng(1), 200)
    # the set-up of the same block, on its own, holds each replicate's size
    size = BlockState(plan, np.random.default_rng(1), 200).param[plan.late_draws[0].slot]
    fired = 4  # ticks 1, 2, 3, 4
    steps = (run.world.param("a", "resistance") - 0.5) / fired
    assert np.ptp(size) > 0.5  # sizes differ between replicates
    np.testing.assert_allclose(steps, size)


# ------------------------------------------------------------------- errors
def _errors(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"{path}:" in result.stderr
    return result.stderr


def _averaging() -> dict[str, Any]:
    return {
        "kind": "individual",
        "positions": ["no", "yes"],
        "initial": "no",
        "rules": [
            {
                "kind": "averaging",
                "to": "yes",
                "opinion": 0.2,
                "stubbornness": 0.5,
                "weights": {"one": 1.0},
            }
        ],
    }


BAD = [
    (
        {"kind": "change", "agent": "b", "param": "stubbornness", "set": {"uniform": [0.5, 1.5]}},
        "events.e.effects.0.set: stubbornness of 'b' must lie in [0, 1], can draw values "
        "outside it {uniform: [0.5, 1.5]}",
    ),
    (
        {"kind": "change", "agent": "b", "param": "stubbornness", "scale": {"normal": [1, 1]}},
        "events.e.effects.0.scale: stubbornness of 'b' must lie in [0, 1]; a scale "
        "{normal: [1, 1]} can be negative",
    ),
    (
        {"kind": "change", "agent": "crowd", "param": "threshold", "add": {"uniform": [0, 1]}},
        "events.e.effects.0.add: 'crowd' holds its threshold per person",
    ),
    (
        {"kind": "change", "agent": "a", "param": "rate", "add": {"uniform": [1, 0]}},
        "events.e.effects.0.add",
    ),
]


@pytest.mark.parametrize(("effect", "message"), BAD, ids=[m for _, m in BAD])
def test_a_size_that_cannot_apply_is_a_located_error(
    tmp_path: Path, effect: dict[str, Any], message: str
) -> None:
    data = _data([effect])
    data["agents"]["b"] = _averaging()
    data["agents"]["crowd"] = {
        "kind": "population",
        "size": 10,
        "positions": ["out", "in"],
        "initial": "out",
        "rule": {
            "kind": "threshold",
            "to": "in",
            "support": "one",
            "threshold": {"uniform": [0, 1]},
        },
    }
    assert message in _errors(tmp_path, data)


def test_a_size_inside_the_range_is_accepted() -> None:
    data = _data(
        [{"kind": "change", "agent": "b", "param": "stubbornness", "set": {"beta": [2, 2]}}]
    )
    data["agents"]["b"] = _averaging()
    compile_plan(sim.scenario_from_dict(data))
