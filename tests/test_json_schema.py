"""``stancesim schema``: an editor validating against it flags what the loader refuses.

Documents are checked with the ``jsonschema`` package against the emitted
schema, independently of pydantic: the shipped scenarios pass, and each bad
document (a probability of 1.5, an unknown kind, a key typo...) fails.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from conftest import ROOT
from typer.testing import CliRunner

from sim.cli import app
from sim.yamlio import load_file, plain

SHIPPED = [
    p
    for p in sorted((ROOT / "scenarios").glob("*.yaml"))
    if plain(load_file(p).data).get("kind") == "scenario"
]
TINY = ROOT / "benchmarks" / "tiny.yaml"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _as_json(path: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(plain(load_file(path).data), default=str))
    return data


@pytest.mark.parametrize("path", [*SHIPPED, TINY], ids=lambda p: p.name)
def test_shipped_scenarios_pass_the_schema(
    path: Any, validator: jsonschema.protocols.Validator
) -> None:
    errors = [e.message for e in validator.iter_errors(_as_json(path))]
    assert errors == []


def _rule(d: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = d["agents"]["a"]["rules"][0]
    return rule


BAD: dict[str, Callable[[dict[str, Any]], None]] = {
    "probability 1.5": lambda d: d["agents"]["a"]["rules"].__setitem__(
        0,
        {"kind": "logistic", "to": "yes", "pressure": "push", "resistance": 0.2, "rate": 1.5},
    ),
    "uniform past 1 for a probability": lambda d: d["agents"]["a"]["rules"].__setitem__(
        0,
        {
            "kind": "logistic",
            "to": "yes",
            "pressure": "push",
            "resistance": 0.2,
            "rate": {"uniform": [0.2, 1.5]},
        },
    ),
    "negative rate": lambda d: _rule(d).__setitem__("rate", -0.1),
    "unknown rule kind": lambda d: _rule(d).__setitem__("kind", "hazzard"),
    "unknown agent kind": lambda d: d["agents"]["a"].__setitem__("kind", "person"),
    "unknown trigger kind": lambda d: d["outcomes"]["lapsed"]["trigger"].__setitem__(
        "kind", "dead"
    ),
    "key typo": lambda d: _rule(d).__setitem__("rtae", _rule(d).pop("rate")),
    "negative time": lambda d: d["outcomes"]["lapsed"]["trigger"].__setitem__("at", -1),
    "time past the limit": lambda d: d["outcomes"]["lapsed"]["trigger"].__setitem__("at", 2e6),
    "zero group quorum": lambda d: d["decisions"]["vote"]["quorum"].__setitem__("at_least", 0),
    "id with a space": lambda d: d["agents"].__setitem__("a b", d["agents"].pop("a")),
    "rule id that is a number": lambda d: _rule(d).__setitem__("id", 3),
    "rule id that is digits": lambda d: _rule(d).__setitem__("id", "3"),
    "condition with an unknown key": lambda d: d["outcomes"]["lapsed"].__setitem__(
        "trigger", {"kind": "condition", "condition": {"all": [{"sgnal": "push", "above": 1}]}}
    ),
    "count term without a position": lambda d: d["signals"]["push"].append({"count": "board"}),
}


def _with_new_constructs(d: dict[str, Any]) -> None:
    """Rule ids, a change effect by id, conditions nested, a count term: all valid."""
    _rule(d)["id"] = "joins"
    d["signals"]["push"].append({"count": "board", "position": "yes", "weight": 0.1})
    yes_a = {"agent": "a", "position": "yes"}
    d["events"] = {
        "nudge": {
            "trigger": {
                "kind": "when",
                "condition": {"any": [{"not": yes_a}, {"agent": "b", "position": ["no", "yes"]}]},
            },
            "effects": [
                {"kind": "change", "agent": "a", "rule": "joins", "param": "rate", "add": 0.1}
            ],
        }
    }
    d["outcomes"]["lapsed"]["trigger"] = [
        {"kind": "deadline", "at": 10},
        {
            "kind": "condition",
            "condition": {"all": [yes_a, {"count": "board", "position": "yes", "at_least": 2}]},
        },
    ]


def test_the_new_constructs_pass_the_schema_and_the_loader(
    validator: jsonschema.protocols.Validator,
) -> None:
    from sim.scenario import scenario_from_dict

    doc = _as_json(TINY)
    _with_new_constructs(doc)
    assert [e.message for e in validator.iter_errors(doc)] == []
    scenario_from_dict(doc)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_documents_fail_the_schema(
    name: str, validator: jsonschema.protocols.Validator
) -> None:
    good = _as_json(TINY)
    assert validator.is_valid(good)
    bad = copy.deepcopy(good)
    BAD[name](bad)
    assert not validator.is_valid(bad), name


@pytest.mark.parametrize("rate", [0.5, {"uniform": [0.2, 0.9]}, {"choice": [0.0, 1.0]}])
def test_the_same_edits_within_bounds_pass(
    rate: Any, validator: jsonschema.protocols.Validator
) -> None:
    # the control for the bounds above: only the value out of range makes them fail
    doc = _as_json(TINY)
    doc["agents"]["a"]["rules"][0] = {
        "kind": "logistic",
        "to": "yes",
        "pressure": "push",
        "resistance": 0.2,
        "rate": rate,
    }
    assert [e.message for e in validator.iter_errors(doc)] == []


def test_kinds_are_enums_with_a_discriminator() -> None:
    result = CliRunner().invoke(app, ["schema"])
    defs = json.loads(result.stdout)["$defs"]
    assert defs["HazardRule"]["properties"]["kind"]["const"] == "hazard"
    rules = defs["Individual"]["properties"]["rules"]["items"]
    assert rules["discriminator"]["propertyName"] == "kind"
    assert set(rules["discriminator"]["mapping"]) == {
        "fixed",
        "scheduled",
        "threshold",
        "hazard",
        "logistic",
        "averaging",
        "bounded_confidence",
    }
    param = defs["ChangeParam"]["properties"]["param"]
    assert set(param["enum"]) >= {"resistance", "rate", "threshold"}
