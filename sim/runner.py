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

Batches: the seed block is the unit of the random streams, not of the work.
Whole blocks are advanced together, up to :data:`BATCH_BLOCKS` at a time, as
one batch on one SimPy environment (:func:`batches`), so that each tick's
numpy calls work on thousands of rows; every draw is still made block by
block, from the block's own stream into its rows, with the same call, size
and order as the block alone (:class:`sim.engine.Streams`), so results never
depend on the batch (``tests/test_golden.py`` checks every shipped scenario
at one block per batch and at the default). A last, partial block is a
batch of its own. The batch is also capped by memory
(:data:`sim.budget.BATCH_MEMORY`, 48 MiB): a population kept person by
person, or a recording, makes for fewer blocks per batch.

The size was chosen by measurement (``benchmarks/bench_batches.py``: bench-770,
20,480 replicates in one
process, replicates per CPU-second of the simulation, a loaded 2-core
machine): 1 block per batch 5,600-6,800; 2 blocks 7,300; 4 blocks 8,600;
8 blocks 9,300; 16 blocks 8,800; 40 blocks 9,500. Past 8 blocks (4,096 rows)
nothing more is gained while memory keeps growing. At 7,700 employees
(31 MB of thresholds per block) one block per batch was fastest (2,500-2,650
against 2,300-2,400 for 2 or 4), which the memory cap gives.

Trajectories (``record=True``) are streamed: each batch's part is written to
a Parquet file as soon as the batches before it are
(:class:`sim.results.TrajectoryWriter`), so a run holds about one batch of
them, not all.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np

from sim.budget import MAX_BATCH_BLOCKS, blocks_per_batch
from sim.engine import BlockResult, ProcessFn, Streams, Tracer, World, simulate_block
from sim.executors import make_executor
from sim.plan import Plan, compile_plan
from sim.results import RunResult, TrajectoryWriter, run_metadata
from sim.scenario import Scenario, load_scenario
from sim.seeds import block_rng, fresh_seed, process_rng

#: Replicates per random stream (a seed block). Part of the reproducibility
#: contract: changing it changes every result for a seed.
BLOCK_SIZE = 512
#: Most seed blocks advanced together as one batch (an internal knob: results
#: never depend on it; see the module docstring for how it was chosen).
BATCH_BLOCKS = MAX_BATCH_BLOCKS

Array = np.ndarray[Any, Any]


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
    return run_batch(scenario, seed, block, 1, rows, record, processes)


def run_batch(
    scenario: Scenario,
    seed: int,
    first: int,
    blocks: int,
    rows: int,
    record: bool,
    processes: Sequence[ProcessFn] = (),
) -> BlockResult:
    """Simulate blocks ``first .. first + blocks - 1`` as one batch; keep its first ``rows`` rows.

    Each block draws from its own stream into its own rows, as it would alone.
    Only a batch of one block may keep fewer rows than it has.
    """
    plan = _plan(scenario)
    if blocks == 1:
        rng: np.random.Generator | Streams = block_rng(seed, first)
        prng: Callable[[], np.random.Generator | Streams] = partial(process_rng, seed, first)
    else:
        if rows != blocks * BLOCK_SIZE:
            raise ValueError("only a batch of one block can keep part of its rows")
        numbers = range(first, first + blocks)
        rng = Streams([block_rng(seed, b) for b in numbers], BLOCK_SIZE)
        prng = partial(_process_streams, seed, numbers)
    done = simulate_block(
        plan,
        rng,
        blocks * BLOCK_SIZE,
        record=record,
        processes=processes,
        process_rng=prng,
        rows=rows,
    )
    return done.output(index=first, first=first * BLOCK_SIZE, block_rows=BLOCK_SIZE)


def _process_streams(seed: int, numbers: range) -> Streams:
    return Streams([process_rng(seed, b) for b in numbers], BLOCK_SIZE)


def _run_batch_args(
    args: tuple[Scenario, int, int, int, int, bool, Sequence[ProcessFn]],
) -> BlockResult:
    return run_batch(*args)


def batches(replicates: int, most: int, jobs: int = 1) -> list[tuple[int, int, int]]:
    """``(first block, blocks, rows)`` of each batch of a run of ``replicates``.

    Whole blocks go in batches of at most ``most`` (fewer when that leaves
    each of ``jobs`` workers at least one batch); a last, partial block is a
    batch of its own, so that only its wanted rows are computed.
    """
    whole, rest = divmod(replicates, BLOCK_SIZE)
    size = max(1, min(most, math.ceil(whole / jobs))) if whole else 1
    out = []
    for b in range(0, whole, size):
        n = min(size, whole - b)
        out.append((b, n, n * BLOCK_SIZE))
    if rest:
        out.append((whole, 1, rest))
    return out


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


def run(
    scenario: Scenario | str | os.PathLike[str],
    replicates: int = 1000,
    seed: int | None = None,
    jobs: int = 1,
    record: bool = False,
    progress: Callable[[int], None] | None = None,
    processes: Sequence[ProcessFn] = (),
    batch_blocks: int | None = None,
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
        A batch of blocks runs each process once for all its rows: a process
        that acts row by row (through ``where`` masks) gives the same results
        whatever the batch.
    batch_blocks : int, optional
        Most seed blocks per batch (default :data:`BATCH_BLOCKS`, fewer when a
        batch would exceed :data:`sim.budget.BATCH_MEMORY`). Internal: results
        never depend on it.

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
    if batch_blocks is None:
        batch_blocks = blocks_per_batch(scenario, BATCH_BLOCKS, record)
    if batch_blocks < 1:
        raise ValueError(f"batch_blocks must be >= 1, got {batch_blocks}")
    tasks = [
        (scenario, seed, first, blocks, rows, record, procs)
        for first, blocks, rows in batches(replicates, batch_blocks, jobs)
    ]
    provenance = None
    if procs:
        from sim.userprocesses import provenance as where_from

        provenance = where_from(procs)
    writer = None
    if record:
        plan = _plan(scenario)
        meta = run_metadata(scenario, seed, provenance)
        writer = TrajectoryWriter(scenario, plan.individuals, meta)
    results: list[BlockResult] = []
    waiting: dict[int, BlockResult] = {}  # finished out of order, trajectories not yet written
    try:
        with make_executor(min(jobs, len(tasks))) as executor:
            for res in executor.map_unordered(_run_batch_args, tasks):
                if progress:
                    progress(len(res.outcome))
                if writer is None:
                    results.append(res)
                    continue
                waiting[res.index] = res
                next_block = _after(results[-1]) if results else 0
                while next_block in waiting:
                    part = waiting.pop(next_block)
                    writer.add(part.trajectories)  # streamed: memory stays flat
                    results.append(replace(part, trajectories=None))
                    next_block = _after(part)
        trajectories = writer.close() if writer is not None else None
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    results.sort(key=lambda r: r.index)
    return combine(scenario, seed, replicates, results, provenance, trajectories)


def _after(part: BlockResult) -> int:
    """Index of the block after the blocks of ``part``."""
    return part.index + math.ceil(len(part) / BLOCK_SIZE)


def combine(
    scenario: Scenario,
    seed: int,
    replicates: int,
    parts: list[BlockResult],
    processes: list[dict[str, Any]] | None = None,
    trajectories: Mapping[str, Array] | None = None,
) -> RunResult:
    """Join block (or batch) results, in block order, into one run result.

    ``trajectories``, when given, were streamed already; otherwise the parts'
    are joined.
    """
    plan = _plan(scenario)
    traj = trajectories
    if traj is None and parts and parts[0].trajectories is not None:
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
        populations=list(plan.population_columns),
        outcome=np.concatenate([p.outcome for p in parts]).astype(np.int64),
        time=np.concatenate([p.end_time for p in parts]),
        switch_time=np.concatenate([p.switch_time for p in parts]),
        final_pos=np.concatenate([p.final_pos for p in parts]),
        half_time=np.concatenate([p.half_time for p in parts]),
        final_fraction=np.concatenate([p.final_fraction for p in parts]),
        trajectories=traj,
        processes=processes,
    )
