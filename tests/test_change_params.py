"""Events change opinion rules' parameters: stubbornness, cutoff, confidence, convergence."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.plan import compile_plan
from sim.runner import simulate_block


def _averaging(stubbornness: float, cutoff: float = 0.5) -> dict[str, Any]:
    return {
        "kind": "individual",
        "positions": ["no", "yes"],
        "initial": "no",
        "rules": [
            {
                "kind": "averaging",
                "to": "yes",
                "opinion": 0.2,
                "stubbornness": stubbornness,
                "weights": {"one": 1.0},
                "cutoff": cutoff,
            }
        ],
    }


def _scenario(agents: dict[str, Any], effects: list[dict[str, Any]], at: float = 3) -> Any:
    data = {
        "kind": "scenario",
        "name": "change",
        "clock": {"horizon": 6},
        "agents": agents,
        "signals": {"one": [{"constant": 1.0}]},
        "events": {"e": {"trigger": {"kind": "at", "time": at}, "effects": effects}},
        "outcomes": {"end": {"trigger": {"kind": "deadline", "at": 6}}},
    }
    return sim.scenario_from_dict(data)


def _run(sc: Any, rows: int = 2, seed: int = 0) -> Any:
    return simulate_block(compile_plan(sc), np.random.default_rng(seed), rows)


def test_an_event_frees_a_stubborn_averaging_agent() -> None:
    """s = 1 keeps x(0) = 0.2; once the event sets s = 0, x is what it hears: 1."""
    change = {"kind": "change", "agent": "a", "param": "stubbornness", "set": 0.0}
    still = _run(_scenario({"a": _averaging(1.0)}, []))
    freed = _run(_scenario({"a": _averaging(1.0)}, [change]))
    np.testing.assert_array_equal(still.world.opinion("a"), [0.2, 0.2])
    np.testing.assert_array_equal(freed.world.opinion("a"), [1.0, 1.0])
    np.testing.assert_array_equal(freed.output().final_pos[:, 0], [1, 1])


def test_an_event_lowers_the_cutoff() -> None:
    change = {"kind": "change", "agent": "a", "param": "cutoff", "set": 0.1}
    kept = _run(_scenario({"a": _averaging(1.0)}, []))
    lowered = _run(_scenario({"a": _averaging(1.0)}, [change]))
    np.testing.assert_array_equal(kept.output().final_pos[:, 0], [0, 0])
    np.testing.assert_array_equal(lowered.output().final_pos[:, 0], [1, 1])
    assert lowered.output().switch_time[0, 0] == 3.0  # the tick of the event


def _crowd(model: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "population",
        "size": 40,
        "positions": ["no", "yes"],
        "initial": "no",
        "rule": {
            "kind": "bounded_confidence",
            "model": model,
            "to": "yes",
            "opinion": {"uniform": [0, 1]},
            "confidence": 1.0,
            **extra,
        },
    }


def test_a_confidence_of_zero_freezes_a_population_from_the_event_on() -> None:
    change = {"kind": "change", "agent": "crowd", "param": "confidence", "set": 0.0}
    frozen = _run(_scenario({"crowd": _crowd("hegselmann_krause")}, [change], at=1))
    x0 = np.random.default_rng(0).uniform(0, 1, (2, 40))
    np.testing.assert_array_equal(frozen.world.opinions("crowd"), x0)
    moving = _run(_scenario({"crowd": _crowd("hegselmann_krause")}, []))
    # everyone hears everyone: one step to the mean, where they stay
    want = np.broadcast_to(x0.mean(axis=1, keepdims=True), x0.shape)
    np.testing.assert_allclose(moving.world.opinions("crowd"), want, rtol=1e-14)


def test_a_convergence_of_zero_stops_deffuant_encounters() -> None:
    change = {"kind": "change", "agent": "crowd", "param": "convergence", "scale": 0.0}
    still = _run(_scenario({"crowd": _crowd("deffuant")}, [change], at=1))
    x0 = np.random.default_rng(0).uniform(0, 1, (2, 40))
    np.testing.assert_array_equal(still.world.opinions("crowd"), x0)


def test_changes_of_individual_confidence_reach_their_rule() -> None:
    agents = {
        k: {
            "kind": "individual",
            "positions": ["no", "yes"],
            "initial": "no",
            "rules": [
                {
                    "kind": "bounded_confidence",
                    "model": "hegselmann_krause",
                    "to": "yes",
                    "opinion": x0,
                    "confidence": 1.0,
                }
            ],
        }
        for k, x0 in (("a", 0.2), ("b", 0.6))
    }
    change = {"kind": "change", "agent": "a", "param": "confidence", "set": 0.0}
    block = _run(_scenario(agents, [change], at=1))
    np.testing.assert_array_equal(block.world.opinion("a"), [0.2, 0.2])  # hears no one
    # b still hears a: the gap halves every tick, six ticks
    np.testing.assert_allclose(block.world.opinion("b"), [0.2 + 0.4 / 2**6] * 2, rtol=1e-14)


def _validate(tmp_path: Path, effect: dict[str, Any]) -> tuple[int, str]:
    agents = {
        "a": _averaging(0.5),
        "h": {
            "kind": "individual",
            "positions": ["no", "yes"],
            "initial": "no",
            "rules": [
                {"kind": "hazard", "to": "yes", "pressure": "one", "resistance": 0.2, "rate": 0.1}
            ],
        },
    }
    data = _scenario(agents, []).canonical()
    data["events"]["e"]["effects"] = [effect]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = CliRunner().invoke(app, ["validate", str(path)])
    return result.exit_code, result.output


def test_a_change_of_a_parameter_the_rule_lacks_names_the_kinds_that_have_it(
    tmp_path: Path,
) -> None:
    code, out = _validate(
        tmp_path, {"kind": "change", "agent": "h", "param": "stubbornness", "set": 0.5}
    )
    assert code == 2, out
    assert "events.e.effects.0.param" in out and "s.yaml:" in out
    assert "no rule of 'h' has a parameter 'stubbornness'" in out
    assert "its rules: hazard" in out
    assert "stubbornness is a parameter of averaging rules" in out
    assert "Traceback" not in out


def test_a_change_out_of_range_is_a_located_error(tmp_path: Path) -> None:
    code, out = _validate(
        tmp_path, {"kind": "change", "agent": "a", "param": "stubbornness", "set": 1.5}
    )
    assert code == 2, out
    assert "events.e.effects.0.set" in out
    assert "stubbornness of 'a' must lie in [0, 1], got 1.5" in out


# --------------------------------------------------------- one averaging weight
def _listener(weights: dict[str, float]) -> dict[str, Any]:
    """An averaging agent with stubbornness 0: its opinion is what it hears, weighted."""
    agent = _averaging(0.0)
    agent["rules"][0]["weights"] = weights
    return agent


def _weighted(weights: dict[str, float], effect: dict[str, Any]) -> dict[str, Any]:
    """Raw data: ``a`` hears one (1), zero (0) and half (0.5); the event fires at 3."""
    return {
        "kind": "scenario",
        "name": "weights",
        "clock": {"horizon": 6},
        "agents": {"a": _listener(weights)},
        "signals": {n: [{"constant": v}] for n, v in (("one", 1.0), ("zero", 0.0), ("half", 0.5))},
        "events": {"e": {"trigger": {"kind": "at", "time": 3}, "effects": [effect]}},
        "outcomes": {"end": {"trigger": {"kind": "deadline", "at": 6}}},
    }


def _heard(weights: dict[str, float], change: dict[str, Any], rows: int = 2) -> np.ndarray:
    data = _weighted(weights, {"kind": "change", "agent": "a", **change})
    return _run(sim.scenario_from_dict(data), rows).world.opinion("a")


def test_an_event_changes_one_weight_and_rescales_the_others() -> None:
    """one 0.5, zero 0.3, half 0.2 -> one 0.75: the others halve, x = 0.75 + 0.5 * 0.1 = 0.8."""
    change = {"param": "weights", "weight": "one", "set": 0.75}
    x = _heard({"one": 0.5, "zero": 0.3, "half": 0.2}, change)
    np.testing.assert_allclose(x, [0.8, 0.8], rtol=1e-12)


def test_others_all_zero_share_what_is_left_equally() -> None:
    """one 1 -> 0.5: zero and half share 0.5 equally, x = 0.5 + 0.25 * 0.5 = 0.625."""
    change = {"param": "weights", "weight": "one", "scale": 0.5}
    x = _heard({"one": 1.0, "zero": 0.0, "half": 0.0}, change)
    np.testing.assert_allclose(x, [0.625, 0.625], rtol=1e-12)


def test_a_weight_change_leaves_the_weights_row_stochastic() -> None:
    """add D ~ U(0, 0.4) to one's 0.5 (zero's falls to 0.5 - D): x = 0.5 + D, mean 0.7."""
    change = {"param": "weights", "weight": "one", "add": {"uniform": [0, 0.4]}}
    x = _heard({"one": 0.5, "zero": 0.5}, change, rows=4000)
    assert x.min() >= 0.5 and x.max() <= 0.9 + 1e-12
    sd = 0.4 / math.sqrt(12)  # of the uniform
    assert abs(x.mean() - 0.7) < 5 * sd / math.sqrt(len(x))


def test_without_a_weight_change_the_weights_stay_one_matrix() -> None:
    plan = compile_plan(_scenario({"a": _listener({"one": 1.0})}, []))
    assert plan.averaging[0].weight_slots == () and plan.weight_slots == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weight": "won"}, "events.e.effects.0.weight: the averaging rule of 'a' has no weight "),
        ({"weight": "one", "set": 1.5}, "the weight of 'one' of 'a' must lie in [0, 1]"),
        ({"param": "stubbornness", "weight": "one"}, "param: weights goes with weight: NAME"),
        ({"weight": None}, "param: weights goes with weight: NAME"),
    ],
)
def test_a_weight_change_that_cannot_apply_is_a_located_error(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    effect = {"kind": "change", "agent": "a", "param": "weights", "set": 0.5, **change}
    effect = {k: v for k, v in effect.items() if v is not None}
    data = _weighted({"one": 0.5, "zero": 0.5}, effect)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "s.yaml:" in result.output
    assert "Traceback" not in result.output


def test_a_rule_hearing_one_name_keeps_its_weight(tmp_path: Path) -> None:
    code, out = _validate(
        tmp_path, {"kind": "change", "agent": "a", "param": "weights", "weight": "one", "set": 0.5}
    )
    assert code == 2 and "hears 'one' alone: its weight stays 1" in out
