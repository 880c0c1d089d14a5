"""Memory estimates of populations kept person by person and on graphs.

Two checks per construct (several rules, per-person parameters, segments, a
graph drawn once, a graph per replicate):

- the state a block keeps for the run (positions, stances, per-person values,
  graphs) is estimated within 5% of the ``nbytes`` of the arrays the engine
  actually holds after set-up;
- the peak of a whole block, traced with tracemalloc, is within a factor 1.5
  of :func:`sim.budget.batch_bytes` (the tolerance of ``test_budget.py``).
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pytest

import sim
from sim import budget
from sim.engine import BlockState, simulate_block
from sim.plan import compile_plan
from sim.runner import BLOCK_SIZE, block_rng

LOGISTIC = {
    "kind": "logistic",
    "to": "signed",
    "pressure": "p",
    "resistance": {"uniform": [0.2, 0.8]},
    "rate": 0.05,
    "slope": 8,
}
THRESHOLD = {
    "kind": "threshold",
    "to": "signed",
    "support": "p",
    "threshold": {"uniform": [0.2, 0.8]},
    "spontaneous": 0.01,
}
LEAVE = {
    "kind": "hazard",
    "to": "left",
    "pressure": "q",
    "resistance": 0.05,
    "rate": {"uniform": [0.1, 0.3]},
    "per_person": ["rate"],
}
WS = {"generator": "watts_strogatz", "params": {"k": 10, "p": 0.1}, "graph_seed": 1}
FRESH = {
    "generator": "watts_strogatz",
    "params": {"k": 10, "p": 0.1},
    "fresh_graph_per_replicate": True,
}
SEGMENTS = {"a": {"size": 1200, "rules": [THRESHOLD, LEAVE]}, "b": {"size": 800}}
CASES: dict[str, tuple[list[dict[str, Any]], Any, int, Any]] = {
    "threshold_index": ([THRESHOLD], None, 1000, None),
    "threshold_search": ([THRESHOLD], None, 4000, None),
    "several_rules": ([THRESHOLD, LEAVE], None, 2000, None),
    "segments": ([LOGISTIC], None, 2000, SEGMENTS),
    "graph_one_rule": ([LOGISTIC], WS, 2000, None),
    "graph_threshold": ([THRESHOLD], WS, 2000, None),
    "graph_several_rules": ([THRESHOLD, LEAVE], WS, 2000, None),
    "graph_per_replicate": ([LOGISTIC], FRESH, 300, None),
}  # fmt: skip


def _scenario(name: str) -> sim.Scenario:
    rules, network, size, segments = CASES[name]
    pop: dict[str, Any] = {
        "kind": "population",
        "size": size,
        "positions": ["silent", "signed", "left"],
        "initial": "silent",
    }
    pop.update({"rule": rules[0]} if len(rules) == 1 else {"rules": rules})
    if network is not None:
        pop["network"] = network
    if segments is not None:
        pop["segments"] = segments
    return sim.scenario_from_dict({
        "kind": "scenario", "name": name, "clock": {"horizon": 3},
        "agents": {"staff": pop},
        "signals": {"p": [{"fraction": "staff", "position": "signed", "weight": 0.5},
                          {"constant": 0.3}],
                    "q": [{"fraction": "staff", "position": "left", "weight": 0.5},
                          {"constant": 0.1}]},
        "outcomes": {"never": {"trigger": {"kind": "condition",
                                           "condition": {"signal": "p", "at_least": 5}}}},
    })  # fmt: skip


def _rows(name: str) -> int:
    """A block's rows; fewer with a graph per replicate (each drawn by networkx)."""
    return 96 if name == "graph_per_replicate" else BLOCK_SIZE


def _nbytes(obj: Any, seen: set[int]) -> int:
    """Bytes of every array an engine object holds (sparse matrices and segments included)."""
    if isinstance(obj, np.ndarray):
        while isinstance(obj.base, np.ndarray):  # a view holds its base's memory, once
            obj = obj.base
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if hasattr(obj, "indptr"):
        return sum(_nbytes(getattr(obj, k), seen) for k in ("data", "indices", "indptr"))
    if isinstance(obj, dict):
        return sum(_nbytes(v, seen) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(_nbytes(v, seen) for v in obj)
    if hasattr(obj, "__dict__") and type(obj).__module__.startswith(("sim.engine", "sim.thresh")):
        return sum(_nbytes(v, seen) for k, v in vars(obj).items() if k != "spec")
    return 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_kept_state_is_estimated_within_five_percent_of_the_arrays(name: str) -> None:
    sc = _scenario(name)
    state = BlockState(compile_plan(sc), block_rng(1, 0), _rows(name))
    held = _nbytes(state.populations[0], set())
    estimate = budget.kept_bytes(sc, _rows(name))
    assert held > 5e5  # per-person arrays are there: the check can fail
    assert abs(estimate - held) <= 0.05 * held, (estimate, held)


@pytest.mark.parametrize("name", sorted(CASES))
def test_block_estimate_is_within_a_factor_one_and_a_half_of_the_traced_peak(name: str) -> None:
    sc = _scenario(name)
    simulate_block(compile_plan(sc), block_rng(1, 0), 8)  # the graph drawn once is cached
    tracemalloc.start()
    try:
        simulate_block(compile_plan(sc), block_rng(1, 0), _rows(name))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = budget.batch_bytes(sc, _rows(name)) - budget.graph_bytes(sc)  # cached: not traced
    assert peak / 1.5 <= estimate <= 1.5 * peak, (estimate, peak)


def test_the_graph_drawn_once_is_counted_once_per_process() -> None:
    sc = _scenario("graph_one_rule")
    population: Any = BlockState(compile_plan(sc), block_rng(1, 0), 4).populations[0]
    matrix = population.matrix
    held = matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes
    assert held <= budget.graph_bytes(sc) <= 1.5 * held
    # once per block, not per replicate: twice the rows, the graph still once
    twice = budget.batch_bytes(sc, 2 * BLOCK_SIZE)
    assert 2 * budget.batch_bytes(sc, BLOCK_SIZE) - twice == budget.graph_bytes(sc)
