"""Drawing sensitivity indices and discovery boxes: each takes ``ax=None``, draws, returns the Axes.

Nothing here computes: the callers (:mod:`sim.sensitivity_analysis`,
:mod:`sim.discover`) sort, choose and pass the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from sim.plotting import GREY, PALETTE, _ax, _style

Array = np.ndarray[Any, Any]

_INDEX_LABELS = {
    "S1": "first order S1",
    "ST": "total ST",
    "mu_star": "Morris mu*",
    "delta": "delta",
}


def index_bars(
    labels: Sequence[str],
    bars: dict[str, tuple[Array, Array, Array]],
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Horizontal bars of indices with their 95% intervals, in the order given (top first).

    Parameters
    ----------
    labels : sequence of str
        One per parameter, top to bottom.
    bars : dict
        Index name to ``(value, lo, hi)`` arrays in the order of ``labels``;
        an interval of NaN is not drawn.
    title : str, optional
    ax : Axes, optional
    """
    ax = _ax(ax)
    y = np.arange(len(labels))
    height = 0.8 / max(1, len(bars))
    for k, (name, (value, lo, hi)) in enumerate(bars.items()):
        pos = y - 0.4 + height * (k + 0.5)
        value, lo, hi = (np.asarray(a, dtype=float) for a in (value, lo, hi))
        ax.barh(pos, value, height=height, color=PALETTE[k], label=_INDEX_LABELS.get(name, name))
        has = np.isfinite(lo) & np.isfinite(hi)
        ax.errorbar(
            value[has],
            pos[has],
            xerr=np.vstack([value[has] - lo[has], hi[has] - value[has]]),
            fmt="none",
            ecolor="#333333",
            elinewidth=1,
            capsize=2,
        )
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.axvline(0, color=GREY, linewidth=0.8)
    ax.set_xlabel("index (bars: 95% bootstrap interval)")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    _style(ax)
    return ax


def tradeoff(
    coverage: Array,
    density: Array,
    restricted: Array,
    chosen: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """PRIM's peeling trajectory: density against coverage, coloured by restricted dimensions."""
    from matplotlib.colors import BoundaryNorm

    ax = _ax(ax, (5.5, 4.2))
    # a whole number of parameters: one colour per count, ticked at the counts
    counts = np.arange(int(np.max(restricted, initial=0)) + 1)
    norm = BoundaryNorm(np.append(counts, counts[-1] + 1) - 0.5, ncolors=256)
    points = ax.scatter(coverage, density, c=restricted, cmap="viridis", norm=norm, s=18, zorder=3)
    ax.plot(coverage, density, color=GREY, linewidth=0.8, zorder=2)
    if chosen is not None:
        ax.scatter(
            [coverage[chosen]],
            [density[chosen]],
            s=120,
            facecolors="none",
            edgecolors=PALETTE[1],
            linewidths=2,
            zorder=4,
            label=f"the box chosen ({int(restricted[chosen])} restricted)",
        )
        ax.legend(frameon=False, fontsize=8)
    ax.figure.colorbar(points, ax=ax, label="restricted parameters", ticks=counts)
    ax.set_xlabel("coverage (share of the cases of interest inside the box)")
    ax.set_ylabel("density (share of the box that is of interest)")
    ax.set_xlim(0, 1.02)  # both are shares
    ax.set_ylim(0, 1.02)
    _style(ax)
    return ax


def box_scatter(
    x: Array,
    y: Array,
    hit: Array,
    box: tuple[float, float, float, float],
    xlabel: str,
    ylabel: str,
    ax: Axes | None = None,
) -> Axes:
    """Points over two parameters, of interest or not, with a box ``(x0, x1, y0, y1)``."""
    ax = _ax(ax, (5.5, 4.2))
    hit = np.asarray(hit, dtype=bool)
    ax.scatter(x[~hit], y[~hit], s=8, color=GREY, alpha=0.6, label="not of interest")
    ax.scatter(x[hit], y[hit], s=8, color=PALETTE[0], alpha=0.8, label="of interest")
    x0, x1, y0, y1 = box
    ax.add_patch(
        Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=PALETTE[1], linewidth=2)
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=8, loc="best")
    _style(ax)
    return ax
