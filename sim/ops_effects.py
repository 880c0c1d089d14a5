"""Effects of events as small typed objects (part of :mod:`sim.ops`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sim.ops_base import Array, PersonTarget, State


# -------------------------------------------------------------------- effects
class Effect(Protocol):
    """An event's effect, applied where ``mask`` holds."""

    def apply(self, s: State, mask: Array) -> None:
        """Change the state of the rows in ``mask``."""
        ...


@dataclass(frozen=True, eq=False)
class SetFlagOp:
    """Set or clear a flag."""

    flag: int
    value: bool

    def apply(self, s: State, mask: Array) -> None:  # noqa: D102
        s.flags[self.flag] = np.where(mask, self.value, s.flags[self.flag])


#: (agent, rule label, parameter) already warned about in this process
_CLIPPED: set[tuple[str, str, str]] = set()


def _keep_in_range(values: Array, bounds: tuple[float, float], key: tuple[str, str, str]) -> Array:
    """Clip an event-changed rule parameter to its range, warning once per process."""
    lo, hi = bounds
    if np.all((values >= lo) & (values <= hi)):
        return values
    if key not in _CLIPPED:
        _CLIPPED.add(key)
        span = f"[{lo:g}, {hi:g}]".replace("inf", "∞")
        print(
            f"warning: an event moved {key[2]} of {key[1]} outside {span}; "
            "it is clipped to the range",
            file=sys.stderr,
        )
    return np.clip(values, lo, hi)


#: Clip a changed per-person parameter to its range (one warning per process).
keep_in_range = _keep_in_range


@dataclass(frozen=True, eq=False)
class ParamOp:
    """Set, add to or scale a rule parameter in each of its slots (``how``: set, add, scale)."""

    name: str
    targets: tuple[tuple[int, str], ...]  # (slot, label for the trace)
    how: str
    amount: float
    agent: str = ""
    #: range of each target, or None: an ``add`` or ``scale`` that would move a
    #: probability past 1 or a rate below 0 is clipped to it, with one warning
    bounds: tuple[tuple[float, float] | None, ...] = ()
    #: a random size: the per-replicate slot it was drawn into (-1: ``amount``)
    amount_slot: int = -1

    def apply(self, s: State, mask: Array) -> None:  # noqa: D102
        amount = s.param[self.amount_slot] if self.amount_slot >= 0 else self.amount
        for j, (slot, label) in enumerate(self.targets):
            old = s.param[slot]
            if self.how == "set":
                new = np.broadcast_to(np.asarray(amount, dtype=float), (s.size,)).copy()
            elif self.how == "add":
                new = old + amount
            else:
                new = old * amount
            if j < len(self.bounds) and self.bounds[j] is not None:
                new = _keep_in_range(new, self.bounds[j], (self.agent, label, self.name))  # type: ignore[arg-type]
            s.param[slot] = np.where(mask, new, old)
            if s.tracing:
                r = s.traced_row()
                s.say(mask, f"  {label}.{self.name}: {old[r]:.4g} -> {new[r]:.4g}")


@dataclass(frozen=True, eq=False)
class WeightOp:
    """Set, add to or scale one weight of an averaging rule; the others keep the sum at 1.

    The changed weight is kept in [0, 1] (clipped, with one warning); the
    others are rescaled in proportion, ``w_j * (1 - new) / (1 - old)``, or share
    ``1 - new`` equally when they were all 0.
    """

    slots: tuple[int, ...]  # each weight of the rule, in its order
    index: int  # the one that changes
    how: str
    amount: float
    label: str  # e.g. "a.weights.toner", for the trace
    amount_slot: int = -1

    def apply(self, s: State, mask: Array) -> None:  # noqa: D102
        amount = s.param[self.amount_slot] if self.amount_slot >= 0 else self.amount
        old = s.param[self.slots[self.index]]
        if self.how == "set":
            new = np.broadcast_to(np.asarray(amount, dtype=float), (s.size,)).copy()
        else:
            new = old + amount if self.how == "add" else old * amount
        new = _keep_in_range(new, (0.0, 1.0), (self.label, self.label, "weight"))
        rest = 1.0 - old
        others = len(self.slots) - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(rest > 0, (1.0 - new) / rest, 0.0)
        even = np.where(rest > 0, 0.0, (1.0 - new) / others)
        for j, slot in enumerate(self.slots):
            value = new if j == self.index else s.param[slot] * ratio + even
            s.param[slot] = np.where(mask, value, s.param[slot])
        if s.tracing:
            r = s.traced_row()
            s.say(mask, f"  {self.label}: {old[r]:.4g} -> {new[r]:.4g} (the others rescaled)")


@dataclass(frozen=True, eq=False)
class PersonParamOp:
    """Change every person's threshold or resistance in a population (``how``: set, add, scale).

    ``add`` shifts each person's value by ``amount``, ``scale`` multiplies it by
    ``amount``, ``set`` gives every person the value ``amount``: the same
    arithmetic as :class:`ParamOp` on a per-replicate parameter, once per person.
    """

    population: int
    label: str  # e.g. "employees.rule.resistance", for the trace
    how: str
    amount: float
    segment: int = -1
    rule: int = -1
    param: str = ""
    bounds: tuple[float, float] | None = None

    def apply(self, s: State, mask: Array) -> None:  # noqa: D102
        pop = s.populations[self.population]
        if self.segment < 0 and self.rule < 0:
            pop.change_person(self.how, self.amount, mask)
        else:
            target = PersonTarget(self.segment, self.rule, self.param, self.bounds)
            pop.change_values(target, self.how, self.amount, mask)
        a = self.amount
        what = {"add": f"{a:+.4g} each", "scale": f"x {a:.4g} each", "set": f"{a:.4g} for all"}
        s.say(mask, f"  {self.label}: {what[self.how]}")


@dataclass(frozen=True, eq=False)
class EffectList:
    """Several changes made by one effect (per-person values and per-replicate ones)."""

    effects: tuple[Effect, ...]

    def apply(self, s: State, mask: Array) -> None:  # noqa: D102
        for eff in self.effects:
            eff.apply(s, mask)


@dataclass(frozen=True, eq=False)
class ForceOp:
    """Put an individual in a position, for good (see :func:`force`)."""

    agent_index: int
    to: int

    def apply(self, s: State, mask: Array) -> None:  # noqa: D102
        force(s, self.agent_index, self.to, mask)


def force(s: State, i: int, to: int, mask: Array) -> None:
    """Put individual ``i`` in position ``to`` where ``mask``, for good.

    A force is final: the individual's rules (``scheduled`` ones too) no longer
    move it, so an averaging or reversible rule cannot undo it in the same
    tick. Its opinion, if it averages, goes on evolving and being heard.
    """
    s.switch(i, mask & (s.pos[:, i] != to), to, "forced")
    s.pinned[:, i] |= mask


@dataclass(frozen=True, eq=False)
class TraceOp:
    """A line in the trace."""

    message: str

    def apply(self, s: State, mask: Array) -> None:  # noqa: D102
        s.say(mask, f"  {self.message}")
