"""``stancesim sweep``: a scenario at many parameter points, streamed to a folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from sim import budget
from sim.cli.common import fail, show_progress, stderr, user_errors
from sim.errors import InputError
from sim.runner import fresh_seed
from sim.scenario import load_scenario
from sim.store import SweepStore
from sim.sweep_definition import build_definition, check_size, load_sweep
from sim.sweeps import resume_inputs, run_sweep
from sim.yamlio import Located, load_file


def sweep(
    file: Path | None = typer.Argument(None, help="Sweep file (kind: sweep) or scenario file."),
    params: list[str] = typer.Option(
        [], "--param", help="PATH=SPEC: a,b,c | lo:hi:count | lo:hi (samplers); repeatable."
    ),
    sampler: str | None = typer.Option(None, help="grid | random | lhs | sobol."),
    points: int | None = typer.Option(None, help="Points for random, lhs, sobol."),
    replicates: int | None = typer.Option(None, "-n", "--replicates", help="Replicates per point."),
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="Sweep seed (fresh entropy when omitted, printed)."
    ),
    until_ci: float | None = typer.Option(
        None, "--until-ci", help="Add replicates until every 95% half-width is at most this."
    ),
    max_replicates: int | None = typer.Option(None, "--max-replicates", help="Cap for --until-ci."),
    save_replicates: bool = typer.Option(
        False, "--save-replicates", help="Keep per-replicate rows."
    ),
    sets: list[str] = typer.Option([], "--set", help="PATH=VALUE override of the base scenario."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Local worker processes."),
    dask: str | None = typer.Option(None, "--dask", help="Scheduler address, or 'local'."),
    out: Path | None = typer.Option(None, "--out", help="Results folder (new or empty)."),
    resume: Path | None = typer.Option(None, "--resume", help="Finish the sweep in this folder."),
    max_memory: str = typer.Option(
        budget.DEFAULT_MAX_MEMORY_TEXT, "--max-memory", help=budget.MEMORY_HELP
    ),
    max_work: str = typer.Option(budget.DEFAULT_MAX_WORK_TEXT, "--max-work", help=budget.WORK_HELP),
    processes: Path | None = typer.Option(
        None,
        "--processes",
        help="Not supported yet: refused with the reason (see `stancesim run`).",
    ),
) -> None:
    """Run a sweep; results stream to --out as points finish (resume with --resume)."""
    if processes is not None:
        raise fail(NO_PROCESSES)
    with user_errors():
        limits = budget.limits(max_memory, max_work)
        flags: dict[str, Any] = {
            "sampler": sampler,
            "points": points,
            "replicates": replicates,
            "seed": seed,
            "until_ci": until_ci,
            "max_replicates": max_replicates,
            "save_replicates": save_replicates or None,
        }
        flags = {k: v for k, v in flags.items() if v is not None}
        if params:
            flags["parameters"] = _parameters(params)
        if resume is not None and out is not None and out != resume:
            raise InputError("give either --out (a new sweep) or --resume (an existing one)")
        target = resume or out
        if target is None:
            raise InputError("--out DIR is required (or --resume DIR)")
        if file is None:
            if resume is None:
                raise InputError("a sweep or scenario FILE is required (or --resume DIR)")
            if flags or sets:
                raise InputError(
                    "with --resume and no FILE, the sweep is the manifest's; drop the flags"
                )
            base, definition, scenario_file = resume_inputs(resume)
            located = None
        else:
            base, definition, scenario_file, located = _from_file(file, flags, sets, resume)
        workers = jobs if dask is None else max(jobs, 2)
        budget.check(budget.estimate_sweep(base, definition, workers), *limits, what="this sweep")
        if file is not None:  # past the budget (raised by its flags): still too many to list
            source = str(file) if located is not None else "command line"
            check_size(definition, source, located, set(flags))
        if dask is not None:
            from sim.executors import check_dask

            check_dask(dask)
        try:
            summary = _run(
                base, definition, target, jobs, dask, resume is not None, scenario_file, located
            )
        except KeyboardInterrupt:
            stderr.print(
                f"interrupted: finished points are kept in {target}; "
                f"finish with: stancesim sweep --resume {target}",
                markup=False,
            )
            raise typer.Exit(130) from None
        typer.echo(summary)


#: why a sweep refuses users' processes
NO_PROCESSES = (
    "--processes: not supported by sweep yet: a sweep records its inputs in its manifest so that "
    "--resume finishes the same sweep, and it cannot record Python code; use `stancesim run`"
)


def _parameters(params: list[str]) -> dict[str, str]:
    """``--param`` values by path; a path given twice is refused (the last would win silently)."""
    out: dict[str, str] = {}
    for text in params:
        path, spec = _split_param(text)
        if path in out:
            raise InputError(f"--param {path}: given twice ({out[path]} and {spec}); give it once")
        out[path] = spec
    return out


def _split_param(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise InputError(f"--param {text}: expected PATH=SPEC")
    path, spec = text.split("=", 1)
    return path.strip(), spec


def _from_file(
    file: Path, flags: dict[str, Any], sets: list[str], resume: Path | None
) -> tuple[Any, Any, str, Located | None]:
    """Base, definition, base file and (for a sweep file) the file as read."""
    located = load_file(file)
    data = located.data if isinstance(located.data, dict) else {}
    kind = data.get("kind")
    if "seed" not in flags and "seed" not in data:
        flags = {**flags, "seed": _default_seed(resume)}
    if kind == "sweep":
        base, scenario_path, fields, located = load_sweep(file, sets)
        fields.update(flags)
        definition = build_definition(fields, str(file), located, flags=set(flags))
        return base, definition, str(scenario_path), located
    base = load_scenario(file, sets)
    if "parameters" not in flags:
        raise InputError(f"{file}: a scenario file needs --param PATH=SPEC")
    return base, build_definition(flags, "command line", flags=set(flags)), str(file), None


def _default_seed(resume: Path | None) -> int:
    """The seed when none is given: the resumed sweep's, else fresh entropy, as ``run`` does.

    The manifest records it, so ``--resume`` goes on with the same one.
    """
    if resume is not None:
        return int(SweepStore.read_manifest(resume)["definition"]["seed"])
    seed = fresh_seed()
    stderr.print(f"seed {seed} (fresh; give --seed {seed} to repeat)", markup=False)
    return seed


def _run(
    base: Any,
    definition: Any,
    target: Path,
    jobs: int,
    dask: str | None,
    resume: bool,
    scenario_file: str | None,
    located: Located | None = None,
) -> str:
    def call(progress: Any = None) -> Any:
        return run_sweep(
            base,
            definition,
            target,
            jobs=jobs,
            dask=dask,
            resume=resume,
            scenario_file=scenario_file,
            progress=progress,
            sweep_file=located,
        )

    if not show_progress():
        return _describe(call(), target)
    state = {"failed": 0, "replicates": 0, "t0": time.perf_counter(), "shown": 0.0}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} points"),
        TextColumn("{task.fields[rate]} replicates/s"),
        TextColumn("{task.fields[failed]} failed"),
        TimeRemainingColumn(),
    )
    # no refresh thread: workers are forked
    with Progress(*columns, console=stderr, transient=True, auto_refresh=False) as bar:
        task = bar.add_task(base.name, total=definition.n_points(), rate="-", failed=0)

        def advance(result: dict[str, Any]) -> None:
            row = result["row"]
            state["failed"] += row["status"] != "ok"
            state["replicates"] += row.get("replicates") or 0
            rate = state["replicates"] / max(time.perf_counter() - state["t0"], 1e-9)
            bar.update(task, advance=1, rate=f"{rate:,.0f}", failed=state["failed"])
            now = time.perf_counter()
            if now - state["shown"] > 0.1:
                bar.refresh()
                state["shown"] = now

        table = call(advance)
    return _describe(table, target)


def _describe(table: Any, target: Path) -> str:
    status = table.column("status").to_pylist()
    failed = sum(s != "ok" for s in status)
    return (
        f"{len(status)} points ({failed} failed) in {target}/points "
        f"(pyarrow.parquet.read_table('{target}/points'); stancesim export {target} --csv)"
    )
