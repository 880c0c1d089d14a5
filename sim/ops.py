"""What a plan is made of: terms, signals, rules, effects and triggers as small typed objects.

:func:`sim.plan.compile_plan` builds these once per scenario, with every name
already resolved to an array index; the engine calls them on every tick. They
read and write a block's arrays through the :class:`State` protocol (one row
per replicate), never the scenario, so nothing on the per-tick path looks a
name up or asks which schema class it holds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from sim import rules as R
from sim import votes as V

Array = np.ndarray[Any, Any]
Value = Array | float


class State(Protocol):
    """The arrays of one block that compiled operations read and write.

    Implemented by :class:`sim.engine.world.BlockState`; see there for each field.
    """

    size: int
    k: int
    t: float
    pos: Array
    pinned: Array
    opinion: Array
    opinion0: Array
    flags: list[Array]
    param: list[Array]
    due: list[Array]
    fired_tick: list[Array]
    passed_tick: list[Array]
    tracing: bool

    def signal(self, index: int) -> Array:
        """Value of signal ``index`` in every replicate (cached until the state changes)."""
        ...

    def curve_value(self, index: int) -> Value:
        """Curve of source ``index`` at the current tick."""
        ...

    def fraction(self, population: int, position: int) -> Array:
        """Share of population ``population`` in ``position``."""
        ...

    def segment_fraction(self, population: int, segment: int, position: int) -> Array:
        """Share of a segment of population ``population`` in ``position``."""
        ...

    def switch(self, i: int, mask: Array, to: int, why: str) -> None:
        """Put individual ``i`` in position ``to`` where ``mask``."""
        ...

    def say(self, mask: Array, text: str) -> None:
        """A trace line, when the traced replicate is in ``mask`` and still running."""
        ...

    def traced_row(self) -> int:
        """Row of the replicate whose story is told (0 when none is)."""
        ...

    @property
    def populations(self) -> Sequence[PersonValues]:
        """The block's populations, in plan order."""
        ...


class PersonValues(Protocol):
    """A population whose rules hold one value per person (thresholds, resistances, ...)."""

    def change_person(self, how: str, amount: float, mask: Array) -> None:
        """``add`` to, ``scale`` or ``set`` every person's value in the rows of ``mask``."""
        ...

    def change_values(self, target: PersonTarget, how: str, amount: float, mask: Array) -> None:
        """The same for one parameter of one rule (of one segment), as ``target`` says."""
        ...


@dataclass(frozen=True)
class PersonTarget:
    """Which per-person values a change reaches: all of a simple population's (the defaults).

    ``segment`` (index) of a population made of segments; ``rule`` (index) and
    ``param`` of a population with several rules or per-person parameters;
    ``bounds``: the parameter's range, or None.
    """

    segment: int = -1
    rule: int = -1
    param: str = ""
    bounds: tuple[float, float] | None = None


#: A term of a signal (or anything an averaging agent hears): state -> value per replicate.
Term = Callable[[State], Value]
#: A condition: state -> bool per replicate.
Condition = Callable[[State], Array]


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


@dataclass(frozen=True)
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
@dataclass(frozen=True)
class Compare:
    """A value (a signal, a count) compared with a number, within :data:`sim.rules.TOLERANCE`."""

    value: Term
    test: Callable[[Value, float], Array]  # one of sim.rules.COMPARISONS
    number: float

    def __call__(self, s: State) -> Array:
        """Where it holds."""
        return np.broadcast_to(self.test(self.value(s), self.number), (s.size,))


@dataclass(frozen=True)
class InPositions:
    """Individual ``agent_index`` is in one of ``positions``."""

    agent_index: int
    positions: tuple[int, ...]

    def __call__(self, s: State) -> Array:  # noqa: D102
        column = s.pos[:, self.agent_index]
        if len(self.positions) == 1:
            return column == self.positions[0]
        return np.isin(column, self.positions)


@dataclass(frozen=True)
class AllOf:
    """Every one of ``parts`` holds."""

    parts: tuple[Condition, ...]

    def __call__(self, s: State) -> Array:  # noqa: D102
        out = self.parts[0](s).copy()
        for part in self.parts[1:]:
            out &= part(s)
        return out


@dataclass(frozen=True)
class AnyOf:
    """At least one of ``parts`` holds."""

    parts: tuple[Condition, ...]

    def __call__(self, s: State) -> Array:  # noqa: D102
        out = self.parts[0](s).copy()
        for part in self.parts[1:]:
            out |= part(s)
        return out


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class CurveOp:
    """A source's curve and the slots of its parameters."""

    fn: CurveFn
    slots: tuple[int, ...]


# ---------------------------------------------------------------------- rules
@dataclass(frozen=True)
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


@dataclass(frozen=True)
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
        in_to = cur == self.to_idx
        pressure = s.signal(self.signal) + s.param[self.offset]
        col = u[:, self.column]
        fwd = in_from & (col < R.per_tick(self.probabilities(s, pressure, False), self.tick))
        if not self.reversible:
            return fwd, None
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class AveragingStep(RuleStep):
    """In the ``to`` position while the agent's opinion is at least the cut-off."""

    col: int
    cutoff: float

    def moves(self, s: State, cur: Array, u: Array | None) -> tuple[Array, Array | None]:  # noqa: D102
        in_from, in_to = cur == self.from_idx, cur == self.to_idx
        high = R.at_least(s.opinion[:, self.col], self.cutoff)
        return in_from & high, (in_to & ~high if self.reversible else None)

    def detail(self, s: State, r: int) -> str:  # noqa: D102
        return f"opinion {s.opinion[r, self.col]:.3f} vs cut-off {self.cutoff:g}"


@dataclass(frozen=True)
class AveragingOp:
    """One Friedkin-Johnsen agent: what it hears, with which weights."""

    col: int
    stubbornness: int
    heard: tuple[Term, ...]
    weights: Array  # (1, J)


def update_opinions(s: State, ops: Sequence[AveragingOp]) -> None:
    """One synchronous averaging step of every averaging agent (reads the old opinions)."""
    new = np.empty_like(s.opinion)
    for op in ops:
        inputs = np.stack([h(s) for h in op.heard], axis=1)
        stubborn = s.param[op.stubbornness][:, None]
        x0 = s.opinion0[:, op.col : op.col + 1]
        new[:, op.col] = R.averaging_step(x0, stubborn, inputs, op.weights)[:, 0]
    s.opinion = new


# -------------------------------------------------------------------- effects
class Effect(Protocol):
    """An event's effect, applied where ``mask`` holds."""

    def apply(self, s: State, mask: Array) -> None:
        """Change the state of the rows in ``mask``."""
        ...


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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

    def apply(self, s: State, mask: Array) -> None:  # noqa: D102
        for j, (slot, label) in enumerate(self.targets):
            old = s.param[slot]
            if self.how == "set":
                new = np.full(s.size, self.amount)
            elif self.how == "add":
                new = old + self.amount
            else:
                new = old * self.amount
            if j < len(self.bounds) and self.bounds[j] is not None:
                new = _keep_in_range(new, self.bounds[j], (self.agent, label, self.name))  # type: ignore[arg-type]
            s.param[slot] = np.where(mask, new, old)
            if s.tracing:
                r = s.traced_row()
                s.say(mask, f"  {label}.{self.name}: {old[r]:.4g} -> {new[r]:.4g}")


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class EffectList:
    """Several changes made by one effect (per-person values and per-replicate ones)."""

    effects: tuple[Effect, ...]

    def apply(self, s: State, mask: Array) -> None:  # noqa: D102
        for eff in self.effects:
            eff.apply(s, mask)


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class TraceOp:
    """A line in the trace."""

    message: str

    def apply(self, s: State, mask: Array) -> None:  # noqa: D102
        s.say(mask, f"  {self.message}")


# ------------------------------------------------------------ decisions, outcomes
@dataclass(frozen=True)
class DecisionOp:
    """A vote with member and position indices resolved; ``rule`` counts it (:mod:`sim.votes`)."""

    id: str
    index: int
    members: list[int]
    motion_idx: Array  # per member, -1 when the member has no such position
    absent_idx: list[list[int]]
    abstain_idx: list[list[int]]
    rule: V.VoteRule
    ticks: tuple[int, ...]  # scheduled votes (empty for a vote held on an event)
    on: int  # event index, -1 when scheduled

    def vote(self, s: State, due: Array) -> Array:
        """Rows where the motion passes (among ``due``); traces the traced row's vote."""
        pos = s.pos[:, self.members]
        abstaining, absent = _holding(pos, self.abstain_idx), _holding(pos, self.absent_idx)
        tally = self.rule.tally(pos == self.motion_idx, abstaining, absent)
        passed = due & tally.passed
        r = s.traced_row()
        if s.tracing and due[r]:
            s.say(due, f"vote {self.id}: {self.rule.describe(tally, r)}")
        return passed


def _holding(pos: Array, idx: list[list[int]]) -> Array | None:
    """Where member ``m`` holds one of the positions ``idx[m]`` (per row); None: nowhere."""
    if not any(i >= 0 for idxs in idx for i in idxs):
        return None
    out = np.zeros(pos.shape, dtype=bool)
    for m, idxs in enumerate(idx):
        for i in idxs:
            out[:, m] |= pos[:, m] == i
    return out


@dataclass(frozen=True)
class OnDecision:
    """Outcome trigger: the decision passed at this tick."""

    decision: int

    def hit(self, s: State) -> Array:  # noqa: D102
        return s.passed_tick[self.decision] == s.k


@dataclass(frozen=True)
class OnEvent:
    """Outcome trigger: the event happened at this tick."""

    event: int

    def hit(self, s: State) -> Array:  # noqa: D102
        return s.fired_tick[self.event] == s.k


@dataclass(frozen=True)
class OnDeadline:
    """Outcome trigger: the replicate's deadline tick (in ``due[slot]``) is reached."""

    slot: int

    def hit(self, s: State) -> Array:  # noqa: D102
        return s.k >= s.due[self.slot]


@dataclass(frozen=True)
class OnCondition:
    """Outcome trigger: a condition on signals holds."""

    holds: Condition

    def hit(self, s: State) -> Array:  # noqa: D102
        return self.holds(s)


Trigger = OnDecision | OnEvent | OnDeadline | OnCondition


# --------------------------------------------------------------- time-triggered
@dataclass(frozen=True)
class EventOp:
    """An event: its trigger (exactly one of ``at_slot``, ``ticks``, ``when``) and effects."""

    id: str
    index: int
    flag: int
    label: str  # its trace line
    effects: tuple[Effect, ...]
    at_slot: int = -1  # ``at``: per-replicate tick in ``due[at_slot]``
    ticks: tuple[int, ...] = ()  # ``every``: the ticks it recurs at
    when: Condition | None = None  # ``when``: fires the tick after its condition first holds

    def fire(self, s: State, now: Array) -> bool:
        """Happen in the rows of ``now``; whether it happened in any."""
        if not now.any():
            return False
        s.fired_tick[self.index] = np.where(now, s.k, s.fired_tick[self.index])
        s.flags[self.flag] = s.flags[self.flag] | now
        s.say(now, self.label)
        for eff in self.effects:
            eff.apply(s, now)
        return True


#: ``due`` of a scheduled rule that has switched: it waits for nothing more.
DONE = np.iinfo(np.int64).max


@dataclass(frozen=True)
class ScheduledOp:
    """A ``scheduled`` rule: switch once, at the first tick >= its time when in ``from``.

    Each replicate's time is its own tick (``due[slot]``). An individual not in
    ``from`` then waits: the rule switches it at the first later tick that
    starts (phase 1) with it in ``from``; a forced individual is never moved.
    Once it has switched, ``due`` becomes :data:`DONE`.
    """

    agent_index: int
    from_idx: int
    to_idx: int
    slot: int

    def apply(self, s: State) -> None:
        """Switch the rows due now or waiting since."""
        i, due = self.agent_index, s.due[self.slot]
        now = (due <= s.k) & (s.pos[:, i] == self.from_idx) & ~s.pinned[:, i]
        if now.any():
            s.switch(i, now, self.to_idx, "scheduled")
            s.due[self.slot] = np.where(now, DONE, due)

    def next_tick(self, s: State) -> int | None:
        """The next tick this rule must look at: the next, while a row waits; else the next due."""
        due = s.due[self.slot]
        waiting = due < DONE
        if not waiting.any():
            return None
        return max(s.k + 1, int(due[waiting].min()))
