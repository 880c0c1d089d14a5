"""``stancesim validate`` and ``schema`` load only what they need (issue 14, item 4).

The time itself is measured by ``benchmarks/bench_startup.py`` (tests never race
the clock); here the modules that made it slow must stay out of those commands.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT

HEAVY = (
    "rich",
    "pyarrow",
    "matplotlib",
    "scipy",
    "pandas",
    "dask",
    "simpy",
    "sim.engine",
    "sim.runner",
    "sim.sweep",
)


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "scenarios/bench_770.yaml"],
        ["schema"],
        ["validate", "tests/bad/probability.yaml"],
    ],
    ids=["validate", "schema", "validate-bad"],
)
def test_command_leaves_heavy_modules_unloaded(argv: list[str]) -> None:
    code = (
        "import sys\n"
        f"sys.argv = ['stancesim', *{argv!r}]\n"
        "from sim._entry import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_the_whole_interface_still_lists_every_command() -> None:
    from typer.testing import CliRunner

    from sim.cli import COMMANDS, app

    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.stdout
    typo = CliRunner().invoke(app, ["valdate", "x.yaml"])
    assert typo.exit_code == 2
    assert "Did you mean 'validate'" in typo.output


@pytest.mark.parametrize(
    ("setting", "scanned"),
    [(None, False), ("", True), ("some_plugin", True)],
    ids=["default", "re-enabled", "user's-own"],
)
def test_pydantic_plugins_are_not_looked_for_unless_the_user_says(
    setting: str | None, scanned: bool
) -> None:
    # pydantic reads the entry points of every installed distribution to find its
    # plugins when it builds a first validator (about 30 ms); the console script
    # turns that off, as typer does for its parameters, unless the variable is set
    code = (
        "import importlib.metadata as m, os, sys\n"
        "seen = []\n"
        "real = m.distributions\n"
        "def distributions(*a, **k):\n"
        "    seen.append(1)\n"
        "    return real(*a, **k)\n"
        "m.distributions = distributions\n"
        "sys.argv = ['stancesim', 'validate', 'scenarios/bench_770.yaml']\n"
        "from sim._entry import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(bool(seen), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if setting is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = setting
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True
    )
    assert done.stderr.strip().splitlines()[-1] == str(scanned)
