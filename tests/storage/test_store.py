"""The SQLite store: sharing between processes, crashes, restarts, retention, change detection."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from perf_mcp import Monitor

WRITER = textwrap.dedent(
    """
    import sys, time
    from perf_mcp import Monitor

    path, name, n, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    mode = sys.argv[5]
    monitor = Monitor(path, flush_interval_s=interval)
    for i in range(n):
        monitor.record_request(name, "GET", 500 if i % 10 == 0 else 200, float(i % 200 + 1))
    if mode == "close":
        monitor.close()
        print("done", flush=True)
    else:  # wait for the flusher thread, say so, then wait to be killed
        time.sleep(interval * 5)
        print("flushed", flush=True)
        for i in range(n):  # recorded after the flush: allowed to be lost
            monitor.record_request(name, "GET", 200, 1.0)
        time.sleep(3600)
    """
)


def run_writer(path: Path, name: str, n: int, mode: str = "close") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), name, str(n), "0.2", mode],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_two_processes_write_one_file_and_a_third_reads_the_merged_answer(db_path: Path) -> None:
    writers = [run_writer(db_path, "/shared", 20000), run_writer(db_path, "/shared", 20000)]
    for w in writers:
        out, _ = w.communicate(timeout=120)
        assert w.returncode == 0
        assert out.strip() == "done"

    reader = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from perf_mcp import Monitor\n"
            "m = Monitor(sys.argv[1], start_flusher=False)\n"
            "r = m.get_endpoint_stats().endpoints[0]\n"
            "print(r.count, r.error_count, r.status_counts['2xx'], r.max_ms, r.min_ms)",
            str(db_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert reader.stdout.split() == ["40000", "4000", "36000", "200.0", "1.0"]


def test_sigkill_loses_at_most_the_last_flush_interval(db_path: Path) -> None:
    writer = run_writer(db_path, "/killed", 5000, mode="kill")
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "flushed"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()

    with Monitor(db_path, start_flusher=False) as monitor:
        (row,) = monitor.get_endpoint_stats().endpoints
    # All 5,000 flushed before the kill are there; the later ones may be partly there.
    assert 5000 <= row.count <= 10000
    assert row.error_count == 500


def test_restart_keeps_the_data(db_path: Path) -> None:
    with Monitor(db_path, start_flusher=False) as monitor:
        for i in range(100):
            monitor.record_request("/persist", "PUT", 201, float(i + 1))
        monitor.record_agent_run(agent_name="a", duration_ms=5.0, input_tokens=7)
        before = monitor.get_endpoint_stats().endpoints[0]
    with Monitor(db_path, start_flusher=False) as monitor:
        after = monitor.get_endpoint_stats().endpoints[0]
        agents = monitor.get_agent_stats().agents
    assert after == before
    assert (agents[0].agent_name, agents[0].input_tokens) == ("a", 7)


def test_close_flushes_what_was_recorded(db_path: Path) -> None:
    monitor = Monitor(db_path, flush_interval_s=60)
    monitor.record_request("/late", "GET", 200, 1.0)
    monitor.close()
    with Monitor(db_path, start_flusher=False) as reader:
        assert reader.get_performance_summary().requests.count == 1


def test_private_memory_store_is_not_shared(tmp_path: Path) -> None:
    with Monitor(":memory:") as a, Monitor(":memory:") as b:
        a.record_request("/only-a", "GET", 200, 1.0)
        assert a.get_performance_summary().requests.count == 1
        assert b.get_performance_summary().requests.count == 0
    assert list(tmp_path.iterdir()) == []


def test_default_path_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "env" / "store.db"
    monkeypatch.setenv("PERF_MCP_DB", str(path))
    with Monitor() as monitor:
        assert monitor.db_path == str(path)
        monitor.record_request("/x", "GET", 200, 1.0)
    assert path.exists()


def test_retention_expires_old_fine_rows_but_coarse_ones_answer(db_path: Path) -> None:
    now = [1_800_000_000.0]
    with Monitor(db_path, clock=lambda: now[0], start_flusher=False) as monitor:
        monitor.record_request("/kept", "GET", 200, 10.0)
        monitor.flush()
        now[0] += 8 * 3600  # past the 6 h retention of 10 s rows
        monitor.record_request("/kept", "GET", 200, 10.0)
        monitor.flush()
        conn = sqlite3.connect(db_path)
        tiers = dict(
            conn.execute(
                "SELECT tier, count(*) FROM request_buckets b JOIN series s ON s.id = b.series_id "
                "WHERE s.name = '/kept' GROUP BY tier"
            ).fetchall()
        )
        conn.close()
        assert tiers == {10: 1, 60: 2, 3600: 2}
        (row,) = monitor.get_endpoint_stats(window="24h").endpoints
        assert row.count == 2


def test_a_cached_answer_is_dropped_when_another_writer_commits(db_path: Path) -> None:
    """Answers are reused only while the store is unchanged, whoever changed it."""
    with Monitor(db_path, start_flusher=False) as reader, Monitor(db_path) as writer:
        writer.record_request("/a", "GET", 200, 5.0)
        writer.flush()
        first = reader.get_performance_summary()
        assert reader.get_performance_summary() is first  # nothing changed: the same answer
        writer.record_request("/a", "GET", 500, 9.0)
        writer.flush()
        second = reader.get_performance_summary()
        reader.record_request("/b", "GET", 200, 1.0)
        third = reader.get_performance_summary()
    assert (first.requests.count, second.requests.count, third.requests.count) == (1, 2, 3)
    assert second.requests.error_count == 1
