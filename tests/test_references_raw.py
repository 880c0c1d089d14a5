"""The reference checks read the raw mapping: whatever shape a field has, they never crash.

They run even when the schema fails, so every field they read may hold
anything (a list for a name, infinity for a time, null for a mapping). Each
node of each shipped scenario is replaced by each odd value in turn:
``Scenario.model_validate`` (which runs the checks) must raise a
``ValidationError`` or succeed, never anything else.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ROOT
from pydantic import ValidationError

from sim.scenario import Scenario, check_references
from sim.yamlio import load_file, plain

ODD: list[Any] = [None, [], {}, "x", math.inf, True, [[1]], {"a": [1]}, -1]
FILES = ["bench_770.yaml", "five_member_board.yaml", "union_strike.yaml", "openai_2023_11.yaml"]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*path, k)
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*path, i)
            yield from _paths(v, (*path, i))


def _replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(data)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize("name", FILES)
def test_reference_checks_survive_any_shape(name: str) -> None:
    data = plain(load_file(ROOT / "scenarios" / name).data)
    assert check_references(data) == []
    paths = list(_paths(data))
    assert len(paths) > 50
    for path in paths:
        for value in ODD:
            try:  # the checks run inside, on the raw mapping, whatever the schema says
                Scenario.model_validate(_replaced(data, path, value))
            except ValidationError:
                pass


def test_a_wrong_shape_is_left_to_the_schema() -> None:
    data = plain(load_file(ROOT / "scenarios" / "bench_770.yaml").data)
    # an agent whose kind the schema refuses: no "unknown individual" for the groups naming it
    member = next(k for k, a in data["agents"].items() if a.get("kind") == "individual")
    data["agents"][member]["kind"] = "persn"
    assert [loc for loc, _ in check_references(data)] == []
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate(data)
    assert {e["type"] for e in info.value.errors()} == {"union_tag_invalid"}
