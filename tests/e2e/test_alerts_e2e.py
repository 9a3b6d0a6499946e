"""Alerts end to end: a real `perf-mcp serve` notices an endpoint failing, tells its
subscribed clients once, and resolves the alert when the endpoint recovers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import (
    LoggingMessageNotificationParams,
    ResourceUpdatedNotification,
    ServerNotification,
)

from tests.e2e.mcp_process import http_server, stdio_params
from tests.quiet_machine import quiet_machine

pytestmark = pytest.mark.anyio

INTERVAL_S = 1.0
FAST = ["--alert-interval", f"{INTERVAL_S:g}", "--sample-interval", "1"]
SLACK_S = 1.5  # a busy 2-core machine: time for the request, the flush and the notification
ALERTS = "perf://alerts"


def checkout(n: int, failing: int) -> list[dict[str, Any]]:
    """``n`` POST /checkout requests, the first ``failing`` of them 500s."""
    return [
        {
            "endpoint": "/checkout",
            "method": "POST",
            "status_code": 500 if i < failing else 201,
            "duration_ms": 40.0,
        }
        for i in range(n)
    ]


async def structured(client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


class Inbox:
    """What a 2025-11-25 client hears: resource-updated notifications and log messages."""

    def __init__(self) -> None:
        self.updated: list[str] = []
        self.logs: list[LoggingMessageNotificationParams] = []
        self.changed = anyio.Event()

    async def on_message(self, message: ServerNotification | Exception) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            self.updated.append(message.params.uri)
            self.changed.set()

    async def on_log(self, params: LoggingMessageNotificationParams) -> None:
        self.logs.append(params)

    async def next_update(self, timeout_s: float) -> float:
        """Wait for the next resource-updated notification; the seconds it took."""
        started = time.monotonic()
        with anyio.fail_after(timeout_s):
            await self.changed.wait()
        self.changed = anyio.Event()
        return time.monotonic() - started


@asynccontextmanager
async def legacy_subscriber(server: Any, inbox: Inbox) -> AsyncIterator[Client]:
    """A 2025-11-25 client subscribed to perf://alerts."""
    async with Client(
        server, mode="legacy", message_handler=inbox.on_message, logging_callback=inbox.on_log
    ) as client:
        with pytest.warns(MCPDeprecationWarning):  # removed at 2026-07-28, served before
            await client.subscribe_resource(ALERTS)
        yield client


async def test_failing_endpoint_alerts_subscribers_once_and_resolves(db_path: Path) -> None:
    quiet_machine(db_path)
    with http_server(db_path, extra=FAST) as (url, _):
        inbox = Inbox()
        async with (
            legacy_subscriber(url, inbox) as legacy,
            Client(url) as modern,
            modern.listen(resource_subscriptions=[ALERTS]) as listening,
        ):
            assert modern.protocol_version == "2026-07-28"
            await structured(legacy, "record_requests", {"requests": checkout(40, failing=20)})

            took = await inbox.next_update(timeout_s=INTERVAL_S + SLACK_S)
            assert took <= INTERVAL_S + SLACK_S
            with anyio.fail_after(SLACK_S):
                event = await listening.__anext__()
            assert event.uri == ALERTS  # type: ignore[union-attr]
            listed = await structured(modern, "list_alerts", {})
            alerts = {a["subject"]: a for a in listed["alerts"]}
            assert set(alerts) == {"POST /checkout", "overall"}
            failing = alerts["POST /checkout"]
            assert (failing["threshold"], failing["severity"], failing["state"]) == (
                "error_rate_5min",
                "critical",
                "firing",
            )
            assert (failing["value"], failing["limit"]) == (0.5, 0.2)
            assert listed["evaluation"] == "this server"
            critical = [log for log in inbox.logs if log.data["subject"] == "POST /checkout"]
            assert [(log.level, log.logger, log.data["kind"]) for log in critical] == [
                ("critical", "perf_mcp.alerts", "fired")
            ]
            health = await structured(modern, "health_check", {})
            assert health["status"] == "unhealthy"
            assert any("error_rate_5min for POST /checkout is 50%" in r for r in health["reasons"])

            # Still failing: the next evaluations stay quiet (the cooldown is 5 minutes).
            await anyio.sleep(2 * INTERVAL_S)
            assert inbox.updated == [ALERTS]

            # Recovery: 1000 good requests bring the 5-minute error rate down to 2%.
            await structured(modern, "record_requests", {"requests": checkout(1000, failing=0)})
            await inbox.next_update(timeout_s=INTERVAL_S + SLACK_S)
            active = await structured(legacy, "list_alerts", {})
            assert active["alerts"] == []
            resolved = await structured(legacy, "list_alerts", {"status": "resolved"})
            assert {a["id"]: a["state"] for a in resolved["alerts"]} == {
                failing["id"]: "resolved",
                alerts["overall"]["id"]: "resolved",
            }
            assert [log.data["kind"] for log in inbox.logs if log.level == "notice"] == [
                "resolved",
                "resolved",
            ]
            assert (await structured(modern, "health_check", {}))["status"] == "ok"


async def test_a_stdio_client_can_subscribe_and_acknowledge(db_path: Path) -> None:
    quiet_machine(db_path)
    inbox = Inbox()
    params = stdio_params(db_path, *FAST, "--toolsets", "core,record,admin")
    async with legacy_subscriber(params, inbox) as client:
        await structured(client, "record_requests", {"requests": checkout(30, failing=3)})
        await inbox.next_update(timeout_s=INTERVAL_S + SLACK_S)
        listed = await structured(client, "list_alerts", {})
        [alert] = [a for a in listed["alerts"] if a["subject"] == "POST /checkout"]
        assert (alert["severity"], alert["value"]) == ("warning", 0.1)
        acked = await structured(client, "acknowledge_alert", {"alert_id": alert["id"]})
        assert (acked["state"], acked["acknowledged_until"]) == ("acknowledged", None)
        await inbox.next_update(timeout_s=SLACK_S)  # the acknowledgement changed the list
        health = await structured(client, "health_check", {})
        assert health["status"] == "degraded"  # a warning, and someone knows
        assert any(f"alert {alert['id']} (acknowledged)" in r for r in health["reasons"])


# ---------------------------------------------------------------- servers sharing a store


class Hook:
    """A webhook receiver on 127.0.0.1 that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["content-length"])
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def kinds(self) -> list[tuple[str, str]]:
        return [(e["kind"], e["subject"]) for body in self.bodies for e in body["events"]]


@contextmanager
def webhook() -> Iterator[Hook]:
    hook = Hook()
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()


async def test_two_servers_on_one_store_notify_once(db_path: Path) -> None:
    quiet_machine(db_path)
    with webhook() as hook:
        extra = [*FAST, "--webhook-url", hook.url, "--allow-private-webhook"]
        with (
            http_server(db_path, extra=extra) as (first_url, _),
            http_server(db_path, extra=extra) as (second_url, _),
        ):
            inboxes = [Inbox(), Inbox()]
            async with (
                legacy_subscriber(first_url, inboxes[0]) as first,
                legacy_subscriber(second_url, inboxes[1]) as second,
            ):
                await structured(first, "record_requests", {"requests": checkout(40, 20)})
                for inbox in inboxes:  # each server tells its own clients, whoever evaluates
                    await inbox.next_update(timeout_s=2 * INTERVAL_S + SLACK_S)
                await anyio.sleep(3 * INTERVAL_S)  # time for a second server to repeat them
                assert sorted(hook.kinds()) == [("fired", "POST /checkout"), ("fired", "overall")]
                for inbox in inboxes:
                    assert inbox.updated == [ALERTS]
                    fired = sorted((log.data["subject"], log.level) for log in inbox.logs)
                    assert fired == [("POST /checkout", "critical"), ("overall", "critical")]
                views = [await structured(c, "list_alerts", {}) for c in (first, second)]
                assert [len(v["alerts"]) for v in views] == [2, 2]
                assert sorted(v["evaluation"] for v in views) == [
                    "another server",
                    "this server",
                ]
