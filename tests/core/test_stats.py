"""Rates, means and nearest-rank quantiles against exact answers."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perf_mcp.core.stats import mean, nearest_rank, rate


def test_a_rate_or_mean_of_nothing_is_none_not_zero() -> None:
    assert rate(0, 0) is None
    assert mean(0.0, 0) is None
    assert rate(0, 5) == 0.0
    assert rate(1, 4) == 0.25


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1, 2], 0.95, 2),
        ([2310, 9100], 0.99, 9100),
        ([5], 0.5, 5),
        ([1, 2, 3, 4], 0.5, 2),
        ([1, 2, 3, 4], 0.0, 1),
        ([1, 2, 3, 4], 1.0, 4),
        (list(range(1, 101)), 0.07, 7),
        (list(range(1, 21)), 0.95, 19),
    ],
)
def test_nearest_rank_exact_answers(values: list[float], q: float, expected: float) -> None:
    assert values[nearest_rank(len(values), q)] == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-1000, 1000), min_size=1, max_size=200),
    st.sampled_from(["0", "0.01", "0.07", "0.25", "0.5", "0.9", "0.95", "0.99", "0.999", "1"]),
)
def test_nearest_rank_is_the_smallest_value_with_q_of_the_samples_at_or_below(
    values: list[int], q: str
) -> None:
    share = Fraction(q)
    at_or_below = [v for v in sorted(values) if sum(x <= v for x in values) >= share * len(values)]
    assert sorted(values)[nearest_rank(len(values), float(share))] == at_or_below[0]
