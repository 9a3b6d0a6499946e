"""Toolsets: which MCP tools a server lists, in one table.

Every tool a client lists costs each conversation its name, description and schemas, so a
server lists the toolsets an assistant needs first (``DEFAULT``) and the rest are one
setting away: ``perf-mcp serve --toolsets core,investigate`` or ``PERF_MCP_TOOLSETS=all``.

A new tool is one line in ``TOOLS``: its name, its toolset and its hints.

>>> chosen_tools(["core"])[:2]
['get_performance_summary', 'get_endpoint_stats']
>>> chosen_tools(["nope"])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: unknown toolset 'nope'; allowed: core, record, investigate, admin, resources, ...
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.types import ToolAnnotations

# The hints of each kind of tool that differ from the MCP defaults (not read-only,
# destructive, not idempotent, open world); a read-only tool's destructive and idempotent
# hints mean nothing, so they are left out. Plain data: the command line reads this module
# without importing the MCP SDK.
READ_ONLY: dict[str, Any] = {"read_only_hint": True, "open_world_hint": False}
RECORDING: dict[str, Any] = {"destructive_hint": False, "open_world_hint": False}
SETTING: dict[str, Any] = {
    "destructive_hint": False,
    "idempotent_hint": True,
    "open_world_hint": False,
}
DELETING: dict[str, Any] = {"idempotent_hint": True, "open_world_hint": False}

# What each toolset is for, as the instructions tell a model whose server has it off.
TOOLSETS = {
    "core": "summary, stats, alerts, health",
    "record": "report runs, tool calls, requests",
    "investigate": "why slow now, what changed since a deploy",
    "admin": "change thresholds, acknowledge alerts",
    "resources": "CPU, memory, disk, load",
    "slo": "SLOs, error budgets",
    "dashboard": "a live page in the chat",
}
DEFAULT = ("core", "record")
ALL = "all"

# tool name: (toolset, hints). The order is the order a client lists them in.
TOOLS: dict[str, tuple[str, dict[str, Any]]] = {
    "get_performance_summary": ("core", READ_ONLY),
    "get_endpoint_stats": ("core", READ_ONLY),
    "get_agent_stats": ("core", READ_ONLY),
    "get_tool_stats": ("core", READ_ONLY),
    "list_alerts": ("core", READ_ONLY),
    "list_thresholds": ("core", READ_ONLY),
    "health_check": ("core", READ_ONLY),
    "record_agent_run": ("record", RECORDING),
    "record_tool_call": ("record", RECORDING),
    "record_requests": ("record", RECORDING),
    "explain": ("investigate", READ_ONLY),
    "compare_windows": ("investigate", READ_ONLY),
    "mark_deploy": ("investigate", RECORDING),
    "set_threshold": ("admin", SETTING),
    "acknowledge_alert": ("admin", SETTING),
    "get_resource_usage": ("resources", READ_ONLY),
    "set_slo": ("slo", SETTING),
    "list_slos": ("slo", READ_ONLY),
    "delete_slo": ("slo", DELETING),
    "show_dashboard": ("dashboard", READ_ONLY),  # with the page, an MCP App (server/app_ui.py)
    "dashboard_api": ("dashboard", SETTING),  # the page's calls: reads, or acknowledging
}


def chosen_toolsets(names: str | Iterable[str]) -> tuple[str, ...]:
    """The toolsets ``names`` (a list, or one comma-separated string) asks for (``all``: every
    one; nothing: ``DEFAULT``), in table order; ValueError naming the allowed names for one
    that is not a toolset."""
    parts = names.split(",") if isinstance(names, str) else names
    asked = {name.strip().lower() for name in parts if name.strip()}
    for name in sorted(asked):
        if name != ALL and name not in TOOLSETS:
            allowed = ", ".join([*TOOLSETS, ALL])
            raise ValueError(f"unknown toolset {name!r}; allowed: {allowed}")
    if not asked:
        asked = set(DEFAULT)
    return tuple(name for name in TOOLSETS if ALL in asked or name in asked)


def chosen_tools(names: str | Iterable[str]) -> list[str]:
    """The tools of the toolsets ``names`` asks for, in ``TOOLS`` order."""
    toolsets = chosen_toolsets(names)
    return [tool for tool, (toolset, _) in TOOLS.items() if toolset in toolsets]


def toolsets_off(names: str | Iterable[str]) -> str:
    """One sentence for the instructions: the toolsets left off and how to turn them on."""
    on = chosen_toolsets(names)
    off = [f"{name} ({purpose})" for name, purpose in TOOLSETS.items() if name not in on]
    if not off:
        return ""
    how = "--toolsets all or PERF_MCP_TOOLSETS=all"
    return f"Off here: {'; '.join(off)}. The user turns them on with {how}."


def hints(tool: str) -> ToolAnnotations:
    """The MCP annotations of ``tool``, from its row in ``TOOLS``."""
    from mcp.types import ToolAnnotations

    return ToolAnnotations(**TOOLS[tool][1])
