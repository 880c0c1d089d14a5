"""Events change opinion rules' parameters: stubbornness, cutoff, confidence, convergence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
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
