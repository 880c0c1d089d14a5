"""Writing run results: Parquet tables, the JSON summary, the resolved scenario.

Files are first written to a temporary folder beside the target and moved in
one by one with ``os.replace``, so an interrupted write never leaves a
half-written file under its final name.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

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
    """One row per replicate and tick while the replicate ran."""
    assert result.trajectories is not None
    table = pa.table(dict(result.trajectories))
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


def write_run(result: RunResult, out: str | Path) -> list[Path]:
    """Write the run's files into ``out``.

    ``replicates.parquet``, ``summary.json``, ``scenario.resolved.yaml`` and,
    when recorded, ``trajectories.parquet``.

    Returns
    -------
    list of Path
        The files written.
    """
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".stancesim-", dir=target))
    try:
        pq.write_table(replicates_table(result), tmp / "replicates.parquet")
        (tmp / "summary.json").write_text(json.dumps(result.summary(), indent=2) + "\n")
        (tmp / "scenario.resolved.yaml").write_text(dump(result.scenario.canonical()))
        if result.trajectories is not None:
            pq.write_table(trajectories_table(result), tmp / "trajectories.parquet")
        written = []
        for f in sorted(tmp.iterdir()):
            os.replace(f, target / f.name)
            written.append(target / f.name)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
