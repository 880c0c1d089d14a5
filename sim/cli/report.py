"""``stancesim report``: one self-contained HTML page of a run, sweep, sensitivity or backtest."""

from __future__ import annotations

from pathlib import Path

import typer

from sim import budget
from sim.cli.common import user_errors


def report(
    source: Path = typer.Argument(
        ...,
        help="A run, sweep, sensitivity or backtest folder, or a scenario file (run first).",
    ),
    out: Path = typer.Option(
        ..., "-o", "--out", help="The HTML file to write (a new file, unless --overwrite)."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an existing file at -o (never the input)."
    ),
    replicates: int = typer.Option(
        2000, "-n", "--replicates", min=1, help="Replicates when SOURCE is a scenario file."
    ),
    seed: int = typer.Option(1, "--seed", min=0, help="Seed when SOURCE is a scenario file."),
    partial: bool = typer.Option(
        False, "--partial", help="Report an unfinished sweep's finished points (marked PARTIAL)."
    ),
    discovery: list[Path] = typer.Option(
        [],
        "--discovery",
        help="A discovery folder (stancesim discover --out) to include; repeatable. Those "
        "inside SOURCE are included anyway.",
    ),
    max_memory: str = typer.Option(
        budget.DEFAULT_MAX_MEMORY_TEXT, "--max-memory", help=budget.MEMORY_HELP
    ),
    max_work: str = typer.Option(budget.DEFAULT_MAX_WORK_TEXT, "--max-work", help=budget.WORK_HELP),
) -> None:
    """Write one HTML file to share, readable offline: premises, outcomes, figures, provenance."""
    from sim import report as rep

    with user_errors():
        if out.is_dir():
            raise rep.InputError(
                f"-o {out}: is a folder; give a file name such as {out}/report.html"
            )
        inside = source.resolve() in (out.resolve(), *out.resolve().parents)
        if inside:  # the input, or a file inside an input folder (whose seal lists its files)
            raise rep.InputError(f"-o {out}: is the input (or inside it); give another file name")
        if out.exists() and not overwrite:
            raise rep.InputError(
                f"-o {out}: exists; give another file name, or --overwrite to replace it"
            )
        if rep.detect(source) == "scenario":
            from sim.cli.progress import run_with_progress
            from sim.scenario import load_scenario

            text = source.read_text(encoding="utf-8")
            scenario = load_scenario(source)
            estimate = budget.estimate_run(scenario, replicates, 1, True)
            budget.check(estimate, *budget.limits(max_memory, max_work))
            result = run_with_progress(scenario, replicates, seed, record=True)
            page = rep.report_run(result, text, rep.run_record(), str(source))
        else:
            page = rep.report_folder(source, partial, discovery)
        rep.write_atomic(page, out)
        typer.echo(f"report written to {out}")
