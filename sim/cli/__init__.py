"""Command-line interface: ``stancesim`` (also ``python -m sim``).

One module per command; user errors print a located message and exit with
status 2, never a traceback. The program's entry point is :func:`sim._entry.main`,
which imports this module (never the other way round: no import cycle).
"""

from __future__ import annotations

import os

import typer

# commands only write figure files: no display is needed or assumed (set before
# pyplot is first imported; a backend the user chose in the environment wins)
os.environ.setdefault("MPLBACKEND", "Agg")

from importlib import import_module
from typing import Any

from typer.core import TyperGroup

from sim._startup_gc import release_collector
from sim._version import __version__

#: command -> (module, attribute): a command's module (and what it imports, the
#: engine, pyarrow, rich...) is loaded only when that command runs, so that
#: ``stancesim validate`` starts in a fraction of the time of ``stancesim run``
COMMANDS = {
    "run": ("sim.cli.run", "run"),
    "trace": ("sim.cli.trace", "trace"),
    "sweep": ("sim.cli.sweep", "sweep"),
    "export": ("sim.cli.export", "export"),
    "gallery": ("sim.cli.gallery", "gallery"),
    "nowcast": ("sim.cli.evidence", "nowcast"),
    "calibrate": ("sim.cli.calibrate", "calibrate"),
    "backtest": ("sim.cli.evidence", "backtest"),
    "reliability": ("sim.cli.evidence", "reliability"),
    "validate": ("sim.cli.validate", "validate"),
    "schema": ("sim.cli.schema", "schema"),
    "plot": ("sim.cli.plot", "app"),
    "sensitivity": ("sim.cli.sensitivity", "sensitivity"),
    "discover": ("sim.cli.discover", "discover"),
    "report": ("sim.cli.report", "report"),
}


def _build(name: str) -> Any:
    """The click command ``name``, from its module."""
    module, attribute = COMMANDS[name]
    target = getattr(import_module(module), attribute)
    release_collector()  # start-up is over: the command runs with the usual collector
    if isinstance(target, typer.Typer):  # a group of its own (plot)
        command: Any = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class _Commands(dict[str, Any]):
    """The commands by name, each built from its module on first access."""

    def __init__(self) -> None:
        super().__init__(dict.fromkeys(COMMANDS))

    def __getitem__(self, name: str) -> Any:
        command = super().__getitem__(name)
        if command is None:
            command = _build(name)
            self[name] = command
        return command

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default

    def values(self) -> Any:
        return [self[name] for name in self]

    def items(self) -> Any:
        return [(name, self[name]) for name in self]


class _LazyGroup(TyperGroup):
    """The top-level group, whose commands are built on first use (see :class:`_Commands`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _Commands()


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
