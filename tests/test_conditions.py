"""Conditions (all/any/not, position and count tests), the count term, and the one tolerance.

Deterministic cases compare end times with the tick each condition first holds;
random ones compare with a closed form (99.9% normal intervals, fixed seeds)
or, replicate by replicate, with an independent computation from the switch times.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import poisson_binomial_tail, z_tolerance
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.errors import InputError
from sim.rules import COMPARISONS, TOLERANCE, threshold_reached

runner = CliRunner()


def _members(times: dict[str, Any]) -> dict[str, Any]:
    """Individuals no -> yes (-> maybe, for ``c``) switching at scheduled times, in a group."""
    agents: dict[str, Any] = {
        name: {
            "kind": "individual",
            "positions": ["no", "yes", "maybe"],
            "initial": "no",
            "rules": [{"id": "up", "kind": "scheduled", "to": "yes", "at": at}],
        }
        for name, at in times.items()
    }
    agents["board"] = {"kind": "group", "members": list(times)}
    return agents


def _scenario(condition: Any, times: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "kind": "scenario",
        "name": "conditions",
        "clock": {"horizon": 50},
        "agents": _members(times),
        "signals": extra.pop("signals", {"zero": [{"constant": 0.0}]}),
        "outcomes": {"hit": {"trigger": {"kind": "condition", "condition": condition}}},
        **extra,
    }


def _end_time(condition: Any, times: dict[str, Any], **extra: Any) -> float:
    sc = sim.scenario_from_dict(_scenario(condition, times, **extra))
    out = sim.run(sc, replicates=4, seed=1)
    assert np.all(out.time == out.time[0])
    return float(out.time[0])


TIMES = {"a": 5, "b": 10, "c": 15}
A_YES = {"agent": "a", "position": "yes"}
B_YES = {"agent": "b", "position": "yes"}
C_YES = {"agent": "c", "position": "yes"}


@pytest.mark.parametrize(
    ("condition", "tick"),
    [
        (A_YES, 5),
        ({"agent": "c", "position": ["yes", "maybe"]}, 15),  # in any of them
        ({"all": [A_YES, B_YES, C_YES]}, 15),  # the last of them
        ({"any": [C_YES, B_YES]}, 10),  # the first of them
        ({"not": {"agent": "b", "position": "no"}}, 10),
        ({"all": [A_YES, {"not": B_YES}]}, 5),
        ({"any": [{"all": [B_YES, C_YES]}, {"not": {"any": [A_YES, B_YES, C_YES]}}]}, 1),
        ({"count": "board", "position": "yes", "at_least": 2}, 10),
        ({"count": "board", "position": "no", "at_most": 1}, 10),
        ({"count": "board", "position": "no", "below": 1}, 15),
        ({"count": "board", "position": "yes", "above": 2}, 15),
    ],
)
def test_a_condition_first_holds_when_its_closed_form_says(condition: Any, tick: int) -> None:
    assert _end_time(condition, TIMES) == tick


def test_the_count_term_is_a_number_of_members_not_a_fraction() -> None:
    signals = {"yes": [{"count": "board", "position": "yes", "weight": 0.5}]}
    # 0.5 per member: 1.0 at two members (10 h), 1.5 at three (15 h)
    assert _end_time({"signal": "yes", "at_least": 1.0}, TIMES, signals=signals) == 10
    assert _end_time({"signal": "yes", "above": 1.0}, TIMES, signals=signals) == 15


def test_nested_conditions_replicate_by_replicate() -> None:
    """Random switch times: all/any/not against the max/min of each replicate's times."""
    times = {m: {"uniform": [1, 40]} for m in "abc"}
    condition = {"all": [{"any": [A_YES, B_YES]}, {"not": {"agent": "c", "position": "no"}}]}
    sc = sim.scenario_from_dict(_scenario(condition, times))
    out = sim.run(sc, replicates=500, seed=3)
    # first switch of a, b, c; NaN once the replicate has ended: later than its end
    t = np.nan_to_num(out.switch_time, nan=np.inf)
    expected = np.maximum(np.minimum(t[:, 0], t[:, 1]), t[:, 2])
    np.testing.assert_array_equal(out.time, expected)


def test_a_count_test_of_hazard_members_is_the_poisson_binomial_tail() -> None:
    res, rate, k, T = [0.2, 0.5, 0.6, 0.8], 0.04, 3, 20
    agents: dict[str, Any] = {
        f"m{i}": {
            "kind": "individual",
            "positions": ["no", "yes"],
            "initial": "no",
            "rules": [
                {"kind": "hazard", "to": "yes", "pressure": "p", "resistance": r, "rate": rate}
            ],
        }
        for i, r in enumerate(res)
    }
    agents["board"] = {"kind": "group", "members": list(agents)}
    data = {
        "kind": "scenario",
        "name": "count",
        "clock": {"horizon": T},
        "agents": agents,
        "signals": {"p": [{"constant": 1.0}]},
        "outcomes": {
            "enough": {
                "trigger": {
                    "kind": "condition",
                    "condition": {"count": "board", "position": "yes", "at_least": k},
                }
            }
        },
    }
    n = 20_000
    out = sim.run(sim.scenario_from_dict(data), replicates=n, seed=11)
    exact = poisson_binomial_tail([1 - (1 - rate * (1 - r)) ** T for r in res], k)
    got = out.summary()["outcomes"]["enough"]["p"]
    assert abs(got - exact) < z_tolerance(exact, n)


def test_a_when_event_takes_a_nested_condition_and_fires_the_tick_after() -> None:
    data = _scenario({"signal": "fired", "at_least": 1}, TIMES)
    data["signals"] = {"fired": [{"flag": "both"}]}
    data["events"] = {
        "both": {"trigger": {"kind": "when", "condition": {"all": [A_YES, B_YES]}}},
    }
    sc = sim.scenario_from_dict(data)
    out = sim.run(sc, replicates=2, seed=1)
    assert np.all(out.time == 11)  # holds at 10, fires at 11


# ------------------------------------------------------------------ tolerance
def test_ten_terms_of_a_tenth_reach_one() -> None:
    """0.1 added ten times is 0.9999999999999999: within the tolerance of 1.0."""
    signals = {
        "tenths": [{"agent": "a", "position": "yes", "weight": 0.1} for _ in range(10)],
    }
    assert sum([0.1] * 10) < 1.0  # the case: exact comparison says no
    assert _end_time({"signal": "tenths", "at_least": 1.0}, TIMES, signals=signals) == 5
    # equal within the tolerance is neither above nor below: the other branch decides
    above = {"any": [{"signal": "tenths", "above": 1.0}, C_YES]}
    assert _end_time(above, TIMES, signals=signals) == 15
    below = {"any": [{"all": [A_YES, {"signal": "tenths", "below": 1.0}]}, C_YES]}
    assert _end_time(below, TIMES, signals=signals) == 15


def test_every_comparison_uses_the_one_tolerance() -> None:
    x = np.array([1.0 - TOLERANCE / 2, 1.0 + TOLERANCE / 2, 1.0 - 2 * TOLERANCE])
    np.testing.assert_array_equal(COMPARISONS["at_least"](x, 1.0), [True, True, False])
    np.testing.assert_array_equal(COMPARISONS["at_most"](x, 1.0), [True, True, True])
    np.testing.assert_array_equal(COMPARISONS["above"](x, 1.0), [False, False, False])
    np.testing.assert_array_equal(COMPARISONS["below"](x, 1.0), [False, False, True])
    np.testing.assert_array_equal(threshold_reached(x, np.ones(3)), [True, True, False])


def test_an_averaging_cut_off_uses_the_tolerance() -> None:
    """x(t) = 0.05 * 0.55 + 0.95 * 0.55 is 0.5499999999999999: the cut-off 0.55 holds."""
    data = {
        "kind": "scenario",
        "name": "cut",
        "clock": {"horizon": 3},
        "agents": {
            "x": {
                "kind": "individual",
                "positions": ["no", "yes"],
                "initial": "no",
                "rules": [
                    {
                        "kind": "averaging",
                        "to": "yes",
                        "opinion": 0.55,
                        "stubbornness": 0.05,
                        "weights": {"s": 1.0},
                        "cutoff": 0.55,
                    }
                ],
            }
        },
        "signals": {"s": [{"constant": 0.55}]},
        "outcomes": {"never": {"trigger": {"kind": "deadline", "at": "never"}}},
    }
    assert 0.05 * 0.55 + 0.95 * 0.55 < 0.55
    out = sim.run(sim.scenario_from_dict(data), replicates=2, seed=1)
    assert np.all(out.switch_time[:, 0] == 1.0)


# ---------------------------------------------------------------------- errors
def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InputError) as info:
        sim.scenario_from_dict(data)
    return [f"{p.path}: {p.message}" for p in info.value.problems]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (
            {"count": "crowd", "position": "in", "at_least": 1},
            "condition.count: 'crowd' is a population: count is for a group's members",
        ),
        (
            {"agent": "a", "position": "resigned"},
            "condition.position: unknown position 'resigned'",
        ),
        (
            {"agent": "a", "position": ["yes", "gone"]},
            "condition.position.1: unknown position 'gone'",
        ),
        ({"all": []}, "condition.all: all: needs at least one condition"),
        ({"not": {"any": []}}, "condition.not.any: any: needs at least one condition"),
        ({"agent": "board", "position": "yes"}, "condition.agent: 'board' is not an individual"),
        (
            {"any": [A_YES, {"count": "bord", "position": "yes", "at_least": 1}]},
            "condition.any.1.count: unknown group 'bord'; did you mean 'board'?",
        ),
        ({"all": [{"signal": "nope", "at_least": 1}]}, "condition.all.0.signal: unknown signal"),
    ],
)
def test_misused_conditions_are_named(condition: Any, expected: str) -> None:
    data = _scenario(condition, TIMES)
    data["agents"]["crowd"] = {
        "kind": "population",
        "size": 3,
        "positions": ["out", "in"],
        "initial": "out",
        "rule": {"kind": "fixed"},
    }
    found = _problems(data)
    assert any(expected in p for p in found), found


def test_a_count_term_names_a_group() -> None:
    signals = {"s": [{"count": "a", "position": "yes"}, {"count": "board", "position": "gone"}]}
    found = _problems(_scenario(A_YES, TIMES, signals=signals))
    assert any("signals.s.0.count: unknown group 'a'" in p for p in found), found
    assert any("signals.s.1.position: unknown position 'gone'" in p for p in found), found


def test_a_bad_condition_is_located_in_the_file(tmp_path: Path) -> None:
    text = """\
kind: scenario
name: located
clock: {horizon: 10}
agents:
  a: {kind: individual, positions: [no, yes], initial: no}
  crowd: {kind: population, size: 3, positions: [out, in], initial: out, rule: {kind: fixed}}
outcomes:
  end:
    trigger:
      kind: condition
      condition:
        all:
          - {agent: a, position: gone}
          - {count: crowd, position: in, at_least: 1}
          - {any: []}
"""
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    err = result.stderr
    assert f"{path}:13:24: outcomes.end.trigger.condition.all.0.position: unknown position" in err
    assert f"{path}:14:14: outcomes.end.trigger.condition.all.1.count: 'crowd' is a pop" in err
    assert f"{path}:15:14: outcomes.end.trigger.condition.all.2.any: any: needs at least" in err
    assert "Traceback" not in result.output


def test_a_condition_needs_a_known_key() -> None:
    found = _problems(_scenario({"sgnal": "zero", "at_least": 1}, TIMES))
    assert any("expected a condition with one of the keys" in p for p in found), found


def test_the_json_schema_carries_conditions_and_the_count_term() -> None:
    schema = sim.scenario.json_schema()
    defs = schema["$defs"]
    for name in (
        "AllOf",
        "AnyOf",
        "NotOf",
        "PositionCondition",
        "CountCondition",
        "SignalCondition",
        "CountTerm",
    ):
        assert name in defs, name
    assert "not" in defs["NotOf"]["properties"]
    position = defs["PositionCondition"]["properties"]["position"]
    assert {"type": "string"} in position["anyOf"]
