"""Announcer: tells Logfire and the subscribers about alert transitions, never holding up
evaluation (each subscriber runs in the manager's task group, under its own time-out)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from perf_mcp import telemetry
from perf_mcp.core.alerts import AlertEvent

if TYPE_CHECKING:
    import logfire

SUBSCRIBER_TIMEOUT_S = 10.0

Subscriber = Callable[[Sequence[AlertEvent]], Awaitable[None] | None]

logger = logging.getLogger(__name__)


class Announcer:
    """The subscribers of one alert manager, and its Logfire log of transitions."""

    def __init__(self, log: logfire.Logfire | None = None) -> None:
        self._log = log  # None: the default instance, looked up at the first transition
        self._subscribers: list[tuple[Subscriber, float, bool]] = []

    def subscribe(
        self, callback: Subscriber, timeout_s: float, all_servers: bool
    ) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        entry = (callback, timeout_s, all_servers)
        self._subscribers.append(entry)

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)

        return unsubscribe

    async def publish(
        self, events: Sequence[AlertEvent], task_group: anyio.abc.TaskGroup | None
    ) -> None:
        """Log each of this server's events to Logfire and hand them to every subscriber."""
        if not events:
            return
        for event in events:
            try:
                self._log_event(event)
            except Exception as exc:  # telemetry trouble must not stop alerting
                logger.warning("logging an alert to Logfire failed: %r", exc)
        for callback, timeout_s, _ in list(self._subscribers):
            await _start(task_group, callback, timeout_s, events)

    async def relay(
        self, events: Sequence[AlertEvent], task_group: anyio.abc.TaskGroup | None
    ) -> None:
        """Hand other servers' transitions to the subscribers that asked for them."""
        if events:
            for callback, timeout_s, all_servers in list(self._subscribers):
                if all_servers:
                    await _start(task_group, callback, timeout_s, events)

    def _log_event(self, event: AlertEvent) -> None:
        attributes: dict[str, Any] = {
            "kind": event.kind,
            "rule": event.rule,
            "subject": event.subject,
            "value": event.value,
            "threshold": event.threshold,
            "severity": event.severity,
            "unit": event.unit,
            "samples": event.samples,
            "notify": event.notify,
            "message": event.message,
        }
        attributes = {k: v for k, v in attributes.items() if v is not None}
        template = "alert {kind}: {message}"
        if self._log is None:
            self._log = telemetry.logfire_instance()
        if event.kind in ("resolved", "acknowledged"):
            self._log.info(template, **attributes)
        elif event.severity == "critical" and event.kind != "deescalated":
            self._log.error(template, **attributes)
        else:
            self._log.warn(template, **attributes)


async def _start(
    task_group: anyio.abc.TaskGroup | None,
    callback: Subscriber,
    timeout_s: float,
    events: Sequence[AlertEvent],
) -> None:
    """Run the subscriber in the task group when there is one (the manager runs), else now."""
    if task_group is not None:
        task_group.start_soon(_deliver, callback, timeout_s, events)
    else:
        await _deliver(callback, timeout_s, events)


async def _deliver(callback: Subscriber, timeout_s: float, events: Sequence[AlertEvent]) -> None:
    try:
        with anyio.fail_after(timeout_s):
            result = callback(events)
            if inspect.isawaitable(result):
                await result
    except Exception as exc:
        logger.warning("an alert subscriber failed: %r", exc, exc_info=exc)
