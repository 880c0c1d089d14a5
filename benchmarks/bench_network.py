"""Throughput of a population on a fixed graph: 10,000 people, mean degree 10, 168 hours.

    python benchmarks/bench_network.py [--replicates 512] [--repeats 3]

The issue's target is at least 20 replicates per second on one core. The
scenario (10,000 people on a
Watts-Strogatz graph, k = 10, p = 0.1, ``graph_seed: 7``) never ends early:
its outcome asks for a share no one reaches, so all 168 hourly ticks run for
every replicate. Four rules are timed: an irreversible threshold rule with
spontaneous switching (one uniform per person and tick), the same without
it, and a logistic and a hazard rule with per-person resistances (one
uniform per person and tick). Times are for
``sim.run(..., jobs=1)`` after a warm-up run (which builds the graph, kept
per process); the figure is the median over ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # measure this checkout, not whatever is installed

RULES: dict[str, dict[str, Any]] = {
    "threshold + spontaneous": {
        "kind": "threshold", "to": "signed", "support": "support",
        "threshold": {"uniform": [0.1, 0.9]}, "spontaneous": 0.001,
    },
    "threshold": {
        "kind": "threshold", "to": "signed", "support": "support",
        "threshold": {"uniform": [0.1, 0.9]},
    },
    "logistic, per-person resistance": {
        "kind": "logistic", "to": "signed", "pressure": "support",
        "resistance": {"uniform": [0.3, 0.9]}, "rate": 0.05, "slope": 10,
    },
    "hazard, per-person resistance": {
        "kind": "hazard", "to": "signed", "pressure": "support",
        "resistance": {"uniform": [0.0, 0.6]}, "rate": 0.05,
    },
}  # fmt: skip


def scenario(rule: dict[str, Any]) -> Any:
    import sim

    return sim.scenario_from_dict(
        {
            "kind": "scenario",
            "name": "network-bench",
            "clock": {"horizon": 168},
            "agents": {
                "staff": {
                    "kind": "population",
                    "size": 10_000,
                    "positions": ["silent", "signed"],
                    "initial": "silent",
                    "network": {
                        "generator": "watts_strogatz",
                        "params": {"k": 10, "p": 0.1},
                        "graph_seed": 7,
                    },
                    "rule": rule,
                },
                "news": {"kind": "source", "curve": {"kind": "ramp", "end": 168}},
            },
            "signals": {
                "support": [
                    {"fraction": "staff", "position": "signed", "weight": 0.8},
                    {"curve": "news", "weight": 0.3},
                ]
            },
            # a share no one reaches: every replicate runs all 168 ticks
            "outcomes": {
                "all": {
                    "trigger": {
                        "kind": "condition",
                        "condition": {"signal": "support", "above": 10},
                    }
                }
            },
        }
    )


def main() -> None:
    import sim

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", help="time only the rules whose name contains this")
    args = parser.parse_args()
    print(f"{args.replicates} replicates, 168 ticks, 10,000 people, WS k=10 p=0.1, jobs=1")
    for name, rule in RULES.items():
        if args.only is not None and args.only not in name:
            continue
        sc = scenario(rule)
        sim.run(sc, 8, seed=0, jobs=1)  # warm-up: builds and keeps the graph
        rates = []
        for k in range(args.repeats):
            t0 = time.perf_counter()
            res = sim.run(sc, args.replicates, seed=k + 1, jobs=1)
            rates.append(args.replicates / (time.perf_counter() - t0))
        share = float(res.final_fraction.mean())
        print(
            f"{name:34s} {statistics.median(rates):6.1f} replicates/s "
            f"(runs: {', '.join(f'{r:.1f}' for r in rates)}; mean final share {share:.2f})"
        )


if __name__ == "__main__":
    main()
