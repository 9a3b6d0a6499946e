"""Calling tools the way a test wants: succeed with structured content, or fail with a message."""

from __future__ import annotations

from typing import Any

from mcp import Client
from mcp.types import CallToolResult

from perf_mcp.toolsets import TOOLS


async def call_ok(client: Client, tool: str, arguments: dict[str, Any] | None = None) -> Any:
    """Call a tool that must succeed; return its structured content."""
    result = await client.call_tool(tool, arguments or {})
    assert not result.is_error, _text(result)
    assert result.structured_content is not None
    return result.structured_content


async def call_error(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    """Call a tool that must fail with a tool error; return the message the model sees."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result
    message = _text(result)
    assert "Traceback" not in message
    return message


def table_rows(table: dict[str, Any]) -> list[dict[str, Any]]:
    """A summary table's rows as dicts keyed by its column names."""
    return [dict(zip(table["columns"], cells, strict=True)) for cells in table["rows"]]


def _text(result: CallToolResult) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


# The read-only query tools, in the order an assistant meets them.
QUERY_TOOLS = (
    "get_performance_summary",
    "get_endpoint_stats",
    "get_agent_stats",
    "get_tool_stats",
    "get_resource_usage",
    "list_alerts",
    "list_thresholds",
    "health_check",
    "compare_windows",
    "explain",
    "show_dashboard",
    "list_slos",
)

# The query tools that answer with rows: (rows key, total key, the columns that name a row and
# stay whatever `fields` asks; None: the rows are narrow and the tool takes no `fields`).
LIST_TOOLS: dict[str, tuple[str, str, tuple[str, ...] | None]] = {
    "get_endpoint_stats": ("endpoints", "total_endpoints", ("endpoint", "method")),
    "get_agent_stats": ("agents", "total_agents", ("agent_name",)),
    "get_tool_stats": ("tools", "total_tools", ("tool_name",)),
    "list_alerts": ("alerts", "total", ("id",)),
    "list_thresholds": ("thresholds", "total", ("name",)),
    "compare_windows": ("changes", "total_changed", None),
    "explain": ("findings", "total", None),
}

# Every perf-mcp tool: each call that answers is recorded as a tool call of its own.
OWN_TOOLS = frozenset(TOOLS)


def their_tools(stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A get_tool_stats answer's rows by tool name, leaving out perf-mcp's own tools."""
    return {t["tool_name"]: t for t in stats["tools"] if t["tool_name"] not in OWN_TOOLS}
