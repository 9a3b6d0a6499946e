"""Telling connected clients that alerts or thresholds changed, on both protocol revisions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    EmptyResult,
    LoggingLevel,
    LoggingMessageNotification,
    LoggingMessageNotificationParams,
    NotificationParams,
    ResourceUpdatedNotification,
    ResourceUpdatedNotificationParams,
    ServerNotification,
    SetLevelRequestParams,
    SubscribeRequestParams,
    UnsubscribeRequestParams,
)

from perf_mcp.core.alerts import AlertEvent

logger = logging.getLogger(__name__)

ALERTS_URI = "perf://alerts"
THRESHOLDS_URI = "perf://thresholds"
SUBSCRIBABLE = (ALERTS_URI, THRESHOLDS_URI)
MAX_PEERS = 256  # legacy connections remembered for notifications; the oldest is forgotten
LOG_LEVELS: tuple[LoggingLevel, ...] = get_args(LoggingLevel)  # least severe first


@dataclass
class _Peer:
    """A 2025-11-25 client connection: where to send notifications, and what it asked for."""

    session: ServerSession
    uris: set[str] = field(default_factory=set)
    level: LoggingLevel = "info"


class ClientNotifier:
    """Tells connected MCP clients that alerts or thresholds changed.

    2026-07-28 clients listen with ``subscriptions/listen``: the events go on the server's
    subscription bus. 2025-11-25 clients subscribe with ``resources/subscribe`` and get
    ``notifications/resources/updated``, plus a log message (``notifications/message``) for
    each alert people should hear about, at or above the level they set.
    """

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self._peers: dict[int, _Peer] = {}

    def peer(self, session: ServerSession) -> _Peer:
        """The record of the connection ``session`` belongs to (made on first sight)."""
        key = _connection_key(session)
        found = self._peers.pop(key, None) or _Peer(session)
        self._peers[key] = found  # most recently seen last
        while len(self._peers) > MAX_PEERS:
            del self._peers[next(iter(self._peers))]
        return found

    async def resource_updated(self, uri: str) -> None:
        """Announce that a resource changed to everyone subscribed to it."""
        await self.bus.publish(ResourceUpdated(uri=uri))
        for key, peer in list(self._peers.items()):
            if uri in peer.uris:
                await self._send(
                    key,
                    peer,
                    ResourceUpdatedNotification(params=ResourceUpdatedNotificationParams(uri=uri)),
                )

    async def alerts_changed(self, events: Sequence[AlertEvent]) -> None:
        """An AlertManager subscriber: resource-updated, then a log line per notable event."""
        await self.resource_updated(ALERTS_URI)
        notable = [e for e in events if e.notify]
        for key, peer in list(self._peers.items()):
            for event in notable:
                level = _log_level(event)
                if LOG_LEVELS.index(level) < LOG_LEVELS.index(peer.level):
                    continue
                data = {**event.model_dump(mode="json", exclude_none=True), "uri": ALERTS_URI}
                message = LoggingMessageNotification(
                    params=LoggingMessageNotificationParams(
                        level=level, logger="perf_mcp.alerts", data=data
                    )
                )
                if not await self._send(key, peer, message):
                    break

    async def _send(self, key: int, peer: _Peer, notification: ServerNotification) -> bool:
        try:
            await peer.session.send_notification(notification)
        except Exception as exc:  # the client went away: forget it
            logger.debug("dropping an MCP client that cannot be notified: %r", exc)
            self._peers.pop(key, None)
            return False
        return True

    # ------------------------------------------------------------ 2025-11-25 request handlers

    async def subscribe(
        self, ctx: ServerRequestContext[Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        """resources/subscribe: perf://alerts and perf://thresholds announce their changes."""
        if params.uri not in SUBSCRIBABLE:
            raise MCPError(
                INVALID_PARAMS,
                f"cannot subscribe to {params.uri!r}: subscribe to {ALERTS_URI} (alerts firing "
                f"and resolving) or {THRESHOLDS_URI}; read perf://summary when you need it",
            )
        self.peer(ctx.session).uris.add(params.uri)
        return EmptyResult()

    async def unsubscribe(
        self, ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        """resources/unsubscribe."""
        self.peer(ctx.session).uris.discard(params.uri)
        return EmptyResult()

    async def set_logging_level(
        self, ctx: ServerRequestContext[Any], params: SetLevelRequestParams
    ) -> EmptyResult:
        """logging/setLevel: the least severe alert log message this client wants."""
        self.peer(ctx.session).level = params.level
        return EmptyResult()

    async def initialized(self, ctx: ServerRequestContext[Any], params: NotificationParams) -> None:
        """A 2025-11-25 client finished its handshake: it hears alert log messages."""
        self.peer(ctx.session)


def _connection_key(session: ServerSession) -> int:
    """One key per client connection. Each request gets its own ServerSession, but all of a
    connection's share the ``initialize`` params object, which lives as long as it does."""
    params = session.client_params
    return id(params) if params is not None else id(session)


def _log_level(event: AlertEvent) -> LoggingLevel:
    if event.kind == "resolved":
        return "notice"
    if event.kind == "acknowledged":
        return "info"
    if event.severity == "critical" and event.kind != "deescalated":
        return "critical"
    return "warning"
