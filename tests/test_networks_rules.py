"""A population on a graph with several rules (or per-person parameters): person by person.

- On a complete graph where everyone also hears themselves, each person's
  share of neighbours in every position is the population's fraction, so a
  network population with two rules must give the mean-field population's
  results with the same two rules replicate by replicate (same draws in the
  same order, same comparisons), whatever the rules' kinds.
- On a graph of isolated pairs (each person hears one other and themselves),
  a threshold rule's cascade is known exactly: closed form, no statistics.
- Results never depend on the batch; segments on a graph stay a located error.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import sim
from sim.cli import app

POSITIONS = ["silent", "signed", "left"]
RING = {"generator": "watts_strogatz", "params": {"k": 2, "p": 0.0}, "graph_seed": 0}


def _scenario(
    rules: list[dict[str, Any]], size: int, network: Any = None, horizon: int = 30
) -> dict[str, Any]:
    pop: dict[str, Any] = {
        "kind": "population",
        "size": size,
        "positions": POSITIONS,
        "initial": "silent",
        "rules": rules,
    }
    if network is not None:
        pop["network"] = network
    return {
        "kind": "scenario",
        "name": "net-rules",
        "clock": {"horizon": horizon},
        "agents": {
            "staff": pop,
            "market": {"kind": "source", "curve": {"kind": "ramp", "end": 30, "end_value": 0.6}},
        },
        "signals": {
            "peers": [{"fraction": "staff", "position": "signed", "weight": 0.7},
                      {"curve": "market", "weight": 0.4}],
            "exodus": [{"fraction": "staff", "position": "left", "weight": 0.9},
                       {"fraction": "staff", "position": "signed", "weight": 0.2},
                       {"constant": 0.05}],
        },
        "outcomes": {"never": {"trigger": {"kind": "deadline", "at": 1000}}},
    }  # fmt: skip


def _complete_with_self(tmp_path: Path, n: int) -> dict[str, str]:
    path = tmp_path / "complete.txt"
    lines = [f"{u} {v}" for u, v in itertools.combinations_with_replacement(range(n), 2)]
    path.write_text("\n".join(lines) + "\n")
    return {"edges": str(path)}


SIGN = {
    "kind": "threshold",
    "to": "signed",
    "support": "peers",
    "threshold": {"uniform": [0.0, 0.8]},
    "spontaneous": 0.01,
}
LEAVE_HAZARD = {
    "kind": "hazard",
    "to": "left",
    "pressure": "exodus",
    "resistance": {"uniform": [0.0, 0.3]},
    "rate": 0.3,
}
LEAVE_LOGISTIC = {
    "kind": "logistic",
    "to": "left",
    "from": "signed",
    "pressure": "exodus",
    "resistance": 0.2,
    "rate": {"uniform": [0.1, 0.4]},
    "slope": 8,
    "per_person": ["rate"],
    "reversible": True,
}
SIGN_BACK = {
    "kind": "threshold",
    "to": "signed",
    "support": "peers",
    "threshold": {"uniform": [0.1, 0.6]},
    "reversible": True,
}
CASES = {
    "threshold_then_hazard": [SIGN, LEAVE_HAZARD],
    "reversible_threshold_then_logistic": [SIGN_BACK, LEAVE_LOGISTIC],
    "one_rule_with_a_per_person_rate": [dict(LEAVE_HAZARD, rate={"uniform": [0.1, 0.5]},
                                             per_person=["rate"])],
}  # fmt: skip


def _arrays(res: Any) -> dict[str, Any]:
    return {k: getattr(res, k) for k in ("outcome", "final_fraction", "half_time")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_complete_graph_hearing_oneself_is_the_mean_field_with_the_same_rules(
    tmp_path: Path, case: str
) -> None:
    n = 40
    mean_field = sim.scenario_from_dict(_scenario(CASES[case], n))
    network = sim.scenario_from_dict(_scenario(CASES[case], n, _complete_with_self(tmp_path, n)))
    a, b = sim.run(mean_field, 300, seed=5), sim.run(network, 300, seed=5)
    moved = a.final_fraction.sum(axis=1) if a.final_fraction.ndim > 1 else a.final_fraction
    assert 0.05 < float(np.mean(moved))  # the model moves: the check can fail
    for k, v in _arrays(a).items():
        np.testing.assert_array_equal(v, _arrays(b)[k], err_msg=k)


def test_isolated_pairs_follow_the_threshold_cascade_exactly(tmp_path: Path) -> None:
    # pairs (2i, 2i + 1), nobody hearing themselves: the even person has
    # threshold 0 and signs at tick 1; the odd one (threshold 0.9) signs at tick
    # 2 on hearing a share of 1 of their neighbours. A second rule then takes the
    # signed to ``left`` once the share of their neighbours who left reaches 0.5:
    # nobody has left, so the signal stays below it for good.
    n = 10
    path = tmp_path / "pairs.txt"
    path.write_text("".join(f"{2 * i} {2 * i + 1}\n" for i in range(n // 2)))
    sign = {
        "kind": "threshold",
        "to": "signed",
        "support": "own",
        "threshold": [0.0, 0.9] * (n // 2),
    }
    leave = {
        "kind": "threshold",
        "to": "left",
        "from": "signed",
        "support": "gone",
        "threshold": 0.5,
    }
    data = _scenario([sign, leave], n, {"edges": str(path)}, horizon=4)
    data["signals"] = {
        "own": [{"fraction": "staff", "position": "signed"}],
        "gone": [{"fraction": "staff", "position": "left"}],
    }
    res = sim.run(sim.scenario_from_dict(data), 2, seed=1, record=True)
    assert res.trajectories is not None
    first = res.trajectories["replicate"] == 0
    np.testing.assert_array_equal(res.trajectories["staff.signed"][first], [0.5, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(res.trajectories["staff.left"][first], [0.0, 0.0, 0.0, 0.0])


def test_results_do_not_depend_on_the_batch() -> None:
    ws = {"generator": "watts_strogatz", "params": {"k": 4, "p": 0.2}, "graph_seed": 2}
    fresh = {"generator": "watts_strogatz", "params": {"k": 4, "p": 0.2},
             "fresh_graph_per_replicate": True}  # fmt: skip
    for network in (ws, fresh):
        sc = sim.scenario_from_dict(_scenario([SIGN, LEAVE_HAZARD], 60, network, horizon=20))
        one = sim.run(sc, 1100, seed=8, batch_blocks=1)
        two = sim.run(sc, 1100, seed=8, batch_blocks=2)
        assert 0.02 < float(one.final_fraction.mean()) < 0.98
        for k, v in _arrays(one).items():
            np.testing.assert_array_equal(v, _arrays(two)[k], err_msg=k)


def test_an_event_changes_a_per_person_parameter_on_a_graph(tmp_path: Path) -> None:
    # everyone's threshold of the first rule set to 0 at t = 3: all sign at tick 3
    sign = {
        "kind": "threshold",
        "to": "signed",
        "support": "own",
        "threshold": 0.9,
        "per_person": ["threshold"],
    }
    leave = dict(LEAVE_HAZARD, rate=0.0)
    data = _scenario([sign, leave], 20, RING, horizon=5)
    data["signals"]["own"] = [{"fraction": "staff", "position": "signed"}]
    data["events"] = {
        "amnesty": {
            "trigger": {"kind": "at", "time": 3},
            "effects": [
                {"kind": "change", "agent": "staff", "rule": 0, "param": "threshold", "set": 0.0}
            ],
        }
    }
    res = sim.run(sim.scenario_from_dict(data), 2, seed=1, record=True)
    assert res.trajectories is not None
    first = res.trajectories["replicate"] == 0
    np.testing.assert_array_equal(res.trajectories["staff.signed"][first], [0, 0, 1, 1, 1])


# ------------------------------------------------------------------ errors
def _validate(tmp_path: Path, doc: dict[str, Any]) -> tuple[int, str]:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = CliRunner().invoke(app, ["validate", str(path)])
    return result.exit_code, result.output


def test_segments_on_a_graph_are_a_located_error(tmp_path: Path) -> None:
    doc = _scenario([SIGN], 20, RING)
    doc["agents"]["staff"]["segments"] = {"a": {"size": 10}, "b": {"size": 10}}
    del doc["agents"]["staff"]["size"]
    code, out = _validate(tmp_path, doc)
    assert code == 2, out
    assert "s.yaml:" in out and "segments" in out and "hears" in out, out
    assert "Traceback" not in out


def test_rules_none_of_which_hear_the_population_are_a_located_error(tmp_path: Path) -> None:
    doc = _scenario([dict(LEAVE_HAZARD, pressure="calm")], 20,
                    RING)  # fmt: skip
    doc["signals"]["calm"] = [{"constant": 0.5}]
    code, out = _validate(tmp_path, doc)
    assert code == 2, out
    assert "agents.staff.rules.0.pressure" in out and "never reads" in out, out
