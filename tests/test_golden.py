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
    "openai_2023_11.forecast": 1300,
    "uk_2022_07": 1300,
    "uk_2022_07.forecast": 1300,
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


#: Every shipped scenario at -n 1300 (two whole blocks and a partial one), run
#: at several internal batch sizes: the batch must never change a result. The
#: board's population is shrunk so that its three blocks stay quick.
BATCH_CASES: dict[str, list[str]] = {
    "openai_2023_11": [],
    "bench_770": [],
    "union_strike": [],
    "five_member_board": ["agents.shareholders.size=300"],
}
BATCH_REPLICATES = 1300
#: blocks per batch: one (each block alone, as before batches) and the default
BATCH_SIZES = (1, None)


def compute_batched(
    name: str, jobs: int, batch_blocks: int | None, record: bool = False
) -> dict[str, Any]:
    """Digests of a -n 1300 run; ``batch_blocks=None`` leaves the runner's default."""
    import sim

    scenario = sim.load_scenario(ROOT / "scenarios" / f"{name}.yaml", BATCH_CASES[name])
    knob = {} if batch_blocks is None else {"batch_blocks": batch_blocks}
    res = sim.run(scenario, BATCH_REPLICATES, seed=SEED, jobs=jobs, record=record, **knob)
    out: dict[str, Any] = {
        k: _digest(getattr(res, k))
        for k in ("outcome", "time", "switch_time", "final_pos", "half_time", "final_fraction")
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


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("batch_blocks", BATCH_SIZES)
@pytest.mark.parametrize("name", sorted(BATCH_CASES))
def test_golden_results_whatever_the_batch(name: str, batch_blocks: int | None, jobs: int) -> None:
    got = compute_batched(name, jobs, batch_blocks)
    assert got == _golden("batches")[name]


@pytest.mark.parametrize("batch_blocks", [1, 2])
def test_golden_trajectories_whatever_the_batch(batch_blocks: int) -> None:
    got = compute_batched("openai_2023_11", 1, batch_blocks, record=True)
    assert got == _golden("batches")["openai_2023_11.trajectories"]


def compute_evidence() -> dict[str, Any]:
    """A trace, a nowcast, a sweep table and a calibration of the article, all seeded."""
    import sim
    from sim.calibrate import calibrate
    from sim.nowcast import nowcast
    from sim.observations import load_observations
    from sim.runner import trace_replicate

    scenario = sim.load_scenario(ROOT / "scenarios" / "openai_2023_11.yaml")
    obs, _ = load_observations(ROOT / "scenarios" / "openai_2023_11.observations.yaml")
    lines, _ = trace_replicate(scenario, SEED, 700)
    now = nowcast(scenario, obs, at=70, particles=512, seed=SEED)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        table = sim.sweep(
            scenario,
            {"agents.toner.rules.0.resistance": "0.6:0.9:3"},
            out=Path(tmp) / "s",
            replicates=128,
            seed=SEED,
        )
        rows = table.sort_by("point").to_pylist()
    bounds = {"agents.employees.rule.resistance": (0.3, 0.6)}
    cal = calibrate(scenario, obs, bounds, points=6, particles=128, seed=SEED)
    return {
        "trace": lines,
        "nowcast": {"probabilities": now.probabilities, "resamples": now.resamples},
        "sweep": [
            {k: None if v != v else v for k, v in r.items() if isinstance(v, int | float)}
            for r in rows  # NaN as None: NaN never equals itself
        ],
        "calibration": {
            "mean": cal.posterior_mean(),
            "log_likelihood": [float(x) for x in cal.log_likelihood],
        },
    }


def test_golden_trace_nowcast_sweep_and_calibration() -> None:
    assert compute_evidence() == _golden("openai_2023_11.evidence")


def _write_batches() -> None:
    # written once by the engine before batches (each block alone), then never again
    out = {name: compute_batched(name, 1, None) for name in BATCH_CASES}
    out["openai_2023_11.trajectories"] = compute_batched("openai_2023_11", 1, None, record=True)
    (GOLDEN / "batches.json").write_text(json.dumps(out, indent=1) + "\n")


def _write() -> None:
    GOLDEN.mkdir(exist_ok=True)
    _write_batches()
    for name, n in CASES.items():
        (GOLDEN / f"{name}.json").write_text(json.dumps(compute(name, n, 1), indent=1) + "\n")
    traj = compute("openai_2023_11", 600, 1, record=True)
    (GOLDEN / "openai_2023_11.trajectories.json").write_text(json.dumps(traj, indent=1) + "\n")
    evidence = json.dumps(compute_evidence(), indent=1)
    (GOLDEN / "openai_2023_11.evidence.json").write_text(evidence + "\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-batches"]:
        _write_batches()
    elif sys.argv[1:] == ["--write"]:
        _write()
    elif sys.argv[1:2] == ["--write-new"]:
        # a newly shipped scenario's golden, leaving every other one as it is
        for name in sys.argv[2:]:
            text = json.dumps(compute(name, CASES[name], 1), indent=1) + "\n"
            (GOLDEN / f"{name}.json").write_text(text)
    else:
        sys.exit("usage: tests/test_golden.py --write | --write-batches | --write-new NAME...")
