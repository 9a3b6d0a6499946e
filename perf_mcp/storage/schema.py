"""Opening a store file: pragmas, refusing files that are not ours, schema and migrations."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from perf_mcp.core.sketch import LogHistogram
from perf_mcp.storage.old_histograms import convert_store

T = TypeVar("T")
APPLICATION_ID = 0x70657266  # "perf": marks a SQLite file as a perf-mcp store
SCHEMA_VERSION = 9
MMAP_BYTES = 1 << 30  # address space, not memory: pages stay in the OS cache
# Of a new file. A row past about a quarter of a page spills into overflow pages, mostly
# empty: 8 KiB pages keep a dense histogram row of up to ~500 buckets (an hour of a busy
# endpoint at scale 6) inside its page.
PAGE_BYTES = 8192

_SCHEMA_V1 = """
CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    method TEXT NOT NULL DEFAULT '',
    UNIQUE (kind, name, method)
);
CREATE TABLE request_buckets (
    tier INTEGER NOT NULL, ts INTEGER NOT NULL, series_id INTEGER NOT NULL, source INTEGER NOT NULL,
    count INTEGER NOT NULL, s1xx INTEGER NOT NULL, s2xx INTEGER NOT NULL, s3xx INTEGER NOT NULL,
    s4xx INTEGER NOT NULL, s5xx INTEGER NOT NULL,
    sum_ms REAL NOT NULL, min_ms REAL NOT NULL, max_ms REAL NOT NULL,
    req_bytes INTEGER NOT NULL, req_n INTEGER NOT NULL, resp_bytes INTEGER NOT NULL,
    resp_n INTEGER NOT NULL, hist BLOB NOT NULL,
    PRIMARY KEY (tier, ts, series_id, source)
) WITHOUT ROWID;
CREATE TABLE run_buckets (
    tier INTEGER NOT NULL, ts INTEGER NOT NULL, series_id INTEGER NOT NULL, source INTEGER NOT NULL,
    count INTEGER NOT NULL, failures INTEGER NOT NULL,
    sum_ms REAL NOT NULL, min_ms REAL NOT NULL, max_ms REAL NOT NULL, hist BLOB NOT NULL,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL, tool_calls INTEGER NOT NULL,
    errors TEXT NOT NULL, tools TEXT NOT NULL,
    PRIMARY KEY (tier, ts, series_id, source)
) WITHOUT ROWID;
CREATE TABLE agent_runs (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, agent_name TEXT NOT NULL, duration_ms REAL NOT NULL,
    success INTEGER NOT NULL, error_type TEXT, model TEXT, provider TEXT,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL, tool_calls INTEGER NOT NULL,
    run_id TEXT, conversation_id TEXT
);
CREATE TABLE tool_calls (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, tool_name TEXT NOT NULL, agent_name TEXT,
    duration_ms REAL NOT NULL, success INTEGER NOT NULL, error_type TEXT, call_id TEXT
);
CREATE TABLE slow_requests (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, endpoint TEXT NOT NULL, method TEXT NOT NULL,
    status_code INTEGER NOT NULL, duration_ms REAL NOT NULL
);
CREATE TABLE folded_names (
    kind TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (kind, name)
) WITHOUT ROWID;
"""
_SCHEMA_V2 = """
CREATE TABLE resource_samples (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, source INTEGER NOT NULL, sample TEXT NOT NULL
);
CREATE INDEX resource_samples_by_ts ON resource_samples (ts);
CREATE TABLE threshold_overrides (
    rule TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    warning REAL,
    critical REAL,
    cooldown_s REAL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (rule, subject)
) WITHOUT ROWID;
CREATE TABLE alert_states (
    rule TEXT NOT NULL, subject TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (rule, subject)
) WITHOUT ROWID;
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
    state TEXT NOT NULL CHECK (state IN ('firing', 'acknowledged', 'resolved')),
    value REAL,
    limit_value REAL,
    unit TEXT NOT NULL,
    message TEXT NOT NULL,
    started_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    resolved_at REAL,
    acknowledged_at REAL,
    acknowledged_until REAL
);
CREATE INDEX alerts_by_state ON alerts (state, started_at);
CREATE INDEX alerts_by_start ON alerts (started_at);
CREATE TABLE alert_events (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    severity TEXT,
    value REAL,
    threshold REAL,
    notify INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX alert_events_by_alert ON alert_events (alert_id, at);
"""
_SCHEMA_V3 = """
CREATE TABLE IF NOT EXISTS alert_lease (  -- schema-2 stores made it on first use
    id INTEGER PRIMARY KEY CHECK (id = 1),
    holder INTEGER,
    expires_at REAL NOT NULL,
    version INTEGER NOT NULL
);
"""
# Folded names: a bounded sample of the newest instead of every name forever (their counts
# are the __other__ series' rows).
_SCHEMA_V4 = """
DROP TABLE folded_names;
CREATE TABLE folded_names (
    kind TEXT NOT NULL, name TEXT NOT NULL, seen_at REAL NOT NULL, PRIMARY KEY (kind, name)
) WITHOUT ROWID;
CREATE INDEX folded_names_by_time ON folded_names (kind, seen_at);
"""
# Deploy markers: when a version went out, a baseline for compare_windows.
_SCHEMA_V5 = """
CREATE TABLE deploy_markers (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, version TEXT NOT NULL, note TEXT
);
CREATE INDEX deploy_markers_by_ts ON deploy_markers (ts);
"""
# Service level objectives (set_slo): each kept as its JSON, by name.
_SCHEMA_V6 = """
CREATE TABLE slos (name TEXT PRIMARY KEY, slo TEXT NOT NULL, updated_at REAL NOT NULL);
"""
# Who set a threshold: the token and the client's own name (older overrides: unknown).
_SCHEMA_V7 = """
ALTER TABLE threshold_overrides ADD COLUMN changed_by TEXT;
"""
# Costs that are right and context costs: cache writes, which costs perf-mcp estimated (and at
# which date's prices), and tool result sizes. Rows from before count every cost as reported
# and no result sizes.
_SCHEMA_V8 = """
ALTER TABLE run_buckets ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_buckets ADD COLUMN estimated_cost_usd REAL NOT NULL DEFAULT 0;
ALTER TABLE run_buckets ADD COLUMN estimated_runs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_buckets ADD COLUMN unpriced_runs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_buckets ADD COLUMN result_chars INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_buckets ADD COLUMN result_hist BLOB;
ALTER TABLE agent_runs ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agent_runs ADD COLUMN cost_source TEXT NOT NULL DEFAULT 'reported';
ALTER TABLE agent_runs ADD COLUMN price_date TEXT;
ALTER TABLE agent_runs ADD COLUMN price_table TEXT;
ALTER TABLE tool_calls ADD COLUMN result_chars INTEGER;
"""
# Histograms in OpenTelemetry's exponential buckets (scale 6): SQL cannot rewrite the blobs,
# so this step is Python (storage/old_histograms.py), in the same all-or-nothing transaction.
_SCHEMA_V9 = convert_store
Migration = str | Callable[[sqlite3.Connection], None]
# MIGRATIONS[i] takes the schema from version i to i + 1: SQL statements, or a Python step.
MIGRATIONS: tuple[Migration, ...] = (
    _SCHEMA_V1, _SCHEMA_V2, _SCHEMA_V3, _SCHEMA_V4, _SCHEMA_V5, _SCHEMA_V6, _SCHEMA_V7,
    _SCHEMA_V8, _SCHEMA_V9,
)  # fmt: skip


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")  # postgresql://..., not C:\\ or a file name


class StoreError(RuntimeError):
    """The store cannot be used or written: not a perf-mcp store, a newer schema, unreadable,
    read-only, full or locked. The message says which and what to do."""


def connect(path: str, busy_timeout_s: float = 30.0) -> tuple[sqlite3.Connection, str | None]:
    """Open (creating if needed) the store at ``path``, refusing files that are not ours.

    A store this process cannot write opens read-only: returns the connection and why it is
    read-only (None: writable). A write waits up to ``busy_timeout_s`` while another process
    holds the store locked.
    """
    if _URL.match(path):
        scheme = path.split(":", 1)[0]
        raise StoreError(
            f"{scheme}:// is a database URL; perf-mcp keeps its data in a SQLite file "
            "or in PostgreSQL. Point PERF_MCP_DB (or --db) at a file path such as ./perf.db, "
            "or at a postgresql://user@host/db URL."
        )
    read_only = None if path == ":memory:" else why_read_only(Path(path))
    if path != ":memory:" and read_only is None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = _open(path, busy_timeout_s, read_only is not None)
        app_id, version, tables = _while_locked(
            lambda: conn.execute(
                "SELECT application_id, user_version, (SELECT count(*) FROM sqlite_master)"
                " FROM pragma_application_id, pragma_user_version"
            ).fetchone(),
            busy_timeout_s,
        )
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a perf-mcp database ({exc})") from exc
    if app_id != APPLICATION_ID and (app_id != 0 or tables):
        conn.close()
        raise StoreError(
            f"{path} is a SQLite database of another application; "
            "refusing to change it. Point PERF_MCP_DB (or --db) at a new file."
        )
    if version > SCHEMA_VERSION:
        conn.close()
        raise StoreError(
            f"{path} has schema version {version}, newer than this perf-mcp "
            f"understands ({SCHEMA_VERSION}); upgrade perf-mcp to read it."
        )
    if read_only is not None:
        if version < SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"{path} is read-only here ({read_only}) and has schema version {version}, "
                f"older than this perf-mcp's ({SCHEMA_VERSION}); open it once with write "
                "access to upgrade it."
            )
        return conn, read_only
    if path != ":memory:":
        if not tables:  # only a new file can still choose (WAL fixes the page size)
            conn.execute(f"PRAGMA page_size = {PAGE_BYTES}")
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")  # reads without a copy per page
        _while_locked(lambda: conn.execute("PRAGMA journal_mode = WAL"), busy_timeout_s)
        conn.execute("PRAGMA synchronous = NORMAL")
    try:
        _migrate(conn)
    except ValueError as exc:  # a Python step met data it cannot convert
        conn.close()
        raise StoreError(
            f"{path} cannot be upgraded to schema {SCHEMA_VERSION} and was left unchanged: "
            f"{exc}. Keep using the perf-mcp that wrote it, or point PERF_MCP_DB (or --db) "
            "at a new file."
        ) from None
    return conn, None


def why_read_only(path: Path) -> str | None:
    """Why this process cannot write the existing store at ``path`` (None: it can, or the
    file does not exist yet)."""
    if not path.exists():
        return None
    if not os.access(path, os.W_OK):
        return "this process may not write the file"
    beside = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm")]
    if not os.access(path.parent, os.W_OK) and not all(os.access(p, os.W_OK) for p in beside):
        return "this process may not create the -wal and -shm files SQLite needs in its directory"
    return None


def _open(path: str, busy_timeout_s: float, read_only: bool) -> sqlite3.Connection:
    def opened(target: str) -> sqlite3.Connection:
        conn = sqlite3.connect(
            target,
            timeout=busy_timeout_s,
            check_same_thread=False,
            isolation_level=None,
            uri=read_only,
        )
        conn.create_aggregate("merge_hist", 1, cast(Any, _MergedHistograms))
        return conn

    if not read_only:
        return opened(path)
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    conn = opened(uri)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.OperationalError:  # no -shm file and none can be made: read the file as is
        conn.close()
        conn = opened(f"{uri}&immutable=1")
    return conn


class _MergedHistograms:
    """The SQL aggregate ``merge_hist(blob)``: a group's LogHistogram blobs merged into one
    (NULL when none is given), so a window's sums read merged histograms in one query."""

    def __init__(self) -> None:
        self.blobs: list[bytes] = []

    def step(self, blob: bytes | None) -> None:
        if blob is not None:
            self.blobs.append(blob)

    def finalize(self) -> bytes | None:
        return LogHistogram.merged(self.blobs).to_bytes() if self.blobs else None


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read under the write lock: another process may have migrated meanwhile.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for step in MIGRATIONS[version:SCHEMA_VERSION]:
            if callable(step):
                step(conn)
                continue
            for statement in step.split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _while_locked(step: Callable[[], T], timeout_s: float) -> T:
    """Run ``step``, again while the file is locked. Processes opening a new file at once meet
    while one switches it to WAL, which takes locks SQLite's busy timeout does not wait for."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
