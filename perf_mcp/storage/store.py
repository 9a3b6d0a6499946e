"""``Storage``: one process's connection to a store, made of the table parts."""

from __future__ import annotations

import math
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from perf_mcp.core.series import RequestAcc, RunAcc
from perf_mcp.storage.alerts import AlertTables
from perf_mcp.storage.base import Connection, Read
from perf_mcp.storage.buckets import REQUESTS, RUNS
from perf_mcp.storage.folded import FoldedTables
from perf_mcp.storage.markers import MarkerTables
from perf_mcp.storage.past import PastWindowTables
from perf_mcp.storage.raw import RawAgentRun, RawTables, RawToolCall
from perf_mcp.storage.resources import ResourceTables
from perf_mcp.storage.schema import connect
from perf_mcp.storage.slos import SloTables

EXPIRE_EVERY_S = 60.0
_TABLES_SQL = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"


@dataclass
class FlushBatch:
    """What one flush writes: bucket deltas by bucket start, and raw records."""

    requests: dict[int, dict[tuple[str, str], RequestAcc]] = field(default_factory=dict)
    runs: dict[int, dict[tuple[str, str], RunAcc]] = field(default_factory=dict)
    agent_runs: list[RawAgentRun] = field(default_factory=list)
    tool_calls: list[RawToolCall] = field(default_factory=list)
    # (kind, name) of records the series budget folded into __other__: a list, or any
    # collection of distinct pairs (such as a dict of pair -> records)
    folded: Collection[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.requests or self.runs or self.agent_runs or self.tool_calls or self.folded)


class Storage(
    FoldedTables,
    PastWindowTables,
    RawTables,
    AlertTables,
    ResourceTables,
    MarkerTables,
    SloTables,
):
    """One process's connection to a store file (or a private ``:memory:`` store).

    A write that finds the store locked by another process waits up to ``busy_timeout_s``.
    A store this process cannot write opens read-only (``read_only`` says why): queries
    work, writes raise StoreError.

    >>> with Storage(":memory:") as s:
    ...     s.known_names("request")
    []
    """

    def __init__(
        self,
        path: str | Path,
        *,
        retention_s: Mapping[int, float] | None = None,
        raw_records: int = 1000,
        clock: Callable[[], float] = time.time,
        busy_timeout_s: float = 30.0,
    ) -> None:
        self.path = str(path)
        self.retention_s = dict(retention_s or {10: 6 * 3600, 60: 7 * 86400, 3600: 90 * 86400})
        self.raw_records = raw_records
        self.source = secrets.randbits(62)
        self._clock = clock
        self._lock = threading.RLock()
        self._series_ids = {}
        self._totals_ids = {}
        self._open_rows = {REQUESTS.name: {}, RUNS.name: {}}
        self._forgotten_before = -math.inf
        self._last_expiry = 0.0
        self.last_flush_at: float | None = None
        self.writes = 0  # successful flushes through this connection
        self._conn, self.read_only = self._connect(busy_timeout_s)

    def _connect(self, busy_timeout_s: float) -> tuple[Connection, str | None]:
        """Open the store: the connection, and why it is read-only (None: writable)."""
        return connect(self.path, busy_timeout_s)

    def close(self) -> None:
        """Close the connection (the Monitor flushes before calling this)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, batch: FlushBatch) -> None:
        """Add one flush's deltas to every tier's rows and store the raw records: all of it
        or, if anything fails, none of it (a retry of the same batch then counts it once)."""
        with self._lock:  # held until the memory of the store matches it again
            now = self._clock()
            expire = now - self._last_expiry >= EXPIRE_EVERY_S
            with self._transaction():
                new_ids = self._resolve_series(
                    [REQUESTS.series_key(key) for rows in batch.requests.values() for key in rows]
                    + [RUNS.series_key(key) for rows in batch.runs.values() for key in rows]
                )
                ids = {**self._series_ids, **new_ids}
                requests = self._stage_rows(REQUESTS, batch.requests, ids)
                runs = self._stage_rows(RUNS, batch.runs, ids)
                self._write_raw(batch.requests, batch.agent_runs, batch.tool_calls)
                self._write_folded(batch.folded, now)
                if expire:
                    self._expire_buckets(now)
                    self._expire_resources(now)
                    self._expire_alerts(now)
                    self._expire_folded(now)
            # Committed: only now may the memory of what the store holds move on.
            self._series_ids.update(new_ids)
            self._cache_rows(REQUESTS, requests, now)
            self._cache_rows(RUNS, runs, now)
            if expire:
                self._last_expiry = now
            self.last_flush_at = now
            self.writes += 1

    def data_version(self, *, wait: bool = True) -> tuple[int, int] | None:
        """Changes whenever any connection (this one, or another process's) wrote data.

        ``wait=False``: None instead of waiting while this process uses the connection.
        """
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            return self.read(self.data_version_read())
        finally:
            self._lock.release()

    def data_version_read(self) -> Read[tuple[int, int]]:
        """``data_version`` as a Read, to send with others: read before them, so it is no
        newer than what they read."""
        return Read("PRAGMA data_version", (), lambda rows: (rows[0][0], self.writes))

    def schema_version(self) -> int:
        """The store's schema version (``SCHEMA_VERSION`` of its engine once opened)."""
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def table_sizes(self) -> list[tuple[str, int, int | None]]:
        """(table, rows, bytes with its indexes or None where unknown) of every table, the
        bucket tables also per tier (``request_buckets, tier 10 s``), largest first."""
        with self._lock:
            names = [n for (n,) in self._conn.execute(_TABLES_SQL)]
            try:
                stat = "SELECT tbl_name, sum(pgsize) FROM dbstat JOIN sqlite_master USING (name)"
                used = dict(self._conn.execute(f"{stat} GROUP BY tbl_name").fetchall())
            except sqlite3.OperationalError:  # a SQLite built without the dbstat table
                used = {}
            return self._sizes(names, used)

    def _sizes(
        self, names: list[str], used: Mapping[str, int]
    ) -> list[tuple[str, int, int | None]]:
        sizes: list[tuple[str, int, int | None]] = []
        for name in sorted(names, key=lambda name: (-used.get(name, 0), name)):
            (rows,) = self._conn.execute(f"SELECT count(*) FROM {name}").fetchone()
            sizes.append((name, int(rows), used.get(name)))
            if name in (REQUESTS.name, RUNS.name):
                tiers = self._conn.execute(
                    f"SELECT tier, count(*) FROM {name} GROUP BY tier ORDER BY tier"
                )
                sizes += [(f"{name}, tier {tier} s", int(n), None) for tier, n in tiers]
        return sizes

    def file_size_bytes(self) -> int:
        """Size of the database file and its WAL (0 for ``:memory:``)."""
        if self.path == ":memory:":
            return 0
        return sum(
            p.stat().st_size for p in (Path(self.path), Path(self.path + "-wal")) if p.exists()
        )
