"""The negotiation as SimPy processes: every actor and mechanism of a scenario is one.

On a block's environment (clock in hours; tick ``k`` is at ``k * tick``) run:

- the **clock** (starts each tick; at its end records, and closes the block at
  the horizon or once every replicate has ended);
- one process per **time-triggered event** (``at``: it waits for the earliest
  tick still ahead among the replicates; ``every``: for its next tick), per
  **condition-triggered event** (checks its condition at the end of each tick
  and fires at the start of the next), and per **scheduled switch**;
- the **tick process**, which advances the populations, then the individuals;
- one process per **decision**: it waits for its meeting (its schedule) or
  for the event it is held on;
- one **outcome watcher** per trigger of each outcome: it waits for what can
  make it hold (the decision passing, the event happening, its deadline) or,
  for a condition, checks every tick.

Order within a tick (README, "Order within a tick") is kept with SimPy's event
priorities, not with a central loop: the heap orders events by
``(time, priority, insertion)``, and :meth:`Clock.at` schedules "tick ``k``,
phase ``P``, position ``i``" with priority ``(P + 1) * 2**24 + i``, where ``i``
is the file order within the phase. Processes that wait on such events run
in exactly this order, whatever the order they were scheduled in:

0. start of the tick;
1. time-triggered events due now (file order), then ``scheduled`` switches;
2. populations, synchronously (each reads the state at the start of phase 2);
3. individuals, synchronously (pressures from the state after phase 2);
4. decisions due now;
5. outcome triggers in file order; the first that holds ends the replicate;
6. condition-triggered events whose condition first holds now (effects from
   the next tick);
7. end of the tick.

A user's process that waits with ``env.timeout`` gets SimPy's normal
priority, below every phase: it acts between ticks, after the tick before its
time and before the phases of a tick at its time.

Processes act on every row of the block at once through masks. Anything that
differs between rows (an ``at`` time, a deadline) is read from the block's
state each time the process wakes, never kept in the generator, so rows can
be resampled between ticks (:meth:`~sim.engine.state.BlockState.take`).
Replicates that have ended keep being advanced with the others (so that the
random streams never depend on when a neighbour ended) but nothing more is
recorded for them.
"""

from __future__ import annotations

from collections.abc import Generator
from heapq import heappush
from typing import Any

import numpy as np
import simpy

from sim import ops as O
from sim.engine.state import BlockState
from sim.ops_opinions import update_confidence

Array = np.ndarray[Any, Any]
Proc = Generator[simpy.Event, Any, None]

START, EVENTS, POPULATIONS, INDIVIDUALS, DECISIONS, OUTCOMES, CONDITIONS, END = range(8)
_SPAN = 1 << 24


def priority(phase: int, position: int = 0) -> int:
    """Heap priority of position ``position`` of a phase (above SimPy's URGENT and NORMAL)."""
    return (phase + 1) * _SPAN + position


class TickEnvironment(simpy.Environment):
    """A SimPy environment that can schedule an event at an exact time and priority.

    Tick ``k`` happens at exactly ``k * tick`` hours, however it was reached
    (``now + (t - now)`` need not equal ``t`` in floating point).
    """

    def schedule_at(self, event: simpy.Event, time: float, prio: int) -> None:
        """Put ``event`` on the heap at ``time`` with priority ``prio`` (as ``schedule`` does)."""
        queue: list[Any] = self._queue
        heappush(queue, (time, prio, next(self._eid), event))


class PhaseEvent(simpy.Event):
    """An event that happens at tick ``k``, phase ``phase``, position ``position``."""

    def __init__(self, env: TickEnvironment, time: float, prio: int, value: Any = None) -> None:
        super().__init__(env)
        # already triggered, like simpy.Timeout: it only waits for its turn on the heap
        self._ok = True
        self._value = value
        env.schedule_at(self, time, prio)


class Clock:
    """Where processes of one block wait: ticks and phases, and bells between them."""

    def __init__(self, env: TickEnvironment, tick: float, n_ticks: int) -> None:
        self.env, self.tick, self.n_ticks = env, tick, n_ticks

    def at(self, k: int, phase: int, position: int = 0) -> PhaseEvent:
        """The event "tick ``k``, phase ``phase``, position ``position``"."""
        return PhaseEvent(self.env, k * self.tick, priority(phase, position), k)


class Bell:
    """Rings whenever something happens (an event fires, a motion passes); wait on ``.event``."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.event = env.event()

    def ring(self, k: int) -> None:
        """Wake every process waiting now (with the tick's index)."""
        event, self.event = self.event, self.env.event()
        event.succeed(k)


def next_due(due: Array, mask: Array | None, after: int) -> int | None:
    """Earliest tick in ``due`` (rows in ``mask``) after tick ``after``, or None."""
    ahead = due > after if mask is None else mask & (due > after)
    return int(due[ahead].min()) if ahead.any() else None


# --------------------------------------------------------------- the processes
def clock(c: Clock, s: BlockState, done: simpy.Event) -> Proc:
    """Start and end every tick; close the block at the horizon or when all have ended."""
    for k in range(1, c.n_ticks + 1):
        yield c.at(k, START)
        s.begin_tick(k)
        yield c.at(k, END)
        if s.recording is not None:
            s.record()
        if k == c.n_ticks:
            s.finish()
            if not done.triggered:
                done.succeed()
        elif not done.triggered and not s.active[: s.wanted].any():
            # later rows never influence earlier ones: stop once the wanted ones ended
            done.succeed()


def wait(at: PhaseEvent | None, retimed: Bell | None) -> simpy.Event | None:
    """What a process waiting for a drawn time waits on; None when it is done.

    ``at`` (None: no time ahead within the horizon); where times can be drawn
    anew (``retimed``, :mod:`sim.refresh`), also that bell, and without ``at``
    only the bell, so that a time drawn anew is never missed.
    """
    if retimed is None:
        return at
    return retimed.event if at is None else at | retimed.event


def at_event(c: Clock, s: BlockState, ev: O.EventOp, bell: Bell, retimed: Bell | None) -> Proc:
    """An event at a per-replicate time."""
    while True:
        k = next_due(s.due[ev.at_slot], None, s.k)
        due = c.at(k, EVENTS, ev.index) if k is not None and k <= c.n_ticks else None
        if (event := wait(due, retimed)) is None:
            return
        yield event
        if due is None or not due.processed:  # times were drawn anew: look again
            continue
        if ev.fire(s, s.due[ev.at_slot] == s.k):
            bell.ring(s.k)


def every_event(c: Clock, s: BlockState, ev: O.EventOp, bell: Bell) -> Proc:
    """A recurring event."""
    for k in ev.ticks:
        yield c.at(k, EVENTS, ev.index)
        if ev.fire(s, np.ones(s.size, dtype=bool)):
            bell.ring(k)


def when_event(c: Clock, s: BlockState, ev: O.EventOp, bell: Bell) -> Proc:
    """An event that fires at the start of the tick after its condition first holds."""
    assert ev.when is not None
    for k in range(1, c.n_ticks + 1):
        yield c.at(k, CONDITIONS, ev.index)
        pending = s.pending[ev.index]
        s.pending[ev.index] = pending | (ev.when(s) & ~s.flags[ev.flag] & ~pending)
        if k < c.n_ticks and s.pending[ev.index].any():
            yield c.at(k + 1, EVENTS, ev.index)
            now = s.pending[ev.index]
            s.pending[ev.index] = np.zeros(s.size, dtype=bool)
            if ev.fire(s, now):
                bell.ring(k + 1)


def scheduled_switch(
    c: Clock, s: BlockState, op: O.ScheduledOp, position: int, retimed: Bell | None
) -> Proc:
    """A ``scheduled`` rule: switches each replicate at its own tick, or once in ``from``."""
    while True:
        k = op.next_tick(s)
        due = c.at(k, EVENTS, position) if k is not None and k <= c.n_ticks else None
        if (event := wait(due, retimed)) is None:
            return
        yield event
        if due is not None and due.processed:
            op.apply(s)


def ticker(c: Clock, s: BlockState) -> Proc:
    """Advance the populations, then the individuals, every tick."""
    for k in range(1, c.n_ticks + 1):
        yield c.at(k, POPULATIONS)
        s.invalidate()
        advance_populations(s)
        s.invalidate()
        yield c.at(k, INDIVIDUALS)
        advance_individuals(s)
        s.invalidate()


def scheduled_decision(c: Clock, s: BlockState, d: O.DecisionOp, bell: Bell) -> Proc:
    """A vote at each meeting of its schedule."""
    for k in d.ticks:
        yield c.at(k, DECISIONS, d.index)
        _vote(s, d, np.ones(s.size, dtype=bool), bell)


def decision_on_event(c: Clock, s: BlockState, d: O.DecisionOp, on: Bell, bell: Bell) -> Proc:
    """A vote held whenever its event happens."""
    while True:
        k = yield on.event
        yield c.at(k, DECISIONS, d.index)
        _vote(s, d, s.fired_tick[d.on] == k, bell)


def _vote(s: BlockState, d: O.DecisionOp, due: Array, bell: Bell) -> None:
    passed = d.vote(s, due)
    if passed.any():
        s.passed_tick[d.index] = np.where(passed, s.k, s.passed_tick[d.index])
        bell.ring(s.k)


def watch_bell(c: Clock, s: BlockState, o: int, trigger: O.Trigger, bell: Bell, pos: int) -> Proc:
    """Outcome watcher for a decision or an event: wakes when it rings."""
    while True:
        k = yield bell.event
        yield c.at(k, OUTCOMES, pos)
        _end(s, o, trigger.hit(s))


def watch_deadline(
    c: Clock, s: BlockState, o: int, trigger: O.OnDeadline, pos: int, retimed: Bell | None
) -> Proc:
    """Outcome watcher for a deadline: wakes at the earliest deadline of a running replicate."""
    while True:
        k = next_due(s.due[trigger.slot], s.active, s.k)
        due = c.at(k, OUTCOMES, pos) if k is not None and k <= c.n_ticks else None
        if (event := wait(due, retimed)) is None:
            return
        yield event
        if due is not None and due.processed:
            _end(s, o, trigger.hit(s))


def watch_condition(c: Clock, s: BlockState, o: int, trigger: O.OnCondition, pos: int) -> Proc:
    """Outcome watcher for a condition: checks it every tick."""
    for k in range(1, c.n_ticks + 1):
        yield c.at(k, OUTCOMES, pos)
        _end(s, o, trigger.hit(s))


def _end(s: BlockState, o: int, hit: Array) -> None:
    ended = hit & s.active
    if ended.any():
        s.say(ended, f"OUTCOME {s.plan.outcomes[o]}")
        s.end(ended, o)


# ------------------------------------------------------------------ the phases
def advance_populations(s: BlockState) -> None:
    """Phase 2: every population reads its drive first, then all move."""
    drives = [p.drive(s) for p in s.populations]
    for p, d in zip(s.populations, drives, strict=True):
        p.advance(s, d, s.streams)
    s.note_half_times()


def advance_individuals(s: BlockState) -> None:
    """Phase 3: one uniform per replicate and random rule, then every rule, synchronously."""
    plan = s.plan
    if not plan.rules:
        return
    u = s.streams.random(s.size, plan.n_columns) if plan.n_columns else None
    if plan.confidence:  # from the opinions at the start of the phase, as averaging
        bounded = update_confidence(s, plan.confidence, s.streams)
    if plan.averaging:
        O.update_opinions(s, plan.averaging)
    if plan.confidence:
        for col, x in bounded.items():
            s.opinion[:, col] = x
    new_pos = s.pos.copy()
    decided = s.pinned.copy()  # a forced individual stays where it was put
    for rp in plan.rules:
        i = rp.agent_index
        fwd, back = rp.moves(s, s.pos[:, i], u)
        if fwd.any():  # most ticks most rules move no one: nothing to mask
            fwd &= ~decided[:, i]
        if fwd.any():
            new_pos[fwd, i] = rp.to_idx
            decided[:, i] |= fwd
            _trace_rule(s, rp, fwd, forward=True)
        if back is not None:
            back &= ~decided[:, i]
            if back.any():
                new_pos[back, i] = rp.from_idx
                decided[:, i] |= back
                _trace_rule(s, rp, back, forward=False)
    changed = decided & (new_pos != s.pos)
    s.pos = new_pos
    if changed.any():
        # few individuals move in a tick: look at those only (a mask over every row
        # and individual, broadcast along rows of a handful, costs more than the moves)
        rows, cols = np.nonzero(changed)
        first = s.active[rows] & np.isnan(s.switch_time[rows, cols])
        first &= new_pos[rows, cols] != s.initial_pos[cols]
        s.switch_time[rows[first], cols[first]] = s.t


def _trace_rule(s: BlockState, rp: O.RuleStep, mask: Array, forward: bool) -> None:
    if not s.tracing or not mask[s.traced_row()]:
        return
    src, dst = (rp.from_idx, rp.to_idx) if forward else (rp.to_idx, rp.from_idx)
    detail = rp.detail(s, s.traced_row())
    s.say(mask, f"{rp.agent}: {rp.positions[src]} -> {rp.positions[dst]} ({detail})")


def start(
    env: TickEnvironment, s: BlockState, done: simpy.Event, retimed: Bell | None = None
) -> list[Proc]:
    """Start every process of the scenario on ``env``; returns their generators.

    With ``retimed``, the processes that wait for a drawn time (events at a
    time, scheduled switches, deadlines) also wake when it rings, and look at
    the times again: rejuvenation may draw times still to come anew between
    ticks (:mod:`sim.refresh`).
    """
    plan = s.plan
    c = Clock(env, plan.tick, plan.n_ticks)
    fired = [Bell(env) for _ in plan.events]
    passed = [Bell(env) for _ in plan.decisions]
    procs: list[Proc] = [clock(c, s, done)]
    for ev in plan.events:
        if ev.at_slot >= 0:
            procs.append(at_event(c, s, ev, fired[ev.index], retimed))
        else:
            kind = every_event if ev.when is None else when_event
            procs.append(kind(c, s, ev, fired[ev.index]))
    for i, op in enumerate(plan.scheduled):
        procs.append(scheduled_switch(c, s, op, len(plan.events) + i, retimed))
    procs.append(ticker(c, s))
    for d in plan.decisions:
        if d.on >= 0:
            procs.append(decision_on_event(c, s, d, fired[d.on], passed[d.index]))
        else:
            procs.append(scheduled_decision(c, s, d, passed[d.index]))
    for pos, (o, trigger) in enumerate(plan.watchers):
        if isinstance(trigger, O.OnDecision):
            procs.append(watch_bell(c, s, o, trigger, passed[trigger.decision], pos))
        elif isinstance(trigger, O.OnEvent):
            procs.append(watch_bell(c, s, o, trigger, fired[trigger.event], pos))
        elif isinstance(trigger, O.OnDeadline):
            procs.append(watch_deadline(c, s, o, trigger, pos, retimed))
        else:
            procs.append(watch_condition(c, s, o, trigger, pos))
    for p in procs:
        env.process(p)
    return procs
