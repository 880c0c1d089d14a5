"""Counting reached thresholds: both layouts against the literal comparison, row by row."""

from __future__ import annotations

import numpy as np
import pytest

from sim.rules import TOLERANCE
from sim.thresholds import INDEX_MAX_N, SortedThresholds

LAYOUTS = pytest.mark.parametrize("index", [True, False], ids=["index", "offsets"])


def brute(th: np.ndarray, support: np.ndarray) -> np.ndarray:
    """The literal rule: ``threshold <= support + TOLERANCE``, counted per row."""
    return (th <= (support + TOLERANCE)[:, None]).sum(axis=1)


@LAYOUTS
def test_counts_match_the_literal_rule_with_ties_atoms_and_extremes(index: bool) -> None:
    rng = np.random.default_rng(3)
    th = np.clip(rng.normal(0.5, 0.3, (64, 100)), 0, 1)  # atoms at 0 and 1
    th[:, :5] = 0.25  # ties inside a bucket
    st = SortedThresholds(th, index=index)
    values = [-1.0, 0.0, 0.25, 0.25 - 5e-10, 0.25 - 2e-9, 0.5, 1.0 - 2e-9, 1.0, 2.0]
    for q in [*values, np.inf, -np.inf]:
        support = np.full(64, q)
        np.testing.assert_array_equal(st.count_reached(support), brute(th, support), err_msg=q)
    support = rng.uniform(-0.1, 1.1, 64)
    np.testing.assert_array_equal(st.count_reached(support), brute(th, support))


@LAYOUTS
def test_a_subset_of_rows_gets_what_the_whole_call_gives_it(index: bool) -> None:
    rng = np.random.default_rng(4)
    th = rng.normal(0.0, 1.0, (50, 300))
    st = SortedThresholds(th, index=index)
    support = rng.normal(0.0, 1.0, 50)
    whole = st.count_reached(support)
    rows = np.array([7, 3, 3, 49, 0])
    np.testing.assert_array_equal(st.count_reached(support[rows], rows), whole[rows])
    np.testing.assert_array_equal(whole, brute(th, support))


@LAYOUTS
def test_a_nan_support_reaches_nothing_and_nan_thresholds_are_never_reached(index: bool) -> None:
    th = np.array([[0.1, np.nan, 0.3], [np.inf, -np.inf, 0.5]])
    st = SortedThresholds(th, index=index)
    np.testing.assert_array_equal(st.count_reached(np.array([np.nan, np.nan])), [0, 0])
    np.testing.assert_array_equal(st.count_reached(np.array([0.2, 0.7])), [1, 2])
    np.testing.assert_array_equal(st.count_reached(np.array([np.inf, np.inf])), [2, 3])
    np.testing.assert_array_equal(st.count_reached(np.array([-np.inf, -np.inf])), [0, 1])


@LAYOUTS
def test_equal_thresholds_and_a_single_person(index: bool) -> None:
    st = SortedThresholds(np.full((3, 4), 0.7), index=index)
    np.testing.assert_array_equal(st.count_reached(np.array([0.69, 0.7 - 1e-9, 0.8])), [0, 4, 4])
    one = SortedThresholds(np.array([[0.2], [0.9]]), index=index)
    np.testing.assert_array_equal(one.count_reached(np.array([0.5, 0.5])), [1, 0])


def test_the_index_is_exact_where_offsets_would_round_and_the_search_goes_row_by_row() -> None:
    th = np.array([[0.0, 1e12], [5.0, 6.0]])
    assert SortedThresholds(th, index=False).exact_rows
    for index in (True, False):
        st = SortedThresholds(th, index=index)
        np.testing.assert_array_equal(st.count_reached(np.array([1.0, 5.0])), [1, 1])
    # one thousand rows spanning 1e6: offsets reach 1e9, whose rounding (1e-7) exceeds the
    # tolerance, so only the row-by-row search and the index can count x = th - 1e-9 exactly
    rng = np.random.default_rng(5)
    th = rng.uniform(0, 1e6, (1000, 3))
    support = th[:, 1] - TOLERANCE
    st = SortedThresholds(th, index=True)
    np.testing.assert_array_equal(st.count_reached(support), brute(th, support))


@LAYOUTS
def test_take_keeps_the_rows_and_the_layout(index: bool) -> None:
    th = np.array([[0.3, 0.1, 0.2], [0.9, 0.5, 0.7]])
    st = SortedThresholds(th, index=index)
    np.testing.assert_allclose(st.rows(), np.sort(th, axis=1), atol=1e-12)
    taken = st.take(np.array([1, 1, 0]))
    assert taken.indexed == index
    np.testing.assert_array_equal(taken.count_reached(np.array([0.6, 0.5, 0.2])), [1, 1, 2])


def test_the_layout_follows_the_population_size() -> None:
    assert SortedThresholds(np.zeros((2, INDEX_MAX_N))).indexed
    assert not SortedThresholds(np.zeros((2, INDEX_MAX_N + 1))).indexed


def test_both_layouts_agree_on_random_monotone_queries() -> None:
    """The queries a population makes (a running maximum) on bench-770's thresholds."""
    rng = np.random.default_rng(6)
    th = np.clip(rng.normal(0.5, 0.2, (512, 770)), 0, 1)
    a, b = SortedThresholds(th, index=True), SortedThresholds(th, index=False)
    running = np.full(512, -np.inf)
    for _ in range(40):
        running = np.maximum(running, running + rng.uniform(-0.01, 0.05, 512))
        running[np.isinf(running)] = 0.0
        np.testing.assert_array_equal(a.count_reached(running), b.count_reached(running))
        np.testing.assert_array_equal(a.count_reached(running), brute(th, running))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # 1e308 - -1e308
@LAYOUTS
def test_ranges_too_narrow_or_too_wide_for_the_buckets_still_count_exactly(index: bool) -> None:
    """B / range overflows to inf (a subnormal range) or range overflows: 0 * inf is no NaN."""
    for th, q in (
        (np.array([[0.0, 5e-324, 1e-323]]), [-1e-9, 0.0, -2e-9]),
        (np.array([[-1e308, 1e308, 1e308]]), [1e308, -1e308, 0.0]),
    ):
        st = SortedThresholds(th, index=index)
        for v in q:
            support = np.array([v])
            np.testing.assert_array_equal(st.count_reached(support), brute(th, support), err_msg=v)


def test_the_buckets_span_the_thresholds_not_zero() -> None:
    """Thresholds far from 0 are spread over the buckets (about one each), not piled in one."""
    rng = np.random.default_rng(8)
    th = rng.uniform(1000.0, 1001.0, (4, 500))
    st = SortedThresholds(th, index=True)
    per_bucket = np.diff(st.table.reshape(4, -1), axis=1)
    assert per_bucket.max() <= 8
    support = rng.uniform(999.9, 1001.1, 4)
    np.testing.assert_array_equal(st.count_reached(support), brute(th, support))


def test_the_budget_counts_the_index_table() -> None:
    from sim.thresholds import index_bytes

    st = SortedThresholds(np.zeros((3, 770)))
    assert st.table.itemsize == index_bytes(770) == 2
    assert index_bytes(INDEX_MAX_N + 1) == 0
