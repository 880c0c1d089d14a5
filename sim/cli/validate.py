"""``stancesim validate FILE...``: check files of any kind."""

from __future__ import annotations

from pathlib import Path

import typer

from sim.cli.common import EXIT_INPUT, print_problems
from sim.errors import InputError, Problem
from sim.scenario import validate_data
from sim.yamlio import load_file

KINDS = ("scenario", "sweep", "observations", "source_classes")


def check_file(path: Path) -> str:
    """Validate one file by its ``kind``; return a one-line description."""
    located = load_file(path)
    data = located.data
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "scenario":
        sc = validate_data(located, warnings=True)
        return f"scenario {sc.name!r}: {len(sc.agents)} agents, {len(sc.outcomes)} outcomes"
    if kind == "sweep":
        from sim.sweep_definition import build_definition, check_size, load_sweep
        from sim.sweeps import check_points

        base, _, fields, located = load_sweep(path)
        definition = build_definition(fields, str(path), located)
        check_size(definition, str(path), located)
        check_points(base.canonical(), definition, definition.point_values(), located)
        return f"sweep of {base.name!r}: {definition.n_points()} points, {definition.sampler}"
    if kind == "observations":
        from sim.observations import check_against, load_observations
        from sim.scenario import load_scenario

        obs, loc = load_observations(path)
        if obs.scenario is not None:
            target = Path(path).parent / obs.scenario
            try:
                sc = load_scenario(target)
            except InputError as exc:
                if any(p.source == str(target) and p.line is None for p in exc.problems):
                    # the named file cannot be read: the mistake is this file's scenario line
                    where = loc.locate(("scenario",))
                    why = "; ".join(p.message for p in exc.problems)
                    raise InputError(
                        [Problem(where.source, where.line, where.column, "scenario", why)]
                    ) from None
                raise
            check_against(obs, loc, sc)
            return f"{len(obs.observations)} observations of {sc.name!r}"
        return f"{len(obs.observations)} observations"
    if kind == "source_classes":
        from sim.observations import load_source_classes

        classes = load_source_classes(path).classes
        return f"{len(classes)} classes of source: {', '.join(classes)}"
    where = located.locate(("kind",))
    got = "no kind" if kind is None else f"kind {kind!r}"
    raise InputError(
        [
            Problem(
                where.source,
                where.line,
                where.column,
                "kind",
                f"{got}; expected one of {', '.join(KINDS)}",
            )
        ]
    )


def validate(files: list[Path] = typer.Argument(..., help="YAML files to check.")) -> None:
    """Check scenario, sweep, observations and source-classes files; exit 2 if any is invalid."""
    bad = 0
    for f in files:
        try:
            info = check_file(f)
        except InputError as exc:
            bad += 1
            print_problems(exc)
            continue
        typer.echo(f"{f}: ok ({info})")
    if bad:
        raise typer.Exit(EXIT_INPUT)
