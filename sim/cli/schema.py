"""``stancesim schema``: the JSON Schema of scenario files, for editors."""

from __future__ import annotations

import json

import typer

from sim.scenario import json_schema


def schema(
    kind: str = typer.Option("scenario", help="File kind whose schema to print."),
) -> None:
    """Print the JSON Schema of a file kind (point your editor's YAML plugin at it)."""
    if kind != "scenario":
        from sim.cli.common import fail

        raise fail(f"no schema for kind {kind!r}; known kinds: scenario")
    typer.echo(json.dumps(json_schema(), indent=2))
