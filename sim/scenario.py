"""The scenario language: a typed schema, and loading with located errors.

Every "kind" is a tagged union (``kind: Literal[...]``) with ``extra="forbid"``;
intra-object rules live in ``model_validator(mode="after")`` and references
between objects (agents, groups, positions, signals, events) are checked in
:func:`check_references`, which knows the exact field path of each reference.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from sim.distributions import (
    MAX_HOURS,
    MIN_TICK,
    NEVER,
    Hours,
    HoursOrNever,
    NonNegative,
    Param,
    Probability,
    support,
)
from sim.errors import InputError, Problem, warn
from sim.yamlio import Located, apply_set, load_file, plain

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
}
Time = Annotated[float, Field(ge=0, le=MAX_HOURS)]


class Strict(BaseModel):
    """Base of every schema object: unknown keys are errors, every number is finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# --------------------------------------------------------------------- clock
class Clock(Strict):
    """Simulated time: ticks of ``tick`` hours up to ``horizon`` hours."""

    start: datetime | None = Field(
        None, description="Wall-clock time of t = 0, with a time zone (results then show dates)."
    )
    timezone: str | None = Field(
        None, description="IANA zone for showing dates, e.g. America/Los_Angeles."
    )
    tick: float = Field(1.0, ge=MIN_TICK, description="Length of one tick in hours.")
    horizon: float = Field(
        gt=0,
        le=MAX_HOURS,
        description=f"Simulated hours; a multiple of tick, at most {MAX_TICKS} ticks.",
    )

    @field_validator("start")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("start needs a time zone, e.g. 2023-11-17T12:00:00-08:00")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @model_validator(mode="after")
    def _whole_ticks(self) -> Clock:
        ticks = self.horizon / self.tick
        if ticks < 1 - 1e-9:
            raise ValueError(f"tick {self.tick} is longer than the horizon {self.horizon}")
        if abs(ticks - round(ticks)) > 1e-9:
            raise ValueError(
                f"horizon {self.horizon} is not a whole number of ticks of {self.tick}"
            )
        if round(ticks) > MAX_TICKS:
            raise ValueError(
                f"horizon {self.horizon} h in ticks of {self.tick} h is {round(ticks)} ticks; "
                f"at most {MAX_TICKS} are allowed (use a longer tick)"
            )
        if self.start is not None:
            try:
                end = self.start + timedelta(hours=self.horizon + 24)
                if self.timezone is not None:
                    end.astimezone(ZoneInfo(self.timezone))
            except (OverflowError, ValueError):
                raise ValueError(
                    f"start {self.start.isoformat()} plus the horizon {self.horizon} h "
                    "is past the year 9999"
                ) from None
        return self

    @property
    def n_ticks(self) -> int:
        """Number of ticks in the horizon."""
        return round(self.horizon / self.tick)


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
    def _increasing(self) -> PiecewiseCurve:
        times = [t for t, _ in self.points]
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise ValueError(f"points need strictly increasing times, got {times}")
        return self


Curve = Annotated[
    ConstantCurve | StepCurve | RampCurve | PiecewiseCurve, Field(discriminator="kind")
]


# --------------------------------------------------------------------- rules
class _Transition(Strict):
    to: str = Field(description="Position the rule switches to.")
    from_: str | None = Field(
        None, alias="from", description="Position it switches from (default: initial)."
    )


class FixedRule(Strict):
    """Never switches."""

    kind: Literal["fixed"]


class ScheduledRule(_Transition):
    """Switches at a fixed or random time (first tick >= it)."""

    kind: Literal["scheduled"]
    at: HoursOrNever


class ThresholdRule(_Transition):
    """Granovetter: switch when support + offset >= own threshold (1e-9 tolerance)."""

    kind: Literal["threshold"]
    support: str = Field(description="Name of the signal that is compared with the threshold.")
    threshold: Annotated[
        Annotated[Param, Tag("param")] | Annotated[list[float], Tag("list")],
        Discriminator(lambda v: "list" if isinstance(v, list) else "param"),
    ] = Field(description="Threshold; in a population drawn per individual, or a list of N values.")
    spontaneous: Probability = Field(0.0, description="Per-hour probability of switching anyway.")
    offset: float = Field(0.0, description="Added to the support.")
    reversible: bool = Field(False, description="Switch back when support falls below threshold.")

    @model_validator(mode="after")
    def _reversible_spontaneous(self) -> ThresholdRule:
        if self.reversible and self.spontaneous != 0.0:
            raise ValueError("spontaneous switching needs reversible: false")
        return self


class HazardRule(_Transition):
    """Per-hour switch probability ``min(1, rate * max(0, pressure + offset - resistance))``."""

    kind: Literal["hazard"]
    pressure: str = Field(description="Name of the pressure signal.")
    resistance: Param = Field(description="Pressure needed before switching becomes possible.")
    rate: NonNegative = Field(description="Per-hour probability per unit of excess pressure.")
    offset: float = Field(0.0, description="Added to the pressure.")
    reversible: bool = Field(
        False, description="Switch back at rate * max(0, resistance - pressure)."
    )


class LogisticRule(_Transition):
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
    def _stochastic(self) -> AveragingRule:
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("weights must be >= 0")
        total = sum(self.weights.values())
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"weights must sum to 1, they sum to {total:g}")
        return self


IndividualRule = Annotated[
    FixedRule | ScheduledRule | ThresholdRule | HazardRule | LogisticRule | AveragingRule,
    Field(discriminator="kind"),
]
PopulationRule = Annotated[
    FixedRule | ThresholdRule | HazardRule | LogisticRule, Field(discriminator="kind")
]


# -------------------------------------------------------------------- agents
class _Positions(Strict):
    positions: list[Id] = Field(
        min_length=1, max_length=MAX_POSITIONS, description="Declared stances."
    )
    initial: str = Field(description="Stance at t = 0.")
    description: str | None = None

    @model_validator(mode="after")
    def _initial_declared(self) -> _Positions:
        if len(set(self.positions)) != len(self.positions):
            raise ValueError(f"positions repeat a name: {self.positions}")
        if self.initial not in self.positions:
            raise ValueError(f"initial {self.initial!r} is not one of positions {self.positions}")
        return self


class Individual(_Positions):
    """A person with a discrete stance (a board member, an executive)."""

    kind: Literal["individual"]
    rules: list[IndividualRule] = Field(
        default_factory=list, description="Tried in order each tick; the first that fires wins."
    )
    patience: HoursOrNever | None = Field(
        None, description="Hours until this person walks away, or never."
    )


class Population(_Positions):
    """N exchangeable individuals (employees); the fraction in each position is observable."""

    kind: Literal["population"]
    size: int = Field(ge=1, le=100_000, description="Number of individuals N.")
    rule: PopulationRule

    @model_validator(mode="after")
    def _list_length(self) -> Population:
        if isinstance(self.rule, ThresholdRule) and isinstance(self.rule.threshold, list):
            if len(self.rule.threshold) != self.size:
                raise ValueError(
                    f"rule.threshold lists {len(self.rule.threshold)} values for size {self.size}"
                )
        return self


class Source(Strict):
    """An exogenous pressure (investors) following a time curve."""

    kind: Literal["source"]
    curve: Curve
    description: str | None = None


class Group(Strict):
    """A set of individuals that votes and is counted (the board)."""

    kind: Literal["group"]
    members: list[str] = Field(min_length=1)
    description: str | None = None


Agent = Annotated[Individual | Population | Source | Group, Field(discriminator="kind")]


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


_TERM_KEYS = ("fraction", "agent", "opinion", "flag", "curve", "signal", "constant")


def _term_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        return next((k for k in _TERM_KEYS if k in fields), None)
    if isinstance(value, dict):
        return next((k for k in _TERM_KEYS if k in value), None)
    return None


Term = Annotated[
    Annotated[FractionTerm, Tag("fraction")]
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
            "expected a term with one of the keys fraction, agent, opinion, flag, curve, "
            "signal, constant"
        ),
    ),
]


class Condition(Strict):
    """A signal compared with a value; exactly one comparison."""

    signal: str
    at_least: float | None = None
    at_most: float | None = None
    above: float | None = None
    below: float | None = None

    @model_validator(mode="after")
    def _one(self) -> Condition:
        given = [
            k for k in ("at_least", "at_most", "above", "below") if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                f"a condition needs exactly one of at_least, at_most, above, below; got {given}"
            )
        return self


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
    rule: int | None = Field(None, ge=0, description="Index in the agent's rules (default: all).")
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
        None, description="Individuals whose patience is the deadline (the first to run out)."
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
    """A condition on signals holds."""

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

    trigger: list[OutcomeTrigger] = Field(min_length=1)
    description: str | None = None

    @field_validator("trigger", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, dict | BaseModel) else v


# ------------------------------------------------------------------ scenario
class Scenario(Strict):
    """A whole scenario file (``kind: scenario``)."""

    kind: Literal["scenario"]
    name: str
    description: str | None = None
    clock: Clock
    agents: dict[Id, Agent] = Field(min_length=1)
    flags: dict[Id, bool] = Field(
        default_factory=dict, description="Declared flags, initial value."
    )
    signals: dict[Id, list[Term]] = Field(default_factory=dict)
    events: dict[Id, Event] = Field(default_factory=dict)
    decisions: dict[Id, Decision] = Field(default_factory=dict)
    outcomes: dict[Id, Outcome] = Field(min_length=1)

    def canonical(self) -> dict[str, Any]:
        """Plain-data form with every default filled in (what the hash covers)."""
        return self.model_dump(mode="json", by_alias=True)

    def sha256(self) -> str:
        """Hash of the canonical resolved scenario."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def ids(self, kind: type) -> list[str]:
        """Ids of the agents of one class, in file order."""
        return [k for k, a in self.agents.items() if isinstance(a, kind)]


# ---------------------------------------------------------------- references
def check_references(sc: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Find references to things that do not exist; return (field path, message) pairs."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    individuals = {k: a for k, a in sc.agents.items() if isinstance(a, Individual)}
    populations = {k: a for k, a in sc.agents.items() if isinstance(a, Population)}
    sources = {k for k, a in sc.agents.items() if isinstance(a, Source)}
    groups = {k: a for k, a in sc.agents.items() if isinstance(a, Group)}
    flags = set(sc.flags) | set(sc.events)

    def unknown(loc: tuple[str | int, ...], what: str, name: str, known: Any) -> None:
        known = sorted(known)
        hint = difflib.get_close_matches(name, known, n=1)
        tip = f"; did you mean {hint[0]!r}?" if hint else f" (known: {', '.join(known) or 'none'})"
        out.append((loc, f"unknown {what} {name!r}{tip}"))

    def check_position(loc: tuple[str | int, ...], agent_positions: list[str], pos: str) -> None:
        if pos not in agent_positions:
            unknown(loc, "position", pos, agent_positions)

    for name in set(sc.signals) & set(sc.agents):
        out.append((("signals", name), f"signal {name!r} has the same name as an agent"))
    if UNRESOLVED in sc.outcomes:
        out.append((("outcomes", UNRESOLVED), f"{UNRESOLVED!r} is reserved for no outcome"))

    for gid, g in groups.items():
        for i, m in enumerate(g.members):
            if m not in individuals:
                unknown(("agents", gid, "members", i), "individual", m, individuals)
        if len(set(g.members)) != len(g.members):
            out.append((("agents", gid, "members"), "a member is listed twice"))

    def check_rule(loc: tuple[str | int, ...], agent: Individual | Population, rule: Any) -> None:
        if isinstance(rule, FixedRule):
            return
        check_position((*loc, "to"), agent.positions, rule.to)
        if rule.from_ is not None:
            check_position((*loc, "from"), agent.positions, rule.from_)
        source = rule.from_ if rule.from_ is not None else agent.initial
        if source == rule.to:
            out.append(((*loc, "to"), f"rule switches from {source!r} to itself"))
        for field in ("support", "pressure"):
            name = getattr(rule, field, None)
            if name is not None and name not in sc.signals:
                unknown((*loc, field), "signal", name, sc.signals)
        if isinstance(rule, AveragingRule):
            for key in rule.weights:
                if key not in individuals and key not in sc.signals:
                    unknown(
                        (*loc, "weights", key),
                        "individual or signal",
                        key,
                        [*individuals, *sc.signals],
                    )
        if isinstance(agent, Individual) and isinstance(getattr(rule, "threshold", None), list):
            out.append(((*loc, "threshold"), "a list of thresholds is for populations only"))

    for aid, a in sc.agents.items():
        if isinstance(a, Individual):
            for i, rule in enumerate(a.rules):
                check_rule(("agents", aid, "rules", i), a, rule)
        elif isinstance(a, Population):
            check_rule(("agents", aid, "rule"), a, a.rule)
            src = getattr(a.rule, "from_", None)
            if src is not None and src != a.initial:
                out.append(
                    (
                        ("agents", aid, "rule", "from"),
                        f"a population's rule starts from its initial position {a.initial!r}",
                    )
                )

    def check_signal_ref(loc: tuple[str | int, ...], name: str) -> None:
        if name not in sc.signals:
            unknown(loc, "signal", name, sc.signals)

    loc: tuple[str | int, ...]
    for sid, terms in sc.signals.items():
        for i, t in enumerate(terms):
            loc = ("signals", sid, i)
            if isinstance(t, FractionTerm):
                if t.fraction in populations:
                    check_position(
                        (*loc, "position"), populations[t.fraction].positions, t.position
                    )
                elif t.fraction in groups:
                    group_positions = {
                        p
                        for m in groups[t.fraction].members
                        if m in individuals
                        for p in individuals[m].positions
                    }
                    check_position((*loc, "position"), sorted(group_positions), t.position)
                else:
                    unknown(
                        (*loc, "fraction"),
                        "population or group",
                        t.fraction,
                        [*populations, *groups],
                    )
            elif isinstance(t, PositionTerm):
                if t.agent in individuals:
                    check_position((*loc, "position"), individuals[t.agent].positions, t.position)
                else:
                    unknown((*loc, "agent"), "individual", t.agent, individuals)
            elif isinstance(t, OpinionTerm):
                ind = individuals.get(t.opinion)
                if ind is None or not any(isinstance(r, AveragingRule) for r in ind.rules):
                    averaging = [
                        k
                        for k, v in individuals.items()
                        if any(isinstance(r, AveragingRule) for r in v.rules)
                    ]
                    unknown((*loc, "opinion"), "averaging individual", t.opinion, averaging)
            elif isinstance(t, FlagTerm):
                if t.flag not in flags:
                    unknown((*loc, "flag"), "flag or event", t.flag, flags)
            elif isinstance(t, CurveTerm):
                if t.curve not in sources:
                    unknown((*loc, "curve"), "source", t.curve, sources)
            elif isinstance(t, SignalTerm):
                check_signal_ref((*loc, "signal"), t.signal)
    cycle = _signal_cycle(sc)
    if cycle:
        out.append(
            (("signals", cycle[0]), f"signals refer to each other in a cycle: {' -> '.join(cycle)}")
        )
    else:
        deep = _signal_depth(sc)
        if deep is not None:
            out.append(
                (
                    ("signals", deep[0]),
                    f"signal {deep[0]!r} starts a chain of more than {MAX_SIGNAL_DEPTH} signals "
                    f"referring to signals; at most {MAX_SIGNAL_DEPTH} are allowed",
                )
            )

    def check_agent_param(
        loc: tuple[str | int, ...], agent_id: str, param: str | None, rule_index: int | None
    ) -> None:
        a = sc.agents.get(agent_id)
        if not isinstance(a, Individual | Population):
            unknown(
                (*loc, "agent"), "individual or population", agent_id, [*individuals, *populations]
            )
            return
        rules = a.rules if isinstance(a, Individual) else [a.rule]
        if rule_index is not None and rule_index >= len(rules):
            out.append(
                (
                    (*loc, "rule"),
                    f"agent {agent_id!r} has {len(rules)} rule(s), no index {rule_index}",
                )
            )
            return
        chosen = rules if rule_index is None else [rules[rule_index]]
        name = param or "offset"
        if not any(name in type(r).model_fields for r in chosen):
            out.append(
                (
                    (*loc, "param" if param else "agent"),
                    f"no rule of {agent_id!r} has a parameter {name!r}",
                )
            )
        if isinstance(a, Population) and name == "threshold":
            out.append(
                (
                    (*loc, "param"),
                    "a population's thresholds are per individual and cannot be changed",
                )
            )
        eff = _effect_at(sc, loc)
        if not isinstance(eff, ChangeParam):
            return
        for r in chosen:
            bounds = PARAM_RANGES.get((type(r).__name__, name))
            if bounds is None:
                continue
            lo, hi = bounds
            span = f"[{lo:g}, {hi:g}]".replace("inf", "∞")
            if eff.set is not None and not lo <= eff.set <= hi:
                out.append(
                    ((*loc, "set"), f"{name} of {agent_id!r} must lie in {span}, got {eff.set}")
                )
                return
            if eff.scale is not None and eff.scale < 0:
                out.append(
                    (
                        (*loc, "scale"),
                        f"{name} of {agent_id!r} must lie in {span}; "
                        f"a negative scale {eff.scale} leaves it",
                    )
                )
                return

    for eid, e in sc.events.items():
        if isinstance(e.trigger, WhenTrigger):
            check_signal_ref(
                ("events", eid, "trigger", "condition", "signal"), e.trigger.condition.signal
            )
        if isinstance(e.trigger, EveryTrigger):
            _check_multiple(
                out, ("events", eid, "trigger", "every"), e.trigger.every, sc.clock.tick
            )
        for i, eff in enumerate(e.effects):
            loc = ("events", eid, "effects", i)
            if isinstance(eff, SetFlag) and eff.flag not in sc.flags:
                unknown((*loc, "flag"), "declared flag", eff.flag, sc.flags)
            elif isinstance(eff, AddOffset):
                check_agent_param(loc, eff.agent, None, None)
            elif isinstance(eff, ChangeParam):
                check_agent_param(loc, eff.agent, eff.param, eff.rule)
            elif isinstance(eff, Force):
                if eff.agent in individuals:
                    check_position(
                        (*loc, "position"), individuals[eff.agent].positions, eff.position
                    )
                else:
                    unknown((*loc, "agent"), "individual", eff.agent, individuals)

    for did, d in sc.decisions.items():
        loc = ("decisions", did)
        voters = groups.get(d.group)
        if voters is None:
            unknown((*loc, "group"), "group", d.group, groups)
            continue
        if d.on is not None and d.on not in sc.events:
            unknown((*loc, "on"), "event", d.on, sc.events)
        if d.schedule is not None:
            _check_multiple(out, (*loc, "schedule", "every"), d.schedule.every, sc.clock.tick)
        poss = sorted(
            {p for m in voters.members if m in individuals for p in individuals[m].positions}
        )
        check_position((*loc, "motion"), poss, d.motion)
        for i, p in enumerate(d.absent):
            check_position((*loc, "absent", i), poss, p)
        if d.motion in d.absent:
            out.append(
                ((*loc, "absent"), f"the motion {d.motion!r} cannot also be an absent position")
            )
        for i, v in enumerate(d.veto):
            if v not in voters.members:
                unknown((*loc, "veto", i), f"member of {d.group!r}", v, voters.members)
        if isinstance(d.quorum, AtLeast) and d.quorum.at_least > len(voters.members):
            out.append(
                (
                    (*loc, "quorum", "at_least"),
                    f"quorum {d.quorum.at_least} is larger than group {d.group!r} "
                    f"({len(voters.members)} members)",
                )
            )

    for oid, o in sc.outcomes.items():
        for k, trig in enumerate(o.trigger):
            loc = ("outcomes", oid, "trigger")
            if len(o.trigger) > 1:
                loc = (*loc, k)
            if isinstance(trig, DecisionTrigger) and trig.decision not in sc.decisions:
                unknown((*loc, "decision"), "decision", trig.decision, sc.decisions)
            elif isinstance(trig, DeadlineTrigger) and trig.patience is not None:
                patient = [k2 for k2, v in individuals.items() if v.patience is not None]
                for n_who, who in enumerate(trig.patience):
                    if who not in patient:
                        unknown(
                            (*loc, "patience", n_who), "individual with a patience", who, patient
                        )
            elif isinstance(trig, ConditionTrigger):
                check_signal_ref((*loc, "condition", "signal"), trig.condition.signal)
            elif isinstance(trig, EventOutcomeTrigger) and trig.event not in sc.events:
                unknown((*loc, "event"), "event", trig.event, sc.events)
    return out


def _effect_at(sc: Scenario, loc: tuple[str | int, ...]) -> Any:
    """The effect at ``("events", id, "effects", i)``."""
    return sc.events[str(loc[1])].effects[int(loc[3])]


def late_times(sc: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Times that can only come after the horizon (so nothing ever happens at them).

    These are not errors (a sweep over the horizon may well cross them), but are
    worth a warning: a deadline or an event that cannot happen in a run is
    usually a typo.
    """
    horizon = sc.clock.horizon
    out: list[tuple[tuple[str | int, ...], str]] = []

    def check(loc: tuple[str | int, ...], value: Any, what: str) -> None:
        if value is None or value == NEVER:
            return
        lo = support(value)[0]
        if lo > horizon:
            out.append(
                (
                    loc,
                    f"{what} {lo:g} h is after the horizon {horizon:g} h, so it never comes "
                    "in a run (write never if that is meant)",
                )
            )

    for aid, a in sc.agents.items():
        if isinstance(a, Individual):
            check(("agents", aid, "patience"), a.patience, "patience")
            for i, rule in enumerate(a.rules):
                if isinstance(rule, ScheduledRule):
                    check(("agents", aid, "rules", i, "at"), rule.at, "the switch at")
    for eid, e in sc.events.items():
        if isinstance(e.trigger, AtTrigger):
            check(("events", eid, "trigger", "time"), e.trigger.time, "the event time")
        elif isinstance(e.trigger, EveryTrigger):
            check(("events", eid, "trigger", "start"), e.trigger.start, "the first time")
    for did, d in sc.decisions.items():
        if d.schedule is not None:
            check(("decisions", did, "schedule", "start"), d.schedule.start, "the first vote")
    for oid, o in sc.outcomes.items():
        for k, trig in enumerate(o.trigger):
            if isinstance(trig, DeadlineTrigger):
                loc: tuple[str | int, ...] = ("outcomes", oid, "trigger")
                if len(o.trigger) > 1:
                    loc = (*loc, k)
                check((*loc, "at"), trig.at, "the deadline")
    return out


def _check_multiple(
    out: list[tuple[tuple[str | int, ...], str]],
    loc: tuple[str | int, ...],
    every: float,
    tick: float,
) -> None:
    k = every / tick
    if abs(k - round(k)) > 1e-9 or round(k) < 1:
        what = "shorter than one tick" if round(k) < 1 else "not a whole number of ticks"
        out.append((loc, f"every {every} is {what} of {tick}"))


def _signal_cycle(sc: Scenario) -> list[str]:
    """A cycle of signals referring to signals, or ``[]``; iterative (chains can be long)."""
    graph = {
        s: [t.signal for t in terms if isinstance(t, SignalTerm) and t.signal in sc.signals]
        for s, terms in sc.signals.items()
    }
    state: dict[str, int] = {}
    for root in graph:
        if root in state:
            continue
        stack: list[str] = [root]
        todo: list[Iterator[str]] = [iter(graph[root])]
        state[root] = 1
        while todo:
            nxt = next(todo[-1], None)
            if nxt is None:
                state[stack.pop()] = 2
                todo.pop()
            elif state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                stack.append(nxt)
                todo.append(iter(graph[nxt]))
    return []


def _signal_depth(sc: Scenario) -> tuple[str, int] | None:
    """The signal with the longest chain of signal references, if one is too long.

    Signals are evaluated recursively, so a very long chain would overflow the
    stack at run time. Assumes no cycle.
    """
    graph = {
        s: [t.signal for t in terms if isinstance(t, SignalTerm) and t.signal in sc.signals]
        for s, terms in sc.signals.items()
    }
    depth: dict[str, int] = {}
    for root in graph:
        stack = [root]
        while stack:
            s = stack[-1]
            if s in depth:
                stack.pop()
                continue
            missing = [t for t in graph[s] if t not in depth]
            if missing:
                stack.extend(missing)
            else:
                depth[s] = 1 + max((depth[t] for t in graph[s]), default=0)
                stack.pop()
                if depth[s] > MAX_SIGNAL_DEPTH:
                    return s, depth[s]
    return None


# ------------------------------------------------------------------- loading
def _all_models() -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []
    todo: list[type[BaseModel]] = [Strict]
    from sim import distributions

    todo.append(distributions._Dist)
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                todo.append(sub)
    return seen


def _suggest(located: Located, loc: tuple[str | int, ...]) -> str:
    """A "did you mean" for an unknown key, from the model its siblings belong to."""
    parent: Any = located.data
    for part in loc[:-1]:
        if isinstance(parent, dict) and part in parent:
            parent = parent[part]
        elif isinstance(parent, list) and isinstance(part, int) and part < len(parent):
            parent = parent[part]
    bad = str(loc[-1])
    siblings = set(parent) - {bad} if isinstance(parent, dict) else set()
    best: tuple[int, list[str]] = (-1, [])
    for model in _all_models():
        names = [f.alias or n for n, f in model.model_fields.items()]
        kind = model.model_fields.get("kind")
        if kind is not None and isinstance(parent, dict) and "kind" in parent:
            args = getattr(kind.annotation, "__args__", ())
            if parent["kind"] not in args:
                continue
        score = len(siblings & set(names))
        if siblings - set(names):
            continue
        if score > best[0]:
            best = (score, names)
    allowed = [n for n in best[1] if n not in siblings]
    hint = difflib.get_close_matches(bad, allowed, n=1, cutoff=0.6)
    if hint:
        return f"unknown key {bad!r}; did you mean {hint[0]!r}?"
    if allowed:
        return f"unknown key {bad!r} (allowed here: {', '.join(sorted(allowed))})"
    return f"unknown key {bad!r}"


def _message(err: Any, located: Located) -> str:
    loc = tuple(err["loc"])
    typ = err["type"]
    if typ == "extra_forbidden":
        return _suggest(located, loc)
    if typ == "missing":
        return f"missing required field {loc[-1]!r}"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    value = err.get("input")
    if typ == "union_tag_invalid":
        ctx = err.get("ctx", {})
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        hint = difflib.get_close_matches(str(ctx.get("tag")), tags, n=1)
        tip = f"; did you mean {hint[0]!r}?" if hint else ""
        return f"kind {ctx.get('tag')!r} is not one of {', '.join(tags)}{tip}"
    if typ == "union_tag_not_found":
        return f"missing 'kind' (one of {err.get('ctx', {}).get('discriminator', '')})"
    if isinstance(value, dict | list) or typ.startswith("value_error"):
        return msg
    return f"{msg}, got {value!r}"


def problems_from_validation(exc: ValidationError, located: Located) -> list[Problem]:
    """Turn pydantic's errors into located problems."""
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        where = located.locate(loc)
        msg = _message(err, located)
        problem = Problem(where.source, where.line, where.column, where.path, msg)
        if problem not in out:  # a scalar standing for a pair (at: 5) fails twice
            out.append(problem)
    return out


def validate_data(located: Located, warnings: bool = False) -> Scenario:
    """Validate parsed data as a scenario; raise :class:`InputError` with located problems.

    With ``warnings``, also print located warnings (times after the horizon) on stderr.
    """
    data = located.data
    if not isinstance(data, dict):
        raise InputError([Problem(located.source, 1, 1, "", "expected a mapping at the top level")])
    huge = []
    for loc, value in _huge_numbers(data, ()):
        w = located.locate(loc, exact=True)
        shown = (
            f"{value:g}" if isinstance(value, float) else f"a {len(str(abs(value)))}-digit number"
        )
        msg = f"{shown} is out of range; numbers in a scenario lie within ±{MAX_MAGNITUDE:g}"
        huge.append(Problem(w.source, w.line, w.column, w.path, msg))
    if huge:
        raise InputError(huge)
    try:
        sc = Scenario.model_validate(plain(data))
    except ValidationError as exc:
        raise InputError(problems_from_validation(exc, located)) from None
    refs = check_references(sc)
    if refs:
        problems = []
        for loc, msg in refs:
            where = located.locate(loc)
            problems.append(Problem(where.source, where.line, where.column, where.path, msg))
        raise InputError(problems)
    if warnings:
        late = []
        for loc, msg in late_times(sc):
            where = located.locate(loc)
            late.append(Problem(where.source, where.line, where.column, where.path, msg))
        warn(late)
    return sc


def _huge_numbers(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[Any, int | float]]:
    """Finite numbers past :data:`MAX_MAGNITUDE` (infinity and NaN are refused by the schema)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _huge_numbers(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _huge_numbers(v, (*path, i))
    elif isinstance(node, int | float) and not isinstance(node, bool):
        if abs(node) > MAX_MAGNITUDE and (isinstance(node, int) or math.isfinite(node)):
            yield path, node


def load_scenario(path: str | Path, sets: list[str] | None = None) -> Scenario:
    """Load and validate a scenario file, applying ``--set PATH=VALUE`` overrides.

    Parameters
    ----------
    path : str or Path
        The YAML file.
    sets : list of str, optional
        Overrides ``PATH=VALUE`` (VALUE in YAML flow syntax), applied before validation.

    Returns
    -------
    Scenario

    Raises
    ------
    InputError
        With the file, line, column and field of every problem.
    """
    located = load_file(path)
    kind = located.data.get("kind") if isinstance(located.data, dict) else None
    if kind != "scenario":
        where = located.locate(("kind",))
        raise InputError(
            [
                Problem(
                    where.source,
                    where.line,
                    where.column,
                    "kind",
                    f"expected kind: scenario, got {kind!r}",
                )
            ]
        )
    for s in sets or []:
        apply_set(located, s)
    return validate_data(located, warnings=True)


def scenario_from_dict(data: dict[str, Any], source: str = "<dict>") -> Scenario:
    """Validate a scenario given as plain data (tests, notebooks)."""
    return validate_data(Located(data, source))


def json_schema() -> dict[str, Any]:
    """JSON Schema of scenario files, for editors."""
    schema = Scenario.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "stancesim scenario"
    return schema
