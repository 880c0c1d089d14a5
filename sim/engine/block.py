"""A block: its state, its SimPy environment and the processes that run on it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import simpy

from sim.engine.processes import END, Bell, PhaseEvent, TickEnvironment, priority, start
from sim.engine.state import BlockState
from sim.engine.streams import Streams
from sim.engine.trace import Recording, Tracer
from sim.engine.world import World
from sim.plan import Plan

Array = np.ndarray[Any, Any]
#: A user's process: ``fn(env, world)`` returns a generator (it is run on every block).
ProcessFn = Callable[[simpy.Environment, World], Any]


@dataclass(frozen=True, eq=False)
class BlockResult:
    """What a finished block (or batch of consecutive blocks) leaves, one row per replicate.

    Row ``r`` is replicate ``first + r``. ``index`` is the (first) block's
    index, by which a run puts its parts in order. ``trajectories`` (when
    recorded) holds one entry per replicate and tick it was running, block
    after block, and within a block tick after tick, row after row.
    """

    index: int
    outcome: Array
    end_time: Array
    switch_time: Array
    final_pos: Array
    half_time: Array
    final_fraction: Array
    trajectories: dict[str, Array] | None = None
    first: int = 0

    def __len__(self) -> int:
        return len(self.outcome)


class Block:
    """One block of replicates on its own SimPy environment.

    Parameters
    ----------
    plan : Plan
        The compiled scenario.
    rng : numpy.random.Generator or Streams
        The block's stream (the model's every random number), or the streams
        of a batch of blocks advanced together (each block's rows drawn from
        its own stream, :mod:`sim.engine.streams`).
    size : int
        Replicates in the block (in the batch).
    record : bool
        Keep per-tick aggregates.
    tracer : Tracer, optional
        Tell one replicate's story.
    processes : iterable of callables
        Users' processes ``fn(env, world)``, started after the scenario's own.
    process_rng : callable, optional
        Makes the block's stream for processes (:meth:`World.random`), or a
        batch's :class:`~sim.engine.streams.Streams`; never the model's
        stream, so processes leave the model's draws alone.
    retimable : bool
        Times still to come may be drawn anew between ticks (:meth:`retimed`).
    """

    def __init__(
        self,
        plan: Plan,
        rng: np.random.Generator | Streams,
        size: int,
        *,
        record: bool = False,
        tracer: Tracer | None = None,
        processes: Iterable[ProcessFn] = (),
        process_rng: Callable[[], np.random.Generator | Streams] | None = None,
        retimable: bool = False,
    ) -> None:
        self.plan = plan
        self.env = TickEnvironment()
        self.state = BlockState(plan, rng, size, record=record, tracer=tracer)
        self.world = World(self.state, self.env, process_rng)
        self.done = self.env.event()
        self._retimed = Bell(self.env) if retimable else None
        self._generators = start(self.env, self.state, self.done, self._retimed)
        for fn in processes:
            gen = fn(self.env, self.world)
            if not inspect.isgenerator(gen):
                name = getattr(fn, "__qualname__", repr(fn))
                raise TypeError(
                    f"process {name} must be a generator function (def f(env, world): ... yield)"
                )
            proc = cast(Generator[simpy.Event, Any, None], gen)
            self._generators.append(proc)
            self.env.process(proc)

    @property
    def k(self) -> int:
        """The last tick that began (0 before the first)."""
        return self.state.k

    def run(self) -> BlockResult:
        """Run to the horizon, or until every replicate has ended."""
        self.env.run(until=self.done)
        self.close()
        return self.output()

    def close(self) -> None:
        """Stop the processes (a finished block's arrays are then freed at once).

        The environment's queue and the suspended generators refer to each
        other; closing the generators lets go of the block's state without
        waiting for the garbage collector.
        """
        for gen in self._generators:
            gen.close()
        self._generators.clear()

    def step(self) -> None:
        """Run the next tick to its end (and whatever happens before it)."""
        k = self.state.k + 1
        if k > self.plan.n_ticks:
            raise ValueError(f"the horizon ({self.plan.n_ticks} ticks) is reached")
        self.env.run(until=PhaseEvent(self.env, k * self.plan.tick, priority(END + 1)))

    def retimed(self) -> None:
        """Say that drawn times (``due``) changed between ticks: their processes look again.

        Only a block made ``retimable`` can be told; the processes wake before
        the next tick begins.
        """
        if self._retimed is None:
            raise RuntimeError("this block was not made retimable")
        self._retimed.ring(self.state.k)

    def take(self, index: Array) -> None:
        """Keep replicates ``index`` between ticks (see :meth:`BlockState.take`)."""
        self.state.take(index)

    def output(self, index: int = 0, first: int = 0, block_rows: int | None = None) -> BlockResult:
        """The per-replicate results so far, of the wanted rows (:meth:`BlockState.compute_only`).

        Parameters
        ----------
        index : int
            Index of the (first) block, kept in the result.
        first : int
            Replicate number of row 0.
        block_rows : int, optional
            Rows per seed block in a batch: trajectories are laid out block
            after block, as the blocks run alone would give them.
        """
        s = self.state
        rows = s.wanted
        return BlockResult(
            index=index,
            outcome=s.outcome[:rows],
            end_time=s.end_time[:rows],
            switch_time=s.switch_time[:rows],
            final_pos=s.final_pos[:rows],
            half_time=s.half_time[:rows],
            final_fraction=s.final_fraction[:rows],
            trajectories=_trajectories(s.recording, rows, first, block_rows or rows),
            first=first,
        )


def _trajectories(
    rec: Recording | None, rows: int, first: int, block_rows: int
) -> dict[str, Array] | None:
    """One entry per replicate and tick it ran: block by block, then tick by tick, row by row."""
    if rec is None or not rec.ticks:
        return None
    values = np.stack(rec.values)[:, :rows]  # (T, R, C)
    alive = np.stack(rec.alive)[:, :rows]  # (T, R)
    ticks = np.asarray(rec.ticks)
    parts: list[dict[str, Array]] = []
    for lo in range(0, rows, block_rows):
        t_idx, r_idx = np.nonzero(alive[:, lo : min(rows, lo + block_rows)])
        r_idx += lo
        part = {"replicate": first + r_idx, "t": ticks[t_idx]}
        for c, name in enumerate(rec.columns):
            part[name] = values[t_idx, r_idx, c]
        parts.append(part)
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def simulate_block(
    plan: Plan,
    rng: np.random.Generator | Streams,
    size: int,
    record: bool = False,
    tracer: Tracer | None = None,
    processes: Iterable[ProcessFn] = (),
    process_rng: Callable[[], np.random.Generator | Streams] | None = None,
    rows: int | None = None,
) -> Block:
    """Run one block of replicates to its end; returns the finished block.

    With ``rows``, only the first ``rows`` replicates are wanted: the block's
    random numbers are drawn as for all ``size``, but where that provably keeps
    the stream identical only those rows are computed
    (:meth:`BlockState.compute_only`), and the clock stops once they have ended.
    """
    block = Block(
        plan, rng, size, record=record, tracer=tracer, processes=processes, process_rng=process_rng
    )
    if rows is not None:
        block.state.compute_only(rows)
    block.run()
    return block
