"""perf-mcp's own tool calls are recorded: what each tool costs a conversation, in the answer's
characters (and estimated tokens), shown by get_tool_stats."""

from __future__ import annotations

import pytest
from mcp import Client

from perf_mcp import Monitor
from perf_mcp.core.models import CHARS_PER_TOKEN
from tests.server.mcp_calls import call_error, call_ok

pytestmark = pytest.mark.anyio


def answer_chars(result: object) -> int:
    return sum(len(block.text) for block in result.content if block.type == "text")  # type: ignore[attr-defined]


async def test_get_tool_stats_shows_what_perf_mcps_own_tools_cost(
    client: Client, monitor: Monitor
) -> None:
    monitor.record_request("/search", "GET", 200, 12.0)
    sizes: dict[str, list[int]] = {}
    for tool in ("get_performance_summary", "get_endpoint_stats", "get_endpoint_stats"):
        result = await client.call_tool(tool, {})
        assert not result.is_error
        sizes.setdefault(tool, []).append(answer_chars(result))

    tools = {t["tool_name"]: t for t in (await call_ok(client, "get_tool_stats"))["tools"]}

    summary, endpoints = tools["get_performance_summary"], tools["get_endpoint_stats"]
    assert summary["calls"] == 1
    assert summary["result_chars_mean"] == sizes["get_performance_summary"][0]
    assert summary["result_tokens_mean"] == pytest.approx(
        sizes["get_performance_summary"][0] / CHARS_PER_TOKEN, rel=0.01
    )
    assert endpoints["calls"] == 2
    assert endpoints["result_chars_mean"] == pytest.approx(
        sum(sizes["get_endpoint_stats"]) / 2, rel=0.01
    )
    largest = max(sizes["get_endpoint_stats"])
    assert endpoints["result_chars_p95"] == pytest.approx(largest, rel=0.01)
    assert "get_tool_stats" not in tools  # a call is recorded once it has answered


async def test_a_refused_call_records_nothing(client: Client, monitor: Monitor) -> None:
    await call_error(client, "get_endpoint_stats", {"endpoint": " "})
    assert monitor.get_tool_stats().tools == []
