"""Values from a real Monitor: now (monitor_source) and in the stored past (monitor_history)."""

from __future__ import annotations

from typing import Any

import pytest
from logfire.testing import CaptureLogfire

from perf_mcp import Monitor
from perf_mcp.alerting import (
    AlertManager,
    monitor_history,
    monitor_source,
)
from perf_mcp.resources import ResourceSample
from tests.alerting.fakes import SEARCH, T0, Clock

pytestmark = pytest.mark.anyio


class FakeSampler:
    interval_s = 30.0

    def __init__(self, latest: ResourceSample | None) -> None:
        self.latest = latest


async def test_monitor_source_fires_and_resolves_on_recorded_traffic(
    monitor: Monitor, clock: Clock, capfire: CaptureLogfire
) -> None:
    manager = AlertManager(monitor_source(monitor, clock=clock), clock=clock)
    for i in range(30):
        monitor.record_request("/search", "GET", 500 if i % 2 else 200, 20.0)
        monitor.record_request("/health", "GET", 200, 1.0)
    for i in range(6):
        monitor.record_agent_run(agent_name="planner", duration_ms=100.0, success=i > 2)
    fired = {(e.rule, e.subject) for e in await manager.evaluate_once()}
    assert fired == {
        ("error_rate_5min", SEARCH),
        ("error_rate_5min", "overall"),
        ("agent_error_rate", "planner"),
    }
    clock.now += 400  # past the 5-minute window: new, healthy traffic only
    for _ in range(200):
        monitor.record_request("/search", "GET", 200, 20.0)
    resolved = {(e.kind, e.rule, e.subject) for e in await manager.evaluate_once()}
    assert resolved == {
        ("resolved", "error_rate_5min", SEARCH),
        ("resolved", "error_rate_5min", "overall"),
        ("resolved", "agent_error_rate", "planner"),
    }


async def test_agent_spend_per_hour_fires_on_estimated_costs(
    monitor: Monitor, clock: Clock
) -> None:
    """Six runs of claude-opus-4-1 with 100,000 input tokens each and no cost reported:
    6 x 100,000 x $15 per million = $9 in 5 minutes, $108 per hour (critical is $50)."""
    manager = AlertManager(monitor_source(monitor, clock=clock), clock=clock)
    for _ in range(6):
        monitor.record_agent_run(
            agent_name="researcher",
            duration_ms=2_000.0,
            model="claude-opus-4-1",
            provider="anthropic",
            input_tokens=100_000,
        )
    [fired] = [e for e in await manager.evaluate_once() if e.rule == "agent_cost_usd_per_hour"]
    assert (fired.subject, fired.severity) == ("researcher", "critical")
    assert fired.value == pytest.approx(108.0)
    assert "$108.00/h" in fired.message


async def test_monitor_source_needs_the_minimum_sample_count(
    monitor: Monitor, clock: Clock
) -> None:
    observe = monitor_source(monitor, clock=clock)
    for _ in range(19):
        monitor.record_request("/search", "GET", 500, 20.0)
    manager = AlertManager(observe, clock=clock)
    assert await manager.evaluate_once() == []
    observations = {(o.rule, o.subject): o for o in observe().observations}
    assert observations["error_rate_5min", SEARCH] == ("error_rate_5min", SEARCH, 1.0, 19)


async def test_monitor_source_reads_the_latest_fresh_resource_sample(
    monitor: Monitor, clock: Clock
) -> None:
    sample = ResourceSample(timestamp=clock.now - 5, cpu_percent=97.0, memory_percent=40.0)
    sampler: Any = FakeSampler(sample)
    observed = {
        (o.rule, o.subject): o for o in monitor_source(monitor, sampler, clock=clock)().observations
    }
    assert observed["cpu_usage_percent", "system"].value == 97.0
    assert observed["memory_usage_percent", "system"].samples == 1
    clock.now += 600  # the sampler stopped: its last reading says nothing about now
    stale = {
        (o.rule, o.subject): o for o in monitor_source(monitor, sampler, clock=clock)().observations
    }
    assert stale["cpu_usage_percent", "system"] == ("cpu_usage_percent", "system", None, 0)


def traffic(monitor: Monitor, since: float, minutes: int, errors: float, ms: float) -> None:
    """30 GET /search requests a minute from ``since``, a share ``errors`` of them 500s."""
    for minute in range(minutes):
        for i in range(30):
            status = 500 if i < 30 * errors else 200
            at = since + 60 * minute + 2 * i
            monitor.record_request("/search", "GET", status, ms, timestamp=at)


async def test_history_replays_what_the_store_holds(monitor: Monitor, clock: Clock) -> None:
    hour = T0 - 3600
    traffic(monitor, hour, 20, errors=0.0, ms=20)
    traffic(monitor, hour + 1200, 10, errors=0.5, ms=1500)  # ten bad minutes
    traffic(monitor, hour + 1800, 30, errors=0.0, ms=20)
    history = monitor_history(monitor, hours=1, clock=clock)

    errors = history("error_rate_5min", SEARCH)[SEARCH]
    assert len(errors) == 56  # a point a minute, each over the 5 minutes before it
    by_time = {t: (value, n) for t, value, n in errors}
    assert by_time[hour + 1800] == (0.5, 150)  # the five minutes before are all bad
    assert by_time[hour + 900] == (0.0, 150)
    p95 = {t: v for t, v, _ in history("response_time_p95_ms", SEARCH)[SEARCH]}
    assert p95[hour + 1800] == pytest.approx(1500, rel=0.02)
    assert p95[hour + 900] == pytest.approx(20, rel=0.02)

    manager = AlertManager(monitor_source(monitor, clock=clock), history=history, clock=clock)
    stricter = await manager.set_threshold("error_rate_5min", 0.6, subject=SEARCH, dry_run=True)
    assert stricter.replay is not None
    assert stricter.baseline is not None
    assert (stricter.replay.fired, stricter.baseline.fired) == (0, 1)
    everywhere = await manager.set_threshold("response_time_p95_ms", 500, dry_run=True)
    assert everywhere.replay is not None
    assert everywhere.replay.subjects == 2  # overall and GET /search
    assert everywhere.replay.fired_subjects == sorted(["overall", SEARCH], reverse=True)
    assert manager.threshold("response_time_p95_ms").warning == 1000


async def test_history_of_resources_agents_and_tools(monitor: Monitor, clock: Clock) -> None:
    for i in range(10):
        sample = ResourceSample(timestamp=T0 - 600 + 60 * i, cpu_percent=10.0 * i)
        monitor.add_resource_sample(sample.timestamp, sample.model_dump_json())
    for i in range(10):
        monitor.record_agent_run(
            agent_name="planner", duration_ms=100.0, success=i % 2 == 0, end_time=T0 - 100 + i
        )
    monitor.record_tool_call("fetch", 5.0, success=False, timestamp=T0 - 30)
    history = monitor_history(monitor, hours=1, clock=clock)

    [(subject, cpu)] = history("cpu_usage_percent", None).items()
    assert subject == "system"
    assert [v for _, v, _ in cpu] == [10.0 * i for i in range(10)]
    runs = history("agent_error_rate", None)["planner"]
    assert runs[-1][1:] == (0.5, 10)
    assert runs[0][1:] == (None, 0)
    assert history("agent_avg_time_ms", "planner")["planner"][-1][1] == pytest.approx(100)
    assert history("tool_error_rate", None)["fetch"][-1][1:] == (1.0, 1)
