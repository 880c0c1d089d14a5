"""``stancesim discover``: PRIM boxes of the parameters where a condition on an outcome holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from sim.cli import common


def discover(
    folder: Path = typer.Argument(..., help="A sweep or sensitivity folder."),
    outcome: str = typer.Option(..., "--outcome", help="Outcome whose statistic is tested."),
    where: str = typer.Option(
        "p >= 0.5",
        "--where",
        help="Condition on the outcome's per-point statistic, e.g. 'p >= 0.5'.",
    ),
    threshold: float = typer.Option(
        0.8, "--threshold", min=0.0, max=1.0, help="Density the chosen box must reach."
    ),
    box: int | None = typer.Option(None, "--box", min=0, help="Choose this step of the peeling."),
    partial: bool = typer.Option(
        False, "--partial", help="Use the finished points of a partial folder."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write discovery.json, trajectory.csv and figures to this new folder."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a non-empty --out."),
) -> None:
    """Find the box of parameters where the condition holds (PRIM, EMA Workbench)."""
    from sim.discover import cases, figures, find_box

    with common.user_errors():
        if out is not None:
            from sim.folders import check_target

            check_target(out, overwrite)
        data = cases(folder, outcome, where, partial)
        result = find_box(data["x"], data["y"], threshold, box)
        result.update(
            folder=str(folder), outcome=outcome, where=where, column=data["column"],
            dropped=data["dropped"], note=data["note"],
        )  # fmt: skip
        if out is not None:
            drawn = figures(result, data["x"], data["y"], data["condition"], data["footnote"])
            _write(out, overwrite, result, drawn)
        typer.echo(_describe(result, out))


def _write(out: Path, overwrite: bool, result: dict[str, Any], figs: list[Any]) -> None:
    from sim.figures import save
    from sim.folders import building

    with building(out, overwrite, "discovery") as tmp:
        (tmp / "discovery.json").write_text(json.dumps(result, indent=2) + "\n")
        lines = ["step,coverage,density,mass,restricted"]
        lines += [
            f"{i},{t['coverage']},{t['density']},{t['mass']},{t['restricted']}"
            for i, t in enumerate(result["trajectory"])
        ]
        (tmp / "trajectory.csv").write_text("\n".join(lines) + "\n")
        for name, fig, data in figs:
            save(fig, data, tmp / "figures", name)


def _describe(result: dict[str, Any], out: Path | None) -> str:
    step = result["trajectory"][result["chosen"]]
    lines = []
    if result["note"]:
        lines.append(result["note"])
    lines.append(
        f"{result['where']} for {result['outcome']} at {result['of_interest']} of "
        f"{result['cases']} points; peeling: {len(result['trajectory'])} steps"
    )
    lines.append(
        f"box {result['chosen']}: coverage {step['coverage']:.2f}, density {step['density']:.2f}, "
        f"mass {step['mass']:.2f}, {step['restricted']} parameters restricted"
    )
    for name, lim in result["limits"].items():
        if not lim["restricted"]:
            continue
        qps = [q for q in (lim["qp_low"], lim["qp_high"]) if q is not None]
        lines.append(
            f"  {name:<45} {lim['low']:.4g} .. {lim['high']:.4g}  (quasi-p {max(qps):.2g})"
        )
    if result["dropped"]:
        lines.append(f"non-numeric parameters left out: {', '.join(result['dropped'])}")
    if out is not None:
        from sim.discover import box_figure_skipped

        skipped = box_figure_skipped(result)
        if skipped is not None:
            lines.append(skipped)
        lines.append(f"trajectory, box and figures in {out}")
    return "\n".join(lines)
