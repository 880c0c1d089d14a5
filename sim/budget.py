"""Resource estimates and limits: refuse, before any work, what would not fit.

Every command that simulates first estimates the peak memory it will take and
the work it will do, and refuses (exit status 2, with the estimate and the flag
that raises the limit) what exceeds fixed limits. The limits are the same on
every machine (never derived from the memory that happens to be free), so a
command that runs here runs everywhere and one refused here is refused
everywhere.

Work is counted in *replicate-ticks*: replicates (or particles) times the
ticks of the horizon. Memory is the data a command allocates (arrays, result
tables, Parquet buffers), on top of the roughly 100 MB that Python and the
libraries take in each process. Estimates are upper bounds: they assume that
every replicate runs to the horizon (a replicate that ends early records
nothing more), so a run's real peak is usually below its estimate and stays
within a factor of about 2 above it otherwise (``tests/test_budget.py``
measures it).

The per-item costs below were measured with :mod:`tracemalloc` and the peak
resident size on the shipped scenarios and on populations of each kind.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from sim.budget_persons import (
    KEPT,
    fresh_bytes,
    graph_bytes,
    kept_bytes,
    kept_per_person,
    per_person,
)
from sim.errors import InputError
from sim.scenario import Individual, Population, Scenario

#: Default ``--max-memory``: 4 GiB of data, whatever the machine has.
DEFAULT_MAX_MEMORY = 4 * 2**30
#: Default ``--max-memory`` as it is written on the command line.
DEFAULT_MAX_MEMORY_TEXT = "4GiB"
#: Default ``--max-work`` in replicate-ticks (some hours of one core at the
#: engine's usual 0.3-1 million replicate-ticks per second).
DEFAULT_MAX_WORK = 10**10
#: Default ``--max-work`` as it is written on the command line.
DEFAULT_MAX_WORK_TEXT = "1e10"

#: Help of ``--max-memory`` on every command that simulates.
MEMORY_HELP = (
    "Refuse to start when the estimated peak memory of the data exceeds this "
    "(512MiB, 4GiB, 2GB); fixed, not taken from the machine."
)
#: Help of ``--max-work`` on every command that simulates.
WORK_HELP = (
    "Refuse to start when the work, replicates (or particles) x ticks, exceeds this "
    "many replicate-ticks."
)

#: Rows of one engine block (mirrors :data:`sim.runner.BLOCK_SIZE`, kept here so
#: that estimating imports no engine).
_BLOCK = 512
#: Bytes per row of a batch, plus per agent, rule, signal, event, decision, outcome.
_ROW_BASE, _ROW_PER_ITEM = 128, 24
#: Bytes per replicate of a finished run held for its summary and files.
_RESULT_BASE, _RESULT_PER_AGENT = 512, 64
#: Bytes per recorded value and replicate-tick: the block's history, its
#: stacked copy and the table built from it; in the parent, a batch's part and
#: the Arrow table written from it (trajectories are streamed to Parquet).
_RECORD_WORKER, _RECORD_PARENT = 24, 24
#: Bytes per sweep point held by the parent (values, row, points table).
_POINT_BASE, _POINT_PER_COLUMN = 256, 24


@dataclass
class Estimate:
    """Peak memory (bytes) and work (replicate-ticks) of a command, with how they add up."""

    memory: int
    work: int
    memory_parts: list[str] = field(default_factory=list)
    work_text: str = ""


_SIZE = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMgGtT]?)(i?)([bB]?)\s*")


def parse_size(text: str, flag: str = "--max-memory") -> int:
    """Bytes from ``512MiB``, ``4GiB``, ``2GB``, ``1.5TiB`` or a plain number of bytes.

    Binary units (KiB, MiB, GiB, TiB) count powers of 1024, decimal ones (kB,
    MB, GB, TB) powers of 1000; ``K``, ``M``, ``G``, ``T`` alone are binary.
    """
    m = _SIZE.fullmatch(text)
    if m is None:
        raise InputError(
            f"{flag} {text}: expected a size such as 512MiB, 4GiB or 2GB (or a number of bytes)"
        )
    number, prefix, binary, _ = m.groups()
    power = "kmgt".find(prefix.lower()) + 1 if prefix else 0
    base = 1000 if prefix and not binary and text.strip().lower().endswith("b") else 1024
    value = float(number) * base**power
    if not math.isfinite(value) or value < 1:
        raise InputError(f"{flag} {text}: expected a size of at least 1 byte")
    return int(value)


def parse_count(text: str, flag: str = "--max-work") -> int:
    """A positive whole number written as ``10000000000``, ``1e10`` or ``10_000_000_000``."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 1:
        raise InputError(f"{flag} {text}: expected a positive number such as 1e10")
    return int(value)


def format_bytes(n: float) -> str:
    """``2.5 GiB``, ``310 MiB``, ``12 KiB``."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            v = n / size
            return f"{v:.1f} {unit}" if v < 10 else f"{v:,.0f} {unit}"
    return f"{n:.0f} B"


def format_count(n: float) -> str:
    """``168,000`` up to a billion, then ``1.7e+14``."""
    return f"{n:,.0f}" if n < 1e9 else f"{n:.2g}"


def _size_flag(n: int) -> str:
    """A ``--max-memory`` value just above ``n``."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= size:
            return f"{math.ceil(n / size)}{unit}"
    return "1MiB"


def _count_flag(n: int) -> str:
    """A ``--max-work`` value just above ``n``, like ``2e14``."""
    exp = max(0, math.floor(math.log10(n)))
    lead = math.ceil(n / 10**exp)
    return f"{lead}e{exp}" if lead < 10 else f"1e{exp + 1}"


# ------------------------------------------------------------------- pieces
def _row_bytes(sc: Scenario) -> int:
    items = len(sc.agents) + len(sc.signals) + len(sc.events) + len(sc.decisions)
    items += len(sc.outcomes)
    for a in sc.agents.values():
        if isinstance(a, Individual):
            items += 2 * len(a.rules)  # its parameters and its column of uniforms
        elif isinstance(a, Population):
            items += len(a.positions) + 2
    return _ROW_BASE + _ROW_PER_ITEM * items


def _person_bytes(sc: Scenario) -> tuple[int, list[str]]:
    """Bytes per row for every member of every population kept person by person."""
    total, notes = 0, []
    for aid, a in sc.agents.items():
        per = per_person(a) if isinstance(a, Population) else None
        if per is None:
            continue
        assert isinstance(a, Population)
        total += per * a.size
        on = " on a graph" if a.network is not None else ""
        notes.append(f"{a.size:,} members of {aid}{on}")
    return total, notes


def _recorded_columns(sc: Scenario) -> int:
    cols = len(sc.signals)
    for a in sc.agents.values():
        if isinstance(a, Population):
            cols += len(a.positions)
        elif isinstance(a, Individual):
            cols += 1
    return cols


def _result_bytes(sc: Scenario) -> int:
    agents = sum(isinstance(a, Individual | Population) for a in sc.agents.values())
    return _RESULT_BASE + _RESULT_PER_AGENT * agents


def batch_bytes(sc: Scenario, rows: int, record: bool = False) -> int:
    """Peak bytes of one batch of ``rows`` replicates run to the horizon."""
    person, _ = _person_bytes(sc)
    total = rows * (_row_bytes(sc) + person) + graph_bytes(sc)
    if record:
        total += rows * sc.clock.n_ticks * _RECORD_WORKER * (_recorded_columns(sc) + 2)
    return total


#: Most blocks the runner advances as one batch (``sim.runner.BATCH_BLOCKS``).
MAX_BATCH_BLOCKS = 8
#: Memory a batch of blocks may take (:func:`blocks_per_batch`): batches of a
#: few thousand rows pay numpy's per-call cost once for all their rows, but
#: past a few tens of MB per batch the arrays outgrow the CPU's caches and
#: bigger batches stop paying.
BATCH_MEMORY = 48 * 2**20


def blocks_per_batch(sc: Scenario, most: int, record: bool = False) -> int:
    """How many blocks of :data:`_BLOCK` rows to advance as one batch: at most ``most``.

    As many as fit in :data:`BATCH_MEMORY` (at least one): a large population
    kept person by person, or a recording, makes for smaller batches.
    """
    per_block = max(1, batch_bytes(sc, _BLOCK, record))
    return max(1, min(most, BATCH_MEMORY // per_block))


def _block_text(sc: Scenario, rows: int, what: str = "block", of: str = "replicates") -> str:
    _, notes = _person_bytes(sc)
    detail = f" with {', '.join(notes)}" if notes else ""
    return f"a {what} of {rows:,} {of}{detail}"


def _batch_text(sc: Scenario, particles: int) -> str:
    return _block_text(sc, particles, "batch", "particles")


# ---------------------------------------------------------------- estimates
def estimate_run(sc: Scenario, replicates: int, jobs: int = 1, record: bool = False) -> Estimate:
    """``stancesim run``: blocks in ``jobs`` processes, results and trajectories here."""
    ticks = sc.clock.n_ticks
    workers = max(1, min(jobs, math.ceil(replicates / _BLOCK)))
    blocks = min(blocks_per_batch(sc, MAX_BATCH_BLOCKS, record), math.ceil(replicates / _BLOCK))
    block = batch_bytes(sc, _BLOCK * blocks, record)
    results = replicates * _result_bytes(sc)
    what = _block_text(sc, _BLOCK * blocks, "batch" if blocks > 1 else "block")
    parts = [
        f"{format_bytes(block)} for {what}"
        + (f" in each of {workers} workers" if workers > 1 else ""),
        f"{format_bytes(results)} for the results of {replicates:,} replicates",
    ]
    memory = workers * block + results
    if record:
        # streamed to Parquet in replicate order as batches finish: the parent
        # holds the batch being written and those that finished ahead of it
        # (the executor keeps at most 4 per worker in flight)
        batch_rows = min(replicates, _BLOCK * blocks)
        held = min(math.ceil(replicates / batch_rows), 4 * workers + 1 if workers > 1 else 1)
        traj = held * batch_rows * ticks * _RECORD_PARENT * (_recorded_columns(sc) + 2)
        parts.append(
            f"{format_bytes(traj)} for the trajectories of {held * batch_rows:,} replicates "
            "on their way to Parquet"
        )
        memory += traj
    work_text = f"{replicates:,} replicates x {ticks:,} ticks"
    return Estimate(memory, replicates * ticks, parts, work_text)


def estimate_trace(sc: Scenario) -> Estimate:
    """``stancesim trace``: one block."""
    block = batch_bytes(sc, _BLOCK)
    ticks = sc.clock.n_ticks
    return Estimate(
        block,
        _BLOCK * ticks,
        [f"{format_bytes(block)} for {_block_text(sc, _BLOCK)}"],
        f"a block of {_BLOCK} replicates x {ticks:,} ticks",
    )


def _particle_bytes(sc: Scenario, particles: int, n_obs: int) -> int:
    # resampling copies every row's state, so the per-person part is counted once more
    person, _ = _person_bytes(sc)
    kept = sum(
        max(KEPT, kept_per_person(a) + fresh_bytes(a)[0]) * a.size
        for a in sc.agents.values()
        if isinstance(a, Population) and per_person(a) is not None
    )
    return particles * (_row_bytes(sc) + person + kept + 16 * (n_obs + 2))


#: bytes a rejuvenation recorder keeps per particle and tick: an individual's moved rule
#: (pressure, c1, ik, c2 as float64, direction as int8), a population (drive, out, moved)
_RULE_RECORD, _POPULATION_RECORD = 33, 24


def _record_bytes(sc: Scenario, particles: int) -> int:
    """The most rejuvenation's path recorders keep: every moved rule at every tick."""
    from sim.plan import compile_plan
    from sim.rejuvenate import targets
    from sim.rejuvenate_populations import population_targets

    plan = compile_plan(sc)
    rules = len({t.rule for t in targets(plan)})
    crowds = len({t.population for t in population_targets(plan)})
    return particles * plan.n_ticks * (_RULE_RECORD * rules + _POPULATION_RECORD * crowds)


def estimate_nowcast(
    sc: Scenario, particles: int, n_obs: int, n_times: int, rejuvenate: bool = True
) -> Estimate:
    """``stancesim nowcast`` / ``backtest``: ``n_times`` passes of ``particles`` particles.

    With ``rejuvenate``, also what its path recorders keep (up to the last
    observation; counted to the horizon, the most it can be).
    """
    memory = _particle_bytes(sc, particles, n_obs)
    ticks = sc.clock.n_ticks
    parts = [f"{format_bytes(memory)} for {_batch_text(sc, particles)}"]
    if rejuvenate and (record := _record_bytes(sc, particles)):
        memory += record
        parts.append(f"{format_bytes(record)} for rejuvenation's record of the path")
    return Estimate(
        memory,
        particles * ticks * n_times,
        parts,
        f"{particles:,} particles x {ticks:,} ticks x {n_times:,} times",
    )


def estimate_calibrate(
    sc: Scenario, particles: int, n_obs: int, points: int, n_params: int, jobs: int
) -> Estimate:
    """``stancesim calibrate``: one nowcast per design point, ``jobs`` at a time."""
    workers = max(1, min(jobs, points))
    each = _particle_bytes(sc, particles, n_obs)
    design = points * (_POINT_BASE + _POINT_PER_COLUMN * (n_params + 3))
    ticks = sc.clock.n_ticks
    parts = [
        f"{format_bytes(each)} for {_batch_text(sc, particles)}"
        + (f" in each of {workers} workers" if workers > 1 else ""),
        f"{format_bytes(design)} for {points:,} design points",
    ]
    return Estimate(
        workers * each + design,
        points * particles * ticks,
        parts,
        f"{points:,} points x {particles:,} particles x {ticks:,} ticks",
    )


def n_points(definition: Any) -> int:
    """Points of a sweep definition, counted without listing them."""
    if definition.sampler != "grid":
        return int(definition.points)
    return math.prod(
        len(s.values) if s.values is not None else int(s.count)
        for s in definition.parameters.values()
    )


def estimate_sweep(sc: Scenario, definition: Any, jobs: int = 1) -> Estimate:
    """``stancesim sweep``: one point per worker at a time, the points table here."""
    points = n_points(definition)
    adaptive = definition.until_ci is not None
    per_point = definition.max_replicates if adaptive else definition.replicates
    workers = max(1, min(jobs, points))
    # a point holds its blocks and their combination (twice its results)
    each = batch_bytes(sc, _BLOCK) + 2 * per_point * _result_bytes(sc)
    columns = 6 + len(definition.parameters) + 7 * (len(sc.outcomes) + 1) + 2 * len(sc.agents)
    table = points * (_POINT_BASE + _POINT_PER_COLUMN * columns)
    if definition.save_replicates:
        table += points * per_point * 64
    ticks = sc.clock.n_ticks
    reps = "at most " if adaptive else ""
    parts = [
        f"{format_bytes(each)} for a point of {reps}{per_point:,} replicates"
        + (f" in each of {workers} workers" if workers > 1 else ""),
        f"{format_bytes(table)} for the table of {points:,} points",
    ]
    return Estimate(
        workers * each + table,
        points * per_point * ticks,
        parts,
        f"{points:,} points x {reps}{per_point:,} replicates x {ticks:,} ticks",
    )


# -------------------------------------------------------------------- check
def check(est: Estimate, max_memory: int, max_work: int, what: str = "this run") -> None:
    """Raise :class:`InputError` when an estimate exceeds a limit, naming the flag to raise."""
    if est.memory > max_memory:
        raise InputError(
            f"{what} would need about {format_bytes(est.memory)} of memory "
            f"({'; '.join(est.memory_parts)}), over the limit of {format_bytes(max_memory)}; "
            f"ask for less, or raise the limit with --max-memory {_size_flag(est.memory)}"
        )
    if est.work > max_work:
        raise InputError(
            f"{what} would simulate {format_count(est.work)} replicate-ticks "
            f"({est.work_text}), over the limit of {format_count(max_work)}; "
            f"ask for less, or raise the limit with --max-work {_count_flag(est.work)}"
        )


def limits(max_memory: str, max_work: str) -> tuple[int, int]:
    """The two limits from their command-line text."""
    return parse_size(max_memory), parse_count(max_work)


__all__ = [
    "DEFAULT_MAX_MEMORY",
    "DEFAULT_MAX_WORK",
    "Estimate",
    "batch_bytes",
    "check",
    "estimate_calibrate",
    "estimate_nowcast",
    "estimate_run",
    "estimate_sweep",
    "estimate_trace",
    "format_bytes",
    "graph_bytes",
    "kept_bytes",
    "limits",
    "n_points",
    "parse_count",
    "parse_size",
]
