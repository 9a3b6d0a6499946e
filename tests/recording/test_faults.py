"""A Monitor under store faults, end to end through health_check: what waits for a full,
locked or read-only store stays in memory within its bounds, health says why and what was
dropped, and afterwards the store holds exactly what was recorded minus what was reported
dropped, intact. SIGKILL of a writer mid-flush loses at most what it had not yet flushed."""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from logfire.testing import CaptureLogfire
from mcp import Client

import perf_mcp.monitor
import perf_mcp.recording.pending
from perf_mcp import Monitor
from perf_mcp.server import build_server
from perf_mcp.storage import Storage, StoreError
from tests.logfire_capture import capture_logfire
from tests.server.mcp_calls import call_ok
from tests.store_lock import held_locked

REPO = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000.0  # a multiple of 10: records at NOW - 10 * k start bucket k
PER_BUCKET = 300  # requests per 10 s bucket, each to a new endpoint: a write needs new pages
CALLS_PER_BUCKET = 2


@pytest.fixture(autouse=True)
def capfire() -> CaptureLogfire:
    """The server logs alerts to Logfire: keep them in memory."""
    return capture_logfire()


def record_bucket(monitor: Monitor, k: int) -> None:
    """PER_BUCKET requests (one in ten failing) and CALLS_PER_BUCKET tool calls, k buckets ago."""
    ts = NOW - 10 * k + 1
    for i in range(PER_BUCKET):
        status = 500 if i % 10 == 0 else 200
        monitor.record_request(f"/b{k}/e{i}", "GET", status, 2.0, timestamp=ts)
    for _ in range(CALLS_PER_BUCKET):
        monitor.record_tool_call("sql", 3.0, timestamp=ts)


def fill_the_disk(monitor: Monitor) -> sqlite3.Connection:
    """SQLite's page limit on the monitor's connection: the file cannot grow (fault injection)."""
    conn: sqlite3.Connection = monitor.storage._conn
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
    return conn


def stored(path: Path) -> dict[str, int]:
    """What a fresh reader of the file finds in the last hour, leaving out perf-mcp's own
    health_check calls (recorded as tool calls when they answer); the file must be intact."""
    with Monitor(path, clock=lambda: NOW, start_flusher=False) as reader:
        summary = reader.get_performance_summary("1h")
        endpoints = reader.get_endpoint_stats(window="1h", limit=1)
        tools = reader.get_tool_stats(window="1h")
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        (raw_calls,) = conn.execute(
            "SELECT count(*) FROM tool_calls WHERE tool_name != 'health_check'"
        ).fetchone()
    finally:
        conn.close()
    return {
        "requests": summary.requests.count,
        "errors": summary.requests.error_count,
        "endpoints": endpoints.total_endpoints,
        "calls": sum(t.calls for t in tools.tools if t.tool_name != "health_check"),
        "raw_calls": raw_calls,
    }


async def health(monitor: Monitor) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """health_check through the MCP server, and its components by name."""
    async with Client(build_server(monitor), mode="legacy") as client:
        answer = await call_ok(client, "health_check")
    return answer, {c["name"]: c for c in answer["components"]}


@pytest.mark.anyio
async def test_a_full_disk_keeps_the_newest_buckets_says_so_and_stores_the_rest_once(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(perf_mcp.recording.pending, "MAX_PENDING_BUCKETS", 3)
    monkeypatch.setattr(perf_mcp.recording.pending, "MAX_PENDING_RAW", 4)
    with Monitor(db_path, clock=lambda: NOW, start_flusher=False) as monitor:
        record_bucket(monitor, 9)
        monitor.flush()
        conn = fill_the_disk(monitor)
        for k in (8, 7, 6):
            record_bucket(monitor, k)
        with pytest.raises(StoreError, match="the disk is full"):
            monitor.flush()
        first = monitor.flush_failure
        assert first is not None
        assert (first.failures, first.waiting_buckets) == (1, 3)
        for k in (5, 4):  # five buckets wait: the oldest two are dropped
            record_bucket(monitor, k)
        with pytest.raises(StoreError, match="the disk is full"):
            monitor.flush()
        failing = monitor.flush_failure
        assert failing is not None
        assert (failing.failures, failing.since) == (2, first.since)
        assert (failing.waiting_buckets, failing.waiting_raw) == (3, 4)
        assert monitor.drops == {"samples": 0, "rejected": 0, "raw": 6, "buckets": 2}

        answer, parts = await health(monitor)
        assert answer["status"] == "degraded"
        store = parts["store"]
        assert store["status"] == "degraded"
        assert re.search(r"\((\d+) flushes in a row failed\): could not write to", store["detail"])
        assert "the disk is full" in store["detail"]
        assert "waiting in memory for it: 3 10-second buckets" in store["detail"]
        assert (
            "dropped since start: 2 10-second buckets, 6 single runs and calls" in (store["detail"])
        )
        assert f"store: {store['detail']}" in answer["reasons"]
        assert (
            "2 10-second buckets (the store could not be written" in (parts["recording"]["detail"])
        )

        conn.execute("PRAGMA max_page_count = 1073741823")  # space returns
        monitor.flush()
        assert monitor.flush_failure is None
        _, parts = await health(monitor)
        assert parts["store"]["status"] == "ok", parts["store"]
        drops = monitor.drops

    recorded_buckets = 6  # 9, then 8..4
    counts = stored(db_path)
    assert counts["requests"] == (recorded_buckets - drops["buckets"]) * PER_BUCKET
    assert counts["errors"] == counts["requests"] // 10
    assert counts["endpoints"] == counts["requests"]  # each request had an endpoint of its own
    assert counts["calls"] == (recorded_buckets - drops["buckets"]) * CALLS_PER_BUCKET
    health_calls = 2  # recorded as tool calls too, and dropped alike when no room is left
    conn = sqlite3.connect(db_path)
    (own_raw,) = conn.execute("SELECT count(*) FROM tool_calls WHERE tool_name = 'health_check'")
    conn.close()
    assert counts["raw_calls"] + own_raw[0] == (
        recorded_buckets * CALLS_PER_BUCKET + health_calls - drops["raw"]
    )


@pytest.mark.anyio
async def test_a_lock_held_by_another_process_degrades_health_until_it_is_released(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fault injection: wait 0.2 s for a lock instead of 30 s.
    monkeypatch.setattr(perf_mcp.monitor, "Storage", partial(Storage, busy_timeout_s=0.2))
    with Monitor(db_path, clock=lambda: NOW, start_flusher=False) as monitor:
        record_bucket(monitor, 3)
        monitor.flush()
        with held_locked(db_path):
            record_bucket(monitor, 2)
            for _ in range(2):
                with pytest.raises(StoreError, match="another process holds the store locked"):
                    monitor.flush()
            _, parts = await health(monitor)
            assert parts["store"]["status"] == "degraded"
            assert "another process holds the store locked" in parts["store"]["detail"]
            assert "waiting in memory for it: 1 10-second buckets" in parts["store"]["detail"]
        monitor.flush()
        answer, parts = await health(monitor)
        assert (parts["store"]["status"], parts["recording"]["status"]) == ("ok", "ok")
        assert not [r for r in answer["reasons"] if r.startswith(("store", "recording"))]
        assert monitor.drops == {"samples": 0, "rejected": 0, "raw": 0, "buckets": 0}
    assert stored(db_path) == {
        "requests": 2 * PER_BUCKET,
        "errors": 2 * PER_BUCKET // 10,
        "endpoints": 2 * PER_BUCKET,
        "calls": 2 * CALLS_PER_BUCKET,
        "raw_calls": 2 * CALLS_PER_BUCKET,
    }


@pytest.mark.anyio
async def test_a_read_only_file_is_read_refuses_records_at_the_call_and_says_so(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Monitor(db_path, clock=lambda: NOW, start_flusher=False) as monitor:
        record_bucket(monitor, 1)
    before = stored(db_path)
    bytes_before = db_path.read_bytes()
    real_access = os.access  # fault injection: root may write any file, so say it may not

    def access(target: Any, mode: int, **kwargs: Any) -> bool:
        refused = mode & os.W_OK and Path(target) == db_path
        return not refused and real_access(target, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    with Monitor(db_path, clock=lambda: NOW) as monitor:
        with pytest.raises(StoreError, match="is read-only: this process may not write"):
            monitor.record_request("/late", "GET", 200, 1.0)
        answer, parts = await health(monitor)
        assert monitor.drops == {"samples": 0, "rejected": 0, "raw": 0, "buckets": 0}
    assert answer["status"] == "degraded"
    assert parts["store"]["status"] == "degraded"
    assert parts["store"]["detail"].startswith("read-only: this process may not write the file")
    monkeypatch.undo()
    assert db_path.read_bytes() == bytes_before
    assert (
        before
        == stored(db_path)
        == {
            "requests": PER_BUCKET,
            "errors": PER_BUCKET // 10,
            "endpoints": PER_BUCKET,
            "calls": CALLS_PER_BUCKET,
            "raw_calls": CALLS_PER_BUCKET,
        }
    )


WRITER = textwrap.dedent(
    """
    import sys
    from perf_mcp import Monitor

    monitor = Monitor(sys.argv[1], start_flusher=False)
    recorded = 0
    while True:
        for i in range(2000):
            monitor.record_request(f"/e{i}", "GET", 200, float(i % 97 + 1))
        recorded += 2000
        print("recorded", recorded, flush=True)
        monitor.flush()
        print("flushed", recorded, flush=True)
    """
)


def test_sigkill_during_flushes_keeps_every_acknowledged_flush_and_nothing_more(
    db_path: Path,
) -> None:
    """A writer flushes 2,000 series at a time and reports each flush; it is killed at a
    random moment. The store holds at least what was reported flushed, at most what was
    recorded, and passes integrity_check; five kills in a row on one file."""
    chance = random.Random(11)
    before = 0
    for kill in range(5):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        assert writer.stdout is not None
        flushes = chance.randint(1, 3)
        for line in writer.stdout:  # wait for some flushes, then into the next one
            if line == f"flushed {2000 * flushes}\n":
                break
        assert writer.poll() is None, writer.stderr.read() if writer.stderr else ""
        delay = chance.uniform(0, 0.15)  # a flush of 2,000 series takes about this long
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        rest, _ = writer.communicate(timeout=30)
        lines = [line.split() for line in rest.splitlines()]
        recorded = max([2000 * flushes] + [int(n) for word, n in lines if word == "recorded"])
        flushed = max([2000 * flushes] + [int(n) for word, n in lines if word == "flushed"])
        total = stored_requests(db_path)
        context = f"kill {kill} after {delay:.3f} s: flushed {flushed}, recorded {recorded}"
        assert before + flushed <= total <= before + recorded, (context, total - before)
        before = total


def stored_requests(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    with Monitor(path, start_flusher=False) as reader:
        return reader.get_performance_summary("1h").requests.count


def test_queries_answer_what_the_store_holds_while_it_takes_no_flush(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Monitor(db_path, start_flusher=False) as monitor:
        monitor.record_request("/stored", "GET", 200, 5.0)
        monitor.flush()

        def refuse(batch: object) -> None:
            raise StoreError("could not write: the disk is full")

        monkeypatch.setattr(monitor.storage, "write", refuse)
        monitor.record_request("/waiting", "GET", 200, 7.0)
        (row,) = monitor.get_endpoint_stats().endpoints  # no StoreError: the stored rows
        assert (row.endpoint, row.count) == ("/stored", 1)
        failure = monitor.flush_failure
        assert failure is not None
        assert "disk is full" in failure.error
        monkeypatch.undo()
        assert {e.endpoint for e in monitor.get_endpoint_stats().endpoints} == {
            "/stored",
            "/waiting",
        }
