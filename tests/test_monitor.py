"""Monitor: recording, validation, window queries, budgets and thread safety."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from perf_mcp import InvalidInputError, Monitor
from perf_mcp.core.models import AgentRunRecord, RequestSample

T0 = 1_800_000_000.0  # a fixed "now" well inside the retention limits


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def exact_quantile(values: list[float], q: float) -> float:
    """The nearest-rank quantile (the smallest value with at least q of them at or below it)
    that the sketch promises to approximate within 1%."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered) - 1e-9) - 1, 0)]


def assert_close(actual: float | None, expected: float) -> None:
    assert actual is not None
    assert abs(actual - expected) <= 0.01 * expected + 1e-12, (actual, expected)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mon(db_path: Path, clock: FakeClock) -> Iterator[Monitor]:
    with Monitor(db_path, clock=clock, start_flusher=False) as monitor:
        yield monitor


def test_endpoint_percentiles_match_exact_answers(mon: Monitor) -> None:
    rng = random.Random(7)
    latencies = [rng.lognormvariate(3, 1.2) for _ in range(5000)]
    for i, ms in enumerate(latencies):
        mon.record_request("/search", "GET", 500 if i % 50 == 0 else 200, ms, 100, 2000 + i)

    (row,) = mon.get_endpoint_stats().endpoints
    assert (row.endpoint, row.method, row.count) == ("/search", "GET", 5000)
    for q, got in ((0.5, row.p50_ms), (0.9, row.p90_ms), (0.95, row.p95_ms), (0.99, row.p99_ms)):
        assert_close(got, exact_quantile(latencies, q))
    assert row.min_ms == min(latencies)
    assert row.max_ms == max(latencies)
    assert row.mean_ms == pytest.approx(sum(latencies) / 5000)
    assert row.error_count == 100
    assert row.error_rate == pytest.approx(0.02)
    assert row.status_counts == {"2xx": 4900, "5xx": 100}
    assert row.requests_per_s == pytest.approx(5000 / 300)
    assert row.avg_request_bytes == 100
    assert row.avg_response_bytes == pytest.approx(2000 + 4999 / 2)


def test_raw_paths_collapse_ids_into_one_series(mon: Monitor) -> None:
    for user in range(30):
        mon.record_request(f"/users/{user}", "get", 200, 5.0)
    mon.record_request("/users/{user_id}", "GET", 200, 5.0)

    names = {(r.endpoint, r.method, r.count) for r in mon.get_endpoint_stats().endpoints}
    assert names == {("/users/{id}", "GET", 30), ("/users/{user_id}", "GET", 1)}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("/a", "GET", 200, -1.0), "duration_ms"),
        (("/a", "GET", 200, math.nan), "duration_ms"),
        (("/a", "GET", 200, math.inf), "duration_ms"),
        (("/a", "GET", 200, 1e12), "duration_ms"),
        (("/a", "GET", 200, "fast"), "duration_ms"),
        (("/a", "GET", 99, 1.0), "status_code"),
        (("/a", "GET", 600, 1.0), "status_code"),
        (("/a", "GET", 200.0, 1.0), "status_code"),
        (("", "GET", 200, 1.0), "endpoint"),
        (("   ", "GET", 200, 1.0), "endpoint"),
        ((None, "GET", 200, 1.0), "endpoint"),
        (("/a", "", 200, 1.0), "method"),
        (("/a", "GE T", 200, 1.0), "method"),
        (("/a", "GET", 200, 1.0, -5), "request_bytes"),
        (("/a", "GET", 200, 1.0, None, 1 << 50), "response_bytes"),
        (("/a", "GET", 200, 1.0, None, None, T0 + 86400), "timestamp"),
        (("/a", "GET", 200, 1.0, None, None, math.nan), "timestamp"),
    ],
)
def test_rejects_invalid_request_and_records_nothing(
    mon: Monitor, args: tuple[object, ...], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        mon.record_request(*args)  # type: ignore[arg-type]
    assert mon.get_endpoint_stats().endpoints == []
    assert mon.get_performance_summary().requests.count == 0


def test_batch_is_all_or_nothing(mon: Monitor) -> None:
    good = {"endpoint": "/a", "method": "GET", "status_code": 200, "duration_ms": 3.0}
    bad = {**good, "status_code": 700}
    with pytest.raises(InvalidInputError, match="status_code"):
        mon.record_requests([good, good, bad])
    assert mon.get_performance_summary().requests.count == 0

    assert mon.record_requests([good, RequestSample.model_validate(good)]) == 2
    assert mon.get_performance_summary().requests.count == 2


def test_window_excludes_older_data(mon: Monitor, clock: FakeClock) -> None:
    mon.record_request("/old", "GET", 200, 1.0)
    clock.now += 600
    mon.record_request("/new", "GET", 200, 1.0)

    assert [r.endpoint for r in mon.get_endpoint_stats(window="5m").endpoints] == ["/new"]
    assert {r.endpoint for r in mon.get_endpoint_stats(window="15m").endpoints} == {"/old", "/new"}
    with pytest.raises(InvalidInputError, match="window must be one of"):
        mon.get_endpoint_stats(window="2h")  # type: ignore[arg-type]


def test_long_windows_merge_all_tiers_exactly(db_path: Path, clock: FakeClock) -> None:
    """Data spread over 30 hours: the 24 h window counts exactly what lies inside it."""
    rng = random.Random(3)
    start = clock.now
    inside: list[float] = []
    with Monitor(db_path, clock=clock, start_flusher=False) as mon:
        for step in range(30 * 60):  # one request a minute for 30 hours
            clock.now = start + step * 60 + 5
            ms = rng.lognormvariate(4, 1)
            mon.record_request("/batch", "POST", 200, ms)
            if step % 60 == 0:
                mon.flush()
        end = clock.now
        inside = []
        rng = random.Random(3)
        for step in range(30 * 60):
            ms = rng.lognormvariate(4, 1)
            if start + step * 60 + 5 >= end - 86400:
                inside.append(ms)
        (row,) = mon.get_endpoint_stats(window="24h").endpoints
    # The window's start edge is aligned to its 10 s bucket, so its count is exact here.
    assert row.count == len(inside)
    assert_close(row.p95_ms, exact_quantile(inside, 0.95))
    assert_close(row.p50_ms, exact_quantile(inside, 0.5))


def test_series_budget_folds_new_names_into_other(db_path: Path, clock: FakeClock) -> None:
    with Monitor(db_path, clock=clock, series_budget=3, start_flusher=False) as mon:
        for i in range(10):
            mon.record_request(f"/page-{chr(97 + i)}", "GET", 200, 1.0)
        stats = mon.get_endpoint_stats(sort_by="count")
    counts = {r.endpoint: r.count for r in stats.endpoints}
    assert counts == {"/page-a": 1, "/page-b": 1, "/page-c": 1, "__other__": 7}
    assert stats.folded_series == 7


def test_limit_and_sort(mon: Monitor) -> None:
    for i in range(30):
        for _ in range(i + 1):
            mon.record_request(f"/e{i:02d}", "GET", 200, float(i + 1))
    stats = mon.get_endpoint_stats(sort_by="count", limit=5)
    assert [r.endpoint for r in stats.endpoints] == ["/e29", "/e28", "/e27", "/e26", "/e25"]
    assert stats.truncated
    assert stats.total_endpoints == 30
    slow = mon.get_endpoint_stats(sort_by="p95_ms", limit=3)
    assert [r.endpoint for r in slow.endpoints] == ["/e29", "/e28", "/e27"]
    with pytest.raises(InvalidInputError, match="limit"):
        mon.get_endpoint_stats(limit=0)
    with pytest.raises(InvalidInputError, match="sort_by"):
        mon.get_endpoint_stats(sort_by="name")  # type: ignore[arg-type]


def test_agent_runs_tokens_costs_errors_and_tools(mon: Monitor, clock: FakeClock) -> None:
    durations = [100.0 * (i + 1) for i in range(10)]
    for i, ms in enumerate(durations):
        mon.record_agent_run(
            agent_name="planner",
            duration_ms=ms,
            success=i % 5 != 0,
            error_type="TimeoutError" if i % 5 == 0 else None,
            model="claude-sonnet",
            provider="anthropic",
            input_tokens=1000,
            output_tokens=200,
            cache_read_tokens=50,
            cost_usd=0.01,
            tool_calls=[{"tool_name": "search", "duration_ms": 20.0}],
        )
    mon.record_agent_run(
        AgentRunRecord(agent_name="writer", start_time=clock.now - 2, end_time=clock.now)
    )

    stats = mon.get_agent_stats(sort_by="runs")
    planner = stats.agents[0]
    assert planner.agent_name == "planner"
    assert (planner.runs, planner.failures) == (10, 2)
    assert planner.success_rate == pytest.approx(0.8)
    assert (planner.input_tokens, planner.output_tokens, planner.cache_read_tokens) == (
        10000,
        2000,
        500,
    )
    assert planner.cost_usd == pytest.approx(0.1)
    assert [(e.name, e.count) for e in planner.top_errors] == [("TimeoutError", 2)]
    assert [(t.name, t.count) for t in planner.tool_usage] == [("search", 10)]
    assert_close(planner.p50_ms, exact_quantile(durations, 0.5))
    writer = stats.agents[1]
    assert_close(writer.p50_ms, 2000.0)
    (model,) = stats.models
    assert (model.model, model.runs, model.input_tokens) == ("anthropic/claude-sonnet", 10, 10000)

    (tool,) = mon.get_tool_stats().tools
    assert (tool.tool_name, tool.calls, tool.failures) == ("search", 10, 0)
    summary = mon.get_performance_summary()
    assert (summary.agents.runs, summary.agents.failures, summary.tools.calls) == (11, 2, 10)


def test_agent_run_needs_a_duration(mon: Monitor) -> None:
    with pytest.raises(InvalidInputError, match="duration_ms"):
        mon.record_agent_run(agent_name="a")
    with pytest.raises(InvalidInputError, match="agent_name"):
        mon.record_agent_run(agent_name="", duration_ms=1.0)
    with pytest.raises(InvalidInputError, match="input_tokens"):
        mon.record_agent_run(agent_name="a", duration_ms=1.0, input_tokens=-1)
    assert mon.get_agent_stats().agents == []


def test_tool_calls_count_failures_by_error_type(mon: Monitor) -> None:
    for i in range(20):
        mon.record_tool_call("fetch", 10.0 + i, success=i % 4 != 0, error_type="HTTPError")
    with pytest.raises(InvalidInputError, match="duration_ms"):
        mon.record_tool_call("fetch", -3.0)
    (tool,) = mon.get_tool_stats().tools
    assert (tool.calls, tool.failures, tool.error_rate) == (20, 5, 0.25)
    assert [(e.name, e.count) for e in tool.top_errors] == [("HTTPError", 5)]


def test_summary_names_slowest_and_failing_endpoints(mon: Monitor) -> None:
    for _ in range(20):
        mon.record_request("/fast", "GET", 200, 2.0)
        mon.record_request("/slow", "GET", 200, 900.0)
        mon.record_request("/broken", "POST", 503, 40.0)
    summary = mon.get_performance_summary("1m")
    assert summary.requests.count == 60
    assert summary.requests.error_count == 20
    assert summary.slowest_endpoints[0].endpoint == "/slow"
    assert [e.endpoint for e in summary.most_errors] == ["/broken"]
    assert summary.slowest_requests[0].endpoint == "/slow"
    assert summary.slowest_requests[0].duration_ms == 900.0
    assert_close(summary.requests.p99_ms, 900.0)


def test_concurrent_threads_lose_nothing(mon: Monitor) -> None:

    def work(n: int) -> None:
        for i in range(5000):
            mon.record_request(f"/t{n}", "GET", 200, float(i % 100 + 1))
            if i % 1000 == 0:
                mon.flush()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = mon.get_endpoint_stats()
    assert sorted(r.count for r in stats.endpoints) == [5000] * 4
    assert mon.get_performance_summary().requests.count == 20000


def test_a_failed_write_loses_nothing(mon: Monitor, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that cannot be written (disk full, locked) keeps the data for the next flush."""
    real_write = mon.storage.write
    calls = []

    def failing_write(batch: object) -> None:
        calls.append(batch)
        raise OSError("disk full")

    mon.record_request("/kept", "GET", 200, 5.0)
    mon.record_agent_run(agent_name="a", duration_ms=3.0)
    monkeypatch.setattr(mon.storage, "write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        mon.flush()
    mon.record_request("/kept", "GET", 500, 7.0)
    monkeypatch.setattr(mon.storage, "write", real_write)

    (row,) = mon.get_endpoint_stats().endpoints
    assert (row.count, row.error_count, row.max_ms) == (2, 1, 7.0)
    assert mon.get_agent_stats().agents[0].runs == 1
    assert len(calls) == 1


def test_query_filters_are_checked(mon: Monitor) -> None:
    with pytest.raises(InvalidInputError, match="endpoint"):
        mon.get_endpoint_stats(endpoint="")
    with pytest.raises(InvalidInputError, match="method"):
        mon.get_endpoint_stats(method="NOT A METHOD")


def test_flusher_alive_reports_the_background_thread(db_path: Path) -> None:
    with Monitor(db_path, start_flusher=False) as quiet:
        assert quiet.flusher_alive is None
    monitor = Monitor(db_path, flush_interval_s=0.05)
    assert monitor.flusher_alive is True
    monitor.close()
    assert monitor.flusher_alive is False


def test_cached_answer_needs_no_io_and_says_when_the_query_must_run(mon: Monitor) -> None:
    """What the server's event loop asks before it hands a query to a thread."""
    summary = mon.get_performance_summary  # ask for the answer, not compute it
    assert mon.cached_answer(summary) is None  # nothing asked yet: it must run
    mon.record_request("/a", "GET", 200, 5.0)
    first = mon.get_performance_summary()
    assert mon.cached_answer(summary) is first  # current: given at once
    mon.record_request("/a", "GET", 500, 9.0)
    in_memory = mon.cached_answer(summary)  # the summary adds unflushed records itself
    assert in_memory is not None
    assert (in_memory.requests.count, in_memory.requests.error_count) == (2, 1)
    assert mon.storage.writes == 0  # neither summary flushed them
    stats = mon.get_endpoint_stats
    assert mon.cached_answer(stats) is None  # other queries flush first (I/O): they must run
    assert mon.get_endpoint_stats().endpoints[0].count == 2
    assert mon.cached_answer(stats) is not None
    holding, release = threading.Event(), threading.Event()

    def use_the_connection() -> None:
        with mon.storage._lock:
            holding.set()
            release.wait(10)

    other = threading.Thread(target=use_the_connection)
    other.start()
    holding.wait(10)
    assert mon.cached_answer(summary) is None  # another thread has the connection: no waiting
    release.set()
    other.join()
    with pytest.raises(InvalidInputError, match="window"):
        mon.cached_answer(lambda: mon.get_performance_summary("2m"))  # type: ignore[arg-type]
