"""Bucket rows: one writer for requests and runs adds each delta to every tier exactly once
(on both engines: ``location`` is a SQLite file or a PostgreSQL database)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from perf_mcp.core.pricing import REPORTED
from perf_mcp.core.series import RequestAcc, RunAcc
from perf_mcp.core.window import TierRange
from perf_mcp.storage import FlushBatch, Storage, open_storage

T0 = 1_800_000_000  # a multiple of 3600


def request_delta(*durations: float, status: int = 200, ts: int = T0) -> RequestAcc:
    acc = RequestAcc()
    for i, ms in enumerate(durations):
        acc.add_samples([(ts + i, "", "", status, ms, 100, None)])
    return acc


def run_delta(*durations: float, error: str | None = None) -> RunAcc:
    acc = RunAcc()
    for ms in durations:
        acc.add_run(ms, error, error is not None, (10, 5, 0, 0), 0.5, REPORTED, ["search"])
    return acc


def hour(tier: int) -> list[TierRange]:
    return [TierRange(tier, T0, T0 + 3600)]


@pytest.mark.parametrize("tier", [10, 60, 3600])
def test_every_tier_holds_the_sum_of_all_flushes_also_after_a_reopen(
    location: str, tier: int
) -> None:
    with open_storage(location, clock=lambda: T0 + 30) as store:
        store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(5.0, 7.0)}}))
        store.write(FlushBatch(requests={T0 + 10: {("/a", "GET"): request_delta(9.0)}}))
    with open_storage(location, clock=lambda: T0 + 40) as store:  # a new writer: its own rows
        store.write(FlushBatch(requests={T0 + 20: {("/a", "GET"): request_delta(1.0, status=503)}}))
        (series,) = store.request_series(hour(tier))
        store.fill_histograms("request_buckets", hour(tier), [series])
    acc = series.acc
    assert (series.name, series.method) == ("/a", "GET")
    assert (acc.count, acc.sum_ms, acc.min_ms, acc.max_ms) == (4, 22.0, 1.0, 9.0)
    assert type(acc.count) is int  # PostgreSQL's SUM of BIGINT is NUMERIC: read as SQLite's int
    assert acc.status_classes() == {"2xx": 3, "5xx": 1}
    assert (acc.req_bytes, acc.req_n, acc.resp_n) == (400, 4, 0)
    assert acc.hist.count == 4


@pytest.mark.parametrize("tier", [10, 60, 3600])
def test_runs_keep_tokens_cost_and_labels_per_tier(location: str, tier: int) -> None:
    with open_storage(location, clock=lambda: T0 + 30) as store:
        store.write(FlushBatch(runs={T0: {("agent", "a"): run_delta(10.0, error="Timeout")}}))
        store.write(FlushBatch(runs={T0 + 10: {("agent", "a"): run_delta(30.0, 20.0)}}))
        (series,) = store.run_series("agent", hour(tier))
    acc = series.acc
    assert (acc.count, acc.failures, acc.sum_ms, acc.min_ms, acc.max_ms) == (3, 1, 60.0, 10.0, 30.0)
    assert (acc.input_tokens, acc.output_tokens, acc.cost_usd, acc.tool_calls) == (30, 15, 1.5, 3)
    assert (acc.errors, acc.tools) == ({"Timeout": 1}, {"search": 3})


def test_a_flush_of_many_run_series_keeps_every_column(location: str) -> None:
    """Enough rows to go in bulk (PostgreSQL: binary COPY): numbers, labels and the result
    size histogram, present on some series and absent on others, come back as written."""
    deltas = {}
    for i in range(60):
        acc = deltas[("tool", f"t{i}")] = run_delta(
            float(i + 1), error="Timeout" if i % 2 else None
        )
        if i % 3:
            acc.add_result(100 * i)
    with open_storage(location, clock=lambda: T0 + 30) as store:
        store.write(FlushBatch(runs={T0: deltas}))
        found = {s.name: s.acc for s in store.run_series("tool", hour(60))}
    assert found.keys() == {name for _, name in deltas}
    for (_, name), written in deltas.items():
        acc = found[name]
        assert (acc.count, acc.failures, acc.sum_ms, acc.cost_usd, acc.input_tokens) == (
            1, written.failures, written.sum_ms, 0.5, 10,
        )  # fmt: skip
        assert (acc.errors, acc.tools) == (written.errors, {"search": 1})
        sizes = None if acc.result_hist is None else acc.result_hist.count
        assert (sizes, acc.result_chars) == (written.result_hist and 1, written.result_chars)


def test_a_histogram_table_that_does_not_exist_is_named(location: str) -> None:
    with open_storage(location) as store, pytest.raises(ValueError, match="request_buckets"):
        store.histograms("buckets; DROP TABLE series", hour(10), [1])


def test_a_flush_of_many_series_is_a_few_statements(db_path: Path) -> None:
    """2,000 new series, then new 10 s, minute and hour rows: a few dozen statements, not one
    per series or row (each releases the GIL, and in a busy app may wait ~5 ms for it)."""
    now = [T0 + 3590.0]
    with Storage(db_path, clock=lambda: now[0]) as store:
        statements: list[str] = []
        store._conn.set_trace_callback(statements.append)  # observing, not changing
        for ts in (T0 + 3590, T0 + 3600):  # the second starts a new hour
            now[0] = ts + 5.0
            deltas = {(f"/e{i}", "GET"): request_delta(float(i % 50 + 1)) for i in range(2000)}
            statements.clear()
            store.write(FlushBatch(requests={ts: deltas}))
            assert len(statements) <= 60, [s[:60] for s in statements]


def test_late_data_for_a_forgotten_row_adds_to_what_the_store_holds(location: str) -> None:
    now = [T0 + 5.0]
    with open_storage(location, clock=lambda: now[0]) as store:
        store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(5.0)}}))
        now[0] = T0 + 600.0  # the 10 s and minute rows of T0 are forgotten by now
        store.write(FlushBatch(requests={T0 + 590: {("/a", "GET"): request_delta(1.0)}}))
        store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(7.0)}}))
        first_bucket = [TierRange(10, T0, T0 + 10)]
        (series,) = store.request_series(first_bucket)
        (whole,) = store.request_series(hour(3600))
    assert (series.acc.count, series.acc.sum_ms) == (2, 12.0)
    assert (whole.acc.count, whole.acc.sum_ms) == (3, 13.0)


def test_writes_from_several_threads_add_up(location: str) -> None:
    with open_storage(location, clock=lambda: T0 + 5) as store:

        def writer() -> None:
            for _ in range(50):
                store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(3.0)}}))

        threads = [threading.Thread(target=writer) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        counts = [store.request_series(hour(tier))[0].acc.count for tier in (10, 60, 3600)]
    assert counts == [200, 200, 200]
