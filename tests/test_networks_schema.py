"""A population's ``network``: located errors, the JSON Schema, the missing-networkx message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

import sim.scenario.schema_networks as SN
from sim.cli import app

runner = CliRunner()


def _doc(network: Any, size: int = 50, support: str = "peers") -> dict[str, Any]:
    return {
        "kind": "scenario",
        "name": "net",
        "clock": {"horizon": 10},
        "agents": {
            "staff": {
                "kind": "population",
                "size": size,
                "positions": ["silent", "signed"],
                "initial": "silent",
                "network": network,
                "rule": {"kind": "threshold", "to": "signed", "support": support,
                         "threshold": 0.3},
            }
        },
        "signals": {
            "peers": [{"fraction": "staff", "position": "signed"}],
            "other": [{"constant": 0.5}],
        },
        "outcomes": {"never": {"trigger": {"kind": "deadline", "at": 10}}},
    }  # fmt: skip


WS = {"generator": "watts_strogatz", "params": {"k": 4, "p": 0.1}, "graph_seed": 7}


def _validate(tmp_path: Path, doc: dict[str, Any]) -> tuple[int, str]:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = runner.invoke(app, ["validate", str(path)])
    return result.exit_code, result.output


def _line_of(tmp_path: Path, key: str) -> int:
    lines = (tmp_path / "s.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, start=1) if line.strip().startswith(key))


BAD: dict[str, tuple[Any, str, str]] = {
    # name: (network, field the error names, words of the message)
    "unknown generator": ({**WS, "generator": "watts"}, "network", "allowed: watts_strogatz"),
    "k not below size": (
        {**WS, "params": {"k": 50, "p": 0.1}},
        "network.params.k",
        "less than the population's size 50",
    ),
    "bad probability": ({**WS, "params": {"k": 4, "p": 1.5}}, "network", "less than or equal to 1"),
    "no seed": ({"generator": "complete"}, "network", "missing graph_seed"),
    "seed and fresh": ({**WS, "fresh_graph_per_replicate": True}, "network", "not both"),
    "blocks not adding up": (
        {"generator": "stochastic_block_model", "graph_seed": 1,
         "params": {"sizes": [20, 20], "p": [[0.2, 0.01], [0.01, 0.2]]}},
        "network.params.sizes",
        "add up to 40, not the size 50",
    ),
    "asymmetric blocks": (
        {"generator": "stochastic_block_model", "graph_seed": 1,
         "params": {"sizes": [25, 25], "p": [[0.2, 0.01], [0.02, 0.2]]}},
        "network",
        "symmetric",
    ),
    "too many edges": (
        {"generator": "erdos_renyi", "graph_seed": 1, "params": {"p": 0.01}},
        "network",
        "at most",
    ),
    "fresh graphs too big": (
        {"generator": "watts_strogatz", "params": {"k": 10, "p": 0.1},
         "fresh_graph_per_replicate": True},
        "network",
        "drawn for every replicate",
    ),
    "missing edge file": ({"edges": "nowhere.txt"}, "network.edges", "cannot read the edge list"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_networks_are_located_errors(tmp_path: Path, name: str) -> None:
    network, field, words = BAD[name]
    size = {"too many edges": 100_000, "fresh graphs too big": 50_000}.get(name, 50)
    code, out = _validate(tmp_path, _doc(network, size))
    assert code == 2, out
    assert f"agents.staff.{field}" in out, out
    assert words in out, out
    assert "s.yaml:" in out and "Traceback" not in out


def test_an_edge_file_names_the_line_of_its_problem(tmp_path: Path) -> None:
    (tmp_path / "g.txt").write_text("0 1\n1 2\n# a comment\n2 x\n")
    code, out = _validate(tmp_path, _doc({"edges": "g.txt"}, 5))
    assert code == 2
    assert "g.txt line 4: expected two person numbers" in out
    assert f"s.yaml:{_line_of(tmp_path, 'edges:')}" in out, out


def test_an_edge_file_naming_someone_outside_the_population(tmp_path: Path) -> None:
    (tmp_path / "g.txt").write_text("0 1\n1 2\n2 7\n")
    code, out = _validate(tmp_path, _doc({"edges": "g.txt"}, 5))
    assert code == 2
    assert "g.txt line 3: person 7 is not one of the 5 members of 'staff'" in out, out


def test_a_signal_that_never_hears_the_population_is_an_error(tmp_path: Path) -> None:
    code, out = _validate(tmp_path, _doc(WS, 50, support="other"))
    assert code == 2
    assert "agents.staff.rule.support" in out and "the network changes nothing" in out, out


def test_networkx_names_and_aliases_are_the_same_graph(tmp_path: Path) -> None:
    code, out = _validate(tmp_path, _doc({**WS, "generator": "watts_strogatz_graph"}))
    assert code == 0, out


def test_without_networkx_a_generator_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SN, "find_spec", lambda name: None)
    code, out = _validate(tmp_path, _doc(WS))
    assert code == 2
    assert "pip install 'stancesim[networks]'" in out and "agents.staff.network" in out, out


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    return jsonschema.Draft202012Validator(json.loads(result.stdout))


@pytest.mark.parametrize(
    "network",
    [WS, {"edges": "g.txt"}, {"generator": "complete", "fresh_graph_per_replicate": True},
     {"generator": "stochastic_block_model", "graph_seed": 2,
      "params": {"sizes": [25, 25], "p": [[0.2, 0.01], [0.01, 0.2]]}}],
)  # fmt: skip
def test_networks_pass_the_json_schema(
    network: Any, validator: jsonschema.protocols.Validator
) -> None:
    assert [e.message for e in validator.iter_errors(_doc(network))] == []


@pytest.mark.parametrize(
    "network",
    [{**WS, "params": {"k": 1, "p": 0.1}}, {**WS, "generator": "watts"},
     {**WS, "params": {"k": 4, "p": 0.1, "q": 1}}, {"edges": 3}],
)  # fmt: skip
def test_bad_networks_fail_the_json_schema(
    network: Any, validator: jsonschema.protocols.Validator
) -> None:
    assert not validator.is_valid(_doc(network))


def test_a_network_population_takes_a_list_of_rules_but_no_segments(tmp_path: Path) -> None:
    doc = _doc(WS)
    staff = doc["agents"]["staff"]
    staff["rules"] = [staff.pop("rule")]
    code, out = _validate(tmp_path, doc)
    assert code == 0, out
    staff["segments"] = {"a": {"size": 20}, "b": {"size": 30}}
    code, out = _validate(tmp_path, doc)
    assert code == 2 and "takes no segments" in out, out
