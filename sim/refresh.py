"""Rejuvenation of times still to come: each drawn anew from its prior, given that it has not come.

After resampling, copies of a particle share its drawn times: when an uncertain
event will happen (or whether it ever will), when a scheduled switch is due,
when a member's patience runs out. :mod:`sim.rejuvenate` moves the rules'
parameters; this module moves these times, where an exact move is simple.

A time ``T`` (in hours) that comes with probability ``p`` (else never) and has
not come by the end of tick ``k`` has told the path so far only that: every
tick up to ``k`` is the same for every ``T`` after it, and the observations
read the path. So, given everything assimilated, ``T`` follows its prior
conditioned on ``tick(T) > k``, that is ``T > k * tick`` (to the engine's
rounding of times to ticks): it comes with probability

    p S / (p S + 1 - p),    S = P(T > k * tick)

and then at a time drawn from the prior above ``k * tick`` by the inverse CDF
(one uniform between ``F(k * tick)`` and 1). Drawing each such time anew from
that conditional law is a Gibbs step: it leaves the filter's target invariant
whatever the time was before, and copies of one particle part ways in their
futures at once.

Covered, for replicates still running: ``at`` times of events (with their
``probability``) that have not fired, the ``at`` times of ``scheduled``
switches (with their ``probability``) not yet due, random deadlines and the
patience behind ``patience`` deadlines, when the time is a constant, uniform,
normal (clipped or truncated), beta, triangular or log-normal draw. Left
alone: times a ``correlations`` entry ties to other parameters, and times an
event's effect changes (their law is no longer the prior's), and ``choice``
times. The block's processes are told (:meth:`sim.engine.Block.retimed`), so
a time drawn earlier than what they were waiting for is not missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim import ops as O
from sim.distributions import NEVER_HOURS, Normal, is_random
from sim.engine import Block
from sim.laws import law_of
from sim.plan import Plan
from sim.plan_specs import ticks_of
from sim.rejuvenate import Moves, changed_by_events

Array = np.ndarray[Any, Any]
#: how far below ``k * tick`` a time still maps to tick ``k`` (:func:`sim.plan_specs.ticks_of`)
_ROUNDING = 1e-9


@dataclass(frozen=True)
class Law:
    """A time's prior: its distribution (or constant) in hours, and its ``probability``."""

    value: Any
    probability: float | None

    def survival(self, h0: float) -> float:
        """``P(T > h0)`` of the time itself (whether it comes aside)."""
        if not is_random(self.value):
            return 1.0 if float(self.value) > h0 else 0.0
        law = law_of(self.value)
        assert law is not None
        lo, hi = self._clip()
        if h0 < lo:
            return 1.0
        if h0 >= hi:
            return 0.0
        return float(law.sf(h0)) if hasattr(law, "sf") else 1.0 - float(law.cdf(h0))

    def above(self, h0: float, u: Array) -> Array:
        """Times drawn from the prior given ``T > h0``, one per uniform in ``u``."""
        if not is_random(self.value):
            return np.full(len(u), float(self.value))
        law = law_of(self.value)
        assert law is not None
        lo, hi = self._clip()
        base = 0.0 if h0 < lo else float(law.cdf(h0))
        z = law.ppf(base + (1.0 - base) * u)
        # a clipped normal: every value above h0 (>= lo) clips as it was drawn
        return np.clip(z, lo, hi) if np.isfinite([lo, hi]).any() else np.asarray(z, dtype=float)

    def _clip(self) -> tuple[float, float]:
        v = self.value
        if isinstance(v, Normal) and v.clip is not None:
            return float(v.clip[0]), float(v.clip[1])
        return -np.inf, np.inf


@dataclass(frozen=True)
class Time:
    """One drawn time the refresh moves, and where the engine keeps it.

    ``due``: the tick slot the engine's processes read. ``hours``: the
    parameter slot that also holds it in hours (a scheduled switch), or -1.
    ``derived``: deadline slots computed from it and others (their minimum).
    """

    label: str
    law: Law
    due: int
    hours: int = -1
    derived: tuple[tuple[int, tuple[int, ...]], ...] = ()


def times(plan: Plan) -> list[Time]:
    """The times rejuvenation draws anew (see the module docstring for which)."""
    changed = changed_by_events(plan)
    ticks = {d.slot: d for d in plan.draws if d.kind == "tick"}
    params = {d.slot: d for d in plan.draws if d.kind == "param"}
    out: list[Time] = []

    def movable(d: Any) -> bool:
        if d.copula is not None:
            return False
        return not is_random(d.value) or law_of(d.value) is not None

    for ev in plan.events:
        d = ticks.get(ev.at_slot)
        if d is not None and movable(d) and (is_random(d.value) or d.probability is not None):
            out.append(Time(f"events.{ev.id}.at", Law(d.value, d.probability), ev.at_slot))
    where = {slot: key for key, slot in plan.param_slot.items()}
    for due, at in plan.scheduled_due:
        d = params.get(at)
        if d is None or at in changed or not movable(d):
            continue
        if is_random(d.value) or d.probability is not None:
            agent, j, _ = where[at]
            rid = plan.rule_ids.get(agent, [])
            named = rid[j] if j < len(rid) and rid[j] else str(j)
            label = f"agents.{agent}.rules.{named}.at"
            out.append(Time(label, Law(d.value, d.probability), due, hours=at))
    deadlines = {t.slot: o for o, t in plan.watchers if isinstance(t, O.OnDeadline)}
    for slot, o in sorted(deadlines.items()):
        d = ticks.get(slot)
        if d is not None and is_random(d.value) and movable(d):
            label = f"outcomes.{plan.outcomes[o]}.deadline"
            out.append(Time(label, Law(d.value, None), slot))
    for who, slot in plan.patience_slot.items():
        d = ticks[slot]
        feeds = tuple((s, src) for s, src in plan.earliest_due if slot in src)
        if feeds and is_random(d.value) and movable(d):
            out.append(Time(f"agents.{who}.patience", Law(d.value, None), slot, derived=feeds))
    return out


def refresh(
    block: Block, chosen: list[Time], rng: np.random.Generator, moves: Moves | None = None
) -> int:
    """Draw every time still to come anew (in place), for replicates still running.

    Returns the number of times drawn. Call between ticks, after resampling.
    A Gibbs draw is always accepted: ``moves`` counts each as proposed and accepted.
    """
    s, plan = block.state, block.plan
    k, tick = s.k, plan.tick
    h0 = (k + _ROUNDING) * tick
    drawn = 0
    for t in chosen:
        due = s.due[t.due]
        # not come yet (a scheduled switch that has switched is DONE, one waiting is due)
        ahead = np.flatnonzero(s.active & (due > k) & (due < O.DONE))
        if not ahead.size:
            continue
        p = 1.0 if t.law.probability is None else t.law.probability
        surv = t.law.survival(h0)
        comes = p * surv / (p * surv + (1.0 - p)) if p * surv > 0 else 0.0
        u = rng.random((ahead.size, 2))
        later = t.law.above(h0, u[:, 1])
        # far in a tail the quantile can round to infinity: a time past every horizon
        later = np.where(np.isfinite(later), np.minimum(later, NEVER_HOURS), NEVER_HOURS)
        hours = np.where(u[:, 0] < comes, later, NEVER_HOURS)
        s.due[t.due][ahead] = ticks_of(hours, tick)
        if t.hours >= 0:
            s.param[t.hours][ahead] = hours
        for slot, sources in t.derived:
            s.due[slot][ahead] = np.min([s.due[src][ahead] for src in sources], axis=0)
        drawn += ahead.size
        if moves is not None:
            moves.proposed[t.label] = moves.proposed.get(t.label, 0) + ahead.size
            moves.accepted[t.label] = moves.accepted.get(t.label, 0) + ahead.size
    if drawn:
        s.invalidate()
        block.retimed()
    return drawn
