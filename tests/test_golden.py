"""Golden results: same scenario + same seed = the same numbers, whatever ``--jobs``.

The goldens in ``tests/golden/`` hold, for each shipped scenario, a hash of
every per-replicate array and the summary's outcome and agent figures. They
change only on purpose, in their own commit, saying why (see CHANGELOG.md).
Regenerate them with ``python tests/test_golden.py --write``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
SEED = 20231117

#: scenario file -> replicates. 1300 = three blocks of 512, the last partial;
#: five_member_board is costly per block (5,000 per-person logistic rules), so
#: it takes part of one block.
CASES = {
    "openai_2023_11": 1300,
    "bench_770": 1300,
    "union_strike": 1300,
    "five_member_board": 100,
}


def _digest(a: Any) -> str:
    arr = np.ascontiguousarray(np.asarray(a))
    kind = "<f8" if arr.dtype.kind == "f" else "<i8"
    return hashlib.sha256(arr.astype(kind).tobytes()).hexdigest()


def compute(name: str, replicates: int, jobs: int, record: bool = False) -> dict[str, Any]:
    import sim

    scenario = sim.load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    res = sim.run(scenario, replicates, seed=SEED, jobs=jobs, record=record)
    s = res.summary()
    arrays = {
        k: _digest(getattr(res, k))
        for k in ("outcome", "time", "switch_time", "final_pos", "half_time", "final_fraction")
    }
    out: dict[str, Any] = {
        "scenario": name,
        "replicates": replicates,
        "seed": SEED,
        "arrays": arrays,
        "outcomes": s["outcomes"],
        "agents": s["agents"],
    }
    if record:
        assert res.trajectories is not None
        out["trajectories"] = {k: _digest(v) for k, v in sorted(res.trajectories.items())}
    return out


def _golden(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{name}.json").read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_results(name: str) -> None:
    got = compute(name, CASES[name], jobs=1)
    want = _golden(name)
    assert got["arrays"] == want["arrays"]
    assert got["outcomes"] == want["outcomes"]
    assert got["agents"] == want["agents"]


def test_golden_results_with_two_workers() -> None:
    got = compute("openai_2023_11", CASES["openai_2023_11"], jobs=2)
    assert got["arrays"] == _golden("openai_2023_11")["arrays"]


def test_golden_trajectories() -> None:
    got = compute("openai_2023_11", 600, jobs=1, record=True)
    assert got["trajectories"] == _golden("openai_2023_11.trajectories")["trajectories"]


def _write() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name, n in CASES.items():
        (GOLDEN / f"{name}.json").write_text(json.dumps(compute(name, n, 1), indent=1) + "\n")
    traj = compute("openai_2023_11", 600, 1, record=True)
    (GOLDEN / "openai_2023_11.trajectories.json").write_text(json.dumps(traj, indent=1) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_golden.py --write")
    _write()
