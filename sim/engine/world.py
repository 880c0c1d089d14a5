"""The public view of a block's state (:class:`World`; the state: :mod:`sim.engine.state`).

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
from sim.engine.state import BlockState
from sim.engine.streams import Streams
from sim.plan import param_op

Array = np.ndarray[Any, Any]
Value = Array | float


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
