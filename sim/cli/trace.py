"""``stancesim trace``: one replicate told as a story."""

from __future__ import annotations

from pathlib import Path

import typer

from sim.cli.common import fail, user_errors
from sim.runner import trace_replicate
from sim.scenario import load_scenario


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
) -> None:
    """Tell replicate K of `stancesim run --seed S` as a timestamped story."""
    with user_errors():
        scenario = load_scenario(file, sets)
        if replicate < 0:
            raise fail(f"replicate must be >= 0, got {replicate}")
        if seed is None:
            from sim.runner import fresh_seed

            seed = fresh_seed()
        lines, _ = trace_replicate(scenario, seed, replicate)
        typer.echo(f"# {scenario.name}, replicate {replicate}, seed {seed}")
        for line in lines:
            typer.echo(line)
