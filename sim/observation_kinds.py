"""The kinds of observation an observations file holds (likelihoods: :mod:`sim.observations`).

Every observation says what was seen, when it held (``at``: a time or a window
``[from, to]``, in hours from the scenario's start), when it became public
(``published``, default the end of ``at``) and where it came from (``source``,
``note``). A nowcast at T uses exactly the observations published by T.
"""

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.scenario.schema_conditions import Condition


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class _Obs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    at: tuple[float, float] = Field(description="Time in hours, or a window [from, to].")
    published: float | None = Field(
        None,
        ge=0,
        description="Hours: when it became public (default: the end of `at`). A nowcast at T "
        "uses it if and only if it was published by T.",
    )
    source: str | None = Field(None, description="Who reported it (an outlet, a statement).")
    note: str | None = Field(None, description="What was reported, in words.")

    @field_validator("at", mode="before")
    @classmethod
    def _window(cls, v: Any) -> Any:
        return (v, v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not 0 <= self.at[0] <= self.at[1]:
            raise ValueError(f"at needs 0 <= from <= to, got {list(self.at)}")
        if self.published is not None and self.published < self.at[0]:
            raise ValueError(
                f"published {self.published:g} is before the observation's time "
                f"{self.at[0]:g}: nothing is published before it happens"
            )
        return self

    @property
    def known_at(self) -> float:
        """When it became public: ``published``, or the end of its window."""
        return float(self.at[1] if self.published is None else self.published)


class _Reported(_Obs):
    error: float = Field(0.0, ge=0, lt=0.5, description="Probability that the report is wrong.")


class FractionObs(_Obs):
    """A share in a position of a population, a segment or a group: ``value``/``sd`` or ``between``.

    The likelihood of ``value`` is the normal density's kernel
    ``exp(-((share - value) / sd)² / 2)``; of ``between``, 1 inside and 0 outside.
    """

    kind: Literal["fraction"]
    population: str = Field(
        description="A population (on a network too: its whole share), one of its segments "
        "(`pop.segment`), or a group (the share of its members)."
    )
    position: str
    value: float | None = Field(None, ge=0, le=1)
    count: int | None = Field(None, ge=0, description="A count out of `of` (instead of value).")
    of: int | None = Field(None, ge=1)
    sd: float | None = Field(None, gt=0, le=1, description="Uncertainty of value (a share).")
    between: tuple[float, float] | None = None

    @model_validator(mode="before")
    @classmethod
    def _count(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("count") is not None:
            if not data.get("of"):
                raise ValueError("count needs of: N (count out of N)")
            if not all(_is_int(data[k]) for k in ("count", "of")):
                return data  # the fields' own validation says what is wrong
            if data["count"] > data["of"]:
                raise ValueError(f"count {data['count']} is larger than of {data['of']}")
            given = data.get("value")
            if not isinstance(given, int | float | None) or isinstance(given, bool):
                return data
            if given is not None and abs(given - data["count"] / data["of"]) > 1e-12:
                raise ValueError("give value or count/of, not both")
            data = {**data, "value": data["count"] / data["of"]}
        return data

    @model_validator(mode="after")
    def _one(self) -> Self:
        if self.between is not None and not 0 <= self.between[0] <= self.between[1] <= 1:
            raise ValueError(f"between needs 0 <= lo <= hi <= 1, got {list(self.between)}")
        if (self.value is None) == (self.between is None):
            raise ValueError("a fraction needs value (or count/of) with sd, or between: [lo, hi]")
        if self.value is not None and self.sd is None:
            raise ValueError("value needs sd (how sure the count is, as a share)")
        return self


class StanceObs(_Reported):
    """An individual (a board member, Microsoft, the investors) was in a position."""

    kind: Literal["stance"]
    agent: str
    position: str


class CountObs(_Reported):
    """How many of a group's members were in a position: ``value``, or ``between: [lo, hi]``."""

    kind: Literal["count"]
    group: str
    position: str
    value: int | None = Field(None, ge=0)
    between: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.value is None) == (self.between is None):
            raise ValueError("a count needs value: N or between: [lo, hi]")
        if self.between is not None and not 0 <= self.between[0] <= self.between[1]:
            raise ValueError(f"between needs 0 <= lo <= hi, got {list(self.between)}")
        return self

    @property
    def range(self) -> tuple[int, int]:
        """The counts the observation allows, both ends included."""
        if self.between is not None:
            return self.between
        assert self.value is not None
        return self.value, self.value


class ReportObs(_Obs):
    """A report that a condition held, with the reliability of its class of source.

    Its likelihood is ``true_positive`` in a replicate where the condition held
    at ``at`` (averaged over the window's ticks) and ``false_positive`` where it
    did not: the report moves the odds by their ratio.
    """

    kind: Literal["report"]
    condition: Condition = Field(
        description="Any condition of the scenario language (signal, count, agent, all/any/not)."
    )
    source_class: str | None = Field(
        None,
        description="A class of source named in the file's `source_classes`: the report's "
        "rates are the class's (give either this or both rates).",
    )
    true_positive: float | None = Field(
        None, gt=0, le=1, description="P(such a report | the condition holds)."
    )
    false_positive: float | None = Field(
        None, ge=0, lt=1, description="P(such a report | the condition does not hold)."
    )

    @model_validator(mode="after")
    def _informative(self) -> Self:
        if self.true_positive is None or self.false_positive is None:
            if self.source_class is not None:
                raise ValueError(
                    f"source_class {self.source_class!r} needs the observations file's "
                    "`source_classes` to give its rates"
                )
            raise ValueError(
                "a report needs a source_class, or both true_positive and false_positive"
            )
        if self.true_positive <= self.false_positive:
            raise ValueError(
                f"true_positive {self.true_positive:g} must be above false_positive "
                f"{self.false_positive:g}: otherwise the report is no evidence for its condition"
            )
        return self


class SourceClass(BaseModel):
    """One class of source and the reliability every report of that class gets."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    description: str = Field(description="Which sources belong to the class.")
    basis: str = Field(description="Why these rates: what they rest on.")
    true_positive: float = Field(gt=0, le=1, description="P(such a report | the condition holds).")
    false_positive: float = Field(
        ge=0, lt=1, description="P(such a report | the condition does not hold)."
    )

    @model_validator(mode="after")
    def _informative(self) -> Self:
        if self.true_positive <= self.false_positive:
            raise ValueError(
                f"true_positive {self.true_positive:g} must be above false_positive "
                f"{self.false_positive:g}: otherwise no report of the class is evidence"
            )
        return self


class SourceClassesFile(BaseModel):
    """The rule per class of source (``kind: source_classes``), shared by observations files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["source_classes"]
    name: str | None = None
    classes: dict[str, SourceClass] = Field(min_length=1)


class NotBeforeObs(_Obs):
    """Something had not happened by ``at``: an event, or an individual reaching a position.

    Its likelihood is 1 in a replicate where the event had not happened (the
    individual had not been in any of ``position``) at any tick up to ``at``
    (the last tick at or before it), else ``error``.
    """

    kind: Literal["not_before"]
    event: str | None = None
    agent: str | None = Field(None, description="An individual (with `position`).")
    position: list[str] | None = Field(
        None, description="A position, or a list: it had been in none of them."
    )
    error: float = Field(0.0, ge=0, lt=0.5, description="Probability that the report is wrong.")

    @field_validator("position", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _what(self) -> Self:
        if (self.event is None) == (self.agent is None):
            raise ValueError("not_before needs exactly one of event and agent (with position)")
        if (self.agent is None) != (self.position is None):
            raise ValueError("not_before with agent needs position (and position needs agent)")
        if self.at[0] != self.at[1]:
            raise ValueError(f"not_before takes one time (not yet by then), got {list(self.at)}")
        return self


class EventObs(_Reported):
    """An event happened within the window (for the first time)."""

    kind: Literal["event"]
    event: str


class NoOutcomeObs(_Reported):
    """No outcome yet at the time (or the window's end)."""

    kind: Literal["no_outcome"]


class OutcomeObs(_Reported):
    """The crisis ended with ``outcome`` within the window."""

    kind: Literal["outcome"]
    outcome: str


Observation = Annotated[
    FractionObs
    | StanceObs
    | CountObs
    | ReportObs
    | NotBeforeObs
    | EventObs
    | NoOutcomeObs
    | OutcomeObs,
    Field(discriminator="kind"),
]

#: kinds whose likelihood is averaged over the ticks of their window
PER_TICK = (FractionObs, StanceObs, CountObs, ReportObs)
