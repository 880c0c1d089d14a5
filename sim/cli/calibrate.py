"""``stancesim calibrate``: the parameter values consistent with what was observed."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import typer

from sim import budget
from sim.cli.common import stderr, user_errors
from sim.cli.evidence import MAX_MEMORY, MAX_WORK, OBS, PROCESSES, SEED, _load, refuse_processes
from sim.cli.progress import progress_bar
from sim.errors import InputError, caused_by_interrupt


def _bounds(param: str) -> tuple[str, tuple[float, float]]:
    """``PATH=LO:HI`` of ``calibrate --param``, with finite bounds, LO <= HI."""
    from pydantic import ValidationError

    from sim.sweep_definition import parse_spec

    if "=" not in param:
        raise InputError(f"--param {param}: expected PATH=LO:HI")
    path, spec = param.split("=", 1)
    try:
        parsed = parse_spec(spec)
        if parsed.low is None or parsed.high is None:
            raise ValueError("expected bounds LO:HI of a uniform prior, got a list of values")
        lo, hi = parsed.bounds()
    except ValidationError as exc:
        msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise InputError(f"--param {param}: {msg}") from None
    except ValueError as exc:
        raise InputError(f"--param {param}: {exc}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError(f"--param {param}: expected finite bounds LO:HI")
    return path, (lo, hi)


def calibrate(
    file: Path = typer.Argument(..., help="Scenario file."),
    observations: Path = OBS,
    max_memory: str = MAX_MEMORY,
    max_work: str = MAX_WORK,
    params: list[str] = typer.Option(
        ..., "--param", help="PATH=LO:HI (uniform prior); repeatable."
    ),
    points: int = typer.Option(128, "--points", min=1, help="Design points (Latin hypercube)."),
    particles: int = typer.Option(
        512, "--particles", min=1, help="Particles per likelihood estimate."
    ),
    seed: int = SEED,
    jobs: int = typer.Option(1, "--jobs", "-j", min=1),
    out: Path = typer.Option(
        Path("calibration"), "--out", help="Folder for the results (new or empty)."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace a non-empty --out folder (swapped, never mixed)."
    ),
    processes: Path | None = PROCESSES,
    drop_outcomes: bool = typer.Option(
        True,
        "--drop-outcomes/--keep-outcomes",
        help="Leave out the outcome observations (they state how the crisis ended), so that "
        "calibrated.yaml can feed a forecast or a backtest without knowing the ending "
        "(default: dropped).",
    ),
) -> None:
    """Posterior over parameters given the observations, a plot, and a calibrated scenario.

    The scenario it writes is meant for forecasting, so by default it never
    learns from the ending: outcome observations are dropped (--keep-outcomes
    keeps them, for a calibration that is not used to forecast).
    """
    from sim.calibrate import calibrate as run_calibration
    from sim.calibrate import without_outcomes
    from sim.folders import check_target
    from sim.sweeps import check_points

    refuse_processes(processes, "calibrate")
    with user_errors():
        check_target(out, overwrite)  # before the work, not after it
        sc, obs = _load(file, observations, [])
        if drop_outcomes:
            left, dropped = without_outcomes(obs)
            if not left.observations:
                raise InputError(
                    f"{observations}: every observation is an outcome, and outcomes are dropped "
                    "so that the calibration can feed a forecast; add observations from before "
                    "the ending, or keep them with --keep-outcomes"
                )
            if dropped:
                typer.echo(
                    "left out the outcome observation(s) "
                    + ", ".join(f"#{i}" for i in dropped)
                    + " (they state the ending; --keep-outcomes keeps them)"
                )
        bounds: dict[str, tuple[float, float]] = {}
        for path, b in (_bounds(p) for p in params):
            if path in bounds:  # the last would win silently
                raise InputError(f"--param {path}: given twice; give it once")
            bounds[path] = b
        from sim.sweep_definition import SweepDefinition

        probe = SweepDefinition.model_validate(
            {
                "parameters": {
                    k: {"low": lo, "high": hi, "count": 2} for k, (lo, hi) in bounds.items()
                }
            }
        )
        check_points(
            sc.canonical(), probe, probe.point_values()
        )  # bad paths or values: before work
        estimate = budget.estimate_calibrate(
            sc, particles, len(obs.observations), points, len(bounds), jobs
        )
        budget.check(estimate, *budget.limits(max_memory, max_work), what="this calibration")
        written = False
        try:
            with progress_bar(f"calibration of {sc.name}", points, "design points") as advance:
                cal = run_calibration(
                    sc,
                    obs,
                    bounds,
                    points=points,
                    particles=particles,
                    seed=seed,
                    jobs=jobs,
                    progress=advance,
                    drop_outcomes=drop_outcomes,
                )
            _write_calibration(cal, sc, out, overwrite, seed)
            written = True
            _report(cal, bounds, points, particles, out)
        except (KeyboardInterrupt, Exception) as exc:
            # a Ctrl-C may also surface as the ImportError of an extension it interrupted
            if not caused_by_interrupt(exc):
                raise
            # the folder is built beside --out and moved in whole: one of these holds
            state = f"{out} is complete" if written else f"nothing was written; {out} is as it was"
            stderr.print(f"interrupted: {state}", markup=False)
            raise typer.Exit(130) from None


def _report(cal: Any, bounds: dict[str, Any], points: int, particles: int, out: Path) -> None:
    for p, m in cal.posterior_mean().items():
        typer.echo(f"{p}: posterior mean {m:.4g} (prior {bounds[p][0]:g}..{bounds[p][1]:g})")
    typer.echo(f"effective design points: {cal.ess:.1f} of {points}")
    typer.echo(
        f"each likelihood estimate rests on at least {float(cal.ess_particles.min()):.0f} "
        f"(median {float(np.median(cal.ess_particles)):.0f}) effective particles of {particles}"
        + ("; raise --particles for steadier estimates" if cal.ess_particles.min() < 50 else "")
    )
    typer.echo(f"written: {out}/posterior.png, {out}/posterior.json, {out}/calibrated.yaml")


def _write_calibration(cal: Any, sc: Any, out: Path, overwrite: bool, seed: int) -> None:
    """Build the calibration folder beside ``out``, seal it, and move it into place."""
    from sim import figures
    from sim.folders import building
    from sim.yamlio import dump

    with building(out, overwrite, "calibration") as tmp:
        figures.save(*figures.figure_posterior(cal), tmp, "posterior")
        (tmp / "calibrated.yaml").write_text(dump(cal.calibrated_scenario(sc)))
        rows = [
            {
                **{p: float(v) for p, v in zip(cal.paths, row, strict=True)},
                "log_likelihood": float(ll),
                "weight": float(w),
            }
            for row, ll, w in zip(cal.values, cal.log_likelihood, cal.weights, strict=True)
        ]
        draws = cal.sample(1000, seed)
        sample = [dict(zip(cal.paths, (float(v) for v in row), strict=True)) for row in draws]
        posterior = {
            "points": rows,
            "mean": cal.posterior_mean(),
            "ess": cal.ess,
            "sample": sample,
            "outcomes_dropped": cal.dropped,
        }
        (tmp / "posterior.json").write_text(json.dumps(posterior, indent=1))
