"""A population with bounded-confidence opinion dynamics: one opinion per person and replicate.

The population hears itself. Deffuant (mean field): each tick ``encounters``
pairs of distinct persons, drawn uniformly, meet one after the other.
Hegselmann-Krause: each tick everyone moves at once to the mean of the
opinions within the confidence bound, computed exactly in O(N log N) per row
(:func:`sim.rules.hegselmann_krause_sorted`). A person is in the rule's ``to``
position while their opinion is at least the cut-off (once there for good
when the rule is not reversible), so the population's share in ``to`` is what
signals read, as for any population.

Deffuant draws ``2 * encounters`` uniforms per row each tick from each
block's stream (:meth:`~sim.engine.streams.Streams.random`), in the
populations' order; Hegselmann-Krause draws nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim import rules as R
from sim.engine.population_base import Population
from sim.engine.streams import Streams
from sim.ops import State
from sim.ops_opinions import OpinionSpec
from sim.plan import PopulationSpec

Array = np.ndarray[Any, Any]


class OpinionPopulation(Population):
    """Mode ``bounded_confidence``: opinions per person, position by cut-off."""

    ROWS = ("counts", "opinions", "in_to")

    def __init__(self, spec: PopulationSpec, n: int, tick: float, person: list[Any]) -> None:
        super().__init__(spec, n, tick)
        self.rule: OpinionSpec = spec.opinions
        drawn = person[self.rule.opinion]
        #: each person's opinion, shape (rows, N)
        self.opinions = np.array(np.broadcast_to(drawn, (n, self.N)), dtype=float)
        self.in_to = np.zeros((n, self.N), dtype=bool)

    def drive(self, s: State) -> Any:
        """Nothing: the population hears its own opinions."""
        return None

    def advance(self, s: State, drive: Any, rng: Streams) -> None:
        """One tick of the opinions, then the positions by the cut-off."""
        rule = self.rule
        eps = s.param[rule.confidence]
        if rule.model == "hegselmann_krause":
            self.opinions = R.hegselmann_krause_sorted(self.opinions, eps)
        else:
            u = rng.random(len(self.opinions), 2, rule.encounters)
            deffuant_population(self.opinions, eps, s.param[rule.convergence], u)
        high = R.at_least(self.opinions, s.param[rule.cutoff][:, None])
        before = self.counts[:, self.spec.to_idx].copy()
        if rule.reversible:
            self.in_to = high
        else:
            self.in_to |= high
        moved = self.in_to.sum(axis=1)
        self.counts[:, self.spec.to_idx] = moved
        self.counts[:, self.spec.initial_idx] = self.N - moved
        if s.tracing:
            r = s.traced_row()
            if moved[r] != before[r]:
                target = self.spec.positions[self.spec.to_idx]
                x = self.opinions[r]
                detail = f"opinions mean {x.mean():.3f}, {R.clusters(x[None, :])[0]} cluster(s)"
                text = f"{self.spec.id}: {before[r]} -> {moved[r]} of {self.N} {target} ({detail})"
                s.say(np.ones(s.size, dtype=bool), text)


def deffuant_population(x: Array, eps: Array, mu: Array, u: Array) -> None:
    """A tick of mean-field Deffuant encounters in place, given the tick's uniforms.

    Parameters
    ----------
    x : array, shape (R, N)
        Opinions (changed in place).
    eps, mu : arrays, shape (R,)
        Confidence and convergence of each row.
    u : array, shape (R, 2, E)
        Encounter ``e`` of row ``r`` is between persons ``i = floor(u[r, 0, e] * N)``
        and ``j = floor(u[r, 1, e] * (N - 1))``, plus one when ``j >= i`` (so
        ``j != i``, every pair equally likely).
    """
    rows, n = x.shape
    if n < 2:
        return
    i = np.minimum((u[:, 0] * n).astype(np.int64), n - 1)
    j = np.minimum((u[:, 1] * (n - 1)).astype(np.int64), n - 2)
    j += j >= i
    base = (np.arange(rows) * n)[:, None]
    a, b = i + base, j + base
    assert x.flags.c_contiguous  # so that the flat view below writes into x
    flat = x.reshape(-1)
    for e in range(u.shape[2]):
        R.deffuant_encounter(flat, a[:, e], b[:, e], (eps, eps), (mu, mu))
