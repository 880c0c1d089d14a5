"""Loading scenario files: YAML with locations, every problem located and reported at once.

The YAML reader (:mod:`sim.yamlio`) keeps the line and column of every key;
validation (the schema and, through ``Scenario``'s wrap validator, the
reference checks of :mod:`sim.scenario.references`) runs once and every
problem it finds is turned into a located :class:`~sim.errors.Problem`,
sorted by position in the file.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.distributions import NEVER, support
from sim.errors import InputError, Problem, warn
from sim.scenario.base import MAX_MAGNITUDE, Strict
from sim.scenario.lint import uncertain_past_horizon
from sim.scenario.schema import Individual, Scenario
from sim.scenario.schema_correlations import release_constants
from sim.scenario.schema_events import AtTrigger, DeadlineTrigger, EveryTrigger
from sim.scenario.schema_networks import files_relative_to
from sim.scenario.schema_rules import ScheduledRule
from sim.yamlio import Located, apply_set, load_file, plain


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


def _parent(located: Located, loc: tuple[str | int, ...]) -> Any:
    """The mapping (or list) in the data that holds the key at ``loc``."""
    parent: Any = located.data
    for part in loc[:-1]:
        # pydantic's locations also name unions' tags (``signal``, ``uniform``, ...),
        # which are no step in the data; a step always leads to a mapping or a list
        step = None
        if isinstance(parent, dict) and part in parent:
            step = parent[part]
        elif isinstance(parent, list) and isinstance(part, int) and part < len(parent):
            step = parent[part]
        if isinstance(step, dict | list):
            parent = step
    return parent


def _siblings(located: Located, loc: tuple[str | int, ...], parent: Any = None) -> set[str]:
    """The other keys of the mapping that holds the key at ``loc`` (``parent``, when known)."""
    parent = _parent(located, loc) if parent is None else parent
    return set(parent) - {str(loc[-1])} if isinstance(parent, dict) else set()


def _allowed(located: Located, loc: tuple[str | int, ...]) -> list[str]:
    """Keys allowed where the unknown key at ``loc`` is, from the model its siblings belong to.

    Includes the siblings' own keys (a typo often repeats one). Without a
    sibling to tell the model, every model's keys (for a "did you mean" only).
    """
    parent = _parent(located, loc)
    siblings = _siblings(located, loc, parent)
    if not siblings:
        return sorted({f.alias or n for m in _all_models() for n, f in m.model_fields.items()})
    # every model that has all the siblings, and as many of them as any: several
    # models (of a union) may, and the key may belong to any of them
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
        elif score == best[0]:
            best = (score, [*best[1], *(n for n in names if n not in best[1])])
    return best[1]


def _hint(located: Located, loc: tuple[str | int, ...]) -> str | None:
    """The allowed key an unknown key at ``loc`` was most likely meant to be."""
    hint = difflib.get_close_matches(str(loc[-1]), _allowed(located, loc), n=1, cutoff=0.6)
    return hint[0] if hint else None


def _suggest(located: Located, loc: tuple[str | int, ...]) -> str:
    """A "did you mean" for an unknown key, or the keys allowed here."""
    bad = str(loc[-1])
    allowed = _allowed(located, loc)
    hint = difflib.get_close_matches(bad, allowed, n=1, cutoff=0.6)
    if hint:
        return f"unknown key {bad!r}; did you mean {hint[0]!r}?"
    if allowed and _siblings(located, loc):  # else the list would be every model's keys
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
    if typ == "reference":
        return msg
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
    """Turn pydantic's errors into located problems.

    A misspelt key gives pydantic two errors, the unknown key and the missing
    one it was meant to be; only the first is kept, since it says both.
    """
    errors = exc.errors(include_url=False)
    meant = set()
    for err in errors:
        if err["type"] == "extra_forbidden":
            hint = _hint(located, tuple(err["loc"]))
            if hint is not None:
                meant.add((*tuple(err["loc"])[:-1], hint))
    out: list[Problem] = []
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "missing" and loc in meant:
            continue
        where = located.locate(loc)
        msg = _message(err, located) + _after_sets(located, where)
        problem = Problem(where.source, where.line, where.column, where.path, msg)
        if problem not in out:  # a scalar standing for a pair (at: 5) fails twice
            out.append(problem)
    return out


def _after_sets(located: Located, where: Problem) -> str:
    """`` (after --set ...)`` for a problem in the file that ``--set`` values inside it cause.

    A check across fields (such as the clock's) is located at the mapping that
    holds them, where the file's line alone would blame the file.
    """
    if where.source != located.source:  # already located at the --set itself
        return ""
    at = tuple(where.path.split(".")) if where.path else ()
    flags = [f for p, f in located.overrides.items() if len(p) > len(at) and p[: len(at)] == at]
    return f" (after {', '.join(flags)})" if flags else ""


def _by_position(problem: Problem) -> tuple[int, int]:
    return (problem.line or 0, problem.column or 0)


def validate_data(located: Located, warnings: bool = False) -> Scenario:
    """Validate parsed data as a scenario; raise :class:`InputError` with located problems.

    Every problem found (numbers out of range, the schema, references) is
    reported at once, sorted by position. With ``warnings``, also print located
    warnings (times after the horizon, uncertain times that can fall past it:
    :mod:`sim.scenario.lint`) on stderr.
    """
    data = located.data
    if not isinstance(data, dict):
        raise InputError([Problem(located.source, 1, 1, "", "expected a mapping at the top level")])
    # a parameter --set (or a sweep point) fixes at a number leaves its correlation
    release_constants(data, located.overrides)
    problems = []
    for loc, value in _huge_numbers(data, ()):
        w = located.locate(loc, exact=True)
        shown = (
            f"{value:g}" if isinstance(value, float) else f"a {len(str(abs(value)))}-digit number"
        )
        msg = f"{shown} is out of range; numbers in a scenario lie within ±{MAX_MAGNITUDE:g}"
        problems.append(Problem(w.source, w.line, w.column, w.path, msg))
    try:
        # a network's edge-list file is named relative to the scenario file
        with files_relative_to(located.source if Path(located.source).is_file() else None):
            sc = Scenario.model_validate(plain(data))
    except ValidationError as exc:
        huge = {p.path for p in problems}
        problems += [p for p in problems_from_validation(exc, located) if p.path not in huge]
    if problems:
        raise InputError(sorted(problems, key=_by_position))
    if warnings:
        late = []
        for loc, msg in [*late_times(sc), *uncertain_past_horizon(sc)]:
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
