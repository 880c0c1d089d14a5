from __future__ import annotations

import copy
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))


def observations(*items: dict[str, Any]) -> Any:
    """An observations file (``kind: observations``) holding ``items``, validated."""
    from sim.observations import ObservationsFile

    return ObservationsFile.model_validate({"kind": "observations", "observations": list(items)})


def interruptible() -> None:
    """``preexec_fn`` of a child the test will interrupt: Ctrl-C's default action, as in a terminal.

    A shell starts background jobs with SIGINT ignored and children inherit
    that, so a suite run in the background would otherwise test nothing.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def board_scenario(
    resistances: list[float],
    rate: float,
    quorum: dict[str, Any],
    deadline: float,
    horizon: float = 200,
    pressure: float = 1.0,
    tick: float = 1.0,
) -> dict[str, Any]:
    """Members with constant hazards, a vote every tick, a fixed deadline."""
    agents: dict[str, Any] = {
        f"m{i}": {
            "kind": "individual",
            "positions": ["no", "yes"],
            "initial": "no",
            "rules": [
                {"kind": "hazard", "to": "yes", "pressure": "p", "resistance": r, "rate": rate}
            ],
        }
        for i, r in enumerate(resistances)
    }
    agents["board"] = {"kind": "group", "members": [f"m{i}" for i in range(len(resistances))]}
    return {
        "kind": "scenario",
        "name": "board",
        "clock": {"tick": tick, "horizon": horizon},
        "agents": agents,
        "signals": {"p": [{"constant": pressure}]},
        "decisions": {
            "vote": {
                "group": "board",
                "motion": "yes",
                "schedule": {"start": 0, "every": tick},
                "quorum": quorum,
            }
        },
        "outcomes": {
            "passed": {"trigger": {"kind": "decision", "decision": "vote"}},
            "deadline": {"trigger": {"kind": "deadline", "at": deadline}},
        },
    }


def poisson_binomial_tail(ps: list[float], k: int) -> float:
    """P(at least k successes) of independent Bernoulli(p_i), by dynamic programming."""
    dist = np.zeros(len(ps) + 1)
    dist[0] = 1.0
    for p in ps:
        dist[1:] = dist[1:] * (1 - p) + dist[:-1] * p
        dist[0] *= 1 - p
    return float(dist[k:].sum())


def z_tolerance(p: float, n: int, z: float = 3.29) -> float:
    """Half-width of the two-sided 99.9% normal interval of a proportion (plus a floor)."""
    return z * float(np.sqrt(max(p * (1 - p), 1e-12) / n)) + 1e-12


@pytest.fixture
def deep() -> Any:
    return copy.deepcopy
