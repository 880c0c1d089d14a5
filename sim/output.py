"""Writing run results: the functions of earlier versions, kept for their callers.

The run folder's format lives in :mod:`sim.results` (:meth:`RunResult.write`,
:meth:`RunResult.read`, :meth:`RunResult.to_arrow`); these names only forward
to it.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from sim.results import RunResult


def replicates_table(result: RunResult) -> pa.Table:
    """One row per replicate (:meth:`RunResult.to_arrow`)."""
    return result.to_arrow()


def trajectories_table(result: RunResult) -> pa.Table:
    """One row per replicate and tick while it ran (:meth:`RunResult.to_arrow`)."""
    return result.to_arrow(trajectories=True)


def write_run(result: RunResult, out: str | Path, overwrite: bool = False) -> list[Path]:
    """Write the run's files into a new folder ``out`` (:meth:`RunResult.write`)."""
    return result.write(out, overwrite)
