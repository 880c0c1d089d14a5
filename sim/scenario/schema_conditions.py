"""Conditions: what an event's ``when`` and an outcome's ``condition`` test.

A condition is a comparison of a signal or of a count of a group's members, a
position test of an individual, or ``all:`` / ``any:`` / ``not:`` of
conditions, nested to any depth. Every comparison allows the one tolerance of
:data:`sim.rules.TOLERANCE` (values within 1e-9 are equal).
"""

from typing import Annotated, Any, Self

from pydantic import BaseModel, Discriminator, Field, Tag, field_validator, model_validator

from sim.scenario.base import Strict, one_or_many

_COMPARISONS = ("at_least", "at_most", "above", "below")


class _Comparison(Strict):
    at_least: float | None = Field(None, description="Holds when the value is >= this.")
    at_most: float | None = Field(None, description="Holds when the value is <= this.")
    above: float | None = Field(None, description="Holds when the value is > this.")
    below: float | None = Field(None, description="Holds when the value is < this.")

    @model_validator(mode="after")
    def _one(self) -> Self:
        given = [k for k in _COMPARISONS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a condition needs exactly one of at_least, at_most, above, below; got {given}"
            )
        return self

    @property
    def comparison(self) -> tuple[str, float]:
        """The comparison and its value, e.g. ``("at_least", 0.5)``."""
        op = next(k for k in _COMPARISONS if getattr(self, k) is not None)
        return op, float(getattr(self, op))


class SignalCondition(_Comparison):
    """A signal compared with a value: ``{signal: s, at_least: 0.5}``."""

    signal: str


class CountCondition(_Comparison):
    """The number of a group's members in a position, compared: ``{count: board, ...}``."""

    count: str = Field(description="Group id.")
    position: str


class PositionCondition(Strict):
    """An individual is in a position, or in any of several: ``{agent: x, position: p}``."""

    agent: str
    position: list[str] = Field(
        min_length=1,
        description="A position, or a list of positions (in any of them).",
        json_schema_extra=one_or_many,
    )

    @field_validator("position", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class AllOf(Strict):
    """Every one of the conditions holds."""

    all: list["Condition"] = Field(description="Conditions that must all hold.")


class AnyOf(Strict):
    """At least one of the conditions holds."""

    any: list["Condition"] = Field(description="Conditions of which one must hold.")


class NotOf(Strict):
    """The condition does not hold."""

    not_: "Condition" = Field(alias="not")


_CONDITION_KEYS = ("all", "any", "not", "signal", "count", "agent")


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        fields = {f.alias or k for k, f in type(value).model_fields.items()}
        return next((k for k in _CONDITION_KEYS if k in fields), None)
    if isinstance(value, dict):
        return next((k for k in _CONDITION_KEYS if k in value), None)
    return None


Condition = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")]
    | Annotated[SignalCondition, Tag("signal")]
    | Annotated[CountCondition, Tag("count")]
    | Annotated[PositionCondition, Tag("agent")],
    Discriminator(
        _condition_tag,
        custom_error_type="condition",
        custom_error_message=(
            "expected a condition with one of the keys signal, count, agent, all, any, not"
        ),
    ),
]
