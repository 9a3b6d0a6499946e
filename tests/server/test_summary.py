"""The summary: short rows a model can read at once, cheap for a client to check, always exact."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from mcp import Client

from perf_mcp import Monitor
from tests.server.mcp_calls import call_ok

pytestmark = pytest.mark.anyio

ROW_FIELDS = {
    "endpoint",
    "method",
    "count",
    "error_count",
    "error_rate",
    "p50_ms",
    "p95_ms",
    "p99_ms",
}


async def test_output_schema_is_self_contained_and_has_no_anyof(client: Client) -> None:
    # Clients validate every answer against it: a "$ref" is resolved anew per list item and
    # an anyOf costs two or three checks per field, so the summary's schema has neither.
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    schema = json.dumps(tools["get_performance_summary"].output_schema)
    assert "$ref" not in schema
    assert "anyOf" not in schema


async def test_rows_carry_count_errors_and_three_percentiles(client: Client) -> None:
    batch = [
        {"endpoint": "/slow", "status_code": 200, "duration_ms": 500.0 + i} for i in range(9)
    ] + [{"endpoint": "/broken", "status_code": 503, "duration_ms": 5.0} for _ in range(3)]
    await call_ok(client, "record_requests", {"requests": batch})

    summary = await call_ok(client, "get_performance_summary", {"window": "5m"})

    slow, broken = summary["slowest_endpoints"]
    assert set(slow) == ROW_FIELDS
    assert (slow["endpoint"], slow["count"], slow["error_count"]) == ("/slow", 9, 0)
    assert slow["p50_ms"] == pytest.approx(504.0, rel=0.01)
    assert [e["endpoint"] for e in summary["most_errors"]] == ["/broken"]
    assert summary["most_errors"][0]["error_rate"] == 1.0
    assert broken["endpoint"] == "/broken"
    assert set(summary["requests"]) == {
        "count",
        "requests_per_s",
        "error_count",
        "error_rate",
        "status_counts",
        "p50_ms",
        "p95_ms",
        "p99_ms",
    }
    assert summary["requests"]["status_counts"] == {"2xx": 9, "5xx": 3}
    assert summary["agents"]["runs"] == 0
    assert summary["agents"]["p95_ms"] is None
    assert summary["agents"]["success_rate"] is None


def test_after_every_kind_of_write_the_summary_equals_a_fresh_one(tmp_path: Path) -> None:
    # The ranking is updated from the rows that changed; a monitor that never saw a summary
    # reads every row. Writes land in old rows (late data), in the last minute, and in runs.
    clock = [1_000_000.0]
    rng = random.Random(3)
    path = tmp_path / "store.db"
    names = [f"/e{i}" for i in range(30)]

    def record(monitor: Monitor, n: int, age_s: float = 0.0) -> None:
        for _ in range(n):
            monitor.record_request(
                rng.choice(names),
                "GET",
                503 if rng.random() < 0.1 else 200,
                rng.lognormvariate(3, 1),
                timestamp=clock[0] - age_s,
            )

    with Monitor(path, clock=lambda: clock[0], start_flusher=False) as monitor:
        for _ in range(12):  # five minutes of traffic before the first summary
            record(monitor, 200)
            clock[0] += 25
        writes = [
            lambda: record(monitor, 1),  # one request now
            lambda: record(monitor, 50),
            lambda: record(monitor, 5, age_s=200),  # late data in a settled row
            lambda: monitor.record_tool_call("t", 3.0),  # no request changed
            lambda: clock.__setitem__(0, clock[0] + 10),  # the window slides
            lambda: record(monitor, 1, age_s=45),
        ]
        for step in range(30):
            writes[step % len(writes)]()
            incremental = monitor.get_performance_summary("5m")
            with Monitor(path, clock=lambda: clock[0], start_flusher=False) as fresh:
                expected = fresh.get_performance_summary("5m")
            assert incremental.model_dump(exclude={"generated_at"}) == expected.model_dump(
                exclude={"generated_at"}
            ), step
            assert incremental.slowest_endpoints
