"""Located errors of bounded-confidence rules: file, line, field and what was expected."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app

runner = CliRunner()


def _rule(model: str = "deffuant", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "bounded_confidence",
        "model": model,
        "to": "yes",
        "opinion": {"uniform": [0, 1]},
        "confidence": 0.3,
        **extra,
    }


def _doc() -> dict[str, Any]:
    member = {"kind": "individual", "positions": ["no", "yes"], "initial": "no"}
    return {
        "kind": "scenario",
        "name": "bc",
        "clock": {"horizon": 10},
        "agents": {
            "crowd": {
                "kind": "population",
                "size": 20,
                "positions": ["no", "yes"],
                "initial": "no",
                "rule": _rule(),
            },
            "a": {**member, "rules": [_rule()]},
            "b": {**member, "rules": [_rule()]},
            "h": {**member, "rules": [_rule("hegselmann_krause")]},
            "plain": {**member, "rules": [{"kind": "fixed"}]},
        },
        "outcomes": {"end": {"trigger": {"kind": "deadline", "at": 10}}},
    }


def _validate(tmp_path: Path, doc: dict[str, Any]) -> tuple[int, str]:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = runner.invoke(app, ["validate", str(path)])
    return result.exit_code, result.output


def _population_segments(d: dict[str, Any]) -> None:
    d["agents"]["crowd"]["segments"] = {"x": {"size": 10}, "y": {"size": 10}}


BAD: dict[str, tuple[Any, str, str]] = {
    # name: (change to the document, field the error names, words of the message)
    "convergence for hk": (
        lambda d: d["agents"]["h"]["rules"][0].update(convergence=0.3),
        "agents.h.rules.0",
        "convergence is for model deffuant only",
    ),
    "convergence above a half": (
        lambda d: d["agents"]["a"]["rules"][0].update(convergence=0.7),
        "agents.a.rules.0",
        "convergence must lie in [0, 0.5]",
    ),
    "negative confidence": (
        lambda d: d["agents"]["a"]["rules"][0].update(confidence=-0.1),
        "agents.a.rules.0",
        "must lie in [0, ∞]",
    ),
    "peer of another model": (
        lambda d: d["agents"]["a"]["rules"][0].update(peers=["b", "h"]),
        "agents.a.rules.0.peers.1",
        "peer 'h' has no bounded_confidence rule of model 'deffuant'",
    ),
    "unknown peer": (
        lambda d: d["agents"]["a"]["rules"][0].update(peers=["bb"]),
        "agents.a.rules.0.peers.0",
        "did you mean 'b'",
    ),
    "peers of a population": (
        lambda d: d["agents"]["crowd"]["rule"].update(peers=["a"]),
        "agents.crowd.rule.peers",
        "a population hears itself",
    ),
    "population with segments": (
        _population_segments,
        "agents.crowd.segments",
        "has no segments",
    ),
    "in a list of rules": (
        lambda d: d["agents"]["crowd"].update(rules=[d["agents"]["crowd"].pop("rule")]),
        "agents.crowd.rules.0.kind",
        "a population's only rule",
    ),
    "two opinions": (
        lambda d: d["agents"]["b"]["rules"].append(_rule("hegselmann_krause", to="no")),
        "agents.b.rules.1.kind",
        "one averaging or bounded_confidence rule at most",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_bounded_confidence_rules_are_located_errors(tmp_path: Path, name: str) -> None:
    change, field, words = BAD[name]
    doc = copy.deepcopy(_doc())
    change(doc)
    code, out = _validate(tmp_path, doc)
    assert code == 2, out
    assert field in out, out
    assert words in out, out
    assert "s.yaml:" in out and "Traceback" not in out


def test_the_document_itself_is_valid(tmp_path: Path) -> None:
    code, out = _validate(tmp_path, _doc())
    assert code == 0, out
