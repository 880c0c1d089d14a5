"""Rejuvenation of the nowcast's particles: Metropolis-Hastings moves on rule parameters.

After systematic resampling, copies of one particle share its per-replicate
parameter values, and over several resamplings the particles collapse onto a
few values. Each copy is then moved by a Metropolis-Hastings step that leaves
the posterior invariant, with the path already simulated held fixed: for one
individual's drawn parameter θ (a hazard or logistic rule's ``resistance``,
``rate`` or ``slope``; a threshold rule's ``threshold`` or ``spontaneous``),
propose θ' = θ + ε (a symmetric Gaussian random walk, so the proposal ratio is
1) and accept with probability::

    min(1, prior(θ') L(path | θ') / (prior(θ) L(path | θ)))

The target is p(θ, path | observations) ∝ prior(θ) p(path | θ) Π lik(obs | path).
The observations read the path only, so they cancel with the path held
fixed. p(path | θ) is a product over ticks of transition probabilities; θ enters
only the factors of its own agent's moves in the individuals' phase, so all
other factors (populations, other agents, events, votes) cancel too, and L is
the product, over the ticks at which the rule could move the agent, of the
probability of what the agent did. With a single rule that is ``1 - p_t``
while it stayed and ``p_t`` at the tick it moved; when several of the agent's
rules compete (tried in order, the first to fire moves it) it is the closed
form :meth:`PathRecorder.factors` writes as ``c1 + ik p_t + (1 - p_t) c2``,
whatever the other rules' probabilities are. ``p_t`` is the rule's per-tick
probability from its closed form, given the pressure (or support) the agent
saw at tick ``t``, which the recorder keeps.

A particle that accepts θ' continues with θ': its later transitions use it,
as they must (the engine's parameter array is changed in place).

Covered: every drawn (non-constant) parameter of an individual's hazard,
logistic and threshold rules with a uniform, normal (clipped too: the clipped
mass is handled by a latent unclipped value, drawn afresh from its tail when
θ sits on a bound; truncated: the truncated law, :mod:`sim.laws`), beta, triangular or
log-normal (truncated too) prior, that no event's
effect changes (``change``/``offset`` effects would make the used value differ
from the drawn one). Times still to come (events' ``at``, scheduled switches,
deadlines, patience) are drawn anew by :mod:`sim.refresh`. Left alone:
``offset`` (shared by every rule of an agent through ``offset`` effects),
``choice`` priors (discrete), averaging agents' parameters, and every population's parameters
(their path likelihood would need each mode's own binomial or hypergeometric
factors).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import simpy
from scipy import stats

from sim import ops as O
from sim import rules as R
from sim.distributions import Normal
from sim.engine import Block
from sim.engine.processes import INDIVIDUALS, POPULATIONS, PhaseEvent, priority
from sim.laws import law_of
from sim.plan import Plan

Array = np.ndarray[Any, Any]

#: Metropolis-Hastings sweeps over every parameter after each resampling.
STEPS = 3
#: Random-walk scale as a multiple of the particles' spread (2.38 σ: Roberts, Gelman
#: and Gilks' optimal scale for one dimension).
SCALE = 2.38
#: Position within a phase of the recorder's two looks (after every other process there).
_LATE = 1 << 23
_PRESSURE_PARAMS: tuple[str, ...] = ("resistance", "rate", "slope")
_THRESHOLD_PARAMS: tuple[str, ...] = ("threshold", "spontaneous")


@dataclass(frozen=True)
class Prior:
    """A parameter's prior: log density, and a latent value for a clipped normal."""

    dist: Any
    frozen: Any  # a scipy.stats frozen distribution
    clip: tuple[float, float] | None = None

    def spread(self) -> float:
        """The prior's standard deviation (the random walk's scale when particles agree)."""
        return float(self.frozen.std())

    def latent(self, theta: Array, rng: np.random.Generator) -> Array:
        """The value the walk moves: θ itself, or for a clipped θ a tail draw (exact Gibbs)."""
        if self.clip is None:
            return theta
        lo, hi = self.clip
        mu, sigma = self.dist.normal
        z = theta.copy()
        for bound, below in ((lo, True), (hi, False)):
            at = theta == bound
            if at.any():
                b = (bound - mu) / sigma
                a, c = (-np.inf, b) if below else (b, np.inf)
                z[at] = stats.truncnorm.rvs(
                    a, c, loc=mu, scale=sigma, size=int(at.sum()), random_state=rng
                )
        return z

    def value(self, z: Array) -> Array:
        """The parameter's value for a latent value."""
        return z if self.clip is None else np.clip(z, *self.clip)

    def logpdf(self, z: Array) -> Array:
        """Log density of the latent value (-inf outside the support)."""
        return np.asarray(self.frozen.logpdf(z))


def prior_of(dist: Any) -> Prior | None:
    """The :class:`Prior` of a drawn parameter, None for constants and unsupported kinds."""
    law = law_of(dist)
    if law is None:
        return None  # a constant, or a choice (discrete: left alone)
    return Prior(dist, law, dist.clip if isinstance(dist, Normal) else None)


@dataclass(frozen=True)
class Target:
    """One parameter moved by rejuvenation."""

    label: str  # agents.dangelo.rules.reinstate.resistance
    rule: int  # index into plan.rules
    name: str
    slot: int  # into the block's per-replicate parameters
    prior: Prior


def changed_by_events(plan: Plan) -> set[int]:
    """Parameter slots some event's effect changes: their values are no longer the prior's."""
    return {
        slot
        for ev in plan.events
        for eff in ev.effects
        for op in (eff.effects if isinstance(eff, O.EffectList) else (eff,))
        if isinstance(op, O.ParamOp)
        for slot, _ in op.targets
    }


def targets(plan: Plan) -> list[Target]:
    """The parameters rejuvenation moves (see the module docstring for which)."""
    changed = changed_by_events(plan)
    drawn = {d.slot: d for d in plan.draws if d.kind == "param"}
    where = {slot: key for key, slot in plan.param_slot.items()}
    out = []
    for index, rp in enumerate(plan.rules):
        if isinstance(rp, O.PressureStep):
            names = _PRESSURE_PARAMS
        elif isinstance(rp, O.ThresholdStep):
            names = _THRESHOLD_PARAMS
        else:
            continue
        for name in names:
            slot = getattr(rp, name)
            if slot < 0 or slot in changed or slot not in drawn or drawn[slot].probability:
                continue
            if drawn[slot].copula is not None:  # its prior is joint with others' (copula)
                continue
            prior = prior_of(drawn[slot].value)
            if prior is None:
                continue
            agent, j, _ = where[slot]
            rid = plan.rule_ids.get(agent, [])
            named = rid[j] if j < len(rid) and rid[j] else str(j)
            out.append(Target(f"agents.{agent}.rules.{named}.{name}", index, name, slot, prior))
    return out


@dataclass
class _History:
    """One rule's record, one array per tick at which the rule could move its agent somewhere."""

    pressure: list[Array] = field(default_factory=list)
    direction: list[Array] = field(default_factory=list)  # 1 forward, -1 back, 0 cannot move
    c1: list[Array] = field(default_factory=list)
    ik: list[Array] = field(default_factory=list)
    c2: list[Array] = field(default_factory=list)

    def take(self, index: Array) -> None:
        for name in ("pressure", "direction", "c1", "ik", "c2"):
            setattr(self, name, [a[index] for a in getattr(self, name)])

    def stacked(self) -> tuple[Array, ...]:
        return tuple(
            np.stack(getattr(self, n)) for n in ("pressure", "direction", "c1", "ik", "c2")
        )


class PathRecorder:
    """Keeps, per replicate and tick, what the rejuvenated rules' path likelihood needs.

    It runs as one more SimPy process on the nowcast's block, looking at the
    state just before and just after the individuals' phase of each tick (at
    positions of those phases no other process uses, so the model's order and
    draws are untouched, and an ordinary run never has it). It reads the
    pressures the rules saw, recomputed after the phase with the positions put
    back as they were (the phase reads them from the state left by the
    populations and the opinions' update, which nothing changes in between).
    Resampled with the particles (:meth:`take`).
    """

    def __init__(self, block: Block, chosen: list[Target], until: int | None = None) -> None:
        self.block, self.state, self.plan = block, block.state, block.plan
        #: the last tick recorded (no resampling comes after the last observation)
        self.until = self.plan.n_ticks if until is None else min(until, self.plan.n_ticks)
        self.targets = chosen
        self.history = {t.rule: _History() for t in chosen}
        self._pre: Array | None = None
        block.env.process(self._watch())

    def _watch(self) -> Generator[simpy.Event, Any, None]:
        env, tick = self.block.env, self.plan.tick
        for k in range(self.state.k + 1, self.until + 1):
            yield PhaseEvent(env, k * tick, priority(POPULATIONS, _LATE))
            self._pre = self.state.pos.copy()
            yield PhaseEvent(env, k * tick, priority(INDIVIDUALS, _LATE))
            self._note()

    def take(self, index: Array) -> None:
        """Keep rows ``index`` of the record (as the block's)."""
        for h in self.history.values():
            h.take(index)

    def _note(self) -> None:
        s, pre = self.state, self._pre
        assert pre is not None
        post = s.pos
        s.pos = pre  # the positions the rules saw, for the signals they read
        s.invalidate()
        try:
            for agent in {self.plan.rules[r].agent_index for r in self.history}:
                self._note_agent(agent, pre[:, agent], post[:, agent])
        finally:
            s.pos = post
            s.invalidate()

    def _note_agent(self, i: int, cur: Array, obs: Array) -> None:
        s = self.state
        steps = [(r, rp) for r, rp in enumerate(self.plan.rules) if rp.agent_index == i]
        free = ~s.pinned[:, i]
        pis, dests, dirs, pressures = [], [], [], []
        for _, rp in steps:
            d = np.where(free & (cur == rp.from_idx), 1, 0)
            if rp.reversible:
                d = np.where(free & (cur == rp.to_idx), -1, d)
            press = _pressure(s, rp)
            pis.append(np.where(d == 0, 0.0, _probability(rp, s, press, d)))
            dests.append(np.where(d == 1, rp.to_idx, np.where(d == -1, rp.from_idx, -1)))
            dirs.append(d.astype(np.int8))
            pressures.append(press)
        moved = obs != cur
        for j, (r, _) in enumerate(steps):
            h = self.history.get(r)
            if h is None or not dirs[j].any():
                continue  # its factor is constant in θ this tick
            c1, ik, c2 = self.factors(pis, dests, moved, obs, j)
            h.pressure.append(np.broadcast_to(pressures[j], cur.shape).copy())
            h.direction.append(dirs[j])
            h.c1.append(c1)
            h.ik.append(ik)
            h.c2.append(c2)

    @staticmethod
    def factors(
        pis: list[Array], dests: list[Array], moved: Array, obs: Array, j: int
    ) -> tuple[Array, Array, Array]:
        """``c1, ik, c2`` with P(what the agent did) = ``c1 + ik p + (1 - p) c2``, p rule j's.

        The rules are tried in order and the first whose draw falls below its
        probability moves the agent; so P(moved to d) sums, over the rules that
        lead to d, their probability times the survival of the rules before
        them, and P(stayed) is the product of every rule's survival.
        """
        c1, c2, ik = np.zeros(len(obs)), np.zeros(len(obs)), np.zeros(len(obs))
        surv = np.ones(len(obs))  # product of (1 - p_m) over rules m before l, rule j left out
        for m, (p, d) in enumerate(zip(pis, dests, strict=True)):
            to_obs = moved & (d == obs)
            if m == j:
                ik = np.where(to_obs, surv, 0.0)
                continue
            hit = np.where(to_obs, p * surv, 0.0)
            if m < j:
                c1 += hit
            else:
                c2 += hit
            surv = surv * (1.0 - p)
        return c1, ik, np.where(moved, c2, surv)

    def log_likelihood(self, target: Target, values: Array) -> Array:
        """Per replicate: log L(path | the target's parameter = ``values``)."""
        h = self.history[target.rule]
        if not h.pressure:
            return np.zeros(self.state.size)
        return self._log_likelihood(target, values, h.stacked())

    def _log_likelihood(self, target: Target, values: Array, hist: tuple[Array, ...]) -> Array:
        press, direction, c1, ik, c2 = hist
        rp = self.plan.rules[target.rule]
        params = list(self.state.param)
        params[target.slot] = values
        p = _probability(rp, SimpleNamespace(param=params), press, direction)
        p = np.where(direction == 0, 0.0, p)
        with np.errstate(divide="ignore"):
            return np.asarray(np.log(c1 + ik * p + (1.0 - p) * c2).sum(axis=0))


def _pressure(s: Any, rp: O.RuleStep) -> Array:
    if isinstance(rp, O.PressureStep | O.ThresholdStep):
        return np.asarray(s.signal(rp.signal) + s.param[rp.offset])
    return np.zeros(s.size)


def _probability(rp: O.RuleStep, s: Any, press: Array, direction: Array) -> Array:
    """Per-tick probability that ``rp`` moves the agent (forward where direction 1, back -1)."""
    if isinstance(rp, O.PressureStep):
        fwd = R.per_tick(rp.probabilities(s, press, False), rp.tick)
        if not rp.reversible:
            return fwd
        return np.where(direction == -1, R.per_tick(rp.probabilities(s, press, True), rp.tick), fwd)
    if isinstance(rp, O.ThresholdStep):
        reached = R.threshold_reached(press, s.param[rp.threshold])
        spont = R.per_tick(s.param[rp.spontaneous], rp.tick) if rp.column >= 0 else 0.0
        return np.where(direction == -1, ~reached, np.where(reached, 1.0, spont)).astype(float)
    if isinstance(rp, O.AveragingStep):
        high = R.at_least(s.opinion[:, rp.col], rp.cutoff)
        return np.where(direction == -1, ~high, high).astype(float)
    raise TypeError(f"no path likelihood for {type(rp).__name__}")


@dataclass
class Moves:
    """Proposals and acceptances of each parameter's moves (over a whole nowcast)."""

    proposed: dict[str, int] = field(default_factory=dict)
    accepted: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, dict[str, float]]:
        """Plain data: per parameter, proposals, acceptances and the acceptance rate."""
        return {
            k: {
                "proposed": n,
                "accepted": self.accepted[k],
                "rate": self.accepted[k] / n if n else 0.0,
            }
            for k, n in self.proposed.items()
        }


def rejuvenate(
    recorder: PathRecorder, rng: np.random.Generator, moves: Moves, steps: int = STEPS
) -> None:
    """``steps`` Metropolis-Hastings sweeps over every target, in place on the block.

    Call right after resampling (the weights are then equal, so the particles'
    spread is the posterior's and sets the random walk's scale).
    """
    s = recorder.state
    for t in recorder.targets:
        h = recorder.history[t.rule]
        hist = h.stacked() if h.pressure else None

        def loglik(values: Array, t: Target = t, hist: tuple[Array, ...] | None = hist) -> Array:
            return _ll(recorder, t, values, hist)

        # in place: the engine's rules read this array from the next tick on
        s.param[t.slot][:] = metropolis(
            s.param[t.slot], t.prior, loglik, rng, steps, t.label, moves
        )
    s.invalidate()


def metropolis(
    theta: Array,
    prior: Prior,
    loglik: Callable[[Array], Array],
    rng: np.random.Generator,
    steps: int,
    label: str,
    moves: Moves,
) -> Array:
    """``steps`` random-walk Metropolis-Hastings moves of every particle's ``theta``.

    The target is ``prior(θ) * loglik(θ)`` (the path held fixed); the walk's
    scale is :data:`SCALE` times the particles' spread (a tenth of the prior's
    when they all agree). Returns the new values; ``moves`` counts proposals
    and acceptances under ``label``.
    """
    spread = float(np.std(theta))
    scale = SCALE * (spread if spread > 1e-12 else 0.1 * prior.spread())
    z = prior.latent(theta, rng)
    cur_ll = loglik(theta)
    cur_lp = prior.logpdf(z)
    for _ in range(steps):
        z_new = z + scale * rng.standard_normal(len(z))
        new_theta = prior.value(z_new)
        new_lp = prior.logpdf(z_new)
        ok = np.isfinite(new_lp)
        # outside the prior's support the rule's formulas need not hold: not evaluated there
        safe = np.where(ok, new_theta, theta)
        new_ll = np.where(ok, loglik(safe), -np.inf)
        with np.errstate(invalid="ignore"):
            log_ratio = (new_lp + new_ll) - (cur_lp + cur_ll)
        accept = np.isfinite(new_ll) & (np.log(rng.random(len(z))) < log_ratio)
        z = np.where(accept, z_new, z)
        cur_ll = np.where(accept, new_ll, cur_ll)
        cur_lp = np.where(accept, new_lp, cur_lp)
        moves.proposed[label] = moves.proposed.get(label, 0) + len(z)
        moves.accepted[label] = moves.accepted.get(label, 0) + int(accept.sum())
    return np.asarray(prior.value(z))


def _ll(recorder: PathRecorder, t: Target, values: Array, hist: tuple[Array, ...] | None) -> Array:
    if hist is None:
        return np.zeros(len(values))
    return recorder._log_likelihood(t, values, hist)
