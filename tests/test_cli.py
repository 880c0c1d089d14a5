"""The command line as a user runs it: exit codes, outputs, files, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import ROOT
from typer.testing import CliRunner

import sim
from sim.cli import app

runner = CliRunner()
BENCH = str(ROOT / "scenarios" / "bench_770.yaml")
ARTICLE = str(ROOT / "scenarios" / "openai_2023_11.yaml")
SCENARIOS = sorted(
    p for p in (ROOT / "scenarios").glob("*.yaml") if "\nkind: scenario\n" in f"\n{p.read_text()}"
)
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


def run_json(*args: str) -> dict:
    result = runner.invoke(app, ["run", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_summary_has_the_documented_fields() -> None:
    s = run_json(BENCH, "-n", "600", "--seed", "4")
    assert s["scenario"] == "bench-770"
    assert s["replicates"] == 600 and s["seed"] == 4 and s["version"] == sim.__version__
    assert len(s["scenario_sha256"]) == 64
    assert set(s["outcomes"]) == {"return", "microsoft", "unresolved"}
    total = sum(o["count"] for o in s["outcomes"].values())
    assert total == 600
    for o in s["outcomes"].values():
        assert o["ci95"][0] <= o["p"] <= o["ci95"][1]
        assert set(o) >= {"count", "p", "ci95", "time_mean", "time_median"}
    assert s["outcomes"]["unresolved"]["time_mean"] is None
    assert set(s["agents"]) >= {"sutskever", "dangelo", "mccauley", "toner", "employees"}
    assert s["agents"]["sutskever"]["p_switch"] == 1.0


def test_seed_is_drawn_and_printed_when_not_given() -> None:
    s = run_json(BENCH, "-n", "10")
    assert isinstance(s["seed"], int)
    again = run_json(BENCH, "-n", "10", "--seed", str(s["seed"]))
    assert again["outcomes"] == s["outcomes"]


def test_set_changes_the_resolved_scenario_hash_and_result() -> None:
    base = run_json(BENCH, "-n", "200", "--seed", "1")
    changed = run_json(
        BENCH, "-n", "200", "--seed", "1", "--set", "agents.altman.patience={uniform: [20, 30]}"
    )
    assert changed["scenario_sha256"] != base["scenario_sha256"]
    assert changed["outcomes"]["microsoft"]["p"] == 1.0
    assert changed["outcomes"]["microsoft"]["time_median"] <= 30


def test_table_output_names_outcomes_and_dates() -> None:
    result = runner.invoke(app, ["run", ARTICLE, "-n", "300", "--seed", "2"])
    assert result.exit_code == 0
    for word in ("return", "microsoft", "95% CI", "toner", "PST", "Most common orders"):
        assert word in result.stdout


def test_out_writes_parquet_summary_and_resolved_scenario(tmp_path: Path) -> None:
    out = tmp_path / "res"
    result = runner.invoke(
        app,
        ["run", BENCH, "-n", "700", "--seed", "9", "--out", str(out), "--record", "trajectories"],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "replicates.parquet",
        "run.json",
        "scenario.resolved.yaml",
        "scenario.source.yaml",
        "summary.json",
        "trajectories.parquet",
    ]
    reps = pq.read_table(out / "replicates.parquet").to_pydict()
    summary = json.loads((out / "summary.json").read_text())
    assert len(reps["replicate"]) == 700
    assert reps["outcome"].count("return") == summary["outcomes"]["return"]["count"]
    # the resolved scenario reproduces the same hash
    resolved = sim.load_scenario(out / "scenario.resolved.yaml")
    assert resolved.sha256() == summary["scenario_sha256"]
    traj = pq.read_table(out / "trajectories.parquet").to_pydict()
    last_t = {}
    for r, t in zip(traj["replicate"], traj["t"], strict=True):
        last_t[r] = max(last_t.get(r, 0), t)
    # each replicate's trajectory ends at its outcome time
    assert all(last_t[r] == reps["time"][r] for r in range(700))
    signed = np.array(traj["employees.signed"])
    assert signed.min() >= 0 and signed.max() <= 1


def test_trace_tells_the_same_replicate_as_run() -> None:
    s = sim.run(sim.load_scenario(BENCH), replicates=600, seed=5)
    k = 513  # second block
    result = runner.invoke(app, ["trace", BENCH, "--replicate", str(k), "--seed", "5"])
    assert result.exit_code == 0
    last = result.stdout.strip().splitlines()[-1]
    label = s.outcome_labels()[k]
    assert last.endswith(f"OUTCOME {label}")
    assert last.startswith(f"{s.time[k]:.1f} h")


def test_replicate_k_is_the_same_whatever_the_number_of_replicates() -> None:
    sc = sim.load_scenario(BENCH)
    small = sim.run(sc, replicates=7, seed=3)
    big = sim.run(sc, replicates=1100, seed=3)
    np.testing.assert_array_equal(small.time, big.time[:7])
    np.testing.assert_array_equal(small.switch_time, big.switch_time[:7])


def test_results_identical_across_jobs() -> None:
    sc = sim.load_scenario(ARTICLE)
    one = sim.run(sc, replicates=1100, seed=8, jobs=1)
    two = sim.run(sc, replicates=1100, seed=8, jobs=2)
    np.testing.assert_array_equal(one.outcome, two.outcome)
    np.testing.assert_array_equal(one.time, two.time)
    np.testing.assert_array_equal(one.switch_time, two.switch_time)
    assert one.summary() == two.summary()


def test_schema_command_prints_a_json_schema() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "stancesim scenario"
    assert {"agents", "clock", "outcomes"} <= set(schema["properties"])
    assert "Individual" in schema["$defs"] and "HazardRule" in schema["$defs"]


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_shipped_scenario_validates_and_runs(path: Path) -> None:
    v = runner.invoke(app, ["validate", str(path)])
    assert v.exit_code == 0, v.output
    s = run_json(str(path), "-n", "200", "--seed", "1")
    assert sum(o["count"] for o in s["outcomes"].values()) == 200
    assert s["outcomes"]["unresolved"]["count"] < 200


def test_python_m_sim_works() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "sim", "validate", BENCH],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert "ok" in proc.stdout


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_file_validates(path: Path) -> None:
    v = runner.invoke(app, ["validate", str(path)])
    assert v.exit_code == 0, v.output
    assert ": ok (" in v.output


@pytest.mark.parametrize("kind", ["sweep", "observations", "source_classes"])
def test_schema_of_the_other_kinds(kind: str) -> None:
    result = runner.invoke(app, ["schema", "--kind", kind])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == f"stancesim {kind}"
    bad = runner.invoke(app, ["schema", "--kind", "bogus"])
    assert bad.exit_code == 2
