"""Sensitivity indices of a finished design, with SALib's analysers.

For each outcome's probability and each outcome's median time (where it
occurs), the indices of the design's method with bootstrap 95% intervals:
Sobol' S1 and ST (and S2 when asked), Morris mu, mu* with its interval and
sigma, delta's delta and S1. Points where an output is missing (the outcome
never occurred, or the point failed) are counted and left out whole with the
block of the design they belong to (a Saltelli row group, a Morris
trajectory), since the estimators need those blocks complete.

Beside the indices of a probability: its Monte Carlo noise. A point's
probability is a proportion of ``n`` replicates, whose variance around the
model's exact probability is ``p(1-p)/n``; the noise's share of the output
variance, ``E[p(1-p)/n] / Var(p_hat)`` (estimated with ``p_hat (1 - p_hat) /
(n - 1)``, unbiased), says how much of what the indices apportion is the
replicates' chance rather than the parameters. The noise acts as one more
input: it lowers every S1 by the factor ``V / (V + E[p(1-p)]/n)`` and adds its
share to every ST; more replicates per point shrink it.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

import numpy as np

from sim.seeds import sensitivity_bootstrap_rng
from sim.sensitivity import Design, require_salib

Array = np.ndarray[Any, Any]

#: The index of each method ranked in the figure and the README table.
MAIN_INDEX = {"sobol": "ST", "morris": "mu_star", "delta": "delta"}
#: Bootstrap resamples (SALib's default).
RESAMPLES = 100


def block_size(design: Design) -> int:
    """Rows of the design that must be kept or left out together."""
    d = len(design.inputs)
    if design.method == "sobol":
        return 2 * d + 2 if design.second_order else d + 2
    if design.method == "morris":
        return d + 1
    return 1


def _indices(
    design: Design, x: Array, y: Array, resamples: int = RESAMPLES
) -> dict[str, dict[str, Any]]:
    from SALib.analyze import delta, morris, sobol

    problem = design.problem()
    # afresh for each output; an integer, since delta's analyser seeds numpy's legacy generator
    rng = int(sensitivity_bootstrap_rng(design.seed).integers(2**32))
    out: dict[str, dict[str, Any]] = {}

    def put(name: str, value: Any, conf: Any = None) -> None:
        v = np.asarray(value, dtype=float)
        c = np.full_like(v, np.nan) if conf is None else np.asarray(conf, dtype=float)
        out[name] = {"value": v.tolist(), "lo": (v - c).tolist(), "hi": (v + c).tolist()}

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # SALib warns of small samples; the counts are reported
        if design.method == "sobol":
            si = sobol.analyze(
                problem,
                y,
                calc_second_order=design.second_order,
                num_resamples=resamples,
                seed=rng,
            )
            put("S1", si["S1"], si["S1_conf"])
            put("ST", si["ST"], si["ST_conf"])
            if design.second_order:
                s2 = np.asarray(si["S2"], dtype=float)
                s2c = np.asarray(si["S2_conf"], dtype=float)
                i, j = np.triu_indices(len(design.inputs), 1)
                out["S2"] = {
                    "pairs": [[int(a), int(b)] for a, b in zip(i, j, strict=True)],
                    "value": s2[i, j].tolist(),
                    "lo": (s2[i, j] - s2c[i, j]).tolist(),
                    "hi": (s2[i, j] + s2c[i, j]).tolist(),
                }
        elif design.method == "morris":
            si = morris.analyze(
                problem, x, y, num_resamples=resamples, num_levels=design.num_levels, seed=rng
            )
            put("mu_star", si["mu_star"], si["mu_star_conf"])
            put("mu", si["mu"])
            put("sigma", si["sigma"])
        else:
            with contextlib.redirect_stdout(io.StringIO()):  # its notes on bins go to stdout
                si = delta.analyze(problem, x, y, num_resamples=resamples, seed=rng)
            # SALib >= 1.5 names Borgonovo's original estimator delta_raw
            key = "delta" if "delta" in si else "delta_raw"
            put("delta", si[key], si[f"{key}_conf"])
            put("S1", si["S1"], si["S1_conf"])
    return out


def analyze_output(
    design: Design,
    unit: Array,
    y: Array,
    replicates: int,
    probability: bool,
    resamples: int = RESAMPLES,
) -> dict[str, Any]:
    """Indices of one output (``y``: one value per design row, NaN where missing)."""
    step = block_size(design)
    blocks = np.isfinite(y).reshape(-1, step).all(axis=1)
    keep = np.repeat(blocks, step)
    yk, xk = y[keep], unit[keep]
    res: dict[str, Any] = {
        "points_used": int(keep.sum()),
        "points_missing": int((~np.isfinite(y)).sum()),
        "points_left_out": int((~keep).sum()),
        "skipped": None,
    }
    min_blocks = 2 if design.method != "delta" else 10
    if int(blocks.sum()) < min_blocks:
        res["skipped"] = f"too few complete design blocks ({int(blocks.sum())})"
        return res
    variance = float(np.var(yk, ddof=1))
    res["variance"] = variance
    if probability:
        noise = float(np.mean(yk * (1 - yk) / max(replicates - 1, 1)))
        res["noise_variance"] = noise
        res["noise_share"] = noise / variance if variance > 0 else None
    if variance == 0:
        res["skipped"] = "the output is the same at every point"
        return res
    res["indices"] = _indices(design, xk, yk, resamples)
    return res


def analyze(
    table: Any,
    design: Design,
    output_columns: list[str],
    resamples: int = RESAMPLES,
    scenario: str | None = None,
) -> dict[str, Any]:
    """Indices of every output of a finished (or partial) design's points table.

    Parameters
    ----------
    table : pyarrow.Table
        The points table (:func:`sim.sensitivity.run_design`).
    design : Design
        The design that made it.
    output_columns : list of str
        Columns to analyse (``p_OUTCOME``, ``time_median_OUTCOME``).
    resamples : int
        Bootstrap resamples of the intervals (SALib's delta takes about half
        a second per resample and parameter at 64 points: lower it there).
    scenario : str, optional
        The base scenario's name, recorded for the figure's footnote.

    Returns
    -------
    dict
        ``method``, ``parameters``, ``scenario``, ``seed``, budget
        (``points``, ``replicates``, ``evaluations``), ``failed`` points,
        and per output its indices (each ``value``, ``lo``, ``hi`` per
        parameter), counts of points used and left out, variance and, for
        probabilities, the Monte Carlo noise and its share.
    """
    require_salib()
    unit = design.unit_points()
    n = unit.shape[0]
    point = np.asarray(table.column("point").to_pylist(), dtype=np.int64)
    ok = np.asarray([s == "ok" for s in table.column("status").to_pylist()], dtype=bool)
    result: dict[str, Any] = {
        "method": design.method,
        "parameters": [i.path for i in design.inputs],
        "scenario": scenario,
        "seed": design.seed,
        "points": n,
        "points_finished": int(point.size),
        "failed": int((~ok).sum()),
        "replicates": design.replicates,
        "evaluations": n * design.replicates,
        "main_index": MAIN_INDEX[design.method],
        "resamples": resamples,
        "outputs": {},
    }
    for col in output_columns:
        y = np.full(n, np.nan)
        if col in table.column_names:
            values = np.asarray(table.column(col).to_pylist(), dtype=float)
            y[point[ok]] = values[ok]
        result["outputs"][col] = analyze_output(
            design, unit, y, design.replicates, col.startswith("p_"), resamples
        )
    return result


def index_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The indices as a long table: output, parameter, index, value, ci95_lo, ci95_hi."""
    rows = []
    names = result["parameters"]
    for output, res in result["outputs"].items():
        for index, v in (res.get("indices") or {}).items():
            if index == "S2":
                labels = [f"{names[a]} x {names[b]}" for a, b in v["pairs"]]
            else:
                labels = names
            for k, label in enumerate(labels):
                rows.append(
                    {
                        "output": output,
                        "parameter": label,
                        "index": index,
                        "value": v["value"][k],
                        "ci95_lo": v["lo"][k],
                        "ci95_hi": v["hi"][k],
                    }
                )
    return rows


def ranking(result: dict[str, Any], output: str) -> list[tuple[str, float, float, float]]:
    """Parameters by the method's main index for one output, largest first."""
    res = result["outputs"][output]
    v = res["indices"][result["main_index"]]
    rows = list(zip(result["parameters"], v["value"], v["lo"], v["hi"], strict=True))
    return sorted(rows, key=lambda r: -np.nan_to_num(r[1], nan=-np.inf))


#: The indices the figure shows, by method, in its title
_SHOWN = {
    "sobol": "Sobol' total ST and first-order S1",
    "morris": "Morris mu*",
    "delta": "delta and first-order S1",
}


def figure_indices(result: dict[str, Any], outcomes: list[str]) -> tuple[Any, dict[str, Any]]:
    """Bars of each outcome probability's indices, sorted, one panel per outcome.

    Titled with the indices shown; the footnote says what was run (the
    scenario and seed where the result records them).
    """
    import matplotlib.pyplot as plt

    from sim.figures import design_note
    from sim.plotting import footnote, plain_label
    from sim.sensitivity_plots import index_bars

    shown = [o for o in outcomes if result["outputs"].get(f"p_{o}", {}).get("indices")]
    # each panel is as wide as its bars plus its longest name (about 0.075 in a letter)
    longest = max((len(plain_label(p)) for p in result["parameters"]), default=0)
    panel = max(5.5, 3.4 + 0.075 * longest)
    fig, axes = plt.subplots(
        1,
        max(1, len(shown)),
        figsize=(panel * max(1, len(shown)), 0.45 * len(result["parameters"]) + 1.8),
        layout="constrained",
        squeeze=False,
    )
    data: dict[str, Any] = {"method": result["method"], "panels": {}}
    bars_of = {"sobol": ["ST", "S1"], "morris": ["mu_star"], "delta": ["delta", "S1"]}
    for ax, oid in zip(axes[0], shown, strict=False):
        res = result["outputs"][f"p_{oid}"]
        order = [result["parameters"].index(r[0]) for r in ranking(result, f"p_{oid}")]
        bars: dict[str, tuple[Array, Array, Array]] = {}
        for name in bars_of[result["method"]]:
            v = res["indices"][name]
            value, lo, hi = (np.asarray(v[k])[order] for k in ("value", "lo", "hi"))
            bars[name] = (value, lo, hi)
        share = res.get("noise_share")
        title = f"P({oid})" + ("" if share is None else f"; Monte Carlo noise {share:.1%}")
        labels = [plain_label(result["parameters"][i]) for i in order]
        index_bars(labels, bars, title=title, ax=ax)
        data["panels"][oid] = {
            "labels": labels,
            **{k: [b.tolist() for b in v] for k, v in bars.items()},
        }
    if not shown:
        axes[0][0].set_axis_off()
        axes[0][0].text(0.5, 0.5, "no outcome probability varies", ha="center")
    method = result["method"]
    fig.suptitle(
        f"What moves each outcome's probability: {_SHOWN.get(method, method)}, largest first"
    )
    what = f"{method} sensitivity" + (f" of {result['scenario']}" if result.get("scenario") else "")
    resamples = result.get("resamples")
    note = design_note(
        what,
        result.get("points"),
        result.get("replicates"),
        result.get("seed"),
        extra=f"{resamples} bootstrap resamples" if resamples else None,
    )
    footnote(fig, note)
    return fig, data


def write(root: Any, result: dict[str, Any], outcomes: list[str]) -> list[Any]:
    """Write ``sensitivity.json``, ``indices.csv`` and ``figures/indices.*`` into ``root``.

    Each file is written under a hidden name and renamed into place, so a
    reader never sees half of one; running the analysis again rewrites them
    with the same content.
    """
    import csv
    import io
    import json
    import os
    from pathlib import Path

    from sim.figures import save
    from sim.folders import hidden_name

    root = Path(root)

    def put(name: str, text: str) -> Path:
        tmp = root / hidden_name(name)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, root / name)
        return root / name

    buf = io.StringIO()
    fields = ["output", "parameter", "index", "value", "ci95_lo", "ci95_hi"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(jsonable(index_rows(result)))
    paths = [
        put("sensitivity.json", json.dumps(jsonable(result), indent=2) + "\n"),
        put("indices.csv", buf.getvalue()),
    ]
    fig, data = figure_indices(result, outcomes)
    paths += save(fig, data, root / "figures", "indices")
    return paths


def jsonable(v: Any) -> Any:
    """NaN as None (JSON has no NaN; an empty CSV cell)."""
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v
