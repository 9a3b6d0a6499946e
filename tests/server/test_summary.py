"""The summary: short tables a model can read at once, cheap for a client to check, exact."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from mcp import Client

from perf_mcp import Monitor
from perf_mcp.core.models import SUMMARY_ROWS, PerformanceSummary
from tests.server.mcp_calls import call_ok, table_rows

pytestmark = pytest.mark.anyio

ROW_FIELDS_IN_ORDER = (
    "endpoint",
    "method",
    "count",
    "error_count",
    "error_rate",
    "p50_ms",
    "p95_ms",
    "p99_ms",
)
ROW_FIELDS = set(ROW_FIELDS_IN_ORDER)


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

    slow, broken = table_rows(summary["slowest_endpoints"])
    assert set(slow) == ROW_FIELDS
    assert (slow["endpoint"], slow["count"], slow["error_count"]) == ("/slow", 9, 0)
    assert slow["p50_ms"] == pytest.approx(504.0, rel=0.01)
    most_errors = table_rows(summary["most_errors"])
    assert [e["endpoint"] for e in most_errors] == ["/broken"]
    assert most_errors[0]["error_rate"] == 1.0
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


async def test_lists_travel_as_tables_that_parse_back_into_rows(client: Client) -> None:
    # Column names once, then one array per row in column order: a model reads a quarter
    # less, and a client checks one array per row. The schema says what each cell is.
    batch = [
        {"endpoint": f"/e{i}", "status_code": 500 if i % 2 else 200, "duration_ms": 10.0 * i}
        for i in range(1, 8)
    ]
    await call_ok(client, "record_requests", {"requests": batch})

    result = await client.call_tool("get_performance_summary", {"window": "5m"})
    wire = result.structured_content
    assert wire is not None
    table = wire["slowest_endpoints"]
    assert table["columns"] == list(ROW_FIELDS_IN_ORDER)
    slowest_first = ["/e7", "/e6", "/e5", "/e4", "/e3"]
    assert [row[0] for row in table["rows"]] == slowest_first[:SUMMARY_ROWS]
    assert all(len(row) == len(ROW_FIELDS_IN_ORDER) for row in table["rows"])
    assert [row[0] for row in wire["most_errors"]["rows"]] == ["/e1", "/e3", "/e5", "/e7"]
    assert wire["slowest_requests"]["columns"] == [
        "endpoint",
        "method",
        "status_code",
        "duration_ms",
        "timestamp",
    ]
    assert wire["slowest_requests"]["rows"][0][:4] == ["/e7", "GET", 500, 70.0]

    summary = PerformanceSummary.model_validate(wire)
    assert summary.slowest_endpoints[0].endpoint == "/e7"
    assert summary.slowest_endpoints[0].p50_ms == table["rows"][0][5]
    assert summary.model_dump(mode="json") == wire

    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    schema = tools["get_performance_summary"].output_schema
    columns = schema["properties"]["slowest_endpoints"]["properties"]["columns"]
    assert columns == {"const": list(ROW_FIELDS_IN_ORDER)}


def test_after_every_kind_of_write_the_summary_equals_a_fresh_one(tmp_path: Path) -> None:
    # The summary adds what is still in memory to the ranking it keeps of the stored rows,
    # which it updates from the rows that changed; a monitor that never saw a summary reads
    # every row of the flushed store. Writes land in old rows (late data), in the last
    # minute, in runs and tool calls, before the window (left out), and a flush comes between.
    clock = [1_000_000.0]
    rng = random.Random(3)
    path = tmp_path / "store.db"
    names = [f"/e{i}" for i in range(30)]

    def record(monitor: Monitor, n: int, age_s: float = 0.0) -> None:
        for _ in range(n):
            monitor.record_request(
                rng.choice(names + ["/new" + str(rng.random())] * (rng.random() < 0.05)),
                "GET",
                503 if rng.random() < 0.1 else 200,
                rng.lognormvariate(3, 1),
                timestamp=clock[0] - age_s,
            )

    with Monitor(path, clock=lambda: clock[0], start_flusher=False) as monitor:
        for _ in range(12):  # five minutes of traffic before the first summary
            record(monitor, 200)
            clock[0] += 25
        monitor.flush()
        writes = [
            lambda: record(monitor, 1),  # one request now
            lambda: record(monitor, 50),
            lambda: record(monitor, 5, age_s=200),  # late data in a settled row
            lambda: monitor.record_tool_call("t", rng.uniform(1, 9), success=rng.random() < 0.8),
            lambda: monitor.record_agent_run(
                agent_name="a", duration_ms=rng.uniform(10, 90), input_tokens=7, cost_usd=0.5
            ),
            lambda: clock.__setitem__(0, clock[0] + 10),  # the window slides
            lambda: record(monitor, 1, age_s=45),
            lambda: record(monitor, 3, age_s=900),  # before the window: not in its answer
            monitor.flush,
        ]
        for step in range(45):
            writes[step % len(writes)]()
            writes_before = monitor.storage.writes
            incremental = monitor.get_performance_summary("5m")
            assert monitor.storage.writes == writes_before  # the summary did not flush
            monitor.flush()
            with Monitor(path, clock=lambda: clock[0], start_flusher=False) as fresh:
                expected = fresh.get_performance_summary("5m")
            assert incremental.model_dump(exclude={"generated_at"}) == expected.model_dump(
                exclude={"generated_at"}
            ), step
            assert incremental.slowest_endpoints


def test_a_failed_flush_puts_records_back_and_the_summary_still_counts_them_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The failed write's records are merged back into memory, in a new order beside the ones
    # recorded meanwhile: the summary must neither lose nor double them.
    clock = [1_000_000.0]
    path = tmp_path / "store.db"
    with Monitor(path, clock=lambda: clock[0], start_flusher=False) as monitor:
        for i in range(4):
            for n in range(i + 1):  # 1, 2, 3 and 4 requests: their counts tell them apart
                monitor.record_request(f"/e{i}", "GET", 200, 10.0 + n)
        monitor.get_performance_summary("5m")  # the summary has seen these in memory
        real_write = monitor.storage.write

        def write_then_fail(batch: object) -> None:
            monitor.record_request("/late", "GET", 503, 99.0)  # recorded during the write
            raise OSError("disk full")

        monkeypatch.setattr(monitor.storage, "write", write_then_fail)
        with pytest.raises(OSError, match="disk full"):
            monitor.flush()
        summary = monitor.get_performance_summary("5m")
        monkeypatch.setattr(monitor.storage, "write", real_write)
        monitor.flush()
        with Monitor(path, clock=lambda: clock[0], start_flusher=False) as fresh:
            expected = fresh.get_performance_summary("5m")
        assert summary.requests.count == 11
        assert summary.model_dump(exclude={"generated_at"}) == expected.model_dump(
            exclude={"generated_at"}
        )
