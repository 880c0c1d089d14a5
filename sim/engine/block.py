"""A block: its state, its SimPy environment and the processes that run on it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import simpy

from sim.engine.processes import END, PhaseEvent, TickEnvironment, priority, start
from sim.engine.trace import Recording, Tracer
from sim.engine.world import BlockState, World
from sim.plan import Plan

Array = np.ndarray[Any, Any]
#: A user's process: ``fn(env, world)`` returns a generator (it is run on every block).
ProcessFn = Callable[[simpy.Environment, World], Any]


@dataclass(frozen=True)
class BlockOutput:
    """What a finished block leaves: per-replicate arrays (one row per replicate)."""

    outcome: Array
    end_time: Array
    switch_time: Array
    final_pos: Array
    half_time: Array
    final_fraction: Array
    recording: Recording | None


class Block:
    """One block of replicates on its own SimPy environment.

    Parameters
    ----------
    plan : Plan
        The compiled scenario.
    rng : numpy.random.Generator
        The block's stream (the model's every random number).
    size : int
        Replicates in the block.
    record : bool
        Keep per-tick aggregates.
    tracer : Tracer, optional
        Tell one replicate's story.
    processes : iterable of callables
        Users' processes ``fn(env, world)``, started after the scenario's own.
    process_rng : callable, optional
        Makes the block's stream for processes (:meth:`World.random`); never
        the model's stream, so processes leave the model's draws alone.
    """

    def __init__(
        self,
        plan: Plan,
        rng: np.random.Generator,
        size: int,
        *,
        record: bool = False,
        tracer: Tracer | None = None,
        processes: Iterable[ProcessFn] = (),
        process_rng: Callable[[], np.random.Generator] | None = None,
    ) -> None:
        self.plan = plan
        self.env = TickEnvironment()
        self.state = BlockState(plan, rng, size, record=record, tracer=tracer)
        self.world = World(self.state, self.env, process_rng)
        self.done = self.env.event()
        self._generators = start(self.env, self.state, self.done)
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

    def run(self) -> BlockOutput:
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

    def take(self, index: Array) -> None:
        """Keep replicates ``index`` between ticks (see :meth:`BlockState.take`)."""
        self.state.take(index)

    def output(self) -> BlockOutput:
        """The per-replicate results so far."""
        s = self.state
        return BlockOutput(
            s.outcome,
            s.end_time,
            s.switch_time,
            s.final_pos,
            s.half_time,
            s.final_fraction,
            s.recording,
        )


def simulate_block(
    plan: Plan,
    rng: np.random.Generator,
    size: int,
    record: bool = False,
    tracer: Tracer | None = None,
    processes: Iterable[ProcessFn] = (),
    process_rng: Callable[[], np.random.Generator] | None = None,
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
