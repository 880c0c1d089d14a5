"""What a block leaves besides its results: one replicate's story, and per-tick history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]


class Tracer:
    """Collects the story of one replicate (row ``row``) of a block.

    Parameters
    ----------
    row : int
        The replicate's row in its block.
    timefmt : callable
        Formats a time in hours for the start of each line.
    """

    def __init__(self, row: int, timefmt: Callable[[float], str]) -> None:
        self.row = row
        self.timefmt = timefmt
        self.lines: list[str] = []

    def say(self, t: float, text: str) -> None:
        """Add a timestamped line."""
        self.lines.append(f"{self.timefmt(t)}  {text}")


@dataclass
class Recording:
    """Per-tick history of one block (only when trajectories are asked for).

    ``values[i]`` holds, for tick ``ticks[i]``, one row per replicate and one
    column per name in ``columns``; ``alive[i]`` says which replicates were
    still running (a replicate's last row is the tick it ended).
    """

    columns: list[str]
    ticks: list[float] = field(default_factory=list)
    values: list[Array] = field(default_factory=list)  # each (R, C)
    alive: list[Array] = field(default_factory=list)  # each (R,) bool

    def add(self, t: float, values: Array, active: Array) -> None:
        """Record tick ``t``; a second record at the same tick replaces the values."""
        if self.ticks and self.ticks[-1] == t:
            self.values[-1] = values
            self.alive[-1] = self.alive[-1] | active
            return
        self.ticks.append(t)
        self.values.append(values)
        self.alive.append(active.copy())

    def take(self, index: Array) -> None:
        """Keep rows ``index`` of every recorded tick."""
        self.values = [v[index] for v in self.values]
        self.alive = [a[index] for a in self.alive]
