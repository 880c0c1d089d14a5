"""What every part of the schema shares: the strict base class, ids, limits."""

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from sim.distributions import MAX_HOURS

Id = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]
UNRESOLVED = "unresolved"
#: Most ticks a horizon may hold (the engine keeps per-tick state for each).
MAX_TICKS = 100_000
#: Most positions an agent may declare.
MAX_POSITIONS = 1_000
#: Longest chain of signals that refer to signals.
MAX_SIGNAL_DEPTH = 100
#: Largest magnitude of any number in a scenario: past it, sums and sorting
#: lose all precision (a threshold of 1e300 counted every employee as signed).
MAX_MAGNITUDE = 1e12
#: Range of the rule parameters that an event may change and that have one.
PARAM_RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("HazardRule", "rate"): (0.0, math.inf),
    ("LogisticRule", "rate"): (0.0, 1.0),
    ("LogisticRule", "slope"): (0.0, math.inf),
    ("ThresholdRule", "spontaneous"): (0.0, 1.0),
    ("AveragingRule", "stubbornness"): (0.0, 1.0),
    ("BoundedConfidenceRule", "confidence"): (0.0, math.inf),
    ("BoundedConfidenceRule", "convergence"): (0.0, 0.5),
}
Time = Annotated[float, Field(ge=0, le=MAX_HOURS)]


class Strict(BaseModel):
    """Base of every schema object: unknown keys are errors, every number is finite."""

    # defer_build: a validator is built on a model's first use, not when its class is
    # defined; validating a Scenario then builds one validator for the whole schema
    # (nested models inline) instead of one per class: about 0.03 s less CPU at start-up
    # (issue 14, item 4; benchmarks/bench_startup.py)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


def one_or_many(schema: dict[str, Any]) -> None:
    """JSON Schema of a list field that also accepts one item on its own (``trigger: {...}``)."""
    branches = schema.get("anyOf", [schema])  # an optional field: [list, null]
    for i, branch in enumerate(list(branches)):
        if branch.get("type") == "array" and "items" in branch:
            array = {
                k: branch.pop(k) for k in ("type", "items", "minItems", "maxItems") if k in branch
            }
            if branch is schema:
                schema["anyOf"] = [array["items"], array]
            else:
                branches[i : i + 1] = [array["items"], array]
            return
