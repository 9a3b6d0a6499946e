"""/metrics' families from a real store, a real resource reading and alert records."""

from __future__ import annotations

import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from perf_mcp import Monitor
from perf_mcp.core.alerts import AlertRecord
from perf_mcp.export.metrics import exposition
from perf_mcp.export.totals import SinceStart
from perf_mcp.resources import ResourceReader


def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as prometheus_client's parser reads it, by name and labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def alert(severity: str, subject: str) -> AlertRecord:
    now = time.time()
    return AlertRecord(
        id=1, threshold="response_time_p95_ms", subject=subject, severity=severity,  # type: ignore[arg-type]
        state="firing", value=900.0, limit=500.0, unit="ms", message="slow",
        started_at=now, updated_at=now,
    )  # fmt: skip


def test_requests_runs_calls_tokens_cost_alerts_and_resources_are_exposed(
    monitor: Monitor,
) -> None:
    since = SinceStart(monitor.series_between, start=time.time())
    for i in range(10):
        monitor.record_request(f"/users/{i}", "GET", 500 if i < 3 else 200, 20.0)
    monitor.record_agent_run(
        agent_name="planner", duration_ms=1500.0, model="gpt-4o", input_tokens=1000,
        output_tokens=500, cache_read_tokens=200, cost_usd=0.0075,
        tool_calls=[{"tool_name": "search", "duration_ms": 40.0, "success": False}],
    )  # fmt: skip
    monitor.flush()
    reading = ResourceReader().read()
    firing = [alert("critical", "GET /users/{id}"), alert("warning", "planner")]
    got = values(exposition(since, monitor.drops, reading, firing))

    route = (("method", "GET"), ("route", "/users/{id}"))
    assert got[("perf_mcp_http_requests_total", (*route, ("status_class", "2xx")))] == 7
    assert got[("perf_mcp_http_requests_total", (*route, ("status_class", "5xx")))] == 3
    assert got[("perf_mcp_http_request_duration_seconds_count", route)] == 10
    assert got[("perf_mcp_http_request_duration_seconds_sum", route)] == 0.2
    planner = (("agent", "planner"),)
    assert got[("perf_mcp_agent_runs_total", (*planner, ("outcome", "success")))] == 1
    assert got[("perf_mcp_agent_tokens_total", (*planner, ("type", "input")))] == 1000
    assert got[("perf_mcp_agent_tokens_total", (*planner, ("type", "cache_read")))] == 200
    assert got[("perf_mcp_model_cost_usd_total", (("model", "gpt-4o"),))] == 0.0075
    assert got[("perf_mcp_tool_calls_total", (("outcome", "failure"), ("tool", "search")))] == 1
    assert got[("perf_mcp_alerts_firing", (("severity", "critical"),))] == 1
    assert got[("perf_mcp_alerts_firing", (("severity", "warning"),))] == 1
    assert got[("perf_mcp_system_memory_total_bytes", ())] == reading.memory_total_bytes
    assert got[("perf_mcp_dropped_total", (("what", "samples"),))] == 0


def test_without_data_or_a_reading_the_families_are_still_declared(monitor: Monitor) -> None:
    since = SinceStart(monitor.series_between, start=time.time())
    text = exposition(since, monitor.drops, None, [])
    declared = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert declared["perf_mcp_http_requests"] == "counter"
    assert declared["perf_mcp_http_request_duration_seconds"] == "histogram"
    assert declared["perf_mcp_alerts_firing"] == "gauge"
    assert "perf_mcp_system_memory_total_bytes" not in declared
    assert values(text)[("perf_mcp_alerts_firing", (("severity", "critical"),))] == 0


def test_routes_past_the_series_budget_are_one_other_series(db_path: Path) -> None:
    with Monitor(db_path, series_budget=3, flush_interval_s=3600) as monitor:
        since = SinceStart(monitor.series_between, start=time.time())
        for i in range(20):
            monitor.record_request(f"/route{i}", "GET", 200, 5.0)
        monitor.flush()
        got = values(exposition(since, monitor.drops, None, []))
    routes = {
        dict(labels)["route"]: n
        for (name, labels), n in got.items()
        if name == "perf_mcp_http_requests_total"
    }
    assert len(routes) == 4
    assert routes["__other__"] == 17
