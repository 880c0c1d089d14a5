"""Bad input that once hung, blew up or ran with nonsense: each is refused or said plainly.

Files that fit the ``tests/bad`` corpus live there (``test_errors.py`` checks
them); these are the cases that need a special file, a flag or a run.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from typer.testing import CliRunner

import sim.ops_effects
from sim.cli import app
from sim.yamlio import MAX_FILE_BYTES

runner = CliRunner()
BENCH = ROOT / "scenarios" / "bench_770.yaml"
SMALL = ROOT / "tests" / "bad" / "negative_time.yaml"  # valid once its event time is fixed


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a child process, so that a hang or a blow-up fails the test, not the suite."""
    return subprocess.run(
        [sys.executable, "-m", "sim", *args],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=_limited,
    )


def small_scenario(tmp_path: Path, **replace: str) -> Path:
    """The small corpus scenario, valid, with some lines replaced (``line_31="..."``)."""
    lines = SMALL.read_text(encoding="utf-8").splitlines()
    lines[30] = "    trigger: {kind: at, time: 5}"
    for key, text in replace.items():
        lines[int(key.removeprefix("line_")) - 1] = text
    path = tmp_path / "small.yaml"
    path.write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------ files
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result = cli("validate", str(fifo))
    assert result.returncode == 2
    assert f"{fifo}: not a regular file" in result.stderr


def test_device_is_refused_without_reading_it() -> None:
    result = cli("run", "/dev/zero", "-n", "16")
    assert result.returncode == 2
    assert "/dev/zero: not a regular file" in result.stderr


def test_file_over_the_size_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    pad = "# " + "x" * 98 + "\n"
    big.write_text(BENCH.read_text() + pad * (MAX_FILE_BYTES // len(pad)), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(big)])
    assert result.exit_code == 2
    assert "input files are limited to 1 MiB" in result.stderr


# --------------------------------------------------------------- --set
def test_set_past_the_last_rule_says_how_many_rules_there_are() -> None:
    result = runner.invoke(app, ["validate", str(BENCH)])
    assert result.exit_code == 0
    result = runner.invoke(app, ["run", str(BENCH), "--set", "agents.toner.rules.5.rate=1"])
    assert result.exit_code == 2
    assert (
        "--set agents.toner.rules.5.rate=1: agents.toner.rules: "
        "agent 'toner' has 1 rule (indices 0 to 0; ids: reinstate), no index '5'"
    ) in result.stderr
    assert "CommentedSeq" not in result.stderr


def test_set_recursive_alias_is_refused() -> None:
    result = runner.invoke(app, ["run", str(BENCH), "--set", "x=&a [*a]"])
    assert result.exit_code == 2
    assert "a YAML alias refers to a node that contains it (a cycle)" in result.stderr


NEVER = ("--set", "agents.altman.patience=never")
LATE = ("--set", "outcomes.microsoft.trigger={kind: deadline, at: 500}")


def test_infinite_patience_is_refused_and_never_is_the_word_for_it() -> None:
    result = runner.invoke(app, ["run", str(BENCH), "--set", "agents.altman.patience=.inf"])
    assert result.exit_code == 2
    assert (
        "--set agents.altman.patience=.inf: agents.altman.patience: "
        "Input should be a finite number, got inf"
    ) in result.stderr
    result = runner.invoke(
        app,
        ["run", str(BENCH), "-n", "16", "--seed", "1", "--json", *NEVER],
    )
    assert result.exit_code == 0, result.output
    outcomes = json.loads(result.stdout)["outcomes"]
    assert outcomes["microsoft"]["count"] == 0


# ----------------------------------------------------------- times, ticks
def test_event_after_the_horizon_is_a_located_warning(tmp_path: Path) -> None:
    path = small_scenario(tmp_path, line_31="    trigger: {kind: at, time: 500}")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0
    assert (
        f"warning: {path}:30:25: events.offer.trigger.time: the event time 500 h is after "
        "the horizon 48 h, so it never comes in a run (write never if that is meant)"
    ) in result.stderr.splitlines()
    result = runner.invoke(app, ["run", str(path), "-n", "16", "--seed", "1", "--json"])
    assert result.exit_code == 0
    assert "events.offer.trigger.time: the event time 500 h" in result.stderr


def test_deadline_after_the_horizon_warns_from_a_flag() -> None:
    result = runner.invoke(
        app,
        ["run", str(BENCH), "-n", "16", "--seed", "1", "--json", *LATE],
    )
    assert result.exit_code == 0
    assert (
        "warning: --set outcomes.microsoft.trigger={kind: deadline, at: 500}: "
        "outcomes.microsoft.trigger: the deadline 500 h is after the horizon 168 h"
    ) in result.stderr


def test_a_long_chain_of_signals_is_refused(tmp_path: Path) -> None:
    text = SMALL.read_text(encoding="utf-8").replace("time: -5", "time: 5")
    chain = "".join(f"  s{i}:\n    - {{signal: s{i + 1}}}\n" for i in range(1500))
    chain += "  s1500:\n    - {constant: 1}\n"
    path = tmp_path / "chain.yaml"
    path.write_text(text.replace("signals:\n", "signals:\n" + chain), encoding="utf-8")
    result = cli("validate", str(path))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "a chain of more than 100 signals referring to signals" in result.stderr
    assert f"{path}:" in result.stderr


def test_too_many_positions_are_refused(tmp_path: Path) -> None:
    many = ", ".join(f"p{i}" for i in range(999))
    path = small_scenario(tmp_path, line_20=f"    positions: [out, in, {many}]")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert (
        f"{path}:19:5: agents.crowd.positions: List should have at most 1000 items "
        "after validation, not 1001"
    ) in result.stderr


# ------------------------------------------------------------ run time
def test_markup_in_the_scenario_name_is_printed_as_text() -> None:
    result = runner.invoke(
        app, ["run", str(BENCH), "-n", "16", "--seed", "1", "--set", 'name="x[/]"']
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("x[/]: 16 replicates")


def test_an_add_past_the_range_is_clipped_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim.ops_effects, "_CLIPPED", set())
    path = small_scenario(
        tmp_path,
        line_31="    trigger: {kind: every, start: 1, every: 1}\n"
        "    effects: [{kind: change, agent: crowd, param: spontaneous, add: 0.4}]",
    )
    result = runner.invoke(app, ["run", str(path), "-n", "16", "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    assert warnings == [
        "warning: an event moved spontaneous of crowd.rule outside [0, 1]; "
        "it is clipped to the range"
    ]


def test_an_error_on_line_100_prints_the_line_number(tmp_path: Path) -> None:
    text = SMALL.read_text(encoding="utf-8")
    path = tmp_path / "long.yaml"
    path.write_text("#\n" * 69 + text, encoding="utf-8")  # its error moves to line 100
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}:100:25: events.offer.trigger.time:" in result.stderr


def test_observations_naming_a_missing_scenario_point_at_their_scenario_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "obs.yaml"
    path.write_text(
        "kind: observations\nscenario: nowhere.yaml\n"
        "observations:\n  - {kind: no_outcome, at: 5}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}:2:1: scenario: cannot read file: No such file or directory" in result.stderr


def test_a_bad_sweep_parameter_is_located_in_the_sweep_file(tmp_path: Path) -> None:
    text = (ROOT / "scenarios" / "openai_2023_11.sweep.yaml").read_text()
    text = text.replace(
        "scenario: openai_2023_11.yaml", f"scenario: {ROOT}/scenarios/openai_2023_11.yaml"
    )
    text = text.replace("resistance: 0.6:0.95:8      #", "resistance: 0.95:0.6:8      #")
    bad = tmp_path / "bad.sweep.yaml"
    bad.write_text(text)
    result = runner.invoke(app, ["sweep", str(bad), "--out", str(tmp_path / "s"), "--seed", "1"])
    assert result.exit_code == 2, result.output
    line = 1 + text.splitlines().index(next(ln for ln in text.splitlines() if "0.95:0.6:8" in ln))
    assert f"{bad}:{line}:3: parameters.agents.toner.rules.reinstate.resistance" in result.output
    assert not (tmp_path / "s").exists()
