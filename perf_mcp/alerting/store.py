"""What the alert manager keeps in a store: the ``AlertStore`` protocol, and an in-memory
implementation for tests and private ``:memory:`` servers.

The SQLite store (``Monitor.alert_store``) implements the protocol on the shared file, so
alerts, acknowledgements and overrides survive a restart and are shared between servers.

>>> store = MemoryAlertStore()
>>> store.claim_alert_lease(30.0), survives_restart(store)
((True, 0), False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from perf_mcp.core.alerts import AlertEvent, AlertRecord, AlertState, AlertStatus, ThresholdOverride


class AlertStore(Protocol):
    """What the alert manager needs stored; ``storage.Storage`` implements it on SQLite."""

    def load_overrides(self) -> list[ThresholdOverride]: ...
    def save_override(self, override: ThresholdOverride) -> None: ...
    def delete_override(self, rule: str, subject: str | None) -> bool: ...
    def load_alert_states(self) -> list[AlertState]: ...
    def save_alert_states(self, states: Sequence[AlertState]) -> None: ...
    def save_alert(self, alert: AlertRecord) -> int:
        """Insert (``id == 0``) or update an alert; return its id."""
        ...

    def list_alerts(
        self, status: AlertStatus | None, since: float | None, limit: int
    ) -> list[AlertRecord]:
        """Alerts newest first, of one status (None: any) started or resolved since ``since``."""
        ...

    def get_alert(self, alert_id: int) -> AlertRecord | None: ...
    def add_alert_events(self, events: Sequence[tuple[int, AlertEvent]]) -> None:
        """Append transitions, each with its alert's id."""
        ...

    def claim_alert_lease(self, ttl_s: float) -> tuple[bool, int]:
        """Take or renew the evaluation lease; (held by this store connection, version)."""
        ...

    def release_alert_lease(self) -> None: ...
    def alert_lease(self) -> tuple[int | None, float, int]:
        """(holder, expiry, version of the alert state)."""
        ...

    def bump_alert_version(self) -> int:
        """Count a change to alert state; return the new version."""
        ...

    def last_alert_event_id(self) -> int: ...
    def alert_events_after(self, event_id: int, limit: int) -> list[tuple[int, AlertEvent]]:
        """Transitions stored after ``event_id`` by any server, oldest first, with their ids."""
        ...


class MemoryAlertStore:
    """An AlertStore in memory: for tests and for a private ``:memory:`` server."""

    persistent = False

    def __init__(self) -> None:
        self.overrides: dict[tuple[str, str | None], ThresholdOverride] = {}
        self.states: dict[tuple[str, str], AlertState] = {}
        self.alerts: dict[int, AlertRecord] = {}
        self.events: list[tuple[int, AlertEvent]] = []
        self.version = 0

    def load_overrides(self) -> list[ThresholdOverride]:
        return list(self.overrides.values())

    def save_override(self, override: ThresholdOverride) -> None:
        self.overrides[override.rule, override.subject] = override

    def delete_override(self, rule: str, subject: str | None) -> bool:
        return self.overrides.pop((rule, subject), None) is not None

    def load_alert_states(self) -> list[AlertState]:
        return list(self.states.values())

    def save_alert_states(self, states: Sequence[AlertState]) -> None:
        for state in states:
            self.states[state.rule, state.subject] = state

    def save_alert(self, alert: AlertRecord) -> int:
        alert_id = alert.id or max(self.alerts, default=0) + 1
        self.alerts[alert_id] = alert.model_copy(update={"id": alert_id})
        return alert_id

    def list_alerts(
        self, status: AlertStatus | None, since: float | None, limit: int
    ) -> list[AlertRecord]:
        found = [
            a
            for a in sorted(self.alerts.values(), key=lambda a: (a.started_at, a.id), reverse=True)
            if (status is None or a.state == status)
            and (since is None or max(a.started_at, a.resolved_at or 0) >= since)
        ]
        return found[:limit]

    def get_alert(self, alert_id: int) -> AlertRecord | None:
        return self.alerts.get(alert_id)

    def add_alert_events(self, events: Sequence[tuple[int, AlertEvent]]) -> None:
        self.events.extend(events)

    def claim_alert_lease(self, ttl_s: float) -> tuple[bool, int]:
        return True, self.version  # one process: always the evaluator

    def release_alert_lease(self) -> None:
        pass

    def alert_lease(self) -> tuple[int | None, float, int]:
        return None, 0.0, self.version

    def bump_alert_version(self) -> int:
        self.version += 1
        return self.version

    def last_alert_event_id(self) -> int:
        return len(self.events)

    def alert_events_after(self, event_id: int, limit: int) -> list[tuple[int, AlertEvent]]:
        return [(i + 1, e) for i, (_, e) in enumerate(self.events)][event_id : event_id + limit]


def survives_restart(store: AlertStore) -> bool:
    """True when what is stored outlives this process (a store on a file)."""
    return bool(getattr(store, "persistent", True)) and getattr(store, "path", "") != ":memory:"


def load_alerts(
    store: AlertStore,
) -> tuple[
    dict[tuple[str, str | None], ThresholdOverride],
    dict[tuple[str, str], AlertState],
    dict[tuple[str, str], AlertRecord],
]:
    """What a manager mirrors: overrides, states and open alerts, each by its key."""
    overrides = {(o.rule, o.subject): o for o in store.load_overrides()}
    states = {(s.rule, s.subject): s for s in store.load_alert_states()}
    open_alerts: dict[tuple[str, str], AlertRecord] = {}
    for status in ("firing", "acknowledged"):
        for alert in store.list_alerts(status, None, 100_000):
            open_alerts.setdefault((alert.threshold, alert.subject), alert)
    return overrides, states, open_alerts
