"""From per-replicate arrays to the run summary: outcomes, switches, orders."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Protocol

import numpy as np

from sim.scenario import UNRESOLVED, Scenario
from sim.stats import mean_or_none, quantiles, wilson_interval

#: At most this many switch orders are listed per outcome ...
MAX_ORDERS = 5
#: ... stopping once the listed ones cover this share of the outcome's replicates ...
ORDERS_COVER = 0.9
#: ... and never one rarer than this share; the rest are counted as ``other``.
MIN_ORDER_SHARE = 0.01
#: The ``order`` of the row that counts the orders not listed.
OTHER_ORDERS = "(other orders)"
#: The rule above in words, recorded in the summary beside the rows.
ORDERS_RULE = (
    f"most common orders first, until they cover {ORDERS_COVER:.0%} of the outcome's "
    f"replicates, at most {MAX_ORDERS}, none under {MIN_ORDER_SHARE:.0%}; "
    "the other orders are counted together in a last row '(other orders)' "
    "(or shown by name when only one is left)"
)


def switch_order(times: np.ndarray[Any, Any], names: list[str]) -> str:
    """Order of the switches of one replicate, ties joined by ``+``: ``"a -> b+c"``."""
    done = [(t, n) for t, n in zip(times, names, strict=True) if np.isfinite(t)]
    if not done:
        return "(nobody switched)"
    steps: list[list[str]] = []
    last = None
    for t, n in sorted(done):
        if t == last:
            steps[-1].append(n)
        else:
            steps.append([n])
            last = t
    return " -> ".join("+".join(sorted(s)) for s in steps)


def switch_orders(times: np.ndarray[Any, Any], names: list[str]) -> tuple[list[str], np.ndarray]:
    """The distinct orders of switches of many replicates, and each replicate's one.

    The same strings as :func:`switch_order` row by row, computed once per
    distinct pattern of ranks rather than once per replicate: a run's
    replicates share few patterns, and a Python loop over 100,000 rows was a
    quarter of a whole ``stancesim run``.

    Returns
    -------
    orders : list of str
        The distinct orders, by their first replicate.
    which : ndarray of int
        For each replicate, the index of its order in ``orders``.
    """
    n, a = times.shape
    if n == 0:
        return [], np.zeros(0, dtype=np.intp)
    finite = np.isfinite(times)
    by_time = np.argsort(times, axis=1, kind="stable")
    ordered = np.take_along_axis(times, by_time, axis=1)
    new_step = np.ones((n, a), dtype=bool)
    new_step[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ranks = np.empty((n, a), dtype=np.int64)
    np.put_along_axis(ranks, by_time, np.cumsum(new_step, axis=1) - 1, axis=1)
    ranks[~finite] = -1  # not switched: not in the order
    first, which = _distinct_rows(ranks, a + 1)
    patterns = ranks[first]
    by_first = np.argsort(first, kind="stable")
    renumber = np.empty_like(by_first)
    renumber[by_first] = np.arange(len(by_first))
    orders = []
    for row in patterns[by_first]:
        steps = [sorted(n for n, r in zip(names, row, strict=True) if r == k) for k in range(a)]
        text = " -> ".join("+".join(s) for s in steps if s)
        orders.append(text or "(nobody switched)")
    return orders, renumber[np.asarray(which).reshape(-1)]


def _distinct_rows(rows: np.ndarray[Any, Any], base: int) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct row's first index, and each row's distinct one (``np.unique`` on rows).

    ``rows`` hold integers in ``[-1, base - 1)``. When a row fits one int64 as
    the digits of a number in ``base``, rows are compared as those numbers:
    ``np.unique(axis=0)`` sorts rows as structured records, about ten times slower
    (50 ms of a 20,000-replicate run).
    """
    a = rows.shape[1]
    if a * math.log2(base) < 62:
        key = (rows + 1) @ (base ** np.arange(a, dtype=np.int64))
        _, first, which = np.unique(key, return_index=True, return_inverse=True)
    else:
        _, first, which = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    return first, np.asarray(which).reshape(-1)


def common_orders(counts: Counter[str], total: int) -> list[dict[str, Any]]:
    """The rows of the orders table of one outcome (see :data:`ORDERS_RULE`).

    Parameters
    ----------
    counts : Counter
        Replicates per order of switches, among the outcome's ``total`` replicates.
    total : int
        The outcome's replicates (> 0).

    Returns
    -------
    list of dict
        ``{order, count, share}`` for each listed order, then, when any are
        left, ``{order: "(other orders)", count, share, distinct}`` for the rest
        (``distinct``: how many different orders it holds). Counts add up to ``total``.
    """
    rows: list[dict[str, Any]] = []
    covered = 0
    for order, count in counts.most_common():
        if (
            len(rows) == MAX_ORDERS
            or covered >= ORDERS_COVER * total
            or count < MIN_ORDER_SHARE * total
        ):
            break
        rows.append({"order": order, "count": count, "share": count / total})
        covered += count
    rest = total - covered
    if len(counts) - len(rows) == 1:  # one order left: its name says more than "other"
        order, count = counts.most_common()[len(rows)]
        rows.append({"order": order, "count": count, "share": count / total})
    elif rest:
        rows.append(
            {
                "order": OTHER_ORDERS,
                "count": rest,
                "share": rest / total,
                "distinct": len(counts) - len(rows),
            }
        )
    return rows


class RunArrays(Protocol):
    """What a summary reads of a run: :class:`sim.results.RunResult` has it all.

    A protocol rather than the class itself, so that this module needs no
    import of :mod:`sim.results` (which imports it for ``summary()``).
    """

    @property
    def scenario(self) -> Scenario: ...  # noqa: D102
    @property
    def scenario_sha256(self) -> str: ...  # noqa: D102
    @property
    def seed(self) -> int: ...  # noqa: D102
    @property
    def version(self) -> str: ...  # noqa: D102
    @property
    def replicates(self) -> int: ...  # noqa: D102
    @property
    def outcome_names(self) -> list[str]: ...  # noqa: D102
    @property
    def individuals(self) -> list[str]: ...  # noqa: D102
    @property
    def populations(self) -> list[str]: ...  # noqa: D102
    @property
    def outcome(self) -> np.ndarray[Any, Any]: ...  # noqa: D102
    @property
    def time(self) -> np.ndarray[Any, Any]: ...  # noqa: D102
    @property
    def switch_time(self) -> np.ndarray[Any, Any]: ...  # noqa: D102
    @property
    def half_time(self) -> np.ndarray[Any, Any]: ...  # noqa: D102
    @property
    def final_fraction(self) -> np.ndarray[Any, Any]: ...  # noqa: D102
    @property
    def processes(self) -> list[dict[str, Any]] | None: ...  # noqa: D102


def summarize(result: RunArrays) -> dict[str, Any]:
    """The summary object printed by ``stancesim run --json``.

    Returns
    -------
    dict
        ``scenario``, ``scenario_sha256``, ``replicates``, ``seed``, ``version``,
        ``outcomes.<id>.{count, p, ci95, time_mean, time_median, time_q10, time_q90}``
        (``unresolved`` included), ``agents.<id>.{p_switch, switch_time_median}``,
        ``orders.<outcome>``: the most common orders of switches and an ``other``
        row for the rest (:func:`common_orders`), and ``orders_rule``: how they were chosen.
    """
    n = result.replicates
    names = [*result.outcome_names, UNRESOLVED]
    codes = [*range(len(result.outcome_names)), -1]
    outcomes: dict[str, Any] = {}
    orders: dict[str, list[dict[str, Any]]] = {}
    order_names, order_of = switch_orders(np.asarray(result.switch_time), result.individuals)
    for name, code in zip(names, codes, strict=True):
        mask = result.outcome == code
        count = int(mask.sum())
        lo, hi = wilson_interval(count, n)
        times = result.time[mask]
        q10, q50, q90 = quantiles(times, (0.1, 0.5, 0.9)) if name != UNRESOLVED else (None,) * 3
        outcomes[name] = {
            "count": count,
            "p": count / n,
            "ci95": [lo, hi],
            "time_mean": mean_or_none(times) if name != UNRESOLVED else None,
            "time_median": q50,
            "time_q10": q10,
            "time_q90": q90,
        }
        if count:
            # counted in order of first appearance, as most_common breaks ties by it
            ids, first, counts = np.unique(order_of[mask], return_index=True, return_counts=True)
            by_first = np.argsort(first, kind="stable")
            seen = Counter({order_names[ids[k]]: int(counts[k]) for k in by_first})
            orders[name] = common_orders(seen, count)
    agents: dict[str, Any] = {}
    for i, aid in enumerate(result.individuals):
        t = result.switch_time[:, i]
        agents[aid] = {
            "p_switch": float(np.isfinite(t).mean()),
            "switch_time_median": quantiles(t, (0.5,))[0],
        }
    for j, pid in enumerate(result.populations):
        agents[pid] = {
            "p_switch": float(result.final_fraction[:, j].mean()),
            "switch_time_median": quantiles(result.half_time[:, j], (0.5,))[0],
        }
    summary = {
        "scenario": result.scenario.name,
        "scenario_sha256": result.scenario_sha256,
        "replicates": n,
        "seed": result.seed,
        "version": result.version,
        "outcomes": outcomes,
        "agents": agents,
        "orders": orders,
        "orders_rule": ORDERS_RULE,
    }
    if result.processes:  # users' processes: their files and sha256
        summary["processes"] = result.processes
    return summary
