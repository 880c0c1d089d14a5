"""RunResult (:mod:`sim.results`): frozen, short repr, Arrow/pandas tables, run folders."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import ROOT

import sim
import sim.runner
from sim.errors import InputError
from sim.results import RunResult

ARTICLE = ROOT / "scenarios" / "openai_2023_11.yaml"
TINY = ROOT / "benchmarks" / "tiny.yaml"
ARRAYS = ("outcome", "time", "switch_time", "final_pos", "half_time", "final_fraction")


def idle(env: Any, world: Any) -> Any:
    """A user's process that does nothing (its file's sha256 is recorded)."""
    yield env.timeout(1)


@pytest.fixture(scope="module")
def recorded() -> RunResult:
    return sim.run(ARTICLE, 300, seed=7, record=True)


def test_one_class_under_every_old_name() -> None:
    assert sim.RunResult is RunResult is sim.runner.RunResult


def test_frozen_with_a_short_repr(recorded: RunResult) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        recorded.seed = 1  # type: ignore[misc]
    text = repr(recorded)
    assert len(text) < 200 and "\n" not in text
    assert "300 replicates" in text and "seed 7" in text and "trajectories" in text
    assert "array(" not in text


def test_summary_is_computed_once(recorded: RunResult) -> None:
    assert recorded.summary() is recorded.summary()


def _same(a: RunResult, b: RunResult) -> None:
    for k in ARRAYS:
        x, y = getattr(a, k), getattr(b, k)
        assert x.dtype == y.dtype and x.shape == y.shape, k
        np.testing.assert_array_equal(x, y, err_msg=k)
    for k in ("seed", "replicates", "outcome_names", "individuals", "populations", "version"):
        assert getattr(a, k) == getattr(b, k), k
    assert a.processes == b.processes
    assert a.scenario_sha256 == b.scenario_sha256


def test_write_then_read_gives_the_same_result(tmp_path: Path, recorded: RunResult) -> None:
    files = recorded.write(tmp_path / "run")
    assert {f.name for f in files} >= {"replicates.parquet", "trajectories.parquet", "run.json"}
    back = RunResult.read(tmp_path / "run")
    _same(back, recorded)
    assert back.trajectories is not None and recorded.trajectories is not None
    assert list(back.trajectories) == list(recorded.trajectories)
    for k, v in recorded.trajectories.items():
        np.testing.assert_array_equal(back.trajectories[k], v, err_msg=k)
    stored = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert back.summary() == stored == json.loads(json.dumps(recorded.summary()))


def test_read_keeps_the_processes_provenance(tmp_path: Path) -> None:
    res = sim.run(TINY, 40, seed=3, processes=[idle])
    assert res.processes
    res.write(tmp_path / "run")
    back = RunResult.read(tmp_path / "run")
    _same(back, res)
    assert back.trajectories is None


def test_read_refuses_a_folder_that_is_not_a_complete_run(tmp_path: Path) -> None:
    sim.run(TINY, 40, seed=3).write(tmp_path / "run")
    table = pq.read_table(tmp_path / "run" / "replicates.parquet")
    pq.write_table(table.slice(0, 10), tmp_path / "run" / "replicates.parquet")  # edited
    with pytest.raises(InputError):
        RunResult.read(tmp_path / "run")
    (tmp_path / "bare").mkdir()
    with pytest.raises(InputError):
        RunResult.read(tmp_path / "bare")


def test_to_arrow_is_what_the_folder_holds(tmp_path: Path, recorded: RunResult) -> None:
    recorded.write(tmp_path / "run")
    on_disk = pq.read_table(tmp_path / "run" / "replicates.parquet")
    traj = pq.read_table(tmp_path / "run" / "trajectories.parquet")
    for mine, theirs in ((recorded.to_arrow(), on_disk), (recorded.to_arrow(True), traj)):
        assert mine.schema.equals(theirs.schema, check_metadata=True)
        assert _values(mine) == _values(theirs)  # (Table.equals takes NaN != NaN)
    assert on_disk.schema.metadata[b"stancesim.seed"] == b"7"


def _values(table: Any) -> str:
    return json.dumps(table.to_pydict())  # NaN written as NaN on both sides


def test_trajectories_table_needs_a_recorded_run() -> None:
    with pytest.raises(ValueError, match="record=True"):
        sim.run(TINY, 10, seed=1).to_arrow(trajectories=True)


def test_to_pandas_without_pandas_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(ImportError, match="pip install pandas"):
        sim.run(TINY, 10, seed=1).to_pandas()
