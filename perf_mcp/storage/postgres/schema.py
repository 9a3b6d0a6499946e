"""The PostgreSQL schema: its migrations, the primary keys its upserts need, refusing a
database that belongs to something else, and whether this role may write.

To add a table or a column: append one step to ``MIGRATIONS`` (the same change as the SQLite
migration, in PostgreSQL's types: BIGINT for INTEGER, DOUBLE PRECISION for REAL, BYTEA for
BLOB, BOOLEAN where Python passes a bool, BIGSERIAL for an ``id INTEGER PRIMARY KEY``), and
name a new table's primary key in ``KEYS`` if the SQLite code writes it with
``INSERT OR REPLACE``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from perf_mcp.storage.postgres.partitions import partition_tables
from perf_mcp.storage.schema import StoreError

# One key for every perf-mcp schema change on any database: migrations wait for each other.
MIGRATION_LOCK = 0x70657266
# The columns ``INSERT OR REPLACE INTO table (...)`` conflicts on (see connection.py).
KEYS: dict[str, tuple[str, ...]] = {
    "request_buckets": ("tier", "ts", "series_id", "source"),
    "run_buckets": ("tier", "ts", "series_id", "source"),
    "folded_names": ("kind", "name"),
}

# SQLite schema 5 as one step; SQLite's own functions the shared statements use come with it
# (json() and json_group_array() of the run buckets' label columns).
_SCHEMA_V1 = """
CREATE TABLE perf_mcp_writes (source BIGINT PRIMARY KEY, writes BIGINT NOT NULL);
CREATE TABLE series (
    id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL,
    method TEXT NOT NULL DEFAULT '', UNIQUE (kind, name, method)
);
CREATE TABLE request_buckets (
    tier BIGINT NOT NULL, ts BIGINT NOT NULL, series_id BIGINT NOT NULL, source BIGINT NOT NULL,
    count BIGINT NOT NULL, s1xx BIGINT NOT NULL, s2xx BIGINT NOT NULL, s3xx BIGINT NOT NULL,
    s4xx BIGINT NOT NULL, s5xx BIGINT NOT NULL, sum_ms DOUBLE PRECISION NOT NULL,
    min_ms DOUBLE PRECISION NOT NULL, max_ms DOUBLE PRECISION NOT NULL,
    req_bytes BIGINT NOT NULL, req_n BIGINT NOT NULL, resp_bytes BIGINT NOT NULL,
    resp_n BIGINT NOT NULL, hist BYTEA NOT NULL,
    PRIMARY KEY (tier, ts, series_id, source)
);
CREATE TABLE run_buckets (
    tier BIGINT NOT NULL, ts BIGINT NOT NULL, series_id BIGINT NOT NULL, source BIGINT NOT NULL,
    count BIGINT NOT NULL, failures BIGINT NOT NULL, sum_ms DOUBLE PRECISION NOT NULL,
    min_ms DOUBLE PRECISION NOT NULL, max_ms DOUBLE PRECISION NOT NULL, hist BYTEA NOT NULL,
    input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,
    cache_read_tokens BIGINT NOT NULL, cost_usd DOUBLE PRECISION NOT NULL,
    tool_calls BIGINT NOT NULL, errors TEXT NOT NULL, tools TEXT NOT NULL,
    PRIMARY KEY (tier, ts, series_id, source)
);
CREATE TABLE agent_runs (
    id BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, agent_name TEXT NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL, success BOOLEAN NOT NULL, error_type TEXT,
    model TEXT, provider TEXT, input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,
    cache_read_tokens BIGINT NOT NULL, cost_usd DOUBLE PRECISION NOT NULL,
    tool_calls BIGINT NOT NULL, run_id TEXT, conversation_id TEXT
);
CREATE TABLE tool_calls (
    id BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, tool_name TEXT NOT NULL,
    agent_name TEXT, duration_ms DOUBLE PRECISION NOT NULL, success BOOLEAN NOT NULL,
    error_type TEXT, call_id TEXT
);
CREATE TABLE slow_requests (
    id BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, endpoint TEXT NOT NULL,
    method TEXT NOT NULL, status_code BIGINT NOT NULL, duration_ms DOUBLE PRECISION NOT NULL
);
CREATE TABLE folded_names (
    kind TEXT NOT NULL, name TEXT NOT NULL, seen_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE INDEX folded_names_by_time ON folded_names (kind, seen_at);
CREATE TABLE resource_samples (
    id BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, source BIGINT NOT NULL,
    sample TEXT NOT NULL
);
CREATE INDEX resource_samples_by_ts ON resource_samples (ts);
CREATE TABLE threshold_overrides (
    rule TEXT NOT NULL, subject TEXT NOT NULL DEFAULT '', warning DOUBLE PRECISION,
    critical DOUBLE PRECISION, cooldown_s DOUBLE PRECISION,
    updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (rule, subject)
);
CREATE TABLE alert_states (
    rule TEXT NOT NULL, subject TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (rule, subject)
);
CREATE TABLE alerts (
    id BIGSERIAL PRIMARY KEY, rule TEXT NOT NULL, subject TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
    state TEXT NOT NULL CHECK (state IN ('firing', 'acknowledged', 'resolved')),
    value DOUBLE PRECISION, limit_value DOUBLE PRECISION, unit TEXT NOT NULL,
    message TEXT NOT NULL, started_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL, resolved_at DOUBLE PRECISION,
    acknowledged_at DOUBLE PRECISION, acknowledged_until DOUBLE PRECISION
);
CREATE INDEX alerts_by_state ON alerts (state, started_at);
CREATE INDEX alerts_by_start ON alerts (started_at);
CREATE TABLE alert_events (
    id BIGSERIAL PRIMARY KEY, alert_id BIGINT NOT NULL, at DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL, rule TEXT NOT NULL, subject TEXT NOT NULL, severity TEXT,
    value DOUBLE PRECISION, threshold DOUBLE PRECISION, notify BOOLEAN NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX alert_events_by_alert ON alert_events (alert_id, at);
CREATE TABLE alert_lease (
    id BIGINT PRIMARY KEY CHECK (id = 1), holder BIGINT,
    expires_at DOUBLE PRECISION NOT NULL, version BIGINT NOT NULL
);
CREATE TABLE deploy_markers (
    id BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, version TEXT NOT NULL, note TEXT
);
CREATE INDEX deploy_markers_by_ts ON deploy_markers (ts);
CREATE FUNCTION json(text) RETURNS json LANGUAGE sql IMMUTABLE AS 'SELECT $1::json';
CREATE FUNCTION perf_mcp_json_text(json[]) RETURNS text LANGUAGE sql IMMUTABLE
    AS 'SELECT array_to_json(coalesce($1, ''{}''))::text';
CREATE AGGREGATE json_group_array(json) (
    SFUNC = array_append, STYPE = json[], FINALFUNC = perf_mcp_json_text, INITCOND = '{}'
);
"""
# SQLite's 6, 7 and 8: SLOs, who set a threshold, costs and tool result sizes. (SQLite's 9
# converts histograms of an older format, which a PostgreSQL store never held.) merge_hist
# hands a group's blobs over as an array, merged in Python (SQLite's merges them in its
# aggregate).
_SCHEMA_V2 = """
CREATE TABLE slos (name TEXT PRIMARY KEY, slo TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL);
ALTER TABLE threshold_overrides ADD COLUMN changed_by TEXT;
ALTER TABLE run_buckets ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE run_buckets ADD COLUMN estimated_cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE run_buckets ADD COLUMN estimated_runs BIGINT NOT NULL DEFAULT 0;
ALTER TABLE run_buckets ADD COLUMN unpriced_runs BIGINT NOT NULL DEFAULT 0;
ALTER TABLE run_buckets ADD COLUMN result_chars BIGINT NOT NULL DEFAULT 0;
ALTER TABLE run_buckets ADD COLUMN result_hist BYTEA;
ALTER TABLE agent_runs ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agent_runs ADD COLUMN cost_source TEXT NOT NULL DEFAULT 'reported';
ALTER TABLE agent_runs ADD COLUMN price_date TEXT;
ALTER TABLE agent_runs ADD COLUMN price_table TEXT;
ALTER TABLE tool_calls ADD COLUMN result_chars BIGINT;
CREATE AGGREGATE merge_hist(bytea) (SFUNC = array_append, STYPE = bytea[], INITCOND = '{}');
"""


def _schema_v3(conn: psycopg.Connection[Any]) -> None:
    """The bucket tables partitioned by tier and time (``partitions.py``); each writer's last
    flush stored with its write count, so a flush whose COMMIT went unanswered is not
    written twice (``PostgresStorage.write``)."""
    partition_tables(conn)
    conn.execute("ALTER TABLE perf_mcp_writes ADD COLUMN flushes BIGINT NOT NULL DEFAULT 0")


# MIGRATIONS[i] takes the schema from version i to i + 1 (its own numbering, not SQLite's):
# SQL, or a Python step given the connection (inside the migration's transaction).
Migration = str | Callable[[psycopg.Connection[Any]], None]
MIGRATIONS: tuple[Migration, ...] = (_SCHEMA_V1, _SCHEMA_V2, _schema_v3)
SCHEMA_VERSION = len(MIGRATIONS)
_MARKER = "perf_mcp_schema"  # one row: which version of perf-mcp's schema this database has


def prepare(conn: psycopg.Connection[Any], where: str) -> str | None:
    """Refuse a database of another application or of a newer perf-mcp, migrate ours (all
    steps in one transaction) and return why this role cannot write it (None: it can)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        version = _version(conn, where)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{where} has perf-mcp schema version {version}, newer than this perf-mcp "
                f"understands ({SCHEMA_VERSION}); upgrade perf-mcp to read it."
            )
        read_only = _why_read_only(conn)
        if version == SCHEMA_VERSION or read_only is not None:
            if version < SCHEMA_VERSION:
                raise StoreError(
                    f"{where} is read-only here ({read_only}) and has perf-mcp schema version "
                    f"{version}, older than this perf-mcp's ({SCHEMA_VERSION}); run perf-mcp "
                    "once with a role that may write it to upgrade it."
                )
            return read_only
        if version == 0:
            conn.execute(f"CREATE TABLE {_MARKER} (version INTEGER NOT NULL)")
            conn.execute(f"INSERT INTO {_MARKER} VALUES (0)")
        for step in MIGRATIONS[version:]:
            if callable(step):
                step(conn)
            else:
                conn.execute(step.encode())  # bytes: sent as is, with no parameters to bind
        conn.execute(f"UPDATE {_MARKER} SET version = %s", (SCHEMA_VERSION,))
    return None


def _version(conn: psycopg.Connection[Any], where: str) -> int:
    """The schema version of the database (0: an empty one, ready for ours)."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (_MARKER,)).fetchone()
    if row is not None and row[0]:
        version = conn.execute(f"SELECT version FROM {_MARKER}").fetchone()
        return int(version[0]) if version is not None else 0
    others = conn.execute(
        "SELECT string_agg(tablename, ', ' ORDER BY tablename) FROM (SELECT tablename "
        "FROM pg_tables WHERE schemaname = current_schema() LIMIT 5) AS t"
    ).fetchone()
    if others is not None and others[0]:
        raise StoreError(
            f"{where} already holds tables of another application ({others[0]}); refusing "
            "to change it. Give perf-mcp a database of its own (createdb perf_mcp) or a schema "
            "of its own (?options=-csearch_path%3Dperf_mcp in the URL)."
        )
    return 0


def _why_read_only(conn: psycopg.Connection[Any]) -> str | None:
    (standby,) = conn.execute("SELECT pg_is_in_recovery()").fetchone() or (False,)
    if standby:
        return "the server is a read-only standby (a replica)"
    row = conn.execute(
        "SELECT to_regclass('request_buckets') IS NOT NULL AND NOT has_table_privilege("
        "'request_buckets', 'INSERT, UPDATE, DELETE')"
    ).fetchone()
    if row is not None and row[0]:
        return "this role may not change perf-mcp's tables"
    return None
