"""Sweeps: a scenario run at many parameter points, each with its own seed.

A sweep is defined by a base scenario, parameters (dotted paths, as for
``--set``) with their values or bounds, a sampler, replicates per point (or an
adaptive target interval) and a seed. Point ``i`` always gets the seed
``SeedSequence(seed, spawn_key=(1, i))`` (:mod:`sim.seeds`), so results never depend on the
executor, the number of workers or the order in which points finish. The base
scenario is never changed: each point applies its values to a copy.
"""

import json
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sim._version import __version__
from sim.errors import InputError, Problem
from sim.outcomes import summarize
from sim.points import point_scenario
from sim.runner import BLOCK_SIZE, BlockResult, combine, run, run_block
from sim.scenario import UNRESOLVED, Scenario
from sim.stats import wilson_interval

# the definition's names stay importable from here, where they were first
from sim.sweep_definition import ParamSpec as ParamSpec
from sim.sweep_definition import SweepDefinition as SweepDefinition
from sim.sweep_definition import SweepFile as SweepFile
from sim.sweep_definition import build_definition as build_definition
from sim.sweep_definition import definition_hash as definition_hash
from sim.sweep_definition import load_sweep_file as load_sweep_file
from sim.sweep_definition import parse_spec as parse_spec
from sim.yamlio import Located

#: Largest number of points validated one by one before a sweep starts; past
#: it, the first points and every parameter's extremes are validated, and a
#: point that still turns out invalid is recorded as failed.
VALIDATE_ALL_UP_TO = 5_000


# --------------------------------------------------------------------- points
def check_points(
    base: dict[str, Any],
    definition: SweepDefinition,
    points: list[tuple[Any, ...]],
    sweep_file: Located | None = None,
) -> None:
    """Validate points before any work; raise :class:`InputError` on the first bad one.

    With ``sweep_file`` (the sweep file as read), a value the scenario refuses
    is located at its parameter's line, naming the point and the value.
    """
    paths = list(definition.parameters)
    chosen = list(enumerate(points[:VALIDATE_ALL_UP_TO]))
    if len(points) > VALIDATE_ALL_UP_TO:
        # each parameter's extremes, the other values the first point's; an error is
        # reported at the point that holds the extreme
        for j in range(len(paths)):
            keys = [_sort_key(p[j]) for p in points]
            for pick in (min, max):
                k = pick(range(len(points)), key=keys.__getitem__)
                row = list(points[0])
                row[j] = points[k][j]
                chosen.append((k, tuple(row)))
    for index, values in chosen:
        try:
            point_scenario(base, paths, values)
        except InputError as exc:
            if sweep_file is None:
                raise
            raise InputError(_in_sweep_file(exc, sweep_file, paths, index, values)) from None


def _in_sweep_file(
    exc: InputError, located: Located, paths: list[str], index: int, values: tuple[Any, ...]
) -> list[Problem]:
    """The problems of point ``index``, at the sweep file's line of the parameter that caused each.

    A problem names its parameter by its flag (``--param PATH=VALUE``, as
    :func:`sim.points.point_scenario` sets it), or by ``(after --param ...)``
    when a check across fields failed; one that names none is at ``parameters``.
    """
    flags = [f"--param {path}={value}" for path, value in zip(paths, values, strict=True)]
    out: list[Problem] = []
    for p in exc.problems:
        message = p.message
        if " (after --param " in message:
            message = message[: message.rindex(" (after --param ")]
        j = next((j for j, f in enumerate(flags) if p.source == f or _names(p.message, f)), None)
        field = f"{p.path}: " if p.path else ""
        if j is None:
            point = ", ".join(f"{k}={v!r}" for k, v in zip(paths, values, strict=True))
            loc: tuple[str, ...] = ("parameters",)
            text = f"point {index} ({point}): {field}{message}"
        else:
            loc = ("parameters", paths[j])
            text = f"point {index}, value {values[j]!r}: {field}{message}"
        at = located.locate(loc, exact=True)
        problem = Problem(located.source, at.line, at.column, ".".join(loc), text)
        if problem not in out:
            out.append(problem)
    return out


def _names(message: str, flag: str) -> bool:
    """Whether ``message`` ends ``(after ..., FLAG, ...)``."""
    return f"{flag})" in message or f"{flag}, --param " in message


def _sort_key(v: Any) -> Any:
    return (0, v) if isinstance(v, int | float) else (1, json.dumps(v, sort_keys=True))


OUTCOME_FIELDS = ("count", "p", "ci95_lo", "ci95_hi", "time_median", "time_q10", "time_q90")


def columns(base: Scenario, definition: SweepDefinition) -> list[str]:
    """Column names of the points table, in order."""
    cols = ["point", "status", "error", *definition.parameters, "replicates", "seed"]
    for oid in [*base.outcomes, UNRESOLVED]:
        cols += [f"{f}_{oid}" for f in OUTCOME_FIELDS]
    from sim.scenario import Individual, Population

    for aid, a in base.agents.items():
        if not isinstance(a, Individual | Population):
            continue
        # each segment after its population, named as in a run's summary (``pop.segment``)
        parts = [f"{aid}.{g}" for g in a.segments or {}] if isinstance(a, Population) else []
        for name in (aid, *parts):
            cols += [f"p_switch_{name}", f"switch_time_median_{name}"]
    return cols


def _adaptive(sc: Scenario, seed: int, until_ci: float, cap: int) -> Any:
    parts: list[BlockResult] = []
    while True:
        parts.append(run_block(sc, seed, len(parts), BLOCK_SIZE, False))
        n = len(parts) * BLOCK_SIZE
        result = combine(sc, seed, n, parts)
        counts = np.bincount(result.outcome + 1, minlength=len(sc.outcomes) + 1)
        widest = max((hi - lo) / 2 for lo, hi in (wilson_interval(int(c), n) for c in counts))
        if widest <= until_ci or n + BLOCK_SIZE > cap:
            return result


def run_point(task: dict[str, Any]) -> dict[str, Any]:
    """Run one point (in any process); never raises for an error inside the model."""
    index, values = task["point"], task["values"]
    definition = SweepDefinition.model_validate(task["definition"])
    paths = list(definition.parameters)
    seed = definition.point_seed(index)
    row: dict[str, Any] = {"point": index, "status": "ok", "error": None, "seed": seed}
    row.update(dict(zip(paths, values, strict=True)))
    t0 = time.perf_counter()
    try:
        sc = point_scenario(task["base"], paths, values)
        if definition.until_ci is not None:
            result = _adaptive(sc, seed, definition.until_ci, definition.max_replicates)
        else:
            result = run(sc, definition.replicates, seed=seed, jobs=1)
    except InputError as exc:
        row.update(status="failed", error=str(exc), replicates=0)
        return {"row": row, "elapsed": time.perf_counter() - t0}
    except Exception as exc:  # an error inside the model: record it, the sweep goes on
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}", replicates=0)
        return {"row": row, "elapsed": time.perf_counter() - t0}
    summary = summarize(result)
    row["replicates"] = result.replicates
    for oid, o in summary["outcomes"].items():
        row[f"count_{oid}"] = o["count"]
        row[f"p_{oid}"] = o["p"]
        row[f"ci95_lo_{oid}"], row[f"ci95_hi_{oid}"] = o["ci95"]
        row[f"time_median_{oid}"] = o["time_median"]
        row[f"time_q10_{oid}"] = o["time_q10"]
        row[f"time_q90_{oid}"] = o["time_q90"]
    for aid, a in summary["agents"].items():
        row[f"p_switch_{aid}"] = a["p_switch"]
        row[f"switch_time_median_{aid}"] = a["switch_time_median"]
    out: dict[str, Any] = {"row": row, "elapsed": time.perf_counter() - t0}
    if definition.save_replicates:
        out["replicates"] = {
            "point": index,
            "outcome": result.outcome_labels(),
            "time": [None if math.isnan(t) else float(t) for t in result.time],
        }
    return out


def tasks(
    base: dict[str, Any], definition: SweepDefinition, points: list[tuple[Any, ...]], skip: set[int]
) -> Iterator[dict[str, Any]]:
    """The tasks still to run (lazily, so memory stays flat)."""
    dumped = definition.model_dump(mode="json")
    for i, values in enumerate(points):
        if i not in skip:
            yield {"point": i, "values": list(values), "base": base, "definition": dumped}


ProgressFn = Callable[[dict[str, Any]], None]


# ------------------------------------------------------------------- running
def param_types(definition: SweepDefinition, points: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Arrow type of each parameter column: float when every value is a number."""
    import pyarrow as pa

    out = {}
    for j, path in enumerate(definition.parameters):
        numeric = all(isinstance(p[j], int | float) and not isinstance(p[j], bool) for p in points)
        out[path] = pa.float64() if numeric else pa.string()
    return out


def manifest_for(
    base: Scenario, definition: SweepDefinition, scenario_file: str | None
) -> dict[str, Any]:
    """What a sweep folder records about its inputs."""
    return {
        "stancesim_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scenario_file": scenario_file,
        "base_scenario": base.canonical(),
        "base_scenario_sha256": base.sha256(),
        "definition": definition.model_dump(mode="json"),
        "definition_sha256": definition_hash(base, definition),
        "n_points": definition.n_points(),
        "block_size": BLOCK_SIZE,
        "status": "running",
    }


def run_sweep(
    base: Scenario,
    definition: SweepDefinition,
    out: str | Path,
    *,
    jobs: int = 1,
    dask: str | None = None,
    resume: bool = False,
    scenario_file: str | None = None,
    progress: ProgressFn | None = None,
    sweep_file: Located | None = None,
) -> Any:
    """Run (or finish) a sweep into ``out`` and return its points table (pyarrow).

    Parameters
    ----------
    base : Scenario
        The base scenario (not changed).
    definition : SweepDefinition
        Parameters, sampler, replicates, seed.
    out : path
        Results folder; must be empty unless ``resume``.
    jobs : int
        Local worker processes (1: in this process).
    dask : str, optional
        Scheduler address, or ``"local"`` for a LocalCluster.
    resume : bool
        Finish the sweep already in ``out``.
    scenario_file : str, optional
        Recorded in the manifest.
    progress : callable, optional
        Called with each finished point's result.
    sweep_file : Located, optional
        The sweep file as read, where a point's bad value is located.

    Returns
    -------
    pyarrow.Table
        One row per point, sorted by point.
    """
    from sim.executors import make_executor
    from sim.folders import clean_hidden
    from sim.store import SweepStore

    points = definition.point_values()
    base_data = base.canonical()
    store = SweepStore(out, columns(base, definition), param_types(definition, points))
    if resume:
        manifest = SweepStore.read_manifest(out, rebuild=True)
        if manifest["definition_sha256"] != definition_hash(base, definition):
            raise InputError(f"{out}: the sweep given does not match the one in its manifest")
        clean_hidden(Path(out))  # temporary files of a killed writer
        store.adopt(manifest)
        # from here until the end the folder may change: it is not complete
        store.update_manifest(status="running", files=None, failures=None)
        expected = manifest.get("files") if manifest.get("status") == "complete" else None
        done = store.done_points(expected)
    else:
        check_points(base_data, definition, points, sweep_file)
        store.create(manifest_for(base, definition, scenario_file))
        done = set()
    store.open()
    try:
        with make_executor(jobs, dask) as executor:
            for result in executor.map_unordered(
                run_point, tasks(base_data, definition, points, done)
            ):
                store.append(result)
                if progress is not None:
                    progress(result)
    finally:
        store.close()
    store.compact()
    store.drop_partial_views()
    store.update_manifest(status="complete", failures=store.failures(), files=store.files_record())
    return store.table()


def resume_inputs(out: str | Path) -> tuple[Scenario, SweepDefinition, str | None]:
    """Base scenario and definition recorded in a sweep folder."""
    from sim.scenario import scenario_from_dict
    from sim.store import SweepStore

    manifest = SweepStore.read_manifest(out, rebuild=True)
    base = scenario_from_dict(manifest["base_scenario"], source=f"{out}/manifest.json")
    definition = SweepDefinition.model_validate(manifest["definition"])
    return base, definition, manifest.get("scenario_file")


def sweep(
    scenario: Scenario | str | Path,
    parameters: dict[str, Any],
    *,
    out: str | Path,
    sampler: str = "grid",
    points: int | None = None,
    replicates: int = 512,
    seed: int = 0,
    until_ci: float | None = None,
    max_replicates: int = 16 * BLOCK_SIZE,
    save_replicates: bool = False,
    jobs: int = 1,
    dask: str | None = None,
    resume: bool = False,
    progress: ProgressFn | None = None,
) -> Any:
    """Sweep a scenario over parameter points (the Python form of ``stancesim sweep``).

    ``parameters`` maps dotted paths to values: a list, ``"lo:hi:count"``,
    ``"lo:hi"`` (for the samplers) or ``"a,b,c"``. Returns the points table
    (a :class:`pyarrow.Table`; ``.to_pandas()`` for a DataFrame). ``progress``
    is called with each finished point's result. Available as ``sim.sweep``.
    """
    from sim.scenario import load_scenario

    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    fields = {
        "parameters": parameters,
        "sampler": sampler,
        "points": points,
        "replicates": replicates,
        "seed": seed,
        "until_ci": until_ci,
        "max_replicates": max_replicates,
        "save_replicates": save_replicates,
    }
    definition = build_definition(fields, "sweep()")
    file = None if isinstance(scenario, Scenario) else str(scenario)
    return run_sweep(
        base,
        definition,
        out,
        jobs=jobs,
        dask=dask,
        resume=resume,
        scenario_file=file,
        progress=progress,
    )
