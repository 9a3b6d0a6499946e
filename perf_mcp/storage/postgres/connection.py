"""The table parts' statements on PostgreSQL: a connection with sqlite3's ``execute`` over a
psycopg pool.

The table parts write their SQL once, in the SQL both engines speak; this module bridges the
two differences they keep: ``?`` parameters (PostgreSQL's are ``$1``) and SQLite's
``INSERT OR REPLACE`` / ``INSERT OR IGNORE`` (``ON CONFLICT`` on the table's key from
``schema.KEYS``). A statement that needs more than that is the PostgreSQL part's to override
(``tables.py``), never translated here.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg_pool import ConnectionPool

from perf_mcp.storage.postgres.schema import KEYS
from perf_mcp.storage.schema import StoreError

_INSERT_OR = re.compile(r"\s*INSERT OR (REPLACE|IGNORE) INTO (\w+)\s*(?:\(([^)]*)\))?", re.I)
_NUMBERED = re.compile(r"\?\d")


class CommitInDoubt(psycopg.OperationalError):
    """The connection was lost while COMMIT was under way: the server may have kept the
    transaction or not, and only a later question to it can tell."""


# What a user can do about a failed statement, by the error's class (first match).
_REASONS: tuple[tuple[type[psycopg.Error], str], ...] = (
    (errors.DiskFull, "the database server's disk is full"),
    (errors.InsufficientPrivilege, "this role may not change perf-mcp's tables"),
    (errors.ReadOnlySqlTransaction, "the server is a read-only standby"),
    (errors.DeadlockDetected, "it met another writer's transaction (a retry succeeds)"),
    (CommitInDoubt, "the connection was lost during COMMIT"),
    (psycopg.OperationalError, "the database server cannot be reached"),
)


def failure(exc: psycopg.Error) -> str:
    """Why a statement failed, in words a user can act on."""
    return next((why for kind, why in _REASONS if isinstance(exc, kind)), str(exc).strip())


def to_postgres(sql: str, with_parameters: bool) -> str:
    """``sql`` as written for both engines, in PostgreSQL's form (every ``?`` is a parameter:
    the table parts put none in a string literal)."""
    if _NUMBERED.search(sql):
        raise ValueError(f"numbered parameters (?1) are SQLite's only; override: {sql[:80]}")
    found = _INSERT_OR.match(sql)
    if found is not None:
        verb, table, columns = found.groups()
        if verb.upper() == "IGNORE":
            tail = " ON CONFLICT DO NOTHING"
        elif columns is None or table not in KEYS:
            raise ValueError(
                f"INSERT OR REPLACE INTO {table} needs a column list and the table's key in "
                f"postgres/schema.py KEYS to run on PostgreSQL: {sql[:80]}"
            )
        else:
            key = KEYS[table]
            names = [c.strip() for c in columns.split(",")]
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in names if c not in key)
            tail = f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
        sql = f"INSERT INTO {table} ({columns})" if columns else f"INSERT INTO {table}"
        sql += found.string[found.end() :] + tail
    if not with_parameters:
        return sql
    parts = sql.split("?")  # PostgreSQL's own $n: psycopg then sends the text as it is
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], 1)) + parts[-1]


@dataclass
class Rows:
    """A statement's result, read at once (the connection goes back to the pool)."""

    rows: list[Any] = field(default_factory=list)
    rowcount: int = -1
    lastrowid: int | None = None  # psycopg has none: statements that need it use RETURNING

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


class _WholeNumber(Loader):
    """NUMERIC as SQLite gives it: an int when whole, else a float. perf-mcp stores no
    NUMERIC column; PostgreSQL returns one for SUM() of BIGINT columns."""

    def load(self, data: Buffer) -> int | float:
        text = bytes(data)
        try:
            return int(text)  # SUM() of BIGINT: whole, written without a point
        except ValueError:
            return float(text)


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.adapters.register_loader("numeric", _WholeNumber)


class PgConnection:
    """sqlite3-style ``execute`` on PostgreSQL: inside ``transaction()`` (on the thread that
    opened it) statements run on that transaction's connection; elsewhere each borrows an
    autocommit connection from the pool."""

    def __init__(self, url: str, where: str, max_size: int, timeout_s: float) -> None:
        self.where = where  # the URL without its password, for messages
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            timeout=timeout_s,
            kwargs={"autocommit": True},
            configure=_configure,
            open=False,
        )
        self._local = threading.local()
        self._types: dict[tuple[str, str], list[int]] = {}  # (table, columns) -> type oids

    @property
    def in_transaction(self) -> bool:
        return getattr(self._local, "conn", None) is not None

    def execute(self, sql: str, parameters: Any = (), /) -> Rows:
        return self._run(sql, [parameters] if parameters else [], many=False)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Rows:
        return self._run(sql, list(parameters), many=True)

    def _run(self, sql: str, params: Sequence[Any], *, many: bool) -> Rows:
        query = to_postgres(sql, bool(params)).encode()
        with self._connection() as conn, psycopg.RawCursor(conn) as cur:
            if many:
                if params:
                    cur.executemany(query, params)
                return Rows(rowcount=cur.rowcount)
            cur.execute(query, params[0] if params else None)
            return Rows(cur.fetchall() if cur.description else [], cur.rowcount)

    def execute_all(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Any]]:
        """The rows of each statement, all sent in one pipeline: one round trip, not one each."""
        if not statements:
            return []
        with self._connection() as conn:
            cursors = [psycopg.RawCursor(conn) for _ in statements]
            with conn.pipeline():
                for cur, (sql, params) in zip(cursors, statements, strict=True):
                    cur.execute(to_postgres(sql, bool(params)).encode(), params or None)
            return [cur.fetchall() for cur in cursors]

    def copy_in(self, head: str, rows: Sequence[Sequence[Any]]) -> None:
        """``head`` (``INSERT OR REPLACE INTO table (columns)``) for ``rows``, sent with
        binary COPY into a temporary table and written with one ``INSERT ... SELECT`` (inside the
        caller's transaction: the temporary rows go at its COMMIT)."""
        found = _INSERT_OR.match(head)
        if found is None or found.group(3) is None:
            raise ValueError(f"copy_in needs INSERT OR REPLACE INTO table (columns): {head[:80]}")
        table, columns = found.group(2), found.group(3)
        with self._connection() as conn:
            if not conn.info.transaction_status:  # idle: outside a transaction
                raise ValueError("copy_in runs inside a transaction only")
            conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS copied_{table} "
                f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            types = self._column_types(conn, table, columns)
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY copied_{table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
            conn.execute(
                to_postgres(f"{head} SELECT {columns} FROM copied_{table}", False).encode()
            )

    def _column_types(self, conn: psycopg.Connection[Any], table: str, columns: str) -> list[int]:
        """The type (oid) of each of ``columns`` of ``table``, asked once: binary COPY sends
        values as the server stores them (no number or histogram written out as text and
        parsed back), and needs to be told their types."""
        types = self._types.get((table, columns))
        if types is None:
            names = [name.strip() for name in columns.split(",")]
            found = dict(
                conn.execute(
                    "SELECT attname, atttypid::int FROM pg_attribute "
                    "WHERE attrelid = %s::regclass AND attname = ANY(%s)",
                    (table, names),
                ).fetchall()
            )
            types = self._types[(table, columns)] = [found[name] for name in names]
        return types

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:  # the transaction's owner says what failed
            yield conn
            return
        try:
            with self.pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise StoreError(f"could not read {self.where}: {failure(exc)} ({exc})") from exc

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction on one pooled connection: committed at the end, rolled back if
        anything raised. Inside another on this thread: a savepoint of that one."""
        outer = getattr(self._local, "conn", None)
        if outer is not None:
            with outer.transaction():
                yield outer
            return
        committing = False
        with self.pool.connection() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    yield conn
                    committing = True  # the block's end sends COMMIT
            except psycopg.OperationalError as exc:
                if committing:
                    raise CommitInDoubt(str(exc)) from exc
                raise
            finally:
                self._local.conn = None

    def close(self) -> None:
        self.pool.close()
