"""The one place for rates, means and percentiles, so every answer computes them alike.

A rate or mean of nothing is None ("no data"), never 0.0 ("none failed"). Quantiles are
nearest-rank: the smallest value with at least q of the samples at or below it, so p99 of two
runs is the slower one.

>>> rate(1, 4), rate(0, 0)
(0.25, None)
>>> nearest_rank(2, 0.99), nearest_rank(100, 0.95), nearest_rank(1, 0.0)
(1, 94, 0)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perf_mcp.core.sketch import LogHistogram

_RANK_SLACK = 1e-9  # q * n a hair above a whole number (0.95 * 20) is that number


def rate(part: float, whole: float) -> float | None:
    """``part / whole``, or None when ``whole`` is 0."""
    return part / whole if whole else None


mean = rate  # the same rule: a sum over a count, None when there is no count


def nearest_rank(count: int, q: float) -> int:
    """The 0-based rank of the q-quantile among ``count`` sorted values."""
    return max(math.ceil(q * count - _RANK_SLACK) - 1, 0)


def percentiles(hist: LogHistogram, qs: dict[str, float]) -> dict[str, float | None]:
    """The named quantiles of a histogram (None when it is empty)."""
    values = hist.quantiles(list(qs.values())) if hist.count else [None] * len(qs)
    return dict(zip(qs, values, strict=True))


SUMMARY_QUANTILES = {"p50_ms": 0.5, "p95_ms": 0.95, "p99_ms": 0.99}
DETAIL_QUANTILES = {"p50_ms": 0.5, "p90_ms": 0.9, "p95_ms": 0.95, "p99_ms": 0.99}


def latency(hist: LogHistogram, sum_ms: float) -> dict[str, Any]:
    """p50/p90/p95/p99, mean, min and max of timed samples (empty when there are none)."""
    if not hist.count:
        return {}
    return {
        **percentiles(hist, DETAIL_QUANTILES),
        "mean_ms": mean(sum_ms, hist.count),
        "min_ms": hist.min,
        "max_ms": hist.max,
    }
