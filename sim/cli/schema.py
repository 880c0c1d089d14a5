"""``stancesim schema``: the JSON Schema of scenario files, for editors."""

from __future__ import annotations

import json

import typer

from sim.scenario import json_schema


def schema(
    kind: str = typer.Option(
        "scenario", help="File kind: scenario, sweep, observations or source_classes."
    ),
) -> None:
    """Print the JSON Schema of a file kind (point your editor's YAML plugin at it)."""
    if kind == "scenario":
        out = json_schema()
    elif kind in ("sweep", "observations", "source_classes"):
        # loaded only for these kinds: the sweep module brings the engine with it
        if kind == "sweep":
            from sim.sweep_definition import SweepFile as model
        elif kind == "source_classes":
            from sim.observations import SourceClassesFile as model  # type: ignore[assignment]
        else:
            from sim.observations import ObservationsFile as model  # type: ignore[assignment]
        out = model.model_json_schema()
        out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        out["title"] = f"stancesim {kind}"
    else:
        from sim.cli.common import fail

        raise fail(
            f"no schema for kind {kind!r}; known kinds: scenario, sweep, observations, "
            "source_classes"
        )
    typer.echo(json.dumps(out, indent=2))
