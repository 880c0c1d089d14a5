"""The parts of a report read from sweep, sensitivity, discovery and backtest folders.

Each folder is read through its own checks: a sweep or sensitivity folder by
:func:`sim.sweep_results.read_results` (its manifest's status and sha256s),
a discovery folder by :func:`sim.folders.check_complete`. The figures are
drawn again from the numbers by :mod:`sim.figures` and
:mod:`sim.sensitivity_analysis`, except those of discovery and backtest
folders, whose SVG files are taken as written (a sealed discovery folder's
are listed in its ``run.json``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sim.errors import InputError
from sim.report_html import Figure, Section, Table, Text, figure_svg

MAX_POINT_ROWS = 200


def _num(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    from sim.stats import fixed

    return fixed(float(v), digits)


def _g(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


# ------------------------------------------------------------------ sweeps
def sweep_sections(table: Any, manifest: dict[str, Any], partial: str | None) -> list[Section]:
    """Outcome summary over the points, the points table and the sweep's figures."""
    import numpy as np

    from sim import figures
    from sim.scenario import UNRESOLVED

    params = list(manifest["definition"]["parameters"])
    outcomes = [*manifest["base_scenario"]["outcomes"], UNRESOLVED]
    cols = table.to_pydict()
    ok = [s == "ok" for s in cols["status"]]
    n_ok = sum(ok)
    rows = []
    shown = []
    for o in outcomes:
        p = np.array(
            [v for v, good in zip(cols.get(f"p_{o}", []), ok, strict=False) if good], float
        )
        if p.size == 0 or (o == UNRESOLVED and np.nanmax(p) == 0):
            continue
        shown.append(o)
        rows.append(
            [
                o,
                _num(np.nanmin(p)),
                _num(np.nanmedian(p)),
                _num(np.nanmax(p)),
                f"{int((p >= 0.5).sum())} of {p.size}",
            ]
        )
    what = Section(
        "Outcomes",
        [
            Text(
                f"{table.num_rows} points ({n_ok} finished without error), "
                f"{manifest['definition'].get('replicates')} replicates each "
                f"(sampler {manifest['definition'].get('sampler', 'grid')}). P at each point has "
                "its own 95% Wilson interval (in the points table)."
            ),
            Table(
                ["outcome", "lowest P", "median P", "highest P", "points with P ≥ 0.5"],
                rows,
                {1, 2, 3, 4},
            ),
        ],
    )
    if partial:
        what.blocks.insert(0, Text(f"PARTIAL: {partial}.", "warn"))
    headers = ["point", *params, *[f"P({o}) [95% CI]" for o in shown]]
    point_rows = []
    for i in range(min(table.num_rows, MAX_POINT_ROWS)):
        row = [str(cols["point"][i]), *[_g(cols[p][i]) for p in params]]
        for o in shown:
            if not ok[i]:
                row.append(f"failed: {cols['error'][i]}")
                continue
            row.append(
                f"{_num(cols[f'p_{o}'][i])} [{_num(cols[f'ci95_lo_{o}'][i])}, "
                f"{_num(cols[f'ci95_hi_{o}'][i])}]"
            )
        point_rows.append(row)
    more = table.num_rows - len(point_rows)
    pts = Section("Points", [Table(headers, point_rows, set(range(len(headers))))])
    if more > 0:
        pts.blocks.append(Text(f"… and {more} more points (all are in the figures).", "note"))
    what.blocks.append(pts)
    figs = Section("Figures")
    if len(params) == 1:
        fig, _ = figures.figure_sweep(table, manifest, None, partial)
        figs.blocks.append(Figure("Where the ending flips, with 95% bands.", figure_svg(fig)))
    else:
        for o in shown:
            fig, _ = figures.figure_sweep(table, manifest, o, partial)
            figs.blocks.append(Figure(f"P({o}) over the first two parameters.", figure_svg(fig)))
    return [what, figs]


def sweep_provenance(manifest: dict[str, Any], root: Path) -> list[tuple[str, str]]:
    """Version, seed, scenario hash, command and date of a sweep or sensitivity folder."""
    d = manifest["definition"]
    return [
        ("scenario", str(manifest["base_scenario"].get("name"))),
        ("stancesim version", str(manifest.get("stancesim_version"))),
        ("seed", str(d.get("seed"))),
        ("scenario sha256", str(manifest.get("base_scenario_sha256"))),
        ("definition sha256", str(manifest.get("definition_sha256"))),
        ("scenario file", str(manifest.get("scenario_file"))),
        (
            "command line",
            str(
                manifest.get("command")
                or "not recorded by sweep folders; the folder's "
                f"manifest holds every input (finish or repeat: stancesim "
                f"{'sensitivity' if manifest.get('kind') == 'sensitivity' else 'sweep'} "
                f"--resume {root})"
            ),
        ),
        ("date", str(manifest.get("created") or "not recorded")),
    ]


# ------------------------------------------------------------- sensitivity
def _nan(v: Any, inside: bool = False) -> Any:
    """JSON's None back to NaN in the index arrays, as the analysis made it."""
    if isinstance(v, dict):
        return {k: _nan(x, inside) for k, x in v.items()}
    if isinstance(v, list):
        return [_nan(x, True) for x in v]
    return float("nan") if v is None and inside else v


def read_sensitivity(root: Path) -> dict[str, Any]:
    """A sensitivity folder's ``sensitivity.json`` (its indices); InputError when absent."""
    path = root / "sensitivity.json"
    again = f"stancesim sensitivity --resume {root}"
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
        result["outputs"], result["parameters"], result["method"]
    except FileNotFoundError:
        raise InputError(
            f"{root}: incomplete sensitivity folder: no sensitivity.json (the indices were not "
            f"computed); compute them with: {again}"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: unreadable ({exc}); write it again with: {again}") from None
    return dict(_nan(result))


def sensitivity_section(result: dict[str, Any], outcomes: list[str]) -> Section:
    """The ranking of the parameters for each outcome probability, and the bars."""
    from sim.sensitivity_analysis import figure_indices, ranking

    main = result["main_index"]
    s = Section(
        "Which premises decide it: sensitivity ranking",
        [
            Text(
                f"Method {result['method']}: {result['points']:,} points × "
                f"{result['replicates']:,} replicates = {result['evaluations']:,} runs "
                f"({result['failed']} points failed). Parameters ranked by {main}, with 95% "
                f"bootstrap intervals ({result.get('resamples')} resamples)."
            )
        ],
    )
    for output, res in result["outputs"].items():
        if not output.startswith("p_"):
            continue
        name = f"P({output[2:]})"
        if res.get("skipped") or not res.get("indices"):
            s.blocks.append(
                Text(f"{name}: not analysed ({res.get('skipped') or 'no indices'}).", "note")
            )
            continue
        rows = [
            [str(k + 1), path, _num(v), f"[{_num(lo)}, {_num(hi)}]"]
            for k, (path, v, lo, hi) in enumerate(ranking(result, output))
        ]
        share = res.get("noise_share")
        sub = Section(name, [Table(["rank", "parameter", main, "95% CI"], rows, {0, 2, 3})])
        if isinstance(share, float) and math.isfinite(share):
            sub.blocks.append(
                Text(
                    f"Monte Carlo noise: {share:.1%} of the variance of {name} over the points.",
                    "note",
                )
            )
        s.blocks.append(sub)
    fig, _ = figure_indices(result, outcomes)
    s.blocks.append(
        Figure("Indices of each outcome probability, sorted, with 95% intervals.", figure_svg(fig))
    )
    return s


# --------------------------------------------------------------- discovery
def _svg_file(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def discovery_section(folder: Path) -> Section:
    """A discovery folder's chosen box: its limits, the trade-off and the box figures."""
    from sim.folders import check_complete

    check_complete(folder, "discovery")
    try:
        d = json.loads((folder / "discovery.json").read_text(encoding="utf-8"))
        step = d["trajectory"][d["chosen"]]
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise InputError(f"{folder}/discovery.json: unreadable ({exc})") from None
    s = Section(
        f"Discovery: where {d.get('where')} for {d.get('outcome')}",
        [
            Text(
                f"PRIM on {d.get('folder')}: the condition holds at {d.get('of_interest')} of "
                f"{d.get('cases')} points. Box {d['chosen']} of {len(d['trajectory'])} peeling "
                f"steps: coverage {step['coverage']:.2f}, density {step['density']:.2f}, mass "
                f"{step['mass']:.2f}, {step['restricted']} parameters restricted."
            )
        ],
    )
    if d.get("note"):
        s.blocks.insert(0, Text(str(d["note"]), "warn"))
    rows = []
    for name, lim in d.get("limits", {}).items():
        qps = [q for q in (lim.get("qp_low"), lim.get("qp_high")) if q is not None]
        lo, hi = d.get("ranges", {}).get(name, [None, None])
        rows.append(
            [
                name,
                "yes" if lim.get("restricted") else "no",
                _g(lim.get("low")),
                _g(lim.get("high")),
                f"{_g(lo)} – {_g(hi)}",
                f"{max(qps):.2g}" if qps else "—",
            ]
        )
    s.blocks.append(
        Table(
            ["parameter", "restricted", "box low", "box high", "range swept", "quasi-p"],
            rows,
            {2, 3, 4, 5},
        )
    )
    for name, caption in (
        ("tradeoff", "PRIM's peeling trajectory: density against coverage."),
        ("box", "The points over the two most restricted parameters, with the chosen box."),
    ):
        svg = _svg_file(folder / "figures" / f"{name}.svg")
        if svg is not None:
            s.blocks.append(Figure(caption, svg))
    return s


def find_discoveries(root: Path) -> list[Path]:
    """Complete discovery folders directly inside ``root``."""
    found = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        marker = sub / "run.json"
        if (sub / "discovery.json").is_file() and marker.is_file():
            try:
                if json.loads(marker.read_text()).get("kind") == "discovery":
                    found.append(sub)
            except (OSError, ValueError):
                continue
    return found


# ---------------------------------------------------------------- backtest
def backtest_sections(root: Path) -> tuple[list[Section], dict[str, Any]]:
    """The scores of a backtest folder (``backtest.json``) and its figure (``backtest.svg``).

    Every forecaster of the backtest (the model, the prior, the naive 0.5 and
    each ``--reference``) has its column, as in the table ``stancesim
    backtest`` prints: P(realised) at each mark, then the mean scores.
    """
    again = "write it again with stancesim backtest ... --out"
    try:
        data = json.loads((root / "backtest.json").read_text(encoding="utf-8"))
        scores, realised = data["scores"], data["realised"]
        times = [float(t) for t in scores["t"]]
        forecasters = data.get("forecasters") or {"model": _model_only(data, realised)}
        names = list(forecasters)
        for f in forecasters.values():
            _ = (f["p"], f["brier"], f["log_score"])  # a column missing: unreadable
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{root}/backtest.json: unreadable ({exc}); {again} {root}") from None
    svg = _svg_file(root / "backtest.svg")
    if svg is None or "<svg" not in svg:
        raise InputError(
            f"{root}: incomplete backtest folder: backtest.svg is missing or unreadable; "
            f"{again} {root}"
        )
    out = Section(
        "Outcomes: the nowcast against what happened",
        [
            Text(
                f"It ended: {realised}. P({realised}) at each mark by forecaster (the model, "
                "the prior, a naive 0.5 and any reference; — where one had no forecast yet), "
                "then each one's mean Brier and log scores over the marks it forecast (lower "
                "is better)."
            ),
            _per_mark(data, forecasters, realised, times),
            Table(
                ["forecaster", "Brier", "log score", "marks"],
                [
                    [
                        k,
                        _num(f.get("mean_brier")),
                        _num(f.get("mean_log_score")),
                        str(f.get("marks_scored", "—")),
                    ]
                    for k, f in forecasters.items()
                ],
                {1, 2, 3},
            ),
        ],
    )
    multi = [x for x in scores.get("brier_all_outcomes") or [] if x is not None]
    if multi:
        out.blocks.append(
            Text(
                f"The model's multi-outcome Brier score (summed over every outcome, not "
                f"comparable with the scores above): {_num(sum(multi) / len(multi))}."
            )
        )
    out.blocks.append(
        Table(
            ["T (hours)"] + [f"Brier {k}" for k in names] + [f"log score {k}" for k in names],
            [
                [_g(t)]
                + [_num(_at(forecasters[k]["brier"], i)) for k in names]
                + [_num(_at(forecasters[k]["log_score"], i)) for k in names]
                for i, t in enumerate(times)
            ],
            set(range(1 + 2 * len(names))),
            caption="Each forecaster's Brier and log score at each mark.",
        )
    )
    marks = data.get("marks") or []
    if marks:
        out.blocks.append(
            Section(
                "Observations (numbered in the figure)",
                [Table(["observation"], [[str(m)] for m in marks])],
            )
        )
    figs = Section("Figures", [Figure("Nowcast: the odds as the news came in.", svg)])
    return [out, figs], data


def _model_only(data: dict[str, Any], realised: str) -> dict[str, Any]:
    """The model's column from a ``backtest.json`` written before it held every forecaster."""
    scores = data["scores"]
    return {"p": data[realised], "brier": scores["brier"], "log_score": scores["log_score"]}


def _at(values: list[Any], i: int) -> Any:
    return values[i] if i < len(values) else None


def _per_mark(
    data: dict[str, Any], forecasters: dict[str, Any], realised: str, times: list[float]
) -> Table:
    """P(realised) at each mark by forecaster, with the model's ESS and observations used."""
    names = list(forecasters)
    ess, used = data.get("ess_min") or [], data.get("observations_used") or []
    extra = ["ESS (model)", "observations used"] if ess and used else []
    rows = []
    for i, t in enumerate(times):
        row = [_g(t)] + [_num(_at(forecasters[k]["p"], i)) for k in names]
        if extra:
            row += [_num(_at(ess, i), 0), str(_at(used, i))]
        rows.append(row)
    headers = ["T (hours)"] + [f"P({realised}) {k}" for k in names] + extra
    return Table(headers, rows, set(range(len(headers))))
