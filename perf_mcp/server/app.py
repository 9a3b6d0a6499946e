"""build_server: the MCP server's tools, resources and prompts wired to one Runtime."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from mcp.server import MCPServer
from mcp.server.caching import CacheHint
from mcp.types import (
    NotificationParams,
    SetLevelRequestParams,
    SubscribeRequestParams,
    ToolAnnotations,
    UnsubscribeRequestParams,
)

from perf_mcp import __version__
from perf_mcp.config import Settings
from perf_mcp.monitor import Monitor
from perf_mcp.server.arguments import strict_tool
from perf_mcp.server.health import HealthTool
from perf_mcp.server.http import OTLP_METRICS, OTLP_TRACES, health_route, otlp_route
from perf_mcp.server.investigate_tools import InvestigateTools
from perf_mcp.server.notifications import ALERTS_URI, THRESHOLDS_URI
from perf_mcp.server.prompts import Prompts
from perf_mcp.server.query_tools import QueryTools
from perf_mcp.server.record_tools import RecordTools
from perf_mcp.server.runtime import Runtime
from perf_mcp.server.web import web_routes

INSTRUCTIONS = """\
perf-mcp measures web endpoints, AI agents, their tools and the machine. Start with
get_performance_summary, then drill down with get_endpoint_stats, get_agent_stats or
get_tool_stats; explain says why something is slow now. Queries take `window` (default
"5m"). Durations are ms, rates are fractions 0..1. Agents report with record_agent_run.
Quote numbers with units and window; say when there was no traffic instead of guessing.
"""

READ_ONLY = ToolAnnotations(
    read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
)
RECORDING = ToolAnnotations(
    read_only_hint=False, idempotent_hint=False, destructive_hint=False, open_world_hint=False
)
SETTING = ToolAnnotations(
    read_only_hint=False, idempotent_hint=True, destructive_hint=False, open_world_hint=False
)


def build_server(
    monitor: Monitor | None = None,
    *,
    db_path: str | os.PathLike[str] | None = None,
    flush_interval_s: float | None = None,
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING",
    settings: Settings | None = None,
) -> MCPServer[Runtime]:
    """Build the perf-mcp MCP server.

    Give a ``monitor`` you own (the server flushes it but never closes it), or let the
    server's lifespan open one on ``db_path`` (default: ``$PERF_MCP_DB`` or the user data
    directory) and flush and close it on shutdown. The lifespan also runs the resource
    sampler and the alert manager; ``settings`` (default: the monitor's, else the
    environment's) sets their intervals, the webhook and the watched processes.
    """
    runtime = Runtime(monitor, db_path, flush_interval_s, settings)
    record = RecordTools(runtime)
    query = QueryTools(runtime)
    investigate = InvestigateTools(runtime)
    prompts = Prompts(runtime)
    clients = runtime.clients

    @asynccontextmanager
    async def lifespan(_: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        await runtime.open()
        try:
            async with runtime.background():
                yield runtime
        finally:
            await runtime.release()

    registered: list[tuple[Callable[..., Any], ToolAnnotations]] = [
        (record.record_agent_run, RECORDING),
        (record.record_tool_call, RECORDING),
        (record.record_requests, RECORDING),
        (query.get_performance_summary, READ_ONLY),
        (query.get_endpoint_stats, READ_ONLY),
        (query.get_agent_stats, READ_ONLY),
        (query.get_tool_stats, READ_ONLY),
        (query.get_resource_usage, READ_ONLY),
        (query.list_alerts, READ_ONLY),
        (query.list_thresholds, READ_ONLY),
        (HealthTool(runtime).health_check, READ_ONLY),
        (query.set_threshold, SETTING),
        (query.acknowledge_alert, SETTING),
        (investigate.mark_deploy, RECORDING),
        (investigate.compare_windows, READ_ONLY),
        (investigate.explain, READ_ONLY),
    ]

    server: MCPServer[Runtime] = MCPServer(
        name="perf-mcp",
        title="perf-mcp performance monitor",
        description="Performance numbers for web endpoints, AI agents and their tools.",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan,
        log_level=log_level,
        subscriptions=clients.bus,
        tools=[strict_tool(fn, hints) for fn, hints in registered],
        # The tool, resource and prompt lists never change while the server runs.
        cache_hints={
            "tools/list": CacheHint(ttl_ms=300_000, scope="public"),
            "prompts/list": CacheHint(ttl_ms=300_000, scope="public"),
            "resources/list": CacheHint(ttl_ms=300_000, scope="public"),
        },
    )

    json_type = "application/json"
    server.resource("perf://summary", name="summary", mime_type=json_type)(query.summary_resource)
    server.resource(ALERTS_URI, name="alerts", mime_type=json_type)(query.alerts_resource)
    server.resource(THRESHOLDS_URI, name="thresholds", mime_type=json_type)(
        query.thresholds_resource
    )
    server.prompt(title="Performance review")(prompts.performance_review)
    server.prompt(title="Diagnose an endpoint")(prompts.diagnose_endpoint)
    server.custom_route("/health", methods=["GET"])(health_route(runtime))  # HTTP only
    for otlp_path in (OTLP_TRACES, OTLP_METRICS):
        server.custom_route(otlp_path, methods=["POST"])(otlp_route(runtime, otlp_path))
    for path, methods, handler in web_routes(runtime):  # the dashboard and /api/v1/
        server.custom_route(path, methods=methods)(handler)
    server.completion()(prompts.complete)  # type: ignore[no-untyped-call]

    # The one private SDK attribute used, for want of a public one: MCPServer has no hook for
    # the 2025-11-25 methods the 2026 revision removed (logging/setLevel, resources/subscribe,
    # notifications/initialized). Extension MethodBindings refuse spec methods and point at
    # the low-level Server.add_request_handler; MCPServer does not expose that server (mcp
    # 2.3's own in-memory client reads _lowlevel_server, marked "TODO: make it public").
    # 2026 clients use subscriptions/listen, which MCPServer serves from the bus given above.
    lowlevel = server._lowlevel_server
    lowlevel.add_request_handler(
        "logging/setLevel", SetLevelRequestParams, clients.set_logging_level
    )
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, clients.subscribe)
    lowlevel.add_request_handler(
        "resources/unsubscribe", UnsubscribeRequestParams, clients.unsubscribe
    )
    lowlevel.add_notification_handler(
        "notifications/initialized", NotificationParams, clients.initialized
    )
    return server
