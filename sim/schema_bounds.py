"""JSON Schema bounds of a random parameter (see :mod:`sim.distributions`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

#: distributions whose listed values must all lie within a parameter's bounds
_BOUNDED_LISTS = {"Uniform": "uniform", "Triangular": "triangular", "Choice": "choice"}


@dataclass(frozen=True)
class Bounds:
    """JSON Schema bounds of a parameter, so that an editor flags a value out of range.

    Validation itself is done by :func:`within` (and the time check); this
    only writes ``minimum``/``maximum`` into the number branch of the emitted
    schema, and into the lists of values of the distributions that list them.
    """

    minimum: float
    maximum: float

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Add the bounds to the schema pydantic generates."""
        schema = handler(core_schema)
        limits: dict[str, float] = {}
        if math.isfinite(self.minimum):
            limits["minimum"] = self.minimum
        if math.isfinite(self.maximum):
            limits["maximum"] = self.maximum
        branches = schema.get("oneOf", [])
        for i, branch in enumerate(branches):
            if branch.get("type") == "number":
                branch.update(limits)
            if "$ref" not in branch:
                continue
            title = handler.resolve_ref_schema(branch).get("title")
            if title in _BOUNDED_LISTS:
                values = {"properties": {_BOUNDED_LISTS[title]: {"items": limits}}}
                branches[i] = {"allOf": [branch, values]}
        return schema
