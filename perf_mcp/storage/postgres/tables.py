"""The statements of the table parts that PostgreSQL cannot run as written, per table kind.

Each class overrides only what differs; every other statement of that kind is the SQLite
part's, run through ``connection.PgConnection``. A new table part whose SQL is portable
(``?`` parameters, ``INSERT OR REPLACE`` with a column list) needs nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from perf_mcp.core.alerts import AlertRecord, AlertState, AlertStatus, ThresholdOverride
from perf_mcp.storage.alerts import _ALERT_COLUMNS, AlertTables, _alert_record
from perf_mcp.storage.buckets import BucketTables
from perf_mcp.storage.series import id_list


class PgBuckets(BucketTables):
    """Bucket tables: a window's series ids as a set to join, not a list to look up.

    Given ``series_id IN (2, 3, ...)`` beside ``tier = ? AND ts >= ? AND ts < ?``, PostgreSQL
    walks the primary key (tier, ts, series_id, source) once per id (a 5-minute window of
    1,000 endpoints: 1,000 descents, 125 ms), or scans the table. As a set, it reads the
    window's rows once by (tier, ts) and keeps the wanted series by hash (1.3 ms).
    """

    def _window_ids(self, ids: Iterable[int]) -> str:
        listed = id_list(ids)
        return f"SELECT unnest('{{{listed}}}'::bigint[])" if listed else ""


class PgAlerts(AlertTables):
    """Alert tables: upserts on their keys, ids from RETURNING, the lease row locked while
    it is claimed (servers on several hosts read it at once)."""

    def save_override(self, override: ThresholdOverride) -> None:
        o = override
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO threshold_overrides VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (rule, subject) DO UPDATE SET warning = EXCLUDED.warning, "
                "critical = EXCLUDED.critical, cooldown_s = EXCLUDED.cooldown_s, "
                "updated_at = EXCLUDED.updated_at",
                (o.rule, o.subject or "", o.warning, o.critical, o.cooldown_s, o.updated_at),
            )

    def save_alert_states(self, states: Sequence[AlertState]) -> None:
        with self._writing() as conn:
            conn.executemany(
                "INSERT INTO alert_states VALUES (?, ?, ?) "
                "ON CONFLICT (rule, subject) DO UPDATE SET state = EXCLUDED.state",
                [(s.rule, s.subject, s.model_dump_json()) for s in states],
            )

    def save_alert(self, alert: AlertRecord) -> int:
        a = alert
        values = (
            *(a.threshold, a.subject, a.severity, a.state, a.value, a.limit, a.unit),
            *(a.message, a.started_at, a.updated_at, a.resolved_at, a.acknowledged_at),
            a.acknowledged_until,
        )
        columns = _ALERT_COLUMNS.removeprefix("id, ")
        marks = ", ".join("?" * len(values))
        with self._writing() as conn:
            if a.id:
                conn.execute(
                    f"UPDATE alerts SET ({columns}) = ROW({marks}) WHERE id = ?", (*values, a.id)
                )
                return a.id
            (new_id,) = conn.execute(
                f"INSERT INTO alerts ({columns}) VALUES ({marks}) RETURNING id", values
            ).fetchone()
        return int(new_id)

    def list_alerts(
        self, status: AlertStatus | None, since: float | None, limit: int
    ) -> list[AlertRecord]:
        sql = f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE true"
        params: list[object] = []
        if status is not None:
            sql += " AND state = ?"
            params.append(status)
        if since is not None:
            sql += " AND greatest(started_at, coalesce(resolved_at, 0)) >= ?"
            params.append(since)
        with self._lock:
            rows = self._conn.execute(
                f"{sql} ORDER BY started_at DESC, id DESC LIMIT ?", (*params, limit)
            ).fetchall()
        return [_alert_record(row) for row in rows]

    def claim_alert_lease(self, ttl_s: float) -> tuple[bool, int]:
        now = self._clock()
        with self._transaction() as conn:
            conn.execute("INSERT INTO alert_lease VALUES (1, NULL, 0, 0) ON CONFLICT DO NOTHING")
            holder, expires_at, version = conn.execute(
                "SELECT holder, expires_at, version FROM alert_lease WHERE id = 1 FOR UPDATE"
            ).fetchone()
            held = holder in (None, self.source) or expires_at <= now
            if held:
                conn.execute(
                    "UPDATE alert_lease SET holder = ?, expires_at = ? WHERE id = 1",
                    (self.source, now + ttl_s),
                )
        return held, int(version)

    def bump_alert_version(self) -> int:
        with self._writing() as conn:
            (version,) = conn.execute(
                "INSERT INTO alert_lease VALUES (1, NULL, 0, 1) ON CONFLICT (id) "
                "DO UPDATE SET version = alert_lease.version + 1 RETURNING version"
            ).fetchone()
        return int(version)
