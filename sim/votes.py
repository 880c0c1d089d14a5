"""Who counts where in a vote, in exact integer arithmetic.

At a meeting each member of the group is in exactly one of four places, by
the position it holds:

- **absent**: a position listed in ``absent`` (resigned, stepped aside). An
  absent member leaves every count: not present, not in any denominator, and
  its veto does not apply.
- **abstaining**: a position listed in ``abstain``. Present: in the
  denominator of a ``fraction`` quorum and counted for attendance, but never
  for the motion. An abstaining veto member does not block.
- **for**: the ``motion`` position.
- **against**: any other position. Present, not for the motion; a veto
  member against blocks it.

Each member carries a weight (``weights``, default 1 each, so that without
weights every count is a count of members). With ``W(x)`` the total weight
of the members in place ``x`` and ``present = for + abstaining + against``:

1. **attendance** (optional): the meeting is valid only when the members
   present reach it: ``{at_least: A}`` means ``W(present) >= A`` and
   ``{fraction: f}`` means ``W(present) >= f * W(all members)``; with
   ``by: members`` both count members instead of weight. A meeting without
   attendance does not pass, whatever the votes.
2. **quorum** (the passing threshold): ``{at_least: K}`` means
   ``W(for) >= K``; ``{fraction: q}`` means ``W(for) >= q * W(present)`` and
   ``W(present) > 0``; ``{unanimous: true}`` is ``fraction: 1``.
3. **veto**: a veto member who is against blocks it.

The motion passes when all three hold. Weights, amounts and fractions are
read as the exact decimals (or rationals such as ``2/3``) they are written as
and compared in integers, so that ``2/3`` of a weight of 3 is exactly 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]

#: Largest total weight, in units of the weights' common denominator, that is
#: added up exactly (weights written with too many decimals are refused).
MAX_EXACT_WEIGHT = 2**53


def exact(value: float | str | Fraction) -> Fraction:
    """A number as the exact decimal or rational it is written as (``0.1`` is 1/10)."""
    return value if isinstance(value, Fraction) else Fraction(str(value))


def integer_weights(weights: Sequence[float | str]) -> tuple[list[int], int]:
    """Weights as integers over their common denominator ``scale``.

    Returns
    -------
    ints, scale : list of int, int
        Member ``m`` weighs exactly ``ints[m] / scale``.

    Raises
    ------
    ValueError
        When their total in those units reaches :data:`MAX_EXACT_WEIGHT`.
    """
    fractions = [exact(w) for w in weights]
    scale = math.lcm(1, *(f.denominator for f in fractions))
    ints = [int(f * scale) for f in fractions]
    if sum(abs(i) for i in ints) >= MAX_EXACT_WEIGHT:
        raise ValueError("the weights need too many decimals to be added up exactly")
    return ints, scale


@dataclass(frozen=True)
class Bar:
    """``at_least`` an amount, or a ``fraction`` of a total (one of them), as exact rationals."""

    at_least: Fraction | None = None
    fraction: Fraction | None = None

    def cleared(self, amount: Array, total: Array | int, unit: int) -> Array:
        """Whether ``amount`` (in units of ``1 / unit``) clears the bar, ``total`` the whole."""
        if self.at_least is not None:
            x = self.at_least
            return np.asarray(amount * x.denominator >= x.numerator * unit)
        assert self.fraction is not None
        q = self.fraction
        return np.asarray(amount * q.denominator >= q.numerator * total)

    def largest(self) -> int:
        """Largest integer in the bar (for the overflow bound)."""
        x = self.at_least if self.at_least is not None else self.fraction
        assert x is not None
        return max(x.numerator, x.denominator)


@dataclass(frozen=True)
class VoteRule:
    """The counting rule of one decision (see the module's docstring).

    Parameters
    ----------
    weights : array of int, shape (members,)
        Each member's weight times ``scale``.
    scale : int
        Common denominator of the weights.
    quorum : Bar
        The passing threshold, in weight.
    attendance : Bar or None
        Who must be present for the vote to count.
    attendance_by_weight : bool
        Attendance counts weight (else members).
    veto : list of int
        Positions in the member list of the veto holders.
    """

    weights: Array
    scale: int
    quorum: Bar
    attendance: Bar | None = None
    attendance_by_weight: bool = True
    veto: tuple[int, ...] = ()

    @property
    def plain(self) -> bool:
        """One vote each, no attendance: told in the trace as it always was."""
        return self._unit and self.attendance is None

    @cached_property
    def _wide(self) -> bool:
        # amount * denominator must fit in int64, else count with Python integers
        total = max(int(self.weights.sum()), len(self.weights), 1)
        bars = [self.quorum] + ([self.attendance] if self.attendance is not None else [])
        return total * self.scale * max(b.largest() for b in bars) >= 2**62

    @cached_property
    def _unit(self) -> bool:
        return self.scale == 1 and bool(np.all(self.weights == 1))

    def _weigh(self, mask: Array, w: Array) -> Array:
        """Total weight of the members in ``mask``, per row."""
        # one vote each: a count, 4x faster than the product with the weights
        return mask.sum(axis=1) if self._unit else mask @ w

    def tally(self, in_motion: Array, abstaining: Array | None, absent: Array | None) -> Tally:
        """Count a meeting of every replicate.

        Parameters
        ----------
        in_motion, abstaining, absent : array of bool, shape (rows, members)
            Who is for, abstaining, absent; None for nobody (skips its count).
        """
        rows, members = in_motion.shape
        w = self.weights.astype(object) if self._wide else self.weights
        total = w.sum()
        for_w = self._weigh(in_motion, w)
        present_w = np.broadcast_to(
            total if absent is None else total - self._weigh(absent, w), (rows,)
        )
        passed = (present_w > 0) if self.quorum.fraction is not None else True
        passed = passed & self.quorum.cleared(for_w, present_w, self.scale)
        attended = None
        if self.attendance is not None:
            if self.attendance_by_weight:
                attended = self.attendance.cleared(present_w, total, self.scale)
            else:
                heads = members - (0 if absent is None else absent.sum(axis=1))
                attended = self.attendance.cleared(heads, members, 1)
            passed = passed & attended
        passed = np.array(np.broadcast_to(passed, (rows,)), dtype=bool)
        for v in self.veto:
            blocks = ~in_motion[:, v]
            if abstaining is not None:
                blocks &= ~abstaining[:, v]
            if absent is not None:
                blocks &= ~absent[:, v]
            passed &= ~blocks
        return Tally(for_w, present_w, abstaining, attended, passed)

    def describe(self, t: Tally, r: int) -> str:
        """How row ``r`` voted, for the trace."""
        verdict = "passes" if t.passed[r] else "fails"
        abstaining = 0 if t.abstaining is None else int(t.abstaining[r].sum())
        if self.plain and not abstaining:
            return f"{t.for_weight[r]} of {t.present_weight[r]} present for the motion, {verdict}"
        amount = f"{_show(t.for_weight[r], self.scale)} of {_show(t.present_weight[r], self.scale)}"
        text = f"weight {amount} present for the motion"
        if abstaining:
            text += f" ({abstaining} abstaining)"
        if t.attended is not None and not np.broadcast_to(t.attended, t.passed.shape)[r]:
            text += ", short of attendance"
        return f"{text}, {verdict}"


@dataclass(frozen=True)
class Tally:
    """A meeting's count, per replicate (weights in units of ``1 / scale``)."""

    for_weight: Array
    present_weight: Array
    abstaining: Array | None  # (rows, members): who abstained; None: nobody can
    attended: Array | None  # None without an attendance rule
    passed: Array


def _show(amount: int, scale: int) -> str:
    value = Fraction(int(amount), scale)
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"


__all__ = ["MAX_EXACT_WEIGHT", "Bar", "Tally", "VoteRule", "exact", "integer_weights"]
