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

from sim._version import __version__
from sim.cli import discover as _discover
from sim.cli import evidence as _evidence
from sim.cli import export as _export
from sim.cli import gallery as _gallery
from sim.cli import plot as _plot
from sim.cli import report as _report
from sim.cli import run as _run
from sim.cli import schema as _schema
from sim.cli import sensitivity as _sensitivity
from sim.cli import sweep as _sweep
from sim.cli import trace as _trace
from sim.cli import validate as _validate

app = typer.Typer(
    name="stancesim",
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


app.command("run")(_run.run)
app.command("trace")(_trace.trace)
app.command("sweep")(_sweep.sweep)
app.command("export")(_export.export)
app.add_typer(_plot.app, name="plot")
app.command("gallery")(_gallery.gallery)
app.command("nowcast")(_evidence.nowcast)
app.command("calibrate")(_evidence.calibrate)
app.command("backtest")(_evidence.backtest)
app.command("validate")(_validate.validate)
app.command("schema")(_schema.schema)
app.command("sensitivity")(_sensitivity.sensitivity)
app.command("discover")(_discover.discover)
app.command("report")(_report.report)
