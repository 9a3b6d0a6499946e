"""Totals since the start: exact, monotonic while hours are sealed, and cheap to re-read."""

from __future__ import annotations

import itertools

from perf_mcp import Monitor
from perf_mcp.export.totals import SinceStart

T0 = 1_800_000_123.0  # two minutes into an hour


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_counts_what_was_recorded_since_the_start_only() -> None:
    clock = Clock(T0)
    with Monitor(":memory:", clock=clock, start_flusher=False) as monitor:
        monitor.record_tool_call("search", 5.0, timestamp=T0 - 60)
        since = SinceStart(monitor.series_between, start=T0, clock=clock)
        monitor.record_tool_call("search", 7.0, success=False, error_type="Timeout")
        monitor.record_tool_call("fetch", 9.0)
        monitor.flush()
        totals = {name: (acc.count, acc.failures) for name, _, acc in since.totals("tool")}
    assert totals == {"fetch": (1, 0), "search": (1, 1)}


def test_totals_match_the_tools_over_hours_of_sealing() -> None:
    clock = Clock(T0)
    with Monitor(":memory:", clock=clock, start_flusher=False) as monitor:
        since = SinceStart(monitor.series_between, start=T0, clock=clock)
        for _ in range(12):  # six hours, a scrape every 30 minutes
            monitor.record_request("/a", "GET", 200, 10.0)
            monitor.record_request("/a", "GET", 503, 30.0)
            monitor.flush()
            [(_, _, acc)] = since.totals("request")
            clock.now += 1800
        [stats] = monitor.get_endpoint_stats(window="24h").endpoints
    assert (acc.count, acc.status_classes()) == (24, {"2xx": 12, "5xx": 12})
    assert (stats.count, stats.p95_ms) == (acc.count, acc.hist.quantile(0.95))


def test_counters_never_go_down_when_records_arrive_hours_late() -> None:
    clock = Clock(T0)
    with Monitor(":memory:", clock=clock, start_flusher=False) as monitor:
        since = SinceStart(monitor.series_between, start=T0, clock=clock)
        seen = []
        for _ in range(12):
            monitor.record_agent_run(agent_name="bot", duration_ms=900.0, input_tokens=10)
            late = clock.now - 2.5 * 3600  # may land in a sealed hour: not added, never taken away
            if late >= T0:
                monitor.record_agent_run(agent_name="bot", duration_ms=900.0, end_time=late)
            monitor.flush()
            [(_, _, acc)] = since.totals("agent")
            seen.append((acc.count, acc.input_tokens))
            clock.now += 1800
    counts = [count for count, _ in seen]
    assert all(b >= a + 1 for a, b in itertools.pairwise(counts))
    assert [tokens for _, tokens in seen] == [10 * (i + 1) for i in range(12)]


def test_a_scrape_reads_only_the_last_hours_rows() -> None:
    clock = Clock(T0)
    asked: list[tuple[float, float]] = []
    with Monitor(":memory:", clock=clock, start_flusher=False) as monitor:

        def read(kind: str, start: float, end: float) -> list:  # type: ignore[type-arg]
            asked.append((start, end))
            return monitor.series_between(kind, start, end)  # type: ignore[arg-type]

        since = SinceStart(read, start=T0, clock=clock)
        clock.now += 24 * 3600
        since.totals("tool")
        asked.clear()
        since.totals("tool")
    [(start, end)] = asked
    assert clock.now - 2 * 3600 <= start
    assert end - start <= 2 * 3600 + 10
