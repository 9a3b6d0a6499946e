"""SLOs over a real store on a fake clock: the budget left, latency from the histograms,
which series an SLO counts, and a dry run's replay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from perf_mcp import Monitor
from perf_mcp.core.models import InvalidInputError

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def monitor(db_path: Path, clock: Clock) -> Iterator[Monitor]:
    with Monitor(db_path, clock=clock, start_flusher=False) as m:
        yield m


def test_the_budget_left_over_the_period_matches_a_hand_computation(monitor: Monitor) -> None:
    # 10,000 requests over 10 days, 4 of them 5xx and 6 of them 4xx (not the server's fault).
    monitor.record_requests(
        [
            {
                "endpoint": "/pay",
                "method": "POST",
                "status_code": 500 if i < 4 else 404 if i < 10 else 200,
                "duration_ms": 10.0,
                "timestamp": T0 - 10 * 86400 + i * 86.4,
            }
            for i in range(10_000)
        ]
    )
    change = monitor.set_slo("availability", 0.999, scope="endpoint", subject="POST /pay")
    # 99.9% of 10,000: 10 may fail; 4 did, so 60% of the budget is left.
    status = change.status
    assert (status.events, status.bad, status.budget_left, status.sli) == (10_000, 4, 0.6, 0.9996)
    assert not change.replaced
    assert not change.dry_run
    assert monitor.list_slos().slos == [status]
    # A 7-day period only sees the last 7 days' requests (and none of the failures).
    week = monitor.set_slo("availability", 0.999, scope="endpoint", subject="/pay", period_days=7)
    assert (week.status.events, week.status.bad, week.status.budget_left) == (7000, 0, 1.0)


def test_a_latency_slo_counts_from_the_histograms(monitor: Monitor, clock: Clock) -> None:
    for i in range(100):
        monitor.record_agent_run(
            agent_name="triage", duration_ms=100.0 + 10 * i, end_time=clock.now - 3600 + i
        )
    status = monitor.set_slo("latency", 0.9, scope="agent", subject="triage", threshold_ms=500)
    # 40 runs took 100..490 ms; 490 ms shares no bucket with 500: 60 are slow, 6x the budget.
    assert (status.status.events, status.status.bad) == (100, 60)
    assert status.status.burn["3d"] == 6.0
    assert status.status.counted_under_ms is not None
    assert 490 < status.status.counted_under_ms <= 500


def test_an_slo_without_events_is_listed_with_its_budget_whole(monitor: Monitor) -> None:
    monitor.set_slo("availability", 0.99, scope="tool", subject="web_search", name="search")
    [status] = monitor.list_slos().slos
    assert (status.name, status.target, status.events, status.budget_left) == (
        "search",
        "tool web_search",
        0,
        1.0,
    )
    assert all(burn is None for burn in status.burn.values())
    assert monitor.delete_slo("search")
    assert not monitor.delete_slo("search")
    assert monitor.list_slos().note == "no SLOs yet: set one with set_slo"


def test_a_dry_run_stores_nothing_and_replays_the_rules_over_the_last_day(
    monitor: Monitor, clock: Clock
) -> None:
    # Two hours ago, 20 minutes of half the requests failing.
    monitor.record_requests(
        [
            {"endpoint": "/a", "method": "GET", "status_code": 500 if i % 2 else 200,
             "duration_ms": 5.0, "timestamp": clock.now - 7200 + i}
            for i in range(1200)
        ]
    )  # fmt: skip
    change = monitor.set_slo("availability", 0.99, dry_run=True)
    assert change.dry_run
    assert monitor.list_slos().slos == []
    assert change.replay is not None
    assert {rule: r.fired for rule, r in change.replay.items()} == {
        "slo_fast_burn": 1, "slo_medium_burn": 1, "slo_slow_burn": 1
    }  # fmt: skip
    assert not change.replay["slo_fast_burn"].still_firing  # its 5 min window calmed down
    assert change.note.startswith("over the last 24 h the rules would have fired")


def test_a_bad_slo_changes_nothing(monitor: Monitor) -> None:
    with pytest.raises(InvalidInputError, match="objective: must be a fraction"):
        monitor.set_slo("availability", 1.5)
    assert monitor.list_slos().slos == []
