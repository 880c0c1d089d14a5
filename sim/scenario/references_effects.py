"""Checks of effects' sizes, numbers or distributions (part of :mod:`sim.scenario.references`).

An effect's ``set``, ``add`` or ``scale`` may be a distribution, drawn once per
replicate. Its range checks then apply to its whole support: a ``set`` of a
bounded parameter must keep every value it can draw in the range, a ``scale``
of one can never be negative.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from sim.distributions import Param, support

Loc = tuple[str | int, ...]
Found = Iterator[tuple[Loc, str]]


@cache
def _adapter() -> TypeAdapter[Any]:
    return TypeAdapter(Param)


def span(value: Any) -> tuple[float, float] | None:
    """The values an effect's size can take, ``(low, high)``; None when it is malformed.

    A number is its own span; a distribution (raw, as read from YAML) spans its
    support (truncation included). The schema reports anything else.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return (float(value), float(value)) if math.isfinite(value) else None
    if not isinstance(value, Mapping):
        return None
    try:
        return support(_adapter().validate_python(dict(value)))
    except (ValidationError, ValueError, TypeError):
        return None


def is_random(value: Any) -> bool:
    """Whether an effect's raw size is a distribution."""
    return isinstance(value, Mapping)


def shown(value: Any) -> str:
    """A size as the message shows it: a number, or its distribution as written."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return f"{float(value)}"


def range_problems(
    loc: Loc, agent_id: str, name: str, bounds: tuple[float, float], effect: Mapping[str, Any]
) -> Found:
    """A ``set`` leaves the range, or a ``scale`` can be negative (numbers or distributions)."""
    lo, hi = bounds
    where = f"[{lo:g}, {hi:g}]".replace("inf", "∞")
    new, scale = effect.get("set"), effect.get("scale")
    s = span(new)
    if s is not None and not (lo <= s[0] and s[1] <= hi):
        can = "can draw values outside it" if is_random(new) else "got"
        yield (*loc, "set"), f"{name} of {agent_id!r} must lie in {where}, {can} {shown(new)}"
        return
    s = span(scale)
    if s is not None and s[0] < 0:
        what = f"a scale {shown(scale)} can be negative" if is_random(scale) else None
        yield (
            (*loc, "scale"),
            f"{name} of {agent_id!r} must lie in {where}; "
            + (what or f"a negative scale {shown(scale)} leaves it"),
        )


def per_person_problem(loc: Loc, agent_id: str, name: str, effect: Mapping[str, Any]) -> Found:
    """A random size cannot change a population's per-person values."""
    for how in ("set", "add", "scale"):
        if is_random(effect.get(how)):
            yield (
                (*loc, how),
                f"{agent_id!r} holds its {name} per person: a random effect size applies to "
                "parameters held once per replicate; give a number",
            )
            return


def weight_problems(
    loc: Loc, agent_id: str, rules: Sequence[Mapping[str, Any]], effect: Mapping[str, Any]
) -> Found:
    """``param: weights`` names a weight of the agent's averaging rule, which has others."""
    name = effect.get("weight")
    averaging = [r for r in rules if r.get("kind") == "averaging"]
    if not isinstance(name, str) or not averaging:
        return  # the schema, or the check of the parameter's name, reports it
    weights = averaging[0].get("weights")
    known = [str(k) for k in weights] if isinstance(weights, Mapping) else []
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (its weights: {', '.join(known)})"
        yield (*loc, "weight"), f"the averaging rule of {agent_id!r} has no weight {name!r}{hint}"
        return
    if len(known) < 2:
        yield (
            (*loc, "weight"),
            f"the averaging rule of {agent_id!r} hears {name!r} alone: its weight stays 1 "
            "(the weights sum to 1); add another weight to change it",
        )
        return
    yield from range_problems(loc, agent_id, f"the weight of {name!r}", (0.0, 1.0), effect)
