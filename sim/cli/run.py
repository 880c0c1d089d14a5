"""``stancesim run``: outcome probabilities of a scenario file."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from sim import budget
from sim.cli.common import user_errors
from sim.cli.progress import run_with_progress
from sim.clocktime import format_time
from sim.errors import InputError
from sim.outcomes import MAX_ORDERS, MIN_ORDER_SHARE, ORDERS_COVER
from sim.results import RunResult
from sim.scenario import load_scenario
from sim.stats import fixed
from sim.userprocesses import load_processes, raised_in

if TYPE_CHECKING:
    from rich.console import Console


class Record(StrEnum):
    """What ``--record`` can keep."""

    trajectories = "trajectories"


def run(
    file: Path = typer.Argument(..., help="Scenario YAML file."),
    replicates: int = typer.Option(1000, "-n", "--replicates", min=1, help="Number of replicates."),
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="Seed (fresh entropy when omitted)."
    ),
    sets: list[str] = typer.Option(
        [], "--set", help="Override PATH=VALUE (VALUE in YAML flow syntax); repeatable."
    ),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Worker processes."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    out: Path | None = typer.Option(
        None, "--out", help="Write Parquet/JSON/YAML results to this new (or empty) folder."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace a non-empty --out folder (swapped, never mixed)."
    ),
    record: Record | None = typer.Option(None, "--record", help="Also keep per-tick trajectories."),
    max_memory: str = typer.Option(
        budget.DEFAULT_MAX_MEMORY_TEXT, "--max-memory", help=budget.MEMORY_HELP
    ),
    max_work: str = typer.Option(budget.DEFAULT_MAX_WORK_TEXT, "--max-work", help=budget.WORK_HELP),
    processes: Path | None = typer.Option(
        None,
        "--processes",
        help="Python file whose list PROCESSES names SimPy processes fn(env, world) to run too.",
    ),
) -> None:
    """Run a scenario and report how likely each ending is, when, and who switched."""
    with user_errors():
        if out is not None:
            from sim.folders import check_target  # refuse a bad --out before the work

            inputs = (file,) if processes is None else (file, processes)
            check_target(out, overwrite, inputs)
        limits = budget.limits(max_memory, max_work)
        scenario = load_scenario(file, sets)
        procs = load_processes(processes) if processes is not None else []
        estimate = budget.estimate_run(scenario, replicates, jobs, record is not None)
        budget.check(estimate, *limits)
        try:
            result = run_with_progress(scenario, replicates, seed, jobs, record is not None, procs)
        except Exception as exc:  # the user's Python code may raise anything
            where = raised_in(exc, processes) if processes is not None else None
            if where is None:
                raise
            raise InputError(where) from None
        summary = result.summary()
        if out is not None:
            from sim.folders import keeping
            from sim.output import write_run  # pyarrow only when files are asked for
            from sim.report import SOURCE_NAME, run_record

            # the file verbatim (its comments are the premises) and how it was run
            with keeping({SOURCE_NAME: file.read_bytes()}, **run_record()):
                write_run(result, out, overwrite)
        if as_json:
            typer.echo(json.dumps(summary, indent=2))
        else:
            # rich only for the tables: ``--json`` starts without it (about 40 ms)
            from rich.console import Console

            report(result, Console(highlight=False))
            if out is not None:
                typer.echo(f"results written to {out}/")


def report(result: RunResult, console: Console) -> None:
    """Print the outcome, agent and order tables."""
    from rich.markup import escape
    from rich.table import Table

    s, clock = result.summary(), result.scenario.clock
    console.print(
        f"[bold]{escape(s['scenario'])}[/]: {s['replicates']} replicates, seed {s['seed']}, "
        f"scenario {s['scenario_sha256'][:12]}, stancesim {s['version']}",
        emoji=False,  # a name is text, whatever colons it holds
    )
    t = Table(title="Outcomes", title_justify="left")
    for col in ("outcome", "P", "95% CI", "count", "median time", "10-90% range"):
        t.add_column(col, justify="left" if col in ("outcome", "median time") else "right")
    for name, o in s["outcomes"].items():
        if name == "unresolved" and o["count"] == 0:
            continue
        span = "—" if o["time_q10"] is None else f"{o['time_q10']:.0f}-{o['time_q90']:.0f} h"
        t.add_row(
            name,
            fixed(o["p"]),
            f"[{fixed(o['ci95'][0])}, {fixed(o['ci95'][1])}]",
            str(o["count"]),
            format_time(clock, o["time_median"]),
            span,
        )
    console.print(t)
    a = Table(title="Agents", title_justify="left")
    a.add_column("agent")
    a.add_column("P(switch)", justify="right")
    a.add_column("median switch time")
    for aid, info in s["agents"].items():
        a.add_row(aid, fixed(info["p_switch"]), format_time(clock, info["switch_time_median"]))
    console.print(a)
    console.print(
        "[dim]P(switch): share of replicates in which an individual left its initial position; "
        "for a population, the mean final share out of it (median time: when it passed half).[/]"
    )
    for name, rows in s["orders"].items():
        console.print(f"[bold]Most common orders of switches before {name}[/]")
        for r in rows:
            if "distinct" in r:
                kinds = "order" if r["distinct"] == 1 else "orders"
                text = f"[dim]{r['distinct']} other {kinds}[/]"
            else:
                text = escape(r["order"])
            console.print(f"  {r['share']:6.1%}  {text}")
    if s["orders"]:
        console.print(
            f"[dim]Orders: the most common until they cover {ORDERS_COVER:.0%}, "
            f"at most {MAX_ORDERS}, none under {MIN_ORDER_SHARE:.0%}.[/]"
        )
