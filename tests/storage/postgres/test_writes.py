"""Flushes whose connection is cut at COMMIT: kept by the server or not, the flush that
follows counts every request and stores every raw record exactly once. The cut is real: a
proxy between perf-mcp and the server closes the connection at the COMMIT (the fault is the
only thing not real here)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from perf_mcp import Monitor
from perf_mcp.core.window import TierRange
from perf_mcp.storage import FlushBatch, StoreError, open_storage
from perf_mcp.storage.postgres.store import POOL_SIZE
from tests.pg_server import Server, running_server
from tests.storage.test_buckets import T0, request_delta

psycopg = pytest.importorskip("psycopg")


class CommitCutter:
    """A TCP proxy to the server's unix socket. ``cut("after")`` closes the next connection
    that sends COMMIT once the server has answered it (the flush kept, the writer not told);
    ``cut("before")`` closes it instead of passing the COMMIT on (the flush lost)."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.mode: str | None = None
        self.cuts = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self, mode: str) -> None:
        self.mode = mode

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX)
            server.connect(self.socket_path)
            swallow = threading.Event()  # set: the server's next answer never reaches the client
            threading.Thread(target=self._up, args=(client, server, swallow), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, swallow), daemon=True).start()

    def _take(self, chunk: bytes) -> str | None:
        with self._lock:
            if self.mode is None or b"COMMIT" not in chunk:
                return None
            mode, self.mode = self.mode, None
            self.cuts += 1
            return mode

    def _up(self, client: socket.socket, server: socket.socket, swallow: threading.Event) -> None:
        while chunk := _recv(client):
            mode = self._take(chunk)
            if mode == "before":
                break
            if mode == "after":
                swallow.set()
            server.sendall(chunk)
        _close(client, server)

    def _down(self, server: socket.socket, client: socket.socket, swallow: threading.Event) -> None:
        while (chunk := _recv(server)) and not swallow.is_set():
            client.sendall(chunk)
        _close(client, server)

    def close(self) -> None:
        self.listener.close()


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _close(*socks: socket.socket) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


@pytest.fixture
def cutter(postgres_server: Server) -> Iterator[CommitCutter]:
    proxy = CommitCutter(str(postgres_server.home / ".s.PGSQL.5432"))
    yield proxy
    proxy.close()


def through(cutter: CommitCutter, url: str) -> str:
    database = urlsplit(url).path
    return f"postgresql://perf@127.0.0.1:{cutter.port}{database}?sslmode=disable"


def record(monitor: Monitor, n: int) -> None:
    for i in range(n):
        monitor.record_request("/orders", "POST", 200, 10.0 + i)
        monitor.record_agent_run(agent_name="planner", duration_ms=100.0 + i, success=True)


@pytest.mark.parametrize("kept", [True, False], ids=["kept", "lost"])
def test_a_flush_cut_at_commit_is_counted_once(
    postgres_url: str, cutter: CommitCutter, kept: bool
) -> None:
    with Monitor(through(cutter, postgres_url), start_flusher=False) as monitor:
        record(monitor, 2)
        monitor.flush()
        record(monitor, 3)
        cutter.cut("after" if kept else "before")
        with pytest.raises(StoreError, match="lost during COMMIT"):
            monitor.flush()
        assert cutter.cuts == 1
        record(monitor, 4)  # recorded while the flush was in doubt
        monitor.flush()  # asks what the server kept first, then writes the rest once
        (stats,) = monitor.get_endpoint_stats().endpoints
        assert stats.count == 9
        (agent,) = monitor.get_agent_stats().agents
        assert agent.runs == 9
    with psycopg.connect(postgres_url) as conn:
        (runs,) = conn.execute("SELECT count(*) FROM agent_runs").fetchone()
        (flushes,) = conn.execute("SELECT max(flushes) FROM perf_mcp_writes").fetchone()
    assert runs == 9
    assert flushes == 3 if kept else 2


def test_two_flushes_cut_at_commit_in_a_row_count_once(
    postgres_url: str, cutter: CommitCutter
) -> None:
    with Monitor(through(cutter, postgres_url), start_flusher=False) as monitor:
        record(monitor, 1)
        monitor.flush()
        for _ in range(2):  # the second asks about the first (kept), then is cut itself
            record(monitor, 2)
            cutter.cut("after")
            with pytest.raises(StoreError, match="lost during COMMIT; it may have been stored"):
                monitor.flush()
        monitor.flush()
        (stats,) = monitor.get_endpoint_stats().endpoints
        assert stats.count == 5
    with psycopg.connect(postgres_url) as conn:
        (runs,) = conn.execute("SELECT count(*) FROM agent_runs").fetchone()
    assert runs == 5


def test_late_rows_of_a_flush_cut_at_commit_count_once(
    postgres_url: str, cutter: CommitCutter
) -> None:
    """Rows whose bucket ended long ago are read back from the store before a flush adds to
    them: after a kept flush in doubt, the retry adds to what they held before it."""
    now = [T0 + 5.0]
    with open_storage(through(cutter, postgres_url), clock=lambda: now[0]) as store:
        store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(1.0)}}))
        now[0] = T0 + 300.0  # T0's 10 s row is no longer kept in memory after this flush
        store.write(FlushBatch(requests={T0 + 290: {("/b", "GET"): request_delta(1.0)}}))
        cutter.cut("after")
        with pytest.raises(StoreError, match="lost during COMMIT"):
            store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(2.0)}}))
        # The Flusher gives the batch again, merged with what came since
        store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(2.0, 4.0)}}))
        for tier in (10, 60, 3600):
            (a,) = store.request_series([TierRange(tier, T0, T0 + 10)], name="/a")
            assert (tier, a.acc.count, a.acc.sum_ms) == (tier, 3, 7.0)


def until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def test_a_monitor_keeps_recording_while_its_server_restarts(postgres_binaries: Path) -> None:
    with (
        running_server(postgres_binaries) as server,  # its own: this test stops it
        Monitor(server.database("postgres"), flush_interval_s=0.2) as monitor,
    ):
        record(monitor, 2)
        monitor.flush()
        server.stop()
        record(monitor, 3)  # recorded while the flusher's writes fail
        until(lambda: monitor.flush_failure is not None)
        failure = monitor.flush_failure
        assert failure is not None
        assert "cannot be reached" in failure.error
        server.start()
        until(lambda: monitor.flush_failure is None)  # the flusher's thread got through
        (stats,) = monitor.get_endpoint_stats().endpoints
        (agent,) = monitor.get_agent_stats().agents
        assert (stats.count, agent.runs) == (5, 5)


def test_the_pool_size_is_a_url_parameter(postgres_url: str) -> None:
    with open_storage(f"{postgres_url}&pool_size=9") as store:
        assert store.pool_size == 9  # type: ignore[attr-defined]
        store.add_deploy_marker(1.0, "v1", None)  # libpq never saw it: it knows no pool_size
    with open_storage(postgres_url) as store:
        assert store.pool_size == POOL_SIZE  # type: ignore[attr-defined]
    with pytest.raises(StoreError, match=r"pool_size='0' .* from 1 to 100"):
        open_storage(f"{postgres_url}&pool_size=0")
