"""Figures of backtests: P(realised) at the marks by forecaster; a pooled reliability diagram."""

from __future__ import annotations

from typing import Any

from sim import plotting as P
from sim._version import __version__


def figure_backtest(bt: Any, observations: Any) -> tuple[Any, dict[str, Any]]:
    """P(realised) at each mark for every forecaster; observations' publication times as ticks."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.0, 4.4), layout="constrained")
    scores = bt.scores()
    for i, (name, s) in enumerate(scores.items()):
        pts = [(t, p) for t, p in zip(bt.marks, s["p"], strict=True) if p is not None]
        if not pts:
            continue
        mean = s["mean_brier"]
        label = f"{name} (mean Brier {mean:.3f})" if mean is not None else name
        style = "--" if name in ("prior", "naive 0.5") else "-"
        ax.step(
            [t for t, _ in pts],
            [p for _, p in pts],
            where="post",
            ls=style,
            label=label,
            color=P.colour(i, name),
            marker="o",
            ms=3,
        )
    for o in observations.observations:
        ax.axvline(o.known_at, color="#999999", lw=0.5, alpha=0.6)
    ax.axvline(bt.realised_at, color="#000000", lw=1.2)
    ax.text(bt.realised_at, 0.02, f"{bt.realised} ", fontsize=8, ha="right", va="bottom")
    ax.set_ylim(0, 1)
    ax.set_xlabel("hours (grey lines: observations published)")
    ax.set_ylabel(f"P({bt.realised} | what was public by then)")
    ax.set_title(f"Backtest of {bt.scenario}: it ended {bt.realised} at {bt.realised_at:g} h")
    ax.legend(fontsize=8, loc="best")
    P.footnote(fig, f"{bt.model[0].particles} particles · stancesim {__version__}")
    return fig, bt.as_dict()


def figure_reliability(
    table: list[dict[str, float]], cases: list[str]
) -> tuple[Any, dict[str, Any]]:
    """Observed frequency against mean forecast per bin, pooled over ``cases``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 5.0), layout="constrained")
    ax.plot([0, 1], [0, 1], color="#999999", lw=0.8, ls="--", label="perfectly reliable")
    x = [r["forecast"] for r in table]
    y = [r["observed"] for r in table]
    ax.plot(x, y, marker="o", color=P.PALETTE[0], label="the model")
    for r in table:
        # above a point, but below one near the top, where the title is
        high = r["observed"] > 0.9
        ax.annotate(
            str(r["count"]),
            (r["forecast"], r["observed"]),
            fontsize=7,
            xytext=(3, -9 if high else 3),
            textcoords="offset points",
        )
    # a little room beyond 0 and 1, where bins often sit, so that their markers are whole
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("forecast probability (bin mean)")
    ax.set_ylabel("observed frequency")
    ax.set_title(f"Reliability, {len(cases)} case(s) pooled")
    ax.legend(fontsize=8, loc="upper left")
    P.footnote(
        fig,
        "numbers: forecasts per bin (every outcome at every mark;\n"
        f"marks of one case are not independent) · stancesim {__version__}",
    )
    return fig, {"cases": cases, "bins": table}
