"""Scenario discovery: PRIM recovers a planted box; the command's outputs and errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from typer.testing import CliRunner

from sim.cli import app
from sim.discover import (
    box_figure_skipped,
    cases,
    figures,
    find_box,
    most_restricted,
    parse_where,
)
from sim.scenario import load_scenario
from sim.sweeps import sweep

pytest.importorskip("ema_workbench")
runner = CliRunner()
BENCH = ROOT / "scenarios" / "bench_770.yaml"
QUICK_SETS = ["agents.employees.size=60", "agents.altman.patience={uniform: [60, 80]}"]


def test_prim_recovers_a_planted_box() -> None:
    rng = np.random.default_rng(3)
    x = pd.DataFrame(rng.random((2000, 4)), columns=["a", "b", "c", "d"])
    inside = x.a.between(0.3, 0.7) & x.b.between(0.2, 0.6)
    y = inside.to_numpy() ^ (rng.random(2000) < 0.03)  # 3% of the labels flipped
    res = find_box(x, y, threshold=0.9)  # the planted box is ~0.97 dense; 0.8 admits a looser one
    lim = res["limits"]
    # each peel removes 5% of the box: a limit lands within one peel of the
    # truth, about 0.05 of a unit range at the box's size, plus sampling
    for name, (lo, hi) in {"a": (0.3, 0.7), "b": (0.2, 0.6)}.items():
        assert lim[name]["restricted"]
        assert abs(lim[name]["low"] - lo) < 0.05 and abs(lim[name]["high"] - hi) < 0.05
        assert max(q for q in (lim[name]["qp_low"], lim[name]["qp_high"]) if q is not None) < 1e-6
    assert not lim["c"]["restricted"] and not lim["d"]["restricted"]
    step = res["trajectory"][res["chosen"]]
    assert step["density"] >= 0.9 and step["coverage"] > 0.8
    assert sorted(most_restricted(res)) == ["a", "b"]


def test_where_is_parsed_and_refused() -> None:
    assert parse_where("p >= 0.5") == ("p", ">=", 0.5)
    assert parse_where("time_median<72") == ("time_median", "<", 72.0)
    with pytest.raises(Exception, match="expected STAT OP NUMBER"):
        parse_where("p => 0.5")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("d") / "s"
    base = load_scenario(BENCH, QUICK_SETS)
    params = {
        "agents.toner.rules.reinstate.resistance": "0.1:0.9",
        "agents.dangelo.rules.reinstate.rate": "0:0.5",
    }
    sweep(base, params, out=out, sampler="lhs", points=40, replicates=64, seed=2)
    return out


def test_discover_writes_trajectory_box_and_figures(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "disc"
    res = runner.invoke(
        app,
        ["discover", str(folder), "--outcome", "return", "--where", "p >= 0.2", "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    assert "coverage" in res.output and "density" in res.output
    assert "no box figure" not in res.output  # this box restricts both parameters
    record = json.loads((out / "discovery.json").read_text())
    assert record["cases"] == 40 and 0 < record["of_interest"] < 40
    assert (out / "trajectory.csv").read_text().startswith("step,coverage,density")
    assert (out / "figures" / "tradeoff.png").is_file()
    assert (out / "figures" / "box.svg").is_file()
    assert (out / "run.json").is_file()  # sealed like every results folder


def test_a_box_restricting_fewer_than_two_parameters_gets_no_box_figure() -> None:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(4)
    x = pd.DataFrame(rng.random((600, 3)), columns=["a", "b", "c"])
    y = (x.a < 0.4).to_numpy()  # only a matters: the box restricts one parameter
    res = find_box(x, y, threshold=0.9)
    assert [n for n, lim in res["limits"].items() if lim["restricted"]] == ["a"]
    drawn = figures(res, x, y)
    for _, fig, _ in drawn:
        plt.close(fig)
    assert [name for name, _, _ in drawn] == ["tradeoff"]
    why = f"no box figure: box {res['chosen']} restricts only a (the figure needs two)"
    assert box_figure_skipped(res) == why
    # step 0 of the peeling is the whole range: nothing restricted
    drawn = figures(find_box(x, y, box=0), x, y)
    for _, fig, _ in drawn:
        plt.close(fig)
    assert [name for name, _, _ in drawn] == ["tradeoff"]


def test_discover_says_why_it_wrote_no_box_figure(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "disc"
    res = runner.invoke(
        app,
        [
            *("discover", str(folder), "--outcome", "return", "--where", "p >= 0.3"),
            *("--out", str(out)),
        ],
    )  # no box is as dense as 0.8: the chosen one is the whole range
    assert res.exit_code == 0, res.output
    said = [line for line in res.output.splitlines() if "no box figure" in line]
    why = "no box figure: box 0 restricts no parameter (the figure needs two)"
    assert said == [why], res.output
    assert (out / "figures" / "tradeoff.png").is_file()
    assert not list((out / "figures").glob("box.*"))


def test_discovery_figures_name_the_condition_and_what_was_run(folder: Path) -> None:
    import matplotlib.pyplot as plt

    data = cases(folder, "return", "p >= 0.2")
    assert data["condition"] == "P(return) >= 0.2"
    res = find_box(data["x"], data["y"])
    drawn = figures(res, data["x"], data["y"], data["condition"], data["footnote"])
    assert [name for name, _, _ in drawn] == ["tradeoff", "box"]
    for name, fig, _ in drawn:
        title = fig.axes[0].get_title()
        notes = [t.get_text() for t in fig.texts]
        plt.close(fig)
        assert "P(return) >= 0.2" in title, (name, title)
        assert len(notes) == 1, notes
        assert notes[0].startswith("sweep of bench-770 · 40 points × 64 replicates · seed 2 · ")
        assert "PRIM density threshold 0.8" in notes[0], notes
    box_title = drawn[1][1].axes[0].get_title()
    assert f"box {res['chosen']}" in box_title, box_title


def test_conditions_read_in_words() -> None:
    from sim.discover import describe_condition

    assert describe_condition("return", "p>=0.5") == "P(return) >= 0.5"
    assert describe_condition("return", "time_median < 72") == "median time to return < 72"
    assert describe_condition("exit", "ci95_lo > 0.25") == "lower 95% bound of P(exit) > 0.25"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--outcome", "nothing"], "--outcome nothing: not an outcome"),
        (["--outcome", "return", "--where", "p >= 2"], "holds at no point"),
        (["--outcome", "return", "--where", "p like 1"], "expected STAT OP NUMBER"),
    ],
)
def test_discover_errors(folder: Path, args: list[str], message: str) -> None:
    res = runner.invoke(app, ["discover", str(folder), *args])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output


def test_missing_workbench_is_one_line(folder: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ema_workbench.analysis", None)
    res = runner.invoke(app, ["discover", str(folder), "--outcome", "return"])
    assert res.exit_code == 2
    assert 'pip install -e ".[analysis]"' in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_not_a_sweep_folder(tmp_path: Path) -> None:
    res = runner.invoke(app, ["discover", str(tmp_path), "--outcome", "return"])
    assert res.exit_code == 2 and "not a sweep folder" in res.output
