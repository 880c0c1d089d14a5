"""The vectorised orders of switches equal the per-replicate definition, row by row."""

from __future__ import annotations

import numpy as np
import pytest

from sim.outcomes import switch_order, switch_orders


@pytest.mark.parametrize("extra", [0, 10, 11, 30])  # 5 to 35 agents: rows packed (up to 15) and not
def test_switch_orders_equal_switch_order_row_by_row(extra: int) -> None:
    rng = np.random.default_rng(7)
    names = ["toner", "dangelo", "mccauley", "sutskever", "a"] + [f"x{i}" for i in range(extra)]
    # few distinct times so that ties are common; inf where nobody switched
    times = rng.integers(0, 4, size=(3000, len(names))).astype(float)
    times[rng.random(times.shape) < 0.3] = np.inf
    times[17] = np.inf
    orders, which = switch_orders(times, names)
    assert [orders[k] for k in which] == [switch_order(row, names) for row in times]
    assert len(set(orders)) == len(orders)  # each distinct order once
    assert "(nobody switched)" in orders


def test_orders_are_listed_by_their_first_replicate() -> None:
    times = np.array([[2.0, 1.0], [np.inf, np.inf], [1.0, 2.0], [2.0, 1.0]])
    orders, which = switch_orders(times, ["a", "b"])
    assert orders == ["b -> a", "(nobody switched)", "a -> b"]
    assert which.tolist() == [0, 1, 2, 0]


def test_no_replicates_have_no_orders() -> None:
    orders, which = switch_orders(np.zeros((0, 3)), ["a", "b", "c"])
    assert orders == [] and which.shape == (0,)
