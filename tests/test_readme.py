"""The README's tour shows what the program prints.

Every ``console`` block of the README that starts with ``$ stancesim run`` or
``$ stancesim trace`` is run again: a ``run`` block must match line for line
(trailing spaces aside), a ``trace`` block (which leaves lines out) must be an
in-order subsequence of the output.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli import app

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"```console\n\$ (stancesim (?:run|trace) [^\n]*)\n(.*?)```", re.S)


def _blocks() -> list[tuple[str, list[str]]]:
    text = (ROOT / "README.md").read_text()
    return [(cmd, out.rstrip("\n").split("\n")) for cmd, out in BLOCK.findall(text)]


def _run(cmd: str) -> list[str]:
    args = shlex.split(cmd)[1:]
    # rich wraps at the terminal's width: the README's blocks are 100 wide
    res = CliRunner().invoke(app, args, env={"COLUMNS": "100"}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return [line.rstrip() for line in res.stdout.rstrip("\n").split("\n")]


def test_readme_has_a_tour() -> None:
    kinds = {cmd.split()[1] for cmd, _ in _blocks()}
    assert kinds == {"run", "trace"}


@pytest.mark.parametrize("cmd,shown", _blocks(), ids=[c for c, _ in _blocks()])
def test_readme_block_is_what_the_program_prints(cmd: str, shown: list[str], monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    got = _run(cmd)
    shown = [line.rstrip() for line in shown]
    if cmd.split()[1] == "run":
        assert got == shown
    else:
        it = iter(got)
        missing = [line for line in shown if not any(line == g for g in it)]
        assert not missing, f"README lines not printed (in this order): {missing}"
