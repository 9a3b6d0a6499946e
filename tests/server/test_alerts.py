"""Alerts, thresholds, notifications, resource usage and health through real MCP clients."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.types import (
    LoggingMessageNotificationParams,
    ResourceUpdatedNotification,
    ServerNotification,
)

from perf_mcp import Monitor
from perf_mcp.resources import ProcessUsage, ResourceSample
from perf_mcp.server import Runtime, build_server
from tests.quiet_machine import quiet_machine
from tests.server.mcp_calls import call_error, call_ok

pytestmark = pytest.mark.anyio

ALERTS = "perf://alerts"
THRESHOLDS = "perf://thresholds"


def requests(endpoint: str, n: int, *, status: int = 200, ms: float = 20.0, **extra: Any) -> Any:
    return [
        {"endpoint": endpoint, "method": "POST", "status_code": status, "duration_ms": ms, **extra}
        for _ in range(n)
    ]


@pytest.fixture
def quiet(monitor: Monitor) -> Monitor:
    """The store, with the machine's own cpu and memory rules kept quiet."""
    quiet_machine(monitor.storage)
    return monitor


class Inbox:
    """What a 2025-11-25 client hears."""

    def __init__(self) -> None:
        self.updated: list[str] = []
        self.logs: list[LoggingMessageNotificationParams] = []

    async def on_message(self, message: ServerNotification | Exception) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            self.updated.append(message.params.uri)

    async def on_log(self, params: LoggingMessageNotificationParams) -> None:
        self.logs.append(params)


@asynccontextmanager
async def legacy(server: MCPServer[Runtime], inbox: Inbox, *uris: str) -> AsyncIterator[Client]:
    async with Client(
        server, mode="legacy", message_handler=inbox.on_message, logging_callback=inbox.on_log
    ) as client:
        for uri in uris:
            with pytest.warns(MCPDeprecationWarning):
                await client.subscribe_resource(uri)
        yield client


async def settle(arrived: Callable[[], bool]) -> None:
    """Let notifications sent in the background reach the in-process clients: until
    ``arrived()`` (then a moment more, for any that should not come), at most 10 s."""
    with anyio.move_on_after(10):
        while not arrived():
            await anyio.sleep(0.01)
    await anyio.sleep(0.05)


# ---------------------------------------------------------------- alerts and thresholds


async def test_set_threshold_applies_at_once_and_the_alert_can_be_acknowledged(
    quiet: Monitor, protocol: str
) -> None:
    async with Client(build_server(quiet, toolsets="all"), mode=protocol) as client:
        await call_ok(client, "record_requests", {"requests": requests("/slow", 30, ms=600)})
        assert (await call_ok(client, "list_alerts"))["alerts"] == []
        change = await call_ok(
            client,
            "set_threshold",
            {"name": "response_time_p95_ms", "value": 500, "subject": "POST /slow"},
        )
        assert (change["previous"]["warning"], change["current"]["warning"]) == (1000, 500)
        assert change["persisted"] is True
        listed = await call_ok(client, "list_alerts")
        [alert] = listed["alerts"]
        assert (alert["threshold"], alert["subject"], alert["severity"]) == (
            "response_time_p95_ms",
            "POST /slow",
            "warning",
        )
        assert alert["value"] == pytest.approx(600, rel=0.02)
        assert (alert["limit"], alert["unit"], listed["active"]) == (500, "ms", 1)

        until = datetime(2100, 1, 1, 9, tzinfo=UTC)
        acked = await call_ok(
            client, "acknowledge_alert", {"alert_id": alert["id"], "until": "2100-01-01T09:00:00"}
        )
        assert (acked["state"], acked["acknowledged_until"]) == (
            "acknowledged",
            until.timestamp(),
        )
        assert (await call_ok(client, "list_alerts", {"status": "firing"}))["alerts"] == []
        [(_, acked_event)] = quiet.alert_store.alert_events_after(0, 100)[-1:]
        assert acked_event.message.endswith("by stdio client (client says it is 'mcp')")
        health = await call_ok(client, "health_check")
        assert health["status"] == "degraded"
        [breach] = health["breached"]
        assert (breach["alert_id"], breach["acknowledged"]) == (alert["id"], True)
        assert health["reasons"] == [f"alert {alert['id']} (acknowledged): {alert['message']}"]
        message = await call_error(client, "acknowledge_alert", {"alert_id": alert["id"] + 1})
        assert "no active alert" in message


async def test_a_critical_alert_makes_the_server_unhealthy_until_it_resolves(
    quiet: Monitor,
) -> None:
    async with Client(build_server(quiet, toolsets="all")) as client:
        await call_ok(client, "record_requests", {"requests": requests("/pay", 30, status=503)})
        await call_ok(client, "set_threshold", {"name": "error_rate_5min", "cooldown_s": 60})
        health = await call_ok(client, "health_check")
        assert health["status"] == "unhealthy"
        assert [(b["subject"], b["severity"]) for b in health["breached"]] == [
            ("POST /pay", "critical"),
            ("overall", "critical"),
        ] or [(b["subject"], b["severity"]) for b in health["breached"]] == [
            ("overall", "critical"),
            ("POST /pay", "critical"),
        ]
        await call_ok(client, "record_requests", {"requests": requests("/pay", 2000)})
        await call_ok(client, "set_threshold", {"name": "error_rate_5min", "cooldown_s": 120})
        assert (await call_ok(client, "health_check"))["status"] == "ok"
        resolved = await call_ok(client, "list_alerts", {"status": "resolved", "window": "1h"})
        assert {a["subject"] for a in resolved["alerts"]} == {"POST /pay", "overall"}


async def test_dry_run_replays_the_stored_history_and_changes_nothing(
    quiet: Monitor, protocol: str
) -> None:
    now = time.time()
    bad = now - 1800  # ten minutes of 40% errors, half an hour ago
    batch = [
        {**r, "status_code": 500 if i % 5 < 2 else 200, "timestamp": bad + 6 * i}
        for i, r in enumerate(requests("/pay", 100))
    ]
    async with Client(build_server(quiet, toolsets="all"), mode=protocol) as client:
        await call_ok(client, "record_requests", {"requests": batch})
        arguments = {"name": "error_rate_5min", "value": 0.6, "subject": "POST /pay"}
        change = await call_ok(client, "set_threshold", {**arguments, "dry_run": True})
        assert (change["dry_run"], change["persisted"]) == (True, False)
        assert (change["replay"]["fired"], change["baseline"]["fired"]) == (0, 1)
        assert change["replay"]["evaluations"] > 1000  # a minute apart over the last 24 h
        assert "0 episode(s) with the new levels, 1 with the current ones" in change["note"]
        listed = await call_ok(client, "list_thresholds")
        assert not any(t["subject_overrides"] for t in listed["thresholds"])


async def test_thresholds_and_alerts_survive_a_restart(db_path: Path) -> None:
    quiet_machine(db_path)
    first = build_server(db_path=db_path, toolsets="all")
    async with Client(first) as client:
        await call_ok(client, "record_requests", {"requests": requests("/pay", 30, status=500)})
        await call_ok(client, "set_threshold", {"name": "tool_error_rate", "value": 0.5})
        listed = (await call_ok(client, "list_alerts"))["alerts"]
        [before] = [a for a in listed if a["subject"] == "POST /pay"]
    async with Client(build_server(db_path=db_path, toolsets="all")) as client:
        listed = await call_ok(client, "list_thresholds")
        [tool] = [t for t in listed["thresholds"] if t["name"] == "tool_error_rate"]
        assert (tool["warning"], tool["overridden"]) == (0.5, True)
        after = (await call_ok(client, "list_alerts"))["alerts"]
        assert before["id"] in {a["id"] for a in after}


async def test_servers_sharing_a_store_list_the_same_alerts(db_path: Path) -> None:
    quiet_machine(db_path)
    inbox = Inbox()
    with Monitor(db_path) as one, Monitor(db_path) as other:
        async with (
            Client(build_server(one, toolsets="all")) as first,
            legacy(build_server(other, toolsets="all"), inbox, ALERTS) as second,
        ):
            await call_ok(first, "record_requests", {"requests": requests("/pay", 30, status=500)})
            await call_ok(first, "set_threshold", {"name": "tool_error_rate", "value": 0.5})
            mine = await call_ok(first, "list_alerts")
            theirs = await call_ok(second, "list_alerts")
            assert (mine["evaluation"], theirs["evaluation"]) == ("this server", "another server")
            assert theirs["alerts"] == mine["alerts"]
            assert theirs["last_evaluated_at"] is None
            # the second server tells its own clients what the first raised
            await settle(lambda: len(inbox.logs) >= 2)
            assert inbox.updated == [ALERTS]
            assert sorted(log.data["subject"] for log in inbox.logs) == ["POST /pay", "overall"]

            alert_id = theirs["alerts"][0]["id"]
            await call_ok(second, "acknowledge_alert", {"alert_id": alert_id})
            states = {a["id"]: a["state"] for a in (await call_ok(first, "list_alerts"))["alerts"]}
            assert states[alert_id] == "acknowledged"
            health = await call_ok(second, "health_check")
            alerting = {c["name"]: c for c in health["components"]}["alerting"]
            assert "another perf-mcp server sharing this store evaluates" in alerting["detail"]


# ---------------------------------------------------------------- notifications


async def first_evaluation(client: Client) -> None:
    """Wait until the background alert evaluation made its first pass (at start-up)."""
    with anyio.fail_after(10):
        while (await call_ok(client, "list_alerts"))["last_evaluated_at"] is None:
            await anyio.sleep(0.01)


async def test_legacy_subscribers_hear_changes_and_alert_log_messages(quiet: Monitor) -> None:
    # The periodic evaluation runs once at start and then not for an hour: only set_threshold
    # evaluates while the test runs, so no evaluation can come between its records.
    server = build_server(
        quiet,
        settings=quiet.settings.model_copy(update={"alert_interval_s": 3600}),
        toolsets="all",
    )
    everything, critical_only, unsubscribed = Inbox(), Inbox(), Inbox()
    async with (
        legacy(server, everything, ALERTS, THRESHOLDS) as client,
        legacy(server, critical_only, ALERTS) as strict,
        legacy(server, unsubscribed) as _,
    ):
        await first_evaluation(client)
        with pytest.warns(MCPDeprecationWarning):
            await strict.set_logging_level("critical")
        await call_ok(client, "record_requests", {"requests": requests("/pay", 30, status=500)})
        await call_ok(client, "record_requests", {"requests": requests("/slow", 30, ms=1500)})
        await call_ok(client, "set_threshold", {"name": "tool_error_rate", "value": 0.5})
        await settle(lambda: len(everything.updated) >= 2 and len(everything.logs) >= 4)
        assert sorted(everything.updated) == [ALERTS, THRESHOLDS]  # in either order
        assert set(critical_only.updated) == {ALERTS}
        assert unsubscribed.updated == []
        heard = {(log.data["subject"], log.data["rule"], log.level) for log in everything.logs}
        assert heard == {
            ("POST /pay", "error_rate_5min", "critical"),
            ("overall", "error_rate_5min", "critical"),
            ("POST /slow", "response_time_p95_ms", "warning"),
            ("overall", "response_time_p95_ms", "warning"),
        }
        assert {log.level for log in critical_only.logs} == {"critical"}
        assert {log.level for log in unsubscribed.logs} == {"critical", "warning"}
        [log] = [log for log in everything.logs if log.data["subject"] == "POST /pay"]
        assert log.logger == "perf_mcp.alerts"
        assert log.data["message"].startswith("error_rate_5min for POST /pay is 100%")
        assert log.data["uri"] == ALERTS

        with pytest.warns(MCPDeprecationWarning):
            await client.unsubscribe_resource(ALERTS)
        await call_ok(client, "set_threshold", {"name": "error_rate_5min", "value": 0.5})
        await settle(lambda: len(everything.updated) >= 3)
        assert sorted(everything.updated) == [ALERTS, THRESHOLDS, THRESHOLDS]


async def test_only_alerts_and_thresholds_can_be_subscribed(server: MCPServer[Runtime]) -> None:
    async with Client(server, mode="legacy") as client:
        assert client.server_capabilities.resources is not None
        assert client.server_capabilities.resources.subscribe is True
        with pytest.warns(MCPDeprecationWarning), pytest.raises(MCPError) as raised:
            await client.subscribe_resource("perf://summary")
        assert "subscribe to perf://alerts" in str(raised.value)


async def test_2026_clients_listen_for_alerts_and_thresholds(quiet: Monitor) -> None:
    async with Client(build_server(quiet, toolsets="all")) as client:
        assert client.protocol_version == "2026-07-28"
        async with client.listen(resource_subscriptions=[ALERTS, THRESHOLDS]) as events:
            await call_ok(client, "record_requests", {"requests": requests("/pay", 30, status=500)})
            await call_ok(client, "set_threshold", {"name": "tool_error_rate", "value": 0.5})
            heard = []
            with anyio.fail_after(5):
                async for event in events:
                    heard.append(getattr(event, "uri", None))
                    if len(heard) == 2:
                        break
        assert sorted(heard) == [ALERTS, THRESHOLDS]


# ---------------------------------------------------------------- resource usage


def stored_sample(monitor: Monitor, at: float, cpu: float, pid: int, rss: int) -> None:
    sample = ResourceSample(
        timestamp=at,
        cpu_percent=cpu,
        memory_percent=50.0,
        processes=[ProcessUsage(pid=pid, rss_bytes=rss)],
    )
    monitor.storage.add_resource_sample(at, sample.model_dump_json())


async def test_resource_usage_summarizes_the_stored_samples(monitor: Monitor) -> None:
    now = time.time()
    for i in range(10):
        stored_sample(monitor, now - 280 + 20 * i, cpu=10.0 * (i + 1), pid=os.getpid(), rss=100)
    stored_sample(monitor, now - 50, cpu=55.0, pid=1, rss=10**12)  # another server's sample
    stored_sample(monitor, now - 3000, cpu=99.0, pid=os.getpid(), rss=100)  # outside 5m
    async with Client(build_server(monitor, toolsets="all")) as client:
        usage = await call_ok(client, "get_resource_usage", {"window": "5m"})
    cpu = usage["stats"]["cpu_percent"]
    assert usage["samples"] == cpu["samples"] == 12  # 11 stored + one read for this answer
    assert cpu["max"] >= 100
    rss = usage["stats"]["process_rss_bytes"]
    assert rss["samples"] == 11  # the other process's sample is not this server's
    assert rss["max"] < 10**12
    assert usage["latest"]["processes"][0]["pid"] == os.getpid()
    assert usage["first_at"] == pytest.approx(now - 280)
    assert usage["spread"] is False


async def test_a_long_window_reads_samples_spread_over_it(monitor: Monitor) -> None:
    now = time.time()
    for i in range(1500):
        stored_sample(monitor, now - 2 * i, cpu=1.0, pid=os.getpid(), rss=100)
    async with Client(build_server(monitor, toolsets="all")) as client:
        usage = await call_ok(client, "get_resource_usage", {"window": "1h"})
    assert usage["spread"] is True
    assert usage["samples"] == 751  # every other one of 1501: the 1500, and one taken now
    assert usage["first_at"] == pytest.approx(now - 2 * 1499, abs=10)


async def test_alerts_resource_is_the_alert_list(quiet: Monitor) -> None:
    async with Client(build_server(quiet, toolsets="all")) as client:
        await call_ok(client, "record_requests", {"requests": requests("/pay", 30, status=500)})
        await call_ok(client, "set_threshold", {"name": "tool_error_rate", "value": 0.5})
        result = await client.read_resource(ALERTS)
        listed = json.loads(result.contents[0].text)  # type: ignore[union-attr]
        assert {a["subject"] for a in listed["alerts"]} == {"POST /pay", "overall"}
