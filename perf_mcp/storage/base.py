"""What every part of the store shares: one connection, one lock, the writer's source id, and
the write path that commits all of a change or none of it and says why it could not."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from typing import Any, Generic, Protocol, TypeVar

from perf_mcp.storage.schema import StoreError

ROWS_PER_STATEMENT = 500  # times at most 23 columns: within SQLite's 32,766 parameters
# What a user can do about a failed write, by SQLite's primary result code.
_REASONS = {
    sqlite3.SQLITE_FULL: "the disk is full (or the store reached a size limit)",
    sqlite3.SQLITE_IOERR: "the file could not be written (an I/O error: a failing or full disk, "
    "or a file-size limit)",
    sqlite3.SQLITE_BUSY: "another process holds the store locked",
    sqlite3.SQLITE_LOCKED: "another connection holds the store locked",
    sqlite3.SQLITE_READONLY: "the store is read-only",
    sqlite3.SQLITE_CORRUPT: "the file is corrupt",
    sqlite3.SQLITE_CANTOPEN: "the file or its directory cannot be opened",
}


class Cursor(Protocol):
    """What the table parts read from a statement's result."""

    @property
    def rowcount(self) -> int: ...
    @property
    def lastrowid(self) -> int | None: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the table parts use of their connection: a ``sqlite3.Connection``, or the
    PostgreSQL engine's (``postgres.connection``), which runs the same statements."""

    @property
    def in_transaction(self) -> bool: ...
    def execute(self, sql: str, parameters: Any = (), /) -> Cursor: ...
    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...
    def close(self) -> None: ...


T = TypeVar("T")


@dataclass(frozen=True)
class Read(Generic[T]):
    """A statement and what its rows mean: run alone (``StoreBase.read``) or with others
    (``StoreBase.read_all``: one round trip on PostgreSQL). No statement (``sql`` None):
    nothing to ask, the answer is ``decode([])``."""

    sql: str | None
    params: Sequence[Any]
    decode: Callable[[list[Any]], T]


class StoreBase:
    """The state the table parts (series, buckets, raw records, alerts, resources) work on."""

    path: str
    source: int  # this connection's writer id: bucket rows are keyed by it
    read_only: str | None  # why this process cannot write the store (None: it can)
    retention_s: dict[int, float]
    raw_records: int
    _clock: Callable[[], float]
    _lock: threading.RLock
    _conn: Connection

    def read(self, read: Read[T]) -> T:
        """The answer of one read."""
        answer: T = self.read_all(read)[0]
        return answer

    def read_all(self, *reads: Read[Any]) -> list[Any]:
        """The answers of ``reads``, in order, their statements sent together."""
        asked = [(r.sql, r.params) for r in reads if r.sql is not None]
        with self._lock:
            found = iter(self._rows_of_all(asked))
        return [r.decode([] if r.sql is None else next(found)) for r in reads]

    def _rows_of_all(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Any]]:
        """The rows of each statement (under the lock): one after another here; PostgreSQL
        sends them all before reading any answer."""
        return [self._conn.execute(sql, params).fetchall() for sql, params in statements]

    @staticmethod
    def _json_number(column: str, field: str) -> str:
        """SQL reading the number ``field`` of the JSON object in ``column`` (``field``: a
        metric name of ours, never user input)."""
        return f"json_extract({column}, '$.{field}')"

    def read_only_error(self) -> StoreError:
        """What a write to this read-only store is told."""
        return StoreError(
            f"the store {self.path} is read-only: {self.read_only}; queries work, but "
            "nothing can be stored. Give this process write access, or point PERF_MCP_DB "
            "(or --db) at a writable file."
        )

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """The connection, locked, for a change; SQLite's errors become a StoreError saying
        what went wrong (the change is then not stored)."""
        if self.read_only is not None:
            raise self.read_only_error()
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise StoreError(
                    f"could not write to {self.path}: {write_failure(exc)}; "
                    f"nothing of this change was stored ({exc})"
                ) from exc

    def _insert(self, head: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Run ``head`` (``INSERT ... (columns)``) for ``rows``, up to ROWS_PER_STATEMENT rows
        a statement. executemany runs one statement per row, releasing the GIL each time:
        in a busy app each release can wait a switch interval (5 ms) to get it back."""
        if not rows:
            return
        marks = f"({', '.join('?' * len(rows[0]))})"
        for i in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[i : i + ROWS_PER_STATEMENT]
            self._conn.execute(
                f"{head} VALUES {', '.join([marks] * len(chunk))}",
                list(chain.from_iterable(chunk)),
            )

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """BEGIN IMMEDIATE ... COMMIT: all of the change or, whatever failed, none of it."""
        with self._writing() as conn:
            if conn.in_transaction:  # left open by a rollback that failed: start clean
                conn.execute("ROLLBACK")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled back on its own (a full disk, an I/O error).
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise


def write_failure(exc: sqlite3.Error) -> str:
    """Why a write failed, in words a user can act on."""
    code = getattr(exc, "sqlite_errorcode", None)  # absent on errors of the sqlite3 module
    reason = None if code is None else _REASONS.get(code & 0xFF)
    return reason or str(exc)
