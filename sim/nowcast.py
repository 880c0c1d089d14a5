"""Nowcasting: P(outcome | observations up to T) by sequential Monte Carlo over replicates.

A batch of particles (replicates) runs tick by tick. When an observation's
window closes, each particle's weight is multiplied by the observation's
likelihood; when the effective sample size falls below a fraction of the
particles, the batch is resampled in place (systematic resampling on the
engine's array state, :meth:`sim.engine.Block.take`) and the weights reset.
The particles are one engine block: the same SimPy processes as a run, advanced
tick by tick (:meth:`sim.engine.Block.step`), read through its
:class:`~sim.engine.World`.
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
    EventObs,
    FractionObs,
    NoOutcomeObs,
    ObservationsFile,
    OutcomeObs,
    StanceObs,
    event_likelihood,
    likelihood_now,
    window_ticks,
)
from sim.plan import compile_plan
from sim.scenario import UNRESOLVED, Scenario
from sim.seeds import nowcast_particles_rng, nowcast_resample_rng

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

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "at": self.at,
            "particles": self.particles,
            "p": self.probabilities,
            "ess_min": self.ess_min,
            "resamples": self.resamples,
            "log_evidence": self.log_evidence,
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


def nowcast(
    scenario: Scenario,
    observations: ObservationsFile,
    at: float,
    particles: int = 4096,
    seed: int = 0,
    processes: Sequence[Any] = (),
) -> Nowcast:
    """P(outcome | observations whose window closes by ``at``).

    Parameters
    ----------
    scenario : Scenario
    observations : ObservationsFile
    at : float
        Hours: only observations whose window ends by then are used.
    particles : int
        Replicates carried along.
    seed : int
        Seeds the particles (with ``particles == BLOCK_SIZE`` they are exactly
        replicates 0..511 of ``stancesim run --seed``); resampling draws from a
        separate stream.
    processes : sequence
        Refused (a ``ValueError``): resampling copies rows of the block, and a
        process's own variables could not follow them.

    Returns
    -------
    Nowcast
    """
    if processes:
        raise ValueError(
            "the nowcast cannot run users' processes yet: resampling copies replicates, and "
            "state a process keeps outside World.state would not follow; run without --processes"
        )
    plan = compile_plan(scenario)
    tick = plan.tick
    block = Block(plan, nowcast_particles_rng(seed), particles)
    world = block.world
    resample_rng = nowcast_resample_rng(seed)
    used = [o for o in observations.observations if o.at[1] <= at + 1e-9]
    windows = [window_ticks(o, tick) for o in used]
    acc = [np.zeros(particles) for _ in used]
    first_seen = {e: np.zeros(particles, dtype=np.int64) for e in scenario.events}
    logw = np.zeros(particles)
    out = Nowcast(at, particles, {}, float(particles), 0)
    last_obs_tick = max((w[1] for w in windows), default=0)
    while block.k < plan.n_ticks and (world.active.any() or block.k < last_obs_tick):
        block.step()
        k = block.k
        for eid, seen in first_seen.items():
            newly = (seen == 0) & world.flag(eid)
            seen[newly] = k
        closing = False
        for j, (o, (first, last)) in enumerate(zip(used, windows, strict=True)):
            if isinstance(o, FractionObs | StanceObs) and first <= k <= last:
                acc[j] += likelihood_now(o, world)
            if k != last:
                continue
            if isinstance(o, FractionObs | StanceObs):
                lik = acc[j] / (last - first + 1)
            elif isinstance(o, EventObs):
                lik = event_likelihood(o, first_seen[o.event], tick)
            else:
                assert isinstance(o, NoOutcomeObs | OutcomeObs)
                lik = likelihood_now(o, world)
            with np.errstate(divide="ignore"):
                logw = logw + np.log(lik)
            closing = True
        if closing:
            logw, acc, first_seen = _normalise_and_maybe_resample(
                logw, block, acc, first_seen, resample_rng, out
            )
    w = np.exp(logw - logw.max())
    w /= w.sum()
    names = [*scenario.outcomes, UNRESOLVED]
    codes = [*range(len(scenario.outcomes)), -1]
    out.probabilities = {
        n: float(w[world.outcome == c].sum()) for n, c in zip(names, codes, strict=True)
    }
    if out.ess_min < ESS_WARNING:
        warnings.warn(
            f"effective sample size fell to {out.ess_min:.1f} of {particles} particles: "
            "the observations are hard for the model to reproduce; the nowcast is unreliable",
            DegenerateWeights,
            stacklevel=2,
        )
    return out


def _normalise_and_maybe_resample(
    logw: np.ndarray[Any, Any],
    block: Block,
    acc: list[np.ndarray[Any, Any]],
    first_seen: dict[str, np.ndarray[Any, Any]],
    rng: np.random.Generator,
    out: Nowcast,
) -> tuple[np.ndarray[Any, Any], list[np.ndarray[Any, Any]], dict[str, np.ndarray[Any, Any]]]:
    top = logw.max()
    if not math.isfinite(top):
        raise ValueError(
            f"no particle is consistent with the observations up to t = {block.world.now:g} h; "
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
        acc = [a[idx] for a in acc]
        first_seen = {k: v[idx] for k, v in first_seen.items()}
        logw = np.zeros(len(w))
        out.resamples += 1
        out.ess_trace.append((block.world.now, float(len(w))))
    return logw, acc, first_seen


def nowcast_curve(
    scenario: Scenario,
    observations: ObservationsFile,
    times: list[float],
    particles: int = 4096,
    seed: int = 0,
) -> list[Nowcast]:
    """Nowcasts at several times (each a separate pass, so each uses exactly its observations)."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", DegenerateWeights)
        return [nowcast(scenario, observations, t, particles, seed) for t in times]


def default_times(observations: ObservationsFile) -> list[float]:
    """Time 0 and the end of every observation's window, sorted."""
    return sorted({0.0, *(float(o.at[1]) for o in observations.observations)})


def brier_and_log_score(curve: list[Nowcast], realised: str) -> dict[str, list[float]]:
    """Brier score and log score of each nowcast against the realised outcome."""
    brier, log = [], []
    for n in curve:
        probs = n.probabilities
        brier.append(sum((p - (1.0 if k == realised else 0.0)) ** 2 for k, p in probs.items()))
        # max(0.0, ...): a certain outcome scores 0, not -0 (nor -1e-16 from rounding)
        log.append(max(0.0, -math.log(max(probs.get(realised, 0.0), 1e-12))))
    return {"t": [n.at for n in curve], "brier": brier, "log_score": log}
