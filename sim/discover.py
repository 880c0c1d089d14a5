"""Scenario discovery: PRIM boxes of the parameter region where a condition holds.

Given a sweep or sensitivity folder, an outcome and a condition on its
per-point statistic (``p >= 0.5``), PRIM (Friedman and Fisher's patient rule
induction, as implemented in the EMA Workbench, :mod:`ema_workbench.analysis.prim`)
peels the parameter box step by step towards the points where the condition
holds. Each step trades coverage (the share of those points still inside)
for density (the share of the box's points that satisfy it). The chosen box
is the one with the greatest coverage among those at least as dense as the
threshold; each of its limits carries the Workbench's quasi-p-value (the
one-sided binomial test of the density gain that limit buys).
"""

from __future__ import annotations

import operator
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import InputError

Array = np.ndarray[Any, Any]
DISCOVERY_MISSING = (
    'the EMA Workbench is not installed (PRIM): python -m pip install -e ".[analysis]"'
)
STATS = ("p", "ci95_lo", "ci95_hi", "time_median", "time_q10", "time_q90", "count")
_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_WHERE = re.compile(
    rf"^\s*({'|'.join(STATS)})\s*(>=|<=|>|<)\s*([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*$"
)


def parse_where(text: str) -> tuple[str, str, float]:
    """``"p >= 0.5"`` as ``("p", ">=", 0.5)``."""
    m = _WHERE.match(text)
    if m is None:
        raise InputError(
            f"--where {text!r}: expected STAT OP NUMBER, e.g. 'p >= 0.5', with STAT one of "
            f"{', '.join(STATS)} and OP one of >=, >, <=, <"
        )
    return m.group(1), m.group(2), float(m.group(3))


#: Each statistic of an outcome in words, for the figures' titles
_STAT_WORDS = {
    "p": "P({})",
    "ci95_lo": "lower 95% bound of P({})",
    "ci95_hi": "upper 95% bound of P({})",
    "time_median": "median time to {}",
    "time_q10": "10% quantile of the time to {}",
    "time_q90": "90% quantile of the time to {}",
    "count": "count of {}",
}


def describe_condition(outcome: str, where: str) -> str:
    """``--where`` on an outcome in words: ``"p >= 0.5"`` on return as ``"P(return) >= 0.5"``."""
    stat, op, value = parse_where(where)
    return f"{_STAT_WORDS[stat].format(outcome)} {op} {value:g}"


def cases(root: str | Path, outcome: str, where: str, partial: bool = False) -> dict[str, Any]:
    """The points of a sweep or sensitivity folder as PRIM's cases.

    Returns
    -------
    dict
        ``x`` (a DataFrame of the numeric parameters, one row per finished
        point), ``y`` (whether the condition holds there), ``column``,
        ``note`` (for a partial folder), ``dropped`` (non-numeric
        parameters left out), and for :func:`figures` the ``condition`` in
        words and the ``footnote`` (what the folder ran).
    """
    from sim.figures import folder_note
    from sim.sweep_results import read_results

    stat, op, value = parse_where(where)
    table, manifest, note = read_results(root, partial=partial)
    column = f"{stat}_{outcome}"
    if column not in table.column_names:
        known = sorted(c[2:] for c in table.column_names if c.startswith("p_"))
        raise InputError(
            f"--outcome {outcome}: not an outcome of {root} (expected one of {', '.join(known)})"
        )
    ok = np.asarray([s == "ok" for s in table.column("status").to_pylist()], dtype=bool)
    params = list(manifest["definition"]["parameters"])
    df = table.select(params).to_pandas()[ok]
    numeric = [p for p in params if df[p].dtype.kind in "if"]
    stat_values = np.asarray(table.column(column).to_pylist(), dtype=float)[ok]
    # a missing statistic (a median where the outcome never occurred) is not of interest
    with np.errstate(invalid="ignore"):
        y = np.nan_to_num(_OPS[op](stat_values, value), nan=False).astype(bool)
    return {
        "x": df[numeric].reset_index(drop=True),
        "y": y,
        "column": column,
        "note": note,
        "dropped": [p for p in params if p not in numeric],
        "condition": describe_condition(outcome, where),
        "footnote": folder_note(manifest, int(ok.sum()), note),
    }


def find_box(x: Any, y: Array, threshold: float = 0.8, box: int | None = None) -> dict[str, Any]:
    """Run PRIM and describe its peeling trajectory and chosen box.

    Parameters
    ----------
    x : pandas.DataFrame
        One column per parameter.
    y : array of bool
        Whether each case is of interest.
    threshold : float
        Density the chosen box should reach.
    box : int, optional
        Choose this step of the trajectory instead.

    Returns
    -------
    dict
        ``trajectory`` (per step: coverage, density, mass, restricted
        dimensions), ``chosen``, ``limits`` (per restricted parameter: low,
        high, and the quasi-p-values of each side; NaN where not restricted),
        ``ranges`` (each parameter's range over the cases), and counts.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the Workbench warns of optional parallel backends
            from ema_workbench.analysis import prim
    except ImportError:
        raise InputError(DISCOVERY_MISSING) from None
    y = np.asarray(y, dtype=bool)
    if x.shape[1] == 0:
        raise InputError("no numeric parameter to find a box over")
    if y.all() or not y.any():
        raise InputError(
            f"the condition holds at {'every' if y.all() else 'no'} point of {y.size}: "
            "there is no box to find; change --where"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = prim.Prim(x, y, threshold=threshold).find_box()
    traj = found.peeling_trajectory
    coverage = traj["coverage"].to_numpy(float)
    density = traj["density"].to_numpy(float)
    if box is None:
        dense = np.flatnonzero(density >= threshold)
        chosen = int(dense[np.argmax(coverage[dense])]) if dense.size else int(np.argmax(density))
    elif not 0 <= box < len(traj):
        raise InputError(f"--box {box}: the trajectory has steps 0 to {len(traj) - 1}")
    else:
        chosen = box
    lims, qp = found.box_lims[chosen], found.qp[chosen]
    limits = {}
    for name in x.columns:
        lo, hi = float(lims[name].iloc[0]), float(lims[name].iloc[1])
        q = qp.get(name, [-1.0, -1.0])
        limits[name] = {
            "low": lo,
            "high": hi,
            "restricted": name in qp,
            "qp_low": float(q[0]) if q[0] >= 0 else None,
            "qp_high": float(q[1]) if q[1] >= 0 else None,
        }
    return {
        "cases": int(y.size),
        "of_interest": int(y.sum()),
        "threshold": threshold,
        "trajectory": [
            {
                "coverage": float(c),
                "density": float(d),
                "mass": float(m),
                "restricted": int(r),
            }
            for c, d, m, r in zip(coverage, density, traj["mass"], traj["res_dim"], strict=True)
        ],
        "chosen": chosen,
        "limits": limits,
        "ranges": {n: [float(x[n].min()), float(x[n].max())] for n in x.columns},
    }


def most_restricted(result: dict[str, Any], k: int = 2) -> list[str]:
    """The ``k`` parameters whose box is narrowest relative to their range."""

    def share(name: str) -> float:
        lo, hi = result["ranges"][name]
        lim = result["limits"][name]
        return (lim["high"] - lim["low"]) / (hi - lo) if hi > lo else 1.0

    return sorted(result["limits"], key=share)[:k]


def box_figure_skipped(result: dict[str, Any]) -> str | None:
    """Why the chosen box gets no figure (one line), or None when it restricts two parameters.

    The box figure shows the box over its two most restricted parameters; with
    fewer restricted, it would show the parameters' whole range as the box.
    """
    restricted = [name for name, lim in result["limits"].items() if lim["restricted"]]
    if len(restricted) >= 2:
        return None
    what = f"only {restricted[0]}" if restricted else "no parameter"
    return f"no box figure: box {result['chosen']} restricts {what} (the figure needs two)"


def figures(
    result: dict[str, Any],
    x: Any,
    y: Array,
    condition: str = "the condition holds",
    note: str | None = None,
) -> list[tuple[str, Any, dict[str, Any]]]:
    """The trade-off curve and, when the chosen box restricts two parameters or more, the box.

    The box is drawn over its two most restricted parameters
    (:func:`box_figure_skipped` says why there is none). Titles name the
    ``condition`` (``cases()["condition"]``); footnotes say what was run
    (``note``: ``cases()["footnote"]``) and PRIM's density threshold.
    """
    import matplotlib.pyplot as plt

    from sim.figures import design_note
    from sim.plotting import footnote, plain_label
    from sim.sensitivity_plots import box_scatter, tradeoff

    traj = result["trajectory"]
    chosen = result["chosen"]
    cov = np.array([t["coverage"] for t in traj])
    den = np.array([t["density"] for t in traj])
    res = np.array([t["restricted"] for t in traj])
    prim = f"PRIM density threshold {result['threshold']:g}"
    note = f"{note} · {prim}" if note else design_note(prim)
    fig1, ax1 = plt.subplots(figsize=(6, 4.2), layout="constrained")
    tradeoff(cov, den, res, chosen=chosen, ax=ax1)
    ax1.set_title(f"PRIM's peeling towards where {condition}", fontsize=10)
    footnote(fig1, note)
    out: list[tuple[str, Any, dict[str, Any]]] = [
        ("tradeoff", fig1, {"coverage": cov, "density": den, "restricted": res})
    ]
    if box_figure_skipped(result) is None:
        a, b = most_restricted(result, 2)
        la, lb = result["limits"][a], result["limits"][b]
        rect = (la["low"], la["high"], lb["low"], lb["high"])
        fig2, ax2 = plt.subplots(figsize=(6, 4.2), layout="constrained")
        xa, xb = x[a].to_numpy(float), x[b].to_numpy(float)
        box_scatter(xa, xb, y, rect, plain_label(a), plain_label(b), ax=ax2)
        step = traj[chosen]
        ax2.set_title(
            f"Where {condition}: box {chosen} (coverage {step['coverage']:.2f}, "
            f"density {step['density']:.2f})",
            fontsize=10,
        )
        footnote(fig2, note)
        out.append(("box", fig2, {"x": a, "y": b, "box": rect}))
    return out
