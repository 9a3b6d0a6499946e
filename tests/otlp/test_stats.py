"""The receiver's counters as health_check shows them."""

from __future__ import annotations

from collections import Counter

from perf_mcp.otlp.mapping import Outcome
from perf_mcp.otlp.stats import BASELINE, NO_STATUS, NOT_MAPPED, IngestStats


def test_nothing_received_adds_no_component() -> None:
    assert IngestStats().health() is None


def test_ignored_spans_are_counted_without_degrading() -> None:
    stats = IngestStats()
    stats.add(Outcome(Counter(request=3), Counter({NOT_MAPPED: 2}), spans=5))
    health = stats.health()
    assert health is not None
    assert health.status == "ok"
    assert health.detail == (
        "1 exports, 5 spans received; recorded: 3 requests; ignored: 2 " + NOT_MAPPED
    )


def test_rejected_spans_degrade_and_say_the_last_reason() -> None:
    stats = IngestStats()
    stats.add(Outcome(Counter(), Counter({NO_STATUS: 1}), spans=1, example="bad status"))
    health = stats.health()
    assert health is not None
    assert health.status == "degraded"
    assert f"rejected: 1 {NO_STATUS}" in health.detail
    assert health.detail.endswith("last: bad status")


def test_metric_points_are_counted_beside_spans() -> None:
    stats = IngestStats()
    stats.add(Outcome(Counter(request=40), Counter({BASELINE: 1}), points=3))
    health = stats.health()
    assert health is not None
    assert health.status == "ok"  # a baseline point is expected, not a problem
    assert health.detail == (
        "1 exports, 0 spans, 3 metric points received; recorded: 40 requests; ignored: 1 "
        + BASELINE
    )
