"""The shipped forecast files: valid, paired with their observations, every prior explained.

These check the files' form, never their numbers against the known endings.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.observations import check_against, load_observations
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
FORECASTS = sorted((ROOT / "scenarios").glob("*.forecast.yaml"))


def test_there_are_forecast_files() -> None:
    assert FORECASTS, "no scenarios/*.forecast.yaml"


@pytest.mark.parametrize("path", FORECASTS, ids=lambda p: p.name)
def test_a_forecast_has_its_observations_file_naming_it(path: Path) -> None:
    obs_path = path.with_name(path.name.replace(".yaml", ".observations.yaml"))
    obs, located = load_observations(obs_path)
    assert obs.scenario == path.name
    check_against(obs, located, load_scenario(path))


@pytest.mark.parametrize("path", FORECASTS, ids=lambda p: p.name)
def test_every_uncertain_switch_or_event_says_what_its_prior_rests_on(path: Path) -> None:
    """A line with `probability:` carries a comment, and a `prior:` comment precedes it."""
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if re.search(r"\bprobability:", line):
            assert "#" in line, f"{path.name}:{i + 1} has no comment"
            above = "\n".join(lines[max(0, i - 12) : i])
            assert "# prior:" in above, f"{path.name}:{i + 1}: no '# prior:' comment above it"
