"""Decisions, outcome triggers and time-triggered ops (part of :mod:`sim.ops`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim import votes as V
from sim.ops_base import Array, Condition, State
from sim.ops_effects import Effect


# ------------------------------------------------------------ decisions, outcomes
@dataclass(frozen=True, eq=False)
class DecisionOp:
    """A vote with member and position indices resolved; ``rule`` counts it (:mod:`sim.votes`)."""

    id: str
    index: int
    members: list[int]
    motion_idx: Array  # per member, -1 when the member has no such position
    absent_idx: list[list[int]]
    abstain_idx: list[list[int]]
    rule: V.VoteRule
    ticks: tuple[int, ...]  # scheduled votes (empty for a vote held on an event)
    on: int  # event index, -1 when scheduled

    def vote(self, s: State, due: Array) -> Array:
        """Rows where the motion passes (among ``due``); traces the traced row's vote."""
        pos = s.pos[:, self.members]
        abstaining, absent = _holding(pos, self.abstain_idx), _holding(pos, self.absent_idx)
        tally = self.rule.tally(pos == self.motion_idx, abstaining, absent)
        passed = due & tally.passed
        r = s.traced_row()
        if s.tracing and due[r]:
            s.say(due, f"vote {self.id}: {self.rule.describe(tally, r)}")
        return passed


def _holding(pos: Array, idx: list[list[int]]) -> Array | None:
    """Where member ``m`` holds one of the positions ``idx[m]`` (per row); None: nowhere."""
    if not any(i >= 0 for idxs in idx for i in idxs):
        return None
    out = np.zeros(pos.shape, dtype=bool)
    for m, idxs in enumerate(idx):
        for i in idxs:
            out[:, m] |= pos[:, m] == i
    return out


@dataclass(frozen=True, eq=False)
class OnDecision:
    """Outcome trigger: the decision passed at this tick."""

    decision: int

    def hit(self, s: State) -> Array:  # noqa: D102
        return s.passed_tick[self.decision] == s.k


@dataclass(frozen=True, eq=False)
class OnEvent:
    """Outcome trigger: the event happened at this tick."""

    event: int

    def hit(self, s: State) -> Array:  # noqa: D102
        return s.fired_tick[self.event] == s.k


@dataclass(frozen=True, eq=False)
class OnDeadline:
    """Outcome trigger: the replicate's deadline tick (in ``due[slot]``) is reached."""

    slot: int

    def hit(self, s: State) -> Array:  # noqa: D102
        return s.k >= s.due[self.slot]


@dataclass(frozen=True, eq=False)
class OnCondition:
    """Outcome trigger: a condition on signals holds."""

    holds: Condition

    def hit(self, s: State) -> Array:  # noqa: D102
        return self.holds(s)


Trigger = OnDecision | OnEvent | OnDeadline | OnCondition


# --------------------------------------------------------------- time-triggered
@dataclass(frozen=True, eq=False)
class EventOp:
    """An event: its trigger (exactly one of ``at_slot``, ``ticks``, ``when``) and effects."""

    id: str
    index: int
    flag: int
    label: str  # its trace line
    effects: tuple[Effect, ...]
    at_slot: int = -1  # ``at``: per-replicate tick in ``due[at_slot]``
    ticks: tuple[int, ...] = ()  # ``every``: the ticks it recurs at
    when: Condition | None = None  # ``when``: fires the tick after its condition first holds

    def fire(self, s: State, now: Array) -> bool:
        """Happen in the rows of ``now``; whether it happened in any."""
        if not now.any():
            return False
        s.fired_tick[self.index] = np.where(now, s.k, s.fired_tick[self.index])
        s.flags[self.flag] = s.flags[self.flag] | now
        s.say(now, self.label)
        for eff in self.effects:
            eff.apply(s, now)
        return True


#: ``due`` of a scheduled rule that has switched: it waits for nothing more.
DONE = np.iinfo(np.int64).max


@dataclass(frozen=True, eq=False)
class ScheduledOp:
    """A ``scheduled`` rule: switch once, at the first tick >= its time when in ``from``.

    Each replicate's time is its own tick (``due[slot]``). An individual not in
    ``from`` then waits: the rule switches it at the first later tick that
    starts (phase 1) with it in ``from``; a forced individual is never moved.
    Once it has switched, ``due`` becomes :data:`DONE`.
    """

    agent_index: int
    from_idx: int
    to_idx: int
    slot: int

    def apply(self, s: State) -> None:
        """Switch the rows due now or waiting since."""
        i, due = self.agent_index, s.due[self.slot]
        now = (due <= s.k) & (s.pos[:, i] == self.from_idx) & ~s.pinned[:, i]
        if now.any():
            s.switch(i, now, self.to_idx, "scheduled")
            s.due[self.slot] = np.where(now, DONE, due)

    def next_tick(self, s: State) -> int | None:
        """The next tick this rule must look at: the next, while a row waits; else the next due."""
        due = s.due[self.slot]
        waiting = due < DONE
        if not waiting.any():
            return None
        return max(s.k + 1, int(due[waiting].min()))
