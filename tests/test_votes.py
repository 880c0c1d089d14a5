"""Weighted votes, abstention and attendance (issue 11, item 4).

The rule (see :mod:`sim.votes`) is checked two ways against :func:`expected`,
a scalar re-statement of it in exact fractions written from the README's
text: exhaustively on every assignment of members to for / against /
abstaining / absent, and end to end, where members in each place with known
probabilities make the probability that the motion passes at its first meeting
an exact sum over the assignments (fixed seeds, 99.9% binomial tolerances).
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from fractions import Fraction
from typing import Any

import jsonschema
import numpy as np
import pytest
from conftest import z_tolerance
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.errors import InputError
from sim.plan import compile_plan, vote_rule

PLACES = ("for", "against", "abstain", "away")
MEMBERS = ("chair", "b", "c", "d", "e")


def expected(
    places: tuple[str, ...],
    weights: dict[str, Any],
    quorum: dict[str, Any],
    attendance: dict[str, Any] | None = None,
    veto: tuple[str, ...] = (),
) -> bool:
    """Whether the motion passes, member by member in exact fractions."""
    w = {m: Fraction(str(weights.get(m, 1))) for m in MEMBERS}
    where = dict(zip(MEMBERS, places, strict=True))
    present = [m for m in MEMBERS if where[m] != "away"]
    w_present = sum((w[m] for m in present), Fraction(0))
    w_for = sum((w[m] for m in MEMBERS if where[m] == "for"), Fraction(0))
    if attendance is not None:
        by_members = attendance.get("by") == "members"
        have = Fraction(len(present)) if by_members else w_present
        whole = Fraction(len(MEMBERS)) if by_members else sum(w.values(), Fraction(0))
        if "at_least" in attendance and have < Fraction(str(attendance["at_least"])):
            return False
        if "fraction" in attendance and have < Fraction(str(attendance["fraction"])) * whole:
            return False
    if "at_least" in quorum:
        ok = w_for >= Fraction(str(quorum["at_least"]))
    else:
        q = Fraction(1) if "unanimous" in quorum else Fraction(str(quorum["fraction"]))
        ok = w_present > 0 and w_for >= q * w_present
    return ok and not any(where[v] == "against" for v in veto)


def scenario(
    probs: dict[str, tuple[float, float, float]],
    quorum: dict[str, Any],
    weights: dict[str, Any] | None = None,
    attendance: dict[str, Any] | None = None,
    veto: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Members who at tick 1 go to ``for``, else ``abstain``, else ``away`` with given chances.

    ``probs[m] = (a, b, c)``: scheduled switches tried in that order, each due
    at tick 1 with its probability (else never), each only from ``against``.
    """
    agents: dict[str, Any] = {}
    for m in MEMBERS:
        rules = [
            {"kind": "scheduled", "to": to, "at": {"choice": [1, 1000], "p": [p, 1 - p]}}
            for to, p in zip(("for", "abstain", "away"), probs[m], strict=True)
        ]
        agents[m] = {
            "kind": "individual",
            "positions": ["against", "for", "abstain", "away"],
            "initial": "against",
            "rules": rules,
        }
    agents["board"] = {"kind": "group", "members": list(MEMBERS)}
    vote: dict[str, Any] = {
        "group": "board",
        "motion": "for",
        "schedule": {"start": 1, "every": 1},
        "quorum": quorum,
        "absent": ["away"],
        "abstain": ["abstain"],
        "veto": list(veto),
    }
    if weights:
        vote["weights"] = weights
    if attendance:
        vote["attendance"] = attendance
    return {
        "kind": "scenario",
        "name": "votes",
        "clock": {"horizon": 2},
        "agents": agents,
        "decisions": {"vote": vote},
        "outcomes": {
            "passed": {"trigger": {"kind": "decision", "decision": "vote"}},
            "failed": {"trigger": {"kind": "deadline", "at": 1}},
        },
    }


def chance_of(places: tuple[str, ...], probs: dict[str, tuple[float, float, float]]) -> float:
    out = 1.0
    for m, place in zip(MEMBERS, places, strict=True):
        a, b, c = probs[m]
        out *= {
            "for": a,
            "abstain": (1 - a) * b,
            "away": (1 - a) * (1 - b) * c,
            "against": (1 - a) * (1 - b) * (1 - c),
        }[place]
    return out


CASES: dict[str, dict[str, Any]] = {
    "plain two thirds": {"quorum": {"fraction": "2/3"}},
    "plain at least 3, chair's veto": {"quorum": {"at_least": 3}, "veto": ("chair",)},
    "weighted majority": {"quorum": {"fraction": "1/2"}, "weights": {"chair": 3, "b": 2}},
    "weighted at least 3.5": {
        "quorum": {"at_least": 3.5},
        "weights": {"chair": 2.5, "b": 1.5, "c": 0.5},
    },
    "weighted unanimity, zero-weight observer": {
        "quorum": {"unanimous": True},
        "weights": {"e": 0, "chair": 2},
    },
    "weighted veto": {
        "quorum": {"fraction": "3/5"},
        "weights": {"chair": 0.1, "d": 0.7},
        "veto": ("chair", "d"),
    },
    "attendance by weight": {
        "quorum": {"fraction": "1/2"},
        "weights": {"chair": 3},
        "attendance": {"fraction": "2/3"},
    },
    "attendance of members": {
        "quorum": {"at_least": 2},
        "weights": {"chair": 4},
        "attendance": {"at_least": 4, "by": "members"},
    },
    "attendance of weight 5": {"quorum": {"fraction": 0.5}, "attendance": {"at_least": 5}},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_assignment_counts_as_the_rule_says(name: str) -> None:
    case = CASES[name]
    probs = dict.fromkeys(MEMBERS, (0.5, 0.5, 0.5))
    sc = sim.scenario_from_dict(scenario(probs, **case))
    rule = vote_rule(sc.decisions["vote"], list(MEMBERS))
    rows = list(itertools.product(PLACES, repeat=len(MEMBERS)))
    where = np.array(rows)
    tally = rule.tally(where == "for", where == "abstain", where == "away")
    kw = {k: case[k] for k in ("weights", "attendance", "veto") if k in case}
    want = [expected(r, kw.get("weights", {}), case["quorum"], *_rest(kw)) for r in rows]
    assert tally.passed.tolist() == want
    assert 0 < sum(want) < len(want)  # the case tells passing from failing


def _rest(kw: dict[str, Any]) -> tuple[Any, ...]:
    return (kw.get("attendance"), kw.get("veto", ()))


PROBS = {
    "chair": (0.5, 0.3, 0.2),
    "b": (0.6, 0.2, 0.3),
    "c": (0.3, 0.4, 0.1),
    "d": (0.7, 0.1, 0.5),
    "e": (0.4, 0.5, 0.4),
}


@pytest.mark.parametrize(
    "name",
    [
        "plain two thirds",
        "weighted majority",
        "weighted veto",
        "attendance by weight",
        "attendance of members",
    ],
)
def test_first_meeting_passes_with_the_exact_probability(name: str) -> None:
    case = CASES[name]
    kw = {k: case[k] for k in ("weights", "attendance", "veto") if k in case}
    exact = sum(
        chance_of(r, PROBS)
        for r in itertools.product(PLACES, repeat=len(MEMBERS))
        if expected(r, kw.get("weights", {}), case["quorum"], *_rest(kw))
    )
    n = 20_000
    out = sim.run(sim.scenario_from_dict(scenario(PROBS, **case)), replicates=n, seed=7)
    got = out.summary()["outcomes"]["passed"]["p"]
    assert abs(got - exact) < z_tolerance(exact, n), (got, exact)
    assert np.all(out.time[out.outcome == 0] == 1.0)


def test_abstaining_differs_from_against_only_for_a_veto_holder() -> None:
    probs = dict.fromkeys(MEMBERS, (0.0, 0.0, 0.0))
    probs.update({"b": (1.0, 0, 0), "c": (1.0, 0, 0), "d": (1.0, 0, 0)})
    data = scenario(probs, {"fraction": "3/5"}, veto=("chair",))
    against = sim.run(sim.scenario_from_dict(data), replicates=4, seed=0)
    probs["chair"] = (0.0, 1.0, 0.0)  # the chair abstains: 3 of 5 present still pass
    data = scenario(probs, {"fraction": "3/5"}, veto=("chair",))
    abstains = sim.run(sim.scenario_from_dict(data), replicates=4, seed=0)
    probs["e"] = (0.0, 1.0, 0.0)  # and an abstention stays in the denominator: 3 of 5
    both = sim.run(sim.scenario_from_dict(scenario(probs, {"fraction": "2/3"})), 4, seed=0)
    assert against.summary()["outcomes"]["passed"]["p"] == 0.0
    assert abstains.summary()["outcomes"]["passed"]["p"] == 1.0
    assert both.summary()["outcomes"]["passed"]["p"] == 0.0


def test_without_weights_the_rule_is_the_count_of_members() -> None:
    sc = sim.scenario_from_dict(scenario(PROBS, {"fraction": "2/3"}))
    rule = compile_plan(sc).decisions[0].rule
    assert rule.scale == 1 and rule.weights.tolist() == [1] * 5 and rule.plain
    assert "weights" not in sc.canonical()["decisions"]["vote"]  # old files keep their hash


def test_the_trace_tells_the_weights() -> None:
    probs = dict.fromkeys(MEMBERS, (0.0, 0.0, 0.0))
    probs.update({"chair": (1.0, 0, 0), "b": (0.0, 1.0, 0), "e": (0, 0, 1.0)})
    data = scenario(probs, {"fraction": "1/2"}, weights={"chair": 2.5}, attendance={"at_least": 5})
    lines, _ = sim.trace_replicate(sim.scenario_from_dict(data), seed=0, replicate=0)
    # present: chair 2.5, b 1 (abstaining), c 1, d 1 = 5.5; for: 2.5 < 2.75
    assert any(
        line.endswith("vote vote: weight 2.5 of 5.5 present for the motion (1 abstaining), fails")
        for line in lines
    ), lines
    data["decisions"]["vote"]["attendance"] = {"at_least": 6}
    lines, _ = sim.trace_replicate(sim.scenario_from_dict(data), seed=0, replicate=0)
    assert any(line.endswith("short of attendance, fails") for line in lines), lines


def _error(edit: Any) -> str:
    data = scenario(PROBS, {"fraction": "2/3"}, weights={"chair": 2})
    edit(data["decisions"]["vote"])
    with pytest.raises(InputError) as err:
        sim.scenario_from_dict(data)
    return str(err.value)


@pytest.mark.parametrize(
    ("edit", "where", "says"),
    [
        (lambda v: v["weights"].update(chiar=1), "weights.chiar", "did you mean 'chair'"),
        (
            lambda v: v.update(weights=dict.fromkeys(MEMBERS, 0)),
            "decisions.vote.weights:",
            "weigh 0 in all",
        ),
        (lambda v: v["weights"].update(b=-1), "weights.b", "greater than or equal to 0"),
        (lambda v: v.update(abstain=["away"]), "abstain.0", "also be an absent position"),
        (lambda v: v.update(abstain=["for"]), "abstain.0", "also be the motion"),
        (lambda v: v.update(abstain=["abstian"]), "abstain.0", "did you mean 'abstain'"),
        (
            lambda v: v.update(quorum={"at_least": 7}),
            "quorum.at_least",
            "larger than the total weight 6 of group 'board'",
        ),
        (
            lambda v: v.update(attendance={"at_least": 6, "by": "members"}),
            "attendance.at_least",
            "larger than group 'board' (5 members)",
        ),
        (
            lambda v: v.update(attendance={"at_least": 2, "fraction": 0.5}),
            "attendance",
            "exactly one of at_least and fraction",
        ),
        (lambda v: v.update(attendance={"fraction": 1.5}), "attendance.fraction", "(0, 1]"),
        (lambda v: v.update(attendance={"fraction": 0.5, "by": "heads"}), "by", "members"),
        (
            lambda v: v["weights"].update(b=1e-300),
            "decisions.vote.weights:",
            "too many decimals",
        ),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_misuse_is_a_located_error(edit: Any, where: str, says: str) -> None:
    text = _error(edit)
    assert where in text and says in text, text


def test_all_problems_of_a_decision_at_once() -> None:
    def edit(v: dict[str, Any]) -> None:
        v["weights"]["nobody"] = 1
        v["abstain"] = ["away"]
        v["attendance"] = {"fraction": 2}

    lines = _error(edit).splitlines()
    assert len(lines) == 3, lines


def test_schema_carries_the_new_fields() -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    props = schema["$defs"]["Decision"]["properties"]
    assert {"weights", "abstain", "attendance"} <= set(props)
    validator = jsonschema.Draft202012Validator(schema)
    good = json.loads(json.dumps(scenario(PROBS, {"fraction": "2/3"}, weights={"chair": 2})))
    good["decisions"]["vote"]["attendance"] = {"fraction": "1/2", "by": "members"}
    assert [e.message for e in validator.iter_errors(good)] == []
    for bad_edit in (
        lambda v: v["weights"].update(b=-1),
        lambda v: v["attendance"].update(by="heads"),
        lambda v: v.update(attendance={"at_least": 0}),
        lambda v: v["attendance"].update(extra=1),
    ):
        bad = json.loads(json.dumps(good))
        bad_edit(bad["decisions"]["vote"])
        assert not validator.is_valid(bad)


@pytest.mark.parametrize("value", [None, [], {}, "x", math.inf, True, [[1]], {"a": [1]}, -1])
def test_decision_checks_survive_any_shape_of_the_new_fields(value: Any) -> None:
    data = scenario(PROBS, {"fraction": "2/3"}, weights={"chair": 2}, attendance={"at_least": 2})
    vote = data["decisions"]["vote"]
    for edit in (
        lambda v: v.__setitem__("weights", value),
        lambda v: v["weights"].__setitem__("chair", value),
        lambda v: v.__setitem__("abstain", value),
        lambda v: v["abstain"].__setitem__(0, value),
        lambda v: v.__setitem__("attendance", value),
        lambda v: v["attendance"].__setitem__("at_least", value),
        lambda v: v["attendance"].__setitem__("by", value),
    ):
        bad = copy.deepcopy(data)
        edit(bad["decisions"]["vote"])
        try:  # an error of the user's, never a crash of the checks
            sim.scenario_from_dict(bad)
        except InputError:
            pass
    assert vote["weights"] == {"chair": 2}  # the original is untouched
