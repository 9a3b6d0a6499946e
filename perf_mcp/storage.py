"""The SQLite store that lets processes share data: schema, flush, retention, window queries.

Bucket rows live in three tiers side by side (10 s, 1 min, 1 h): each flush adds its deltas
to the row of every tier, so a window of any length reads whole hours from the 1 h tier and
only its edges from the finer ones. Rows are keyed by a per-process source id, so writers
never touch each other's rows; a query merges the rows of all sources.
"""

from __future__ import annotations

import json
import math
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from perf_mcp.core.alerts import AlertEvent, AlertRecord, AlertState, AlertStatus, ThresholdOverride
from perf_mcp.core.models import SlowRequest
from perf_mcp.core.series import RequestAcc, RunAcc
from perf_mcp.core.sketch import LogHistogram
from perf_mcp.core.window import TIERS, TierRange, bucket_start

T = TypeVar("T")
APPLICATION_ID = 0x70657266  # "perf": marks a SQLite file as a perf-mcp store
SCHEMA_VERSION = 3
EXPIRE_EVERY_S = 60.0
SLOW_REQUESTS_PER_FLUSH = 50
MMAP_BYTES = 1 << 30  # address space, not memory: pages stay in the OS cache

SeriesKey = tuple[str, str, str]  # kind, name, method ("" where the kind has none)
# ts, tool_name, agent_name, duration_ms, success, error_type, call_id: a tool_calls row
RawToolCall = tuple[float, str, str | None, float, bool, str | None, str | None]
# ts, agent_name, duration_ms, success, error_type, model, provider, input_tokens, output_tokens,
# cache_read_tokens, cost_usd, tool_calls (how many), run_id, conversation_id: an agent_runs row
RawAgentRun = tuple[
    float,
    str,
    float,
    bool,
    str | None,
    str | None,
    str | None,
    int,
    int,
    int,
    float,
    int,
    str | None,
    str | None,
]

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
# MIGRATIONS[i] takes the schema from version i to i + 1.
MIGRATIONS: tuple[str, ...] = (_SCHEMA_V1, _SCHEMA_V2, _SCHEMA_V3)
FOLDED_NAMES_KEPT = 10_000
RESOURCE_SAMPLES_KEPT_S = 7 * 86400
ALERT_EVENTS_KEPT = 10_000
RESOLVED_ALERTS_KEPT_S = 90 * 86400
_ALERT_COLUMNS = (
    "id, rule, subject, severity, state, value, limit_value, unit, message, started_at, "
    "updated_at, resolved_at, acknowledged_at, acknowledged_until"
)

_REQUEST_SUMS = (
    "SUM(count), SUM(s1xx), SUM(s2xx), SUM(s3xx), SUM(s4xx), SUM(s5xx), SUM(sum_ms), "
    "MIN(min_ms), MAX(max_ms), SUM(req_bytes), SUM(req_n), SUM(resp_bytes), SUM(resp_n)"
)
_RUN_SUMS = (
    "SUM(count), SUM(failures), SUM(sum_ms), MIN(min_ms), MAX(max_ms), SUM(input_tokens), "
    "SUM(output_tokens), SUM(cache_read_tokens), SUM(cost_usd), SUM(tool_calls)"
)


class StoreError(RuntimeError):
    """The database cannot be used: not a perf-mcp store, a newer schema, or unreadable."""


@dataclass
class FlushBatch:
    """What one flush writes: bucket deltas by bucket start, and raw records."""

    requests: dict[int, dict[tuple[str, str], RequestAcc]] = field(default_factory=dict)
    runs: dict[int, dict[tuple[str, str], RunAcc]] = field(default_factory=dict)
    agent_runs: list[RawAgentRun] = field(default_factory=list)
    tool_calls: list[RawToolCall] = field(default_factory=list)
    folded: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.requests or self.runs or self.agent_runs or self.tool_calls or self.folded)


@dataclass
class SeriesAgg:
    """One series merged over a window; ``acc.hist`` is filled only when asked for."""

    series_id: int
    name: str
    method: str
    acc: Any  # RequestAcc or RunAcc


def plan_clause(plan: Sequence[TierRange]) -> tuple[str, list[int]]:
    """A WHERE clause selecting the rows a window plan names."""
    if not plan:
        return "0", []
    parts = " OR ".join("(tier = ? AND ts >= ? AND ts < ?)" for _ in plan)
    params = [v for r in plan for v in (r.tier_s, r.start, r.end)]
    return f"({parts})", params


class Storage:
    """One process's connection to a store file (or a private ``:memory:`` store).

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
    ) -> None:
        self.path = str(path)
        self.retention_s = dict(retention_s or {10: 6 * 3600, 60: 7 * 86400, 3600: 90 * 86400})
        self.raw_records = raw_records
        self.source = secrets.randbits(62)
        self._clock = clock
        self._lock = threading.RLock()
        self._series_ids: dict[SeriesKey, int] = {}
        self._open_requests: dict[tuple[int, int, int], RequestAcc] = {}
        self._open_runs: dict[tuple[int, int, int], RunAcc] = {}
        self._last_expiry = 0.0
        self.last_flush_at: float | None = None
        self.writes = 0  # successful flushes through this connection
        self._conn = self._connect()

    # ------------------------------------------------------------ opening

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(
                self.path, timeout=30, check_same_thread=False, isolation_level=None
            )
            conn.execute("PRAGMA busy_timeout = 30000")
            app_id, version, tables = _while_locked(
                lambda: conn.execute(
                    "SELECT application_id, user_version, (SELECT count(*) FROM sqlite_master)"
                    " FROM pragma_application_id, pragma_user_version"
                ).fetchone()
            )
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a perf-mcp database ({exc})") from exc
        if app_id != APPLICATION_ID and (app_id != 0 or tables):
            conn.close()
            raise StoreError(
                f"{self.path} is a SQLite database of another application; "
                "refusing to change it. Point PERF_MCP_DB (or --db) at a new file."
            )
        if version > SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this perf-mcp "
                f"understands ({SCHEMA_VERSION}); upgrade perf-mcp to read it."
            )
        if self.path != ":memory:":
            conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")  # reads without a copy per page
            _while_locked(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            conn.execute("PRAGMA synchronous = NORMAL")
        self._migrate(conn, version)
        return conn

    def _migrate(self, conn: sqlite3.Connection, version: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close the connection (the Monitor flushes before calling this)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ writing

    def write(self, batch: FlushBatch) -> None:
        """Add one flush's deltas to every tier's rows and store the raw records."""
        now = self._clock()
        expire = now - self._last_expiry >= EXPIRE_EVERY_S
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._write_requests(batch.requests)
                self._write_runs(batch.runs)
                self._write_raw(batch)
                if expire:
                    self._expire(now)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                # The cached open rows may hold deltas that did not land: reload them.
                self._open_requests.clear()
                self._open_runs.clear()
                raise
            if expire:
                self._last_expiry = now
            self._evict_closed_rows(now)
            self.last_flush_at = now
            self.writes += 1

    def _write_requests(self, buckets: Mapping[int, Mapping[tuple[str, str], RequestAcc]]) -> None:
        dirty: set[tuple[int, int, int]] = set()
        for ts, table in buckets.items():
            for (name, method), delta in table.items():
                sid = self._series_id(("request", name, method))
                for tier in TIERS:
                    key = (tier, bucket_start(ts, tier), sid)
                    row = self._open_requests.get(key)
                    if row is None:
                        row = self._open_requests[key] = self._load_request_row(key)
                    row.merge(delta)
                    dirty.add(key)
        self._conn.executemany(
            "INSERT OR REPLACE INTO request_buckets VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [self._request_row(key, self._open_requests[key]) for key in dirty],
        )
        slowest = sorted(
            (
                (acc.max_ms, acc.slowest_ts, name, method, acc.slowest_status)
                for table in buckets.values()
                for (name, method), acc in table.items()
                if name != "*" and acc.count
            ),
            reverse=True,
        )[:SLOW_REQUESTS_PER_FLUSH]
        self._conn.executemany(
            "INSERT INTO slow_requests (duration_ms, ts, endpoint, method, status_code) "
            "VALUES (?, ?, ?, ?, ?)",
            slowest,
        )

    def _write_runs(self, buckets: Mapping[int, Mapping[tuple[str, str], RunAcc]]) -> None:
        dirty: set[tuple[int, int, int]] = set()
        for ts, table in buckets.items():
            for (kind, name), delta in table.items():
                sid = self._series_id((kind, name, ""))
                for tier in TIERS:
                    key = (tier, bucket_start(ts, tier), sid)
                    row = self._open_runs.get(key)
                    if row is None:
                        row = self._open_runs[key] = self._load_run_row(key)
                    row.merge(delta)
                    dirty.add(key)
        self._conn.executemany(
            "INSERT OR REPLACE INTO run_buckets VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [self._run_row(key, self._open_runs[key]) for key in dirty],
        )

    def _write_raw(self, batch: FlushBatch) -> None:
        execute = self._conn.executemany
        execute(
            "INSERT INTO agent_runs (ts, agent_name, duration_ms, success, error_type, model, "
            "provider, input_tokens, output_tokens, cache_read_tokens, cost_usd, tool_calls, "
            "run_id, conversation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            batch.agent_runs,
        )
        execute(
            "INSERT INTO tool_calls (ts, tool_name, agent_name, duration_ms, success, error_type, "
            "call_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            batch.tool_calls,
        )
        execute(
            "INSERT OR IGNORE INTO folded_names VALUES (?, ?)", batch.folded[:FOLDED_NAMES_KEPT]
        )
        for table in ("agent_runs", "tool_calls", "slow_requests"):
            self._conn.execute(
                f"DELETE FROM {table} WHERE id <= (SELECT MAX(id) FROM {table}) - ?",
                (self.raw_records,),
            )

    def _expire(self, now: float) -> None:
        execute = self._conn.execute
        execute("DELETE FROM resource_samples WHERE ts < ?", (now - RESOURCE_SAMPLES_KEPT_S,))
        execute(
            "DELETE FROM alerts WHERE state = 'resolved' AND resolved_at < ?",
            (now - RESOLVED_ALERTS_KEPT_S,),
        )
        execute(
            "DELETE FROM alert_events WHERE id <= (SELECT MAX(id) FROM alert_events) - ?",
            (ALERT_EVENTS_KEPT,),
        )
        for tier, keep_s in self.retention_s.items():
            for table in ("request_buckets", "run_buckets"):
                self._conn.execute(
                    f"DELETE FROM {table} WHERE tier = ? AND ts < ?", (tier, int(now - keep_s))
                )

    def _evict_closed_rows(self, now: float) -> None:
        """Forget cached rows whose bucket ended a while ago; late data reloads them."""
        for cache in (self._open_requests, self._open_runs):
            closed = [key for key in cache if key[1] + key[0] < now - 60]
            for key in closed:
                del cache[key]

    def _series_id(self, key: SeriesKey) -> int:
        sid = self._series_ids.get(key)
        if sid is None:
            self._conn.execute(
                "INSERT OR IGNORE INTO series (kind, name, method) VALUES (?, ?, ?)", key
            )
            sid = self._conn.execute(
                "SELECT id FROM series WHERE kind = ? AND name = ? AND method = ?", key
            ).fetchone()[0]
            self._series_ids[key] = sid
        return sid

    def _load_request_row(self, key: tuple[int, int, int]) -> RequestAcc:
        acc = RequestAcc()
        row = self._conn.execute(
            "SELECT count, s1xx, s2xx, s3xx, s4xx, s5xx, sum_ms, min_ms, max_ms, req_bytes, "
            "req_n, resp_bytes, resp_n, hist FROM request_buckets "
            "WHERE tier = ? AND ts = ? AND series_id = ? AND source = ?",
            (*key, self.source),
        ).fetchone()
        if row is not None:
            _fill_request_acc(acc, row[:13])
            acc.hist = LogHistogram.from_bytes(row[13])
        return acc

    def _load_run_row(self, key: tuple[int, int, int]) -> RunAcc:
        acc = RunAcc()
        row = self._conn.execute(
            "SELECT count, failures, sum_ms, min_ms, max_ms, input_tokens, output_tokens, "
            "cache_read_tokens, cost_usd, tool_calls, errors, tools, hist FROM run_buckets "
            "WHERE tier = ? AND ts = ? AND series_id = ? AND source = ?",
            (*key, self.source),
        ).fetchone()
        if row is not None:
            _fill_run_acc(acc, row[:10])
            acc.errors, acc.tools = json.loads(row[10]), json.loads(row[11])
            acc.hist = LogHistogram.from_bytes(row[12])
        return acc

    def _request_row(self, key: tuple[int, int, int], acc: RequestAcc) -> tuple[Any, ...]:
        return (
            *key,
            self.source,
            acc.count,
            *acc.status[1:],
            acc.sum_ms,
            _finite(acc.min_ms),
            _finite(acc.max_ms),
            acc.req_bytes,
            acc.req_n,
            acc.resp_bytes,
            acc.resp_n,
            acc.hist.to_bytes(),
        )

    def _run_row(self, key: tuple[int, int, int], acc: RunAcc) -> tuple[Any, ...]:
        return (
            *key,
            self.source,
            acc.count,
            acc.failures,
            acc.sum_ms,
            _finite(acc.min_ms),
            _finite(acc.max_ms),
            acc.hist.to_bytes(),
            acc.input_tokens,
            acc.output_tokens,
            acc.cache_read_tokens,
            acc.cost_usd,
            acc.tool_calls,
            json.dumps(acc.errors),
            json.dumps(acc.tools),
        )

    # ------------------------------------------------------------ reading

    def data_version(self, *, wait: bool = True) -> tuple[int, int] | None:
        """Changes whenever any connection (this one, or another process's) wrote data.

        ``wait=False``: None instead of waiting while this process uses the connection.
        """
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            others = self._conn.execute("PRAGMA data_version").fetchone()[0]
        finally:
            self._lock.release()
        return others, self.writes

    def series_ids(
        self,
        kind: str,
        *,
        name: str | None = None,
        method: str | None = None,
        totals: bool = False,
    ) -> dict[int, tuple[str, str]]:
        """Series of a kind by id, as (name, method): the all-series total, or the others."""
        sql = "SELECT id, name, method FROM series WHERE kind = ?"
        params: list[str] = [kind]
        if totals:
            sql += " AND name = '*'"
        else:
            sql += " AND name != '*'"
            if name is not None:
                sql += " AND name = ?"
                params.append(name)
            if method is not None:
                sql += " AND method = ?"
                params.append(method)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return {sid: (n, m) for sid, n, m in rows}

    def request_series(
        self,
        plan: Sequence[TierRange],
        *,
        name: str | None = None,
        method: str | None = None,
        totals: bool = False,
        ids: Mapping[int, tuple[str, str]] | None = None,
    ) -> list[SeriesAgg]:
        """Per endpoint+method sums over the plan's rows (histograms not merged).

        Reads the series in ``ids`` if given, else those the filters select; ``totals=True``
        selects the all-endpoint total series instead of the endpoints.
        """
        if ids is None:
            ids = self.series_ids("request", name=name, method=method, totals=totals)
        result = []
        for row in self._sums("request_buckets", _REQUEST_SUMS, plan, ids):
            acc = RequestAcc()
            _fill_request_acc(acc, row[1:])
            result.append(SeriesAgg(row[0], *ids[row[0]], acc))
        return result

    def request_counts(
        self, plan: Sequence[TierRange], ids: Iterable[int]
    ) -> dict[int, tuple[int, int, float]]:
        """Each request series' count, 5xx count and summed ms over the plan's rows: enough to
        tell whether they changed, without building accumulators."""
        rows = self._sums("request_buckets", "SUM(count), SUM(s5xx), SUM(sum_ms)", plan, ids)
        return {sid: (count, errors, total_ms) for sid, count, errors, total_ms in rows}

    def run_series(
        self,
        kind: str,
        plan: Sequence[TierRange],
        *,
        name: str | None = None,
        totals: bool = False,
        ids: Mapping[int, tuple[str, str]] | None = None,
    ) -> list[SeriesAgg]:
        """Per agent / model / tool sums over the plan's rows, labels merged (histograms not)."""
        if ids is None:
            ids = self.series_ids(kind, name=name, totals=totals)
        sums = f"{_RUN_SUMS}, json_group_array(json(errors)), json_group_array(json(tools))"
        result = []
        for row in self._sums("run_buckets", sums, plan, ids):
            acc = RunAcc()
            _fill_run_acc(acc, row[1:11])
            acc.errors = _sum_labels(json.loads(row[11]))
            acc.tools = _sum_labels(json.loads(row[12]))
            result.append(SeriesAgg(row[0], ids[row[0]][0], "", acc))
        return result

    def _sums(
        self, table: str, sums: str, plan: Sequence[TierRange], ids: Iterable[int]
    ) -> list[Any]:
        id_list = ",".join(str(int(i)) for i in ids)  # integers from our own table
        if not id_list:
            return []
        where, params = plan_clause(plan)
        sql = (
            f"SELECT series_id, {sums} FROM {table} "
            f"WHERE {where} AND series_id IN ({id_list}) GROUP BY series_id"
        )
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def histograms(
        self, table: str, plan: Sequence[TierRange], ids: Iterable[int]
    ) -> dict[int, LogHistogram]:
        """The merged latency histogram of each series in ``ids`` that has rows in the plan."""
        return {sid: h for sid, (h, _) in self._histograms(table, "0", plan, ids).items()}

    def histograms_and_errors(
        self, plan: Sequence[TierRange], ids: Iterable[int]
    ) -> dict[int, tuple[LogHistogram, int]]:
        """Each request series' merged histogram and 5xx count, in one pass over its rows."""
        return self._histograms("request_buckets", "s5xx", plan, ids)

    def _histograms(
        self, table: str, column: str, plan: Sequence[TierRange], ids: Iterable[int]
    ) -> dict[int, tuple[LogHistogram, int]]:
        id_list = ",".join(str(int(i)) for i in ids)  # integers from our own table
        if not id_list:
            return {}
        where, params = plan_clause(plan)
        sql = (
            f"SELECT series_id, {column}, hist FROM {table} "
            f"WHERE {where} AND series_id IN ({id_list})"
        )
        blobs: dict[int, list[bytes]] = {}
        sums: dict[int, int] = {}
        with self._lock:
            for sid, value, hist in self._conn.execute(sql, params):
                blobs.setdefault(sid, []).append(hist)
                sums[sid] = sums.get(sid, 0) + value
        return {sid: (LogHistogram.merged(group), sums[sid]) for sid, group in blobs.items()}

    def fill_histograms(
        self, table: str, plan: Sequence[TierRange], series: Iterable[SeriesAgg]
    ) -> None:
        """Merge the histogram rows of each given series into its ``acc.hist``."""
        by_id = {s.series_id: s for s in series}
        for sid, hist in self.histograms(table, plan, by_id).items():
            by_id[sid].acc.hist = hist

    def slowest_requests(self, since: float, limit: int) -> list[SlowRequest]:
        """The slowest requests kept as exemplars since ``since``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT endpoint, method, status_code, duration_ms, ts FROM slow_requests "
                "WHERE ts >= ? ORDER BY duration_ms DESC LIMIT ?",
                (since, limit),
            ).fetchall()
        return [
            SlowRequest(endpoint=e, method=m, status_code=c, duration_ms=d, timestamp=t)
            for e, m, c, d, t in rows
        ]

    def folded_counts(self) -> dict[str, int]:
        """Distinct names each kind has folded into __other__, across all writers."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT kind, count(*) FROM folded_names GROUP BY kind"
            ).fetchall()
        return dict(rows)

    def known_names(self, kind: str, limit: int = 500) -> list[str]:
        """Series names of a kind, for completion (totals and __other__ left out)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT name FROM series WHERE kind = ? AND name NOT IN ('*', '__other__')"
                " ORDER BY name LIMIT ?",
                (kind, limit),
            ).fetchall()
        return [r[0] for r in rows]

    # ------------------------------------------------------------ resources

    def add_resource_sample(self, timestamp: float, sample_json: str) -> None:
        """Store one resource sample (the sampler's JSON), written at once."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO resource_samples (ts, source, sample) VALUES (?, ?, ?)",
                (timestamp, self.source, sample_json),
            )

    def resource_samples(self, since: float, limit: int = 10_000) -> list[str]:
        """Resource samples since ``since``, oldest first, as the sampler's JSON."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT sample FROM (SELECT ts, sample FROM resource_samples WHERE ts >= ? "
                "ORDER BY ts DESC LIMIT ?) ORDER BY ts",
                (since, limit),
            ).fetchall()
        return [r[0] for r in rows]

    # ------------------------------------------------------------ alerts (AlertStore)

    persistent = True  # alert state and overrides survive a restart

    def load_overrides(self) -> list[ThresholdOverride]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT rule, subject, warning, critical, cooldown_s, updated_at "
                "FROM threshold_overrides"
            ).fetchall()
        return [
            ThresholdOverride(
                rule=r, subject=s or None, warning=w, critical=c, cooldown_s=cd, updated_at=u
            )
            for r, s, w, c, cd, u in rows
        ]

    def save_override(self, override: ThresholdOverride) -> None:
        o = override
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO threshold_overrides VALUES (?, ?, ?, ?, ?, ?)",
                (o.rule, o.subject or "", o.warning, o.critical, o.cooldown_s, o.updated_at),
            )

    def delete_override(self, rule: str, subject: str | None) -> bool:
        with self._lock:
            cursor = self._conn.execute(
                "DELETE FROM threshold_overrides WHERE rule = ? AND subject = ?",
                (rule, subject or ""),
            )
        return cursor.rowcount > 0

    def load_alert_states(self) -> list[AlertState]:
        with self._lock:
            rows = self._conn.execute("SELECT state FROM alert_states").fetchall()
        return [AlertState.model_validate_json(state) for (state,) in rows]

    def save_alert_states(self, states: Sequence[AlertState]) -> None:
        with self._lock:
            self._conn.executemany(
                "INSERT OR REPLACE INTO alert_states VALUES (?, ?, ?)",
                [(s.rule, s.subject, s.model_dump_json()) for s in states],
            )

    def save_alert(self, alert: AlertRecord) -> int:
        """Insert (``id == 0``) or update an alert; return its id."""
        a = alert
        values = (
            *(a.threshold, a.subject, a.severity, a.state, a.value, a.limit, a.unit),
            *(a.message, a.started_at, a.updated_at, a.resolved_at, a.acknowledged_at),
            a.acknowledged_until,
        )
        with self._lock:
            cursor = self._conn.execute(
                f"INSERT OR REPLACE INTO alerts ({_ALERT_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (a.id or None, *values),
            )
        return a.id or int(cursor.lastrowid or 0)

    def list_alerts(
        self, status: AlertStatus | None, since: float | None, limit: int
    ) -> list[AlertRecord]:
        """Alerts newest first, of one status (None: any) started or resolved since ``since``."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE (?1 IS NULL OR state = ?1) "
                "AND (?2 IS NULL OR max(started_at, coalesce(resolved_at, 0)) >= ?2) "
                "ORDER BY started_at DESC, id DESC LIMIT ?3",
                (status, since, limit),
            ).fetchall()
        return [_alert_record(row) for row in rows]

    def get_alert(self, alert_id: int) -> AlertRecord | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)
            ).fetchone()
        return _alert_record(row) if row else None

    def add_alert_events(self, events: Sequence[tuple[int, AlertEvent]]) -> None:
        """Append transitions, each with its alert's id."""
        with self._lock:
            self._conn.executemany(
                "INSERT INTO alert_events (alert_id, at, kind, rule, subject, severity, value, "
                "threshold, notify, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (i, e.at, e.kind, e.rule, e.subject, e.severity, e.value, e.threshold)
                    + (e.notify, e.message)
                    for i, e in events
                ],
            )

    def file_size_bytes(self) -> int:
        """Size of the database file and its WAL (0 for ``:memory:``)."""
        if self.path == ":memory:":
            return 0
        return sum(
            p.stat().st_size for p in (Path(self.path), Path(self.path + "-wal")) if p.exists()
        )

    # ------------------------------------------------------------ alert evaluation lease

    # Several servers may share one file (Claude Desktop and Cursor each start a stdio server
    # on the default store): the alert_lease row says which connection evaluates alerts and
    # notifies, and counts changes to alert state so the others know when to reload it.

    def claim_alert_lease(self, ttl_s: float) -> tuple[bool, int]:
        """Take or renew the evaluation lease for ``ttl_s`` seconds unless another live
        connection holds it; return (held by this connection, alert state version)."""
        now = self._clock()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute(
                    "SELECT holder, expires_at, version FROM alert_lease WHERE id = 1"
                ).fetchone()
                holder, expires_at, version = row or (None, 0.0, 0)
                held = holder in (None, self.source) or expires_at <= now
                if held:
                    self._conn.execute(
                        "INSERT OR REPLACE INTO alert_lease VALUES (1, ?, ?, ?)",
                        (self.source, now + ttl_s, version),
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return held, int(version)

    def release_alert_lease(self) -> None:
        """Give the lease up (at shutdown) so another server takes over at once."""
        with self._lock:
            self._conn.execute(
                "UPDATE alert_lease SET holder = NULL, expires_at = 0 WHERE holder = ?",
                (self.source,),
            )

    def alert_lease(self) -> tuple[int | None, float, int]:
        """(holder source id or None, lease expiry, alert state version)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT holder, expires_at, version FROM alert_lease WHERE id = 1"
            ).fetchone()
        return (row[0], row[1], row[2]) if row else (None, 0.0, 0)

    def bump_alert_version(self) -> int:
        """Count one change to alert state, overrides or acknowledgements; return the count."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO alert_lease VALUES (1, NULL, 0, 1) "
                "ON CONFLICT (id) DO UPDATE SET version = version + 1"
            )
            row = self._conn.execute("SELECT version FROM alert_lease WHERE id = 1").fetchone()
        return int(row[0])

    def resource_samples_spread(self, since: float, limit: int) -> tuple[list[str], int]:
        """At most ``limit`` resource samples since ``since``, spread evenly (every k-th,
        counting back from the newest, which is always included), oldest first; and how
        many the window holds."""
        with self._lock:
            (count,) = self._conn.execute(
                "SELECT count(*) FROM resource_samples WHERE ts >= ?", (since,)
            ).fetchone()
            step = max(1, math.ceil(count / max(1, limit)))
            rows = self._conn.execute(
                "SELECT sample FROM resource_samples WHERE id IN (SELECT id FROM "
                "(SELECT id, row_number() OVER (ORDER BY ts DESC, id DESC) AS n "
                "FROM resource_samples WHERE ts >= ?) WHERE (n - 1) % ? = 0) ORDER BY ts, id",
                (since, step),
            ).fetchall()
        return [r[0] for r in rows], int(count)

    def last_alert_event_id(self) -> int:
        """The id of the newest stored alert transition (0: none yet)."""
        with self._lock:
            (last,) = self._conn.execute("SELECT coalesce(max(id), 0) FROM alert_events").fetchone()
        return int(last)

    def alert_events_after(self, event_id: int, limit: int) -> list[tuple[int, AlertEvent]]:
        """Alert transitions stored after ``event_id`` (by any server), oldest first, with
        their ids; ``samples`` is not stored and reads 0."""
        from perf_mcp.core.alerts import RULES

        with self._lock:
            rows = self._conn.execute(
                "SELECT id, at, kind, rule, subject, severity, value, threshold, notify, message "
                "FROM alert_events WHERE id > ? ORDER BY id LIMIT ?",
                (event_id, limit),
            ).fetchall()
        return [
            (
                row_id,
                AlertEvent(
                    kind=kind,
                    rule=rule,
                    subject=subject,
                    severity=severity,
                    value=value,
                    threshold=threshold,
                    unit=RULES[rule].unit,
                    samples=0,
                    at=at,
                    notify=bool(notify),
                    message=message,
                ),
            )
            for row_id, at, kind, rule, subject, severity, value, threshold, notify, message in rows
            if rule in RULES
        ]


def _fill_request_acc(acc: RequestAcc, row: Sequence[Any]) -> None:
    acc.hist.count = row[0]
    acc.status = [0, *row[1:6]]
    acc.sum_ms, acc.hist.min, acc.hist.max = row[6], row[7], row[8]
    acc.req_bytes, acc.req_n, acc.resp_bytes, acc.resp_n = row[9:13]


def _fill_run_acc(acc: RunAcc, row: Sequence[Any]) -> None:
    acc.hist.count, acc.failures, acc.sum_ms, acc.hist.min, acc.hist.max = row[:5]
    acc.input_tokens, acc.output_tokens, acc.cache_read_tokens = row[5:8]
    acc.cost_usd, acc.tool_calls = row[8], row[9]


def _sum_labels(dicts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for d in dicts:
        for label, n in d.items():
            total[label] = total.get(label, 0) + n
    return total


def _while_locked(step: Callable[[], T], timeout_s: float = 30.0) -> T:
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


def _alert_record(row: Sequence[Any]) -> AlertRecord:
    names = [c.strip() for c in _ALERT_COLUMNS.split(",")]
    fields = dict(zip(names, row, strict=True))
    fields["threshold"], fields["limit"] = fields.pop("rule"), fields.pop("limit_value")
    return AlertRecord(**fields)


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0
