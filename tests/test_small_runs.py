"""Runs of fewer replicates than a block: same results as the block's first rows, computed cheaply.

``tests/data/first_rows_seed2024.json`` holds the first 100 replicates of
``sim.run(scenario, 512, seed=2024)`` for every shipped scenario, written by the
engine as it was before small runs computed fewer rows (commit 855231c): a run
of ``k`` replicates must reproduce its first ``k`` rows exactly.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT

import sim
from sim.engine import Block, simulate_block
from sim.plan import compile_plan
from sim.runner import BLOCK_SIZE, RunResult, block_rng
from sim.yamlio import load_file

GOLDEN = json.loads((ROOT / "tests" / "data" / "first_rows_seed2024.json").read_text())
SHIPPED = sorted(
    str(p.relative_to(ROOT))
    for p in (ROOT / "scenarios").glob("*.yaml")
    if load_file(p).data.get("kind") == "scenario"
)
SCENARIOS = [*SHIPPED, "benchmarks/tiny.yaml"]
FIELDS = ("outcome", "time", "switch_time", "final_pos", "half_time", "final_fraction")
BOARD = ROOT / "scenarios" / "five_member_board.yaml"


def _rows(res: RunResult, k: int) -> dict[str, Any]:
    """The per-replicate arrays of the first ``k`` replicates, NaN as None (JSON's form)."""
    out = {}
    for name in FIELDS:
        a = np.asarray(getattr(res, name))[:k]
        if a.dtype.kind == "f":
            out[name] = np.where(np.isnan(a), None, a).tolist()
        else:
            out[name] = a.tolist()
    return out


def _golden(path: str, k: int) -> dict[str, Any]:
    return {name: GOLDEN[path][name][:k] for name in FIELDS}


def test_every_shipped_scenario_has_reference_rows() -> None:
    assert set(SCENARIOS) == set(GOLDEN)
    assert len(SCENARIOS) >= 5


@pytest.mark.parametrize("path", SCENARIOS)
@pytest.mark.parametrize("k", [1, 3, 100])
def test_small_run_equals_the_first_rows_of_a_block(path: str, k: int) -> None:
    scenario = sim.load_scenario(ROOT / path)
    assert _rows(sim.run(scenario, k, seed=2024), k) == _golden(path, k)


@pytest.mark.parametrize("path", [p for p in SCENARIOS if "five_member_board" not in p])
def test_reference_rows_are_those_of_a_block_today(path: str) -> None:
    """The stored rows are still what a whole block gives (the board's block is too slow here)."""
    scenario = sim.load_scenario(ROOT / path)
    assert _rows(sim.run(scenario, BLOCK_SIZE, seed=2024), 100) == _golden(path, 100)


def test_small_runs_of_a_dense_population_compute_only_their_rows() -> None:
    plan = compile_plan(sim.load_scenario(BOARD))
    state = simulate_block(plan, block_rng(2024, 0), BLOCK_SIZE, rows=3).state
    (shareholders,) = state.populations
    assert state.live == 3 and shareholders.in_to.shape == (3, 5000)
    t0 = time.perf_counter()
    res = sim.run(sim.load_scenario(BOARD), 1, seed=2024)
    print(f"five_member_board -n 1: {time.perf_counter() - t0:.2f} s")
    assert _rows(res, 1) == _golden("scenarios/five_member_board.yaml", 1)


def _twin_batches(scenario: Any, rows: int, size: int = 64) -> tuple[Block, Block, bool]:
    plan = compile_plan(scenario)
    whole = Block(plan, np.random.default_rng(99), size)
    part = Block(plan, np.random.default_rng(99), size)
    return whole, part, part.state.compute_only(rows)


def _assert_same_stream_and_rows(
    whole_block: Block, part_block: Block, rows: int, ticks: int
) -> None:
    whole, part = whole_block.state, part_block.state
    for _ in range(ticks):
        whole_block.step()
        part_block.step()
        assert part.rng.bit_generator.state == whole.rng.bit_generator.state
        np.testing.assert_array_equal(part.pos[:rows], whole.pos[:rows])
        np.testing.assert_array_equal(part.opinion[:rows], whole.opinion[:rows])
        for p, q in zip(part.populations, whole.populations, strict=True):
            np.testing.assert_array_equal(p.counts[:rows], q.counts[:rows])


def test_restricted_batch_leaves_the_stream_exactly_where_a_whole_one_does() -> None:
    # a smaller population keeps the whole batch quick; reversible so both draws are exercised
    scenario = sim.load_scenario(
        BOARD, ["agents.shareholders.size=300", "agents.shareholders.rule.reversible=true"]
    )
    whole, part, applied = _twin_batches(scenario, 5)
    assert applied
    _assert_same_stream_and_rows(whole, part, 5, 120)


def test_value_dependent_draws_keep_the_whole_block() -> None:
    # a counted population (binomial draws) fed by the dense one: rows past k would shift the stream
    scenario = sim.load_scenario(
        BOARD,
        [
            "agents.shareholders.size=300",
            "agents.brokers={kind: population, size: 40, positions: [out, in], initial: out,"
            " rule: {kind: hazard, to: in, pressure: premium, resistance: 0.5, rate: 0.2}}",
        ],
    )
    whole, part, applied = _twin_batches(scenario, 5)
    assert not applied and part.state.live == part.state.size
    _assert_same_stream_and_rows(whole, part, 5, 30)


def test_scenarios_without_a_dense_population_are_not_restricted(tmp_path: Path) -> None:
    scenario = sim.load_scenario(ROOT / "scenarios" / "openai_2023_11.yaml")
    _, part, applied = _twin_batches(scenario, 5)
    assert not applied and part.state.live == part.state.size
