"""The result of a run, as arrays, as Arrow or pandas tables, and as a run folder.

:class:`RunResult` is what :func:`sim.run` returns and what ``stancesim run
--out`` writes: one row per replicate (outcome, time, each individual's switch
time and final position, each population's final fraction and half time),
optionally per-tick trajectories, and what produced them (scenario, seed,
version, users' processes). A run folder holds ``replicates.parquet``,
``summary.json``, ``scenario.resolved.yaml``, when recorded
``trajectories.parquet``, and last ``run.json`` (:mod:`sim.folders`), which
:meth:`RunResult.read` checks before reading anything.

pyarrow is imported only when tables or files are asked for.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim._version import __version__
from sim.outcomes import summarize
from sim.scenario import UNRESOLVED, Individual, Scenario, load_scenario

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

Array = np.ndarray[Any, Any]
PathLike = str | os.PathLike[str]

_PANDAS_MISSING = (
    "to_pandas() needs pandas, which stancesim does not install: python -m pip install pandas "
    "(or use to_arrow(), which needs nothing more)"
)


@dataclass(frozen=True, eq=False, repr=False)
class RunResult:
    """Per-replicate results of a run, with what produced them.

    Replicate ``K`` is row ``K`` of every array. Frozen: a result is a record of
    a run; its arrays are shared, not copied, so do not write into them.
    """

    scenario: Scenario
    seed: int
    replicates: int
    outcome_names: list[str]
    individuals: list[str]
    populations: list[str]
    outcome: Array  # (n,) index into outcome_names, -1 for unresolved
    time: Array  # (n,) hours, NaN when unresolved
    switch_time: Array  # (n, individuals)
    final_pos: Array  # (n, individuals)
    half_time: Array  # (n, populations)
    final_fraction: Array  # (n, populations)
    #: per-tick history (``record=True``): column names to arrays; a run
    #: streams it to a Parquet file and reads columns back when asked
    #: (:class:`Trajectories`), so that it never sits in memory whole
    trajectories: Mapping[str, Array] | None = None
    processes: list[dict[str, Any]] | None = None  # where users' processes came from
    version: str = __version__

    def __repr__(self) -> str:
        traj = ", with trajectories" if self.trajectories is not None else ""
        return (
            f"<RunResult {self.scenario.name!r}: {self.replicates} replicates, "
            f"seed {self.seed}, outcomes {self.outcome_names}{traj}>"
        )

    @property
    def scenario_sha256(self) -> str:
        """Hash of the resolved scenario."""
        return self.scenario.sha256()

    def outcome_labels(self) -> list[str]:
        """Outcome id of each replicate (``unresolved`` when none)."""
        names = [*self.outcome_names, UNRESOLVED]
        return [names[i] for i in self.outcome]

    def position_names(self, i: int) -> list[str]:
        """Positions of individual ``i``."""
        a = self.scenario.agents[self.individuals[i]]
        assert isinstance(a, Individual)
        return a.positions

    def summary(self) -> dict[str, Any]:
        """The JSON summary (see :func:`sim.outcomes.summarize`), computed once."""
        cached: dict[str, Any] | None = self.__dict__.get("_summary")
        if cached is None:
            cached = summarize(self)
            object.__setattr__(self, "_summary", cached)  # a cache, not a field
        return cached

    # ------------------------------------------------------------------ tables
    def to_arrow(self, trajectories: bool = False) -> pa.Table:
        """One row per replicate (or with ``trajectories``, per replicate and tick).

        Columns as in ``replicates.parquet`` / ``trajectories.parquet``: outcomes
        and positions are dictionary-encoded names; the schema's metadata carries
        the scenario's sha256, the seed and the version.

        Raises
        ------
        ValueError
            ``trajectories`` asked for a run that did not record them.
        """
        if trajectories:
            if self.trajectories is None:
                raise ValueError("this run recorded no trajectories: run it with record=True")
            if isinstance(self.trajectories, Trajectories):
                return self.trajectories.table()
            return _trajectories_table(self)
        return _replicates_table(self)

    def to_pandas(self, trajectories: bool = False) -> pd.DataFrame:
        """:meth:`to_arrow` as a pandas DataFrame (pandas is optional: ImportError when absent)."""
        try:
            import pandas  # noqa: F401
        except ImportError:
            raise ImportError(_PANDAS_MISSING) from None
        return self.to_arrow(trajectories).to_pandas()

    # ------------------------------------------------------------------- files
    def write(self, out: PathLike, overwrite: bool = False) -> list[Path]:
        """Write the run into a new folder ``out``, sealed with ``run.json``.

        The folder is built beside ``out`` and renamed into place
        (:func:`sim.folders.building`), so an interrupted write never leaves a
        half-written folder, or one that mixes two runs, under its name.

        Parameters
        ----------
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
        import pyarrow.parquet as pq

        from sim.folders import building
        from sim.yamlio import dump

        target = Path(out)
        with building(target, overwrite, "run") as tmp:
            pq.write_table(_replicates_table(self), tmp / "replicates.parquet")
            (tmp / "summary.json").write_text(json.dumps(self.summary(), indent=2) + "\n")
            (tmp / "scenario.resolved.yaml").write_text(dump(self.scenario.canonical()))
            if isinstance(self.trajectories, Trajectories):
                self.trajectories.copy_to(tmp / "trajectories.parquet")
            elif self.trajectories is not None:
                pq.write_table(_trajectories_table(self), tmp / "trajectories.parquet")
            names = sorted(p.name for p in tmp.iterdir())
        return [target / n for n in names] + [target / "run.json"]

    @classmethod
    def read(cls, folder: PathLike) -> RunResult:
        """The run written in ``folder`` by :meth:`write` (or ``stancesim run --out``).

        Raises
        ------
        InputError
            ``folder`` is not a complete run folder, or its files do not match
            its ``run.json`` (a partial, mixed or edited folder is never read).
        """
        import pyarrow.parquet as pq

        from sim.folders import check_complete

        path = Path(folder)
        check_complete(path, "run")
        scenario = load_scenario(path / "scenario.resolved.yaml")
        summary = json.loads((path / "summary.json").read_text())
        table = pq.read_table(path / "replicates.parquet")
        names = table.column_names
        individuals = [c.removesuffix(".switch_time") for c in names if c.endswith(".switch_time")]
        populations = [
            c.removesuffix(".final_fraction_switched")
            for c in names
            if c.endswith(".final_fraction_switched")
        ]
        outcome_names = list(scenario.outcomes)
        code = {n: i for i, n in enumerate(outcome_names)} | {UNRESOLVED: -1}
        n = table.num_rows

        def floats(column: str) -> Array:
            return np.asarray(table.column(column).to_numpy(), dtype=np.float64)

        def stack(columns: list[str]) -> Array:
            return np.stack([floats(c) for c in columns], axis=1) if columns else np.empty((n, 0))

        final_pos = np.zeros((n, len(individuals)), dtype=np.int16)
        for i, aid in enumerate(individuals):
            agent = scenario.agents[aid]
            assert isinstance(agent, Individual)
            index = {p: k for k, p in enumerate(agent.positions)}
            final_pos[:, i] = [index[p] for p in table.column(f"{aid}.final").to_pylist()]
        traj = None
        if (path / "trajectories.parquet").exists():
            t = pq.read_table(path / "trajectories.parquet")
            traj = {c: trajectory_numbers(t.column(c), scenario, c) for c in t.column_names}
        return cls(
            scenario=scenario,
            seed=int(summary["seed"]),
            replicates=int(summary["replicates"]),
            outcome_names=outcome_names,
            individuals=individuals,
            populations=populations,
            outcome=np.array([code[o] for o in table.column("outcome").to_pylist()], np.int64),
            time=floats("time"),
            switch_time=stack([f"{a}.switch_time" for a in individuals]),
            final_pos=final_pos,
            half_time=stack([f"{p}.half_time" for p in populations]),
            final_fraction=stack([f"{p}.final_fraction_switched" for p in populations]),
            trajectories=traj,
            processes=summary.get("processes"),
            version=str(summary["version"]),
        )


# ---------------------------------------------------------------- Arrow tables
def _replicates_table(result: RunResult) -> pa.Table:
    import pyarrow as pa

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
    return pa.table(cols).replace_schema_metadata(_metadata(result))


def _trajectories_table(result: RunResult) -> pa.Table:
    assert result.trajectories is not None
    positions = [result.position_names(i) for i in range(len(result.individuals))]
    return trajectory_table(result.trajectories, result.individuals, positions, _metadata(result))


def trajectory_table(
    columns: Mapping[str, Array],
    individuals: Sequence[str],
    positions: Sequence[Sequence[str]],
    metadata: dict[str, str],
) -> pa.Table:
    """The Arrow table of trajectory columns (as ``trajectories.parquet`` holds them)."""
    # an individual's position becomes a dictionary column of its position
    # names, so that readers get names, not bare integer codes
    import pyarrow as pa

    cols: dict[str, Any] = dict(columns)
    for aid, names in zip(individuals, positions, strict=True):
        key = f"{aid}.position"
        if key in cols:
            codes = np.asarray(cols[key], dtype=float)
            missing = np.isnan(codes)
            indices = pa.array(
                np.where(missing, 0, codes).astype(np.int32), mask=missing, type=pa.int32()
            )
            cols[key] = pa.DictionaryArray.from_arrays(indices, pa.array(names, type=pa.string()))
    return pa.table(cols).replace_schema_metadata(metadata)


def _metadata(result: RunResult) -> dict[str, str]:
    return run_metadata(result.scenario, result.seed, result.processes, result.version)


def run_metadata(
    scenario: Scenario,
    seed: int,
    processes: list[dict[str, Any]] | None = None,
    version: str = __version__,
) -> dict[str, str]:
    """The metadata of a run's Parquet files: what produced them."""
    meta = {
        "stancesim.scenario_sha256": scenario.sha256(),
        "stancesim.seed": str(seed),
        "stancesim.version": version,
    }
    if processes:
        meta["stancesim.processes"] = json.dumps(processes)
    return meta


# ------------------------------------------------------- streamed trajectories
class Trajectories(Mapping[str, Array]):
    """Trajectories held in a Parquet file, each column read when it is asked for.

    A recorded run writes them as it goes (:class:`TrajectoryWriter`), so that
    memory stays flat whatever the number of replicates. The file lives in a
    temporary folder, removed when this object is garbage-collected;
    :meth:`RunResult.write` copies it into the run folder.
    """

    def __init__(self, path: Path, scenario: Scenario, names: list[str], rows: int) -> None:
        self.path = path
        self.rows = rows  #: one per replicate and tick it was running
        self._scenario = scenario
        self._names = names
        self._finalizer = weakref.finalize(self, shutil.rmtree, path.parent, True)

    def __getitem__(self, name: str) -> Array:
        import pyarrow.parquet as pq

        if name not in self._names:
            raise KeyError(name)
        column = pq.read_table(self.path, columns=[name]).column(name)
        return trajectory_numbers(column, self._scenario, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def table(self) -> pa.Table:
        """The whole table, as ``trajectories.parquet`` holds it."""
        import pyarrow.parquet as pq

        return pq.read_table(self.path)

    def copy_to(self, target: Path) -> None:
        """Put the file at ``target`` (a hard link where the file system allows one)."""
        try:
            os.link(self.path, target)
        except OSError:
            shutil.copyfile(self.path, target)


class TrajectoryWriter:
    """Writes a run's trajectories to a temporary Parquet file, part after part.

    Parts are added in replicate order (block after block), so the file holds
    exactly the rows, in the order, that one table of the whole run would.

    Parameters
    ----------
    scenario : Scenario
    individuals : list of str
        The individuals, in the plan's order (their positions become names).
    metadata : dict
        The file's schema metadata (:func:`run_metadata`).
    """

    def __init__(
        self, scenario: Scenario, individuals: list[str], metadata: dict[str, str]
    ) -> None:
        self.scenario = scenario
        self.individuals = individuals
        self.positions = [_positions(scenario, aid) for aid in individuals]
        self.metadata = metadata
        self.folder = Path(tempfile.mkdtemp(prefix="stancesim-trajectories-"))
        self.path = self.folder / "trajectories.parquet"
        self._writer: Any = None
        self._names: list[str] = []
        self._rows = 0

    def add(self, columns: Mapping[str, Array] | None) -> None:
        """Append one part (a block or a batch of blocks)."""
        if columns is None:
            return
        import pyarrow.parquet as pq

        table = trajectory_table(columns, self.individuals, self.positions, self.metadata)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema)
            self._names = list(table.column_names)
        self._writer.write_table(table)
        self._rows += table.num_rows

    def close(self) -> Trajectories | None:
        """Finish the file; None when nothing was recorded."""
        if self._writer is None:
            self.abort()
            return None
        self._writer.close()
        return Trajectories(self.path, self.scenario, self._names, self._rows)

    def abort(self) -> None:
        """Remove the file (of a run that did not finish)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        shutil.rmtree(self.folder, ignore_errors=True)


def _positions(scenario: Scenario, aid: str) -> list[str]:
    agent = scenario.agents[aid]
    assert isinstance(agent, Individual)
    return list(agent.positions)


def trajectory_numbers(column: Any, scenario: Scenario, name: str) -> Array:
    """A trajectory column as numbers; position names back to their indices (NaN: none)."""
    import pyarrow as pa

    if not pa.types.is_dictionary(column.type):
        return np.asarray(column.to_numpy())
    agent = scenario.agents.get(name.rsplit(".", 1)[0])
    positions = agent.positions if isinstance(agent, Individual) else []
    index = {p: float(i) for i, p in enumerate(positions)}
    parts = [np.empty(0)]
    for chunk in column.chunks:
        lookup = np.array([index.get(v, np.nan) for v in chunk.dictionary.to_pylist()] + [np.nan])
        k = chunk.indices.fill_null(len(lookup) - 1).to_numpy(zero_copy_only=False)
        parts.append(lookup[k])
    return np.concatenate(parts)
