"""What every part of the store shares: one connection, one lock, the writer's source id, and
the write transaction that commits all of a change or none of it."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class StoreBase:
    """The state the table parts (buckets, raw records, alerts, resources) work on."""

    path: str
    source: int  # this connection's writer id: bucket rows are keyed by it
    retention_s: dict[int, float]
    raw_records: int
    _clock: Callable[[], float]
    _lock: threading.RLock
    _conn: sqlite3.Connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT under the lock; on any failure roll back (unless SQLite
        already did) and re-raise."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
