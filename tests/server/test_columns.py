"""Every list tool cuts its rows at `limit` and says so with `truncated` and the total; the wide
ones keep only the `fields` asked for (and the columns that name a row)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from mcp import Client

from perf_mcp import Monitor
from perf_mcp.core.compare import MIN_COUNT
from perf_mcp.server import build_server
from tests.quiet_machine import quiet_machine
from tests.server.mcp_calls import LIST_TOOLS, QUERY_TOOLS, call_error, call_ok

pytestmark = pytest.mark.anyio

WINDOW = {"window": "5m"}  # compare_windows and explain: the last 5 minutes vs the hour before
ENDPOINTS = ("/a", "/b", "/c")


def arguments(tool: str, **more: Any) -> dict[str, Any]:
    if tool in ("compare_windows", "explain"):
        return {**WINDOW, **more}
    return more


async def three_of_everything(client: Client) -> None:
    """Three endpoints quick for an hour and slow now (enough requests in every 5 minutes to
    compare), three agents, three tools, and alerts on the slow endpoints: at least three rows
    in every list."""
    now = time.time()
    past = [
        {"endpoint": path, "status_code": 200, "duration_ms": 10.0, "timestamp": now - minute * 60}
        for path in ENDPOINTS
        for minute in range(6, 65)
        for _ in range(MIN_COUNT // 3 + 1)  # past MIN_COUNT in any 4 of those minutes
    ]
    slow = [
        {"endpoint": path, "status_code": 200, "duration_ms": 500.0, "timestamp": now - 30}
        for path in ENDPOINTS
        for _ in range(MIN_COUNT + 10)
    ]
    await call_ok(client, "record_requests", {"requests": past + slow})
    for i in (1, 2, 3):
        await call_ok(client, "record_agent_run", {
            "agent_name": f"agent{i}", "duration_ms": 100.0 * i,
            "tool_calls": [{"tool_name": f"tool{i}", "duration_ms": 10.0 * i}],
        })  # fmt: skip
    await call_ok(client, "set_threshold", {"name": "response_time_p95_ms", "value": 100})


@pytest.fixture
async def filled(monitor: Monitor) -> Any:
    quiet_machine(monitor.storage)
    async with Client(build_server(monitor, toolsets="all")) as client:
        await three_of_everything(client)
        yield client


def test_every_query_tool_with_rows_is_listed() -> None:
    assert set(LIST_TOOLS) <= set(QUERY_TOOLS)


@pytest.mark.parametrize("tool", sorted(LIST_TOOLS))
async def test_a_list_cut_at_limit_says_truncated_and_the_total(filled: Client, tool: str) -> None:
    rows, total, _ = LIST_TOOLS[tool]
    await call_ok(filled, tool, arguments(tool, limit=100))  # perf-mcp's own call: a tool row
    whole = await call_ok(filled, tool, arguments(tool, limit=100))
    count = len(whole[rows])
    assert count >= 3, whole
    assert (whole[total], whole["truncated"]) == (count, False)

    cut = await call_ok(filled, tool, arguments(tool, limit=2))
    assert (len(cut[rows]), cut[total], cut["truncated"]) == (2, count, True)
    assert cut[rows] == whole[rows][:2]


@pytest.mark.parametrize("tool", sorted(t for t, (_, _, keys) in LIST_TOOLS.items() if keys))
async def test_fields_keep_those_columns_and_the_ones_naming_a_row(
    filled: Client, tool: str
) -> None:
    rows, total, keys = LIST_TOOLS[tool]
    assert keys is not None
    await call_ok(filled, tool)  # perf-mcp's own call: a tool row
    whole = await call_ok(filled, tool)
    columns = list(whole[rows][0])
    chosen = [c for c in columns if c not in keys][-2:]

    result = await filled.call_tool(tool, {"fields": chosen[::-1], "limit": 2})
    assert not result.is_error, result.content
    answer = result.structured_content
    assert answer is not None
    kept = [c for c in columns if c in keys or c in chosen]
    assert [list(row) for row in answer[rows]] == [kept, kept]
    assert [[row[c] for c in kept] for row in whole[rows][:2]] == [
        [row[c] for c in kept] for row in answer[rows]
    ]
    assert (answer[total], answer["truncated"]) == (whole[total], True)  # the rest stays
    (block,) = result.content
    assert block.type == "text"
    assert json.loads(block.text) == answer


@pytest.mark.parametrize("tool", sorted(t for t, (_, _, keys) in LIST_TOOLS.items() if keys))
async def test_an_unknown_field_is_refused_with_the_allowed_ones(filled: Client, tool: str) -> None:
    rows, _, _ = LIST_TOOLS[tool]
    columns = list((await call_ok(filled, tool))[rows][0])
    message = await call_error(filled, tool, {"fields": [columns[0], "p42_ms"]})
    assert "fields" in message
    assert "unknown column 'p42_ms'; allowed: " + ", ".join(columns) in message


@pytest.mark.parametrize("tool", sorted(t for t, (_, _, keys) in LIST_TOOLS.items() if not keys))
async def test_narrow_lists_take_no_fields(filled: Client, tool: str) -> None:
    message = await call_error(filled, tool, arguments(tool, fields=["name"]))
    assert "unknown argument" in message
