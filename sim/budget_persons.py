"""Memory of populations kept person by person and of graphs (part of :mod:`sim.budget`).

Bytes per member and replicate of each way the engine keeps a population
(counts, sorted thresholds, per-person resistances, several rules person by
person, a graph), split into what a block keeps for the whole run and what
one tick allocates on top of it.
"""

from __future__ import annotations

import math
from typing import Any

from sim.distributions import Choice, is_random
from sim.scenario import Population, Scenario, ThresholdRule
from sim.thresholds import index_bytes

#: Bytes per member of a population and row: per-person resistances with the
#: per-tick probability arrays made from them (hazard/logistic with a
#: distribution), or sorted thresholds (threshold rules; ``choice`` draws
#: indices first). 40 since the engine builds the back-switch probability only
#: for reversible rules (traced peak: 34 MB for 512 x 2,000 members).
_DENSE, _THRESHOLD, _THRESHOLD_CHOICE = 40, 8, 16
#: Bytes per member and row that stay for the whole run (resistance and stance,
#: or the sorted thresholds): a nowcast's resampling copies them.
KEPT = 9
#: Person by person (several rules, per-person parameters of any rule, and
#: every population on a graph): bytes per member and row of the state kept for
#: the run (a position, a stance, each per-person value) and of one tick's
#: arrays on top of it. Measured with tracemalloc on 512 rows x 2,000 members
#: (``tests/test_budget_structure.py`` compares the kept part with the arrays'
#: ``nbytes``, the whole with the traced peak): position (int16) 2, stance 1,
#: a value 8; a tick of several rules copies the positions and holds one
#: rule's uniforms and probabilities (29 measured); one rule on a graph, the
#: float32 stances and neighbour counts and the drive (17-26 measured);
#: several rules on a graph, each rule's drive per person (8) and, while the
#: drives are made, each position's share among neighbours (8) and the float32
#: marks and counts of one position (12).
_POSITION, _STANCE, _VALUE = 2, 1, 8
_PERSONS_STEP, _NETWORK_STEP, _SHARE, _MARKS, _RULE_DRIVE = 32, 24, 8, 12, 8
#: Bytes per stored entry of a graph's CSR matrix (float32 value, int64
#: column) and per person (int64 row pointer, degree and its floor at 1).
_EDGE, _NODE = 12, 24
#: A graph per replicate (``fresh_graph_per_replicate``) is kept twice: as
#: drawn, and stacked into the batch's block-diagonal matrix, built from int64
#: coordinates (bytes per entry while it is built; 32 measured).
_FRESH_BUILD = 32


def _classic(rules: list[Any], initial: str, population_initial: str) -> bool:
    """Whether one rule is kept in counts or one per-person array (as the plan decides)."""
    from sim.plan_populations import _classic as classic  # the plan's own test

    return classic(rules, initial, population_initial)


def _values(rules: list[Any]) -> int:
    """Per-person values of a part advanced person by person (as the plan draws them)."""
    count = 0
    for rule in rules:
        if getattr(rule, "kind", "fixed") == "fixed":
            continue
        listed = set(rule.per_person or ())
        if isinstance(rule, ThresholdRule):
            listed.add("threshold")
        elif is_random(rule.resistance):
            listed.add("resistance")
        count += len(listed)
    return count


def _part_bytes(a: Population, initial: str, rules: list[Any], size: int) -> tuple[int, int] | None:
    """``(kept, per tick)`` bytes per member and row of a population or segment of ``size``.

    ``None`` when it is kept as counts only.
    """
    moving = [r for r in rules if getattr(r, "kind", "fixed") != "fixed"]
    network = getattr(a, "network", None)
    if not moving:
        return None
    if _classic(rules, initial, a.initial):
        rule = rules[0]
        if network is not None:  # one rule on a graph: stance, the values, a threshold's bar
            threshold = isinstance(rule, ThresholdRule)
            values = _VALUE if threshold or is_random(rule.resistance) else 0
            return _STANCE + values, _NETWORK_STEP + (_VALUE if threshold else 0)
        if isinstance(rule, ThresholdRule):  # sorted thresholds (choice: indices drawn first)
            index = index_bytes(size)  # the bucket index's table, if it has one
            choice = _THRESHOLD_CHOICE - _THRESHOLD if isinstance(rule.threshold, Choice) else 0
            return _THRESHOLD + index, choice
        if is_random(rule.resistance):
            return KEPT, _DENSE - KEPT
        return None
    kept = _POSITION + _VALUE * _values(rules)
    if network is None:
        return kept, _PERSONS_STEP
    # each rule's drive per person lasts the tick; the shares among neighbours
    # (of every position a rule may read) only while the drives are made
    shares = _SHARE * len(a.positions) + _MARKS
    return kept, _RULE_DRIVE * len(moving) + max(shares, _PERSONS_STEP)


def per_person(a: Population) -> int | None:
    """Bytes per member and row, ``None`` when the population is kept as counts only."""
    parts = [(size, _part_bytes(a, initial, rules, size)) for _, size, initial, rules in a.parts()]
    if all(b is None for _, b in parts):
        return None
    total = sum(size * (b[0] + b[1]) for size, b in parts if b is not None)
    kept, built = fresh_bytes(a)
    return math.ceil(total / a.size) + kept + built


def kept_per_person(a: Population) -> int:
    """Bytes per member and row of the arrays kept for the whole run."""
    parts = [(size, _part_bytes(a, initial, rules, size)) for _, size, initial, rules in a.parts()]
    total = sum(size * b[0] for size, b in parts if b is not None)
    return math.ceil(total / a.size)


def _edges(a: Population) -> float:
    """About how many entries the population's graph puts in its matrix (each edge twice)."""
    from sim.scenario.schema_networks import expected_edges, read_edges, resolve

    network: Any = a.network
    if network is None:
        return 0.0
    if hasattr(network, "edges"):
        return 2.0 * len(read_edges(resolve(network.edges)).pairs)
    params = network.params.model_dump() if network.params is not None else {}
    return 2.0 * expected_edges(network.generator, params, a.size)


def fresh_bytes(a: Population) -> tuple[int, int]:
    """``(kept, at set-up)`` bytes per member and row of a graph drawn for every replicate."""
    if not getattr(a.network, "fresh_graph_per_replicate", False):
        return 0, 0
    degree = _edges(a) / a.size
    return math.ceil(2 * (_EDGE * degree + _NODE)), math.ceil(_FRESH_BUILD * degree)


def graph_bytes(sc: Scenario) -> int:
    """Bytes of the graphs drawn once per scenario (kept by every process that runs it)."""
    total = 0
    for a in sc.agents.values():
        if isinstance(a, Population) and a.network is not None:
            if not getattr(a.network, "fresh_graph_per_replicate", False):
                total += math.ceil(_EDGE * _edges(a) + _NODE * a.size)
    return total


def kept_bytes(sc: Scenario, rows: int) -> int:
    """Bytes of the per-person arrays a block of ``rows`` keeps for the run, graphs included.

    Positions, stances and per-person values of every population kept person
    by person, each replicate's own graph, and the graphs drawn once.
    """
    total = graph_bytes(sc)
    for a in sc.agents.values():
        if isinstance(a, Population) and per_person(a) is not None:
            total += rows * a.size * (kept_per_person(a) + fresh_bytes(a)[0])
    return total
