"""Alerting's tables: threshold overrides, rule states, alerts and their transitions, and the
lease that says which of several servers on one store evaluates alerts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perf_mcp.core.alerts import AlertEvent, AlertRecord, AlertState, AlertStatus, ThresholdOverride
from perf_mcp.storage.base import StoreBase

ALERT_EVENTS_KEPT = 10_000
RESOLVED_ALERTS_KEPT_S = 90 * 86400
MAX_SQLITE_INTEGER = (1 << 63) - 1
_ALERT_COLUMNS = (
    "id, rule, subject, severity, state, value, limit_value, unit, message, started_at, "
    "updated_at, resolved_at, acknowledged_at, acknowledged_until"
)


class AlertTables(StoreBase):
    """The alert manager's AlertStore on SQLite."""

    persistent = True  # alert state and overrides survive a restart

    def load_overrides(self) -> list[ThresholdOverride]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT rule, subject, warning, critical, cooldown_s, updated_at, changed_by "
                "FROM threshold_overrides"
            ).fetchall()
        return [
            ThresholdOverride(
                rule=r, subject=s or None, warning=w, critical=c, cooldown_s=cd, updated_at=u,
                changed_by=by,
            )
            for r, s, w, c, cd, u, by in rows
        ]  # fmt: skip

    def save_override(self, override: ThresholdOverride) -> None:
        o = override
        with self._writing():
            self._conn.execute(
                "INSERT OR REPLACE INTO threshold_overrides (rule, subject, warning, critical, "
                "cooldown_s, updated_at, changed_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (o.rule, o.subject or "", o.warning, o.critical, o.cooldown_s, o.updated_at)
                + (o.changed_by,),
            )

    def delete_override(self, rule: str, subject: str | None) -> bool:
        with self._writing():
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
        with self._writing():
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
        with self._writing():
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
        if not 0 < alert_id <= MAX_SQLITE_INTEGER:  # no such row, and SQLite could not say so
            return None
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)
            ).fetchone()
        return _alert_record(row) if row else None

    def add_alert_events(self, events: Sequence[tuple[int, AlertEvent]]) -> None:
        """Append transitions, each with its alert's id."""
        with self._writing():
            self._conn.executemany(
                "INSERT INTO alert_events (alert_id, at, kind, rule, subject, severity, value, "
                "threshold, notify, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (i, e.at, e.kind, e.rule, e.subject, e.severity, e.value, e.threshold)
                    + (e.notify, e.message)
                    for i, e in events
                ],
            )

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

    def _expire_alerts(self, now: float) -> None:
        self._conn.execute(
            "DELETE FROM alerts WHERE state = 'resolved' AND resolved_at < ?",
            (now - RESOLVED_ALERTS_KEPT_S,),
        )
        self._conn.execute(
            "DELETE FROM alert_events WHERE id <= (SELECT MAX(id) FROM alert_events) - ?",
            (ALERT_EVENTS_KEPT,),
        )

    # ------------------------------------------------------------ alert evaluation lease

    # Several servers may share one file (Claude Desktop and Cursor each start a stdio server
    # on the default store): the alert_lease row says which connection evaluates alerts and
    # notifies, and counts changes to alert state so the others know when to reload it.

    def claim_alert_lease(self, ttl_s: float) -> tuple[bool, int]:
        """Take or renew the evaluation lease for ``ttl_s`` seconds unless another live
        connection holds it; return (held by this connection, alert state version)."""
        now = self._clock()
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT holder, expires_at, version FROM alert_lease WHERE id = 1"
            ).fetchone()
            holder, expires_at, version = row or (None, 0.0, 0)
            held = holder in (None, self.source) or expires_at <= now
            if held:
                conn.execute(
                    "INSERT OR REPLACE INTO alert_lease VALUES (1, ?, ?, ?)",
                    (self.source, now + ttl_s, version),
                )
        return held, int(version)

    def release_alert_lease(self) -> None:
        """Give the lease up (at shutdown) so another server takes over at once."""
        with self._writing():
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
        with self._writing():
            self._conn.execute(
                "INSERT INTO alert_lease VALUES (1, NULL, 0, 1) "
                "ON CONFLICT (id) DO UPDATE SET version = version + 1"
            )
            row = self._conn.execute("SELECT version FROM alert_lease WHERE id = 1").fetchone()
        return int(row[0])


def _alert_record(row: Sequence[Any]) -> AlertRecord:
    names = [c.strip() for c in _ALERT_COLUMNS.split(",")]
    fields = dict(zip(names, row, strict=True))
    fields["threshold"], fields["limit"] = fields.pop("rule"), fields.pop("limit_value")
    return AlertRecord(**fields)
