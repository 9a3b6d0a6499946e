"""Alert records: the episodes ``list_alerts`` shows, opened, updated and closed by events.

>>> from perf_mcp.core.alerts.thresholds import effective_threshold
>>> from perf_mcp.core.alerts.state import evaluate
>>> t = effective_threshold("error_rate_5min")
>>> step = evaluate(t, "overall", 0.5, 40, now=0.0, prior=None)
>>> open_alerts = {}
>>> [r.state for r in record_events(step.events, {("error_rate_5min", "overall"): step.state},
...                                open_alerts, now=0.0)]
['firing']
>>> list(open_alerts)
[('error_rate_5min', 'overall')]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence

from perf_mcp.core.alerts.specs import AlertStatus
from perf_mcp.core.alerts.state import AlertEvent, AlertRecord, AlertState

AlertKey = tuple[str, str]  # (rule, subject)


def alert_status(state: AlertState | None, now: float) -> AlertStatus:
    """How ``list_alerts`` calls an alert whose (rule, subject) is in ``state``."""
    if state is None or not state.firing:
        return "resolved"
    return "acknowledged" if state.is_acknowledged(now) else "firing"


def record_events(
    events: Sequence[AlertEvent],
    states: Mapping[AlertKey, AlertState],
    open_alerts: MutableMapping[AlertKey, AlertRecord],
    now: float,
) -> list[AlertRecord]:
    """Open, update or close the records the events belong to; the records touched.

    ``states`` holds each event's (rule, subject) state after the event; ``open_alerts``
    (the records not yet resolved) is updated in place.
    """
    touched: list[AlertRecord] = []
    for event in events:
        key = (event.rule, event.subject)
        state = states[key]
        alert = open_alerts.get(key)
        if event.kind == "fired" or alert is None:
            alert = AlertRecord(
                id=0,
                threshold=event.rule,
                subject=event.subject,
                severity=event.severity or "warning",
                state="firing",
                value=event.value,
                limit=event.threshold,
                unit=event.unit,
                message=event.message,
                started_at=state.started_at or now,
                updated_at=now,
            )
        if event.kind != "acknowledged":  # the message keeps saying what is wrong
            alert = alert.model_copy(
                update={
                    "severity": event.severity or alert.severity,
                    "value": event.value,
                    "limit": event.threshold,
                    "message": event.message,
                }
            )
        alert = alert.model_copy(update={"updated_at": now, "state": alert_status(state, now)})
        if event.kind == "resolved":
            alert = alert.model_copy(update={"state": "resolved", "resolved_at": now})
            open_alerts.pop(key, None)
        else:
            if event.kind == "acknowledged":
                alert = alert.model_copy(
                    update={"acknowledged_at": now, "acknowledged_until": state.acknowledged_until}
                )
            elif not state.acknowledged:
                alert = alert.model_copy(
                    update={"acknowledged_at": None, "acknowledged_until": None}
                )
            open_alerts[key] = alert
        touched.append(alert)
    return touched


def active_alerts(
    open_alerts: Mapping[AlertKey, AlertRecord], states: Mapping[AlertKey, AlertState], now: float
) -> list[AlertRecord]:
    """The open records whose (rule, subject) is firing, each with its status now."""
    found = []
    for key, alert in open_alerts.items():
        state = states.get(key)
        if state is not None and state.firing:
            found.append(alert.model_copy(update={"state": alert_status(state, now)}))
    return found


def forget_quiet(
    states: MutableMapping[AlertKey, AlertState],
    open_alerts: MutableMapping[AlertKey, AlertRecord],
    now: float,
    cooldown_s: Callable[[AlertKey], float],
) -> None:
    """Drop the states of quiet subjects whose cooldown has passed (memory stays bounded),
    and records left open without a firing state (a crash before their resolve was stored)."""
    for key, state in list(states.items()):
        last = state.last_notified_at
        if not state.firing and (last is None or now - last >= cooldown_s(key)):
            del states[key]
    for key in [k for k in open_alerts if k not in states or not states[k].firing]:
        del open_alerts[key]


def not_active(alert_id: int, stored: AlertRecord | None) -> str:
    """Why alert ``alert_id`` (as the store has it, if at all) cannot be acknowledged."""
    if stored is not None and stored.state == "resolved":
        return f"alert {alert_id} is resolved: nothing to acknowledge"
    return (
        f"no active alert with id {alert_id}: list_alerts(status='active') shows the "
        "alerts that can be acknowledged"
    )
