"""A population advanced person by person: several rules, per-person parameters of any rule.

Each person holds a position (one row per replicate, one column per person).
Each tick every rule reads its support or pressure from the state at the
start of the populations' phase; then the rules are tried in order for each
person, as an individual's are: a person moved by one rule (forward, or back
by a reversible one) is not tried by the later ones that tick. A rule that
can switch by chance (hazard, logistic, a threshold rule with a spontaneous
rate) draws one uniform per person every tick, in rule order, from each
block's stream (:meth:`~sim.engine.streams.Streams.random`), whatever the
state: so a replicate's numbers never depend on the batch or on its
neighbours.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim import rules as R
from sim.engine.networks import Wired
from sim.engine.population_base import Population
from sim.engine.streams import Streams
from sim.ops import PersonTarget, State, keep_in_range
from sim.plan import PersonRule, PopulationSpec

Array = np.ndarray[Any, Any]


class PersonsPopulation(Population):
    """Mode ``persons``: positions per person, rules tried in order, parameters per person."""

    ROWS = ("counts", "pos")

    def __init__(self, spec: PopulationSpec, n: int, tick: float, person: list[Any]) -> None:
        super().__init__(spec, n, tick)
        self.pos = np.full((n, self.N), spec.initial_idx, dtype=np.int16)
        #: (rule index, parameter) -> per-person values, shape (rows, N)
        self.values: dict[tuple[int, str], Array] = {}
        for r in spec.rules:
            for name, slot, per_person in r.params:
                if per_person:
                    self.values[(r.index, name)] = person[slot]

    def take(self, index: Array) -> None:  # noqa: D102
        super().take(index)
        self.values = {k: v[index] for k, v in self.values.items()}

    def value(self, s: State, r: PersonRule, name: str) -> Array:
        """A rule's parameter per person: its own values, or the replicate's in a column."""
        own = self.values.get((r.index, name))
        if own is not None:
            return own
        slot, _ = r.slot(name)
        return s.param[slot][:, None]

    def drive(self, s: State) -> list[Array]:
        """Each rule's support or pressure (as its segment hears it), plus its offset."""
        out = []
        for r in self.spec.rules:
            base = r.heard(s) if r.heard is not None else s.signal(r.drive)
            out.append(base + s.param[r.offset])
        return out

    def advance(self, s: State, drive: Any, rng: Streams) -> None:  # noqa: D102
        n = len(self.pos)
        new = self.pos.copy()
        decided = np.zeros(self.pos.shape, dtype=bool)
        for r, d in zip(self.spec.rules, drive, strict=True):
            u = rng.random(n, self.N) if r.draws else None
            # a drive per replicate is everyone's; on a graph it is per person already
            fwd, back = self._moves(s, r, d if d.ndim == 2 else d[:, None], u, decided)
            new[fwd] = r.to_idx
            decided |= fwd
            if back is not None:
                new[back] = r.from_idx
                decided |= back
        before = self.counts
        self.pos = new
        self.counts = np.stack(
            [np.count_nonzero(new == j, axis=1) for j in range(len(self.spec.positions))], axis=1
        )
        if s.tracing:
            self._trace(s, before)

    def _moves(
        self, s: State, r: PersonRule, drive: Array, u: Array | None, decided: Array
    ) -> tuple[Array, Array | None]:
        """Who rule ``r`` moves forward, and back (None for an irreversible rule)."""
        in_from = (self.pos == r.from_idx) & ~decided
        in_to = (self.pos == r.to_idx) & ~decided if r.reversible else None
        if r.kind == "threshold":
            reached = R.threshold_reached(drive, self.value(s, r, "threshold"))
            fwd = in_from & reached
            if u is not None:
                p = R.per_tick(self.value(s, r, "spontaneous"), self.tick)
                fwd |= in_from & ~reached & (u < p)
            return fwd, (None if in_to is None else in_to & ~reached)
        assert u is not None
        res, rate = self.value(s, r, "resistance"), self.value(s, r, "rate")
        if r.kind == "hazard":
            p_fwd = R.hazard_probability(drive, res, rate)
            p_back = R.hazard_back_probability(drive, res, rate) if r.reversible else None
        else:
            slope = self.value(s, r, "slope")
            p_fwd = R.logistic_probability(drive, res, rate, slope)
            p_back = R.logistic_back_probability(drive, res, rate, slope) if r.reversible else None
        fwd = in_from & (u < R.per_tick(p_fwd, self.tick))
        if in_to is None or p_back is None:
            return fwd, None
        return fwd, in_to & (u < R.per_tick(p_back, self.tick))

    def _trace(self, s: State, before: Array) -> None:
        r = s.traced_row()
        if np.array_equal(before[r], self.counts[r]):
            return
        names = self.spec.positions
        moves = ", ".join(
            f"{names[j]} {before[r, j]} -> {self.counts[r, j]}"
            for j in range(len(names))
            if before[r, j] != self.counts[r, j]
        )
        s.say(np.ones(s.size, dtype=bool), f"{self.spec.id}: {moves} of {self.N}")

    def change_values(  # noqa: D102
        self, target: PersonTarget, how: str, amount: float, mask: Array
    ) -> None:
        key = (target.rule, target.param)
        old = self.values[key]
        new = R.changed_values(old, how, amount)
        if target.bounds is not None:
            new = keep_in_range(new, target.bounds, (self.spec.id, str(target.rule), target.param))
        # a new array: the drawn one may be a read-only view of a given list
        self.values[key] = np.where(mask[:, None], new, old)


class NetworkPersonsPopulation(Wired, PersonsPopulation):
    """Several rules on a graph: each rule reads its population's shares among the neighbours.

    As :class:`~sim.engine.networks.Neighbours` does for one rule, a rule's
    signal ``sum_P c_P * fraction(P) + rest`` becomes, for each person, ``rest
    + sum_P c_P * share of their neighbours in P`` (``c_P`` from
    :attr:`NetworkSpec.rule_coefficients`), for any position ``P``. The rules
    are then tried in order and draw as :class:`PersonsPopulation`'s do, so on
    a complete graph where everyone hears themselves both give the same
    results.
    """

    def __init__(self, spec: PopulationSpec, n: int, tick: float, person: list[Any]) -> None:
        super().__init__(spec, n, tick, person)
        self.wire(person)

    def take(self, index: Array) -> None:  # noqa: D102
        super().take(index)
        self.take_graphs(index)

    def drive(self, s: State) -> list[Array]:
        """Each rule's drive per person (replicates x persons), read before anyone moves."""
        shares: dict[int, Array] = {}
        out = []
        for r, own in zip(self.spec.rules, self.net.rule_coefficients, strict=True):
            base = s.signal(r.drive) + s.param[r.offset]
            for position, c in own:
                base = base - c * (self.counts[:, position] / self.N)
            x = base[:, None]
            for position, c in own:
                if position not in shares:
                    shares[position] = self._share(position)
                x = x + c * shares[position]
            out.append(x)
        return out

    def _share(self, position: int) -> Array:
        """Each person's share of neighbours in ``position`` (replicates x persons)."""
        marked = np.ascontiguousarray((self.pos == position).T, dtype=np.float32)
        # a person without neighbours counts 0 of them, so dividing by 1 gives a share of 0
        return (self.neighbours(marked) / self.safe_degree).T
