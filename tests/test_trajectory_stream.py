"""``record=True`` streams trajectories to Parquet as blocks finish: same table, flat memory."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import ROOT

import sim
from sim.results import RunResult, Trajectories
from sim.runner import BLOCK_SIZE, combine, run_block

ARTICLE = ROOT / "scenarios" / "openai_2023_11.yaml"
BENCH = ROOT / "scenarios" / "bench_770.yaml"


def _in_memory(scenario: sim.Scenario, n: int, seed: int) -> RunResult:
    """The run as it was built before streaming: every block's trajectories joined in memory."""
    parts = [
        run_block(scenario, seed, b, min(BLOCK_SIZE, n - b * BLOCK_SIZE), True)
        for b in range(-(-n // BLOCK_SIZE))
    ]
    return combine(scenario, seed, n, parts)


@pytest.mark.parametrize("jobs", [1, 2])
def test_streamed_table_is_the_table_built_in_memory(jobs: int) -> None:
    scenario = sim.load_scenario(ARTICLE)
    n = 2 * BLOCK_SIZE + 100
    streamed = sim.run(scenario, n, seed=8, jobs=jobs, record=True, batch_blocks=1)
    assert isinstance(streamed.trajectories, Trajectories)
    want = _in_memory(scenario, n, 8).to_arrow(trajectories=True)
    got = streamed.to_arrow(trajectories=True)
    assert got.schema == want.schema
    assert got.schema.metadata == want.schema.metadata
    assert got.equals(want)
    for name, column in _in_memory(scenario, n, 8).trajectories.items():  # type: ignore[union-attr]
        np.testing.assert_array_equal(streamed.trajectories[name], column, err_msg=name)


def test_run_folder_holds_the_streamed_file_and_reads_back(tmp_path: object) -> None:
    from pathlib import Path

    out = Path(str(tmp_path)) / "run"
    res = sim.run(sim.load_scenario(ARTICLE), 300, seed=3, record=True)
    res.write(out)
    assert pq.read_table(out / "trajectories.parquet").equals(res.to_arrow(trajectories=True))
    back = RunResult.read(out)
    assert back.trajectories is not None and res.trajectories is not None
    assert sorted(back.trajectories) == sorted(res.trajectories)
    for name in res.trajectories:
        np.testing.assert_array_equal(back.trajectories[name], res.trajectories[name])


def test_the_spooled_file_goes_with_the_result() -> None:
    res = sim.run(sim.load_scenario(ARTICLE), 50, seed=1, record=True)
    assert isinstance(res.trajectories, Trajectories)
    folder = res.trajectories.path.parent
    assert folder.is_dir()
    del res
    gc.collect()
    assert not folder.exists()


def _peak(n: int) -> int:
    scenario = sim.load_scenario(BENCH)
    gc.collect()
    tracemalloc.start()
    try:
        res = sim.run(scenario, n, seed=5, record=True, batch_blocks=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.trajectories is not None
    return peak


def test_memory_does_not_grow_with_the_recorded_replicates() -> None:
    # joined in memory, 4 * 512 more replicates recorded over ~100 ticks would
    # take some 2,048 * 100 * 10 columns * 8 bytes = 16 MB more; streamed, only
    # their per-replicate results (under 1 KB each) stay. Both runs have blocks
    # that last to about the horizon, so their one-block peaks are alike.
    small, large = _peak(2 * BLOCK_SIZE), _peak(6 * BLOCK_SIZE)
    assert large - small < 4 * BLOCK_SIZE * 1024, (small, large)
