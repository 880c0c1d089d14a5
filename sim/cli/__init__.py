"""Command-line interface: ``stancesim`` (also ``python -m sim``).

One module per command; user errors print a located message and exit with
status 2, never a traceback.
"""

from __future__ import annotations

import os

import typer

# commands only write figure files: no display is needed or assumed (set before
# pyplot is first imported; a backend the user chose in the environment wins)
os.environ.setdefault("MPLBACKEND", "Agg")

from difflib import get_close_matches
from importlib import import_module
from typing import Any

from typer.core import TyperGroup

from sim._version import __version__

#: command -> (module, attribute): a command's module (and what it imports, the
#: engine, pyarrow, rich...) is loaded only when that command runs, so that
#: ``stancesim validate`` starts in a fraction of the time of ``stancesim run``
COMMANDS = {
    "run": ("sim.cli.run", "run"),
    "trace": ("sim.cli.trace", "trace"),
    "sweep": ("sim.cli.sweep", "sweep"),
    "export": ("sim.cli.export", "export"),
    "gallery": ("sim.cli.plot", "gallery"),
    "nowcast": ("sim.cli.evidence", "nowcast"),
    "calibrate": ("sim.cli.evidence", "calibrate"),
    "backtest": ("sim.cli.evidence", "backtest"),
    "validate": ("sim.cli.validate", "validate"),
    "schema": ("sim.cli.schema", "schema"),
    "plot": ("sim.cli.plot", "app"),
}


class _LazyGroup(TyperGroup):
    """The top-level group: each command is built from its module on first use.

    Typed loosely (``Any``): typer vendors its own click, whose types are private.
    """

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and name not in COMMANDS and not name.startswith("-"):
            # typer suggests from the commands built so far, which here are none
            hint = get_close_matches(name, COMMANDS)
            if hint:
                names = ", ".join(f"{m!r}" for m in hint)
                ctx.fail(f"No such command {name!r}. Did you mean {names}?")
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name]
        target = getattr(import_module(module), attribute)
        if isinstance(target, typer.Typer):  # a group of its own (plot)
            command: Any = typer.main.get_group(target)
        else:
            single = typer.Typer(add_completion=False)
            single.command(cmd_name)(target)
            command = typer.main.get_command(single)
        command.name = cmd_name
        return command


app = typer.Typer(
    name="stancesim",
    cls=_LazyGroup,
    help=(
        "Simulate stances under pressure: run scenarios, sweep them, plot them, "
        "and weigh them against what was seen."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"stancesim {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    pass


def main() -> None:
    """Run the command line (through :mod:`sim._entry`, which handles Ctrl-C)."""
    from sim._entry import main as entry

    entry()
