"""The scenario file: clock, agents and the :class:`Scenario` model itself.

Every "kind" is a tagged union (``kind: Literal[...]``) with ``extra="forbid"``;
intra-object rules live in ``model_validator(mode="after")``. References between
objects (agents, groups, positions, signals, events) are checked by
:mod:`sim.scenario.references` on the raw mapping, from a wrap validator of
:class:`Scenario`, so that ``Scenario.model_validate`` cannot skip them and
their problems come together with the schema's.
"""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from sim.distributions import MAX_HOURS, MIN_TICK, HoursOrNever, NonNegative, Param, Probability
from sim.scenario.base import MAX_POSITIONS, MAX_TICKS, Id, Strict
from sim.scenario.references import check_references
from sim.scenario.schema_correlations import CorrelationEntry
from sim.scenario.schema_events import Decision, Event, Outcome, Term
from sim.scenario.schema_networks import Network
from sim.scenario.schema_rules import (
    Curve,
    IndividualRule,
    PopulationRule,
    ThresholdRule,
    Thresholds,
    omit_unset,
)


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
    def _whole_ticks(self) -> Self:
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


# -------------------------------------------------------------------- agents
class _Positions(Strict):
    positions: list[Id] = Field(
        min_length=1, max_length=MAX_POSITIONS, description="Declared stances."
    )
    initial: str = Field(description="Stance at t = 0.")
    description: str | None = None

    @model_validator(mode="after")
    def _initial_declared(self) -> Self:
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


#: The rule parameters a segment may set for every rule of its population that has them.
SEGMENT_PARAMS = ("threshold", "resistance", "rate", "slope", "spontaneous", "offset")


class Segment(Strict):
    """A part of a population with its own size and, optionally, initial position and rules.

    The population's rules apply unless the segment gives its own ``rule`` or
    ``rules``; a parameter given here (``threshold``, ``rate``, ...) replaces
    that parameter in each of those rules that has it.
    """

    size: int = Field(ge=1, le=100_000, description="Number of people in the segment.")
    initial: str | None = Field(None, description="Stance at t = 0 (default: the population's).")
    rule: PopulationRule | None = None
    rules: list[PopulationRule] | None = Field(
        None, min_length=1, description="The segment's own rules, in place of the population's."
    )
    threshold: Thresholds | None = None
    resistance: Param | None = None
    rate: NonNegative | None = None
    slope: NonNegative | None = None
    spontaneous: Probability | None = None
    offset: float | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _one_rule_field(self) -> Self:
        if self.rule is not None and self.rules is not None:
            raise ValueError("give rule or rules, not both")
        return self

    @property
    def rule_list(self) -> list[Any]:
        """The segment's own rules (empty when it follows its population's)."""
        if self.rules is not None:
            return list(self.rules)
        return [self.rule] if self.rule is not None else []

    def overrides(self) -> dict[str, Any]:
        """The parameters it sets for its population's rules."""
        return {k: getattr(self, k) for k in SEGMENT_PARAMS if getattr(self, k) is not None}


def _size_not_required(schema: dict[str, Any]) -> None:
    # a population made of segments may leave its size to their sum
    required = schema.get("required", [])
    if "size" in required:
        required.remove("size")


class Population(_Positions):
    """N exchangeable individuals (employees); the fraction in each position is observable.

    One rule (``rule``) or several tried in order (``rules``); optionally made of
    ``segments`` who hear each other as ``hears`` says.
    """

    model_config = ConfigDict(json_schema_extra=_size_not_required)
    OMIT_UNSET: ClassVar[tuple[str, ...]] = ("rules", "segments", "hears", "network")

    kind: Literal["population"]
    size: int = Field(
        ge=1, le=100_000, description="Number of individuals N (default: the segments' sum)."
    )
    rule: PopulationRule | None = Field(None, description="The rule everyone follows.")
    rules: list[PopulationRule] | None = Field(
        None,
        min_length=1,
        description="Several rules, tried in order each tick for each person; "
        "the first that moves a person wins.",
    )
    segments: dict[Id, Segment] | None = Field(
        None, min_length=1, description="Sub-populations with their own size, rules, initial."
    )
    hears: dict[str, dict[str, float]] | None = Field(
        None,
        description="Who hears whom: for each segment, the weight of each segment's share in "
        "what its members hear of this population (each row sums to 1). Default: the whole "
        "population's share.",
    )

    network: Network | None = Field(
        None, description="A graph: each person hears the share of their neighbours (see README)."
    )

    @model_validator(mode="before")
    @classmethod
    def _size_of_segments(cls, data: Any) -> Any:
        if isinstance(data, dict) and "size" not in data and isinstance(data.get("segments"), dict):
            sizes = [
                v.get("size") if isinstance(v, dict) else None for v in data["segments"].values()
            ]
            if sizes and all(isinstance(n, int) and not isinstance(n, bool) for n in sizes):
                return {**data, "size": sum(sizes)}
        return data

    @model_validator(mode="after")
    def _list_length(self) -> Self:
        if self.rule is not None and self.rules is not None:
            raise ValueError("give rule or rules, not both")
        own = self.segments is not None and all(
            g.rule is not None or g.rules is not None for g in self.segments.values()
        )
        if self.rule is None and self.rules is None and not own:
            raise ValueError("a population needs rule or rules (or every segment its own)")
        if self.network is not None and self.segments is not None:
            raise ValueError(
                "a population on a network takes no segments: on a graph each person hears "
                "their neighbours, in a segment they hear the segments `hears` names, and the "
                "two do not combine (for groups that hear each other more, use a "
                "stochastic_block_model graph; for people who differ, `per_person` parameters)"
            )
        for name, size, _, rules in self.parts():
            for j, r in enumerate(rules):
                if isinstance(r, ThresholdRule) and isinstance(r.threshold, list):
                    if len(r.threshold) != size:
                        where = f"segment {name!r}: " if name else ""
                        field = "rule" if self.rule is not None and name is None else f"rules.{j}"
                        raise ValueError(
                            f"{where}{field}.threshold lists {len(r.threshold)} values "
                            f"for size {size}"
                        )
        return self

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> Any:
        return omit_unset(self, handler)

    @property
    def rule_list(self) -> list[Any]:
        """The population's rules (``rule`` as a list of one)."""
        if self.rules is not None:
            return list(self.rules)
        return [self.rule] if self.rule is not None else []

    def parts(self) -> list[tuple[str | None, int, str, list[Any]]]:
        """``(segment name, size, initial, rules)`` of each segment, or of the whole (name None).

        A segment's rules are its own, or the population's with the parameters
        it sets replaced in each rule that has them.
        """
        if self.segments is None:
            return [(None, self.size, self.initial, self.rule_list)]
        out: list[tuple[str | None, int, str, list[Any]]] = []
        for name, g in self.segments.items():
            rules = g.rule_list or self.rule_list
            given = g.overrides()
            rules = [
                r.model_copy(update={k: v for k, v in given.items() if k in type(r).model_fields})
                for r in rules
            ]
            out.append((name, g.size, g.initial or self.initial, rules))
        return out


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
    correlations: dict[Id, CorrelationEntry] = Field(
        default_factory=dict,
        description="Parameters drawn together by a Gaussian copula, each keeping its "
        "own distribution.",
    )

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler) -> Any:
        # a file without correlations keeps the canonical form, and hash, it had before
        data = handler(self)
        if isinstance(data, dict) and data.get("correlations") == {}:
            del data["correlations"]
        return data

    @model_validator(mode="wrap")
    @classmethod
    def _references(cls, data: Any, handler: ModelWrapValidatorHandler["Scenario"]) -> "Scenario":
        """Check references on the raw mapping, and report them with the schema's problems.

        They run even when fields fail the schema, so that one pass reports all.
        """
        try:
            result = handler(data)
        except ValidationError as exc:
            found = check_references(data) if isinstance(data, dict) else []
            if not found:
                raise
            raise _combined(exc, found) from None
        if isinstance(data, dict):
            found = check_references(data)
            if found:
                raise _combined(None, found)
        return result

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


def _combined(
    exc: ValidationError | None, found: list[tuple[tuple[str | int, ...], str]]
) -> ValidationError:
    """One error holding the schema's problems (if any) and the reference problems."""
    details: list[InitErrorDetails] = []
    if exc is not None:
        for err in exc.errors(include_url=False):
            # re-raised under its own type and message; the context is kept for the
            # messages that read it (a kind that is not one of the tags)
            kind = PydanticCustomError(err["type"], err["msg"], err.get("ctx"))
            details.append(InitErrorDetails(type=kind, loc=err["loc"], input=err["input"]))
    for loc, message in found:
        kind = PydanticCustomError("reference", message)
        details.append(InitErrorDetails(type=kind, loc=loc, input=None))
    return ValidationError.from_exception_data("Scenario", details)
