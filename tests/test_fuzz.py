"""A seeded sample of the bad-input corpus (``benchmarks/fuzz.py``), one test per mutation.

Each mutated shipped file must give a located error (exit 2, ``file:line``,
no traceback) or a valid run. The full corpus runs in child processes with a
timeout and a memory limit (``python benchmarks/fuzz.py``); here the sample
runs in this process, each case under an alarm so that a hang fails the test.
"""

from __future__ import annotations

import random
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import fuzz

# five_member_board is left out: its 16-replicate run computes a whole 512-replicate
# block and takes minutes on a loaded machine.
CORPUS = fuzz.mutations()  # seconds to build: once
SAMPLE = [
    m
    for m in random.Random(9).sample(CORPUS, 90)  # as fuzz.sample(seed=9, limit=90)
    if m.kind != "sweep" and m.base != "five_member_board.yaml"
][:60]
# Every mutation of the sweep file (under 80): fuzz.py shrinks its grid to 8 points of
# 16 replicates, so a valid one runs in about a second and a refused one at once.
SAMPLE += [m for m in CORPUS if m.kind == "sweep"]
CASE_SECONDS = 20


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    path = fuzz.workspace()
    yield path
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _alarm(signum: int, frame: object) -> None:
    raise TimeoutError(f"a mutation took over {CASE_SECONDS} s")


@pytest.mark.parametrize("m", SAMPLE, ids=[f"{m.base}:{m.label}"[:90] for m in SAMPLE])
def test_mutation_is_refused_with_a_location_or_runs(m: fuzz.Mutation, workdir: Path) -> None:
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_SECONDS)
    try:
        result, detail = fuzz.check_in_process(m, workdir)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert result in ("located", "valid"), f"{result}: {detail}"
