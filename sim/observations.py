"""Observations of a crisis (``kind: observations``) and their likelihoods.

Each observation says what was seen, when (a time or a window, in hours from
the scenario's start), when it became public (``published``) and how sure the
report is (the kinds: :mod:`sim.observation_kinds`). Its likelihood is a pure
function of the simulated observable at the ticks of its window; a window
averages the likelihood over its ticks (the report could be from any of them).
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim import rules as R
from sim.engine import World
from sim.errors import InputError, Problem
from sim.observation_kinds import (
    PER_TICK,
    CountObs,
    EventObs,
    FractionObs,
    NoOutcomeObs,
    NotBeforeObs,
    Observation,
    OutcomeObs,
    ReportObs,
    SourceClassesFile,
    StanceObs,
)
from sim.scenario import (
    AllOf,
    AnyOf,
    CountCondition,
    Group,
    Individual,
    NotOf,
    Population,
    PositionCondition,
    Scenario,
    SignalCondition,
    problems_from_validation,
)
from sim.scenario.references import Index
from sim.scenario.references import condition as check_condition
from sim.yamlio import Located, load_file, plain

Array = np.ndarray[Any, Any]

__all__ = [
    "PER_TICK",
    "CountObs",
    "EventObs",
    "FractionObs",
    "NoOutcomeObs",
    "NotBeforeObs",
    "Observation",
    "ObservationsFile",
    "OutcomeObs",
    "ReportObs",
    "SourceClassesFile",
    "StanceObs",
    "check_against",
    "condition_holds",
    "event_likelihood",
    "groups_of",
    "last_tick_by",
    "likelihood_now",
    "load_observations",
    "load_source_classes",
    "not_before_likelihood",
    "published_by",
    "window_ticks",
]


class ObservationsFile(BaseModel):
    """A file of observations (``kind: observations``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    kind: Literal["observations"]
    name: str | None = None
    scenario: str | None = Field(None, description="The scenario file, relative to this file.")
    source_classes: str | None = Field(
        None,
        description="A `kind: source_classes` file, relative to this file: the rule that gives "
        "each report with a `source_class` its rates.",
    )
    observations: list[Observation] = Field(min_length=1)


def load_observations(path: str | Path) -> tuple[ObservationsFile, Located]:
    """Read and validate an observations file (located errors).

    A report that names a ``source_class`` gets the rates of that class from
    the file's ``source_classes`` file, so that every report of one class of
    source is weighed by one stated rule, never by hand.
    """
    located = load_file(path)
    data = plain(located.data)
    if isinstance(data, dict) and isinstance(data.get("source_classes"), str):
        _apply_source_classes(data, located, Path(path).parent / data["source_classes"])
    try:
        return ObservationsFile.model_validate(data), located
    except ValidationError as exc:
        raise InputError(problems_from_validation(exc, located)) from None


def load_source_classes(path: str | Path) -> SourceClassesFile:
    """Read and validate a ``kind: source_classes`` file (located errors)."""
    located = load_file(path)
    try:
        return SourceClassesFile.model_validate(plain(located.data))
    except ValidationError as exc:
        raise InputError(problems_from_validation(exc, located)) from None


def _apply_source_classes(data: dict[str, Any], located: Located, path: Path) -> None:
    if not path.is_file():
        where = located.locate(("source_classes",), exact=True)
        raise InputError(
            [Problem(where.source, where.line, where.column, where.path, f"no such file: {path}")]
        )
    classes = load_source_classes(path).classes
    problems = []
    for i, o in enumerate(data.get("observations") or []):
        if not isinstance(o, dict) or o.get("kind") != "report" or "source_class" not in o:
            continue
        name = o["source_class"]
        explicit = [k for k in ("true_positive", "false_positive") if k in o]
        where = located.locate(("observations", i, "source_class"), exact=True)
        if name not in classes:
            msg = f"unknown source_class {name!r} (known in {path.name}: {', '.join(classes)})"
        elif explicit:
            msg = f"give either source_class or {' and '.join(explicit)}, not both"
        else:
            o["true_positive"] = classes[name].true_positive
            o["false_positive"] = classes[name].false_positive
            continue
        problems.append(Problem(where.source, where.line, where.column, where.path, msg))
    if problems:
        raise InputError(problems)


def published_by(observations: Sequence[Any], at: float) -> list[Any]:
    """The observations public at time ``at`` (published by then), in file order."""
    return [o for o in observations if o.known_at <= at + 1e-9]


def check_against(obs: ObservationsFile, located: Located, sc: Scenario) -> None:
    """Every id an observation names must exist in the scenario."""
    problems = []

    def bad(i: int, field: str | tuple[str | int, ...], msg: str) -> None:
        loc = (field,) if isinstance(field, str) else field
        where = located.locate(("observations", i, *loc))
        problems.append(Problem(where.source, where.line, where.column, where.path, msg))

    def position_of(i: int, field: str, wanted: type, name: str, positions: list[str]) -> None:
        a = sc.agents.get(name)
        if not isinstance(a, wanted):
            bad(i, field, f"unknown {wanted.__name__.lower()} {name!r}")
            return
        known = _positions(sc, name)
        for j, p in enumerate(positions):
            if p not in known:
                where: Any = "position" if len(positions) == 1 else ("position", j)
                bad(i, where, f"unknown position {p!r} (known: {', '.join(known)})")

    index: Index | None = None
    for i, o in enumerate(obs.observations):
        if isinstance(o, FractionObs):
            known, unknown = _share_of(sc, o.population)
            if unknown:
                bad(i, "population", unknown)
            elif o.position not in known:
                bad(i, "position", f"unknown position {o.position!r} (known: {', '.join(known)})")
        elif isinstance(o, StanceObs):
            position_of(i, "agent", Individual, o.agent, [o.position])
        elif isinstance(o, CountObs):
            position_of(i, "group", Group, o.group, [o.position])
            members = getattr(sc.agents.get(o.group), "members", None)
            if members is not None and o.range[0] > len(members):
                bad(
                    i,
                    "value" if o.value is not None else "between",
                    f"group {o.group!r} has {len(members)} members, fewer than {o.range[0]}",
                )
        elif isinstance(o, ReportObs):
            index = index or Index.of(sc.canonical())
            for loc, msg in check_condition(index, ("condition",), o.model_dump()["condition"]):
                bad(i, loc, msg)
        elif isinstance(o, NotBeforeObs):
            _check_not_before(sc, o, i, bad, position_of)
        elif isinstance(o, EventObs) and o.event not in sc.events:
            bad(i, "event", f"unknown event {o.event!r} (known: {', '.join(sc.events) or 'none'})")
        elif isinstance(o, OutcomeObs) and o.outcome not in sc.outcomes:
            bad(i, "outcome", f"unknown outcome {o.outcome!r} (known: {', '.join(sc.outcomes)})")
        if o.at[1] > sc.clock.horizon:
            bad(i, "at", f"time {o.at[1]} is past the horizon {sc.clock.horizon}")
    if problems:
        raise InputError(problems)


def _share_of(sc: Scenario, name: str) -> tuple[list[str], str]:
    """Positions of what a fraction reads (a population, ``pop.segment``, a group), or why not.

    A population on a network is read as a whole, as conditions and outputs read it.
    """
    a = sc.agents.get(name)
    if isinstance(a, Population | Group):
        return _positions(sc, name), ""
    pid, _, segment = name.partition(".")
    p = sc.agents.get(pid)
    if segment and isinstance(p, Population):
        if not p.segments:
            return [], f"population {pid!r} has no segments (so no {name!r})"
        if segment in p.segments:
            return list(p.positions), ""
        return [], f"unknown segment {segment!r} of {pid!r} (known: {', '.join(p.segments)})"
    return [], f"unknown population, segment or group {name!r}"


def _check_not_before(sc: Scenario, o: NotBeforeObs, i: int, bad: Any, position_of: Any) -> None:
    if o.event is not None:
        if o.event not in sc.events:
            known = ", ".join(sc.events) or "none"
            bad(i, "event", f"unknown event {o.event!r} (known: {known})")
        return
    assert o.agent is not None and o.position is not None
    position_of(i, "agent", Individual, o.agent, o.position)
    a = sc.agents.get(o.agent)
    if isinstance(a, Individual) and a.initial in o.position:
        bad(i, "position", f"{o.agent} starts in {a.initial!r}: it cannot be 'not yet' there")


def _positions(sc: Scenario, name: str) -> list[str]:
    a = sc.agents[name]
    if isinstance(a, Group):
        seen: dict[str, None] = {}
        for m in a.members:
            seen.update(dict.fromkeys(sc.agents[m].positions))  # type: ignore[union-attr]
        return list(seen)
    return list(a.positions)  # type: ignore[union-attr]


def window_ticks(o: Any, tick: float) -> tuple[int, int]:
    """First and last tick index of an observation's window (at least one tick)."""
    first = max(1, int(np.ceil(o.at[0] / tick - 1e-9)))
    last = max(first, int(np.ceil(o.at[1] / tick - 1e-9)))
    return first, last


def last_tick_by(hours: float, tick: float) -> int:
    """The last tick at or before ``hours`` (0: none yet): what is known by then."""
    return max(0, int(np.floor(hours / tick + 1e-9)))


def _reported(truth: Array, error: float) -> Array:
    return np.where(truth, 1.0 - error, error)


Groups = Mapping[str, Sequence[str]]


def groups_of(sc: Scenario) -> dict[str, list[str]]:
    """Each group's members, by group id (what counts in conditions need)."""
    return {k: list(a.members) for k, a in sc.agents.items() if isinstance(a, Group)}


def condition_holds(cond: Any, world: World, groups: Groups) -> Array:
    """Whether a condition of the scenario language holds in each replicate, through the World.

    ``groups`` gives each group's members (:func:`groups_of`).
    """
    if isinstance(cond, AllOf):
        out = np.ones(world.replicates, dtype=bool)
        for c in cond.all:
            out &= condition_holds(c, world, groups)
        return out
    if isinstance(cond, AnyOf):
        out = np.zeros(world.replicates, dtype=bool)
        for c in cond.any:
            out |= condition_holds(c, world, groups)
        return out
    if isinstance(cond, NotOf):
        return ~condition_holds(cond.not_, world, groups)
    if isinstance(cond, PositionCondition):
        out = np.zeros(world.replicates, dtype=bool)
        for p in cond.position:
            out |= world.is_in(cond.agent, p)
        return out
    op, number = cond.comparison
    if isinstance(cond, CountCondition):
        value = group_count(world, groups[cond.count], cond.position)
    else:
        assert isinstance(cond, SignalCondition)
        value = world.signal(cond.signal)
    return np.asarray(R.COMPARISONS[op](value, number))


def group_count(world: World, members: Sequence[str], position: str) -> Array:
    """Number of ``members`` in a position (exact: counted member by member)."""
    out = np.zeros(world.replicates, dtype=np.int64)
    for m in members:
        if position in world.positions(m):
            out += world.is_in(m, position)
    return out


def likelihood_now(o: Any, world: World, groups: Groups | None = None) -> Array:
    """Likelihood of observation ``o`` given each replicate's state at the current tick.

    ``groups`` (:func:`groups_of`) is needed by counts and reports.
    """
    groups = groups or {}
    if isinstance(o, FractionObs):
        f = world.fraction(o.population, o.position)
        if o.between is not None:
            lo, hi = o.between
            return ((f >= lo - 1e-12) & (f <= hi + 1e-12)).astype(float)
        assert o.value is not None and o.sd is not None
        return np.asarray(np.exp(-0.5 * ((f - o.value) / o.sd) ** 2))
    if isinstance(o, StanceObs):
        return _reported(world.is_in(o.agent, o.position), o.error)
    if isinstance(o, CountObs):
        n = group_count(world, groups[o.group], o.position)
        lo, hi = o.range
        return _reported((n >= lo) & (n <= hi), o.error)
    if isinstance(o, ReportObs):
        assert o.true_positive is not None and o.false_positive is not None  # set on validation
        return np.where(
            condition_holds(o.condition, world, groups), o.true_positive, o.false_positive
        )
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


def not_before_likelihood(o: NotBeforeObs, first_seen: Array) -> Array:
    """Nothing happened up to the observation's tick (``first_seen`` 0: not yet)."""
    return _reported(first_seen == 0, o.error)
