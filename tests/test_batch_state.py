"""The batch state lives in arrays: replicates can be copied, dropped or reordered mid-run."""

from __future__ import annotations

import numpy as np
from conftest import ROOT

import sim
from sim.engine import Batch
from sim.model import compile_plan

ARTICLE = ROOT / "scenarios" / "openai_2023_11.yaml"


def _advance(batch: Batch, ticks: int) -> None:
    for _ in range(ticks):
        batch.step()


def _finish(batch: Batch) -> None:
    while batch.k < batch.plan.n_ticks and batch.active.any():
        batch.step()
    batch.finish()


def test_identity_take_changes_nothing() -> None:
    plan = compile_plan(sim.load_scenario(ARTICLE))
    a = Batch(plan, np.random.default_rng(5), 64)
    b = Batch(plan, np.random.default_rng(5), 64)
    _advance(a, 70)
    _advance(b, 70)
    b.take(np.arange(64))
    _finish(a)
    _finish(b)
    np.testing.assert_array_equal(a.outcome, b.outcome)
    np.testing.assert_array_equal(a.end_time, b.end_time)
    np.testing.assert_array_equal(a.switch_time, b.switch_time)


def test_resampled_rows_copy_the_whole_state_and_run_on() -> None:
    plan = compile_plan(sim.load_scenario(ARTICLE))
    batch = Batch(plan, np.random.default_rng(9), 64)
    _advance(batch, 62)  # the signing cascade is under way
    row = 7
    before_counts = batch.populations[0].counts[row].copy()
    before_pos = batch.pos[row].copy()
    before_params = {k: v[row] for k, v in batch.param.items()}
    batch.take(np.full(32, row))  # resample: 32 copies of one replicate, half the rows dropped
    assert batch.size == 32
    assert np.all(batch.populations[0].counts == before_counts)
    assert np.all(batch.pos == before_pos)
    assert all(np.all(batch.param[k] == v) for k, v in before_params.items())
    _finish(batch)
    # the copies share their past (same thresholds, same patience) but not their future
    assert np.all(np.isin(batch.outcome, [0, 1]))
    assert len(set(batch.end_time.tolist())) > 1
    patience = batch.deadline_tick[("microsoft", 0)]
    assert np.all(patience == patience[0])
