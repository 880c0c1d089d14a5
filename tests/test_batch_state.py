"""The block state lives in arrays: replicates can be copied, dropped or reordered mid-run."""

from __future__ import annotations

import numpy as np
from conftest import ROOT

import sim
from sim.engine import Block
from sim.plan import compile_plan

ARTICLE = ROOT / "scenarios" / "openai_2023_11.yaml"


def _advance(block: Block, ticks: int) -> None:
    for _ in range(ticks):
        block.step()


def _finish(block: Block) -> None:
    while block.k < block.plan.n_ticks and block.world.active.any():
        block.step()


def test_identity_take_changes_nothing() -> None:
    plan = compile_plan(sim.load_scenario(ARTICLE))
    a = Block(plan, np.random.default_rng(5), 64)
    b = Block(plan, np.random.default_rng(5), 64)
    _advance(a, 70)
    _advance(b, 70)
    b.take(np.arange(64))
    _finish(a)
    _finish(b)
    np.testing.assert_array_equal(a.output().outcome, b.output().outcome)
    np.testing.assert_array_equal(a.output().end_time, b.output().end_time)
    np.testing.assert_array_equal(a.output().switch_time, b.output().switch_time)


def test_resampled_rows_copy_the_whole_state_and_run_on() -> None:
    plan = compile_plan(sim.load_scenario(ARTICLE))
    block = Block(plan, np.random.default_rng(9), 64)
    _advance(block, 62)  # the signing cascade is under way
    row = 7
    s = block.state
    before_counts = s.populations[0].counts[row].copy()
    before_pos = s.pos[row].copy()
    before_params = [v[row] for v in s.param]
    block.take(np.full(32, row))  # resample: 32 copies of one replicate, half the rows dropped
    assert s.size == 32
    assert np.all(s.populations[0].counts == before_counts)
    assert np.all(s.pos == before_pos)
    assert all(np.all(v == b) for v, b in zip(s.param, before_params, strict=True))
    _finish(block)
    # the copies share their past (same thresholds, same patience) but not their future
    outcome, end_time = block.world.outcome, block.world.end_time
    assert np.all(np.isin(outcome, [0, 1]))
    assert len(set(end_time.tolist())) > 1
    deadline = next(t for _, t in plan.watchers if hasattr(t, "slot"))
    patience = s.due[deadline.slot]
    assert np.all(patience == patience[0])
