"""Rejuvenation of populations' rule parameters: one resistance, rate or slope per replicate.

A population in ``hazard_counts`` mode (a hazard or logistic rule, irreversible,
one value of each parameter per replicate, no per-person values) moves
``m_t`` of the ``n_t`` people still out at tick ``t`` by one binomial draw with
the rule's per-tick probability ``p_t(θ)``, given the drive it read at the
start of the populations' phase. With the path held fixed, as in
:mod:`sim.rejuvenate`, θ enters only these factors, so::

    L(path | θ) ∝ Π_t p_t(θ)^m_t (1 - p_t(θ))^(n_t - m_t)

(the binomial coefficients do not depend on θ), and a Metropolis-Hastings move
with this likelihood and θ's prior leaves the posterior unchanged. The
recorder keeps ``(drive, n_t, m_t)`` per replicate and tick.

Left alone: reversible rules (only the net change of the count is seen, a
convolution of two binomials), per-person values, segments and networks
(each person or segment has factors of its own), threshold populations (their
counts come from sorted thresholds and hypergeometric draws), and, as for
individuals, parameters an event changes, tied by ``correlations`` or drawn
with a ``probability``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import simpy

from sim import rules as R
from sim.engine import Block
from sim.engine.processes import EVENTS, POPULATIONS, PhaseEvent, priority
from sim.plan import Plan
from sim.rejuvenate import STEPS, Moves, Prior, changed_by_events, metropolis, prior_of

Array = np.ndarray[Any, Any]
#: Position within a phase of the recorder's two looks (after every other process there).
_LATE = 1 << 23
_NAMES = ("resistance", "rate", "slope")


@dataclass(frozen=True)
class PopulationTarget:
    """One population parameter moved by rejuvenation."""

    label: str  # agents.employees.rule.resistance
    population: int  # index into plan.populations
    name: str
    slot: int
    prior: Prior


def population_targets(plan: Plan) -> list[PopulationTarget]:
    """The population parameters rejuvenation moves (see the module docstring)."""
    changed = changed_by_events(plan)
    drawn = {d.slot: d for d in plan.draws if d.kind == "param"}
    out = []
    for index, spec in enumerate(plan.populations):
        if spec.mode != "hazard_counts" or spec.reversible or spec.network is not None:
            continue
        for name in _NAMES if spec.logistic else _NAMES[:2]:
            slot = getattr(spec, name)
            d = drawn.get(slot)
            if d is None or slot in changed or d.probability or d.copula is not None:
                continue
            prior = prior_of(d.value)
            if prior is not None:
                label = f"agents.{spec.id}.rule.{name}"
                out.append(PopulationTarget(label, index, name, slot, prior))
    return out


@dataclass
class _Counts:
    """A population's record: per tick, the drive it read, who was out, how many moved."""

    drive: list[Array] = field(default_factory=list)
    out: list[Array] = field(default_factory=list)
    moved: list[Array] = field(default_factory=list)

    def take(self, index: Array) -> None:
        for name in ("drive", "out", "moved"):
            setattr(self, name, [a[index] for a in getattr(self, name)])


class PopulationRecorder:
    """Keeps what the populations' path likelihood needs, as one more SimPy process.

    It looks at the state at the end of the events' phase (what the
    populations read as their drive at the start of theirs) and at the end of
    the populations' phase (how many moved), at positions no other process
    uses, so the model's order and draws are untouched. Resampled with the
    particles (:meth:`take`).
    """

    def __init__(self, block: Block, chosen: list[PopulationTarget], until: int) -> None:
        self.block, self.state, self.plan = block, block.state, block.plan
        self.until = min(until, self.plan.n_ticks)
        self.targets = chosen
        self.record = {t.population: _Counts() for t in chosen}
        self._before: dict[int, tuple[Array, Array]] = {}
        block.env.process(self._watch())

    def _watch(self) -> Generator[simpy.Event, Any, None]:
        env, tick, s = self.block.env, self.plan.tick, self.state
        for k in range(s.k + 1, self.until + 1):
            yield PhaseEvent(env, k * tick, priority(EVENTS, _LATE))
            s.invalidate()
            for i in self.record:
                pop = s.populations[i]
                self._before[i] = (pop.drive(s), pop.counts[:, pop.spec.to_idx].copy())
            yield PhaseEvent(env, k * tick, priority(POPULATIONS, _LATE))
            for i, rec in self.record.items():
                pop = s.populations[i]
                drive, before = self._before[i]
                rec.drive.append(np.broadcast_to(drive, before.shape).astype(float))
                rec.out.append(pop.N - before)
                rec.moved.append(pop.counts[:, pop.spec.to_idx] - before)

    def take(self, index: Array) -> None:
        """Keep rows ``index`` of the record (as the block's)."""
        for rec in self.record.values():
            rec.take(index)

    def log_likelihood(self, target: PopulationTarget, values: Array) -> Array:
        """Per replicate: log L(path | the target's parameter = ``values``), up to a constant."""
        rec = self.record[target.population]
        if not rec.drive:
            return np.zeros(self.state.size)
        drive, out, moved = (np.stack(getattr(rec, n)) for n in ("drive", "out", "moved"))
        return _log_likelihood(self.plan, self.state, target, values, drive, out, moved)


def _log_likelihood(
    plan: Plan, s: Any, t: PopulationTarget, values: Array, drive: Array, out: Array, moved: Array
) -> Array:
    spec = plan.populations[t.population]
    params = list(s.param)
    params[t.slot] = values
    p = SimpleNamespace(**{n: params[getattr(spec, n)] for n in _NAMES if getattr(spec, n) >= 0})
    if spec.logistic:
        per_hour = R.logistic_probability(drive, p.resistance, p.rate, p.slope)
    else:
        per_hour = R.hazard_probability(drive, p.resistance, p.rate)
    q = R.per_tick(per_hour, plan.tick)
    stay = out - moved
    with np.errstate(divide="ignore", invalid="ignore"):
        # 0 * log 0 is 0 here: a factor p^0 or (1 - p)^0 is 1 whatever p is
        lp = np.where(moved > 0, moved * np.log(q), 0.0)
        lq = np.where(stay > 0, stay * np.log1p(-q), 0.0)
    return np.asarray((lp + lq).sum(axis=0))


def rejuvenate_populations(
    recorder: PopulationRecorder, rng: np.random.Generator, moves: Moves, steps: int = STEPS
) -> None:
    """``steps`` Metropolis-Hastings sweeps over every population target, in place."""
    s = recorder.state
    for t in recorder.targets:

        def loglik(values: Array, t: PopulationTarget = t) -> Array:
            return recorder.log_likelihood(t, values)

        moved = metropolis(s.param[t.slot], t.prior, loglik, rng, steps, t.label, moves)
        s.param[t.slot][:] = moved  # in place: the population reads it from the next tick on
    s.invalidate()
