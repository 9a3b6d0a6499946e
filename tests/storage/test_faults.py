"""Faults while writing: a flush is stored whole or not at all, a retry stores it exactly once,
and the file stays sound. Each test reads back exactly what was written once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from perf_mcp import Monitor
from perf_mcp.core.pricing import REPORTED
from perf_mcp.core.series import RequestAcc, RunAcc
from perf_mcp.core.window import TierRange
from perf_mcp.storage import FlushBatch, Storage, StoreError
from tests.store_lock import held_locked

T0 = 1_800_000_000  # a multiple of 3600
HOUR = [TierRange(3600, T0, T0 + 3600)]


def batch(endpoints: int, ts: int = T0, prefix: str = "/e") -> FlushBatch:
    """One request per endpoint (count 1 each, plus the total), one agent run, one tool call."""
    total, requests = RequestAcc(), {}
    for i in range(endpoints):
        acc = requests[(f"{prefix}{i}", "GET")] = RequestAcc()
        acc.add_samples([(ts, "", "", 200, float(i % 97 + 1), None, None)])
        total.merge(acc)
    requests[("*", "")] = total
    run = RunAcc()
    run.add_run(12.0, None, False, (3, 4, 0, 0), 0.01, REPORTED, [])
    return FlushBatch(
        requests={ts: requests},
        runs={ts: {("agent", "a"): run}},
        agent_runs=[
            (ts, "a", 12.0, True, None, None, None, 3, 4, 0, 0, 0.01, 0, None, None, "reported")
            + (None, None)
        ],
        tool_calls=[(ts, "t", "a", 1.0, True, None, None, None)],
    )


def stored_counts(path: Path) -> dict[str, int]:
    """What a fresh reader finds: request totals, endpoints, runs and raw rows."""
    with Storage(path) as store:
        (total,) = store.request_series(HOUR, totals=True)
        endpoints = store.request_series(HOUR)
        (agent,) = store.run_series("agent", HOUR)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        raw = conn.execute(
            "SELECT (SELECT count(*) FROM agent_runs), (SELECT count(*) FROM tool_calls)"
        ).fetchone()
    finally:
        conn.close()
    return {
        "requests": total.acc.count,
        "endpoint_requests": sum(s.acc.count for s in endpoints),
        "endpoints": len(endpoints),
        "runs": agent.acc.count,
        "agent_runs": raw[0],
        "tool_calls": raw[1],
    }


def expected(*endpoints: int) -> dict[str, int]:
    n = sum(endpoints)
    k = len(endpoints)
    return {
        "requests": n,
        "endpoint_requests": n,
        "endpoints": max(endpoints),
        "runs": k,
        "agent_runs": k,
        "tool_calls": k,
    }


def test_a_full_disk_stores_nothing_and_the_retry_stores_it_once(db_path: Path) -> None:
    store = Storage(db_path, clock=lambda: T0 + 5)
    store.write(batch(10))
    conn = store._conn  # fault injection: SQLite's page limit on this connection
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    big = batch(2000)
    for _ in range(3):
        with pytest.raises(StoreError, match="the disk is full") as failure:
            store.write(big)
        assert "nothing of this change was stored" in str(failure.value)
        assert not conn.in_transaction
    assert store.request_series(HOUR, totals=True)[0].acc.count == 10  # still readable
    conn.execute("PRAGMA max_page_count = 1073741823")
    store.write(big)
    store.write(batch(5))
    store.close()
    assert stored_counts(db_path) == expected(10, 2000, 5)


CHILD = textwrap.dedent(
    """
    import json, os, resource, signal, sys
    from perf_mcp.storage import Storage, StoreError
    from tests.storage.test_faults import T0, batch

    path = sys.argv[1]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
    store = Storage(path, clock=lambda: T0 + 5)
    store.write(batch(10))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    size = max(os.path.getsize(path + suffix) for suffix in ("", "-wal"))
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 4096, hard))
    errors = []
    for _ in range(3):
        try:
            store.write(batch(2000))
        except StoreError as exc:
            errors.append(str(exc))
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    store.write(batch(2000))
    store.close()
    print(json.dumps(errors))
    """
)


def test_a_file_size_limit_gives_a_clean_error_and_exact_counts_after(db_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(db_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    assert child.returncode == 0, child.stderr
    errors = json.loads(child.stdout)
    assert len(errors) == 3
    assert all("could not be written" in e or "disk is full" in e for e in errors), errors
    assert stored_counts(db_path) == expected(10, 2000)


def test_a_lock_held_by_another_process_fails_the_write_until_released(db_path: Path) -> None:
    store = Storage(db_path, clock=lambda: T0 + 5, busy_timeout_s=0.2)
    store.write(batch(10))
    with held_locked(db_path):
        for _ in range(2):
            with pytest.raises(StoreError, match="another process holds the store locked"):
                store.write(batch(50))
    store.write(batch(50))
    store.close()
    assert stored_counts(db_path) == expected(10, 50)


def test_new_series_of_a_failed_write_are_created_by_its_retry(db_path: Path) -> None:
    """Series ids of a rolled-back write are not remembered: the retry makes the rows again."""
    store = Storage(db_path, clock=lambda: T0 + 5)
    store.write(batch(1))
    conn = store._conn  # fault injection, as above
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
    fresh = batch(500, prefix="/new")
    with pytest.raises(StoreError):
        store.write(fresh)
    conn.execute("PRAGMA max_page_count = 1073741823")
    store.write(fresh)
    assert set(store.known_names("request", limit=1000)) == {"/e0"} | {
        f"/new{i}" for i in range(500)
    }
    store.close()
    counts = stored_counts(db_path)
    assert (counts["requests"], counts["endpoints"]) == (501, 501)


def test_a_monitor_retrying_through_a_full_disk_stores_every_record_once(db_path: Path) -> None:
    """Issue 11's reproduction: 3,001 recorded, five failed flushes, then space returns."""
    with Monitor(db_path, start_flusher=False) as monitor:
        monitor.record_request("/warm", "GET", 200, 1.0)
        monitor.flush()
        conn = monitor.storage._conn  # fault injection, as above
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
        for i in range(3000):
            monitor.record_request(f"/new-{i % 400}", "GET", 500 if i % 10 == 0 else 200, 2.0)
        for _ in range(5):
            with pytest.raises(StoreError, match="the disk is full"):
                monitor.flush()
        conn.execute("PRAGMA max_page_count = 1073741823")
        monitor.flush()
        stats = monitor.get_endpoint_stats(limit=500)
    assert sum(row.count for row in stats.endpoints) == 3001
    assert sum(row.error_count for row in stats.endpoints) == 300
    assert stats.total_endpoints == 401
    check = sqlite3.connect(db_path)
    assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    check.close()
