"""The lifespan owns the store: it opens it, flushes what was recorded, and closes it."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client

from perf_mcp import Monitor
from perf_mcp.server import build_server
from perf_mcp.storage import Storage
from tests.server.mcp_calls import call_ok

pytestmark = pytest.mark.anyio

SAMPLE = {"endpoint": "/orders", "status_code": 201, "duration_ms": 80.0}


def count_in_store(db_path: Path) -> int:
    with Monitor(db_path, start_flusher=False) as reader:
        return reader.get_performance_summary("1h").requests.count


async def test_server_opens_its_own_store_and_flushes_on_close(
    db_path: Path, protocol: str
) -> None:
    server = build_server(db_path=db_path, flush_interval_s=3600)
    async with Client(server, mode=protocol) as client:
        await call_ok(client, "record_requests", {"requests": [SAMPLE] * 3})
    assert count_in_store(db_path) == 3


async def test_a_given_monitor_is_flushed_but_left_open(db_path: Path, protocol: str) -> None:
    with Monitor(db_path, flush_interval_s=3600) as owned:
        async with Client(build_server(owned), mode=protocol) as client:
            await call_ok(client, "record_requests", {"requests": [SAMPLE] * 2})
        assert count_in_store(db_path) == 2
        owned.record_request("/orders", "POST", 201, 5.0)  # still usable
    assert count_in_store(db_path) == 3


async def test_connections_share_one_store_until_the_last_leaves(
    db_path: Path, protocol: str
) -> None:
    server = build_server(db_path=db_path, flush_interval_s=3600)
    async with Client(server, mode=protocol) as first, Client(server, mode=protocol) as second:
        await call_ok(first, "record_requests", {"requests": [SAMPLE] * 4})
        summary = await call_ok(second, "get_performance_summary", {"window": "5m"})
        assert summary["requests"]["count"] == 4
    async with Client(server, mode=protocol) as again:
        summary = await call_ok(again, "get_performance_summary", {"window": "5m"})
        assert summary["requests"]["count"] == 4


async def test_concurrent_recording_from_many_clients_loses_nothing(
    db_path: Path, protocol: str
) -> None:
    server = build_server(db_path=db_path, flush_interval_s=3600)

    async def agent(n: int) -> None:
        async with Client(server, mode=protocol) as client:
            for _ in range(n):
                await call_ok(client, "record_tool_call", {"tool_name": "fetch", "duration_ms": 3})

    async with anyio.create_task_group() as tasks:
        for _ in range(8):
            tasks.start_soon(agent, 25)
    with Monitor(db_path, start_flusher=False) as reader:
        assert reader.get_tool_stats("fetch", window="5m").tools[0].calls == 200


async def test_sampler_and_alerting_run_with_the_lifespan_and_hand_over_at_the_end(
    db_path: Path,
) -> None:
    server = build_server(db_path=db_path, toolsets="core,resources")
    async with Client(server) as client:
        health = await call_ok(client, "health_check")
        components = {c["name"]: c for c in health["components"]}
        assert components["sampler"]["status"] == components["alerting"]["status"] == "ok"
        assert "every 30 s" in components["sampler"]["detail"]
        usage = await call_ok(client, "get_resource_usage", {"window": "1m"})
        assert usage["samples"] >= 1
    with Storage(db_path) as store:
        holder, _, _ = store.alert_lease()
        assert holder is None  # released: another server takes over alerting at once
        assert store.resource_samples_spread(0, 10)[1] >= 1  # samples went to the store
