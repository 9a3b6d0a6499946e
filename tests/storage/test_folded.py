"""Folded names: exact counts for any window, and a sample that stays bounded on disk."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from perf_mcp import Monitor
from perf_mcp.core.series import OTHER, RequestAcc, RunAcc
from perf_mcp.storage import FlushBatch, Storage
from perf_mcp.storage.folded import FOLDED_NAMES_KEPT

T0 = 1_800_000_000  # a multiple of 3600


def folded_batch(ts: int, requests: int, tools: int, names: list[tuple[str, str]]) -> FlushBatch:
    """``requests`` folded requests and ``tools`` folded tool calls in the bucket at ``ts``."""
    acc, run = RequestAcc(), RunAcc()
    for i in range(requests):
        acc.add_samples([(ts, "", "", 200, 1.0 + i, None, None)])
    for _ in range(tools):
        run.add(2.0, None, False)
    runs = {ts: {("tool", OTHER): run}} if tools else {}
    return FlushBatch(requests={ts: {(OTHER, "GET"): acc}}, runs=runs, folded=names)


def test_folded_counts_are_exact_for_a_window_and_in_all(db_path: Path) -> None:
    now = [T0 + 7200.0]
    with Storage(db_path, clock=lambda: now[0]) as store:
        store.write(folded_batch(T0, 5, 2, [("request", "GET /a")] * 5))  # two hours ago
        store.write(folded_batch(T0 + 7000, 3, 0, [("request", "GET /b")] * 3))
        store.write(folded_batch(T0 + 7190, 4, 1, [("request", "GET /c")] * 4))
        assert store.folded_counts() == {"request": 12, "tool": 3}
        assert store.folded_counts(since=T0 + 7200 - 300) == {"request": 7, "tool": 1}
        assert store.folded_counts(since=T0 + 7200 - 5) == {"request": 4, "tool": 1}
        assert store.folded_counts(since=T0 + 7300) == {}


def test_the_sample_of_names_keeps_the_newest_per_kind(db_path: Path) -> None:
    now = [T0 + 5.0]
    with Storage(db_path, clock=lambda: now[0]) as store:
        for flush in range(5):
            now[0] = T0 + 5.0 + flush
            names = [("request", f"GET /f{flush}-{i}") for i in range(FOLDED_NAMES_KEPT)]
            store.write(folded_batch(T0, 1, 0, names + [("tool", f"t{flush}")]))
        newest = store.folded_names("request", limit=FOLDED_NAMES_KEPT)
        assert store.folded_names("tool") == ["t4", "t3", "t2", "t1", "t0"]
    assert sorted(newest) == sorted(f"GET /f4-{i}" for i in range(FOLDED_NAMES_KEPT))
    conn = sqlite3.connect(db_path)
    kept = dict(conn.execute("SELECT kind, count(*) FROM folded_names GROUP BY kind").fetchall())
    conn.close()
    assert kept == {"request": FOLDED_NAMES_KEPT, "tool": 5}


def test_sampled_names_expire_with_the_longest_kept_buckets(db_path: Path) -> None:
    now = [T0 + 5.0]
    retention = {10: 3600.0, 60: 86400.0, 3600: 7 * 86400.0}
    with Storage(db_path, clock=lambda: now[0], retention_s=retention) as store:
        store.write(folded_batch(T0, 1, 0, [("request", "GET /old")]))
        now[0] += 8 * 86400
        store.write(folded_batch(int(now[0]) // 10 * 10, 1, 0, [("request", "GET /new")]))
        assert store.folded_names("request") == ["GET /new"]
        assert store.folded_counts() == {"request": 1}


def test_a_monitor_folding_many_names_counts_them_and_keeps_a_bounded_sample(
    db_path: Path,
) -> None:
    names = 5 * FOLDED_NAMES_KEPT
    with Monitor(db_path, series_budget=10, start_flusher=False) as monitor:
        for i in range(names):
            monitor.record_request(f"/item-{i}", "GET", 200, 1.0)
            if i % 1000 == 999:
                monitor.flush()
        stats = monitor.get_endpoint_stats(window="1h")
    assert stats.folded_series == names - 10
    conn = sqlite3.connect(db_path)
    (kept,) = conn.execute("SELECT count(*) FROM folded_names").fetchone()
    conn.close()
    assert kept == FOLDED_NAMES_KEPT
