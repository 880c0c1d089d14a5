"""Sweep throughput (jobs 1, 2, dask local) and memory over a 100,000-point sweep.

    python benchmarks/bench_sweep.py throughput [--points 48]
    python benchmarks/bench_sweep.py memory [--points 100000]

``throughput`` runs a slice of the article sweep (Toner's resistance against
the employees' mean threshold, 512 replicates per point) with each executor
and prints points/s and replicates/s. ``memory`` runs a large random sweep of
``benchmarks/tiny.yaml`` at 4 replicates per point with 2 jobs in a child
process and prints the resident memory of the whole process tree as the
points accumulate: it should stay flat.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def throughput(points: int) -> None:
    import sim
    from sim import sweep

    base = sim.load_scenario(ROOT / "scenarios" / "openai_2023_11.yaml")
    side = int(points**0.5)
    params = {
        "agents.toner.rules.0.resistance": f"0.6:0.95:{side}",
        "agents.employees.rule.resistance": f"0.3:0.6:{points // side}",
    }
    print(f"article sweep, {side * (points // side)} points x 512 replicates")
    print(f"{'executor':<16}{'seconds':>9}{'points/s':>10}{'replicates/s':>14}")
    reference = None
    for label, kw in (
        ("jobs 1", {"jobs": 1}),
        ("jobs 2", {"jobs": 2}),
        ("dask local (2)", {"dask": "local", "jobs": 2}),
    ):
        out = Path(tempfile.mkdtemp()) / "s"
        t0 = time.perf_counter()
        table = sweep(base, params, out=out, seed=1, **kw)
        dt = time.perf_counter() - t0
        n = table.num_rows
        reps = sum(table.column("replicates").to_pylist())
        print(f"{label:<16}{dt:>9.2f}{n / dt:>10.1f}{reps / dt:>14,.0f}")
        rows = table.to_pylist()
        if reference is None:
            reference = rows
        elif rows != reference:
            print("  !! results differ from jobs 1")
        shutil.rmtree(out.parent)


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants, from /proc."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * 4096
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 2**20


def memory(points: int) -> None:
    out = Path(tempfile.mkdtemp()) / "s"
    cmd = [
        sys.executable,
        "-m",
        "sim",
        "sweep",
        str(ROOT / "benchmarks" / "tiny.yaml"),
        "--param",
        "agents.a.rules.0.rate=0.01:0.5",
        "--param",
        "agents.b.rules.0.resistance=0:1",
        "--sampler",
        "random",
        "--points",
        str(points),
        "-n",
        "4",
        "--seed",
        "1",
        "--jobs",
        "2",
        "--out",
        str(out),
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = []
    while proc.poll() is None:
        done = sum(1 for _ in (out / ".journal").glob("*.jsonl")) if out.exists() else 0
        parts = len(list((out / "points").glob("*.parquet"))) if (out / "points").exists() else 0
        samples.append((time.perf_counter() - t0, _tree_rss_mb(proc.pid), parts, done))
        time.sleep(2)
    dt = time.perf_counter() - t0
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        print(stderr)
        raise SystemExit(proc.returncode)
    print(stdout.strip())
    print(
        f"{points} points x 4 replicates (512 simulated per point: one block), 2 jobs: {dt:.0f} s, "
        f"{points / dt:.0f} points/s"
    )
    print(f"{'elapsed s':>10}{'tree RSS MB':>13}{'parts written':>15}")
    step = max(1, len(samples) // 12)
    for t, rss, parts, _ in samples[::step]:
        print(f"{t:>10.0f}{rss:>13.0f}{parts:>15}")
    rss = [s[1] for s in samples[len(samples) // 10 : -1] if s[1] > 0]
    if rss:
        print(f"RSS after the first 10% of the time: min {min(rss):.0f} MB, max {max(rss):.0f} MB")
    shutil.rmtree(out.parent)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("what", choices=["throughput", "memory"])
    ap.add_argument("--points", type=int)
    args = ap.parse_args()
    if args.what == "throughput":
        throughput(args.points or 48)
    else:
        memory(args.points or 100_000)


if __name__ == "__main__":
    main()
