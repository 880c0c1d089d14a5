"""Curves of sources and the rules by which agents switch position."""

import itertools
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    model_serializer,
    model_validator,
)

from sim.distributions import (
    Bounds,
    Hours,
    HoursOrNever,
    NonNegative,
    Param,
    Probability,
    within,
)
from sim.scenario.base import Id, Strict


# -------------------------------------------------------------------- curves
class ConstantCurve(Strict):
    """The same value at every time."""

    kind: Literal["constant"]
    value: Param


class StepCurve(Strict):
    """``before`` until time ``at``, ``after`` from then on."""

    kind: Literal["step"]
    at: Hours
    before: Param = 0.0
    after: Param = 1.0


class RampCurve(Strict):
    """Linear from ``start_value`` at ``start`` to ``end_value`` at ``end``, flat outside."""

    kind: Literal["ramp"]
    start: Hours = 0.0
    end: Hours
    start_value: Param = 0.0
    end_value: Param = 1.0


class PiecewiseCurve(Strict):
    """Linear interpolation between ``[time, value]`` points, flat outside them."""

    kind: Literal["piecewise"]
    points: list[tuple[float, float]] = Field(min_length=1)

    @model_validator(mode="after")
    def _increasing(self) -> Self:
        times = [t for t, _ in self.points]
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise ValueError(f"points need strictly increasing times, got {times}")
        return self


Curve = Annotated[
    ConstantCurve | StepCurve | RampCurve | PiecewiseCurve, Field(discriminator="kind")
]


# --------------------------------------------------------------------- rules
class _Named(Strict):
    id: Id | None = Field(
        None,
        description="A name for the rule, unique within its agent; paths and effects may use "
        "it in place of the index (agents.toner.rules.reinstate.resistance).",
    )


class _Transition(_Named):
    to: str = Field(description="Position the rule switches to.")
    from_: str | None = Field(
        None, alias="from", description="Position it switches from (default: initial)."
    )


#: The rule parameters a population may draw once per person (``per_person``).
PersonParam = Literal["threshold", "resistance", "rate", "slope", "spontaneous"]
#: Those of each rule kind, in the order a rule's parameters are drawn.
PERSON_PARAMS: dict[str, tuple[str, ...]] = {
    "threshold": ("spontaneous", "threshold"),
    "hazard": ("rate", "resistance"),
    "logistic": ("rate", "slope", "resistance"),
}


class _PopulationParams(_Transition):
    """A rule a population can follow: its parameters may be drawn once per person."""

    #: fields left out of the canonical form while unset, so that a scenario
    #: written without them keeps the hash it had before they existed
    OMIT_UNSET: ClassVar[tuple[str, ...]] = ("per_person",)

    per_person: list[PersonParam] | None = Field(
        None,
        description="In a population: parameters drawn once per person rather than once per "
        "replicate (a population's thresholds, and a random resistance, always are).",
    )

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> Any:
        return omit_unset(self, handler)


def omit_unset(model: Any, handler: SerializerFunctionWrapHandler) -> Any:
    """The model's serialized form without the fields of ``OMIT_UNSET`` that are None."""
    data = handler(model)
    if isinstance(data, dict):
        for key in model.OMIT_UNSET:
            if data.get(key, 0) is None:
                del data[key]
    return data


class FixedRule(_Named):
    """Never switches."""

    kind: Literal["fixed"]


class ScheduledRule(_Transition):
    """Switches at a fixed or random time (first tick >= it); with ``probability``, only maybe.

    With ``probability: P`` each replicate draws whether the switch comes at
    all (with probability P) and, if it does, its time from ``at``; else never.
    """

    kind: Literal["scheduled"]
    at: HoursOrNever
    probability: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Probability that the switch comes at all (else never); default: it comes.",
        exclude_if=lambda v: v is None,
    )


#: A threshold: a number or distribution (drawn per person in a population), or N values.
Thresholds = Annotated[
    Annotated[Param, Tag("param")] | Annotated[list[float], Tag("list")],
    Discriminator(lambda v: "list" if isinstance(v, list) else "param"),
]


class ThresholdRule(_PopulationParams):
    """Granovetter: switch when support + offset >= own threshold (1e-9 tolerance)."""

    kind: Literal["threshold"]
    support: str = Field(description="Name of the signal that is compared with the threshold.")
    threshold: Thresholds = Field(
        description="Threshold; in a population drawn per individual, or a list of N values."
    )
    spontaneous: Probability = Field(0.0, description="Per-hour probability of switching anyway.")
    offset: float = Field(0.0, description="Added to the support.")
    reversible: bool = Field(False, description="Switch back when support falls below threshold.")

    @model_validator(mode="after")
    def _reversible_spontaneous(self) -> Self:
        if self.reversible and self.spontaneous != 0.0:
            raise ValueError("spontaneous switching needs reversible: false")
        return self


class HazardRule(_PopulationParams):
    """Per-hour switch probability ``min(1, rate * max(0, pressure + offset - resistance))``."""

    kind: Literal["hazard"]
    pressure: str = Field(description="Name of the pressure signal.")
    resistance: Param = Field(description="Pressure needed before switching becomes possible.")
    rate: NonNegative = Field(description="Per-hour probability per unit of excess pressure.")
    offset: float = Field(0.0, description="Added to the pressure.")
    reversible: bool = Field(
        False, description="Switch back at rate * max(0, resistance - pressure)."
    )


class LogisticRule(_PopulationParams):
    """Per-hour probability ``rate / (1 + exp(-slope * (pressure + offset - resistance)))``."""

    kind: Literal["logistic"]
    pressure: str
    resistance: Param
    rate: Probability = Field(description="Largest per-hour probability.")
    slope: NonNegative = Field(10.0, description="Steepness of the logistic curve.")
    offset: float = 0.0
    reversible: bool = Field(
        False, description="Switch back at rate / (1 + exp(slope * (pressure - resistance)))."
    )


class AveragingRule(_Transition):
    """Friedkin-Johnsen opinion x(t+1) = s x(0) + (1 - s) sum_j w_j x_j(t); position by cut-off.

    Keys of ``weights`` are individuals (their opinion: an averaging agent's x,
    otherwise 1 when in this rule's ``to`` position, else 0) or signal names.
    """

    kind: Literal["averaging"]
    opinion: Probability = Field(description="Initial opinion x(0) in [0, 1].")
    stubbornness: Probability = Field(description="Weight s on the initial opinion.")
    weights: dict[str, float] = Field(min_length=1, description="Row-stochastic weights.")
    cutoff: float = Field(0.5, description="In the `to` position while x >= cutoff.")
    reversible: bool = True

    @model_validator(mode="after")
    def _stochastic(self) -> Self:
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("weights must be >= 0")
        total = sum(self.weights.values())
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"weights must sum to 1, they sum to {total:g}")
        return self


class BoundedConfidenceRule(_Transition):
    """Bounded-confidence opinion dynamics (Deffuant or Hegselmann-Krause); position by cut-off.

    ``deffuant``: each tick, ``encounters`` pairs meet one after the other; two
    whose opinions differ by less than ``confidence`` each move ``convergence``
    of the way towards the other. ``hegselmann_krause``: each tick everyone
    moves at once to the mean of the opinions within ``confidence`` of their
    own (their own included). An individual hears its ``peers``; a population
    hears itself (any two persons may meet). In the ``to`` position while the
    opinion is at least ``cutoff``.
    """

    OMIT_UNSET: ClassVar[tuple[str, ...]] = ("convergence", "encounters", "peers")

    kind: Literal["bounded_confidence"]
    model: Literal["deffuant", "hegselmann_krause"]
    opinion: Param = Field(
        description="Initial opinion: per replicate for an individual, per person in a population."
    )
    confidence: NonNegative = Field(description="Confidence bound: the widest gap still heard.")
    convergence: Annotated[Param, within(0.0, 0.5, "convergence"), Bounds(0.0, 0.5)] | None = Field(
        None, description="Deffuant only: share of the gap each moves (default 0.5)."
    )
    encounters: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Deffuant only: in a population, pairs that meet per tick (default: half "
        "its size); for an individual, encounters it starts per tick (default 1).",
    )
    cutoff: float = Field(0.5, description="In the `to` position while the opinion >= cutoff.")
    reversible: bool = True
    peers: Id | list[Id] | None = Field(
        None,
        description="Individuals only: a group or a list of individuals it hears (each with a "
        "bounded_confidence rule of the same model); default: all of them.",
    )

    @model_validator(mode="before")
    @classmethod
    def _meet_half_way(cls, data: Any) -> Any:
        # Deffuant's default convergence is a value, so that events can change it
        if isinstance(data, dict) and data.get("model") == "deffuant":
            return {"convergence": 0.5, **data}
        return data

    @model_validator(mode="after")
    def _deffuant_only(self) -> Self:
        if self.model != "deffuant":
            given = [k for k in ("convergence", "encounters") if getattr(self, k) is not None]
            if given:
                raise ValueError(f"{' and '.join(given)} is for model deffuant only")
        return self

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> Any:
        return omit_unset(self, handler)


IndividualRule = Annotated[
    FixedRule
    | ScheduledRule
    | ThresholdRule
    | HazardRule
    | LogisticRule
    | AveragingRule
    | BoundedConfidenceRule,
    Field(discriminator="kind"),
]
PopulationRule = Annotated[
    FixedRule | ThresholdRule | HazardRule | LogisticRule | BoundedConfidenceRule,
    Field(discriminator="kind"),
]
