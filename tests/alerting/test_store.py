"""The manager over the SQLite alert store: a restart, and servers sharing one file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from logfire.testing import CaptureLogfire

from perf_mcp import Monitor
from perf_mcp.alerting import (
    AlertManager,
)
from tests.alerting.fakes import SEARCH, T0, Clock, Inbox, World

pytestmark = pytest.mark.anyio


async def test_alerts_and_overrides_survive_a_restart_on_a_sqlite_file(
    tmp_path: Path, world: World, clock: Clock, capfire: CaptureLogfire
) -> None:
    path = tmp_path / "alerts.db"
    first_monitor = Monitor(path, start_flusher=False)
    first = AlertManager(world, store=first_monitor.alert_store, clock=clock)
    update = await first.set_threshold("error_rate_5min", 0.02, subject="/search")
    assert update.persisted
    world.set("error_rate_5min", SEARCH, 0.03)
    world.set("response_time_p95_ms", "overall", 3000)
    await first.evaluate_once()
    before = {a.subject: a for a in first.list_alerts()}
    await first.acknowledge(before["overall"].id, until=T0 + 3600)

    clock.now += 30
    first_monitor.alert_store.release_alert_lease()  # as leaving the manager's context does
    first_monitor.close()
    monitor = Monitor(path, start_flusher=False)  # a new connection, as after a restart
    second = AlertManager(world, store=monitor.alert_store, clock=clock)
    assert second.threshold("error_rate_5min", SEARCH).warning == 0.02
    after = {a.subject: a for a in second.list_alerts()}
    assert {s: (a.id, a.state) for s, a in after.items()} == {
        SEARCH: (before[SEARCH].id, "firing"),
        "overall": (before["overall"].id, "acknowledged"),
    }
    assert after["overall"].acknowledged_until == T0 + 3600
    world.set("error_rate_5min", SEARCH, 0.001)
    assert [e.kind for e in await second.evaluate_once()] == ["resolved"]
    [resolved] = second.list_alerts("resolved")
    assert (resolved.id, resolved.resolved_at) == (before[SEARCH].id, clock.now)
    monitor.close()
    with sqlite3.connect(path) as conn:
        kinds = conn.execute("SELECT kind FROM alert_events ORDER BY id").fetchall()
    conn.close()
    assert [k for (k,) in kinds] == ["fired", "fired", "acknowledged", "resolved"]


# ---------------------------------------------------------------- servers sharing one store


async def test_servers_sharing_a_store_evaluate_once_and_follow_each_other(
    tmp_path: Path, world: World, clock: Clock, capfire: CaptureLogfire
) -> None:
    path = tmp_path / "shared.db"
    with (
        Monitor(path, clock=clock, start_flusher=False) as first_monitor,
        Monitor(path, clock=clock, start_flusher=False) as second_monitor,
    ):
        first_store, second_store = first_monitor.alert_store, second_monitor.alert_store
        first, second, second_clients = Inbox(), Inbox(), Inbox()
        a = AlertManager(world, store=first_store, clock=clock)
        b = AlertManager(world, store=second_store, clock=clock)
        a.subscribe(first)
        b.subscribe(second)  # a webhook: each transition once, from where it happened
        b.subscribe(second_clients, all_servers=True)  # b's own MCP clients: everything
        world.set("response_time_p95_ms", "overall", 5000)
        assert [e.kind for e in await a.evaluate_once()] == ["fired"]
        assert await b.evaluate_once() == []  # the lease is taken: b only follows
        assert (a.leader, b.leader) == (True, False)
        assert second_clients.kinds == [("fired", "response_time_p95_ms", "overall")]
        [relayed] = second_clients.batches[0]
        assert (relayed.value, relayed.threshold, relayed.unit, relayed.notify) == (
            5000,
            2000,
            "ms",
            True,
        )
        [alert] = b.list_alerts()
        assert (alert.id, alert.state) == (a.list_alerts()[0].id, "firing")

        await b.acknowledge(alert.id)  # where the user happens to ask
        clock.now += 400  # past the cooldown: only the acknowledgement keeps a quiet
        assert await a.evaluate_once() == []
        assert a.list_alerts()[0].state == "acknowledged"
        await b.set_threshold("response_time_p95_ms", 6000)
        clock.now += 10
        assert [e.kind for e in await a.evaluate_once()] == ["resolved"]
        world.set("response_time_p95_ms", "overall", 9000)
        clock.now += 10
        assert [e.kind for e in await a.evaluate_once()] == ["fired"]

        first_store.release_alert_lease()  # a stops cleanly: b takes over at its next tick
        clock.now += 10
        assert await b.evaluate_once() == []  # already firing: not announced twice
        assert b.leader
        assert await a.evaluate_once() == []
        assert not a.leader
        clock.now += b.lease_ttl_s + 1  # b died without a word: its lease runs out
        assert await a.evaluate_once() == []
        assert a.leader
        world.set("response_time_p95_ms", "overall", 100)
        clock.now += 10
        assert [e.kind for e in await a.evaluate_once()] == ["resolved"]
        await b.refresh()
        assert b.list_alerts() == []
    assert first.kinds == [
        ("fired", "response_time_p95_ms", "overall"),
        ("resolved", "response_time_p95_ms", "overall"),
        ("fired", "response_time_p95_ms", "overall"),
        ("resolved", "response_time_p95_ms", "overall"),
    ]
    assert second.kinds == [("acknowledged", "response_time_p95_ms", "overall")]
    assert second_clients.kinds == [  # what b's clients heard: all of it, once
        ("fired", "response_time_p95_ms", "overall"),
        ("acknowledged", "response_time_p95_ms", "overall"),
        ("resolved", "response_time_p95_ms", "overall"),
        ("fired", "response_time_p95_ms", "overall"),
        ("resolved", "response_time_p95_ms", "overall"),
    ]
