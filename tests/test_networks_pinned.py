"""Network populations' numbers, pinned: a faster step must give them bit for bit.

Each case's per-replicate arrays were hashed with the straightforward step
(every person's probability computed every tick) before the step learnt to
compute only where a uniform can still move someone. The cases cover what
that shortcut depends on: irreversible and reversible rules, hazard and
logistic, per-person and per-replicate resistances, a tick of half an hour
(``per_tick`` is not the identity), a drawn rate, an event changing every
person's resistance, fresh graphs per replicate, and threshold rules.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest

import sim

WS = {"generator": "watts_strogatz", "params": {"k": 6, "p": 0.1}, "graph_seed": 3}
LOGISTIC = {
    "kind": "logistic",
    "to": "signed",
    "pressure": "support",
    "resistance": {"uniform": [0.1, 0.6]},
    "rate": 0.3,
    "slope": 8,
}
HAZARD = {
    "kind": "hazard",
    "to": "signed",
    "pressure": "support",
    "resistance": {"uniform": [0.0, 0.4]},
    "rate": 0.4,
}
THRESHOLD = {
    "kind": "threshold",
    "to": "signed",
    "support": "support",
    "threshold": {"uniform": [0.0, 0.7]},
}
CHANGE = {
    "amnesty": {
        "trigger": {"kind": "at", "time": 6},
        "effects": [{"kind": "change", "agent": "staff", "param": "resistance", "scale": 0.5}],
    }
}

CASES: dict[str, tuple[dict[str, Any], dict[str, Any], float]] = {
    "logistic": (LOGISTIC, WS, 1.0),
    "logistic_half_hour": (LOGISTIC, WS, 0.5),
    "logistic_one_resistance": (dict(LOGISTIC, resistance=0.3), WS, 0.5),
    "logistic_drawn_rate": (dict(LOGISTIC, rate={"uniform": [0.05, 1.0]}), WS, 1.0),
    "logistic_reversible": (dict(LOGISTIC, reversible=True), WS, 0.5),
    "logistic_fresh": (LOGISTIC, {**WS, "graph_seed": None, "fresh_graph_per_replicate": True},
                       1.0),
    "hazard": (HAZARD, WS, 1.0),
    "hazard_reversible_half_hour": (dict(HAZARD, reversible=True), WS, 0.5),
    "threshold_spontaneous": (dict(THRESHOLD, spontaneous=0.02), WS, 1.0),
    "threshold_reversible": (dict(THRESHOLD, reversible=True), WS, 1.0),
}  # fmt: skip

PINNED = {
    "logistic": "eedd5779808546e72d040a55",
    "logistic_half_hour": "305ad1e4d11899b60b205494",
    "logistic_one_resistance": "42e7fce0124b5b5ec9b1be33",
    "logistic_drawn_rate": "9347c58a176e49e4210ee937",
    "logistic_reversible": "491308f835075307c5ce675b",
    "logistic_fresh": "0e83e14952aaffdd26ef8146",
    "hazard": "329f0f9c50dc51799b753521",
    "hazard_reversible_half_hour": "da94e90c74f183aae28f6577",
    "threshold_spontaneous": "ae821072925b71d3e7bf55e3",
    "threshold_reversible": "4f1694862da67cd2ddf220f6",
}


def _scenario(rule: dict[str, Any], network: dict[str, Any], tick: float) -> Any:
    network = {k: v for k, v in network.items() if v is not None}
    data: dict[str, Any] = {
        "kind": "scenario",
        "name": "pinned",
        "clock": {"tick": tick, "horizon": 24},
        "agents": {
            "staff": {"kind": "population", "size": 150, "positions": ["silent", "signed"],
                      "initial": "silent", "network": network, "rule": rule},
            "news": {"kind": "source", "curve": {"kind": "ramp", "end": 24, "end_value": 0.5}},
        },
        "signals": {"support": [{"fraction": "staff", "position": "signed", "weight": 0.7},
                                {"curve": "news", "weight": 0.5}]},
        "outcomes": {"half": {"trigger": {"kind": "condition", "condition": {
            "signal": "support", "at_least": 0.6}}}},
    }  # fmt: skip
    if rule.get("kind") != "threshold":
        data["events"] = CHANGE
    return sim.scenario_from_dict(data)


def digest(name: str) -> str:
    """One hash of the case's outcomes, times, half-times and final shares."""
    res = sim.run(_scenario(*CASES[name]), 600, seed=13)
    h = hashlib.sha256()
    for k in ("outcome", "time", "half_time", "final_fraction"):
        arr = np.ascontiguousarray(np.asarray(getattr(res, k)))
        h.update(arr.astype("<f8" if arr.dtype.kind == "f" else "<i8").tobytes())
    return h.hexdigest()[:24]


@pytest.mark.parametrize("name", sorted(CASES))
def test_network_results_are_pinned(name: str) -> None:
    assert digest(name) == PINNED[name]


if __name__ == "__main__":  # print the pins (only when the step's numbers change on purpose)
    for case in CASES:
        print(f'    "{case}": "{digest(case)}",')
