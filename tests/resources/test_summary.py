"""Summaries of resource samples: min/mean/max/p95 per metric against exact answers."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perf_mcp.resources import ResourceSample, summarize
from perf_mcp.resources.summary import nearest_rank


def test_summarize_gives_latest_and_min_mean_max_p95_skipping_unavailable() -> None:
    samples = [
        ResourceSample(timestamp=float(t), cpu_percent=float(t * 10), memory_percent=50.0)
        for t in range(1, 11)
    ]
    samples.append(
        ResourceSample(timestamp=11.0, memory_percent=70.0, unavailable={"cpu_percent": "x"})
    )
    summary = summarize(list(reversed(samples)))
    assert summary.samples == 11
    assert summary.latest is not None
    assert summary.latest.timestamp == 11.0
    cpu = summary.stats["cpu_percent"]
    assert (cpu.last, cpu.min, cpu.mean, cpu.max, cpu.p95, cpu.samples) == (
        100,
        10,
        55,
        100,
        100,
        10,
    )
    assert summary.stats["memory_percent"].last == 70
    assert "load_1" not in summary.stats
    assert summarize([]).latest is None


def test_p95_of_two_samples_is_the_higher_one() -> None:
    samples = [
        ResourceSample(timestamp=1.0, cpu_percent=1.0),
        ResourceSample(timestamp=2.0, cpu_percent=2.0),
    ]
    assert summarize(samples).stats["cpu_percent"].p95 == 2


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
    assert nearest_rank(values, q) == expected


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
    assert nearest_rank(sorted(values), float(share)) == at_or_below[0]


def test_nearest_rank_refuses_no_values_and_q_out_of_range() -> None:
    with pytest.raises(ValueError, match="need values"):
        nearest_rank([], 0.5)
    with pytest.raises(ValueError, match=r"q=1\.5"):
        nearest_rank([1.0], 1.5)
