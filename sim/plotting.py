"""Drawing functions: each takes computed results and ``ax=None``, draws, returns the Axes.

Nothing here computes statistics (see :mod:`sim.stats`); colours are the
Okabe-Ito palette, safe for colour-blind readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# No matplotlib.use() here: importing this module in a notebook must leave the
# notebook's backend alone. The command line chooses Agg (sim/cli/__init__.py).
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

#: Okabe & Ito (2008), colour-blind safe; grey for "unresolved".
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
GREY = "#999999"

Array = np.ndarray[Any, Any]


def colour(i: int, name: str = "") -> str:
    """The i-th palette colour (grey for ``unresolved``)."""
    return GREY if name == "unresolved" else PALETTE[i % len(PALETTE)]


def _ax(ax: Axes | None, size: tuple[float, float] = (7.0, 4.2)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def _legend_outside(ax: Axes) -> None:
    """The legend right of the axes: inside, any corner may hold a curve or a mark's label."""
    ax.legend(frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))


#: A probability axis reaches a little beyond 0 and 1: a curve at exactly 0
#: or 1 (an outcome certain at some points) would otherwise lie on the frame,
#: under the axis line (the reliability diagram keeps the same margin)
PROBABILITY_LIMITS = (-0.03, 1.03)


def probability_axis(ax: Axes, which: str = "y") -> None:
    """Limits of a probability axis with a small margin, ticked at 0, 0.2, ..., 1 only."""
    ticks = np.linspace(0.0, 1.0, 6)
    if which == "y":
        ax.set_ylim(*PROBABILITY_LIMITS)
        ax.set_yticks(ticks)
    else:
        ax.set_xlim(*PROBABILITY_LIMITS)
        ax.set_xticks(ticks)


def _style(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def plain_label(path: str) -> str:
    """A parameter path in plain words.

    ``agents.toner.rules.0.resistance`` becomes ``toner: resistance``.
    """
    parts = path.split(".")
    if len(parts) >= 2 and parts[0] == "agents":
        agent = parts[1]
        rest = [p for p in parts[2:] if not p.isdigit() and p not in ("rules", "rule")]
        if rest[:2] == ["threshold", "normal"]:
            which = {"0": "mean", "1": "sd"}.get(parts[-1], parts[-1])
            return f"{agent}: {which} threshold"
        return f"{agent}: {' '.join(rest).replace('_', ' ')}"
    return path.replace("_", " ")


def outcome_curve(
    x: Array,
    outcomes: dict[str, tuple[Array, Array, Array]],
    xlabel: str,
    base: float | None = None,
    crossings: dict[str, float | None] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """P(outcome) against one parameter: a line per outcome with its 95% band.

    Each crossing of 0.5 gets a dotted line and, at the foot of the axes, a
    label on a white ground; outcomes crossing at the same value (two
    complementary endings always do) share both.
    """
    ax = _ax(ax)
    at: dict[str, list[tuple[str, str]]] = {}  # crossing as printed -> (outcome, colour)
    for i, (name, (p, lo, hi)) in enumerate(outcomes.items()):
        c = colour(i, name)
        ax.fill_between(x, lo, hi, color=c, alpha=0.2, linewidth=0)
        ax.plot(x, p, color=c, marker="o", markersize=3, label=name)
        cross = (crossings or {}).get(name)
        if cross is not None:
            at.setdefault(f"{cross:.3g}", []).append((name, c))
    for j, (value, named) in enumerate(at.items()):
        c = named[0][1] if len(named) == 1 else "#333333"
        ax.axvline(float(value), color=c, linestyle=":", linewidth=1)
        ax.annotate(
            " and ".join(n for n, _ in named) + f" = 0.5 at {value}",
            # just above probability 0, so that a curve lying at 0 stays in sight
            xy=(float(value), 0.0),
            xytext=(4, 4 + 14 * j),
            textcoords="offset points",
            color=c,
            fontsize=8,
            bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none"},
        )
    if base is not None:
        ax.axvline(base, color="black", linewidth=1, alpha=0.6)
        ax.annotate(
            "scenario (mean)",
            xy=(base, 1.0),
            xytext=(3, -12),
            textcoords="offset points",
            fontsize=8,
            bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none"},
        )
    ax.axhline(0.5, color=GREY, linewidth=0.8, linestyle="--")
    probability_axis(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("probability")
    _legend_outside(ax)
    _style(ax)
    return ax


def heatmap(
    xs: Array, ys: Array, z: Array, xlabel: str, ylabel: str, title: str, ax: Axes | None = None
) -> Axes:
    """P(outcome) over two parameters, with the 0.5 contour (where the ending flips).

    The contour is drawn when :func:`grid_crosses_half`. With few values on an
    axis, its ticks are the swept values (the cells reach half a step beyond).
    """
    ax = _ax(ax, (6.4, 4.8))
    mesh = ax.pcolormesh(xs, ys, z, cmap="cividis", vmin=0, vmax=1, shading="nearest")
    if grid_crosses_half(xs, ys, z):
        cs = ax.contour(xs, ys, z, levels=[0.5], colors="white", linewidths=1.5)
        ax.clabel(cs, fmt="0.5", fontsize=8)
    ax.figure.colorbar(mesh, ax=ax, label=title)
    if len(xs) <= MAX_VALUE_TICKS:
        ax.set_xticks(xs, [f"{v:.3g}" for v in xs])
    if len(ys) <= MAX_VALUE_TICKS:
        ax.set_yticks(ys, [f"{v:.3g}" for v in ys])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


#: Up to this many swept values, a heatmap's axis ticks each of them
MAX_VALUE_TICKS = 8


def grid_crosses_half(xs: Array, ys: Array, z: Array) -> bool:
    """Whether a grid's P(outcome) crosses 0.5 over an area, so that :func:`heatmap` draws it."""
    return bool(np.nanmin(z) < 0.5 < np.nanmax(z) and len(xs) > 1 and len(ys) > 1)


def scatter_surface(
    xs: Array,
    ys: Array,
    p: Array,
    xlabel: str,
    ylabel: str,
    title: str,
    ax: Axes | None = None,
) -> tuple[Axes, list[Array]]:
    """P(outcome) at scattered points (random, LHS, Sobol' sweeps) with the 0.5 contour.

    The surface and the contour interpolate linearly between the points over
    their Delaunay triangulation (matplotlib's ``tricontour``); each point is
    drawn on top in its own colour, so the data stay visible. Returns the Axes
    and the 0.5 contour as a list of ``(k, 2)`` vertex arrays (empty when P
    does not cross 0.5 or the points do not span an area).
    """
    import matplotlib.tri as mtri

    ax = _ax(ax, (6.4, 4.8))
    segments: list[Array] = []
    tri = None
    if len(xs) >= 3:
        try:
            tri = mtri.Triangulation(xs, ys)
        except (ValueError, RuntimeError):  # collinear or repeated points: no area to fill
            tri = None
    if tri is not None:
        ax.tricontourf(tri, p, levels=np.linspace(0, 1, 11), cmap="cividis", alpha=0.55)
        if np.nanmin(p) < 0.5 < np.nanmax(p):
            cs = ax.tricontour(tri, p, levels=[0.5], colors="white", linewidths=1.8)
            ax.clabel(cs, fmt="0.5", fontsize=8)
            segments = [np.asarray(seg) for seg in cs.allsegs[0]]
    dots = ax.scatter(
        xs, ys, c=p, cmap="cividis", vmin=0, vmax=1, s=22, edgecolors="black", linewidths=0.4
    )
    ax.figure.colorbar(dots, ax=ax, label=title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax, segments


def fan(
    t: Any,
    bands: Array,
    label: str,
    marks: Sequence[tuple[Any, str]] = (),
    ax: Axes | None = None,
) -> Axes:
    """A fan chart: median line, 50% and 90% bands (``bands`` rows: q05, q25, q50, q75, q95)."""
    ax = _ax(ax)
    c = PALETTE[0]
    ax.fill_between(
        t, bands[0], bands[4], color=c, alpha=0.15, linewidth=0, label="90% of replicates"
    )
    ax.fill_between(
        t, bands[1], bands[3], color=c, alpha=0.3, linewidth=0, label="50% of replicates"
    )
    ax.plot(t, bands[2], color=c, linewidth=2, label=f"median {label}")
    _marks(ax, marks)
    probability_axis(ax)
    ax.set_ylabel(label)
    _legend_outside(ax)
    _style(ax)
    return ax


def _marks(ax: Axes, marks: Sequence[tuple[Any, str]]) -> None:
    for i, (when, text) in enumerate(marks):
        ax.axvline(when, color=GREY, linewidth=0.8, linestyle="--")
        ax.annotate(
            text,
            xy=(when, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -10 - 10 * (i % 3)),
            textcoords="offset points",
            fontsize=7,
            color="#555555",
        )


def step_curves(
    t: Any,
    curves: dict[str, Array],
    ylabel: str,
    marks: Sequence[tuple[Any, str]] = (),
    total: Array | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Cumulative curves over time (switch times, or cumulative incidence of outcomes)."""
    ax = _ax(ax)
    for i, (name, y) in enumerate(curves.items()):
        ax.step(t, y, where="post", color=colour(i, name), linewidth=1.8, label=name)
    if total is not None:
        ax.step(
            t, total, where="post", color="black", linewidth=1, linestyle="--", label="ended (sum)"
        )
    _marks(ax, marks)
    probability_axis(ax)
    ax.set_ylabel(ylabel)
    _legend_outside(ax)
    _style(ax)
    return ax


def compare(
    labels: Sequence[str], outcomes: dict[str, tuple[Array, Array, Array]], ax: Axes | None = None
) -> Axes:
    """Outcome probabilities with 95% intervals for several scenarios side by side."""
    ax = _ax(ax, (7.0, 0.6 * len(labels) + 1.8))
    k = len(outcomes)
    height = 0.8 / max(k, 1)
    ypos = np.arange(len(labels))
    for i, (name, (p, lo, hi)) in enumerate(outcomes.items()):
        y = ypos + (i - (k - 1) / 2) * height
        ax.barh(y, p, height=height * 0.9, color=colour(i, name), label=name)
        ax.errorbar(
            p, y, xerr=[p - lo, hi - p], fmt="none", ecolor="black", elinewidth=1, capsize=2
        )
    ax.set_yticks(ypos, labels)
    ax.invert_yaxis()
    probability_axis(ax, "x")
    ax.set_xlabel("probability (95% interval)")
    _legend_outside(ax)
    _style(ax)
    return ax


#: Labels of date ticks by the finest unit in which ticks differ (matplotlib's
#: ConciseDateFormatter levels: years, months, days, hours, minutes, seconds);
#: a tick at the start of its day shows the day whatever the level
_DATE_FORMATS = ["%Y", "%b %Y", "%a\n%d %b", "%H:%M", "%H:%M", "%H:%M:%S"]
_DATE_ZERO_FORMATS = ["%Y", "%b %Y", "%a\n%d %b", "%a\n%d %b", "%H:%M", "%H:%M"]
#: What the axis's corner adds: the month and year to days, the day to hours
_DATE_OFFSET_FORMATS = ["", "", "%b %Y", "%a %d %b %Y", "%a %d %b %Y", "%a %d %b %Y"]


def date_axis(ax: Axes, tz: Any = None) -> None:
    """Calendar dates on the x axis, in the scenario's time zone.

    Spans of three days or more are ticked at midnights and labelled by day,
    the month and year in the corner; shorter ones by hour, midnight showing
    its day and the corner the last tick's date. (With matplotlib's default
    of at least five ticks, a four-day crisis got ticks every 12 hours, each
    day's name twice, and a warning that no hourly interval fitted.)
    """
    locator = mdates.AutoDateLocator(tz=tz, minticks=3, maxticks=9)
    formatter = mdates.ConciseDateFormatter(
        locator,
        tz=tz,
        formats=_DATE_FORMATS,
        zero_formats=_DATE_ZERO_FORMATS,
        offset_formats=_DATE_OFFSET_FORMATS,
    )
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)


def footnote(fig: Any, text: str) -> None:
    """Provenance under a figure: scenario, replicates, seed, version (several lines allowed)."""
    engine = fig.get_layout_engine()
    if engine is not None and hasattr(engine, "set"):
        # room for the footnote: 0.035 of the height a line (of a 4.2-inch figure)
        line = 0.035 * 4.2 / max(fig.get_figheight(), 1.0) if text.count("\n") else 0.035
        bottom = line * (text.count("\n") + 1)
        engine.set(rect=(0, bottom, 1, 1 - bottom))
    fig.text(0.01, 0.005, text, fontsize=7, color="#666666", ha="left", va="bottom")
