"""A block's state (:class:`BlockState`) and its public view (:class:`World`).

All state lives in arrays with one row per replicate, so a block can be
copied, cut or resampled between ticks (:meth:`BlockState.take`). The engine's
own processes work on :class:`BlockState`; everything outside the engine
(user processes, the nowcast's observations, the trace) goes through
:class:`World`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import simpy

from sim import ops as O
from sim.engine.opinion_populations import OpinionPopulation
from sim.engine.population_base import Population
from sim.engine.populations import (
    HazardDensePopulation,
    ReversibleThresholdPopulation,
    make_population,
)
from sim.engine.streams import Streams
from sim.engine.trace import Recording, Tracer
from sim.plan import Plan, param_op, ticks_of

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


class World:
    """The public view of one block: what processes, observations and the trace use.

    Every reader returns one value per replicate (row) of the block, as of the
    last tick that ran; every writer takes ``where``, a boolean mask of the
    rows to change (all rows when omitted). Names are the scenario's ids.
    A run may advance several blocks together as one batch (see
    :mod:`sim.runner`): the rows are then the batch's, and a process runs once
    for all of them, so a process that acts row by row (through masks, and
    :meth:`random` for chance) gives the same results whatever the batch.
    A process that wakes at time ``t`` acts between ticks, before the phases
    of a tick at ``t``; its switches and trace lines are stamped ``t``.

    Parameters
    ----------
    state : BlockState
    env : simpy.Environment
        The block's environment (its clock is in hours).
    process_rng : callable, optional
        Makes the block's stream for processes (see :meth:`random`), or the
        streams of a batch's blocks (:class:`~sim.engine.streams.Streams`).
    """

    def __init__(
        self,
        state: BlockState,
        env: simpy.Environment,
        process_rng: Callable[[], np.random.Generator | Streams] | None = None,
    ) -> None:
        self._s = state
        self._env = env
        self._make_rng = process_rng
        self._rng: Streams | None = None
        plan = state.plan
        self._signal_index = {name: i for i, name in enumerate(plan.signal_names)}
        self._flag_index = {name: i for i, name in enumerate(plan.flag_names)}
        self._outcome_index = {name: i for i, name in enumerate(plan.outcomes)}

    # ------------------------------------------------------------------ time
    @property
    def now(self) -> float:
        """Simulated time in hours."""
        return float(self._env.now)

    @property
    def tick(self) -> int:
        """Index of the last tick that began (0 before the first)."""
        return self._s.k

    @property
    def tick_hours(self) -> float:
        """Length of a tick in hours."""
        return self._s.plan.tick

    @property
    def replicates(self) -> int:
        """Rows of the block (of the batch)."""
        return self._s.size

    # ----------------------------------------------------------------- reads
    def positions(self, agent: str) -> list[str]:
        """The positions of an individual or population, in declared order."""
        return list(_known(self._s.plan.positions, agent, "individual or population"))

    def position(self, agent: str) -> Array:
        """Index (into :meth:`positions`) of an individual's position."""
        return self._s.pos[:, _known(self._s.plan.ind_index, agent, "individual")].copy()

    def is_in(self, agent: str, position: str) -> Array:
        """Whether an individual is in a position."""
        return self.position(agent) == self._position(agent, position)

    def fraction(self, who: str, position: str) -> Array:
        """Share of a population, a population's segment (``pop.segment``) or a group's members."""
        plan = self._s.plan
        if who in plan.pop_index:
            return self._s.fraction(plan.pop_index[who], self._position(who, position))
        pid, _, segment = who.partition(".")
        if segment and pid in plan.segments:
            names = plan.segments[pid]
            if segment not in names:
                raise ValueError(
                    f"unknown segment {segment!r} of {pid!r} (known: {', '.join(names)})"
                )
            i, j = names.index(segment), self._position(pid, position)
            return self._s.segment_fraction(plan.pop_index[pid], i, j).copy()
        members = _known(plan.groups, who, "population or group")
        names = [plan.individuals[i] for i in members]
        idx = np.array([plan.position(m, position) for m in names])
        return np.asarray(np.mean(self._s.pos[:, members] == idx, axis=1))

    def signal(self, name: str) -> Array:
        """A signal's value."""
        return self._s.signal(_known(self._signal_index, name, "signal")).copy()

    def flag(self, name: str) -> Array:
        """A flag, or whether an event has happened."""
        return self._s.flags[self._flag(name)].copy()

    def opinion(self, agent: str) -> Array:
        """An averaging or bounded-confidence individual's opinion."""
        return self._s.opinion[
            :, _known(self._s.plan.opinion_col, agent, "agent with an opinion")
        ].copy()

    def opinions(self, population: str) -> Array:
        """Each person's opinion in a bounded-confidence population, shape (replicates, N)."""
        plan = self._s.plan
        held = {p.id: i for i, p in enumerate(plan.populations) if p.mode == "bounded_confidence"}
        pop = self._s.populations[_known(held, population, "bounded-confidence population")]
        assert isinstance(pop, OpinionPopulation)
        return pop.opinions.copy()

    def param(self, agent: str, name: str, rule: int | str = 0) -> Array:
        """A rule parameter (e.g. ``resistance``, ``offset``) of an agent's rule ``rule``.

        ``rule`` is the rule's index or its id.
        """
        plan = self._s.plan
        index = plan.rule_index(agent, rule)
        if index < 0:
            _known({i: None for i in plan.rule_ids.get(agent, []) if i}, rule, "rule id")
        slot = _known(plan.param_slot, (agent, index, name), "rule parameter")
        return self._s.param[slot].copy()

    @property
    def active(self) -> Array:
        """Replicates with no outcome yet."""
        return self._s.active.copy()

    @property
    def outcome(self) -> Array:
        """Outcome index of each replicate (into the scenario's outcomes), -1 while none."""
        return self._s.outcome.copy()

    @property
    def end_time(self) -> Array:
        """When each replicate ended (NaN while running)."""
        return self._s.end_time.copy()

    def outcome_code(self, name: str) -> int:
        """Index of an outcome (as in :attr:`outcome`)."""
        return int(_known(self._outcome_index, name, "outcome"))

    # ---------------------------------------------------------------- writes
    def set_flag(self, name: str, value: bool = True, where: Array | None = None) -> None:
        """Set (or clear) a flag."""
        f = self._flag(name)
        self._s.flags[f] = np.where(self._mask(where), value, self._s.flags[f])
        self._s.invalidate()

    def force(self, agent: str, position: str, where: Array | None = None) -> None:
        """Put an individual in a position for good, as the ``force`` effect (traced ``forced``).

        Its rules no longer move it (see :func:`sim.ops.force`).
        """
        i = _known(self._s.plan.ind_index, agent, "individual")
        to = self._position(agent, position)
        with self._stamped():
            O.force(self._s, i, to, self._mask(where))
        self._s.invalidate()

    def offset(self, agent: str, add: float, where: Array | None = None) -> None:
        """Add to the offset of every rule of ``agent`` that has one (as the ``offset`` effect)."""
        self.change(agent, "offset", add=add, where=where)

    def change(
        self,
        agent: str,
        param: str,
        *,
        set: float | None = None,
        add: float | None = None,
        scale: float | None = None,
        rule: int | str | None = None,
        where: Array | None = None,
    ) -> None:
        """Change a rule parameter: exactly one of ``set``, ``add``, ``scale`` (as ``change``).

        ``rule`` (its index or id) picks one rule; by default every rule that has ``param``.
        """
        given = [(k, v) for k, v in (("set", set), ("add", add), ("scale", scale)) if v is not None]
        if len(given) != 1:
            raise ValueError(f"change needs exactly one of set, add, scale; got {given}")
        plan = self._s.plan
        if isinstance(rule, str) and plan.rule_index(agent, rule) < 0:
            _known({i: None for i in plan.rule_ids.get(agent, []) if i}, rule, "rule id")
        op = param_op(plan, agent, param, given[0][0], float(given[0][1]), rule)
        if not op.targets:
            raise ValueError(f"{agent!r} has no rule with a per-replicate {param!r}")
        with self._stamped():
            op.apply(self._s, self._mask(where))
        self._s.invalidate()

    def trace(self, text: str, where: Array | None = None) -> None:
        """A line in the trace (when the traced replicate is in ``where``)."""
        with self._stamped():
            self._s.say(self._mask(where), text)

    # --------------------------------------------------- randomness and state
    def random(self, *shape: int) -> Array:
        """Uniforms on [0, 1): one row per replicate (shape ``(replicates, *shape)``).

        They come from the block's stream for processes (not the model's), row
        after row, so a replicate's numbers depend on its block and seed only
        (in a batch, each block's rows come from that block's stream).
        """
        if self._rng is None:
            if self._make_rng is None:
                raise RuntimeError("this block has no stream for processes")
            made = self._make_rng()
            self._rng = made if isinstance(made, Streams) else Streams([made])
        return self._rng.random(self._s.size, *shape)

    def state(self, name: str, init: float | bool | int = 0.0) -> Array:
        """Per-replicate state of a process, kept (and resampled) with the block.

        The first call makes it (every row ``init``); each call returns the
        current array, to change in place. Read it again each time the process
        wakes: resampling replaces it.
        """
        if name not in self._s.user:
            self._s.user[name] = np.full(self._s.size, init)
        return self._s.user[name]

    # --------------------------------------------------------------- helpers
    @contextmanager
    def _stamped(self) -> Iterator[None]:
        """Stamp switches and trace lines with the process's time, not the last tick's."""
        t = self._s.t
        self._s.t = self.now
        try:
            yield
        finally:
            self._s.t = t

    def _mask(self, where: Array | None) -> Array:
        if where is None:
            return np.ones(self._s.size, dtype=bool)
        mask = np.asarray(where, dtype=bool)
        if mask.shape != (self._s.size,):
            raise ValueError(
                f"where needs one bool per replicate ({self._s.size}), got {mask.shape}"
            )
        return mask

    def _position(self, agent: str, position: str) -> int:
        names = self.positions(agent)
        if position not in names:
            raise ValueError(f"{agent!r} has no position {position!r} (known: {', '.join(names)})")
        return names.index(position)

    def _flag(self, name: str) -> int:
        return int(_known(self._flag_index, name, "flag or event"))


def _known(table: dict[Any, Any], key: Any, what: str) -> Any:
    if key not in table:
        known = ", ".join(str(k) for k in table) or "none"
        raise ValueError(f"unknown {what} {key!r} (known: {known})")
    return table[key]
