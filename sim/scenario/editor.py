"""The JSON Schema of scenario files, for editors (yaml-language-server and the like)."""

from __future__ import annotations

from typing import Any

from sim.scenario.schema import Scenario


def json_schema() -> dict[str, Any]:
    """JSON Schema of scenario files, with bounds, enums and discriminators."""
    schema = Scenario.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "stancesim scenario"
    return schema
