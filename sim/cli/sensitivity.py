"""``stancesim sensitivity``: which parameters decide the ending (SALib indices)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import typer

from sim import budget
from sim.cli.common import stderr, user_errors
from sim.errors import InputError


def sensitivity(
    file: Path | None = typer.Argument(None, help="Scenario file."),
    params: list[str] = typer.Option(
        [], "--param", help="PATH=LO:HI, a parameter varied uniformly; repeatable."
    ),
    from_scenario: bool = typer.Option(
        False,
        "--from-scenario",
        help="Vary the scenario's own per-replicate distributions (through their inverse CDFs).",
    ),
    method: str = typer.Option("morris", "--method", help="sobol | morris | delta."),
    base_samples: int | None = typer.Option(
        None,
        "-N",
        "--base-samples",
        min=2,
        help="Saltelli's N (a power of two), Morris trajectories, or delta points.",
    ),
    replicates: int = typer.Option(512, "-n", "--replicates", min=2, help="Replicates per point."),
    second_order: bool = typer.Option(False, "--second-order", help="Sobol' S2 too."),
    resamples: int = typer.Option(
        100, "--resamples", min=10, help="Bootstrap resamples of the intervals (delta is slow)."
    ),
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="Seed (fresh entropy when omitted, printed)."
    ),
    sets: list[str] = typer.Option([], "--set", help="PATH=VALUE override of the base scenario."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Local worker processes."),
    dask: str | None = typer.Option(None, "--dask", help="Scheduler address, or 'local'."),
    out: Path | None = typer.Option(None, "--out", help="Results folder (new or empty)."),
    resume: Path | None = typer.Option(
        None, "--resume", help="Finish the analysis in this folder."
    ),
    max_memory: str = typer.Option(
        budget.DEFAULT_MAX_MEMORY_TEXT, "--max-memory", help=budget.MEMORY_HELP
    ),
    max_work: str = typer.Option(budget.DEFAULT_MAX_WORK_TEXT, "--max-work", help=budget.WORK_HELP),
) -> None:
    """Global sensitivity indices of each outcome; points stream to --out (resume with --resume)."""
    from sim.sensitivity import require_salib

    with user_errors():
        require_salib()
        limits = budget.limits(max_memory, max_work)
        if resume is not None and out is not None and out != resume:
            raise InputError("give either --out (a new analysis) or --resume (an existing one)")
        target = resume or out
        if target is None:
            raise InputError("--out DIR is required (or --resume DIR)")
        if file is None:
            if resume is None:
                raise InputError("a scenario FILE is required (or --resume DIR)")
            if params or from_scenario or sets or seed is not None or base_samples is not None:
                raise InputError(
                    "with --resume and no FILE, the analysis is the manifest's; drop the flags"
                )
            base, design, scenario_file = _from_manifest(resume)
        else:
            if seed is None:
                seed = _default_seed(resume)
            base, design = _from_file(
                file, params, from_scenario, method, base_samples, replicates, second_order, seed,
                sets,
            )  # fmt: skip
            scenario_file = str(file)
        points = design.points()
        workers = jobs if dask is None else max(jobs, 2)
        estimate = budget.estimate_sweep(base, design.definition(points), workers)
        budget.check(estimate, *limits, what="this sensitivity analysis")
        if dask is not None:
            from sim.executors import check_dask

            check_dask(dask)
        t0 = time.perf_counter()
        try:
            table = _run(base, design, target, jobs, dask, resume is not None, scenario_file)
        except KeyboardInterrupt:
            stderr.print(
                f"interrupted: finished points are kept in {target}; "
                f"finish with: stancesim sensitivity --resume {target}",
                markup=False,
            )
            raise typer.Exit(130) from None
        elapsed = time.perf_counter() - t0
        from sim.sensitivity import outputs
        from sim.sensitivity_analysis import analyze, write

        result = analyze(table, design, outputs(base), resamples, scenario=base.name)
        result["seconds"] = round(elapsed, 2)
        write(target, result, list(base.outcomes))
        typer.echo(_describe(result, target))


def _default_seed(resume: Path | None) -> int:
    from sim.runner import fresh_seed
    from sim.store import SweepStore

    if resume is not None:
        return int(SweepStore.read_manifest(resume)["definition"]["seed"])
    value = fresh_seed()
    stderr.print(f"seed {value} (fresh; give --seed {value} to repeat)", markup=False)
    return value


def _bounds(text: str) -> tuple[str, float, float]:
    from sim.sweep_definition import parse_spec

    if "=" not in text:
        raise InputError(f"--param {text}: expected PATH=LO:HI")
    path, spec = (s.strip() for s in text.split("=", 1))
    try:
        parsed = parse_spec(spec)
    except ValueError as exc:
        raise InputError(f"--param {text}: {exc}") from None
    if parsed.low is None or parsed.high is None or parsed.count is not None:
        raise InputError(f"--param {text}: expected bounds LO:HI (the design chooses the values)")
    if not math.isfinite(parsed.low) or not math.isfinite(parsed.high):
        raise InputError(f"--param {text}: bounds must be finite numbers")
    if not parsed.low < parsed.high:
        raise InputError(f"--param {text}: LO must be below HI")
    return path, parsed.low, parsed.high


def _from_file(
    file: Path,
    params: list[str],
    from_scenario: bool,
    method: str,
    base_samples: int | None,
    replicates: int,
    second_order: bool,
    seed: int,
    sets: list[str],
) -> tuple[Any, Any]:
    from pydantic import ValidationError

    from sim.scenario import load_scenario
    from sim.sensitivity import DEFAULT_BASE, METHODS, Design, Input, scenario_inputs
    from sim.yamlio import load_file

    if method not in METHODS:
        raise InputError(f"--method {method}: expected one of {', '.join(METHODS)}")
    if not params and not from_scenario:
        raise InputError("give the parameters to vary: --param PATH=LO:HI, or --from-scenario")
    n = base_samples or DEFAULT_BASE[method]
    if method == "sobol" and n & (n - 1):
        raise InputError(
            f"-N {n}: Saltelli's design keeps its balance only for a power of two; "
            f"try -N {1 << n.bit_length()}"
        )
    if second_order and method != "sobol":
        raise InputError("--second-order is for --method sobol")
    base = load_scenario(file, sets)
    inputs = []
    if from_scenario:
        inputs += scenario_inputs(base, str(file), load_file(file))
    inputs += [Input(path=p, low=lo, high=hi) for p, lo, hi in map(_bounds, params)]
    try:
        design = Design(
            method=method,
            inputs=inputs,
            base_samples=n,
            second_order=second_order,
            replicates=replicates,
            seed=seed,
        )
    except ValidationError as exc:
        raise InputError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
    return base, design


def _from_manifest(root: Path) -> tuple[Any, Any, str | None]:
    from sim.scenario import scenario_from_dict
    from sim.sensitivity import read_design
    from sim.store import SweepStore

    manifest = SweepStore.read_manifest(root, rebuild=True)
    if manifest.get("rebuilt") and "sensitivity" not in manifest:
        raise InputError(
            f"{root}: the manifest was rebuilt from the parts and no longer holds the design; "
            f"resume with the same FILE and flags: stancesim sensitivity FILE ... --resume {root}"
        )
    design = read_design(manifest, root)
    base = scenario_from_dict(manifest["base_scenario"], source=f"{root}/manifest.json")
    return base, design, manifest.get("scenario_file")


def _run(
    base: Any,
    design: Any,
    target: Path,
    jobs: int,
    dask: str | None,
    resume: bool,
    scenario_file: str | None,
) -> Any:
    from sim.cli.progress import progress_bar
    from sim.sensitivity import run_design

    n_points = len(design.unit_points())
    with progress_bar(f"{base.name} ({design.method})", n_points, "points") as advance:
        return run_design(
            base,
            design,
            target,
            jobs=jobs,
            dask=dask,
            resume=resume,
            scenario_file=scenario_file,
            progress=lambda _: advance(1),
        )


def _describe(result: dict[str, Any], target: Path) -> str:
    from sim.sensitivity_analysis import ranking

    main = result["main_index"]
    lines = [
        f"{result['method']}: {result['points']} points x {result['replicates']} replicates "
        f"= {result['evaluations']:,} runs ({result['failed']} points failed) "
        f"in {result.get('seconds', 0):.1f} s"
    ]
    for output, res in result["outputs"].items():
        if not output.startswith("p_"):
            continue
        if res.get("skipped"):
            lines.append(f"P({output[2:]}): not analysed ({res['skipped']})")
            continue
        share = res.get("noise_share")
        noise = "" if share is None else f"; Monte Carlo noise {share:.1%} of the variance"
        lines.append(f"P({output[2:]}), by {main}{noise}:")
        for path, v, lo, hi in ranking(result, output):
            lines.append(f"  {path:<45} {v:7.3f}  [{lo:.3f}, {hi:.3f}]")
    lines.append(
        f"indices in {target}/indices.csv and {target}/sensitivity.json; "
        f"figure {target}/figures/indices.png; points in {target}/points"
    )
    return "\n".join(lines)
