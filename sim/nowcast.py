"""Nowcasting: P(outcome | observations up to T) by sequential Monte Carlo over replicates.

A batch of particles (replicates) runs tick by tick. When an observation's
window closes, each particle's weight is multiplied by the observation's
likelihood; when the effective sample size falls below a fraction of the
particles, the batch is resampled in place (systematic resampling on the
engine's array state, :meth:`sim.engine.Block.take`) and the weights reset.
The particles are one engine block: the same SimPy processes as a run, advanced
tick by tick (:meth:`sim.engine.Block.step`), read through its
:class:`~sim.engine.World`.
After each resampling, the copies of a particle are moved apart by
Metropolis-Hastings steps on their rule parameters that keep the simulated
path and leave the posterior invariant (:mod:`sim.rejuvenate`), and their
times still to come (an event not yet happened, a switch not yet due, a
patience not yet run out) are drawn anew from their prior given that they have
not come (:mod:`sim.refresh`), so the particles collapse neither onto a few
parameter values nor onto a few futures.
After the last observation up to T the particles run on to the end, and the
weighted share of each ending is the nowcast.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.engine import Block
from sim.observations import (
    PER_TICK,
    EventObs,
    NoOutcomeObs,
    NotBeforeObs,
    ObservationsFile,
    OutcomeObs,
    event_likelihood,
    groups_of,
    last_tick_by,
    likelihood_now,
    not_before_likelihood,
    published_by,
    window_ticks,
)
from sim.plan import compile_plan
from sim.refresh import refresh, times
from sim.rejuvenate import Moves, PathRecorder, rejuvenate, targets
from sim.rejuvenate_populations import (
    PopulationRecorder,
    population_targets,
    rejuvenate_populations,
)
from sim.scenario import UNRESOLVED, Scenario
from sim.seeds import nowcast_particles_rng, nowcast_rejuvenate_rng, nowcast_resample_rng

Array = np.ndarray[Any, Any]

#: Resample when the effective sample size falls below this share of the particles.
RESAMPLE_BELOW = 0.5
#: Warn when the effective sample size falls below this many particles.
ESS_WARNING = 50


class DegenerateWeights(UserWarning):
    """The effective sample size collapsed: the nowcast rests on few particles."""


@dataclass
class Nowcast:
    """The nowcast at one time T."""

    at: float
    particles: int
    probabilities: dict[str, float]
    ess_min: float
    resamples: int
    ess_trace: list[tuple[float, float]] = field(default_factory=list)  # (t, ess) after each update
    log_evidence: float = 0.0
    #: observations published by ``at`` (those used)
    used: int = 0
    #: hours up to which no outcome is conditioned on by default (0: not conditioned)
    no_outcome_by: float = 0.0
    #: the effective sample size just after each observation used, in the order they close:
    #: ``{"observation": index in the file (1-based, 0 for the implicit no outcome by T),
    #: "label", "t", "ess", "resampled"}`` (``resampled``: the particles were resampled
    #: after that tick's observations, and rejuvenated when ``rejuvenate``)
    ess_observations: list[dict[str, Any]] = field(default_factory=list)
    #: whether resampled particles were rejuvenated (:mod:`sim.rejuvenate`)
    rejuvenate: bool = True
    #: Metropolis-Hastings proposals and acceptances per parameter
    moves: Moves = field(default_factory=Moves)
    #: each rejuvenable parameter at the end: weighted ``mean``, ``sd`` and the number of
    #: ``distinct`` values among the particles (few: the particles collapsed)
    parameters: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "at": self.at,
            "particles": self.particles,
            "p": self.probabilities,
            "ess_min": self.ess_min,
            "resamples": self.resamples,
            "log_evidence": self.log_evidence,
            "observations_used": self.used,
            "no_outcome_by": self.no_outcome_by,
            "ess_observations": self.ess_observations,
            "rejuvenate": self.rejuvenate,
            "moves": self.moves.as_dict(),
            "parameters": self.parameters,
        }


def ess(weights: np.ndarray[Any, Any]) -> float:
    """Effective sample size of normalised weights."""
    return float(1.0 / np.sum(weights**2))


def systematic_resample(
    weights: np.ndarray[Any, Any], rng: np.random.Generator
) -> np.ndarray[Any, Any]:
    """Indices drawn by systematic resampling (low variance, one uniform)."""
    n = len(weights)
    positions = (rng.random() + np.arange(n)) / n
    cum = np.cumsum(weights)
    cum[-1] = 1.0
    return np.searchsorted(cum, positions, side="left")


class NoConsistentParticle(ValueError):
    """No particle reproduces what was known: every weight is zero."""


@dataclass
class _Tracks:
    """Per-particle records the observations read, resampled with the particles."""

    acc: list[Array]  # running sums of per-tick likelihoods over windows
    first_seen: dict[str, Array]  # event -> first tick it happened (0: not yet)
    reached: dict[tuple[str, tuple[str, ...]], Array]  # (agent, positions) -> first tick

    def take(self, idx: Array) -> None:
        self.acc = [a[idx] for a in self.acc]
        self.first_seen = {k: v[idx] for k, v in self.first_seen.items()}
        self.reached = {k: v[idx] for k, v in self.reached.items()}

    def update(self, world: Any, k: int) -> None:
        for eid, seen in self.first_seen.items():
            seen[(seen == 0) & world.flag(eid)] = k
        for (agent, positions), seen in self.reached.items():
            now = np.zeros(len(seen), dtype=bool)
            for p in positions:
                now |= world.is_in(agent, p)
            seen[(seen == 0) & now] = k


def no_outcome_tick(observations: Sequence[Any], at: float, tick: float, allow_ended: bool) -> int:
    """The tick up to which a nowcast at ``at`` conditions on no outcome (0: none).

    By default, everything known at ``at`` includes that the crisis had not
    ended by then: no outcome at any tick up to ``at`` (the last tick at or
    before it). Not when ``allow_ended``, nor when an ``outcome`` observation
    published by ``at`` says how it ended (it says when, too).
    """
    if allow_ended or any(isinstance(o, OutcomeObs) for o in observations):
        return 0
    return last_tick_by(at, tick)


def nowcast(
    scenario: Scenario,
    observations: ObservationsFile | Sequence[Any],
    at: float,
    particles: int = 4096,
    seed: int = 0,
    processes: Sequence[Any] = (),
    allow_ended: bool = False,
    rejuvenate: bool = True,
) -> Nowcast:
    """P(outcome | everything known at ``at``).

    Parameters
    ----------
    scenario : Scenario
    observations : ObservationsFile or sequence of observations
        Only those published by ``at`` are used (``published``, default the
        end of their window).
    at : float
        Hours: the time of the nowcast.
    particles : int
        Replicates carried along.
    seed : int
        Seeds the particles (with ``particles == BLOCK_SIZE`` they are exactly
        replicates 0..511 of ``stancesim run --seed``); resampling draws from a
        separate stream.
    processes : sequence
        Refused (a ``ValueError``): resampling copies rows of the block, and a
        process's own variables could not follow them.
    allow_ended : bool
        Keep particles whose crisis ended before ``at``. By default the nowcast
        also conditions on no outcome by ``at`` (:func:`no_outcome_tick`),
        exactly as a ``no_outcome`` observation at the last tick by ``at`` would.
    rejuvenate : bool
        After each resampling, draw the times still to come anew
        (:mod:`sim.refresh`) and move the individuals' drawn rule parameters by
        Metropolis-Hastings steps that keep the path (:mod:`sim.rejuvenate`);
        both draw from their own stream. Without resampling nothing changes.

    Returns
    -------
    Nowcast

    Raises
    ------
    NoConsistentParticle
        When every particle's weight is zero.
    """
    if processes:
        raise ValueError(
            "the nowcast cannot run users' processes yet: resampling copies replicates, and "
            "state a process keeps outside World.state would not follow; run without --processes"
        )
    items: Sequence[Any] = (
        observations.observations if isinstance(observations, ObservationsFile) else observations
    )
    plan = compile_plan(scenario)
    tick = plan.tick
    used: list[Any] = published_by(items, at)
    known = len(used)
    number = {id(o): i + 1 for i, o in enumerate(items)}
    labels = [_label(o, number.get(id(o), 0)) for o in used]
    ended_by = no_outcome_tick(used, at, tick, allow_ended)
    if ended_by > 0:
        used.append(NoOutcomeObs(kind="no_outcome", at=(ended_by * tick, ended_by * tick)))
        labels.append((0, f"no outcome by {ended_by * tick:g} h (implicit)"))
    block = Block(plan, nowcast_particles_rng(seed), particles, retimable=rejuvenate)
    world = block.world
    groups = groups_of(scenario)
    resample_rng = nowcast_resample_rng(seed)
    windows = [_window(o, tick) for o in used]
    tracks = _Tracks(
        acc=[np.zeros(particles) for _ in used],
        first_seen={e: np.zeros(particles, dtype=np.int64) for e in scenario.events},
        reached={
            (o.agent, tuple(o.position)): np.zeros(particles, dtype=np.int64)
            for o in used
            if isinstance(o, NotBeforeObs) and o.agent is not None and o.position is not None
        },
    )
    logw = np.zeros(particles)
    out = Nowcast(at, particles, {}, float(particles), 0, used=known, no_outcome_by=ended_by * tick)
    out.rejuvenate = rejuvenate
    last_obs_tick = max((w[1] for w in windows), default=0)
    mover = _Mover(block, seed, last_obs_tick) if rejuvenate else None
    while block.k < plan.n_ticks and (world.active.any() or block.k < last_obs_tick):
        block.step()
        k = block.k
        tracks.update(world, k)
        closing = False
        for j, (o, (first, last)) in enumerate(zip(used, windows, strict=True)):
            if isinstance(o, PER_TICK) and first <= k <= last:
                tracks.acc[j] += likelihood_now(o, world, groups)
            if k != last:
                continue
            lik = _closing_likelihood(o, j, first, last, world, tracks, tick)
            with np.errstate(divide="ignore"):
                logw = logw + np.log(lik)
            closing = True
            n, label = labels[j]
            out.ess_observations.append(
                {"observation": n, "label": label, "t": world.now, "ess": _ess_of(logw)}
            )
        if closing:
            implicit = ended_by if k == ended_by else 0
            before = out.resamples
            logw = _normalise_and_maybe_resample(
                logw, block, tracks, resample_rng, out, implicit, mover
            )
            for e in out.ess_observations:
                e.setdefault("resampled", out.resamples > before)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    names = [*scenario.outcomes, UNRESOLVED]
    codes = [*range(len(scenario.outcomes)), -1]
    out.probabilities = {
        n: float(w[world.outcome == c].sum()) for n, c in zip(names, codes, strict=True)
    }
    out.parameters = _parameters(block, w)
    if out.ess_min < ESS_WARNING:
        warnings.warn(
            f"effective sample size fell to {out.ess_min:.1f} of {particles} particles: "
            "the observations are hard for the model to reproduce; the nowcast is unreliable",
            DegenerateWeights,
            stacklevel=2,
        )
    return out


def _parameters(block: Block, w: Array) -> dict[str, dict[str, float]]:
    """Weighted mean, sd and distinct values of each parameter rejuvenation can move."""
    out = {}
    slots = [(t.label, t.slot) for t in targets(block.plan)]
    slots += [(t.label, t.slot) for t in population_targets(block.plan)]
    for label, slot in slots:
        v = block.state.param[slot]
        mean = float(w @ v)
        sd = math.sqrt(max(0.0, float(w @ (v - mean) ** 2)))
        out[label] = {"mean": mean, "sd": sd, "distinct": len(np.unique(v[w > 0]))}
    return out


def _label(o: Any, n: int) -> tuple[int, str]:
    """An observation's number in its file and how it is named in the ESS report."""
    return n, f"{n}: {getattr(o, 'note', None) or o.kind}"


def _ess_of(logw: Array) -> float:
    """Effective sample size of log weights (0 when every weight is zero)."""
    top = logw.max()
    if not math.isfinite(top):
        return 0.0
    w = np.exp(logw - top)
    return ess(w / w.sum())


class _Mover:
    """The recorder and the stream of rejuvenation (None of it without targets)."""

    def __init__(self, block: Block, seed: int, until: int) -> None:
        chosen = targets(block.plan)
        self.recorder = PathRecorder(block, chosen, until) if chosen and until > 0 else None
        crowd = population_targets(block.plan)
        self.crowds = PopulationRecorder(block, crowd, until) if crowd and until > 0 else None
        self.block = block
        self.times = times(block.plan)
        self.rng = nowcast_rejuvenate_rng(seed)

    def take(self, idx: Array, moves: Moves) -> None:
        # times to come first (they need no record of the path), then the rules' parameters
        if self.times:
            refresh(self.block, self.times, self.rng, moves)
        if self.recorder is not None:
            self.recorder.take(idx)
            rejuvenate(self.recorder, self.rng, moves)
        if self.crowds is not None:
            self.crowds.take(idx)
            rejuvenate_populations(self.crowds, self.rng, moves)


def _window(o: Any, tick: float) -> tuple[int, int]:
    """Ticks over which an observation is read; a ``not_before`` is read at its last tick by."""
    if isinstance(o, NotBeforeObs):
        k = last_tick_by(o.at[1], tick)
        return k, k  # tick 0 never comes: nothing can have happened before the start
    return window_ticks(o, tick)


def _closing_likelihood(
    o: Any, j: int, first: int, last: int, world: Any, tracks: _Tracks, tick: float
) -> Array:
    if isinstance(o, PER_TICK):
        return tracks.acc[j] / (last - first + 1)
    if isinstance(o, EventObs):
        return event_likelihood(o, tracks.first_seen[o.event], tick)
    if isinstance(o, NotBeforeObs):
        if o.event is not None:
            return not_before_likelihood(o, tracks.first_seen[o.event])
        assert o.agent is not None and o.position is not None
        return not_before_likelihood(o, tracks.reached[(o.agent, tuple(o.position))])
    assert isinstance(o, NoOutcomeObs | OutcomeObs)
    return likelihood_now(o, world)


def _normalise_and_maybe_resample(
    logw: Array,
    block: Block,
    tracks: _Tracks,
    rng: np.random.Generator,
    out: Nowcast,
    implicit: int,
    mover: _Mover | None = None,
) -> Array:
    top = logw.max()
    if not math.isfinite(top):
        now = block.world.now
        if implicit:
            raise NoConsistentParticle(
                f"every particle has ended by t = {now:g} h, and a nowcast conditions on no "
                "outcome before its time by default: if the crisis had ended by then, add an "
                "`outcome` observation; to keep ended particles, use --allow-ended"
            )
        raise NoConsistentParticle(
            f"no particle is consistent with the observations up to t = {now:g} h; "
            "widen their windows or give them an error probability"
        )
    w = np.exp(logw - top)
    out.log_evidence += float(top + np.log(w.mean()))
    logw = logw - top - np.log(w.mean())  # weights relative to their mean (mean weight 1)
    w /= w.sum()
    e = ess(w)
    out.ess_min = min(out.ess_min, e)
    out.ess_trace.append((block.world.now, e))
    if e < RESAMPLE_BELOW * len(w):
        idx = systematic_resample(w, rng)
        block.take(idx)
        tracks.take(idx)
        if mover is not None:
            mover.take(idx, out.moves)
        logw = np.zeros(len(w))
        out.resamples += 1
        out.ess_trace.append((block.world.now, float(len(w))))
    return logw


def nowcast_curve(
    scenario: Scenario,
    observations: ObservationsFile,
    times: list[float],
    particles: int = 4096,
    seed: int = 0,
    allow_ended: bool = False,
    rejuvenate: bool = True,
) -> list[Nowcast]:
    """Nowcasts at several times (each a separate pass, so each uses exactly its observations)."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", DegenerateWeights)
        return [
            nowcast(
                scenario,
                observations,
                t,
                particles,
                seed,
                allow_ended=allow_ended,
                rejuvenate=rejuvenate,
            )
            for t in times
        ]


def default_times(observations: ObservationsFile) -> list[float]:
    """Time 0 and the time every observation became public, sorted."""
    return sorted({0.0, *(o.known_at for o in observations.observations)})


def brier_and_log_score(curve: list[Nowcast], realised: str) -> dict[str, list[float]]:
    """Brier score and log score of each nowcast against the realised outcome."""
    brier, log = [], []
    for n in curve:
        probs = n.probabilities
        brier.append(sum((p - (1.0 if k == realised else 0.0)) ** 2 for k, p in probs.items()))
        # max(0.0, ...): a certain outcome scores 0, not -0 (nor -1e-16 from rounding)
        log.append(max(0.0, -math.log(max(probs.get(realised, 0.0), 1e-12))))
    return {"t": [n.at for n in curve], "brier": brier, "log_score": log}
