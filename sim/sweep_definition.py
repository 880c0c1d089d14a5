"""What a sweep runs: swept parameters' values, the sampler, replicates and seed; sweep files.

Everything a sweep's results depend on is a :class:`SweepDefinition` (hashed
into the results' manifest, :func:`definition_hash`); a sweep file
(``kind: sweep``) and the command line's flags are validated into one
(:func:`build_definition`), with located errors. Running it is
:mod:`sim.sweeps`.
"""

import hashlib
import json
import math
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim import sample
from sim.errors import InputError, Problem
from sim.runner import BLOCK_SIZE
from sim.scenario import Scenario, problems_from_validation
from sim.seeds import design_rng, sweep_point_seed
from sim.yamlio import Located, load_file, plain

#: Most points a sweep may have: its points are listed (and the first thousands
#: validated) before any work, and each point runs at least a block of replicates.
MAX_POINTS = 1_000_000


class ParamSpec(BaseModel):
    """Values of one swept parameter: a list, a range with a count, or bounds."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    values: list[Any] | None = None
    low: float | None = None
    high: float | None = None
    count: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if self.values is not None:
            if self.low is not None or self.high is not None or self.count is not None:
                raise ValueError("give either values or low:high[:count], not both")
            if not self.values:
                raise ValueError("values must not be empty")
        elif self.low is None or self.high is None:
            raise ValueError("expected values (a,b,c) or bounds low:high[:count]")
        elif self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        return self

    def grid_values(self) -> list[Any]:
        """The values of this parameter on a grid."""
        if self.values is not None:
            return list(self.values)
        if self.count is None:
            raise ValueError("a grid needs values or low:high:count, got bounds only")
        assert self.low is not None and self.high is not None
        vals = np.linspace(self.low, self.high, self.count)
        if float(self.low).is_integer() and float(self.high).is_integer():
            if np.allclose(vals, np.round(vals)):
                return [int(v) for v in np.round(vals)]
        return [float(v) for v in vals]

    def bounds(self) -> tuple[float, float]:
        """Bounds for the samplers."""
        if self.low is None or self.high is None:
            raise ValueError("random, lhs and sobol samplers need bounds low:high")
        return (self.low, self.high)


def _spec(**fields: Any) -> ParamSpec:
    """A ParamSpec, its validation errors as one plain ValueError (no pydantic dump)."""
    try:
        return ParamSpec(**fields)
    except ValidationError as exc:
        msgs = (str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise ValueError("; ".join(msgs)) from None


def parse_spec(text: Any) -> ParamSpec:
    """Parse ``0.5,0.7,0.9``, ``0.5:0.95:10``, ``0.5:0.95`` or a YAML list."""
    if isinstance(text, ParamSpec):
        return text
    if isinstance(text, list):
        return _spec(values=text)
    if isinstance(text, int | float) and not isinstance(text, bool):
        return _spec(values=[text])
    if not isinstance(text, str):
        raise ValueError(f"expected a list, a,b,c or low:high[:count], got {text!r}")
    s = text.strip()
    if s.startswith("["):
        from sim.yamlio import parse_value

        value = parse_value(s, "spec")
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {s!r}")
        return _spec(values=list(value))
    if ":" in s and "{" not in s:
        parts = s.split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"expected low:high or low:high:count, got {s!r}")
        try:
            low, high = float(parts[0]), float(parts[1])
            count = int(parts[2]) if len(parts) == 3 else None
        except ValueError:
            raise ValueError(f"expected numbers in low:high[:count], got {s!r}") from None
        return _spec(low=low, high=high, count=count)
    from sim.yamlio import parse_value

    return _spec(values=[parse_value(v, "spec") for v in s.split(",")])


class SweepDefinition(BaseModel):
    """What a sweep runs; everything that its results depend on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    parameters: dict[str, ParamSpec] = Field(min_length=1)
    sampler: Literal["grid", "random", "lhs", "sobol"] = "grid"
    points: int | None = Field(None, ge=1, description="Points for random, lhs, sobol.")
    replicates: int = Field(512, ge=1, description="Replicates per point (fixed).")
    seed: int = Field(0, ge=0)
    until_ci: float | None = Field(
        None, gt=0, lt=0.5, description="Add blocks until every 95% half-width is at most this."
    )
    max_replicates: int = Field(16 * BLOCK_SIZE, ge=1, description="Cap for until_ci.")
    save_replicates: bool = False

    @model_validator(mode="after")
    def _sampler_needs(self) -> Self:
        for loc, msg in option_problems(self.parameters, self.sampler, self.points):
            raise ValueError(f"{loc[1]}: {msg}" if len(loc) == 2 else msg)
        return self

    def n_points(self) -> int:
        """Number of points."""
        if self.sampler == "grid":
            return math.prod(len(s.grid_values()) for s in self.parameters.values())
        assert self.points is not None
        return self.points

    def point_values(self) -> list[tuple[Any, ...]]:
        """Every point's parameter values, in point order."""
        specs = list(self.parameters.values())
        if self.sampler == "grid":
            return sample.grid([s.grid_values() for s in specs])
        assert self.points is not None
        rng = design_rng(self.seed)
        unit = sample.unit_points(self.sampler, len(specs), self.points, rng)
        lows, highs = zip(*(s.bounds() for s in specs), strict=True)
        return [tuple(float(v) for v in row) for row in sample.scale(unit, lows, highs)]

    def point_seed(self, index: int) -> int:
        """Seed of point ``index`` (independent of everything but the sweep seed)."""
        return sweep_point_seed(self.seed, index)


def option_problems(
    parameters: dict[str, ParamSpec], sampler: str, points: int | None
) -> list[tuple[tuple[str, ...], str]]:
    """What the sampler needs and the parameters or ``points`` lack, each with its field."""
    out: list[tuple[tuple[str, ...], str]] = []
    if sampler == "grid":
        if points is not None:
            msg = "points is for random, lhs and sobol; a grid has its own size"
            out.append((("points",), msg))
        for path, spec in parameters.items():
            if spec.values is None and spec.count is None:
                out.append((("parameters", path), "a grid needs values or low:high:count"))
    else:
        if points is None:
            out.append((("sampler",), f"sampler {sampler} needs points"))
        for path, spec in parameters.items():
            if spec.low is None:
                out.append((("parameters", path), f"sampler {sampler} needs bounds low:high"))
    return out


def size_problems(
    parameters: dict[str, ParamSpec], sampler: str, points: int | None
) -> list[tuple[tuple[str, ...], str]]:
    """Sweeps past :data:`MAX_POINTS`, found before any point is listed."""
    limit = f"a sweep has at most {MAX_POINTS:,} points"
    if sampler != "grid":
        if points is not None and points > MAX_POINTS:
            return [(("points",), f"{points:,} points; {limit}")]
        return []
    out: list[tuple[tuple[str, ...], str]] = []
    for path, spec in parameters.items():
        if spec.count is not None and spec.count > MAX_POINTS:
            out.append((("parameters", path), f"count {spec.count:,}; {limit}"))
    if not out:
        total = math.prod(
            len(s.values) if s.values is not None else s.count or 1 for s in parameters.values()
        )
        if total > MAX_POINTS:
            why = "the grid's size is the product of its parameters' counts"
            out.append((("parameters",), f"a grid of {total:,} points; {limit} ({why})"))
    return out


def definition_hash(base: Scenario, definition: SweepDefinition) -> str:
    """Hash of a sweep: the resolved base scenario and the definition."""
    text = json.dumps(
        {"base": base.sha256(), "definition": definition.model_dump(mode="json")},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------- sweep files
class SweepFile(BaseModel):
    """A sweep file (``kind: sweep``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["sweep"]
    name: str | None = None
    description: str | None = None
    scenario: str = Field(description="Scenario file, relative to this file.")
    set: list[str] = Field(default_factory=list, description="PATH=VALUE overrides of the base.")
    parameters: dict[str, Any] = Field(min_length=1)
    sampler: Literal["grid", "random", "lhs", "sobol"] = "grid"
    points: int | None = None
    replicates: int = 512
    seed: int = 0
    until_ci: float | None = None
    max_replicates: int = 16 * BLOCK_SIZE
    save_replicates: bool = False


def load_sweep_file(
    path: str | Path, located: Located | None = None
) -> tuple[Path, list[str], dict[str, Any]]:
    """Read a sweep file: its scenario path, base overrides and definition fields."""
    located = load_file(path) if located is None else located
    try:
        sf = SweepFile.model_validate(plain(located.data))
    except ValidationError as exc:
        raise InputError(problems_from_validation(exc, located)) from None
    scenario = (Path(path).parent / sf.scenario).resolve()
    fields = sf.model_dump(exclude={"kind", "name", "description", "scenario", "set"})
    return scenario, list(sf.set), fields


def load_sweep(
    path: str | Path, sets: list[str] | None = None
) -> tuple[Scenario, Path, dict[str, Any], Located]:
    """Read a sweep file and its base scenario (with ``sets`` after the file's own ``set``).

    Returns the base, its file, the definition's fields and the sweep file as
    read. A base that cannot be read, or a ``set`` entry it refuses, is the
    sweep file's mistake: located at its ``scenario`` line or ``set`` item.
    """
    from sim.scenario import load_scenario

    located = load_file(path)
    scenario, file_sets, fields = load_sweep_file(path, located)
    try:
        base = load_scenario(scenario, [*file_sets, *(sets or [])])
    except InputError as exc:
        raise InputError(
            [_in_sweep_file(p, located, str(scenario), file_sets) for p in exc.problems]
        ) from None
    return base, scenario, fields, located


def _in_sweep_file(p: Problem, located: Located, scenario: str, sets: list[str]) -> Problem:
    """``p``, from loading the base, moved to the sweep file's line that caused it."""
    if p.source == scenario and p.line is None:
        where = located.locate(("scenario",), exact=True)
        return Problem(located.source, where.line, where.column, "scenario", p.message)
    for i, s in enumerate(sets):
        if p.source == f"--set {s}":
            where = located.locate(("set", i), exact=True)
            field = f"set.{i}" + (f": {p.path}" if p.path else "")
            return Problem(located.source, where.line, where.column, field, p.message)
    return p


def build_definition(
    fields: dict[str, Any],
    source: str,
    located: Located | None = None,
    flags: Collection[str] = (),
) -> SweepDefinition:
    """Validate sweep fields (from a file and/or flags) into a definition.

    With ``located`` (the sweep file as read), problems carry its line and
    column, except those in ``flags``, the fields given on the command line,
    which are named by their flag.
    """

    def problem(loc: tuple[str | int, ...], msg: str) -> Problem:
        return _problem(loc, msg, source, located, flags)

    params = {}
    for path, spec in fields.get("parameters", {}).items():
        try:
            params[path] = parse_spec(spec)
        except (ValueError, ValidationError) as exc:
            msg = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            raise InputError([problem(("parameters", path), msg)]) from None
    try:
        definition = SweepDefinition.model_validate({**fields, "parameters": params})
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = [
            problem(tuple(err["loc"]), err["msg"].removeprefix("Value error, "))
            for err in errors
            if err["loc"]
        ]
        if len(problems) < len(errors):  # a check across fields: the fields it names
            sampler, points = fields.get("sampler", "grid"), fields.get("points")
            across = option_problems(params, sampler, points)
            problems += [problem(loc, msg) for loc, msg in across] or [
                problem((), err["msg"].removeprefix("Value error, "))
                for err in errors
                if not err["loc"]
            ]
        raise InputError(problems) from None
    return definition


def check_size(
    definition: SweepDefinition,
    source: str,
    located: Located | None = None,
    flags: Collection[str] = (),
) -> None:
    """Refuse a sweep past :data:`MAX_POINTS` before its points are listed.

    Arguments as for :func:`build_definition`. The command checks its budget
    first, whose message says which limit to raise.
    """
    too_big = size_problems(definition.parameters, definition.sampler, definition.points)
    if too_big:
        raise InputError([_problem(loc, msg, source, located, flags) for loc, msg in too_big])


def _problem(
    loc: tuple[str | int, ...],
    msg: str,
    source: str,
    located: Located | None,
    flags: Collection[str],
) -> Problem:
    """A problem at field ``loc``: its flag, its line in ``located``, or just ``source``."""
    where = ".".join(str(p) for p in loc)
    if loc and loc[0] in flags:
        if loc[0] == "parameters":
            return Problem(" ".join(["--param", *map(str, loc[1:2])]), None, None, "", msg)
        return Problem("--" + str(loc[0]).replace("_", "-"), None, None, "", msg)
    if located is None:
        return Problem(source, None, None, where, msg)
    at = located.locate(loc, exact=True)
    return Problem(source, at.line, at.column, where, msg)
