"""``PostgresStorage``: the store on a PostgreSQL database, shared by processes on many hosts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from perf_mcp.storage.base import Connection
from perf_mcp.storage.engine import without_password
from perf_mcp.storage.postgres.connection import PgConnection, failure
from perf_mcp.storage.postgres.schema import prepare
from perf_mcp.storage.postgres.tables import PgAlerts, PgBuckets
from perf_mcp.storage.schema import StoreError
from perf_mcp.storage.store import Storage

POOL_SIZE = 4  # connections per process: the flusher, queries, the alert manager
EXPIRY_LOCK = 0x70657267  # one writer at a time deletes expired rows
_OURS = (  # perf-mcp's tables: those of the schema it works in
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'r' AND n.nspname = current_schema()"
)


class PostgresStorage(PgAlerts, PgBuckets, Storage):
    """The store in a PostgreSQL database (``PERF_MCP_DB=postgresql://user@host/db``).

    The same tables, rows keyed by writer and semantics as the SQLite store: each process
    writes only its own bucket rows, and queries merge every writer's. ``busy_timeout_s``
    bounds the wait for a pooled connection.
    """

    def __init__(self, url: str, **options: Any) -> None:
        self._url = url
        self._pg: PgConnection
        super().__init__(without_password(url), **options)

    def _connect(self, busy_timeout_s: float) -> tuple[Connection, str | None]:
        try:  # one connection first: a server that cannot be reached fails at once
            with psycopg.connect(
                self._url, autocommit=True, connect_timeout=max(1, round(busy_timeout_s))
            ) as conn:
                read_only = prepare(conn, self.path)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot use the PostgreSQL store {self.path}: {failure(exc)} ({exc})"
            ) from exc
        self._pg = PgConnection(self._url, self.path, POOL_SIZE, busy_timeout_s)
        self._pg.pool.open()
        return self._pg, read_only

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """One transaction, counted in ``perf_mcp_writes`` so every reader's answer cache sees
        the change; psycopg's errors become a StoreError saying what went wrong."""
        if self.read_only is not None:
            raise self.read_only_error()
        with self._lock:
            try:
                with self._pg.transaction() as conn:
                    conn.execute(
                        "INSERT INTO perf_mcp_writes VALUES (%s, 1) ON CONFLICT (source) "
                        "DO UPDATE SET writes = perf_mcp_writes.writes + 1",
                        (self.source,),
                    )
                    yield self._pg
            except psycopg.Error as exc:
                raise StoreError(
                    f"could not write to {self.path}: {failure(exc)}; "
                    f"nothing of this change was stored ({exc})"
                ) from exc

    _transaction = _writing  # every change is one transaction already

    @staticmethod
    def _json_number(column: str, field: str) -> str:
        return f"({column}::jsonb ->> '{field}')::float8"

    def _expire_buckets(self, now: float) -> None:
        """Only the writer that takes the expiry lock deletes (the others would wait for its
        row locks to delete nothing more); another writer's next flush does it otherwise."""
        (mine,) = self._conn.execute(
            "SELECT pg_try_advisory_xact_lock(?)", (EXPIRY_LOCK,)
        ).fetchone()
        if mine:
            super()._expire_buckets(now)

    def data_version(self, *, wait: bool = True) -> tuple[int, int] | None:
        """Changes whenever any process committed a change. ``wait=False``: None (asking is a
        round trip to the server, not for an event loop)."""
        if not wait:
            return None
        (total,) = self._pg.execute(
            "SELECT coalesce(sum(writes), 0) FROM perf_mcp_writes"
        ).fetchone()
        return int(total), self.writes

    def schema_version(self) -> int:
        (version,) = self._pg.execute("SELECT version FROM perf_mcp_schema").fetchone()
        return int(version)

    def table_sizes(self) -> list[tuple[str, int, int | None]]:
        used = dict(
            self._pg.execute(f"SELECT c.relname, pg_total_relation_size(c.oid) {_OURS}").fetchall()
        )
        return self._sizes(sorted(used), used)

    def file_size_bytes(self) -> int:
        """What perf-mcp's tables and their indexes take on the server."""
        (size,) = self._pg.execute(
            f"SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) {_OURS}"
        ).fetchone()
        return int(size)
