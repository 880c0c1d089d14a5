"""Sorted per-replicate thresholds that count, row by row, how many a support value reaches.

A threshold population asks, every tick and for every replicate, how many of
its ``N`` thresholds the support reaches: ``threshold <= support +
TOLERANCE``. numpy has no batched per-row search, so two layouts answer it:

* **A bucket index** (``N <= INDEX_MAX_N``). The range of all the rows'
  thresholds is cut into ``N`` equal buckets, and ``table[r, b]`` counts the
  thresholds of row ``r`` in buckets below ``b``. A value's bucket comes from
  the same monotone formula as every threshold's, so thresholds in lower
  buckets are below it and those in higher ones above: the count is
  ``table[r, b]`` plus what a search of bucket ``b`` alone (about one
  threshold) finds. The comparison is exact, so one index serves all the
  blocks of a batch, each row counting exactly what its block alone would. A
  query reads one table row and a key or two; building the table costs a pass
  over the ``rows x N`` thresholds.
* **One search over all rows** laid end to end with offsets (larger ``N``):
  ``np.searchsorted`` once for the whole block. Each query jumps across the
  block's megabytes of keys (about seven cache misses), but building costs
  nothing beyond the sort, which wins when ``N`` is large. The offsets add
  rounding of about ``rows * span * 2e-16``; when that could reach a tenth of
  the tolerance, rows are searched one by one instead.

``benchmarks/bench_thresholds.py`` measures the two on bench-770 at several
``N`` and gives :data:`INDEX_MAX_N`. Both give the same counts except within
about 1e-13 of a threshold plus the tolerance, where the index is the exact
one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.rules import TOLERANCE

Array = np.ndarray[Any, Any]

#: Populations up to this size use the bucket index. Per block of 512 rows it
#: costs about 3 ms more to build than the sort alone (at N = 770), and one
#: query serves a whole batch's rows that rose; the index's build grows with N
#: and the search's cost hardly does. On bench-770's whole simulation
#: (``python benchmarks/bench_thresholds.py``, fastest of 7 interleaved rounds)
#: the index ran 1.22x at N = 770, 1.08x at 1,540, 1.10x at 3,080 and 0.95x
#: at 7,700.
INDEX_MAX_N = 3000
#: Thresholds bucketed at a time while the index is built (temporaries of about 1.3 MB).
BUILD_ENTRIES = 1 << 16


def uses_index(n: int) -> bool:
    """Whether thresholds of ``n`` people are counted with the bucket index."""
    return n <= INDEX_MAX_N


def index_bytes(n: int) -> int:
    """Bytes per person and row of the index's table for ``n`` people (0 without one)."""
    return int(np.min_scalar_type(n).itemsize) if uses_index(n) else 0


class SortedThresholds:
    """Per-replicate sorted thresholds answering "how many are <= x" for every row at once.

    Parameters
    ----------
    thresholds : array, shape (rows, N)
    inplace : bool
        Reuse ``thresholds`` (a writable C-ordered array, or a view, that
        nothing else reads) for the sorted keys, so that no second rows x N
        array is made.
    index : bool, optional
        Use the bucket index (True) or one search over all rows (False);
        by default the index for ``N <= INDEX_MAX_N``.
    """

    def __init__(self, thresholds: Array, inplace: bool = False, index: bool | None = None) -> None:
        if inplace:
            a = np.require(thresholds, dtype=float, requirements=["C", "W"])
        else:
            a = np.array(thresholds, dtype=float)
        a.sort(axis=1)
        rows, n = a.shape
        self.n = n
        self.indexed = uses_index(n) if index is None else index
        # NaN sorts last and -inf first: the finite range comes from the row ends,
        # unless a row ends on a non-finite value (rare: a slower, wider look)
        lo, hi = (float(a[:, 0].min()), float(a[:, -1].max())) if rows and n else (0.0, 0.0)
        self.finite = bool(np.isfinite(lo) and np.isfinite(hi))
        if not self.finite:
            finite = a[np.isfinite(a)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        self.key_base = np.arange(rows) * n
        if self.indexed:
            self._build_index(a, lo, hi)
        else:
            self._build_offsets(a, lo, hi)

    # ------------------------------------------------------------ bucket index
    def _build_index(self, a: Array, lo: float, hi: float) -> None:
        rows, n = a.shape
        self.sorted, self.keys = a, a.reshape(-1)
        self.buckets = max(1, n)
        self.lo = lo
        # any positive, finite scale keeps the order: 1 when all finite thresholds are
        # equal, or their range is too narrow (B / range overflows) or too wide
        # (the range overflows); an infinite or zero scale would make NaN of 0 * inf
        scale = self.buckets / (hi - lo) if hi > lo else 1.0
        self.scale = scale if 0.0 < scale < math.inf else 1.0
        self.cell_base = np.arange(rows) * (self.buckets + 1)
        # counts up to N: the narrowest type keeps the table small in the cache
        table = np.empty((rows, self.buckets + 1), dtype=np.min_scalar_type(n))
        # a few rows at a time, so that the temporaries stay small (in the cache,
        # and no block-sized peak of memory on top of the thresholds)
        step = max(1, BUILD_ENTRIES // n)
        for start in range(0, rows, step):
            part = a[start : start + step]
            m = len(part)
            # column b + 1 of a row counts its thresholds in bucket b; the running
            # sum then counts those in buckets <= b, and column 0 stays 0
            cells = self._bucket(part, keys=True, dtype=np.int32)
            cells += (np.arange(m, dtype=np.int32) * (self.buckets + 1) + 1)[:, None]
            counts = np.bincount(cells.reshape(-1), minlength=m * (self.buckets + 1))
            counts = counts.reshape(m, self.buckets + 1)
            np.cumsum(counts, axis=1, out=counts)
            table[start : start + m] = counts
        self.table = table.reshape(-1)

    def _bucket(self, x: Array, keys: bool = False, dtype: Any = np.intp) -> Array:
        """Bucket of each value: monotone in ``x``, the same formula for keys and queries.

        NaN goes to the last bucket for thresholds (``keys``: NaN sorts last)
        and to the first for a support (it reaches nothing, as ``<=`` says).
        """
        y = np.subtract(x, self.lo, dtype=float)
        y *= self.scale
        # fmin/fmax return the other operand where one is NaN: NaN lands on that bound
        if keys:
            np.fmin(y, self.buckets - 1, out=y)
            np.maximum(y, 0, out=y)
        else:
            np.fmax(y, 0, out=y)
            np.minimum(y, self.buckets - 1, out=y)
        return y.astype(dtype)

    def _count_index(self, q: Array, rows: Array | None) -> Array:
        cell = self._bucket(q)
        if rows is None:
            cell += self.cell_base[: len(q)]
            base = self.key_base[: len(q)]
        else:
            cell += self.cell_base[rows]
            base = self.key_base[rows]
        found = self.table[cell].astype(np.intp)  # first position of the value's bucket
        stop = self.table[cell + 1].astype(np.intp)
        # binary search of each bucket for its first threshold above q (NaN reaches none)
        todo = np.flatnonzero(found < stop)
        while todo.size:
            lo, hi = found[todo], stop[todo]
            mid = (lo + hi) >> 1
            reached = self.keys[base[todo] + mid] <= q[todo]
            found[todo] = np.where(reached, mid + 1, lo)
            stop[todo] = np.where(reached, hi, mid)
            todo = todo[found[todo] < stop[todo]]
        return found

    # ------------------------------------------------ one search over all rows
    def _build_offsets(self, a: Array, lo: float, hi: float) -> None:
        rows = len(a)
        self.lo, self.hi = lo - 1.0, hi + 1.0
        width = self.hi - self.lo + 1.0
        # offsets cannot order infinite or NaN thresholds row by row
        self.exact_rows = not self.finite or rows * width * 2.3e-16 > TOLERANCE / 10
        if self.exact_rows:
            self.sorted = a
        else:
            self.offsets = np.arange(rows, dtype=float) * width
            a += self.offsets[:, None]
            self.keys = a.reshape(-1)

    def _count_offsets(self, q: Array, rows: Array | None) -> Array:
        if self.exact_rows:
            # row by row, reading each row where it is (no copy of the rows asked for)
            at = range(len(q)) if rows is None else rows
            keys = self.sorted
            each = [np.searchsorted(keys[r], v, side="right") for r, v in zip(at, q, strict=True)]
            return np.where(np.isnan(q), 0, np.array(each, dtype=np.int64))
        # fmax sends NaN to below every key: it reaches nothing
        q = np.minimum(np.fmax(q, self.lo), self.hi)
        if rows is None:
            rows = np.arange(len(q))
        found = np.searchsorted(self.keys, q + self.offsets[rows], side="right")
        return found - self.key_base[rows]

    # ------------------------------------------------------------------ both
    def rows(self) -> Array:
        """The sorted thresholds, one row per replicate."""
        if self.indexed or self.exact_rows:
            return self.sorted
        return self.keys.reshape(-1, self.n) - self.offsets[:, None]

    def count_reached(self, support: Array, rows: Array | None = None) -> Array:
        """Number of thresholds reached by ``support`` in each row (``>=`` with tolerance).

        With ``rows`` (indices), ``support`` holds one value for each of those
        rows only; each count is exactly what the whole call would give it.
        A NaN support reaches nothing.
        """
        q = np.asarray(support, dtype=float) + TOLERANCE
        return self._count_index(q, rows) if self.indexed else self._count_offsets(q, rows)

    def take(self, index: Array) -> SortedThresholds:
        """Rows ``index`` as a new object (for resampling replicates)."""
        return SortedThresholds(self.rows()[index], inplace=True, index=self.indexed)
