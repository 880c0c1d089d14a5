"""Replication: blocks of replicates, their seeds, and running them in processes.

Randomness (SPEC 7 style): the run's ``seed`` feeds one
``SeedSequence(seed, spawn_key=(b,))`` (:func:`sim.seeds.block_rng`) per block
``b`` of :data:`BLOCK_SIZE` replicates, and every block draws its random
numbers as a whole block does (a block of which fewer rows are wanted computes
only those where that keeps the stream identical, see
:meth:`sim.engine.BlockState.compute_only`). Replicate ``K`` is row
``K % BLOCK_SIZE`` of block ``K // BLOCK_SIZE`` whatever the number of
replicates asked for, the number of processes or the order in which blocks
finish. Users' processes draw from a stream of their own per block,
``SeedSequence(seed, spawn_key=(b, 1))`` (:func:`sim.seeds.process_rng`), so
that they never change the model's draws. Every stream is derived in
:mod:`sim.seeds`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from sim.engine import BlockOutput, ProcessFn, Tracer, World, simulate_block
from sim.executors import make_executor
from sim.plan import Plan, compile_plan
from sim.results import RunResult
from sim.scenario import Scenario, load_scenario
from sim.seeds import block_rng, fresh_seed, process_rng

#: Replicates per random stream and per engine batch. Part of the
#: reproducibility contract: changing it changes every result for a seed.
BLOCK_SIZE = 512

Array = np.ndarray[Any, Any]


@dataclass
class BlockResult:
    """What one block leaves: per-replicate arrays (rows of the block)."""

    index: int
    outcome: Array
    end_time: Array
    switch_time: Array
    final_pos: Array
    half_time: Array
    final_fraction: Array
    trajectories: dict[str, Array] | None = None

    @classmethod
    def from_output(cls, index: int, out: BlockOutput, rows: int) -> BlockResult:
        """Keep the first ``rows`` replicates of a finished block."""
        traj = None
        rec = out.recording
        if rec is not None and rec.ticks:
            values = np.stack(rec.values)[:, :rows]  # (T, R, C)
            alive = np.stack(rec.alive)[:, :rows]  # (T, R)
            t_idx, r_idx = np.nonzero(alive)
            traj = {
                "replicate": index * BLOCK_SIZE + r_idx,
                "t": np.asarray(rec.ticks)[t_idx],
            }
            for c, name in enumerate(rec.columns):
                traj[name] = values[t_idx, r_idx, c]
        return cls(
            index=index,
            outcome=out.outcome[:rows],
            end_time=out.end_time[:rows],
            switch_time=out.switch_time[:rows],
            final_pos=out.final_pos[:rows],
            half_time=out.half_time[:rows],
            final_fraction=out.final_fraction[:rows],
            trajectories=traj,
        )


_PLANS: dict[str, Plan] = {}


def _plan(scenario: Scenario) -> Plan:
    key = scenario.sha256()
    if key not in _PLANS:
        _PLANS.clear()
        _PLANS[key] = compile_plan(scenario)
    return _PLANS[key]


def run_block(
    scenario: Scenario,
    seed: int,
    block: int,
    rows: int,
    record: bool,
    processes: Sequence[ProcessFn] = (),
) -> BlockResult:
    """Simulate block ``block`` (its stream as a whole) and keep its first ``rows`` replicates."""
    plan = _plan(scenario)
    done = simulate_block(
        plan,
        block_rng(seed, block),
        BLOCK_SIZE,
        record=record,
        processes=processes,
        process_rng=partial(process_rng, seed, block),
        rows=rows,
    )
    return BlockResult.from_output(block, done.output(), rows)


def _run_block_args(
    args: tuple[Scenario, int, int, int, bool, Sequence[ProcessFn]],
) -> BlockResult:
    return run_block(*args)


def trace_replicate(
    scenario: Scenario, seed: int, replicate: int, processes: Sequence[ProcessFn] = ()
) -> tuple[list[str], World]:
    """Story of replicate ``replicate`` of a run with ``seed`` (and ``processes``)."""
    from sim.clocktime import format_time

    if replicate < 0:
        raise ValueError(f"replicate must be >= 0, got {replicate}")
    block, row = divmod(replicate, BLOCK_SIZE)
    tracer = Tracer(row, lambda t: format_time(scenario.clock, t))
    done = simulate_block(
        compile_plan(scenario),
        block_rng(seed, block),
        BLOCK_SIZE,
        tracer=tracer,
        processes=processes,
        process_rng=partial(process_rng, seed, block),
    )
    return tracer.lines, done.world


def _blocks(replicates: int) -> Iterator[tuple[int, int]]:
    for b in range(math.ceil(replicates / BLOCK_SIZE)):
        yield b, min(BLOCK_SIZE, replicates - b * BLOCK_SIZE)


def run(
    scenario: Scenario | str | os.PathLike[str],
    replicates: int = 1000,
    seed: int | None = None,
    jobs: int = 1,
    record: bool = False,
    progress: Callable[[int], None] | None = None,
    processes: Sequence[ProcessFn] = (),
) -> RunResult:
    """Run a scenario ``replicates`` times.

    Parameters
    ----------
    scenario : Scenario, str or path
        From :func:`sim.load_scenario`, or the path of a scenario file.
    replicates : int
        Number of replicates (>= 1).
    seed : int, optional
        Seed of the run; fresh entropy when omitted (recorded in the result).
    jobs : int
        Worker processes; ``1`` runs in this process. Results do not depend on it.
    record : bool
        Keep per-tick trajectories of every replicate.
    progress : callable, optional
        Called with the number of replicates just finished.
    processes : sequence of callables
        Users' processes ``fn(env, world)``, generator functions run on every
        block (see :class:`sim.engine.World`); module-level functions when
        ``jobs > 1``. Their source files' sha256 are kept in the result.

    Returns
    -------
    RunResult
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(os.fspath(scenario))
    if replicates < 1:
        raise ValueError(f"replicates must be >= 1, got {replicates}")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if seed is None:
        seed = fresh_seed()
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    procs = tuple(processes)
    tasks = [(scenario, seed, b, rows, record, procs) for b, rows in _blocks(replicates)]
    results: list[BlockResult] = []
    with make_executor(min(jobs, len(tasks))) as executor:
        for res in executor.map_unordered(_run_block_args, tasks):
            results.append(res)
            if progress:
                progress(len(res.outcome))
    results.sort(key=lambda r: r.index)
    provenance = None
    if procs:
        from sim.userprocesses import provenance as where_from

        provenance = where_from(procs)
    return combine(scenario, seed, replicates, results, provenance)


def combine(
    scenario: Scenario,
    seed: int,
    replicates: int,
    parts: list[BlockResult],
    processes: list[dict[str, Any]] | None = None,
) -> RunResult:
    """Join block results (in block order) into one run result."""
    plan = _plan(scenario)
    traj = None
    if parts and parts[0].trajectories is not None:
        keys = list(parts[0].trajectories)
        traj = {
            k: np.concatenate([p.trajectories[k] for p in parts if p.trajectories]) for k in keys
        }
    return RunResult(
        scenario=scenario,
        seed=seed,
        replicates=replicates,
        outcome_names=plan.outcomes,
        individuals=plan.individuals,
        populations=[p.id for p in plan.populations],
        outcome=np.concatenate([p.outcome for p in parts]).astype(np.int64),
        time=np.concatenate([p.end_time for p in parts]),
        switch_time=np.concatenate([p.switch_time for p in parts]),
        final_pos=np.concatenate([p.final_pos for p in parts]),
        half_time=np.concatenate([p.half_time for p in parts]),
        final_fraction=np.concatenate([p.final_fraction for p in parts]),
        trajectories=traj,
        processes=processes,
    )
