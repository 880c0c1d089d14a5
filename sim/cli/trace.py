"""``stancesim trace``: one replicate told as a story."""

from __future__ import annotations

from pathlib import Path

import typer

from sim import budget
from sim.cli.common import fail, user_errors
from sim.errors import InputError
from sim.runner import trace_replicate
from sim.scenario import load_scenario
from sim.userprocesses import load_processes, raised_in


def trace(
    file: Path = typer.Argument(..., help="Scenario YAML file."),
    replicate: int = typer.Option(0, "--replicate", "-r", min=0, help="Replicate index (0-based)."),
    seed: int | None = typer.Option(
        None,
        "--seed",
        min=0,
        help="The seed of the run to retell (fresh, and printed, when omitted).",
    ),
    sets: list[str] = typer.Option([], "--set", help="Override PATH=VALUE; repeatable."),
    max_memory: str = typer.Option(
        budget.DEFAULT_MAX_MEMORY_TEXT, "--max-memory", help=budget.MEMORY_HELP
    ),
    max_work: str = typer.Option(budget.DEFAULT_MAX_WORK_TEXT, "--max-work", help=budget.WORK_HELP),
    processes: Path | None = typer.Option(
        None,
        "--processes",
        help="Python file whose list PROCESSES names SimPy processes fn(env, world) to run too "
        "(as for `stancesim run --processes`); their world.trace lines join the story.",
    ),
) -> None:
    """Tell replicate K of `stancesim run --seed S` as a timestamped story."""
    with user_errors():
        limits = budget.limits(max_memory, max_work)
        scenario = load_scenario(file, sets)
        procs = load_processes(processes) if processes is not None else []
        budget.check(budget.estimate_trace(scenario), *limits, what="this trace")
        if replicate < 0:
            raise fail(f"replicate must be >= 0, got {replicate}")
        if seed is None:
            from sim.runner import fresh_seed

            seed = fresh_seed()
        try:
            lines, _ = trace_replicate(scenario, seed, replicate, processes=procs)
        except Exception as exc:  # the user's Python code may raise anything
            where = raised_in(exc, processes) if processes is not None else None
            if where is None:
                raise
            raise InputError(where) from None
        typer.echo(f"# {scenario.name}, replicate {replicate}, seed {seed}")
        for line in lines:
            typer.echo(line)
