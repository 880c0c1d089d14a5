"""Bounded-confidence opinion dynamics as plan operations (Deffuant, Hegselmann-Krause).

Individuals with a ``bounded_confidence`` rule hold their opinion in the
block's opinion columns (beside the averaging agents', so ``opinion`` terms
and averaging weights read it); :class:`ConfidenceOp` moves those of one model
every tick in the individuals' phase. A population's opinions are held per
person by :mod:`sim.engine.opinion_populations`, set up from an
:class:`OpinionSpec`. The arithmetic is in :mod:`sim.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim import rules as R
from sim.ops_base import Array, State


@dataclass(frozen=True, eq=False)
class OpinionSpec:
    """A population's bounded-confidence rule, compiled (slots index the block's draws).

    ``opinion`` is a ``person`` slot (one opinion per replicate and person);
    ``confidence``, ``convergence`` and ``cutoff`` are ``param`` slots (one
    value per replicate; ``convergence`` -1 for Hegselmann-Krause).
    """

    model: str  # "deffuant" or "hegselmann_krause"
    opinion: int
    confidence: int
    convergence: int
    cutoff: int
    encounters: int  # Deffuant: pairs that meet per tick
    reversible: bool


@dataclass(frozen=True, eq=False)
class ConfidenceOp:
    """The bounded-confidence individuals of one model, moved together each tick.

    Agents are numbered ``0..A-1`` here; ``cols`` are their opinion columns.
    ``peers[i, j]`` says agent ``i`` hears ``j`` (the diagonal is True).
    ``starts`` lists, for Deffuant, the agent starting each encounter of a
    tick (each as often as its ``encounters``); their order is drawn every
    tick, then each picks one of its peers at random.
    """

    model: str
    cols: tuple[int, ...]
    confidence: tuple[int, ...]  # param slot of each agent's confidence
    convergence: tuple[int, ...]  # Deffuant: param slot of each agent's convergence
    peers: Array  # (A, A) bool
    starts: tuple[int, ...] = ()

    def new_opinions(self, s: State, rng: Any) -> Array:
        """Their opinions after this tick, from the opinions at its start; shape (R, A).

        ``rng`` is the block's :class:`~sim.engine.streams.Streams`: Deffuant
        draws ``2 * len(starts)`` uniforms per row (order keys, then peer
        picks), so that each block of a batch draws as it would alone.
        """
        x = s.opinion[:, list(self.cols)]
        eps = np.stack([s.param[c] for c in self.confidence], axis=1)
        if self.model == "hegselmann_krause":
            return R.hegselmann_krause_dense(x, eps, self.peers)
        mu = np.stack([s.param[c] for c in self.convergence], axis=1)
        u = rng.random(s.size, 2, len(self.starts))
        return deffuant_individuals(x, eps, mu, self.peers, self.starts, u)


def deffuant_individuals(
    x: Array, eps: Array, mu: Array, peers: Array, starts: tuple[int, ...], u: Array
) -> Array:
    """A tick of Deffuant encounters among a few agents, given the tick's uniforms.

    Parameters
    ----------
    x, eps, mu : arrays, shape (R, A)
    peers : array of bool, shape (A, A), diagonal True
    starts : the agent starting each encounter, before shuffling (length E)
    u : array, shape (R, 2, E)
        ``u[:, 0]`` orders the encounters (by ``argsort``); the ``t``-th in
        that order picks its starter's peer by ``u[:, 1, t]``:
        ``floor(u * count)`` among the starter's peers, in agent order.

    Returns
    -------
    array, shape (R, A)
    """
    rows, a = x.shape
    x = x.copy()
    others = peers & ~np.eye(a, dtype=bool)
    count = others.sum(axis=1)
    table = np.zeros((a, max(1, int(count.max(initial=0)))), dtype=np.int64)
    for i in range(a):
        table[i, : count[i]] = np.flatnonzero(others[i])
    order = np.argsort(u[:, 0], axis=1, kind="stable")
    who = np.asarray(starts, dtype=np.int64)[order]  # (R, E)
    base = np.arange(rows) * a
    flat, e_flat, m_flat = x.ravel(), eps.ravel(), mu.ravel()
    for e in range(who.shape[1]):
        starter = who[:, e]
        k = np.minimum((u[:, 1, e] * count[starter]).astype(np.int64), count[starter] - 1)
        ai, bj = base + starter, base + table[starter, k]
        R.deffuant_encounter(flat, ai, bj, (e_flat[ai], e_flat[bj]), (m_flat[ai], m_flat[bj]))
    return flat.reshape(rows, a)


def update_confidence(s: State, ops: list[ConfidenceOp], rng: Any) -> dict[int, Array]:
    """Each bounded-confidence individual's new opinion by column, from the tick's start."""
    out: dict[int, Array] = {}
    for op in ops:
        new = op.new_opinions(s, rng)
        for k, col in enumerate(op.cols):
            out[col] = new[:, k]
    return out
