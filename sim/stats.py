"""Statistics of replicated runs: intervals and summaries of arrays."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Two-sided 95% normal quantile.
Z95 = 1.959963984540054


def wilson_interval(count: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Parameters
    ----------
    count : int
        Successes.
    n : int
        Trials (> 0).
    z : float
        Normal quantile (1.96 for 95%).

    Returns
    -------
    (lo, hi) : tuple of float
    """
    if n <= 0:
        raise ValueError(f"Wilson interval needs n > 0, got {n}")
    p = count / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if count == 0 else max(0.0, centre - half)
    hi = 1.0 if count == n else min(1.0, centre + half)
    return (lo, hi)


def fixed(x: float, digits: int = 3) -> str:
    """``x`` with ``digits`` decimals, never as a negative zero (``-0.0004`` prints ``0.000``)."""
    text = f"{x:.{digits}f}"
    if text.startswith("-") and float(text) == 0.0:
        return text[1:]
    return text


def quantiles(values: np.ndarray[Any, Any], qs: tuple[float, ...]) -> list[float | None]:
    """Quantiles of the finite values (``None`` each when there are none).

    The same numbers as ``np.quantile(v, qs)`` (its default, linear method), to the
    last bit, computed here because ``np.quantile`` imports ``numpy.ma`` (about
    0.01 s of CPU, in every ``stancesim run``; ``tests/test_startup_run.py``).
    """
    v = np.sort(values[np.isfinite(values)])
    n = v.size
    if n == 0:
        return [None for _ in qs]
    out: list[float | None] = []
    for q in qs:
        if not 0 <= q <= 1:
            raise ValueError(f"a quantile lies in [0, 1], got {q}")
        at = (n - 1) * float(q)  # numpy's virtual index for the linear method
        if at >= n - 1:
            out.append(float(v[-1]))
            continue
        i = math.floor(at)
        gamma = at - i
        a, b = float(v[i]), float(v[i + 1])
        # numpy's lerp: from the nearer end, so that gamma = 1 gives b exactly
        out.append(b - (b - a) * (1 - gamma) if gamma >= 0.5 else a + (b - a) * gamma)
    return out


def mean_or_none(values: np.ndarray[Any, Any]) -> float | None:
    """Mean of the finite values, ``None`` when there are none."""
    v = values[np.isfinite(values)]
    return float(v.mean()) if v.size else None


def cumulative_incidence(
    outcome: np.ndarray[Any, Any],
    time: np.ndarray[Any, Any],
    n_outcomes: int,
    grid: np.ndarray[Any, Any],
) -> np.ndarray[Any, Any]:
    """Share of replicates that ended in each outcome by each time.

    Parameters
    ----------
    outcome : array of int, shape (n,)
        Outcome index per replicate, -1 for none.
    time : array, shape (n,)
        Time of the outcome (NaN for none).
    n_outcomes : int
        Number of outcomes.
    grid : array, shape (T,)
        Times at which to evaluate.

    Returns
    -------
    array, shape (n_outcomes, T)
        ``F[k, j] = P(outcome k at a time <= grid[j])``; the rows add up to the
        probability that the crisis has ended by then (competing risks, no
        censoring before the horizon).
    """
    n = len(outcome)
    out = np.zeros((n_outcomes, len(grid)))
    for k in range(n_outcomes):
        t = np.sort(time[outcome == k])
        out[k] = np.searchsorted(t, grid, side="right") / n
    return out


def ecdf(
    values: np.ndarray[Any, Any], n_total: int, grid: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Share of all ``n_total`` replicates whose (finite) value is <= each grid time."""
    v = np.sort(values[np.isfinite(values)])
    return np.searchsorted(v, grid, side="right") / n_total


def carry_forward(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Fill NaNs after a row's last value with that value (a replicate keeps its end state).

    ``values`` has shape (replicates, ticks); leading NaNs stay NaN.
    """
    out = values.copy()
    idx = np.where(np.isfinite(out), np.arange(out.shape[1])[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    return np.take_along_axis(out, idx, axis=1)


def quantile_bands(
    values: np.ndarray[Any, Any], qs: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
) -> np.ndarray[Any, Any]:
    """Quantiles over replicates at each tick: shape (len(qs), ticks), from (replicates, ticks)."""
    return np.asarray(np.nanquantile(values, qs, axis=0))


def crossing(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], level: float = 0.5) -> float | None:
    """First ``x`` at which ``y`` crosses ``level``, by linear interpolation (None if never)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    d = y - level
    for i in range(len(x) - 1):
        if d[i] == 0:
            return float(x[i])
        if d[i] * d[i + 1] < 0:
            return float(x[i] + (x[i + 1] - x[i]) * d[i] / (d[i] - d[i + 1]))
    if len(d) and d[-1] == 0:
        return float(x[-1])
    return None


def pivot_grid(
    xs: np.ndarray[Any, Any], ys: np.ndarray[Any, Any], zs: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Arrange points on a grid: unique x, unique y and Z[iy, ix] (NaN where missing).

    Points sharing (x, y) (other parameters varying) are averaged.
    """
    ux, uy = np.unique(xs), np.unique(ys)
    total = np.zeros((len(uy), len(ux)))
    count = np.zeros((len(uy), len(ux)))
    ix, iy = np.searchsorted(ux, xs), np.searchsorted(uy, ys)
    ok = np.isfinite(zs)
    np.add.at(total, (iy[ok], ix[ok]), zs[ok])
    np.add.at(count, (iy[ok], ix[ok]), 1)
    with np.errstate(invalid="ignore"):
        return ux, uy, np.where(count > 0, total / np.maximum(count, 1), np.nan)
