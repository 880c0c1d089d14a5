"""Progress bars: every command that can take more than a few seconds draws one.

The bars go to stderr only when a person watches it; here a terminal is
faked (a rich console writing to a buffer) and the bar's last frame is read.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import ROOT
from rich.console import Console
from typer.testing import CliRunner

from sim.cli import app, common

runner = CliRunner()
ARTICLE = ROOT / "scenarios" / "openai_2023_11.yaml"
OBSERVED = ROOT / "scenarios" / "openai_2023_11.observations.yaml"
TINY = ROOT / "benchmarks" / "tiny.yaml"


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What a person watching stderr would see."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=150, color_system=None)
    monkeypatch.setattr(common, "show_progress", lambda: True)
    monkeypatch.setattr(common, "stderr", console)
    return screen


def test_no_bar_when_nobody_watches(tmp_path: Path) -> None:
    args = ["nowcast", str(ARTICLE), "--observations", str(OBSERVED), "--particles", "16"]
    r = runner.invoke(app, [*args, "--at", "10"])
    assert r.exit_code == 0, r.output
    assert "times" not in r.stderr and "━" not in r.stderr


def test_nowcast_shows_its_times(terminal: io.StringIO) -> None:
    args = ["nowcast", str(ARTICLE), "--observations", str(OBSERVED), "--particles", "16"]
    r = runner.invoke(app, [*args, "--at", "10", "--at", "60"])
    assert r.exit_code == 0, r.output
    assert "nowcast of" in terminal.getvalue() and "2/2 times" in terminal.getvalue()


def test_calibrate_shows_its_design_points(terminal: io.StringIO, tmp_path: Path) -> None:
    args = ["calibrate", str(ARTICLE), "--observations", str(OBSERVED), "--points", "4"]
    args += ["--particles", "16", "--param", "agents.employees.rule.resistance=0.3:0.6"]
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "cal")])
    assert r.exit_code == 0, r.output
    assert "4/4 design points" in terminal.getvalue()


def test_gallery_shows_its_steps(terminal: io.StringIO, tmp_path: Path) -> None:
    bench = ROOT / "scenarios" / "bench_770.yaml"
    args = ["gallery", "--scenario", str(bench), "--quick", "-n", "8", "--jobs", "1"]
    r = runner.invoke(app, [*args, "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    screen = terminal.getvalue()
    # one run, 4 + 9 sweep points, three variants (as is, toner immovable, impatient altman),
    # and 4 Morris trajectories over its two per-replicate distributions: 4 x (2 + 1) points
    assert "gallery of" in screen and "29/29 steps" in screen
    assert "sensitivity (Morris)" in screen
    assert "sweep: sweep_heatmap" in screen


def test_plot_of_a_scenario_file_shows_its_run(terminal: io.StringIO, tmp_path: Path) -> None:
    args = ["plot", "outcomes", str(TINY), "-n", "2048", "--out", str(tmp_path)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "2048/2048 replicates" in terminal.getvalue()
