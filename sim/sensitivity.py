"""Global sensitivity analysis: which parameters decide the ending (with SALib).

A sensitivity analysis is a sweep whose points come from one of SALib's
designs (Saltelli's for Sobol', Morris's trajectories, a Latin hypercube for
delta) instead of the sweep's samplers. The design is drawn in the unit cube
``[0, 1]^D`` and each column is mapped to its parameter: ``--param
PATH=LO:HI`` linearly, a distribution of the scenario (``--from-scenario``)
through its inverse CDF. Every point then runs as a sweep point does
(:func:`sim.sweeps.run_point`, seeds from :mod:`sim.seeds`) into a sweep store
(:mod:`sim.store`), so a sensitivity folder streams to Parquet, resumes after
``kill -9``, and gives the same table for any ``--jobs`` and on dask. The
indices are computed afterwards by :mod:`sim.sensitivity_analysis`.

The folder's manifest is a sweep manifest with two additions: ``kind:
sensitivity`` and ``sensitivity`` (the design). Its ``definition`` holds the
parameters' ranges, replicates and seed; its ``definition_sha256`` covers the
design too, so ``stancesim sweep --resume`` refuses such a folder rather than
adding points of another design to it.
"""

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.errors import InputError, Problem
from sim.scenario import Population, Scenario
from sim.sweep_definition import SweepDefinition
from sim.sweeps import check_points, columns, manifest_for, param_types
from sim.yamlio import Located

Array = np.ndarray[Any, Any]

#: The message when the optional ``analysis`` extra is missing.
ANALYSIS_MISSING = 'SALib is not installed: python -m pip install -e ".[analysis]"'
METHODS = ("sobol", "morris", "delta")
#: Base samples when -N is not given: Saltelli's N (a power of two), Morris
#: trajectories, delta's Latin hypercube points.
DEFAULT_BASE = {"sobol": 128, "morris": 16, "delta": 256}
#: Quantiles at which an unbounded distribution is cut: Morris's levels include
#: 0 and 1, whose inverse CDF would be infinite.
TAIL = 1e-3


def require_salib() -> None:
    """Raise :class:`InputError` with the one-line install hint when SALib is missing."""
    try:
        import SALib  # noqa: F401
    except ImportError:
        raise InputError(ANALYSIS_MISSING) from None


# --------------------------------------------------------------------- inputs
class Input(BaseModel):
    """One input of the analysis: a range ``[low, high]`` or a scenario distribution."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    path: str
    low: float | None = None
    high: float | None = None
    dist: dict[str, Any] | None = Field(
        None, description="The scenario's distribution (sampled through its inverse CDF)."
    )

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if (self.dist is None) == (self.low is None or self.high is None):
            raise ValueError(f"{self.path}: give either bounds low:high or a distribution")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"{self.path}: low {self.low} must be below high {self.high}")
        return self

    def values(self, u: Array) -> Array:
        """The parameter's values at unit-cube coordinates ``u`` (inverse CDF)."""
        u = np.asarray(u, dtype=float)
        if self.dist is None:
            assert self.low is not None and self.high is not None
            return self.low + u * (self.high - self.low)
        return inverse_cdf(self.dist, u)


def inverse_cdf(dist: dict[str, Any], u: Array) -> Array:
    """Quantiles of a scenario distribution (as written in YAML) at ``u`` in ``[0, 1]``.

    Unbounded distributions are cut at the quantiles :data:`TAIL` and
    ``1 - TAIL`` (Morris's levels reach 0 and 1); a clipped normal is clipped
    after, as the scenario does.
    """
    from scipy import stats

    if "uniform" in dist:
        lo, hi = dist["uniform"]
        return lo + u * (hi - lo)
    if "triangular" in dist:
        lo, mode, hi = dist["triangular"]
        if hi == lo:
            return np.full_like(u, lo)
        return np.asarray(stats.triang.ppf(u, (mode - lo) / (hi - lo), loc=lo, scale=hi - lo))
    if "beta" in dist:
        return np.asarray(stats.beta.ppf(u, *dist["beta"]))
    if "choice" in dist:
        values = np.asarray(dist["choice"], dtype=float)
        p = np.asarray(dist.get("p") or [1 / len(values)] * len(values))
        idx = np.searchsorted(np.cumsum(p), np.clip(u, 0, 1) * (1 - 1e-12), side="right")
        return values[np.minimum(idx, len(values) - 1)]
    cut = np.clip(u, TAIL, 1 - TAIL)
    if dist.get("truncate") is not None:  # the scenario's own truncated inverse CDF
        from pydantic import TypeAdapter

        from sim.distributions import Param

        return TypeAdapter(Param).validate_python(dist).ppf(cut)
    if "normal" in dist:
        mean, sd = dist["normal"]
        x = np.asarray(stats.norm.ppf(cut, loc=mean, scale=sd)) if sd > 0 else np.full_like(u, mean)
        clip = dist.get("clip")
        return np.clip(x, clip[0], clip[1]) if clip else x
    if "lognormal" in dist:
        mu, sigma = dist["lognormal"]
        return np.exp(mu + sigma * np.asarray(stats.norm.ppf(cut)))
    raise ValueError(f"unknown distribution {dist!r}")


_DIST_KEYS = ("uniform", "normal", "beta", "triangular", "lognormal", "choice")


def _distributions(data: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict]]:
    """Every distribution in a scenario's canonical data, with its path (rules by id if any)."""
    found: list[tuple[tuple[str, ...], dict]] = []
    if isinstance(data, dict):
        if any(k in data and data[k] is not None for k in _DIST_KEYS):
            return [(path, {k: v for k, v in data.items() if v is not None})]
        for k, v in data.items():
            found += _distributions(v, (*path, str(k)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            name = v.get("id") if isinstance(v, dict) else None
            found += _distributions(v, (*path, str(name if name is not None else i)))
    return found


def _key(part: str) -> str | int:
    return int(part) if part.isdigit() else part


def scenario_inputs(
    sc: Scenario, source: str, located: Located | None = None, *, per_person: str = "refuse"
) -> list[Input]:
    """The scenario's per-replicate distributions as inputs (``--from-scenario``).

    ``per_person="skip"`` leaves distributions drawn per person out instead of
    refusing them (the gallery ranks what it can vary).

    Raises
    ------
    InputError
        A distribution is drawn per person (a population's threshold or
        resistance): it has no single value per replicate to vary.

    Notes
    -----
    A correlated parameter (``correlations``) is an input like any other: each
    point sets it to a number, which takes it out of its correlation (see
    :func:`sim.scenario.schema_correlations.release_constants`), so the design
    varies the inputs independently, as SALib's methods assume.
    """
    inputs, problems = [], []
    for path, dist in _distributions(sc.canonical()):
        dotted = ".".join(path)
        agent = sc.agents.get(path[1]) if len(path) > 1 and path[0] == "agents" else None
        if isinstance(agent, Population) and path[2:3] == ("rule",):
            if path[3] in ("threshold", "resistance"):
                if per_person == "skip":
                    continue
                line = col = None
                if located is not None:
                    at = located.locate(tuple(_key(k) for k in path), exact=True)
                    line, col = at.line, at.column
                problems.append(
                    Problem(
                        source,
                        line,
                        col,
                        dotted,
                        "drawn per person, so --from-scenario cannot vary it as one input; set it "
                        f"to a number (--set {dotted}=VALUE) or vary its parameters with --param "
                        f"{dotted}.{next(iter(dist))}.0=LO:HI",
                    )
                )
                continue
        inputs.append(Input(path=dotted, dist=dist))
    if problems:
        raise InputError(problems)
    if not inputs and per_person == "refuse":
        raise InputError(f"{source}: --from-scenario found no distribution in the scenario")
    return inputs


# --------------------------------------------------------------------- design
class Design(BaseModel):
    """What a sensitivity analysis runs: method, inputs, budget and seed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["sobol", "morris", "delta"]
    inputs: list[Input] = Field(min_length=1)
    base_samples: int = Field(ge=2, description="Saltelli's N, Morris trajectories, delta points.")
    second_order: bool = False
    num_levels: int = Field(4, ge=2, description="Morris grid levels.")
    replicates: int = Field(512, ge=2)
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        paths = [i.path for i in self.inputs]
        twice = sorted({p for p in paths if paths.count(p) > 1})
        if twice:
            raise ValueError(f"parameter given twice: {', '.join(twice)}")
        if self.method == "sobol" and len(self.inputs) < 2:
            raise ValueError("Sobol' indices need at least two parameters")
        return self

    def problem(self) -> dict[str, Any]:
        """SALib's problem: the unit cube, one dimension per input."""
        return {
            "num_vars": len(self.inputs),
            "names": [i.path for i in self.inputs],
            "bounds": [[0.0, 1.0]] * len(self.inputs),
        }

    def unit_points(self) -> Array:
        """The design in the unit cube, drawn by SALib from the design stream."""
        require_salib()
        from SALib.sample import latin, morris
        from SALib.sample import sobol as saltelli

        from sim.seeds import sensitivity_design_rng

        rng = sensitivity_design_rng(self.seed)
        problem, n = self.problem(), self.base_samples
        if self.method == "sobol":
            x = saltelli.sample(problem, n, calc_second_order=self.second_order, seed=rng)
        elif self.method == "morris":
            x = morris.sample(problem, n, num_levels=self.num_levels, seed=rng)
        else:
            x = latin.sample(problem, n, seed=rng)
        return np.asarray(x, dtype=float)

    def points(self, unit: Array | None = None) -> list[tuple[float, ...]]:
        """Every point's parameter values, in point order."""
        unit = self.unit_points() if unit is None else unit
        cols = [inp.values(unit[:, j]) for j, inp in enumerate(self.inputs)]
        return [tuple(float(v) for v in row) for row in zip(*cols, strict=True)]

    def definition(self, points: list[tuple[float, ...]]) -> SweepDefinition:
        """The sweep definition its points run under (ranges, replicates, seed)."""
        lows = np.min(np.asarray(points), axis=0)
        highs = np.max(np.asarray(points), axis=0)
        params = {
            inp.path: {"low": float(lo), "high": float(hi)}
            for inp, lo, hi in zip(self.inputs, lows, highs, strict=True)
        }
        return SweepDefinition.model_validate(
            {
                "parameters": params,
                "sampler": "random",
                "points": len(points),
                "replicates": self.replicates,
                "seed": self.seed,
            }
        )


def design_hash(base: Scenario, design: Design) -> str:
    """Hash of a sensitivity analysis: the resolved base scenario and the design."""
    text = json.dumps(
        {"base": base.sha256(), "sensitivity": design.model_dump(mode="json")},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()


def outputs(base: Scenario) -> list[str]:
    """Columns analysed: each outcome's probability, and its median time."""
    from sim.scenario import UNRESOLVED

    return [
        *(f"p_{o}" for o in [*base.outcomes, UNRESOLVED]),
        *(f"time_median_{o}" for o in base.outcomes),
    ]


# -------------------------------------------------------------------- running
def run_design(
    base: Scenario,
    design: Design,
    out: str | Path,
    *,
    jobs: int = 1,
    dask: str | None = None,
    resume: bool = False,
    scenario_file: str | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> Any:
    """Run (or finish) a sensitivity design into the sweep store ``out``; return its table.

    The same steps as :func:`sim.sweeps.run_sweep` (journal, parts, resume,
    compaction), with the design's points instead of a sampler's and the
    design recorded in the manifest.

    Returns
    -------
    pyarrow.Table
        One row per point, sorted by point.
    """
    from sim.executors import make_executor
    from sim.folders import clean_hidden
    from sim.store import SweepStore
    from sim.sweeps import run_point, tasks

    points = design.points()
    definition = design.definition(points)
    base_data = base.canonical()
    digest = design_hash(base, design)
    store = SweepStore(out, columns(base, definition), param_types(definition, points))
    record = {"kind": "sensitivity", "sensitivity": design.model_dump(mode="json")}
    if resume:
        manifest = SweepStore.read_manifest(out, rebuild=True)
        if manifest.get("definition_sha256") != digest:
            raise InputError(
                f"{out}: the sensitivity analysis given does not match the one in its manifest"
            )
        clean_hidden(Path(out))  # temporary files of a killed writer
        store.adopt(manifest)
        # a manifest rebuilt from the parts lacks the design: put it back
        store.update_manifest(status="running", files=None, failures=None, **record)
        expected = manifest.get("files") if manifest.get("status") == "complete" else None
        done = store.done_points(expected)
    else:
        check_points(base_data, definition, points)
        manifest = manifest_for(base, definition, scenario_file)
        store.create({**manifest, **record, "definition_sha256": digest})
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
    store.update_manifest(status="complete", failures=store.failures(), files=store.files_record())
    return store.table()


def read_design(manifest: dict[str, Any], root: str | Path) -> Design:
    """The design recorded in a sensitivity folder's manifest."""
    if manifest.get("kind") != "sensitivity" or "sensitivity" not in manifest:
        raise InputError(
            f"{root}: not a sensitivity folder (its manifest records no sensitivity design)"
        )
    return Design.model_validate(manifest["sensitivity"])
