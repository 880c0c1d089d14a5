"""Writing run results: Parquet tables, the JSON summary, the resolved scenario.

The whole folder is written beside the target, sealed with ``run.json`` and
renamed into place (:mod:`sim.folders`), so an interrupted write never leaves
a half-written folder, or one that mixes two runs, under the target's name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.folders import building
from sim.runner import RunResult
from sim.yamlio import dump


def replicates_table(result: RunResult) -> pa.Table:
    """One row per replicate: outcome, time, switch times and final aggregates."""
    cols: dict[str, Any] = {
        "replicate": np.arange(result.replicates),
        "outcome": pa.array(result.outcome_labels()).dictionary_encode(),
        "time": result.time,
    }
    for i, aid in enumerate(result.individuals):
        cols[f"{aid}.switch_time"] = result.switch_time[:, i]
        names = result.position_names(i)
        cols[f"{aid}.final"] = pa.array(
            [names[k] for k in result.final_pos[:, i]]
        ).dictionary_encode()
    for j, pid in enumerate(result.populations):
        cols[f"{pid}.final_fraction_switched"] = result.final_fraction[:, j]
        cols[f"{pid}.half_time"] = result.half_time[:, j]
    table = pa.table(cols)
    return table.replace_schema_metadata(_metadata(result))


def trajectories_table(result: RunResult) -> pa.Table:
    """One row per replicate and tick while the replicate ran.

    An individual's position is a dictionary-encoded column of its position
    names (readers get names, not bare integer codes).
    """
    assert result.trajectories is not None
    cols: dict[str, Any] = dict(result.trajectories)
    for i, aid in enumerate(result.individuals):
        key = f"{aid}.position"
        if key in cols:
            codes = np.asarray(cols[key], dtype=float)
            missing = np.isnan(codes)
            indices = pa.array(
                np.where(missing, 0, codes).astype(np.int32), mask=missing, type=pa.int32()
            )
            cols[key] = pa.DictionaryArray.from_arrays(
                indices, pa.array(result.position_names(i), type=pa.string())
            )
    table = pa.table(cols)
    return table.replace_schema_metadata(_metadata(result))


def _metadata(result: RunResult) -> dict[str, str]:
    meta = {
        "stancesim.scenario_sha256": result.scenario_sha256,
        "stancesim.seed": str(result.seed),
        "stancesim.version": result.version,
    }
    if result.processes:
        meta["stancesim.processes"] = json.dumps(result.processes)
    return meta


def write_run(result: RunResult, out: str | Path, overwrite: bool = False) -> list[Path]:
    """Write the run's files into a new folder ``out``.

    ``replicates.parquet``, ``summary.json``, ``scenario.resolved.yaml``,
    when recorded ``trajectories.parquet``, and last ``run.json`` (status,
    each file's name and sha256).

    Parameters
    ----------
    result : RunResult
    out : path
        The results folder: absent or empty, unless ``overwrite``.
    overwrite : bool
        Replace a non-empty ``out`` (it is swapped, never mixed).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    InputError
        ``out`` is a file, non-empty without ``overwrite``, or cannot be written.
    """
    target = Path(out)
    with building(target, overwrite, "run") as tmp:
        pq.write_table(replicates_table(result), tmp / "replicates.parquet")
        (tmp / "summary.json").write_text(json.dumps(result.summary(), indent=2) + "\n")
        (tmp / "scenario.resolved.yaml").write_text(dump(result.scenario.canonical()))
        if result.trajectories is not None:
            pq.write_table(trajectories_table(result), tmp / "trajectories.parquet")
        names = sorted(p.name for p in tmp.iterdir())
    return [target / n for n in names] + [target / "run.json"]
