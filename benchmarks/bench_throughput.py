"""Throughput of stancesim on bench-770 against two hand-written references, in one run.

Each implementation runs in its own child process (so that memory peaks are
its own), several times; the figures are medians. Prints replicates/s, the
ratios, P(return) with its 95% Wilson interval (they must agree) and peak RSS.

    python benchmarks/bench_throughput.py [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests"), str(ROOT)]


def child(impl: str, n: int, seed: int, n_emp: int) -> None:
    """Run one implementation and print its figures as JSON."""
    import numpy as np

    t0 = time.perf_counter()
    if impl == "stancesim":
        import sim

        sets = [] if n_emp == 770 else [f"agents.employees.size={n_emp}"]
        res = sim.run(sim.load_scenario(ROOT / "scenarios" / "bench_770.yaml", sets), n, seed=seed)
        outcome = res.outcome
    elif impl == "simpy":
        import handwritten_simpy

        outcome = handwritten_simpy.run(n, seed, n_emp)
    else:
        from reference_bench770 import bench770

        outcome = np.concatenate(
            [bench770(min(1000, n - i), seed + i, n_emp)["outcome"] for i in range(0, n, 1000)]
        )
    elapsed = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "returns": int((outcome == 0).sum()),
                "n": int(outcome.size),
                "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def measure(impl: str, n: int, seed: int, repeats: int, n_emp: int = 770) -> dict:
    """Median figures of ``repeats`` child runs."""
    runs = []
    for r in range(repeats):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                impl,
                "-n",
                str(n),
                "--seed",
                str(seed + r),
                "--employees",
                str(n_emp),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout))
    rate = statistics.median(r["n"] / r["seconds"] for r in runs)
    returns = sum(r["returns"] for r in runs)
    total = sum(r["n"] for r in runs)
    return {
        "rate": rate,
        "p": returns / total,
        "n": total,
        "maxrss_mb": max(r["maxrss_mb"] for r in runs),
        "seconds": statistics.median(r["seconds"] for r in runs),
    }


def wilson(k: int, n: int) -> tuple[float, float]:
    from sim.stats import wilson_interval

    return wilson_interval(k, n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--child")
    ap.add_argument("-n", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--employees", type=int, default=770)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer replicates (a smoke run)")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.n, args.seed, args.employees)
        return
    scale = 0.1 if args.quick else 1.0
    sizes = {
        "simpy": int(2000 * scale),
        "numpy": int(10000 * scale),
        "stancesim": int(20000 * scale),
    }
    results = {impl: measure(impl, n, 100, args.repeats) for impl, n in sizes.items()}
    print(f"bench-770, {args.repeats} runs each (median), one process each, this machine")
    head = f"{'implementation':<34}{'replicates/s':>14}{'ratio':>8}{'P(return)':>11}"
    print(f"{head}  {'95% CI':<17}{'peak RSS':>10}")
    labels = {
        "simpy": "hand-written SimPy (1 env/replicate)",
        "numpy": "numpy across replicates (literal)",
        "stancesim": "stancesim run bench_770.yaml",
    }
    base = results["simpy"]["rate"]
    for impl, r in results.items():
        lo, hi = wilson(round(r["p"] * r["n"]), r["n"])
        print(
            f"{labels[impl]:<34}{r['rate']:>14,.0f}{r['rate'] / base:>7.1f}x{r['p']:>11.3f}  "
            f"[{lo:.3f}, {hi:.3f}]  {r['maxrss_mb']:>7.0f} MB"
        )
    whole = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        subprocess.run(
            [
                "stancesim",
                "run",
                str(ROOT / "scenarios" / "bench_770.yaml"),
                "-n",
                str(int(10000 * scale)),
                "--seed",
                "1",
                "--json",
            ],
            capture_output=True,
            check=True,
        )
        whole.append(time.perf_counter() - t0)
    t = statistics.median(whole)
    n10 = int(10000 * scale)
    print(
        f"whole process: `stancesim run scenarios/bench_770.yaml -n {n10}` {t:.2f} s (median), "
        f"{n10 / t:,.0f} replicates/s, {n10 / t / base:.1f}x hand-written SimPy"
    )


if __name__ == "__main__":
    main()
