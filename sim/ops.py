"""What a plan is made of: terms, signals, rules, effects and triggers as small typed objects.

:func:`sim.plan.compile_plan` builds these once per scenario, with every name
already resolved to an array index; the engine calls them on every tick. They
read and write a block's arrays through the :class:`State` protocol (one row
per replicate), never the scenario, so nothing on the per-tick path looks a
name up or asks which schema class it holds.

Ops (here and in :mod:`sim.ops_base`, :mod:`sim.ops_effects`,
:mod:`sim.ops_triggers`, :mod:`sim.ops_opinions`, and the specs of
:mod:`sim.plan_specs`) are frozen dataclasses compared by identity
(``eq=False``): most hold arrays, which value equality cannot compare, and
without ``__eq__`` and ``__hash__`` a class is made in about a third less time
at import (0.9 ms to 0.6 ms each, on the machine this was written on).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sim import rules as R

# the protocol, effects and triggers live beside this module (each under 500 lines);
# sim.ops stays the one namespace the compiler and the engine use, and re-exports them
from sim.ops_base import Array as Array
from sim.ops_base import Condition as Condition
from sim.ops_base import PersonTarget as PersonTarget
from sim.ops_base import PersonValues as PersonValues
from sim.ops_base import State as State
from sim.ops_base import Term as Term
from sim.ops_base import Value as Value
from sim.ops_effects import Effect as Effect
from sim.ops_effects import EffectList as EffectList
from sim.ops_effects import ForceOp as ForceOp
from sim.ops_effects import ParamOp as ParamOp
from sim.ops_effects import PersonParamOp as PersonParamOp
from sim.ops_effects import SetFlagOp as SetFlagOp
from sim.ops_effects import TraceOp as TraceOp
from sim.ops_effects import WeightOp as WeightOp
from sim.ops_effects import _keep_in_range as _keep_in_range
from sim.ops_effects import force as force
from sim.ops_effects import keep_in_range as keep_in_range
from sim.ops_triggers import DONE as DONE
from sim.ops_triggers import DecisionOp as DecisionOp
from sim.ops_triggers import EventOp as EventOp
from sim.ops_triggers import OnCondition as OnCondition
from sim.ops_triggers import OnDeadline as OnDeadline
from sim.ops_triggers import OnDecision as OnDecision
from sim.ops_triggers import OnEvent as OnEvent
from sim.ops_triggers import ScheduledOp as ScheduledOp
from sim.ops_triggers import Trigger as Trigger
from sim.ops_triggers import _holding as _holding


# ---------------------------------------------------------------------- terms
def population_fraction(population: int, position: int) -> Term:
    """Share of a population in a position."""
    return lambda s: s.fraction(population, position)


def segment_fraction(population: int, segment: int, position: int) -> Term:
    """Share of one segment of a population in a position."""
    return lambda s: s.segment_fraction(population, segment, position)


def heard_fraction(population: int, row: tuple[tuple[int, float], ...], position: int) -> Term:
    """A population's share as one of its segments hears it: its segments' shares, weighted.

    ``row`` holds ``(segment, weight)`` for the segments it hears (``hears``).
    """

    def heard(s: State) -> Array:
        total = np.zeros(s.size)
        for segment, weight in row:
            total += weight * s.segment_fraction(population, segment, position)
        return total

    return heard


def group_fraction(members: list[int], idx: Array) -> Term:
    """Share of a group's members in a position (``idx``: each member's index of it, -1: none)."""
    return lambda s: np.mean(s.pos[:, members] == idx, axis=1)


def group_count(members: list[int], idx: Array) -> Term:
    """Number of a group's members in a position (``idx`` as for :func:`group_fraction`)."""
    return lambda s: np.count_nonzero(s.pos[:, members] == idx, axis=1).astype(float)


def position_is(i: int, j: int) -> Term:
    """1 where individual ``i`` is in position ``j``."""
    return lambda s: s.pos[:, i] == j


def stance_of(i: int, j: int) -> Term:
    """What an averaging agent hears from an individual: 1.0 in position ``j``, else 0.0."""
    return lambda s: (s.pos[:, i] == j).astype(float)


def opinion_of(col: int) -> Term:
    """An averaging agent's opinion."""
    return lambda s: s.opinion[:, col]


def flag_of(f: int) -> Term:
    """A flag (or an event's has-happened flag)."""
    return lambda s: s.flags[f]


def curve_of(c: int) -> Term:
    """A source's curve now."""
    return lambda s: s.curve_value(c)


def signal_of(i: int) -> Term:
    """Another signal."""
    return lambda s: s.signal(i)


def constant(c: float) -> Term:
    """A constant (with weight 1.0, which is exact: ``1.0 * c == c``)."""
    return lambda s: c


@dataclass(frozen=True, eq=False)
class SignalOp:
    """A weighted sum of terms, added up in file order."""

    terms: tuple[tuple[float, Term], ...]

    def __call__(self, s: State) -> Array:
        """The signal in every replicate."""
        total = np.zeros(s.size)
        for weight, term in self.terms:
            total += weight * term(s)
        return total


# ----------------------------------------------------------------- conditions
@dataclass(frozen=True, eq=False)
class Compare:
    """A value (a signal, a count) compared with a number, within :data:`sim.rules.TOLERANCE`."""

    value: Term
    test: Callable[[Value, float], Array]  # one of sim.rules.COMPARISONS
    number: float

    def __call__(self, s: State) -> Array:
        """Where it holds."""
        return np.broadcast_to(self.test(self.value(s), self.number), (s.size,))


@dataclass(frozen=True, eq=False)
class InPositions:
    """Individual ``agent_index`` is in one of ``positions``."""

    agent_index: int
    positions: tuple[int, ...]

    def __call__(self, s: State) -> Array:  # noqa: D102
        column = s.pos[:, self.agent_index]
        if len(self.positions) == 1:
            return column == self.positions[0]
        return np.isin(column, self.positions)


@dataclass(frozen=True, eq=False)
class AllOf:
    """Every one of ``parts`` holds."""

    parts: tuple[Condition, ...]

    def __call__(self, s: State) -> Array:  # noqa: D102
        out = self.parts[0](s).copy()
        for part in self.parts[1:]:
            out &= part(s)
        return out


@dataclass(frozen=True, eq=False)
class AnyOf:
    """At least one of ``parts`` holds."""

    parts: tuple[Condition, ...]

    def __call__(self, s: State) -> Array:  # noqa: D102
        out = self.parts[0](s).copy()
        for part in self.parts[1:]:
            out |= part(s)
        return out


@dataclass(frozen=True, eq=False)
class NotOf:
    """``part`` does not hold."""

    part: Condition

    def __call__(self, s: State) -> Array:  # noqa: D102
        return ~self.part(s)


# --------------------------------------------------------------------- curves
#: A curve: (its parameters, in its field order; time in hours) -> value.
CurveFn = Callable[[Sequence[Value], float], Value]


def constant_curve(p: Sequence[Value], t: float) -> Value:
    """Fields: value."""
    return p[0]


def step_curve(p: Sequence[Value], t: float) -> Value:
    """Fields: at, before, after."""
    return np.where(t >= p[0], p[2], p[1])


def ramp_curve(p: Sequence[Value], t: float) -> Value:
    """Fields: start, end, start_value, end_value."""
    start, end, v0, v1 = p
    span = end - start
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(span > 0, (t - start) / np.where(span > 0, span, 1.0), (t >= end) * 1.0)
    return v0 + (v1 - v0) * np.clip(frac, 0.0, 1.0)


def piecewise_curve(points: list[tuple[float, float]]) -> CurveFn:
    """Linear interpolation between fixed points (no random fields)."""
    times, values = zip(*points, strict=True)
    return lambda p, t: float(np.interp(t, times, values))


@dataclass(frozen=True, eq=False)
class CurveOp:
    """A source's curve and the slots of its parameters."""

    fn: CurveFn
    slots: tuple[int, ...]


# ---------------------------------------------------------------------- rules
@dataclass(frozen=True, eq=False)
class RuleStep:
    """One non-scheduled rule of an individual, as the individuals' phase applies it."""

    agent: str
    agent_index: int
    positions: tuple[str, ...]
    from_idx: int
    to_idx: int
    column: int  # column of the tick's uniform draws, -1 when it draws none
    reversible: bool
    tick: float

    def moves(self, s: State, cur: Array, u: Array | None) -> tuple[Array, Array | None]:
        """Rows switching forward, and back (None when the rule never switches back)."""
        raise NotImplementedError

    def detail(self, s: State, r: int) -> str:
        """Why the traced row moved (for the trace)."""
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class PressureStep(RuleStep):
    """A hazard or logistic rule: switch with a probability rising with the excess pressure."""

    signal: int
    offset: int
    resistance: int
    rate: int
    slope: int  # -1 for a hazard rule

    def probabilities(self, s: State, pressure: Array, back: bool) -> Array:
        """Per-hour probability of switching to ``to`` (or, with ``back``, back)."""
        raise NotImplementedError

    def moves(self, s: State, cur: Array, u: Array | None) -> tuple[Array, Array | None]:  # noqa: D102
        assert u is not None
        in_from = cur == self.from_idx
        if not self.reversible and not in_from.any():
            return in_from, None  # no one can move: no probability to compute
        pressure = s.signal(self.signal) + s.param[self.offset]
        col = u[:, self.column]
        fwd = in_from & (col < R.per_tick(self.probabilities(s, pressure, False), self.tick))
        if not self.reversible:
            return fwd, None
        in_to = cur == self.to_idx
        back = in_to & (col < R.per_tick(self.probabilities(s, pressure, True), self.tick))
        return fwd, back

    def detail(self, s: State, r: int) -> str:  # noqa: D102
        pressure = s.signal(self.signal)[r] + s.param[self.offset][r]
        return f"pressure {pressure:.3f} vs resistance {s.param[self.resistance][r]:.3f}"


class HazardStep(PressureStep):
    """``min(1, rate * max(0, pressure - resistance))`` per hour."""

    def probabilities(self, s: State, pressure: Array, back: bool) -> Array:  # noqa: D102
        res, rate = s.param[self.resistance], s.param[self.rate]
        if back:
            return R.hazard_back_probability(pressure, res, rate)
        return R.hazard_probability(pressure, res, rate)


class LogisticStep(PressureStep):
    """``rate / (1 + exp(-slope * (pressure - resistance)))`` per hour."""

    def probabilities(self, s: State, pressure: Array, back: bool) -> Array:  # noqa: D102
        res, rate, slope = s.param[self.resistance], s.param[self.rate], s.param[self.slope]
        if back:
            return R.logistic_back_probability(pressure, res, rate, slope)
        return R.logistic_probability(pressure, res, rate, slope)


@dataclass(frozen=True, eq=False)
class ThresholdStep(RuleStep):
    """Granovetter's rule, with an optional spontaneous switch."""

    signal: int
    offset: int
    threshold: int
    spontaneous: int

    def moves(self, s: State, cur: Array, u: Array | None) -> tuple[Array, Array | None]:  # noqa: D102
        in_from, in_to = cur == self.from_idx, cur == self.to_idx
        support = s.signal(self.signal) + s.param[self.offset]
        reached = R.threshold_reached(support, s.param[self.threshold])
        fwd = in_from & reached
        if self.column >= 0:
            assert u is not None
            p = R.per_tick(s.param[self.spontaneous], self.tick)
            fwd |= in_from & ~reached & (u[:, self.column] < p)
        return fwd, (in_to & ~reached if self.reversible else None)

    def detail(self, s: State, r: int) -> str:  # noqa: D102
        support = s.signal(self.signal)[r] + s.param[self.offset][r]
        return f"support {support:.3f} vs threshold {s.param[self.threshold][r]:.3f}"


@dataclass(frozen=True, eq=False)
class AveragingStep(RuleStep):
    """In the ``to`` position while the agent's opinion is at least the cut-off."""

    col: int
    cutoff: float
    #: param slot of the cut-off, which events may change (-1: ``cutoff`` as it is)
    cutoff_slot: int = -1

    def level(self, s: State) -> Array | float:
        """The cut-off in every row."""
        return self.cutoff if self.cutoff_slot < 0 else s.param[self.cutoff_slot]

    def moves(self, s: State, cur: Array, u: Array | None) -> tuple[Array, Array | None]:  # noqa: D102
        in_from, in_to = cur == self.from_idx, cur == self.to_idx
        high = R.at_least(s.opinion[:, self.col], self.level(s))
        return in_from & high, (in_to & ~high if self.reversible else None)

    def detail(self, s: State, r: int) -> str:  # noqa: D102
        cutoff = self.level(s)
        level = cutoff if isinstance(cutoff, float) else float(cutoff[r])
        return f"opinion {s.opinion[r, self.col]:.3f} vs cut-off {level:g}"


@dataclass(frozen=True, eq=False)
class AveragingOp:
    """One Friedkin-Johnsen agent: what it hears, with which weights."""

    col: int
    stubbornness: int
    heard: tuple[Term, ...]
    weights: Array  # (1, J)
    #: per-replicate weights (slots in ``param``) once an event can change them
    weight_slots: tuple[int, ...] = ()


def update_opinions(s: State, ops: Sequence[AveragingOp]) -> None:
    """One synchronous averaging step of every averaging agent (reads the old opinions).

    Other opinion columns (bounded-confidence individuals) are kept as they are.
    """
    new = s.opinion.copy()
    for op in ops:
        inputs = np.stack([h(s) for h in op.heard], axis=1)
        stubborn = s.param[op.stubbornness][:, None]
        x0 = s.opinion0[:, op.col : op.col + 1]
        if op.weight_slots:  # weights an event can change: one row per replicate
            w = np.stack([s.param[k] for k in op.weight_slots], axis=1)
            heard = np.sum(inputs * w, axis=1)
            new[:, op.col] = stubborn[:, 0] * x0[:, 0] + (1.0 - stubborn[:, 0]) * heard
            continue
        new[:, op.col] = R.averaging_step(x0, stubborn, inputs, op.weights)[:, 0]
    s.opinion = new
