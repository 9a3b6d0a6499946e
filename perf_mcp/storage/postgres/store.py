"""``PostgresStorage``: the store on a PostgreSQL database, shared by processes on many hosts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from perf_mcp.storage.base import Connection, Read
from perf_mcp.storage.engine import without_password
from perf_mcp.storage.postgres.connection import CommitInDoubt, PgConnection, failure
from perf_mcp.storage.postgres.schema import prepare
from perf_mcp.storage.postgres.tables import PgAlerts, PgBuckets
from perf_mcp.storage.postgres.writes import PgWrites
from perf_mcp.storage.schema import StoreError

POOL_SIZE = 4  # connections per process: the flusher, queries, the alert manager
POOL_PARAMETER = "pool_size"  # in the URL: ?pool_size=8 (perf-mcp's, not given to libpq)
MAX_POOL_SIZE = 100
_IN_SCHEMA = (  # what lies in the schema perf-mcp works in
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema()"
)
_OURS = f"{_IN_SCHEMA} AND c.relkind = 'r'"  # every table holding rows, partitions too
# Tables as perf-mcp names them: a partitioned table (its partitions' bytes summed), or a plain one
_TABLES = (
    "SELECT c.relname, coalesce((SELECT sum(pg_total_relation_size(t.relid)) "
    "FROM pg_partition_tree(c.oid) t), pg_total_relation_size(c.oid)) "
    f"{_IN_SCHEMA} AND c.relkind IN ('r', 'p') "
    "AND NOT c.relispartition"
)


def pool_size(url: str) -> tuple[str, int]:
    """``url`` without perf-mcp's ``pool_size`` parameter, and the pool size it asks for."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    asked = [value for key, value in query if key == POOL_PARAMETER]
    if not asked:
        return url, POOL_SIZE
    rest = urlencode([(key, value) for key, value in query if key != POOL_PARAMETER])
    size = asked[-1]
    if not size.isdigit() or not 1 <= int(size) <= MAX_POOL_SIZE:
        raise StoreError(
            f"{POOL_PARAMETER}={size!r} in the store URL is not a number of connections from 1 "
            f"to {MAX_POOL_SIZE}; leave it out for {POOL_SIZE}"
        )
    return urlunsplit(parts._replace(query=rest)), int(size)


class PostgresStorage(PgAlerts, PgBuckets, PgWrites):
    """The store in a PostgreSQL database (``PERF_MCP_DB=postgresql://user@host/db``).

    The same tables, rows keyed by writer and semantics as the SQLite store: each process
    writes only its own bucket rows, and queries merge every writer's. ``busy_timeout_s``
    bounds the wait for a pooled connection; ``?pool_size=N`` in the URL sets how many
    connections this process keeps (``POOL_SIZE`` by default).
    """

    def __init__(self, url: str, **options: Any) -> None:
        self._url, self.pool_size = pool_size(url)
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
        self._pg = PgConnection(self._url, self.path, self.pool_size, busy_timeout_s)
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
                    conn.execute(  # and, for a flush, its number (see writes.py)
                        "INSERT INTO perf_mcp_writes (source, writes, flushes) "
                        "VALUES (%s, 1, %s) ON CONFLICT (source) DO UPDATE SET "
                        "writes = perf_mcp_writes.writes + 1, "
                        "flushes = greatest(perf_mcp_writes.flushes, EXCLUDED.flushes)",
                        (self.source, self._flush_number()),
                    )
                    yield self._pg
            except psycopg.Error as exc:
                stored = (
                    "it may have been stored (the next flush asks the server and writes it once)"
                    if isinstance(exc, CommitInDoubt)
                    else "nothing of this change was stored"
                )
                raise StoreError(
                    f"could not write to {self.path}: {failure(exc)}; {stored} ({exc})"
                ) from exc

    _transaction = _writing  # every change is one transaction already

    def _rows_of_all(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Any]]:
        return self._pg.execute_all(statements)

    @staticmethod
    def _json_number(column: str, field: str) -> str:
        return f"({column}::jsonb ->> '{field}')::float8"

    def data_version(self, *, wait: bool = True) -> tuple[int, int] | None:
        """Changes whenever any process committed a change. ``wait=False``: None (asking is a
        round trip to the server, not for an event loop)."""
        return self.read(self.data_version_read()) if wait else None

    def data_version_read(self) -> Read[tuple[int, int]]:
        return Read(
            "SELECT coalesce(sum(writes), 0) FROM perf_mcp_writes",
            (),
            lambda rows: (int(rows[0][0]), self.writes),
        )

    def schema_version(self) -> int:
        (version,) = self._pg.execute("SELECT version FROM perf_mcp_schema").fetchone()
        return int(version)

    def table_sizes(self) -> list[tuple[str, int, int | None]]:
        used = {name: int(size or 0) for name, size in self._pg.execute(_TABLES).fetchall()}
        return self._sizes(sorted(used), used)

    def file_size_bytes(self) -> int:
        """What perf-mcp's tables and their indexes take on the server."""
        (size,) = self._pg.execute(
            f"SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) {_OURS}"
        ).fetchone()
        return int(size)
