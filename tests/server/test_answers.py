"""Answers as the model reads them: one compact text block with the structured content's numbers,
rounded to what a person reads; list tools cut at `limit` and say so."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client

from perf_mcp.server.answers import rounded
from tests.server.mcp_calls import QUERY_TOOLS, call_ok

pytestmark = pytest.mark.anyio

LISTS = {  # list tool -> (rows key, total key), each fed three subjects below
    "get_endpoint_stats": ("endpoints", "total_endpoints"),
    "get_agent_stats": ("agents", "total_agents"),
    "get_tool_stats": ("tools", "total_tools"),
}


def test_numbers_are_rounded_to_what_a_person_reads() -> None:
    answer = {
        "p95_ms": 123.456789,
        "mean_ms": 0.0123456,
        "max_ms": 98765.4321,
        "error_rate": 0.123456,
        "success_rate": 0.99999,
        "cost_usd": 0.00123456,
        "count": 123456,
        "generated_at": 1796517273.814,
        "slowest": {
            "columns": ["endpoint", "error_rate", "duration_ms", "timestamp"],
            "rows": [["/a", 0.0333333, 70.0, 1796517148.949]],
        },
    }
    assert rounded(answer) == {
        "p95_ms": 123,
        "mean_ms": 0.0123,
        "max_ms": 98765,  # no digit before the point is lost
        "error_rate": 0.1235,
        "success_rate": 1,
        "cost_usd": 0.00123,
        "count": 123456,
        "generated_at": 1796517274,
        "slowest": {
            "columns": ["endpoint", "error_rate", "duration_ms", "timestamp"],
            "rows": [["/a", 0.0333, 70, 1796517149]],
        },
    }


def test_flags_strings_and_nulls_pass_unchanged() -> None:
    answer = {"truncated": True, "endpoint": "/a", "p50_ms": None, "ok": [False, 0.5]}
    assert rounded(answer) == answer


async def record_three_of_each(client: Client) -> None:
    requests = [
        {"endpoint": f"/e{i}", "status_code": 500 if i == 2 else 200, "duration_ms": 1.23456 * i}
        for i in (1, 2, 3)
        for _ in range(3)
    ]
    await call_ok(client, "record_requests", {"requests": requests})
    for i in (1, 2, 3):
        await call_ok(client, "record_agent_run", {
            "agent_name": f"agent{i}", "duration_ms": 1000 / 3 * i, "cost_usd": 0.0123456 * i,
            "tool_calls": [{"tool_name": f"tool{i}", "duration_ms": 12.3456 * i}],
        })  # fmt: skip


async def test_the_text_block_is_the_structured_content_in_compact_json(client: Client) -> None:
    await record_three_of_each(client)
    for name in QUERY_TOOLS:
        result = await client.call_tool(name, {})
        assert not result.is_error, (name, result.content)
        (block,) = result.content
        assert block.type == "text"
        compact = json.dumps(result.structured_content, separators=(",", ":"), ensure_ascii=False)
        assert block.text == compact, name


async def test_answers_carry_rounded_numbers(client: Client) -> None:
    await record_three_of_each(client)
    stats = await call_ok(client, "get_agent_stats", {"agent_name": "agent1"})
    (agent,) = stats["agents"]
    assert agent["cost_usd"] == 0.0123
    assert agent["p50_ms"] == pytest.approx(333, rel=0.01)
    assert digits(agent["p50_ms"]) <= 3


@pytest.mark.parametrize("tool", sorted(LISTS))
async def test_list_tools_cut_at_limit_and_say_so(client: Client, tool: str) -> None:
    await record_three_of_each(client)
    rows, total = LISTS[tool]
    # perf-mcp's own calls that answered are tool calls too: record_requests, record_agent_run
    own = 2 if tool == "get_tool_stats" else 0
    cut = await call_ok(client, tool, {"limit": 2})
    assert (len(cut[rows]), cut[total], cut["truncated"]) == (2, 3 + own, True)
    own += 1 if tool == "get_tool_stats" else 0  # and the get_tool_stats that answered
    whole = await call_ok(client, tool, {"limit": 3 + own})
    assert (len(whole[rows]), whole[total], whole["truncated"]) == (3 + own, 3 + own, False)


def digits(value: Any) -> int:
    """Significant digits of a number as it is written."""
    return len(str(value).replace(".", "").replace("-", "").lstrip("0"))
