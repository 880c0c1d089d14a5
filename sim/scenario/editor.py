"""The JSON Schema of scenario files, for editors (yaml-language-server and the like)."""

from __future__ import annotations

from typing import Any

from sim.scenario.schema import Scenario


def json_schema() -> dict[str, Any]:
    """JSON Schema of scenario files, with bounds, enums and discriminators.

    Bounds of parameters come from :class:`sim.distributions.Bounds`, enums and
    discriminators from the models' ``Literal`` fields; ids used as keys are
    held to their pattern here (pydantic leaves other keys unchecked).
    """
    schema = Scenario.model_json_schema(by_alias=True)
    _close_id_keys(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "stancesim scenario"
    return schema


def _close_id_keys(node: Any) -> None:
    """A mapping keyed by ids accepts no key outside the id pattern."""
    if isinstance(node, dict):
        patterns = node.get("patternProperties")
        if isinstance(patterns, dict) and len(patterns) == 1:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _close_id_keys(value)
    elif isinstance(node, list):
        for value in node:
            _close_id_keys(value)
