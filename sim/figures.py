"""Figures of results given to them: a run's :class:`~sim.results.RunResult`, a sweep's table.

Nothing here runs a simulation or reads a results folder: the caller does
(``stancesim plot`` and ``gallery`` in :mod:`sim.cli.plot`, or a notebook).
Each ``figure_*`` function derives the curves it draws from the result
(:mod:`sim.stats`), draws them (:mod:`sim.plotting`) and returns the figure and
the data behind it (plain numbers, also written beside the image so that tests
and CI can check them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim import plotting as P
from sim import stats
from sim._version import __version__
from sim.clocktime import to_datetime
from sim.errors import InputError
from sim.scenario import UNRESOLVED, AtTrigger, Individual, Population, Scenario
from sim.yamlio import item_index

if TYPE_CHECKING:
    import pyarrow as pa

    from sim.results import RunResult

Array = np.ndarray[Any, Any]


def _note(result: RunResult) -> str:
    """Provenance line of a run figure."""
    return (
        f"{result.scenario.name} · {result.replicates} replicates · seed {result.seed} · "
        f"stancesim {result.version}"
    )


def design_note(
    what: str,
    points: int | None = None,
    replicates: int | None = None,
    seed: int | None = None,
    version: str | None = None,
    extra: str | None = None,
) -> str:
    """Provenance line of a figure over many points (a sweep, a sensitivity design, PRIM).

    What was run, its points and replicates a point, seed, ``extra`` and the
    version; a part not known (an old results file) is left out.
    """
    parts = [what]
    if points is not None:
        each = "" if replicates is None else f" × {replicates} replicates"
        parts.append(f"{points} points{each}")
    if seed is not None:
        parts.append(f"seed {seed}")
    if extra:
        parts.append(extra)
    parts.append(f"stancesim {version or __version__}")
    return " · ".join(parts)


def folder_note(manifest: dict[str, Any], points: int, partial: str | None = None) -> str:
    """Provenance line of a figure of a sweep or sensitivity folder's ``points`` finished points.

    ``partial`` (the reader's note on an unfinished folder) comes first.
    """
    definition = manifest["definition"]
    name = manifest["base_scenario"]["name"]
    design = manifest.get("sensitivity")
    what = f"sweep of {name}" if design is None else f"{design['method']} sensitivity of {name}"
    note = design_note(
        what,
        points,
        definition.get("replicates"),
        definition.get("seed"),
        manifest.get("stancesim_version"),
    )
    return note if partial is None else f"PARTIAL ({partial}) · {note}"


def _times(scenario: Scenario, hours: Array) -> Any:
    if scenario.clock.start is None:
        return hours
    return [to_datetime(scenario.clock, float(h)) for h in hours]


def _event_marks(scenario: Scenario) -> list[tuple[float, str]]:
    marks = []
    for eid, e in scenario.events.items():
        if isinstance(e.trigger, AtTrigger) and isinstance(e.trigger.time, int | float):
            marks.append((float(e.trigger.time), eid.replace("_", " ")))
    return sorted(marks)


def _convert_marks(scenario: Scenario, marks: list[tuple[float, str]]) -> list[tuple[Any, str]]:
    if scenario.clock.start is None:
        return marks
    return [(to_datetime(scenario.clock, t), text) for t, text in marks]


# ------------------------------------------------------------- run figures
def figure_time_to_outcome(result: RunResult) -> tuple[Any, dict[str, Any]]:
    """Cumulative incidence of each outcome over time."""
    sc = result.scenario
    grid = np.arange(0, sc.clock.n_ticks + 1) * sc.clock.tick
    cif = stats.cumulative_incidence(result.outcome, result.time, len(result.outcome_names), grid)
    curves = dict(zip(result.outcome_names, cif, strict=True))
    ax = P.step_curves(
        _times(sc, grid),
        curves,
        "probability the crisis has ended this way",
        _convert_marks(sc, _event_marks(sc)),
        total=cif.sum(axis=0),
    )
    ax.set_title("When each ending happens (cumulative incidence)")
    _finish_time_axis(ax, sc)
    P.footnote(ax.figure, _note(result))
    data = {"t": grid.tolist(), **{k: v.tolist() for k, v in curves.items()}}
    return ax.figure, data


def _finish_time_axis(ax: Any, sc: Scenario) -> None:
    if sc.clock.start is not None:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(sc.clock.timezone) if sc.clock.timezone else sc.clock.start.tzinfo
        P.date_axis(ax, tz)
        zone = sc.clock.timezone or str(sc.clock.start.tzinfo)
        ax.set_xlabel(f"time ({zone})")
    else:
        ax.set_xlabel("hours")


def figure_trajectories(
    result: RunResult, population: str | None = None
) -> tuple[Any, dict[str, Any]]:
    """A population's support as a fan chart over the individuals' switch times."""
    import matplotlib.pyplot as plt

    sc = result.scenario
    if result.trajectories is None:
        raise InputError("no trajectories in this run: use stancesim run --record trajectories")
    pops = [k for k, a in sc.agents.items() if isinstance(a, Population)]
    if population is None and pops:
        population = pops[0]
    elif population is not None and population not in pops:
        there = ", ".join(pops) if pops else "none in this scenario"
        kind = sc.agents[population].kind if population in sc.agents else None
        article = "an" if kind and kind[0] in "aeiou" else "a"
        what = f"'{population}' is {article} {kind}" if kind else f"no agent '{population}'"
        raise InputError(f"--population: {what}; expected a population ({there})")
    ticks = np.arange(1, sc.clock.n_ticks + 1) * sc.clock.tick
    fig, axes = plt.subplots(2, 1, figsize=(7.5, 6.4), sharex=True, layout="constrained")
    data: dict[str, Any] = {"t": ticks.tolist()}
    marks = _convert_marks(sc, _event_marks(sc))
    x = _times(sc, ticks)
    if population is not None:
        agent = sc.agents[population]
        assert isinstance(agent, Population)
        to = getattr(next(iter(agent.rule_list), None), "to", agent.initial)
        matrix = _trajectory_matrix(
            result.trajectories, f"{population}.{to}", result.replicates, len(ticks), sc.clock.tick
        )
        bands = stats.quantile_bands(stats.carry_forward(matrix))
        P.fan(x, bands, f"{population} {to}", marks, ax=axes[0])
        axes[0].set_title(f"{population}: share {to} (replicates keep their end state)")
        data["bands"] = bands.tolist()
    grid = np.concatenate([[0.0], ticks])
    curves = {
        a: stats.ecdf(result.switch_time[:, i], result.replicates, grid)
        for i, a in enumerate(result.individuals)
        if isinstance(sc.agents[a], Individual) and sc.agents[a].rules  # type: ignore[union-attr]
    }
    P.step_curves(_times(sc, grid), curves, "share of replicates switched", ax=axes[1])
    axes[1].set_title("When each individual switched (first move out of the initial stance)")
    decision_ticks = sorted({t for d in _decision_times(sc) for t in d})
    for t in decision_ticks:
        axes[1].axvline(_times(sc, np.array([t]))[0], ymax=0.03, color="black", linewidth=0.8)
    _finish_time_axis(axes[1], sc)
    P.footnote(fig, _note(result) + " · ticks on the lower axis: scheduled votes")
    data["switch"] = {k: v.tolist() for k, v in curves.items()}
    data["switch_t"] = grid.tolist()
    return fig, data


def _decision_times(sc: Scenario) -> list[list[float]]:
    from sim.plan import tick_range

    out = []
    for d in sc.decisions.values():
        if d.schedule is not None:
            ks = tick_range(
                d.schedule.start,
                d.schedule.every,
                d.schedule.until,
                sc.clock.tick,
                sc.clock.n_ticks,
            )
            out.append([k * sc.clock.tick for k in sorted(ks)])
    return out


def _trajectory_matrix(
    traj: Mapping[str, Array], column: str, replicates: int, n_ticks: int, tick: float
) -> Array:
    """(replicates, ticks) matrix of one trajectory column; NaN after a replicate ended."""
    if column not in traj:
        raise InputError(f"no trajectory column {column!r}")
    m = np.full((replicates, n_ticks), np.nan)
    rep = traj["replicate"].astype(int)
    k = np.rint(traj["t"] / tick).astype(int) - 1
    keep = rep < replicates
    m[rep[keep], np.clip(k[keep], 0, n_ticks - 1)] = traj[column][keep]
    return m


# ----------------------------------------------------------- sweep figures
def _half_line(drawn: bool, p: Array) -> str:
    """The title's word on the 0.5 line: where it is, or the range P stayed in."""
    if drawn:
        return "the white line is where it is 0.5"
    lo, hi = float(np.nanmin(p)), float(np.nanmax(p))
    return f"from {lo:.2f} to {hi:.2f}, no line where it is 0.5"


def figure_sweep(
    table: pa.Table,
    manifest: dict[str, Any],
    outcome: str | None = None,
    partial: str | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Where the ending flips, from a sweep's points table and manifest.

    One parameter: P(outcome) curves with their 95% bands. Two or more on a
    grid: a heatmap over the first two (averaged over the others) with the 0.5
    contour. Two or more sampled (random, LHS, Sobol'): each point coloured by
    P(outcome) over a surface interpolated between the points, with its 0.5
    contour. ``partial`` (the reader's note on an unfinished sweep) goes into
    the footnote and the data.

    See :func:`sim.sweep_results.read_results` for reading a sweep folder.
    """
    params = list(manifest["definition"]["parameters"])
    base = manifest["base_scenario"]
    outcomes = [*base["outcomes"], UNRESOLVED]
    ok = np.array([s == "ok" for s in table.column("status").to_pylist()], dtype=bool)
    col = {
        c: np.array(table.column(c).to_pylist(), dtype=float)
        for c in table.column_names
        if c.startswith(("p_", "ci95_"))
    }
    note = folder_note(manifest, table.num_rows, partial)
    extra = {} if partial is None else {"partial": partial}

    def values(param: str) -> Array:
        return np.array(table.column(param).to_pylist(), dtype=float)[ok]

    if len(params) == 1:
        x = values(params[0])
        order = np.argsort(x)
        x = x[order]
        shown = [o for o in outcomes if o != UNRESOLVED or col[f"p_{o}"][ok].max() > 0]
        curves = {
            o: (
                col[f"p_{o}"][ok][order],
                col[f"ci95_lo_{o}"][ok][order],
                col[f"ci95_hi_{o}"][ok][order],
            )
            for o in shown
        }
        crossings = {o: stats.crossing(x, c[0]) for o, c in curves.items()}
        base_value = _base_value(base, params[0])
        ax = P.outcome_curve(x, curves, P.plain_label(params[0]), base_value, crossings)
        ax.set_title("Where the ending flips")
        P.footnote(ax.figure, note)
        return ax.figure, {
            **extra,
            "x": x.tolist(),
            **{o: c[0].tolist() for o, c in curves.items()},
            "crossings": crossings,
        }
    outcome = outcome or outcomes[0]
    if f"p_{outcome}" not in col:
        raise InputError(f"no outcome {outcome!r} in this sweep (known: {', '.join(outcomes)})")
    xs, ys, p = values(params[0]), values(params[1]), col[f"p_{outcome}"][ok]
    labels = P.plain_label(params[0]), P.plain_label(params[1])
    others = ", ".join(P.plain_label(q) for q in params[2:])
    if manifest["definition"].get("sampler", "grid") != "grid":
        ax, contour = P.scatter_surface(xs, ys, p, *labels, f"P({outcome})")
        title = f"P({outcome}) at each point: " + _half_line(bool(contour), p)
        if others:
            title += f"\n({others} also vary between points)"
        ax.set_title(title, fontsize=10)
        P.footnote(ax.figure, note)
        return ax.figure, {
            **extra,
            "x": xs.tolist(),
            "y": ys.tolist(),
            "p": p.tolist(),
            "contour": [seg.tolist() for seg in contour],
        }
    ux, uy, z = stats.pivot_grid(xs, ys, p)
    ax = P.heatmap(ux, uy, z, *labels, f"P({outcome})")
    title = f"P({outcome}): " + _half_line(P.grid_crosses_half(ux, uy, z), z)
    if others:
        title += f"\n(averaged over {others})"
    ax.set_title(title, fontsize=10)
    P.footnote(ax.figure, note)
    return ax.figure, {
        **extra,
        "x": ux.tolist(),
        "y": uy.tolist(),
        "z": [[None if np.isnan(v) else float(v) for v in row] for row in z],
    }


def _base_value(base: dict[str, Any], path: str) -> float | None:
    """The base scenario's value at ``path``; for a distribution, its mean (closed form)."""
    node: Any = base
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and (index := item_index(node, part)) is not None:
            node = node[index]  # by index or by id, as --set
        else:
            return None
    if isinstance(node, int | float) and not isinstance(node, bool):
        return float(node)
    if isinstance(node, dict):
        from pydantic import TypeAdapter

        from sim.distributions import Param, mean

        try:
            dist: Any = TypeAdapter(Param).validate_python(node)
        except ValueError:
            return None
        value = mean(dist)
        return value if np.isfinite(value) else None
    return None


# --------------------------------------------------------- comparison figure
def _runs_note(views: list[tuple[str, RunResult]]) -> str:
    """Replicates and seed of the runs compared: once when all share them, else run by run."""
    reps = {v.replicates for _, v in views}
    seeds = {v.seed for _, v in views}
    if len(reps) == 1:
        note = f"{reps.pop()} replicates each"
    else:
        note = "replicates: " + ", ".join(f"{label} {v.replicates}" for label, v in views)
    if len(seeds) == 1:
        return f"{note} · seed {seeds.pop()}"
    return f"{note} · seeds: " + ", ".join(f"{label} {v.seed}" for label, v in views)


def figure_compare(views: list[tuple[str, RunResult]]) -> tuple[Any, dict[str, Any]]:
    """Outcome probabilities with 95% intervals for several scenarios or variants."""
    names: list[str] = []
    for _, v in views:
        names += [o for o in [*v.outcome_names, UNRESOLVED] if o not in names]
    labels = [label for label, _ in views]
    outcomes: dict[str, tuple[Array, Array, Array]] = {}
    for name in names:
        p, lo, hi = [], [], []
        for _, v in views:
            code = v.outcome_names.index(name) if name in v.outcome_names else -1
            k = (
                int((v.outcome == code).sum())
                if (name in v.outcome_names or name == UNRESOLVED)
                else 0
            )
            a, b = stats.wilson_interval(k, v.replicates)
            p.append(k / v.replicates)
            lo.append(a)
            hi.append(b)
        if name != UNRESOLVED or max(p) > 0:
            outcomes[name] = (np.array(p), np.array(lo), np.array(hi))
    ax = P.compare(labels, outcomes)
    ax.set_title("Endings side by side")
    P.footnote(ax.figure, f"{_runs_note(views)} · stancesim {__version__}")
    return ax.figure, {"labels": labels, **{k: v[0].tolist() for k, v in outcomes.items()}}


# ------------------------------------------------------------------- saving
def save(fig: Any, data: dict[str, Any], out: Path, name: str) -> list[Path]:
    """Write ``name.png``, ``name.svg`` and ``name.json`` (the data behind the figure)."""
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        path = out / f"{name}.{ext}"
        if ext == "svg":
            # no date and element ids salted by the figure's name, so that
            # regenerating the gallery changes far fewer lines (matplotlib may
            # still name clip paths after objects' addresses)
            with plt.rc_context({"svg.hashsalt": name}):
                fig.savefig(path, metadata={"Date": None})
        else:
            fig.savefig(path, dpi=150)
        paths.append(path)
    (out / f"{name}.json").write_text(json.dumps(data, default=_jsonable) + "\n")
    paths.append(out / f"{name}.json")
    plt.close(fig)
    return paths


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


# ------------------------------------------------------------------ evidence
def figure_nowcast(
    scenario: Scenario, curve: list[Any], observations: Any, realised: str | None = None
) -> tuple[Any, dict[str, Any]]:
    """P(outcome | observations up to T) against T, with the observations marked."""
    t = np.array([n.at for n in curve])
    names = [
        o
        for o in [*scenario.outcomes, UNRESOLVED]
        if any(n.probabilities.get(o, 0) > 0 for n in curve)
    ]
    curves = {o: np.array([n.probabilities.get(o, 0.0) for n in curve]) for o in names}
    # numbered marks, where the curve can move: when each observation became known
    # (published, or the end of its window); the numbers are their order in the file
    marks = [(o.known_at, str(i + 1)) for i, o in enumerate(observations.observations)]
    ax = P.step_curves(
        _times(scenario, t),
        curves,
        "P(outcome | what was seen by then)",
        _convert_marks(scenario, marks),
    )
    title = "Nowcast: the odds as the news came in"
    if realised is not None:
        title += f" (it ended: {realised})"
    ax.set_title(title)
    _finish_time_axis(ax, scenario)
    first = curve[0]
    P.footnote(
        ax.figure,
        f"{scenario.name} · {first.particles} particles · smallest ESS "
        f"{min(n.ess_min for n in curve):.0f} · stancesim {__version__} · numbered lines: "
        "observations, in file order",
    )
    notes = [f"{i + 1}: {o.note or o.kind}" for i, o in enumerate(observations.observations)]
    return ax.figure, {
        "t": t.tolist(),
        **{k: v.tolist() for k, v in curves.items()},
        "marks": notes,
    }


def figure_posterior(cal: Any) -> tuple[Any, dict[str, Any]]:
    """Posterior marginals (diagonal) and pairs (below it) of calibrated parameters."""
    import matplotlib.pyplot as plt

    k = len(cal.paths)
    fig, axes = plt.subplots(
        k, k, figsize=(3.2 * k + 1, 3.0 * k + 0.6), squeeze=False, layout="constrained"
    )
    for i in range(k):
        for j in range(k):
            ax = axes[i][j]
            if i == j:
                lo, hi = cal.bounds[i]
                ax.hist(
                    cal.values[:, i],
                    bins=20,
                    range=(lo, hi),
                    weights=cal.weights,
                    color=P.PALETTE[0],
                )
                ax.set_yticks([])
            elif i > j:
                ax.scatter(
                    cal.values[:, j],
                    cal.values[:, i],
                    s=4 + 400 * cal.weights,
                    c=P.PALETTE[1],
                    alpha=0.6,
                )
            else:
                ax.axis("off")
            if i == k - 1:
                ax.set_xlabel(P.plain_label(cal.paths[j]))
            if j == 0 and i > 0:
                ax.set_ylabel(P.plain_label(cal.paths[i]))
    fig.suptitle("Posterior of the calibrated parameters")
    P.footnote(
        fig,
        f"{len(cal.weights)} design points · {cal.particles} particles each · "
        f"ESS {cal.ess:.0f} · seed {cal.seed} · stancesim {__version__}",
    )
    return fig, {"paths": cal.paths, "mean": cal.posterior_mean(), "ess": cal.ess}
