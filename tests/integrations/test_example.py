"""examples/fastapi_app.py works as the README says: traffic in, numbers out."""

from __future__ import annotations

import importlib.util
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from perf_mcp import Monitor
from perf_mcp.integrations import set_default_monitor

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_app.py"

pytestmark = pytest.mark.anyio


@pytest.fixture
def example(monitor: Monitor) -> Iterator[ModuleType]:
    """The example module, writing to the test's monitor."""
    previous = set_default_monitor(monitor)
    spec = importlib.util.spec_from_file_location("perf_mcp_example_app", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)
        set_default_monitor(previous)


async def test_traffic_shows_up_as_endpoints_agents_and_tools(
    example: ModuleType, monitor: Monitor
) -> None:
    random.seed(5)
    transport = httpx.ASGITransport(app=example.app)
    await example.send_traffic("http://shop", 80, concurrency=16, transport=transport)

    endpoints = {(e.endpoint, e.method): e for e in monitor.get_endpoint_stats(limit=50).endpoints}
    assert ("/users/{user_id}", "GET") in endpoints
    assert ("/search", "GET") in endpoints
    assert ("/orders", "POST") in endpoints
    assert sum(e.count for e in endpoints.values()) == 80
    assert all("/wp-admin" not in name for name, _ in endpoints)  # scanners are grouped

    (agent,) = monitor.get_agent_stats(agent_name="support-bot").agents
    assert agent.runs >= 1
    assert agent.input_tokens > 0
    assert {tool.name for tool in agent.tool_usage} <= {"lookup_user", "search_docs"}

    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
        summary = (await client.get("/performance")).json()
        health = await client.get("/health")
    assert summary["requests"]["count"] == 80
    assert summary["agents"]["runs"] == agent.runs
    assert health.json()["status"] == "ok"
