"""The engine: one block of replicates advanced together on a SimPy timeline.

All state lives in arrays with one row per replicate (:class:`Batch`), so a
block can be copied, cut or resampled between ticks. A single SimPy process
steps the clock; each tick runs the phases in this fixed order, each seeing
what the phases before it left:

1. time-triggered events due now (file order), then ``scheduled`` switches;
2. populations, synchronously (each reads the state at the start of phase 2);
3. individuals, synchronously (pressures from the state after phase 2);
4. decisions due now;
5. outcome triggers in file order; the first that holds ends the replicate;
6. condition-triggered events whose condition first holds now (effects from
   the next tick).

Replicates that have ended keep being advanced with the others (so that the
random streams never depend on when a neighbour ended) but nothing more is
recorded for them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from sim import rules as R
from sim.distributions import draw, is_random
from sim.model import Plan
from sim.scenario import (
    AddOffset,
    AtTrigger,
    AveragingRule,
    ChangeParam,
    ConditionTrigger,
    ConstantCurve,
    ConstantTerm,
    CurveTerm,
    DeadlineTrigger,
    DecisionTrigger,
    EventOutcomeTrigger,
    EveryTrigger,
    FlagTerm,
    Force,
    FractionTerm,
    HazardRule,
    Individual,
    LogisticRule,
    OpinionTerm,
    PiecewiseCurve,
    PositionTerm,
    RampCurve,
    SetFlag,
    SignalTerm,
    Source,
    StepCurve,
    ThresholdRule,
    TraceLine,
    WhenTrigger,
)

Array = np.ndarray[Any, Any]
_PARAM_NAMES = (
    "at",
    "resistance",
    "rate",
    "slope",
    "spontaneous",
    "offset",
    "threshold",
    "stubbornness",
    "opinion",
)


@dataclass
class Recording:
    """Per-tick history of one block (only when trajectories are asked for)."""

    columns: list[str]
    ticks: list[float] = field(default_factory=list)
    values: list[Array] = field(default_factory=list)  # each (R, C)
    alive: list[Array] = field(default_factory=list)  # each (R,) bool


class Tracer:
    """Collects the story of one replicate of the block."""

    def __init__(self, row: int, timefmt: Callable[[float], str]) -> None:
        self.row = row
        self.timefmt = timefmt
        self.lines: list[str] = []

    def say(self, t: float, text: str) -> None:
        """Add a timestamped line."""
        self.lines.append(f"{self.timefmt(t)}  {text}")


class Batch:
    """State of a block of replicates, and the phases that advance it.

    Parameters
    ----------
    plan : Plan
        The compiled scenario.
    rng : numpy.random.Generator
        The block's stream; every random number of the block comes from it.
    size : int
        Number of replicates in the block.
    record : bool
        Keep per-tick aggregates of every replicate.
    tracer : Tracer, optional
        Tell the story of one replicate.
    """

    def __init__(
        self,
        plan: Plan,
        rng: np.random.Generator,
        size: int,
        record: bool = False,
        tracer: Tracer | None = None,
    ) -> None:
        self.plan = plan
        self.sc = plan.scenario
        self.rng = rng
        self.size = size
        self.tracer = tracer
        self.k = 0  # current tick index
        self.t = 0.0
        sc, n = self.sc, size
        tick = plan.tick

        # -- individuals: positions, their random parameters (file order of agents, rules, fields)
        n_ind = len(plan.individuals)
        self.pos = np.zeros((n, n_ind), dtype=np.int16)
        self.initial_pos = np.zeros(n_ind, dtype=np.int16)
        self.param: dict[tuple[str, int, str], Array] = {}
        self.patience_tick: dict[str, Array] = {}
        self.opinion0 = np.zeros((n, len(plan.averaging)))
        self.populations: list[_PopulationState] = []
        for aid, a in sc.agents.items():
            if isinstance(a, Individual):
                i = plan.ind_index[aid]
                self.initial_pos[i] = a.positions.index(a.initial)
                for j, rule in enumerate(a.rules):
                    for name in _PARAM_NAMES:
                        value = getattr(rule, name, None)
                        if value is not None and not isinstance(value, list | bool):
                            self.param[(aid, j, name)] = draw(value, rng, n)
                if a.patience is not None:
                    self.patience_tick[aid] = _ticks(draw(a.patience, rng, n), tick)
            elif aid in plan.pop_index:
                pop = plan.populations[plan.pop_index[aid]]
                self.populations.append(_PopulationState(pop, self, rng, n))
        self.pos[:] = self.initial_pos
        self.scheduled_tick = [
            _ticks(self.param[(rp.agent, rp.index, "at")], tick) for rp in plan.scheduled
        ]
        for col, rp in enumerate(plan.averaging):
            self.opinion0[:, col] = self.param[(rp.agent, rp.index, "opinion")]
        self.opinion = self.opinion0.copy()

        # -- sources (curve parameters), events, deadlines
        self.curve: dict[str, dict[str, Array | float]] = {}
        for aid in plan.sources:
            src = sc.agents[aid]
            assert isinstance(src, Source)
            c = src.curve
            fields = {
                k: getattr(c, k)
                for k in (
                    "value",
                    "at",
                    "before",
                    "after",
                    "start",
                    "end",
                    "start_value",
                    "end_value",
                )
                if hasattr(c, k)
            }
            # constants stay scalars: the curve is then evaluated once per tick, not per row
            self.curve[aid] = {
                k: draw(v, rng, n) if is_random(v) else float(v) for k, v in fields.items()
            }
        self.flags = {f: np.full(n, v) for f, v in sc.flags.items()}
        self.event_tick: dict[str, Array] = {}
        for eid, e in sc.events.items():
            self.flags[eid] = np.zeros(n, dtype=bool)
            if isinstance(e.trigger, AtTrigger):
                self.event_tick[eid] = _ticks(draw(e.trigger.time, rng, n), tick)
        self.pending = {
            eid: np.zeros(n, dtype=bool)
            for eid, e in sc.events.items()
            if isinstance(e.trigger, WhenTrigger)
        }
        self.fired_now = {eid: np.zeros(n, dtype=bool) for eid in sc.events}
        self.passed_now = {d.id: np.zeros(n, dtype=bool) for d in plan.decisions}
        self.deadline_tick: dict[tuple[str, int], Array] = {}
        for oid, o in sc.outcomes.items():
            for j, trig in enumerate(o.trigger):
                if isinstance(trig, DeadlineTrigger):
                    if trig.patience is not None:
                        due = np.min([self.patience_tick[who] for who in trig.patience], axis=0)
                    else:
                        assert trig.at is not None
                        due = _ticks(draw(trig.at, rng, n), tick)
                    self.deadline_tick[(oid, j)] = due

        # -- results
        self.active = np.ones(n, dtype=bool)
        self.outcome = np.full(n, -1, dtype=np.int16)
        self.end_time = np.full(n, np.nan)
        self.switch_time = np.full((n, n_ind), np.nan)
        self.final_pos = np.zeros((n, n_ind), dtype=np.int16)
        self.half_time = np.full((n, len(self.populations)), np.nan)
        self.final_fraction = np.zeros((n, len(self.populations)))
        self._cache: dict[str, Array] = {}
        self._curves_now: dict[tuple[str, int], Array | float] = {}
        self._groups_at: dict[tuple[str, str], tuple[list[int], Array]] = {}
        self._opinion_col = {rp.agent: a for a, rp in enumerate(plan.averaging)}
        self.recording: Recording | None = None
        if record:
            cols = [
                f"{p.plan.id}.{pos}" for p in self.populations for pos in p.plan.agent.positions
            ]
            cols += [f"{a}.position" for a in plan.individuals]
            cols += [f"{s}" for s in sc.signals]
            self.recording = Recording(cols)

    #: attributes holding one row (or one entry per dict/list item) per replicate
    _ROW_STATE = (
        "pos",
        "param",
        "patience_tick",
        "opinion0",
        "opinion",
        "scheduled_tick",
        "curve",
        "flags",
        "event_tick",
        "pending",
        "fired_now",
        "passed_now",
        "deadline_tick",
        "active",
        "outcome",
        "end_time",
        "switch_time",
        "final_pos",
        "half_time",
        "final_fraction",
    )

    def take(self, index: Array) -> None:
        """Keep replicates ``index`` (in that order, repeats allowed), between ticks.

        This is how a batch is resampled (rows copied), cut (rows dropped) or
        reordered mid-run; the random stream goes on unchanged.
        """
        index = np.asarray(index, dtype=np.int64)
        for name in self._ROW_STATE:
            setattr(self, name, _take(getattr(self, name), index))
        for p in self.populations:
            p.take(index)
        if self.recording is not None:
            self.recording.values = [v[index] for v in self.recording.values]
            self.recording.alive = [a[index] for a in self.recording.alive]
        self.size = len(index)
        self._cache.clear()
        self._curves_now.clear()

    # ------------------------------------------------------------ observables
    def signal(self, name: str) -> Array:
        """Value of a named signal in every replicate (cached within a phase)."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        total = np.zeros(self.size)
        for term in self.sc.signals[name]:
            if isinstance(term, ConstantTerm):
                total += term.constant
            else:
                total += term.weight * self._term(term)
        self._cache[name] = total
        return total

    def _term(self, term: Any) -> Array | float:
        if isinstance(term, FractionTerm):
            if term.fraction in self.plan.pop_index:
                p = self.populations[self.plan.pop_index[term.fraction]]
                return p.fraction(p.plan.agent.positions.index(term.position))
            members, idx = self._group_index(term.fraction, term.position)
            return np.mean(self.pos[:, members] == idx, axis=1)
        if isinstance(term, PositionTerm):
            i = self.plan.ind_index[term.agent]
            return self.pos[:, i] == self.plan.position(term.agent, term.position)
        if isinstance(term, OpinionTerm):
            return self.opinion[:, self._opinion_col[term.opinion]]
        if isinstance(term, FlagTerm):
            return self.flags[term.flag]
        if isinstance(term, CurveTerm):
            return self.curve_value(term.curve)
        if isinstance(term, SignalTerm):
            return self.signal(term.signal)
        raise TypeError(f"unknown term {term!r}")

    def _group_index(self, group: str, position: str) -> tuple[list[int], Array]:
        """Member columns of a group and each member's index of ``position`` (-1: none)."""
        key = (group, position)
        if key not in self._groups_at:
            names = self.sc.agents[group].members  # type: ignore[union-attr]
            idx = np.array([self.plan.position(m, position) for m in names])
            self._groups_at[key] = (self.plan.groups[group], idx)
        return self._groups_at[key]

    def curve_value(self, source: str) -> Array | float:
        """A source's curve at the current tick (a scalar when its parameters are constants)."""
        key = (source, self.k)
        if key not in self._curves_now:
            if any(k != self.k for _, k in self._curves_now):
                self._curves_now.clear()
            self._curves_now[key] = self._curve_at(source)
        return self._curves_now[key]

    def _curve_at(self, source: str) -> Array | float:
        src = self.sc.agents[source]
        assert isinstance(src, Source)
        c, p, t = src.curve, self.curve[source], self.t
        if isinstance(c, ConstantCurve):
            return p["value"]
        if isinstance(c, StepCurve):
            return np.where(t >= p["at"], p["after"], p["before"])
        if isinstance(c, RampCurve):
            span = p["end"] - p["start"]
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = np.where(
                    span > 0,
                    (t - p["start"]) / np.where(span > 0, span, 1.0),
                    (t >= p["end"]) * 1.0,
                )
            return p["start_value"] + (p["end_value"] - p["start_value"]) * np.clip(frac, 0.0, 1.0)
        assert isinstance(c, PiecewiseCurve)
        times, values = zip(*c.points, strict=True)
        return float(np.interp(t, times, values))

    def holds(self, cond: Any) -> Array:
        """Whether a condition holds in each replicate."""
        v = self.signal(cond.signal)
        if cond.at_least is not None:
            return v >= cond.at_least
        if cond.at_most is not None:
            return v <= cond.at_most
        if cond.above is not None:
            return v > cond.above
        return v < cond.below

    # ---------------------------------------------------------------- phases
    def step(self) -> None:
        """Advance every replicate by one tick (phases 1-6)."""
        self.k += 1
        self.t = self.k * self.plan.tick
        self._cache.clear()
        self._phase_events()
        self._cache.clear()
        self._phase_populations()
        self._cache.clear()
        self._phase_individuals()
        self._cache.clear()
        self._phase_decisions()
        self._phase_outcomes()
        self._phase_conditions()
        if self.recording is not None:
            self._record()

    def _phase_events(self) -> None:
        k = self.k
        for eid, e in self.sc.events.items():
            trig = e.trigger
            if isinstance(trig, AtTrigger):
                now = self.event_tick[eid] == k
            elif isinstance(trig, EveryTrigger):
                now = np.full(self.size, k in self.plan.event_ticks[eid])
            else:
                now = self.pending[eid]
                self.pending[eid] = np.zeros(self.size, dtype=bool)
            self.fired_now[eid] = now
            if not now.any():
                continue
            self.flags[eid] = self.flags[eid] | now
            self._trace(now, f"event {eid}" + (f": {e.description}" if e.description else ""))
            for eff in e.effects:
                self._apply(eff, now)
        for rp, due in zip(self.plan.scheduled, self.scheduled_tick, strict=True):
            now = (due == k) & (self.pos[:, rp.agent_index] == rp.from_idx)
            if now.any():
                self._switch(rp.agent_index, now, rp.to_idx, "scheduled")

    def _apply(self, eff: Any, mask: Array) -> None:
        if isinstance(eff, SetFlag):
            self.flags[eff.flag] = np.where(mask, eff.value, self.flags[eff.flag])
        elif isinstance(eff, AddOffset | ChangeParam):
            name = "offset" if isinstance(eff, AddOffset) else eff.param
            a = self.sc.agents[eff.agent]
            n_rules = len(a.rules) if isinstance(a, Individual) else 1
            for j in range(n_rules):
                if isinstance(eff, ChangeParam) and eff.rule is not None and eff.rule != j:
                    continue
                key = (eff.agent, j, name)
                if key not in self.param:
                    continue
                old = self.param[key]
                if isinstance(eff, AddOffset):
                    new = old + eff.add
                elif eff.set is not None:
                    new = np.full(self.size, eff.set)
                elif eff.add is not None:
                    new = old + eff.add
                else:
                    new = old * eff.scale
                # the import stays here: this function is the only part of the engine it serves
                from sim.model import keep_in_range

                rule = a.rules[j] if isinstance(a, Individual) else a.rule  # type: ignore[union-attr]
                new = keep_in_range(rule, eff.agent, j, name, new)
                self.param[key] = np.where(mask, new, old)
                label = (
                    f"{eff.agent}.rules.{j}" if isinstance(a, Individual) else f"{eff.agent}.rule"
                )
                r = self._row()
                self._trace(mask, f"  {label}.{name}: {old[r]:.4g} -> {new[r]:.4g}")
        elif isinstance(eff, Force):
            i = self.plan.ind_index[eff.agent]
            to = self.plan.position(eff.agent, eff.position)
            self._switch(i, mask & (self.pos[:, i] != to), to, "forced")
        elif isinstance(eff, TraceLine):
            self._trace(mask, f"  {eff.message}")

    def _switch(self, i: int, mask: Array, to: int, why: str) -> None:
        if self.tracer is not None and mask[self.tracer.row]:
            a = self.sc.agents[self.plan.individuals[i]]
            assert isinstance(a, Individual)
            old = a.positions[self.pos[self.tracer.row, i]]
            self._trace(mask, f"{self.plan.individuals[i]}: {old} -> {a.positions[to]} ({why})")
        self.pos[mask, i] = to
        first = mask & self.active & np.isnan(self.switch_time[:, i]) & (to != self.initial_pos[i])
        self.switch_time[first, i] = self.t

    def _phase_populations(self) -> None:
        supports = [p.drive(self) for p in self.populations]
        for p, s in zip(self.populations, supports, strict=True):
            p.advance(self, s)
        for j, p in enumerate(self.populations):
            moved = 1.0 - p.fraction(p.plan.initial_idx)
            first = self.active & np.isnan(self.half_time[:, j]) & (moved >= 0.5)
            self.half_time[first, j] = self.t

    def _phase_individuals(self) -> None:
        plan = self.plan
        if not plan.rules:
            return
        u = self.rng.random((self.size, plan.n_columns)) if plan.n_columns else None
        if plan.averaging:
            self._update_opinions()
        new_pos = self.pos.copy()
        decided = np.zeros((self.size, len(plan.individuals)), dtype=bool)
        for rp in plan.rules:
            i = rp.agent_index
            cur = self.pos[:, i]
            fwd, back, why = self._rule_moves(rp, cur, u)
            fwd &= ~decided[:, i]
            if fwd.any():
                new_pos[fwd, i] = rp.to_idx
                decided[:, i] |= fwd
                self._trace_rule(rp, fwd, why, forward=True)
            if back is not None:
                back &= ~decided[:, i]
                if back.any():
                    new_pos[back, i] = rp.from_idx
                    decided[:, i] |= back
                    self._trace_rule(rp, back, why, forward=False)
        changed = decided & (new_pos != self.pos)
        self.pos = new_pos
        first = (
            changed
            & self.active[:, None]
            & np.isnan(self.switch_time)
            & (new_pos != self.initial_pos)
        )
        self.switch_time[first] = self.t

    def _rule_moves(self, rp: Any, cur: Array, u: Array | None) -> tuple[Array, Array | None, str]:
        rule, key = rp.rule, (rp.agent, rp.index)
        in_from, in_to = cur == rp.from_idx, cur == rp.to_idx
        tick = self.plan.tick
        if isinstance(rule, HazardRule | LogisticRule):
            assert u is not None
            pressure = self.signal(rule.pressure) + self.param[(*key, "offset")]
            res, rate = self.param[(*key, "resistance")], self.param[(*key, "rate")]
            if isinstance(rule, HazardRule):
                p = R.hazard_probability(pressure, res, rate)
            else:
                p = R.logistic_probability(pressure, res, rate, self.param[(*key, "slope")])
            col = u[:, rp.column]
            fwd = in_from & (col < R.per_tick(p, tick))
            back = None
            if rule.reversible:
                if isinstance(rule, HazardRule):
                    q = R.hazard_back_probability(pressure, res, rate)
                else:
                    q = R.logistic_back_probability(
                        pressure, res, rate, self.param[(*key, "slope")]
                    )
                back = in_to & (col < R.per_tick(q, tick))
            return fwd, back, "hazard"
        if isinstance(rule, ThresholdRule):
            support = self.signal(rule.support) + self.param[(*key, "offset")]
            reached = R.threshold_reached(support, self.param[(*key, "threshold")])
            fwd = in_from & reached
            if rp.column >= 0:
                assert u is not None
                p = R.per_tick(self.param[(*key, "spontaneous")], tick)
                fwd |= in_from & ~reached & (u[:, rp.column] < p)
            back = in_to & ~reached if rule.reversible else None
            return fwd, back, "threshold"
        assert isinstance(rule, AveragingRule)
        a = self._opinion_col[rp.agent]
        high = self.opinion[:, a] >= rule.cutoff
        fwd = in_from & high
        back = in_to & ~high if rule.reversible else None
        return fwd, back, "averaging"

    def _update_opinions(self) -> None:
        new = np.empty_like(self.opinion)
        for a, rp in enumerate(self.plan.averaging):
            names = list(rp.rule.weights)
            inputs = np.stack([self._heard(name, rp.rule.to) for name in names], axis=1)
            weights = np.array([[rp.rule.weights[n] for n in names]])
            stubborn = self.param[(rp.agent, rp.index, "stubbornness")][:, None]
            new[:, a] = R.averaging_step(self.opinion0[:, a : a + 1], stubborn, inputs, weights)[
                :, 0
            ]
        self.opinion = new

    def _heard(self, name: str, to: str) -> Array:
        """What an averaging agent hears from ``name``: an opinion, a stance (0/1) or a signal."""
        if name in self._opinion_col:
            return self.opinion[:, self._opinion_col[name]]
        if name in self.plan.ind_index:
            i = self.plan.ind_index[name]
            return (self.pos[:, i] == self.plan.position(name, to)).astype(float)
        return self.signal(name)

    def _phase_decisions(self) -> None:
        k = self.k
        for d in self.plan.decisions:
            if d.on is not None:
                due = self.fired_now[d.on]
                if not due.any():
                    self.passed_now[d.id] = due
                    continue
            elif k not in d.ticks:
                self.passed_now[d.id] = np.zeros(self.size, dtype=bool)
                continue
            else:
                due = np.ones(self.size, dtype=bool)
            pos = self.pos[:, d.members]
            in_motion = pos == np.array(d.motion_idx)
            absent = np.zeros_like(in_motion)
            for m, idxs in enumerate(d.absent_idx):
                for idx in idxs:
                    absent[:, m] |= pos[:, m] == idx
            count = in_motion.sum(axis=1)
            present = (~absent).sum(axis=1)
            passed = due & R.quorum_passes(count, present, d.at_least, d.fraction)
            for v in d.veto:
                passed &= in_motion[:, v] | absent[:, v]
            self.passed_now[d.id] = passed
            if self.tracer is not None and due[self.tracer.row]:
                r = self.tracer.row
                verdict = "passes" if passed[r] else "fails"
                self._trace(
                    due,
                    f"vote {d.id}: {count[r]} of {present[r]} present for the motion, {verdict}",
                )

    def _phase_outcomes(self) -> None:
        k = self.k
        for o, (oid, out) in enumerate(self.sc.outcomes.items()):
            hit = np.zeros(self.size, dtype=bool)
            for j, trig in enumerate(out.trigger):
                if isinstance(trig, DecisionTrigger):
                    hit |= self.passed_now[trig.decision]
                elif isinstance(trig, DeadlineTrigger):
                    hit |= k >= self.deadline_tick[(oid, j)]
                elif isinstance(trig, ConditionTrigger):
                    hit |= self.holds(trig.condition)
                else:
                    assert isinstance(trig, EventOutcomeTrigger)
                    hit |= self.fired_now[trig.event]
            ended = hit & self.active
            if ended.any():
                self._trace(ended, f"OUTCOME {oid}")
                self._end(ended, o)

    def _end(self, rows: Array, outcome: int) -> None:
        self.outcome[rows] = outcome
        self.end_time[rows] = self.t
        self._snapshot(rows)
        if self.recording is not None:
            self._record()  # the last tick of these replicates, before they go quiet
        self.active &= ~rows

    def finish(self) -> None:
        """Close replicates that reached the horizon without an outcome."""
        rows = self.active.copy()
        self._snapshot(rows)
        if rows.any():
            self._trace(rows, "horizon reached with no outcome (unresolved)")

    def _snapshot(self, rows: Array) -> None:
        """Keep the final stances and shares of replicates that end now."""
        self.final_pos[rows] = self.pos[rows]
        for j, p in enumerate(self.populations):
            self.final_fraction[rows, j] = 1.0 - p.fraction(p.plan.initial_idx)[rows]

    def _phase_conditions(self) -> None:
        for eid, e in self.sc.events.items():
            if isinstance(e.trigger, WhenTrigger):
                new = self.holds(e.trigger.condition) & ~self.flags[eid] & ~self.pending[eid]
                self.pending[eid] = self.pending[eid] | new

    # -------------------------------------------------------------- recording
    def _record(self) -> None:
        rec = self.recording
        assert rec is not None
        if rec.ticks and rec.ticks[-1] == self.t:
            rec.values[-1] = self._row_values()
            rec.alive[-1] = rec.alive[-1] | self.active
            return
        self._cache.clear()
        rec.ticks.append(self.t)
        rec.values.append(self._row_values())
        rec.alive.append(self.active.copy())

    def _row_values(self) -> Array:
        cols = [p.fraction(j) for p in self.populations for j in range(len(p.plan.agent.positions))]
        cols += [self.pos[:, i].astype(float) for i in range(len(self.plan.individuals))]
        cols += [self.signal(s) for s in self.sc.signals]
        return np.stack(cols, axis=1) if cols else np.zeros((self.size, 0))

    # ---------------------------------------------------------------- tracing
    def _row(self) -> int:
        return self.tracer.row if self.tracer is not None else 0

    def _trace(self, mask: Array, text: str) -> None:
        if self.tracer is not None and mask[self.tracer.row] and self.active[self.tracer.row]:
            self.tracer.say(self.t, text)

    def _trace_rule(self, rp: Any, mask: Array, why: str, forward: bool) -> None:
        if self.tracer is None or not mask[self.tracer.row]:
            return
        r, rule, key = self.tracer.row, rp.rule, (rp.agent, rp.index)
        a = self.sc.agents[rp.agent]
        assert isinstance(a, Individual)
        src, dst = (rp.from_idx, rp.to_idx) if forward else (rp.to_idx, rp.from_idx)
        if why == "hazard":
            pressure = self.signal(rule.pressure)[r] + self.param[(*key, "offset")][r]
            detail = (
                f"pressure {pressure:.3f} vs resistance {self.param[(*key, 'resistance')][r]:.3f}"
            )
        elif why == "threshold":
            support = self.signal(rule.support)[r] + self.param[(*key, "offset")][r]
            detail = f"support {support:.3f} vs threshold {self.param[(*key, 'threshold')][r]:.3f}"
        else:
            a_idx = self._opinion_col[rp.agent]
            detail = f"opinion {self.opinion[r, a_idx]:.3f} vs cut-off {rule.cutoff:g}"
        self._trace(mask, f"{rp.agent}: {a.positions[src]} -> {a.positions[dst]} ({detail})")


def _take(value: Any, index: Array) -> Any:
    if isinstance(value, np.ndarray):
        return value[index]
    if isinstance(value, dict):
        return {k: _take(v, index) for k, v in value.items()}
    if isinstance(value, list):
        return [_take(v, index) for v in value]
    return value


def _ticks(hours: Array, tick: float) -> Array:
    """First tick index at or after each time."""
    return np.maximum(1, np.ceil(hours / tick - 1e-9)).astype(np.int64)


class _PopulationState:
    """Counts (and, where a rule needs them, per-individual arrays) of one population."""

    def __init__(self, plan: Any, batch: Batch, rng: np.random.Generator, n: int) -> None:
        # the batch is passed to each call rather than kept: a reference cycle
        # would keep a finished block's large arrays alive until the next gc pass
        self.plan = plan
        self.rng = rng
        agent = plan.agent
        self.N = agent.size
        self.counts = np.zeros((n, len(agent.positions)), dtype=np.int64)
        self.counts[:, plan.initial_idx] = self.N
        rule = agent.rule
        self.key = (plan.id, 0)
        for name in ("rate", "slope", "spontaneous", "offset"):
            value = getattr(rule, name, None)
            if value is not None and not isinstance(value, bool):
                batch.param[(*self.key, name)] = draw(value, rng, n)
        if plan.mode in ("threshold", "threshold_reversible"):
            if isinstance(rule.threshold, list):
                th = np.broadcast_to(np.asarray(rule.threshold, dtype=float), (n, self.N))
            else:
                th = draw(rule.threshold, rng, (n, self.N))
            self.sorted = R.SortedThresholds(th, inplace=True)
            self.crossed = np.zeros(n, dtype=np.int64)
            self.spont = np.zeros(n, dtype=np.int64)
            self.running_max = np.full(n, -np.inf)
        elif plan.mode == "hazard_counts":
            batch.param[(*self.key, "resistance")] = draw(rule.resistance, rng, n)
        elif plan.mode == "hazard_dense":
            self.resistance = draw(rule.resistance, rng, (n, self.N))
            self.in_to = np.zeros((n, self.N), dtype=bool)

    def fraction(self, position: int) -> Array:
        return self.counts[:, position] / self.N

    def take(self, index: Array) -> None:
        for name in ("counts", "crossed", "spont", "running_max", "resistance", "in_to"):
            if hasattr(self, name):
                setattr(self, name, getattr(self, name)[index])
        if hasattr(self, "sorted"):
            self.sorted = self.sorted.take(index)

    def drive(self, batch: Batch) -> Array | None:
        """The support or pressure this population reads, from the state before phase 2."""
        rule = self.plan.agent.rule
        name = getattr(rule, "support", None) or getattr(rule, "pressure", None)
        if name is None:
            return None
        return batch.signal(name) + batch.param[(*self.key, "offset")]

    def advance(self, b: Batch, drive: Array | None) -> None:
        mode, rule = self.plan.mode, self.plan.agent.rule
        if mode == "fixed" or drive is None:
            return
        tick = b.plan.tick
        before = self.counts[:, self.plan.to_idx].copy()
        if mode == "threshold":
            self.running_max = np.maximum(self.running_max, drive)
            new_crossed = np.maximum(self.crossed, self.sorted.count_reached(self.running_max))
            p = R.per_tick(b.param[(*self.key, "spontaneous")], tick)
            self.crossed, self.spont = R.threshold_population_step(
                self.rng, self.N, self.crossed, self.spont, new_crossed, p
            )
            moved = self.crossed + self.spont
        elif mode == "threshold_reversible":
            moved = self.sorted.count_reached(drive)
        elif mode == "hazard_counts":
            res, rate = b.param[(*self.key, "resistance")], b.param[(*self.key, "rate")]
            fwd_p, back_p = self._probabilities(b, rule, drive, res, rate)
            out = self.N - before
            moved = before + self.rng.binomial(out, R.per_tick(fwd_p, tick))
            if rule.reversible:
                moved -= self.rng.binomial(before, R.per_tick(back_p, tick))
        else:
            rate = b.param[(*self.key, "rate")][:, None]
            fwd_p, back_p = self._probabilities(b, rule, drive[:, None], self.resistance, rate)
            u = self.rng.random(self.in_to.shape)
            go = ~self.in_to & (u < R.per_tick(fwd_p, tick))
            if rule.reversible:
                self.in_to &= ~(u < R.per_tick(back_p, tick))
            self.in_to |= go
            moved = self.in_to.sum(axis=1)
        self.counts[:, self.plan.to_idx] = moved
        self.counts[:, self.plan.initial_idx] = self.N - moved
        if b.tracer is not None:
            r = b.tracer.row
            if moved[r] != before[r]:
                target = self.plan.agent.positions[self.plan.to_idx]
                detail = f"drive {drive[r]:.3f}"
                if mode == "threshold":
                    detail += f"; {self.crossed[r]} by threshold, {self.spont[r]} spontaneously"
                text = f"{self.plan.id}: {before[r]} -> {moved[r]} of {self.N} {target} ({detail})"
                b._trace(np.ones(b.size, dtype=bool), text)

    def _probabilities(
        self, b: Batch, rule: Any, drive: Array, res: Array, rate: Array
    ) -> tuple[Array, Array]:
        if isinstance(rule, HazardRule):
            return R.hazard_probability(drive, res, rate), R.hazard_back_probability(
                drive, res, rate
            )
        slope = b.param[(*self.key, "slope")]
        if drive.ndim == 2:
            slope = slope[:, None]
        return (
            R.logistic_probability(drive, res, rate, slope),
            R.logistic_back_probability(drive, res, rate, slope),
        )


def simulate_block(
    plan: Plan,
    rng: np.random.Generator,
    size: int,
    record: bool = False,
    tracer: Tracer | None = None,
) -> Batch:
    """Run one block of replicates to its end on a SimPy timeline.

    Parameters
    ----------
    plan : Plan
        The compiled scenario.
    rng : numpy.random.Generator
        The block's random stream.
    size : int
        Replicates in the block.
    record : bool
        Keep per-tick aggregates.
    tracer : Tracer, optional
        Tell one replicate's story.

    Returns
    -------
    Batch
        The final state, with outcomes, times and switch records.
    """
    batch = Batch(plan, rng, size, record=record, tracer=tracer)
    env = simpy.Environment()

    def clock(env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        for _ in range(plan.n_ticks):
            yield env.timeout(plan.tick)
            batch.step()
            if not batch.active.any():
                return
        batch.finish()

    env.process(clock(env))
    env.run()
    return batch


__all__ = ["Batch", "Recording", "Tracer", "simulate_block"]
