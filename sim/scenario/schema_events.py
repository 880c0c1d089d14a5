"""Signals, conditions, events, decisions and outcomes: what agents react to and how runs end."""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, field_validator, model_validator

from sim.distributions import MAX_HOURS, HoursOrNever
from sim.scenario.base import Id, Strict, Time, one_or_many
from sim.scenario.schema_conditions import Condition


# ------------------------------------------------------------------- signals
class _Term(Strict):
    weight: float = 1.0


class FractionTerm(_Term):
    """Fraction of a population or group in a position."""

    fraction: str = Field(description="Population or group id.")
    position: str


class PositionTerm(_Term):
    """1 when an individual is in a position, else 0."""

    agent: str
    position: str


class CountTerm(_Term):
    """Number of a group's members in a position (a count, not a fraction)."""

    count: str = Field(description="Group id.")
    position: str


class OpinionTerm(_Term):
    """An averaging individual's opinion x(t)."""

    opinion: str


class FlagTerm(_Term):
    """1 when a flag is set or an event has happened, else 0."""

    flag: str


class CurveTerm(_Term):
    """A source's curve at the current tick."""

    curve: str


class SignalTerm(_Term):
    """Another signal."""

    signal: str


class ConstantTerm(Strict):
    """A constant."""

    constant: float


_TERM_KEYS = ("fraction", "count", "agent", "opinion", "flag", "curve", "signal", "constant")


def _term_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        return next((k for k in _TERM_KEYS if k in fields), None)
    if isinstance(value, dict):
        return next((k for k in _TERM_KEYS if k in value), None)
    return None


Term = Annotated[
    Annotated[FractionTerm, Tag("fraction")]
    | Annotated[CountTerm, Tag("count")]
    | Annotated[PositionTerm, Tag("agent")]
    | Annotated[OpinionTerm, Tag("opinion")]
    | Annotated[FlagTerm, Tag("flag")]
    | Annotated[CurveTerm, Tag("curve")]
    | Annotated[SignalTerm, Tag("signal")]
    | Annotated[ConstantTerm, Tag("constant")],
    Discriminator(
        _term_tag,
        custom_error_type="term",
        custom_error_message=(
            "expected a term with one of the keys fraction, count, agent, opinion, flag, "
            "curve, signal, constant"
        ),
    ),
]


# -------------------------------------------------------------------- events
class AtTrigger(Strict):
    """At a fixed or random time (first tick >= it)."""

    kind: Literal["at"]
    time: HoursOrNever


class EveryTrigger(Strict):
    """Recurring: at ``start``, ``start + every``, ... up to ``until``."""

    kind: Literal["every"]
    start: Time = 0.0
    every: float = Field(
        gt=0, le=MAX_HOURS, description="Hours between occurrences; a multiple of tick."
    )
    until: Time | None = None


class WhenTrigger(Strict):
    """When a condition first holds (effects from the next tick)."""

    kind: Literal["when"]
    condition: Condition


EventTrigger = Annotated[AtTrigger | EveryTrigger | WhenTrigger, Field(discriminator="kind")]


class SetFlag(Strict):
    """Set or clear a declared flag."""

    kind: Literal["set_flag"]
    flag: str
    value: bool = True


class AddOffset(Strict):
    """Add to the offset of an agent's threshold/hazard/logistic rules."""

    kind: Literal["offset"]
    agent: str
    add: float


class ChangeParam(Strict):
    """Change a numeric rule parameter of an agent: exactly one of set, add, scale."""

    kind: Literal["change"]
    agent: str
    param: Literal["resistance", "rate", "slope", "spontaneous", "offset", "threshold"]
    rule: Annotated[int, Field(ge=0)] | Id | None = Field(
        None, description="The rule's id, or its index in the agent's rules (default: all)."
    )
    set: float | None = None
    add: float | None = None
    scale: float | None = None

    @model_validator(mode="after")
    def _one(self) -> ChangeParam:
        given = [k for k in ("set", "add", "scale") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"change needs exactly one of set, add, scale; got {given}")
        return self


class Force(Strict):
    """Put an individual in a position."""

    kind: Literal["force"]
    agent: str
    position: str


class TraceLine(Strict):
    """Write a line to the trace."""

    kind: Literal["trace"]
    message: str


Effect = Annotated[
    SetFlag | AddOffset | ChangeParam | Force | TraceLine, Field(discriminator="kind")
]


class Event(Strict):
    """Something that happens; its id is also a flag (1 once it has happened)."""

    trigger: EventTrigger
    effects: list[Effect] = Field(default_factory=list)
    description: str | None = None


# ----------------------------------------------------------------- decisions
class AtLeast(Strict):
    """At least ``at_least`` members in the motion's position."""

    at_least: int = Field(ge=1)


class FractionQuorum(Strict):
    """At least this fraction of present members, compared exactly as a rational."""

    fraction: str | float

    @field_validator("fraction")
    @classmethod
    def _rational(cls, v: str | float) -> str | float:
        try:
            q = Fraction(str(v))
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"fraction must be a rational like 2/3, got {v!r}") from None
        if not 0 < q <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {v}")
        return v

    @property
    def rational(self) -> Fraction:
        """The quorum as an exact fraction."""
        return Fraction(str(self.fraction))


class Unanimous(Strict):
    """Every present member in the motion's position."""

    unanimous: Literal[True]


def _quorum_tag(value: Any) -> str | None:
    keys = ("at_least", "fraction", "unanimous")
    if isinstance(value, BaseModel):
        return next((k for k in keys if k in type(value).model_fields), None)
    if isinstance(value, dict):
        return next((k for k in keys if k in value), None)
    return None


Quorum = Annotated[
    Annotated[AtLeast, Tag("at_least")]
    | Annotated[FractionQuorum, Tag("fraction")]
    | Annotated[Unanimous, Tag("unanimous")],
    Discriminator(
        _quorum_tag,
        custom_error_type="quorum",
        custom_error_message="expected {at_least: K}, {fraction: 2/3} or {unanimous: true}",
    ),
]


class Schedule(Strict):
    """Vote times ``start, start + every, ...`` (hours)."""

    start: Time = 0.0
    every: float = Field(gt=0, le=MAX_HOURS)
    until: Time | None = None


class Decision(Strict):
    """A vote of a group on a motion (a position)."""

    group: str
    motion: str = Field(description="The position a member votes for by holding it.")
    schedule: Schedule | None = None
    on: str | None = Field(None, description="Event id: vote whenever it happens.")
    quorum: Quorum
    absent: list[str] = Field(
        default_factory=list, description="Positions that leave the denominator (resigned)."
    )
    veto: list[str] = Field(
        default_factory=list, description="Members whose vote against blocks the motion."
    )
    description: str | None = None

    @model_validator(mode="after")
    def _when(self) -> Decision:
        if (self.schedule is None) == (self.on is None):
            raise ValueError("a decision needs exactly one of schedule and on")
        return self


# ------------------------------------------------------------------ outcomes
class DecisionTrigger(Strict):
    """The decision passed."""

    kind: Literal["decision"]
    decision: str


class DeadlineTrigger(Strict):
    """A time is reached: ``at`` hours, or an individual's ``patience``."""

    kind: Literal["deadline"]
    at: HoursOrNever | None = None
    patience: list[str] | None = Field(
        None,
        description="Individuals whose patience is the deadline (the first to run out).",
        json_schema_extra=one_or_many,
    )

    @field_validator("patience", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _one(self) -> DeadlineTrigger:
        if (self.at is None) == (self.patience is None):
            raise ValueError("a deadline needs exactly one of at and patience")
        return self


class ConditionTrigger(Strict):
    """A condition holds (on signals, counts, positions, or all/any/not of them)."""

    kind: Literal["condition"]
    condition: Condition


class EventOutcomeTrigger(Strict):
    """An event happened."""

    kind: Literal["event"]
    event: str


OutcomeTrigger = Annotated[
    DecisionTrigger | DeadlineTrigger | ConditionTrigger | EventOutcomeTrigger,
    Field(discriminator="kind"),
]


class Outcome(Strict):
    """An ending; the first outcome (in file order) whose trigger holds ends the replicate.

    ``trigger`` may be a list: the outcome happens when any of them holds.
    """

    trigger: list[OutcomeTrigger] = Field(min_length=1, json_schema_extra=one_or_many)
    description: str | None = None

    @field_validator("trigger", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, dict | BaseModel) else v
