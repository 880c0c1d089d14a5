"""A block's state: every array of a batch of replicates, one row per replicate.

A block can be copied, cut or resampled between ticks (:meth:`BlockState.take`).
The engine's own processes work on :class:`BlockState`; everything outside the
engine goes through :class:`sim.engine.world.World`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.engine.opinion_populations import OpinionPopulation
from sim.engine.population_base import Population
from sim.engine.populations import (
    HazardDensePopulation,
    ReversibleThresholdPopulation,
    make_population,
)
from sim.engine.streams import Streams
from sim.engine.trace import Recording, Tracer
from sim.plan import Plan, ticks_of

Array = np.ndarray[Any, Any]
Value = Array | float


class BlockState:
    """State of a block of replicates, set up from the plan's draws.

    Parameters
    ----------
    plan : Plan
        The compiled scenario.
    rng : numpy.random.Generator or Streams
        The block's stream (every random number of the model comes from it),
        or the streams of a batch of blocks, each drawing into its own rows.
    size : int
        Number of replicates (rows).
    record : bool
        Keep per-tick aggregates of every replicate.
    tracer : Tracer, optional
        Tell the story of one replicate.
    """

    #: attributes with one row (or one row per list or dict item) per replicate
    ROWS = (
        "pos",
        "pinned",
        "param",
        "curve",
        "due",
        "opinion0",
        "opinion",
        "flags",
        "pending",
        "fired_tick",
        "passed_tick",
        "active",
        "outcome",
        "end_time",
        "switch_time",
        "final_pos",
        "half_time",
        "final_fraction",
        "user",
    )

    def __init__(
        self,
        plan: Plan,
        rng: np.random.Generator | Streams,
        size: int,
        record: bool = False,
        tracer: Tracer | None = None,
    ) -> None:
        self.plan, self.size, self.tracer = plan, size, tracer
        self.streams = rng if isinstance(rng, Streams) else Streams([rng])
        #: leading rows whose results are wanted; the clock stops once they have ended
        self.wanted = size
        #: leading rows whose per-person population state is computed (compute_only)
        self.live = size
        self.tracing = tracer is not None
        self.k, self.t, n = 0, 0.0, size
        drawn: dict[str, list[Any]] = {kind: [None] * m for kind, m in plan.n_slots.items()}
        for d in plan.draws:  # the order of each block's first draws
            drawn[d.kind][d.slot] = self.streams.sample(d, n, plan.tick)
        self.param: list[Array] = drawn["param"]
        self.curve: list[Value] = drawn["curve"]
        self.due: list[Array] = drawn["tick"]
        self.populations: list[Population] = [
            OpinionPopulation(spec, n, plan.tick, drawn["person"])
            if spec.mode == "bounded_confidence"
            else make_population(spec, n, plan.tick, drawn["person"], self.streams)
            for spec in plan.populations
        ]
        for slot, at in plan.scheduled_due:
            self.due[slot] = ticks_of(self.param[at], plan.tick)
        for slot, sources in plan.earliest_due:
            self.due[slot] = np.min([self.due[s] for s in sources], axis=0)
        n_ind = len(plan.individuals)
        self.initial_pos = np.array(plan.initial_pos, dtype=np.int16)
        self.pos = np.zeros((n, n_ind), dtype=np.int16)
        self.pos[:] = self.initial_pos
        #: individuals put in a position by a force, whose rules no longer move them
        self.pinned = np.zeros((n, n_ind), dtype=bool)
        self.opinion0 = np.zeros((n, len(plan.opinion_slots)))
        for col, slot in enumerate(plan.opinion_slots):
            self.opinion0[:, col] = self.param[slot]
        self.opinion = self.opinion0.copy()
        self.flags = [np.full(n, v) for v in plan.flag_initial]
        self.pending = [np.zeros(n, dtype=bool) for _ in plan.events]
        self.fired_tick = [np.full(n, -1, dtype=np.int64) for _ in plan.events]
        self.passed_tick = [np.full(n, -1, dtype=np.int64) for _ in plan.decisions]
        self.user: dict[str, Array] = {}
        # -- results
        self.active = np.ones(n, dtype=bool)
        self.outcome = np.full(n, -1, dtype=np.int16)
        self.end_time = np.full(n, np.nan)
        self.switch_time = np.full((n, n_ind), np.nan)
        self.final_pos = np.zeros((n, n_ind), dtype=np.int16)
        #: one column per population and per segment (``plan.population_columns``)
        self.half_time = np.full((n, len(plan.population_columns)), np.nan)
        self.final_fraction = np.zeros((n, len(plan.population_columns)))
        self.recording = Recording(list(plan.record_columns)) if record else None
        self._signals: dict[int, Array] = {}
        self._curves: dict[int, Value] = {}

    @property
    def rng(self) -> np.random.Generator:
        """The block's stream (a block on its own; a batch has one per block, see ``streams``)."""
        single = self.streams.single
        if single is None:
            raise RuntimeError("a batch of blocks has one stream per block: use .streams")
        return single

    def take(self, index: Array) -> None:
        """Keep replicates ``index`` (in that order, repeats allowed), between ticks.

        This is how a block is resampled (rows copied), cut (rows dropped) or
        reordered mid-run; the random stream goes on unchanged. Only a block on
        its own stream can be resampled (a batch's rows belong to their blocks).
        """
        if self.live < self.size:
            raise RuntimeError("a block restricted by compute_only cannot be resampled")
        if self.streams.single is None:
            raise RuntimeError("a batch of several blocks cannot be resampled")
        index = np.asarray(index, dtype=np.int64)
        for name in self.ROWS:
            setattr(self, name, _take(getattr(self, name), index))
        for p in self.populations:
            p.take(index)
        if self.recording is not None:
            self.recording.take(index)
        self.size = self.wanted = len(index)
        self.invalidate()
        self._curves.clear()

    def compute_only(self, rows: int) -> bool:
        """Compute the first ``rows`` replicates only, with the stream of the whole block.

        Every random number is still drawn (or skipped over) exactly as for the
        whole block, so rows ``< rows`` come out bit for bit as in a whole
        block; the others are left unfaithful. That is only safe when no later
        draw consumes the stream by value of those rows (binomial and
        hypergeometric draws take a value-dependent number of outputs), so it
        is applied only when every population is per-person (dense), fixed or
        reversible-threshold, and the stream can skip outputs (PCG64: one
        output per double). The clock stops once the wanted rows have ended
        whether or not it applies. Call before the first tick.

        Returns
        -------
        bool
            Whether the per-person restriction applies.
        """
        self.wanted = max(1, min(rows, self.size))
        if self.streams.single is None:
            return False
        bitgen = self.rng.bit_generator
        kinds = {type(p) for p in self.populations}
        applies = (
            self.wanted < self.size
            and self.k == 0
            and self.tracer is None
            and isinstance(bitgen, np.random.PCG64 | np.random.PCG64DXSM)
            and not bitgen.state.get("has_uint32", 0)
            and kinds <= {Population, ReversibleThresholdPopulation, HazardDensePopulation}
            and HazardDensePopulation in kinds
        )
        if applies:
            self.live = self.wanted
            for p in self.populations:
                if isinstance(p, HazardDensePopulation):
                    p.keep_first(self.live)
        return applies

    # ------------------------------------------------------------ observables
    def begin_tick(self, k: int) -> None:
        """Start tick ``k`` (time ``k * tick``)."""
        self.k, self.t = k, k * self.plan.tick
        self._signals.clear()
        self._curves.clear()

    def invalidate(self) -> None:
        """Forget cached signals (after the state they are computed from changed)."""
        self._signals.clear()

    def signal(self, index: int) -> Array:
        """Value of a signal in every replicate (cached until :meth:`invalidate`)."""
        cached = self._signals.get(index)
        if cached is None:
            cached = self._signals[index] = self.plan.signals[index](self)
        return cached

    def curve_value(self, index: int) -> Value:
        """A source's curve at the current tick (a scalar when its parameters are constants)."""
        cached = self._curves.get(index)
        if cached is None:
            op = self.plan.curves[index]
            cached = self._curves[index] = op.fn([self.curve[s] for s in op.slots], self.t)
        return cached

    def fraction(self, population: int, position: int) -> Array:
        """Share of a population in a position."""
        return self.populations[population].fraction(position)

    def segment_fraction(self, population: int, segment: int, position: int) -> Array:
        """Share of a segment of a population in a position."""
        return self.populations[population].segment(segment).fraction(position)

    def column(self, j: int) -> Population:
        """The population (or segment) of output column ``j`` (``plan.population_columns``)."""
        p, segment = self.plan.column_of[j]
        pop = self.populations[p]
        return pop if segment < 0 else pop.segment(segment)

    def note_half_times(self) -> None:
        """Note the first tick at which half of each population (and segment) has switched."""
        for j in range(len(self.plan.column_of)):
            moved = self.column(j).switched()
            first = self.active & np.isnan(self.half_time[:, j]) & (moved >= 0.5)
            self.half_time[first, j] = self.t

    # ---------------------------------------------------------------- changes
    def switch(self, i: int, mask: Array, to: int, why: str) -> None:
        """Put individual ``i`` in position ``to`` where ``mask`` (and note first switches)."""
        if self.tracer is not None and mask[self.tracer.row]:
            name = self.plan.individuals[i]
            names = self.plan.positions[name]
            old = names[self.pos[self.tracer.row, i]]
            self.say(mask, f"{name}: {old} -> {names[to]} ({why})")
        self.pos[mask, i] = to
        first = mask & self.active & np.isnan(self.switch_time[:, i]) & (to != self.initial_pos[i])
        self.switch_time[first, i] = self.t

    def end(self, rows: Array, outcome: int) -> None:
        """End replicates ``rows`` with ``outcome`` now."""
        self.outcome[rows] = outcome
        self.end_time[rows] = self.t
        self._snapshot(rows)
        if self.recording is not None:
            self.record()  # the last tick of these replicates, before they go quiet
        self.active &= ~rows

    def finish(self) -> None:
        """Close replicates that reached the horizon without an outcome."""
        rows = self.active.copy()
        self._snapshot(rows)
        if rows.any():
            self.say(rows, "horizon reached with no outcome (unresolved)")

    def _snapshot(self, rows: Array) -> None:
        """Keep the final stances and shares of replicates that end now."""
        self.final_pos[rows] = self.pos[rows]
        for j in range(len(self.plan.column_of)):
            self.final_fraction[rows, j] = self.column(j).switched()[rows]

    # ---------------------------------------------------------- trace, record
    def record(self) -> None:
        """Add the current tick to the recording."""
        assert self.recording is not None
        cols = [
            self.column(c).fraction(j)
            for c in range(len(self.plan.column_of))
            for j in range(len(self.plan.populations[self.plan.column_of[c][0]].positions))
        ]
        cols += [self.pos[:, i].astype(float) for i in range(len(self.plan.individuals))]
        cols += [self.signal(s) for s in range(len(self.plan.signals))]
        values = np.stack(cols, axis=1) if cols else np.zeros((self.size, 0))
        self.recording.add(self.t, values, self.active)

    def traced_row(self) -> int:
        """Row of the traced replicate (0 when none is traced)."""
        return self.tracer.row if self.tracer is not None else 0

    def say(self, mask: Array, text: str) -> None:
        """A trace line, when the traced replicate is in ``mask`` and still running."""
        if self.tracer is not None and mask[self.tracer.row] and self.active[self.tracer.row]:
            self.tracer.say(self.t, text)


def _take(value: Any, index: Array) -> Any:
    if isinstance(value, np.ndarray):
        return value[index]
    if isinstance(value, dict):
        return {k: _take(v, index) for k, v in value.items()}
    if isinstance(value, list):
        return [_take(v, index) for v in value]
    return value
