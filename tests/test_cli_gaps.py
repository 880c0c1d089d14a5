"""Command-line gaps a user hits early: clean errors, honest tables, pointers that work."""

from __future__ import annotations

import socket
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from typer.testing import CliRunner

from sim import stats
from sim.cli import app
from sim.nowcast import Nowcast, brier_and_log_score
from sim.outcomes import ORDERS_RULE, OTHER_ORDERS, common_orders

runner = CliRunner()
ARTICLE = str(ROOT / "scenarios" / "openai_2023_11.yaml")
OBS = str(ROOT / "scenarios" / "openai_2023_11.observations.yaml")
BENCH = str(ROOT / "scenarios" / "bench_770.yaml")


def clean_error(result: object, *words: str) -> str:
    out = str(result.output)  # type: ignore[attr-defined]
    assert result.exit_code == 2, out  # type: ignore[attr-defined]
    assert "Traceback" not in out and "error:" in out, out
    for w in words:
        assert w in out, out
    return out


# ------------------------------------------------------------- clean errors
@pytest.mark.parametrize("at", ["inf", "nan", "-1", "-inf"])
def test_nowcast_at_must_be_a_finite_time(at: str) -> None:
    args = ["nowcast", ARTICLE, "--observations", OBS, "--particles", "64", "--at", at]
    clean_error(runner.invoke(app, args), "--at")


def test_nowcast_after_the_horizon_is_refused() -> None:
    args = ["nowcast", ARTICLE, "--observations", OBS, "--particles", "64", "--at", "1e308"]
    clean_error(runner.invoke(app, args), "--at", "horizon (168 h)")


@pytest.mark.parametrize("spec", ["1:0", "0:inf", "nan:1", "0.1,0.2", "a:b"])
def test_calibrate_bounds_are_clean_errors(spec: str, tmp_path: Path) -> None:
    param = f"agents.toner.rules.reinstate.rate={spec}"
    args = ["calibrate", ARTICLE, "--observations", OBS, "--param", param]
    out = clean_error(runner.invoke(app, [*args, "--out", str(tmp_path / "c")]), f"--param {param}")
    assert "validation error" not in out and "pydantic" not in out
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("flag", ["--particles", "--points"])
def test_calibrate_counts_must_be_positive(flag: str, tmp_path: Path) -> None:
    args = [
        "calibrate",
        ARTICLE,
        "--observations",
        OBS,
        "--param",
        "agents.toner.rules.reinstate.rate=0:1",
    ]
    result = runner.invoke(app, [*args, flag, "0", "--out", str(tmp_path / "c")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert not (tmp_path / "c").exists()


def test_unreachable_dask_scheduler_is_a_quick_clean_error(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port on this machine that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "s"
    args = ["sweep", BENCH, "--param", "agents.toner.rules.reinstate.resistance=0.5", "-n", "8"]
    args += ["--dask", f"tcp://127.0.0.1:{port}", "--out", str(out)]
    t0 = time.monotonic()
    result = runner.invoke(app, args)
    assert time.monotonic() - t0 < 20
    clean_error(result, "--dask")
    assert not out.exists()


# ------------------------------------------------------------ negative zero
def test_fixed_never_prints_negative_zero() -> None:
    assert stats.fixed(-0.0) == "0.000"
    assert stats.fixed(-0.0004) == "0.000"
    assert stats.fixed(-0.0006) == "-0.001"
    assert stats.fixed(0.5, 1) == "0.5"


def test_log_score_of_a_certain_outcome_is_zero() -> None:
    curve = [Nowcast(1.0, 10, {"a": 1.0, "b": 0.0}, 10.0, 0)]
    scores = brier_and_log_score(curve, "a")
    assert scores["log_score"] == [0.0]
    assert np.signbit(scores["log_score"][0]) == False  # noqa: E712  (not -0.0)


def test_backtest_table_has_no_negative_zero(tmp_path: Path) -> None:
    args = ["backtest", ARTICLE, "--observations", OBS, "--particles", "256"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "naive 0.5" in result.stdout and "0.250" in result.stdout  # the baseline's Brier
    assert "-0.000" not in result.stdout


# -------------------------------------------------------------------- orders
def test_orders_cover_most_of_the_mass_and_lump_the_rest() -> None:
    # one common order, then a long tail of rare ones
    counts = Counter({"a": 500, "b": 200, "c": 150, **{f"x{i}": 3 for i in range(50)}})
    rows = common_orders(counts, 1000)
    shown = [r["order"] for r in rows if "distinct" not in r]
    assert shown == ["a", "b", "c"]  # 50% + 20% + 15%, then only rows under 1%
    other = rows[-1]
    assert other["order"] == OTHER_ORDERS and other["count"] == 150 and other["distinct"] == 50
    assert other["share"] == pytest.approx(0.15)
    assert sum(r["count"] for r in rows) == 1000


def test_orders_stop_at_five_rows_and_drop_rows_under_one_percent() -> None:
    flat = Counter({f"o{i}": 10 for i in range(40)})  # 40 orders of 2.5% each
    rows = common_orders(flat, 400)
    assert len(rows) == 6 and rows[-1]["order"] == OTHER_ORDERS and rows[-1]["distinct"] == 35
    tiny = Counter({f"o{i}": 1 for i in range(300)})  # every order under 1%
    rows = common_orders(tiny, 300)
    assert [r["order"] for r in rows] == [OTHER_ORDERS] and rows[0]["count"] == 300


def test_orders_without_a_tail_have_no_other_row() -> None:
    rows = common_orders(Counter({"a": 9, "b": 1}), 10)
    assert [r["order"] for r in rows] == ["a", "b"]


def test_run_prints_the_orders_rule_and_other_row() -> None:
    result = runner.invoke(app, ["run", ARTICLE, "-n", "1000", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "other orders" in result.stdout
    json_run = runner.invoke(app, ["run", ARTICLE, "-n", "1000", "--seed", "1", "--json"])
    import json

    summary = json.loads(json_run.stdout)
    assert summary["orders_rule"] == ORDERS_RULE
    for name, rows in summary["orders"].items():
        assert sum(r["count"] for r in rows) == summary["outcomes"][name]["count"]
        assert all(r["share"] >= 0.01 for r in rows[:-1])  # the last may be the rest


# --------------------------------------------------------------- pointers
def test_sweep_points_to_a_reader_that_is_installed(tmp_path: Path) -> None:
    args = ["sweep", BENCH, "--set", "agents.employees.size=60", "-n", "8", "--seed", "1"]
    args += ["--param", "agents.toner.rules.reinstate.resistance=0.5", "--out", str(tmp_path / "s")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "pyarrow.parquet.read_table(" in result.stdout
    assert "pandas" not in result.stdout
