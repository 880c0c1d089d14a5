"""``stancesim nowcast``, ``backtest`` and ``reliability`` (``calibrate``: sim.cli.calibrate)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import typer

from sim import budget
from sim.cli.common import fail, stderr, user_errors
from sim.cli.progress import progress_bar
from sim.errors import InputError

OBS = typer.Option(..., "--observations", help="Observations file (kind: observations).")
PARTICLES = typer.Option(4096, "--particles", min=1, help="Particles (replicates) carried along.")
SEED = typer.Option(1, "--seed", min=0, help="Seed.")
MAX_MEMORY = typer.Option(budget.DEFAULT_MAX_MEMORY_TEXT, "--max-memory", help=budget.MEMORY_HELP)
MAX_WORK = typer.Option(budget.DEFAULT_MAX_WORK_TEXT, "--max-work", help=budget.WORK_HELP)
PROCESSES = typer.Option(
    None, "--processes", help="Not supported yet: refused with the reason (see `stancesim run`)."
)
ALLOW_ENDED = typer.Option(
    False,
    "--allow-ended",
    help="Keep replicates that ended before T (default: a nowcast at T also conditions on no "
    "outcome by T, unless an outcome observation published by T says how it ended).",
)
REJUVENATE = typer.Option(
    True,
    "--rejuvenate/--no-rejuvenate",
    help="After each resampling, draw the times still to come anew and move the "
    "individuals' drawn rule parameters by Metropolis-Hastings steps that keep the "
    "simulated path, so the particles do not collapse onto a few values or futures "
    "(default: on).",
)
#: why the particle filter (nowcast, backtest, calibrate) refuses users' processes
NO_PROCESSES = (
    "--processes: not supported by {command} yet: the nowcast resamples replicates mid-run and "
    "cannot resample state kept in a process's generator; run them with `stancesim run`"
)


def refuse_processes(processes: Path | None, command: str) -> None:
    """Exit 2 with one line saying why, when ``--processes`` was given."""
    if processes is not None:
        raise fail(NO_PROCESSES.format(command=command))


def _check_nowcast(
    sc: Any,
    obs: Any,
    particles: int,
    times: list[float],
    max_memory: str,
    max_work: str,
    rejuvenate: bool,
) -> None:
    """Refuse, before any work, a nowcast over the limits (``--max-memory``, ``--max-work``)."""
    n_obs = len(obs.observations)
    estimate = budget.estimate_nowcast(sc, particles, n_obs, len(times), rejuvenate)
    budget.check(estimate, *budget.limits(max_memory, max_work), what="this nowcast")


def _check_times(at: list[float], horizon: float | None = None, option: str = "--at") -> None:
    for t in at:
        if not (math.isfinite(t) and t >= 0):
            raise InputError(f"{option} {t:g}: expected a time in hours, finite and >= 0")
        if horizon is not None and t > horizon:
            raise InputError(f"{option} {t:g}: after the scenario's horizon ({horizon:g} h)")


def _load(file: Path, observations: Path, sets: list[str]) -> tuple[Any, Any]:
    from sim.observations import check_against, load_observations
    from sim.scenario import load_scenario

    sc = load_scenario(file, sets)
    obs, located = load_observations(observations)
    check_against(obs, located, sc)
    return sc, obs


def _curve(
    sc: Any,
    obs: Any,
    times: list[float],
    particles: int,
    seed: int,
    allow_ended: bool,
    rejuvenate: bool,
) -> list[Any]:
    from sim.nowcast import DegenerateWeights, nowcast

    out = []
    with progress_bar(f"nowcast of {sc.name}", len(times), "times") as advance:
        for t in times:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", DegenerateWeights)
                out.append(
                    nowcast(
                        sc,
                        obs,
                        t,
                        particles,
                        seed,
                        allow_ended=allow_ended,
                        rejuvenate=rejuvenate,
                    )
                )
            advance(1)
            for w in caught:
                stderr.print(f"warning: at {t:g} h: {w.message}", markup=False)
    return out


def nowcast(
    file: Path = typer.Argument(..., help="Scenario file."),
    observations: Path = OBS,
    at: list[float] = typer.Option(
        [], "--at", help="Hours; repeatable (default: every observation)."
    ),
    particles: int = PARTICLES,
    seed: int = SEED,
    sets: list[str] = typer.Option([], "--set", help="PATH=VALUE override; repeatable."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the nowcast curve figure here."),
    max_memory: str = MAX_MEMORY,
    max_work: str = MAX_WORK,
    processes: Path | None = PROCESSES,
    allow_ended: bool = ALLOW_ENDED,
    rejuvenate: bool = REJUVENATE,
) -> None:
    """P(outcome | everything public at T), by sequential Monte Carlo over replicates.

    An observation is used at T if and only if it was published by T; by
    default the nowcast also conditions on no outcome by T. Under the table:
    the effective sample size just after each observation of the last T.
    """
    from sim.clocktime import format_time
    from sim.nowcast import default_times

    refuse_processes(processes, "nowcast")
    with user_errors():
        _check_times(at)
        if plot is not None:
            from sim.cli.plot import check_figure_folder

            check_figure_folder(plot, "--plot")
        sc, obs = _load(file, observations, sets)
        _check_times(at, sc.clock.horizon)
        times = sorted(at) or default_times(obs)
        _check_nowcast(sc, obs, particles, times, max_memory, max_work, rejuvenate)
        curve = _curve(sc, obs, times, particles, seed, allow_ended, rejuvenate)
        if as_json:
            typer.echo(json.dumps([n.as_dict() for n in curve], indent=2))
        else:
            names = list(curve[0].probabilities)
            typer.echo(
                "T".ljust(34)
                + "".join(f"P({n})".rjust(16) for n in names)
                + "   min ESS  resamples"
            )
            for n in curve:
                row = format_time(sc.clock, n.at).ljust(34)
                row += "".join(f"{n.probabilities[k]:16.3f}" for k in names)
                typer.echo(f"{row}{n.ess_min:10.0f}{n.resamples:11d}")
            _print_ess(sc, curve[-1])
        if plot is not None:
            from sim import figures
            from sim.cli.plot import save

            # beside, then moved: an interrupt never leaves half a figure under its name
            save(*figures.figure_nowcast(sc, curve, obs), plot, "nowcast", "--plot")


def _print_ess(sc: Any, n: Any) -> None:
    """The effective sample size just after each observation used by the nowcast ``n``."""
    from sim.clocktime import format_time

    how = "rejuvenated" if n.rejuvenate else "not rejuvenated"
    typer.echo("")
    typer.echo(
        f"effective sample size after each observation (nowcast at "
        f"{format_time(sc.clock, n.at)}; {n.particles} particles, {how} after resampling)"
    )
    for e in n.ess_observations:
        mark = "  resampled" if e["resampled"] else ""
        typer.echo(f"{e['t']:8.1f} h {e['ess']:9.0f}  {e['label']}{mark}")


def backtest(
    file: Path = typer.Argument(..., help="Scenario file."),
    observations: Path = OBS,
    max_memory: str = MAX_MEMORY,
    max_work: str = MAX_WORK,
    realised: str | None = typer.Option(
        None, help="The outcome that happened (default: the last outcome observation's)."
    ),
    realised_at: float | None = typer.Option(
        None,
        "--realised-at",
        help="Hours: when it became known (default: the outcome observation's publication).",
    ),
    marks: str | None = typer.Option(
        None,
        "--marks",
        help="Hours to score at: 0,4,8 or FROM:TO:EVERY (default: every 4 h from the first "
        "observation's publication to the realised outcome's).",
    ),
    references: list[Path] = typer.Option(
        [],
        "--reference",
        help="CSV with columns t,p (another forecaster's P(realised) at hour t); repeatable.",
    ),
    particles: int = PARTICLES,
    seed: int = SEED,
    allow_ended: bool = ALLOW_ENDED,
    rejuvenate: bool = REJUVENATE,
    out: Path = typer.Option(
        Path("stancesim-plots"), "--out", help="Folder for the figure, scores and table."
    ),
) -> None:
    """Score the nowcast at fixed marks against the realised outcome, beside baselines.

    The model, the prior (no observation), a naive 0.5 and any --reference are
    scored at the same marks: Brier score of the realised event and log score.
    """
    from sim.backtest import backtest as run_backtest
    from sim.backtest import default_marks, parse_marks, read_reference, realised_outcome
    from sim.backtest_plots import figure_backtest
    from sim.cli.plot import save

    with user_errors():
        from sim.cli.plot import check_figure_folder

        check_figure_folder(out)
        sc, obs = _load(file, observations, [])
        seen = realised_outcome(obs)
        if realised is None:
            if seen is None:
                raise InputError("no outcome observation in the file: give --realised OUTCOME")
            realised = seen[0]
        if realised not in sc.outcomes:
            raise InputError(
                f"--realised {realised}: unknown outcome (known: {', '.join(sc.outcomes)})"
            )
        if realised_at is None:
            if seen is None:
                raise InputError("no outcome observation in the file: give --realised-at HOURS")
            realised_at = seen[1]
        _check_times([realised_at], sc.clock.horizon, "--realised-at")
        times = parse_marks(marks) if marks is not None else default_marks(obs, realised_at)
        _check_times(times, sc.clock.horizon, "--marks")
        if not times:
            raise InputError(
                f"no mark before the realised outcome at {realised_at:g} h: give --marks"
            )
        refs = {p.stem: read_reference(p) for p in references}
        _check_nowcast(sc, obs, particles, times, max_memory, max_work, rejuvenate)
        with progress_bar(f"backtest of {sc.name}", len(times), "marks") as advance:
            with warnings.catch_warnings(record=True) as caught:
                from sim.nowcast import DegenerateWeights

                warnings.simplefilter("always", DegenerateWeights)
                bt = run_backtest(
                    sc,
                    obs,
                    realised,
                    realised_at,
                    times,
                    particles,
                    seed,
                    allow_ended,
                    refs,
                    progress=advance,
                    rejuvenate=rejuvenate,
                )
        # one line for the collapsed marks, not one warning per mark: each mark is a nowcast
        from sim.nowcast import ESS_WARNING

        low = [(n.ess_min, n.at) for n in bt.model if n.ess_min < ESS_WARNING]
        if low:
            ess_low, at_low = min(low)
            stderr.print(
                f"warning: the effective sample size fell below {ESS_WARNING} at {len(low)} of "
                f"{len(times)} marks (lowest {ess_low:.1f} of {particles} particles, at "
                f"{at_low:g} h): the observations are hard for the model to reproduce; those "
                "marks' nowcasts are unreliable",
                markup=False,
            )
        for w in caught:
            if not issubclass(w.category, DegenerateWeights):
                stderr.print(f"warning: {w.message}", markup=False)
        fig, data = figure_backtest(bt, obs)
        data["marks"] = [f"{i + 1}: {o.note or o.kind}" for i, o in enumerate(obs.observations)]
        save(fig, data, out, "backtest")
        _write_table(bt, out / "backtest.csv")
        _print_backtest(bt)
        typer.echo(f"figure, scores and table in {out}/backtest.*")


def _write_table(bt: Any, path: Path) -> None:
    """``backtest.csv``: one row per mark, P(realised) and scores of each forecaster."""
    import csv
    import io
    import os

    from sim.folders import write_error

    scores = bt.scores()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["t"] + [f"{col} {name}" for name in scores for col in ("p", "brier", "log_score")])
    for i, t in enumerate(bt.marks):
        row: list[Any] = [t]
        for s in scores.values():
            row += ["" if s[k][i] is None else s[k][i] for k in ("p", "brier", "log_score")]
        w.writerow(row)
    tmp = path.with_name(f".{path.name}.part")
    try:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
        os.replace(tmp, path)  # whole or not at all
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(path.parent, exc) from None


def _print_backtest(bt: Any) -> None:
    from sim.backtest import brier_all

    scores = bt.scores()
    names = list(scores)
    r = bt.realised
    typer.echo(f"P({r}) at each mark (it ended {r}, known at {bt.realised_at:g} h)")
    typer.echo(f"{'T':>8}" + "".join(f"{n[:18]:>20}" for n in names) + "    ESS  used")
    for i, (t, n) in enumerate(zip(bt.marks, bt.model, strict=True)):
        cells = "".join(
            f"{'-':>20}" if scores[k]["p"][i] is None else f"{scores[k]['p'][i]:20.3f}"
            for k in names
        )
        typer.echo(f"{t:8.1f}{cells}{n.ess_min:7.0f}{n.used:6d}")
    typer.echo("")
    typer.echo(f"{'forecaster':<24}{'Brier':>8}{'log score':>11}{'marks':>7}   (lower is better)")
    for k, s in scores.items():
        if s["mean_brier"] is None:
            typer.echo(f"{k[:24]:<24}{'-':>8}{'-':>11}{0:7d}")
            continue
        typer.echo(
            f"{k[:24]:<24}{s['mean_brier']:8.3f}{s['mean_log_score']:11.3f}{s['marks_scored']:7d}"
        )
    multi = [brier_all(n.probabilities, r) for n in bt.model]
    typer.echo(
        f"model, multi-outcome Brier (sum over outcomes, not comparable with the above): "
        f"{sum(multi) / len(multi):.3f}"
    )


def reliability(
    cases: list[Path] = typer.Argument(
        ..., help="Backtest folders (or their backtest.json files) to pool."
    ),
    bins: int = typer.Option(10, "--bins", min=2, max=100, help="Equal-width bins."),
    out: Path = typer.Option(
        Path("stancesim-plots"), "--out", help="Folder for reliability.png/.svg/.json."
    ),
) -> None:
    """A reliability diagram pooling the model's forecasts of several backtests."""
    from sim.backtest import reliability as table_of
    from sim.backtest_plots import figure_reliability
    from sim.cli.plot import save

    with user_errors():
        from sim.cli.plot import check_figure_folder

        check_figure_folder(out)
        pairs: list[tuple[float, int]] = []
        names = []
        for c in cases:
            path = c / "backtest.json" if c.is_dir() else c
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                got = [(float(p), int(y)) for p, y in data["pairs"]]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise InputError(
                    f"{path}: not a backtest's scores ({exc}); write them with "
                    "stancesim backtest --out"
                ) from None
            pairs += got
            names.append(str(data.get("scenario", path)))
        table = table_of(pairs, bins)
        save(*figure_reliability(table, names), out, "reliability")
        typer.echo(f"{'bin':>11}{'forecast':>10}{'observed':>10}{'count':>7}")
        for r in table:
            typer.echo(
                f"{r['low']:5.2f}-{r['high']:<5.2f}{r['forecast']:10.3f}{r['observed']:10.3f}"
                f"{r['count']:7d}"
            )
        typer.echo(
            f"{len(pairs)} forecasts from {len(names)} case(s); figure in {out}/reliability.*"
        )
