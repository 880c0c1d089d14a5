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


def quantiles(values: np.ndarray[Any, Any], qs: tuple[float, ...]) -> list[float | None]:
    """Quantiles of the finite values (``None`` each when there are none)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return [None for _ in qs]
    return [float(x) for x in np.quantile(v, qs)]


def mean_or_none(values: np.ndarray[Any, Any]) -> float | None:
    """Mean of the finite values, ``None`` when there are none."""
    v = values[np.isfinite(values)]
    return float(v.mean()) if v.size else None
