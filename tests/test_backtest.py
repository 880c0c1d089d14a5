"""Backtests: scores in closed form, baselines, references at the same marks, pooled reliability."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import sim
from sim.backtest import (
    backtest,
    default_marks,
    parse_marks,
    prior_curve,
    read_reference,
    reference_at,
    reliability,
)
from sim.cli import app
from sim.errors import InputError
from sim.nowcast import nowcast
from sim.observations import ObservationsFile

runner = CliRunner()

SCENARIO = {
    "kind": "scenario",
    "name": "constant hazard",
    "clock": {"horizon": 80},
    "agents": {
        "m": {
            "kind": "individual",
            "positions": ["no", "yes"],
            "initial": "no",
            "rules": [
                {"kind": "hazard", "to": "yes", "pressure": "one", "resistance": 0, "rate": 0.05}
            ],
        }
    },
    "signals": {"one": [{"constant": 1.0}]},
    "outcomes": {
        "early": {"trigger": {"kind": "condition", "condition": {"agent": "m", "position": "yes"}}},
        "late": {"trigger": {"kind": "deadline", "at": 60}},
    },
}
OBSERVED = {
    "kind": "observations",
    "observations": [
        {"kind": "not_before", "agent": "m", "position": "yes", "at": 10, "published": 12},
        {
            "kind": "report",
            "condition": {"agent": "m", "position": "yes"},
            "at": 20,
            "published": 22,
            "true_positive": 0.3,
            "false_positive": 0.2,
            "source": "one source",
        },
        {"kind": "outcome", "outcome": "late", "at": 60},
    ],
}


def files(tmp_path: Path) -> tuple[Path, Path]:
    sc, ob = tmp_path / "s.yaml", tmp_path / "o.yaml"
    sc.write_text(yaml.safe_dump(SCENARIO))
    ob.write_text(yaml.safe_dump(OBSERVED))
    return sc, ob


def test_default_marks_run_from_the_first_publication_to_the_outcome() -> None:
    o = ObservationsFile.model_validate(OBSERVED)
    assert default_marks(o, 61) == [12 + 4 * j for j in range(13)]  # 12 .. 60, before 61
    assert default_marks(o, 60) == [12 + 4 * j for j in range(12)]  # 60 is not before 60
    assert default_marks(o, 60, every=8) == [12 + 8 * j for j in range(6)]
    assert parse_marks("0:8:4") == [0, 4, 8]
    assert parse_marks("8,0.5") == [0.5, 8]
    for bad in ("8:0:4", "0:8:0", "a,b", "-1"):
        with pytest.raises(InputError, match="--marks"):
            parse_marks(bad)


def test_scores_are_the_binary_brier_and_the_log_score_with_baselines() -> None:
    sc = sim.scenario_from_dict(SCENARIO)
    o = ObservationsFile.model_validate(OBSERVED)
    refs = {"market": [(0.0, 0.9), (20.0, 0.2)]}
    bt = backtest(sc, o, "late", 60, [0, 12, 24], particles=2048, seed=1, references=refs)
    s = bt.scores()
    for name, row in s.items():
        for p, b, lg in zip(row["p"], row["brier"], row["log_score"], strict=True):
            assert b == pytest.approx((1 - p) ** 2) and lg == pytest.approx(-math.log(p)), name
    assert s["naive 0.5"]["mean_brier"] == 0.25
    assert s["naive 0.5"]["mean_log_score"] == pytest.approx(math.log(2))
    assert s["reference market"]["p"] == [0.9, 0.9, 0.2]  # its latest forecast by each mark
    # the model at 12 knows "not yet by 10" (published at 12), not the report (published 22)
    assert [n.used for n in bt.model] == [0, 1, 2]
    # P(late | not switched by T) = 0.95^(60 - T) for a constant 5% hazard
    for t, p in zip(bt.marks, s["prior"]["p"], strict=True):
        assert p == pytest.approx(0.95 ** (60 - t), abs=3.29 * math.sqrt(0.25 / 1000))


def test_the_prior_is_the_nowcast_with_no_observation() -> None:
    sc = sim.scenario_from_dict(SCENARIO)
    for allow in (True, False):
        prior = prior_curve(sc, [0.0, 7.0, 12.0], 1024, 3, allow)
        for t, p in zip([0.0, 7.0, 12.0], prior, strict=True):
            n = nowcast(sc, [], t, 1024, 3, allow_ended=allow)
            for k, v in n.probabilities.items():
                # exactly: by 12 h fewer than half have ended (0.46), so nothing is resampled
                assert p[k] == pytest.approx(v, abs=1e-12), (allow, t, k)


def test_a_reference_is_read_with_its_lines(tmp_path: Path) -> None:
    ok = tmp_path / "market.csv"
    ok.write_text("t,p\n30,0.4\n10,0.7\n\n")
    rows = read_reference(ok)
    assert rows == [(10.0, 0.7), (30.0, 0.4)]
    assert reference_at(rows, [5, 10, 29.9, 30, 99]) == [None, 0.7, 0.7, 0.4, 0.4]
    for text, message in [
        ("x,y\n1,2\n", ":1: expected columns t and p"),
        ("t,p\n1,0.5\n2,1.3\n", ":3: column p: expected a probability"),
        ("t,p\n1,abc\n", ":2: expected numbers"),
        ("t,p\n", "no rows"),
    ]:
        ok.write_text(text)
        with pytest.raises(InputError, match=message):
            read_reference(ok)


def test_reliability_bins_pool_every_pair() -> None:
    pairs = [(0.05, 0), (0.15, 1), (0.12, 0), (0.95, 1), (1.0, 1)]
    table = reliability(pairs, bins=10)
    assert sum(r["count"] for r in table) == 5
    second = next(r for r in table if r["low"] == 0.1)
    assert second["forecast"] == pytest.approx(0.135) and second["observed"] == 0.5
    assert table[-1]["count"] == 2  # 1.0 falls in the last bin


def test_cli_backtest_with_a_reference_and_a_pooled_reliability_diagram(tmp_path: Path) -> None:
    sc, ob = files(tmp_path)
    ref = tmp_path / "market.csv"
    ref.write_text("t,p\n0,0.5\n20,0.8\n")
    args = ["backtest", str(sc), "--observations", str(ob), "--particles", "512"]
    r = runner.invoke(app, [*args, "--reference", str(ref), "--out", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    for name in ("model", "prior", "naive 0.5", "reference market"):
        assert name in r.stdout
    assert "multi-outcome Brier" in r.stdout
    data = json.loads((tmp_path / "a" / "backtest.json").read_text())
    assert data["t"] == [12 + 4 * j for j in range(12)]
    assert data["forecasters"]["reference market"]["p"][:3] == [0.5, 0.5, 0.8]  # 12, 16, 20 h
    table = (tmp_path / "a" / "backtest.csv").read_text().splitlines()
    assert table[0].startswith("t,p model,brier model") and len(table) == 13
    assert (tmp_path / "a" / "backtest.png").exists()
    r = runner.invoke(app, [*args, "--marks", "0:40:20", "--out", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app,
        [
            "reliability",
            str(tmp_path / "a"),
            str(tmp_path / "b" / "backtest.json"),
            "--bins",
            "5",
            "--out",
            str(tmp_path / "rel"),
        ],
    )
    assert r.exit_code == 0, r.output
    rel = json.loads((tmp_path / "rel" / "reliability.json").read_text())
    # 12 + 3 marks, each with 3 outcomes (early, late, unresolved)
    assert sum(b["count"] for b in rel["bins"]) == (12 + 3) * 3
    assert "45 forecasts from 2 case(s)" in r.stdout


def test_cli_backtest_errors_are_located_and_leave_nothing(tmp_path: Path) -> None:
    sc, ob = files(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("t,p\n1,2\n")
    args = ["backtest", str(sc), "--observations", str(ob), "--particles", "64"]
    out = tmp_path / "out"
    r = runner.invoke(app, [*args, "--reference", str(bad), "--out", str(out)])
    assert r.exit_code == 2 and "bad.csv:2: column p" in r.stderr and "Traceback" not in r.output
    assert not out.exists()
    r = runner.invoke(app, [*args, "--marks", "0:8", "--out", str(out)])
    assert r.exit_code == 2 and "--marks" in r.stderr
    r = runner.invoke(app, [*args, "--realised-at", "5", "--out", str(out)])
    assert r.exit_code == 2 and "no mark before the realised outcome" in r.stderr
    # a mark or a realised time past the horizon is named by its own option
    for option, value in (("--marks", "5000"), ("--realised-at", "5000")):
        r = runner.invoke(app, [*args, option, value, "--out", str(out)])
        assert r.exit_code == 2 and f"{option} 5000: after the scenario's horizon" in r.stderr
    r = runner.invoke(app, ["reliability", str(sc), "--out", str(out)])
    assert r.exit_code == 2 and "not a backtest" in r.stderr
    assert not out.exists()


def test_cli_nowcast_after_every_ending_says_what_to_do(tmp_path: Path) -> None:
    sc, _ = files(tmp_path)
    empty = tmp_path / "e.yaml"
    empty.write_text(
        yaml.safe_dump(
            {
                "kind": "observations",
                "observations": [{"kind": "not_before", "agent": "m", "position": "yes", "at": 1}],
            }
        )
    )
    args = ["nowcast", str(sc), "--observations", str(empty), "--particles", "64", "--at", "75"]
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and "--allow-ended" in r.stderr and "Traceback" not in r.output
    r = runner.invoke(app, [*args, "--allow-ended", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)[0]["no_outcome_by"] == 0


def test_cli_backtest_warns_once_for_every_mark_whose_ess_collapsed(tmp_path: Path) -> None:
    """60 particles, of which about 0.95^10 = 60% survive "not yet by 10 h": ESS < 50."""
    sc, ob = files(tmp_path)
    args = ["backtest", str(sc), "--observations", str(ob), "--particles", "60", "--marks"]
    r = runner.invoke(app, [*args, "12:40:4", "--no-rejuvenate", "--out", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "a" / "backtest.json").read_text())
    low = [e for e in data["ess_min"] if e < 50]
    assert low and r.stderr.count("warning:") == 1
    assert f"below 50 at {len(low)} of 8 marks (lowest {min(low):.1f} of 60 particles" in r.stderr
