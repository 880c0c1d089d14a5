"""``stancesim plot ...``: figures as PNG and SVG, from results folders or scenario files.

Loading a folder or running a scenario file happens here; :mod:`sim.figures`
only draws what it is given.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import typer

from sim.cli.common import stderr, user_errors
from sim.errors import InputError
from sim.results import RunResult

app = typer.Typer(help="Draw figures from run or sweep results (or a scenario file, run first).")

OUT = typer.Option(
    None,
    "--out",
    help="Folder for the PNG, SVG and JSON files (default: SOURCE/plots for a run or sweep "
    "folder, ./stancesim-plots for a scenario file).",
)
REPS = typer.Option(2000, "-n", "--replicates", help="Replicates when running a scenario file.")
SEED = typer.Option(1, "--seed", help="Seed when running a scenario file.")
PARTIAL = typer.Option(
    False, "--partial", help="Draw an unfinished sweep's finished points (marked as partial)."
)
#: Where figures made from a scenario file go (never the repository's plots/).
SCENARIO_PLOTS = Path("stancesim-plots")


def _written(paths: list[Path]) -> None:
    for p in paths:
        typer.echo(str(p))


def default_out(source: Path, out: Path | None) -> Path:
    """``--out`` if given; else ``SOURCE/plots`` for a results folder, else ./stancesim-plots."""
    if out is not None:
        return out
    return source / "plots" if source.is_dir() else SCENARIO_PLOTS


def check_name(name: str) -> str:
    """Refuse a figure name that would write outside ``--out``."""
    seps = {"/", "\\", os.sep, *([os.altsep] if os.altsep else [])}
    if not name or name in (".", "..") or ".." in name or any(c in name for c in seps):
        raise InputError(
            f"--name {name!r}: expected a plain file name (no path separators, no '..'); "
            "use --out to choose the folder"
        )
    if "\0" in name:
        raise InputError(f"--name {name!r}: contains a NUL character")
    return name


def load_run(source: Path, replicates: int, seed: int | None, record: bool) -> RunResult:
    """A ``run --out`` folder as it was written, or a scenario file run now (with a bar)."""
    if source.is_dir():
        return RunResult.read(source)
    from sim.cli.progress import run_with_progress
    from sim.scenario import load_scenario

    return run_with_progress(load_scenario(source), replicates, seed, record=record)


#: a folder holding one of these is another command's sealed results (a run; a
#: sweep or sensitivity design): figures beside them would mix with what its seal lists
RESULTS_MARKERS = ("run.json", "manifest.json")


def check_figure_folder(out: Path, option: str = "--out") -> None:
    """Refuse, before any work, a folder that figures cannot go into.

    Raises
    ------
    InputError
        ``out`` is a file, or another command's results folder.
    """
    if out.exists() and not out.is_dir():
        raise InputError(f"{option} {out}: is a file, not a folder; choose a folder")
    for marker in RESULTS_MARKERS:
        if (out / marker).is_file():
            raise InputError(
                f"{option} {out}: is a results folder (it holds {marker}); figures from it go "
                f"to {out / 'plots'} by default, or choose another folder"
            )


def save(fig: Any, data: dict[str, Any], out: Path, name: str, option: str = "--out") -> list[Path]:
    """Write a figure's files into ``out`` whole: each appears complete or not at all."""
    from sim import figures
    from sim.folders import clean_hidden, hidden_name, write_error

    check_name(name)
    check_figure_folder(out, option)
    try:
        out.mkdir(parents=True, exist_ok=True)
        clean_hidden(out)
        tmp = Path(tempfile.mkdtemp(prefix=hidden_name("plot-"), dir=out))
    except OSError as exc:
        raise write_error(out, exc) from None
    try:
        written = []
        for p in figures.save(fig, data, tmp, name):
            os.replace(p, out / p.name)
            written.append(out / p.name)
        return written
    except OSError as exc:
        raise write_error(out, exc) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@app.command("trajectories")
def trajectories(
    source: Path = typer.Argument(
        ..., help="run --out folder (with --record trajectories) or scenario file."
    ),
    population: str | None = typer.Option(None, help="Population to show (default: the first)."),
    out: Path | None = OUT,
    replicates: int = REPS,
    seed: int = SEED,
    name: str = typer.Option("trajectories", help="File name (without extension)."),
) -> None:
    """Fan chart of a population's support and the individuals' switch times."""
    from sim import figures

    with user_errors():
        check_name(name)
        check_figure_folder(default_out(source, out))
        result = load_run(source, replicates, seed, record=True)
        fig = figures.figure_trajectories(result, population)
        _written(save(*fig, default_out(source, out), name))


@app.command("outcomes")
def outcomes(
    source: Path = typer.Argument(..., help="run --out folder or scenario file."),
    out: Path | None = OUT,
    replicates: int = REPS,
    seed: int = SEED,
    name: str = typer.Option("time_to_outcome", help="File name (without extension)."),
) -> None:
    """Cumulative probability of each outcome over time."""
    from sim import figures

    with user_errors():
        check_name(name)
        check_figure_folder(default_out(source, out))
        result = load_run(source, replicates, seed, record=False)
        _written(save(*figures.figure_time_to_outcome(result), default_out(source, out), name))


@app.command("sweep")
def sweep(
    folder: Path = typer.Argument(..., help="A sweep --out folder."),
    outcome: str | None = typer.Option(
        None, help="Outcome whose P the map shows (default: the first); curves show them all."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for the PNG, SVG and JSON files (default: FOLDER/plots)."
    ),
    name: str = typer.Option("sweep", help="File name (without extension)."),
    partial: bool = PARTIAL,
) -> None:
    """One parameter: P(outcome) curves with bands; two or more: a map with the 0.5 contour.

    A grid sweep is drawn as a heatmap, a random, LHS or Sobol' sweep as its
    points over the surface interpolated between them.
    """
    from sim import figures
    from sim.sweep_results import read_results

    with user_errors():
        check_name(name)
        table, manifest, note = read_results(folder, partial)
        if note is not None:
            stderr.print(f"warning: {note}", markup=False)
        fig, data = figures.figure_sweep(table, manifest, outcome, note)
        _written(save(fig, data, default_out(folder, out), name))


@app.command("compare")
def compare(
    files: list[Path] = typer.Argument(..., help="Scenario files (or run --out folders)."),
    variants: list[str] = typer.Option(
        [], "--variant", help="LABEL:PATH=VALUE[;PATH=VALUE] on the first file; repeatable."
    ),
    out: Path | None = OUT,
    replicates: int = REPS,
    seed: int = SEED,
    name: str = typer.Option("compare", help="File name (without extension)."),
) -> None:
    """Outcome probabilities side by side for several scenarios or --set variants."""
    from sim import figures

    with user_errors():
        check_name(name)
        for v in variants:
            _split_variant(v)  # a malformed one is refused before any run
        results = [(f.stem, load_run(f, replicates, seed, record=False)) for f in files]
        results += [_variant(files[0], v, replicates, seed) for v in variants]
        _written(save(*figures.figure_compare(results), out or SCENARIO_PLOTS, name))


def _split_variant(text: str) -> tuple[str, list[str]]:
    if ":" not in text:
        raise InputError(f"--variant {text}: expected LABEL:PATH=VALUE[;PATH=VALUE]")
    label, sets = text.split(":", 1)
    return label, [s for s in sets.split(";") if s]


def _variant(file: Path, text: str, replicates: int, seed: int) -> tuple[str, RunResult]:
    from sim.cli.progress import run_with_progress
    from sim.scenario import load_scenario

    label, sets = _split_variant(text)
    return label, run_with_progress(load_scenario(file, sets), replicates, seed, description=label)
