"""``stancesim plot ...`` and ``stancesim gallery``: figures as PNG and SVG."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from sim.figures import RunView

from sim.cli.common import stderr, user_errors
from sim.errors import InputError

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


def save(fig: Any, data: dict[str, Any], out: Path, name: str) -> list[Path]:
    """Write a figure's files into ``out`` whole: each appears complete or not at all."""
    from sim import figures
    from sim.folders import clean_hidden, hidden_name, write_error

    check_name(name)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file, not a folder; choose a folder")
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
        view = figures.load_run(source, replicates, seed, record=True)
        fig = figures.figure_trajectories(view, population)
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
        view = figures.load_run(source, replicates, seed, record=False)
        _written(save(*figures.figure_time_to_outcome(view), default_out(source, out), name))


@app.command("sweep")
def sweep(
    folder: Path = typer.Argument(..., help="A sweep --out folder."),
    outcome: str | None = typer.Option(None, help="Outcome of the heatmap (default: the first)."),
    out: Path | None = OUT,
    name: str = typer.Option("sweep", help="File name (without extension)."),
    partial: bool = PARTIAL,
) -> None:
    """One parameter: P(outcome) curves with bands; two: a heatmap with the 0.5 contour."""
    from sim import figures

    with user_errors():
        check_name(name)
        fig, data = figures.figure_sweep(folder, outcome, partial=partial)
        if data.get("partial"):
            stderr.print(f"warning: {data['partial']}", markup=False)
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
        views = [(f.stem, figures.load_run(f, replicates, seed, record=False)) for f in files]
        views += [_variant(files[0], v, replicates, seed) for v in variants]
        _written(save(*figures.figure_compare(views), out or SCENARIO_PLOTS, name))


def _variant(file: Path, text: str, replicates: int, seed: int) -> tuple[str, RunView]:
    from sim import figures
    from sim.runner import run
    from sim.scenario import load_scenario

    if ":" not in text:
        raise InputError(f"--variant {text}: expected LABEL:PATH=VALUE[;PATH=VALUE]")
    label, sets = text.split(":", 1)
    result = run(load_scenario(file, [s for s in sets.split(";") if s]), replicates, seed=seed)
    return label, figures.RunView.from_result(result)


ARTICLE = Path(__file__).resolve().parents[2] / "scenarios" / "openai_2023_11.yaml"


def gallery(
    out: Path = typer.Option(
        Path("plots"), "--out", help="Folder for the figures (the repository's plots/)."
    ),
    scenario: Path = typer.Option(ARTICLE, help="Scenario to draw (the article's by default)."),
    replicates: int = typer.Option(
        4000, "-n", "--replicates", help="Replicates per run and point block."
    ),
    seed: int = typer.Option(20231117, "--seed"),
    quick: bool = typer.Option(False, "--quick", help="Few replicates and points (a smoke run)."),
    jobs: int = typer.Option(2, "--jobs", "-j", min=1),
) -> None:
    """Regenerate the README's figures of a scenario (runs, sweeps, comparison)."""
    from sim import figures
    from sim.runner import run
    from sim.scenario import load_scenario
    from sim.sweep import sweep as run_sweep

    with user_errors():
        if quick:
            replicates = min(replicates, 512)
        base = load_scenario(scenario)
        result = run(base, replicates, seed=seed, jobs=jobs, record=True)
        view = figures.RunView.from_result(result)
        written = save(*figures.figure_trajectories(view), out, "trajectories")
        written += save(*figures.figure_time_to_outcome(view), out, "time_to_outcome")
        tmp = Path(tempfile.mkdtemp(prefix="stancesim-gallery-"))
        try:
            n1, n2 = (4, 3) if quick else (15, 8)
            one = {"agents.toner.rules.0.resistance": f"0.5:1.0:{n1}"}
            run_sweep(
                base,
                one,
                out=tmp / "one",
                seed=seed,
                jobs=jobs,
                replicates=replicates if quick else 1024,
            )
            written += save(*figures.figure_sweep(tmp / "one"), out, "sweep_toner")
            two = {
                "agents.toner.rules.0.resistance": f"0.6:0.95:{n2}",
                "agents.employees.rule.resistance": f"0.30:0.60:{n2}",
            }
            run_sweep(
                base, two, out=tmp / "two", seed=seed, jobs=jobs, replicates=512 if quick else 1024
            )
            written += save(*figures.figure_sweep(tmp / "two", "return"), out, "sweep_heatmap")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        variants = [
            ("as in the article", []),
            ("no Microsoft offer", ["events.microsoft_offer.trigger.time=1000"]),
            (
                "Toner immovable",
                ["agents.toner.rules.0.resistance=2", "agents.toner.rules.1.resistance=2"],
            ),
            ("impatient executives", ["agents.altman.patience={uniform: [60, 84]}"]),
            ("no graceful exit (P6 off)", ["events.negotiation_round.effects=[]"]),
        ]
        views = []
        for label, sets in variants:
            res = run(load_scenario(scenario, sets), replicates, seed=seed, jobs=jobs)
            views.append((label, figures.RunView.from_result(res)))
        written += save(*figures.figure_compare(views), out, "compare")
        observed = scenario.with_name(scenario.stem + ".observations.yaml")
        if observed.exists():
            written += _evidence_figures(base, observed, out, seed, jobs, quick)
        _written(written)


def _evidence_figures(
    base: Any, observed: Path, out: Path, seed: int, jobs: int, quick: bool
) -> list[Path]:
    """The nowcast curve against the facts, and the calibrated parameters."""
    import warnings

    from sim import figures
    from sim.calibrate import calibrate
    from sim.nowcast import DegenerateWeights, default_times, nowcast
    from sim.observations import OutcomeObs, check_against, load_observations

    obs, located = load_observations(observed)
    check_against(obs, located, base)
    realised = next(
        (o.outcome for o in reversed(obs.observations) if isinstance(o, OutcomeObs)), None
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateWeights)  # the figure reports the smallest ESS
        curve = [nowcast(base, obs, t, 256 if quick else 4096, seed) for t in default_times(obs)]
    written = save(*figures.figure_nowcast(base, curve, obs, realised), out, "nowcast")
    bounds = {
        "agents.employees.rule.resistance": (0.3, 0.6),
        "agents.toner.rules.0.resistance": (0.6, 1.0),
    }
    cal = calibrate(
        base,
        obs,
        bounds,
        points=8 if quick else 160,
        particles=64 if quick else 512,
        seed=seed,
        jobs=jobs,
    )
    written += save(*figures.figure_posterior(cal), out, "posterior")
    return written
