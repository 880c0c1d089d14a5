"""Signals, conditions, events, decisions and outcomes: what agents react to and how runs end."""

from fractions import Fraction
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    Tag,
    field_serializer,
    field_validator,
    model_validator,
)

from sim.distributions import MAX_HOURS, HoursOrNever, Param
from sim.scenario.base import MAX_MAGNITUDE, Id, Strict, Time, one_or_many
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
    """At a fixed or random time (first tick >= it); with ``probability``, only maybe.

    With ``probability: P`` each replicate draws whether the event comes at
    all (with probability P) and, if it does, its time from ``time``; else it
    never happens. P is the probability that it happens within the horizon
    when ``time`` lies within it.
    """

    kind: Literal["at"]
    time: HoursOrNever
    probability: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Probability that the event comes at all (else never); default: it comes.",
        exclude_if=lambda v: v is None,
    )


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


_SIZE = (
    "A number, or a distribution: the size is then drawn once per replicate when the "
    "scenario is set up (after every other draw) and is the same at each firing."
)


class AddOffset(Strict):
    """Add to the offset of an agent's threshold/hazard/logistic rules.

    ``add`` may be a distribution, drawn as for :class:`ChangeParam`.
    """

    kind: Literal["offset"]
    agent: str
    add: Param = Field(description=_SIZE)


class ChangeParam(Strict):
    """Change a numeric rule parameter of an agent: exactly one of set, add, scale.

    The amount may be a distribution (``add: {uniform: [-0.1, 0]}``): each
    replicate draws its size once, when the scenario is set up, from its block's
    stream after every other set-up draw (so a scenario without random sizes
    draws as before), and a recurring event applies that same size each time.
    A random size applies to parameters held once per replicate, not to a
    population's per-person values.

    ``param: weights`` with ``weight: NAME`` changes the weight of ``NAME`` in
    an averaging rule (kept in [0, 1]); the other weights are then rescaled in
    proportion so that they still sum to 1 (shared equally when they were all 0).
    """

    kind: Literal["change"]
    agent: str
    param: Literal[
        "resistance",
        "rate",
        "slope",
        "spontaneous",
        "offset",
        "threshold",
        "stubbornness",
        "cutoff",
        "confidence",
        "convergence",
        "weights",
    ]
    weight: str | None = Field(
        None,
        description="With param: weights, the name whose weight in the averaging rule changes.",
        exclude_if=lambda v: v is None,
    )
    rule: Annotated[int, Field(ge=0)] | Id | None = Field(
        None, description="The rule's id, or its index in the agent's rules (default: all)."
    )
    set: Param | None = Field(None, description=_SIZE)
    add: Param | None = Field(None, description=_SIZE)
    scale: Param | None = Field(None, description=_SIZE)

    @model_validator(mode="after")
    def _one(self) -> Self:
        given = [k for k in ("set", "add", "scale") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"change needs exactly one of set, add, scale; got {given}")
        if (self.param == "weights") != (self.weight is not None):
            raise ValueError("param: weights goes with weight: NAME (the weight it changes)")
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
def _rational(v: str | float) -> str | float:
    """A fraction in (0, 1], written as a number or a rational like ``2/3``."""
    try:
        q = Fraction(str(v))
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"fraction must be a rational like 2/3, got {v!r}") from None
    if not 0 < q <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {v}")
    return v


class AtLeast(Strict):
    """At least ``at_least`` weight in the motion's position (members, when no weights)."""

    at_least: float = Field(gt=0, le=MAX_MAGNITUDE)

    @field_serializer("at_least")
    def _whole(self, v: float) -> float | int:
        # a whole number dumps as it did when it had to be one: the hash stays
        return int(v) if v.is_integer() else v


class FractionQuorum(Strict):
    """At least this fraction of the weight present, compared exactly as a rational."""

    fraction: str | float

    @field_validator("fraction")
    @classmethod
    def _rational(cls, v: str | float) -> str | float:
        return _rational(v)

    @property
    def rational(self) -> Fraction:
        """The quorum as an exact fraction."""
        return Fraction(str(self.fraction))


class Unanimous(Strict):
    """All the weight present in the motion's position (``fraction: 1``)."""

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


class Attendance(Strict):
    """Who must be present (in no ``absent`` position) for a vote to count at all.

    Exactly one of ``at_least`` (an amount) and ``fraction`` (of all the
    members' weight, or of all the members with ``by: members``).
    """

    at_least: float | None = Field(None, gt=0, le=MAX_MAGNITUDE)
    fraction: str | float | None = None
    by: Literal["weight", "members"] = Field(
        "weight", description="Count the weight present (default) or the members present."
    )

    @field_validator("fraction")
    @classmethod
    def _rational(cls, v: str | float | None) -> str | float | None:
        return None if v is None else _rational(v)

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.at_least is None) == (self.fraction is None):
            raise ValueError("attendance needs exactly one of at_least and fraction")
        return self


def _unused(value: Any) -> bool:
    """A field added after 0.1 left at its default: out of the dump, so a hash stays."""
    return value is None or value == {} or value == []


class Schedule(Strict):
    """Vote times ``start, start + every, ...`` (hours)."""

    start: Time = 0.0
    every: float = Field(gt=0, le=MAX_HOURS)
    until: Time | None = None


class Decision(Strict):
    """A vote of a group on a motion (a position).

    Each member is absent (a position in ``absent``), abstaining (in
    ``abstain``), for (in ``motion``) or against (anything else). The motion
    passes when the present weight reaches ``attendance`` (if given), the
    weight for it reaches ``quorum`` (a fraction counts the weight present,
    abstaining members included) and no veto member is against it. See
    :mod:`sim.votes` for the exact rule.
    """

    group: str
    motion: str = Field(description="The position a member votes for by holding it.")
    schedule: Schedule | None = None
    on: str | None = Field(None, description="Event id: vote whenever it happens.")
    quorum: Quorum
    weights: dict[str, Annotated[float, Field(ge=0, le=MAX_MAGNITUDE)]] = Field(
        default_factory=dict,
        description="Weight of each member's vote (members not listed weigh 1).",
        exclude_if=_unused,
    )
    attendance: Attendance | None = Field(
        None, description="Presence needed for the vote to count at all.", exclude_if=_unused
    )
    absent: list[str] = Field(
        default_factory=list, description="Positions that leave the denominator (resigned)."
    )
    abstain: list[str] = Field(
        default_factory=list,
        description="Positions that abstain: present, in the denominator, never for the motion.",
        exclude_if=_unused,
    )
    veto: list[str] = Field(
        default_factory=list,
        description="Members whose vote against blocks the motion (not when absent or abstaining).",
    )
    description: str | None = None

    @model_validator(mode="after")
    def _when(self) -> Self:
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
    def _one(self) -> Self:
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
