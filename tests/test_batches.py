"""Batches of seed blocks: several blocks advanced together give each block's results exactly.

The goldens (``tests/test_golden.py``) check every shipped scenario at two
batch sizes; these tests cover the population kinds and features the shipped
scenarios leave out (reversible thresholds, reversible per-person hazards,
users' processes with their own random numbers) and the streams themselves.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT

import sim
from sim.engine import Block, Streams
from sim.plan import compile_plan
from sim.runner import BLOCK_SIZE, batches
from sim.seeds import block_rng

BENCH = ROOT / "scenarios" / "bench_770.yaml"
BOARD = ROOT / "scenarios" / "five_member_board.yaml"
ARTICLE = ROOT / "scenarios" / "openai_2023_11.yaml"


def _same(a: sim.RunResult, b: sim.RunResult) -> None:
    for name in ("outcome", "time", "switch_time", "final_pos", "half_time", "final_fraction"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_each_block_draws_its_own_rows_from_its_own_stream() -> None:
    gens = [np.random.default_rng(s) for s in (1, 2, 3)]
    u = Streams(gens, rows=4).random(12, 5)
    for j, seed in enumerate((1, 2, 3)):
        alone = np.random.default_rng(seed).random((4, 5))
        np.testing.assert_array_equal(u[4 * j : 4 * j + 4], alone)


def test_a_batch_needs_whole_blocks() -> None:
    with pytest.raises(ValueError, match="do not make 2 blocks"):
        Streams([np.random.default_rng(1), np.random.default_rng(2)], rows=4).random(7)


@pytest.mark.parametrize(
    ("path", "sets"),
    [
        (BENCH, ["agents.employees.rule.reversible=true", "agents.employees.rule.spontaneous=0"]),
        (BOARD, ["agents.shareholders.size=60", "agents.shareholders.rule.reversible=true"]),
    ],
    ids=["reversible-thresholds", "reversible-per-person-hazards"],
)
def test_a_batch_gives_each_block_what_it_gives_alone(path: object, sets: list[str]) -> None:
    scenario = sim.load_scenario(path, sets)  # type: ignore[arg-type]
    n = 3 * BLOCK_SIZE + 20
    alone = sim.run(scenario, n, seed=7, batch_blocks=1)
    together = sim.run(scenario, n, seed=7, batch_blocks=3)
    _same(alone, together)


def test_processes_draw_each_blocks_numbers_whatever_the_batch() -> None:
    from sim.userprocesses import load_processes

    procs = load_processes(ROOT / "scenarios" / "mediator.py")
    scenario = sim.load_scenario(ARTICLE)
    alone = sim.run(scenario, 2 * BLOCK_SIZE, seed=3, processes=procs, batch_blocks=1)
    together = sim.run(scenario, 2 * BLOCK_SIZE, seed=3, processes=procs, batch_blocks=2)
    plain = sim.run(scenario, 2 * BLOCK_SIZE, seed=3, batch_blocks=2)
    _same(alone, together)
    assert not np.array_equal(alone.final_pos, plain.final_pos)  # the mediator did act


def test_batch_state_after_every_tick_is_the_blocks_side_by_side() -> None:
    plan = compile_plan(sim.load_scenario(ARTICLE))
    a, b = Block(plan, block_rng(5, 0), 64), Block(plan, block_rng(5, 1), 64)
    both = Block(plan, Streams([block_rng(5, 0), block_rng(5, 1)], rows=64), 128)
    for _ in range(80):
        for blk in (a, b, both):
            blk.step()
        np.testing.assert_array_equal(both.state.pos, np.concatenate([a.state.pos, b.state.pos]))
        counts = [blk.state.populations[0].counts for blk in (a, b)]
        np.testing.assert_array_equal(both.state.populations[0].counts, np.concatenate(counts))


def test_a_batch_of_several_blocks_cannot_be_resampled() -> None:
    plan = compile_plan(sim.load_scenario(ARTICLE))
    both = Block(plan, Streams([block_rng(5, 0), block_rng(5, 1)], rows=8), 16)
    with pytest.raises(RuntimeError, match="cannot be resampled"):
        both.take(np.arange(16))


def test_batches_are_whole_blocks_and_a_partial_last_block_alone() -> None:
    assert batches(1300, 8) == [(0, 2, 1024), (2, 1, 276)]
    assert batches(10 * BLOCK_SIZE, 4) == [(0, 4, 2048), (4, 4, 2048), (8, 2, 1024)]
    assert batches(10 * BLOCK_SIZE, 8, jobs=2) == [(0, 5, 2560), (5, 5, 2560)]
    assert batches(5, 8) == [(0, 1, 5)]


def test_batch_blocks_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch_blocks"):
        sim.run(sim.load_scenario(BENCH), 10, seed=1, batch_blocks=0)


def test_the_draws_skipped_would_take_nothing_from_the_stream() -> None:
    """Blocks where nobody can move make no binomial call: numpy's call would draw nothing."""
    g, h = np.random.default_rng(4), np.random.default_rng(4)
    assert np.all(g.binomial(np.array([0, 0, 5, 7]), np.array([0.3, 0.0, 0.0, 0.0])) == 0)
    assert g.bit_generator.state == h.bit_generator.state
    with pytest.raises(ValueError):  # NaN is still refused: such rows still make the call
        g.binomial(np.array([3]), np.array([np.nan]))
