"""Observations of a crisis (``kind: observations``) and their likelihoods.

Each observation says what was seen, when (a time or a window, in hours from
the scenario's start) and how sure the report is. Its likelihood is a pure
function of the simulated observable at the ticks of its window; a window
averages the likelihood over its ticks (the report could be from any of them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim.engine import World
from sim.errors import InputError, Problem
from sim.scenario import Individual, Population, Scenario, problems_from_validation
from sim.yamlio import Located, load_file, plain

Array = np.ndarray[Any, Any]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class _Obs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    at: tuple[float, float] = Field(description="Time in hours, or a window [from, to].")
    note: str | None = Field(None, description="Where the report comes from.")

    @field_validator("at", mode="before")
    @classmethod
    def _window(cls, v: Any) -> Any:
        return (v, v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _ordered(self) -> _Obs:
        if not 0 <= self.at[0] <= self.at[1]:
            raise ValueError(f"at needs 0 <= from <= to, got {list(self.at)}")
        return self


class _Reported(_Obs):
    error: float = Field(0.0, ge=0, lt=0.5, description="Probability that the report is wrong.")


class FractionObs(_Obs):
    """A population's share in a position: ``value`` with a normal ``sd``, or ``between``."""

    kind: Literal["fraction"]
    population: str
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
    def _one(self) -> FractionObs:
        if self.between is not None and not 0 <= self.between[0] <= self.between[1] <= 1:
            raise ValueError(f"between needs 0 <= lo <= hi <= 1, got {list(self.between)}")
        if (self.value is None) == (self.between is None):
            raise ValueError("a fraction needs value (or count/of) with sd, or between: [lo, hi]")
        if self.value is not None and self.sd is None:
            raise ValueError("value needs sd (how sure the count is, as a share)")
        return self


class StanceObs(_Reported):
    """An individual was in a position."""

    kind: Literal["stance"]
    agent: str
    position: str


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
    FractionObs | StanceObs | EventObs | NoOutcomeObs | OutcomeObs, Field(discriminator="kind")
]


class ObservationsFile(BaseModel):
    """A file of observations (``kind: observations``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    kind: Literal["observations"]
    name: str | None = None
    scenario: str | None = Field(None, description="The scenario file, relative to this file.")
    observations: list[Observation] = Field(min_length=1)


def load_observations(path: str | Path) -> tuple[ObservationsFile, Located]:
    """Read and validate an observations file (located errors)."""
    located = load_file(path)
    try:
        return ObservationsFile.model_validate(plain(located.data)), located
    except ValidationError as exc:
        raise InputError(problems_from_validation(exc, located)) from None


def check_against(obs: ObservationsFile, located: Located, sc: Scenario) -> None:
    """Every id an observation names must exist in the scenario."""
    problems = []

    def bad(i: int, field: str, msg: str) -> None:
        where = located.locate(("observations", i, field))
        problems.append(Problem(where.source, where.line, where.column, where.path, msg))

    for i, o in enumerate(obs.observations):
        if isinstance(o, FractionObs | StanceObs):
            field, name, wanted = (
                ("population", o.population, Population)
                if isinstance(o, FractionObs)
                else ("agent", o.agent, Individual)
            )
            a = sc.agents.get(name)
            if not isinstance(a, wanted):
                bad(i, field, f"unknown {wanted.__name__.lower()} {name!r}")
            elif o.position not in a.positions:
                bad(
                    i,
                    "position",
                    f"unknown position {o.position!r} (known: {', '.join(a.positions)})",
                )
        elif isinstance(o, EventObs) and o.event not in sc.events:
            bad(i, "event", f"unknown event {o.event!r} (known: {', '.join(sc.events) or 'none'})")
        elif isinstance(o, OutcomeObs) and o.outcome not in sc.outcomes:
            bad(i, "outcome", f"unknown outcome {o.outcome!r} (known: {', '.join(sc.outcomes)})")
        if o.at[1] > sc.clock.horizon:
            bad(i, "at", f"time {o.at[1]} is past the horizon {sc.clock.horizon}")
    if problems:
        raise InputError(problems)


def window_ticks(o: Any, tick: float) -> tuple[int, int]:
    """First and last tick index of an observation's window (at least one tick)."""
    first = max(1, int(np.ceil(o.at[0] / tick - 1e-9)))
    last = max(first, int(np.ceil(o.at[1] / tick - 1e-9)))
    return first, last


def _reported(truth: Array, error: float) -> Array:
    return np.where(truth, 1.0 - error, error)


def likelihood_now(o: Any, world: World) -> Array:
    """Likelihood of observation ``o`` given each replicate's state at the current tick."""
    if isinstance(o, FractionObs):
        f = world.fraction(o.population, o.position)
        if o.between is not None:
            lo, hi = o.between
            return ((f >= lo - 1e-12) & (f <= hi + 1e-12)).astype(float)
        assert o.value is not None and o.sd is not None
        return np.asarray(np.exp(-0.5 * ((f - o.value) / o.sd) ** 2))
    if isinstance(o, StanceObs):
        return _reported(world.is_in(o.agent, o.position), o.error)
    if isinstance(o, NoOutcomeObs):
        return _reported(world.outcome < 0, o.error)
    if isinstance(o, OutcomeObs):
        first, _ = window_ticks(o, world.tick_hours)
        hit = (world.outcome == world.outcome_code(o.outcome)) & (
            world.end_time >= first * world.tick_hours - 1e-9
        )
        return _reported(hit, o.error)
    raise TypeError(f"no per-tick likelihood for {type(o).__name__}")


def event_likelihood(o: EventObs, first_seen: Array, tick: float) -> Array:
    """The event's first tick lies in the window."""
    first, last = window_ticks(o, tick)
    return _reported((first_seen >= first) & (first_seen <= last), o.error)
