"""A scenario compiled to indices: what the engine needs, computed once per scenario."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from sim.distributions import is_random
from sim.scenario import (
    PARAM_RANGES,
    AtLeast,
    AveragingRule,
    EveryTrigger,
    FixedRule,
    FractionQuorum,
    Group,
    HazardRule,
    Individual,
    LogisticRule,
    Population,
    Scenario,
    ScheduledRule,
    Source,
    ThresholdRule,
)


def first_tick(hours: float, tick: float) -> int:
    """Index of the first tick at or after ``hours`` (ticks are numbered from 1)."""
    return max(1, math.ceil(hours / tick - 1e-9))


def tick_range(
    start: float, every: float, until: float | None, tick: float, n_ticks: int
) -> set[int]:
    """Ticks of the times ``start, start + every, ...`` up to ``until`` and the horizon.

    Each time maps to the first tick at or after it, like every other time.
    """
    last = n_ticks * tick if until is None else min(n_ticks * tick, until)
    out: set[int] = set()
    j = 0
    # validation makes every at least one tick; the bound is a second guard against a hang
    while start + j * every <= last + 1e-9 and j <= n_ticks:
        k = first_tick(start + j * every, tick)
        if k <= n_ticks:
            out.add(k)
        j += 1
    return out


#: (agent, rule index, parameter) already warned about in this process
_CLIPPED: set[tuple[str, int, str]] = set()


def keep_in_range(rule: Any, agent: str, index: int, name: str, values: Any) -> Any:
    """Clip an event-changed rule parameter to its range, warning once per process.

    An ``add`` or ``scale`` effect can move a probability past 1 or a rate
    below 0 at run time; the parameter is then clipped to its range (rather
    than giving probabilities outside [0, 1]), and a warning says so once.
    """
    bounds = PARAM_RANGES.get((type(rule).__name__, name))
    if bounds is None:
        return values
    lo, hi = bounds
    if np.all((values >= lo) & (values <= hi)):
        return values
    key = (agent, index, name)
    if key not in _CLIPPED:
        _CLIPPED.add(key)
        span = f"[{lo:g}, {hi:g}]".replace("inf", "∞")
        print(
            f"warning: an event moved {name} of {agent!r} (rule {index}) outside {span}; "
            "it is clipped to the range",
            file=sys.stderr,
        )
    return np.clip(values, lo, hi)


@dataclass
class RulePlan:
    """One rule of an individual (or a population's rule)."""

    agent: str
    agent_index: int
    index: int
    rule: Any
    from_idx: int
    to_idx: int
    column: int = -1  # column in the per-tick uniform draws, -1 when it draws none


@dataclass
class PopulationPlan:
    """A population and how its rule is advanced."""

    id: str
    index: int
    agent: Population
    initial_idx: int
    to_idx: int
    #: "fixed", "threshold" (irreversible, counts), "threshold_reversible",
    #: "hazard_counts" (one resistance per replicate) or "hazard_dense"
    mode: str


@dataclass
class DecisionPlan:
    """A decision with member indices and position indices resolved."""

    id: str
    members: list[int]
    motion_idx: list[int]  # per member, -1 when the member has no such position
    absent_idx: list[list[int]]
    veto: list[int]  # positions in ``members``
    at_least: int | None
    fraction: Fraction | None
    ticks: set[int]
    on: str | None


@dataclass
class Plan:
    """Indices and static tables of a scenario."""

    scenario: Scenario
    tick: float
    n_ticks: int
    individuals: list[str] = field(default_factory=list)
    ind_index: dict[str, int] = field(default_factory=dict)
    populations: list[PopulationPlan] = field(default_factory=list)
    pop_index: dict[str, int] = field(default_factory=dict)
    rules: list[RulePlan] = field(default_factory=list)  # individuals' non-scheduled rules
    scheduled: list[RulePlan] = field(default_factory=list)
    averaging: list[RulePlan] = field(default_factory=list)
    n_columns: int = 0
    sources: list[str] = field(default_factory=list)
    groups: dict[str, list[int]] = field(default_factory=dict)
    event_ticks: dict[str, set[int]] = field(default_factory=dict)  # recurring events
    decisions: list[DecisionPlan] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)

    def position(self, agent: str, name: str) -> int:
        """Index of a position in an agent's list, -1 when it has none of that name."""
        a = self.scenario.agents[agent]
        assert isinstance(a, Individual | Population)
        return a.positions.index(name) if name in a.positions else -1


def compile_plan(sc: Scenario) -> Plan:
    """Resolve ids to indices and classify each rule for the engine."""
    tick = sc.clock.tick
    plan = Plan(scenario=sc, tick=tick, n_ticks=sc.clock.n_ticks)
    for aid, a in sc.agents.items():
        if isinstance(a, Individual):
            plan.ind_index[aid] = len(plan.individuals)
            plan.individuals.append(aid)
        elif isinstance(a, Source):
            plan.sources.append(aid)
    for aid, a in sc.agents.items():
        if isinstance(a, Individual):
            i = plan.ind_index[aid]
            for j, rule in enumerate(a.rules):
                if isinstance(rule, FixedRule):
                    continue
                src = rule.from_ if rule.from_ is not None else a.initial
                rp = RulePlan(aid, i, j, rule, a.positions.index(src), a.positions.index(rule.to))
                if isinstance(rule, ScheduledRule):
                    plan.scheduled.append(rp)
                    continue
                if isinstance(rule, HazardRule | LogisticRule) or (
                    isinstance(rule, ThresholdRule)
                    and (is_random(rule.spontaneous) or float(rule.spontaneous) > 0)  # type: ignore[arg-type]
                ):
                    rp.column = plan.n_columns
                    plan.n_columns += 1
                if isinstance(rule, AveragingRule):
                    plan.averaging.append(rp)
                plan.rules.append(rp)
        elif isinstance(a, Population):
            rule = a.rule
            initial_idx = a.positions.index(a.initial)
            to_idx = initial_idx if isinstance(rule, FixedRule) else a.positions.index(rule.to)
            if isinstance(rule, FixedRule):
                mode = "fixed"
            elif isinstance(rule, ThresholdRule):
                mode = "threshold_reversible" if rule.reversible else "threshold"
            else:
                mode = "hazard_dense" if is_random(rule.resistance) else "hazard_counts"
            plan.pop_index[aid] = len(plan.populations)
            plan.populations.append(
                PopulationPlan(aid, len(plan.populations), a, initial_idx, to_idx, mode)
            )
        elif isinstance(a, Group):
            plan.groups[aid] = [plan.ind_index[m] for m in a.members]
    for eid, e in sc.events.items():
        if isinstance(e.trigger, EveryTrigger):
            t = e.trigger
            plan.event_ticks[eid] = tick_range(t.start, t.every, t.until, tick, plan.n_ticks)
    for did, d in sc.decisions.items():
        members = plan.groups[d.group]
        names = sc.agents[d.group].members  # type: ignore[union-attr]
        plan.decisions.append(
            DecisionPlan(
                id=did,
                members=members,
                motion_idx=[plan.position(m, d.motion) for m in names],
                absent_idx=[[plan.position(m, p) for p in d.absent] for m in names],
                veto=[names.index(v) for v in d.veto],
                at_least=d.quorum.at_least if isinstance(d.quorum, AtLeast) else None,
                fraction=(
                    d.quorum.rational
                    if isinstance(d.quorum, FractionQuorum)
                    else None
                    if isinstance(d.quorum, AtLeast)
                    else Fraction(1)
                ),
                ticks=(
                    tick_range(
                        d.schedule.start, d.schedule.every, d.schedule.until, tick, plan.n_ticks
                    )
                    if d.schedule is not None
                    else set()
                ),
                on=d.on,
            )
        )
    plan.outcomes = list(sc.outcomes)
    return plan


__all__ = [
    "DecisionPlan",
    "Plan",
    "PopulationPlan",
    "RulePlan",
    "compile_plan",
    "first_tick",
    "keep_in_range",
    "tick_range",
]
