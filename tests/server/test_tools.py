"""Every tool through a real MCP client, over a real store, on both protocol revisions."""

from __future__ import annotations

import time
from typing import Any, get_args

import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning

from perf_mcp.core.alerts import RULES, ThresholdName
from perf_mcp.server import Runtime
from tests.server.mcp_calls import QUERY_TOOLS, call_ok, table_rows

pytestmark = pytest.mark.anyio

REPORTING = {"record_agent_run", "record_tool_call", "record_requests", "mark_deploy"}
QUERYING = set(QUERY_TOOLS)
CHANGING = {"set_threshold", "acknowledge_alert", "set_slo", "delete_slo"}
APP_ONLY = {"dashboard_api"}  # the dashboard app's (MCP Apps visibility "app")
WINDOWS = ["1m", "5m", "15m", "1h", "24h", "7d"]


def requests(n: int, endpoint: str = "/search", status: int = 200, ms: float = 10.0) -> list[Any]:
    return [
        {"endpoint": endpoint, "method": "GET", "status_code": status, "duration_ms": ms + i}
        for i in range(n)
    ]


async def test_lists_exactly_the_contract_tools(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == REPORTING | QUERYING | CHANGING | APP_ONLY


async def test_every_tool_has_a_description_an_output_schema_and_annotations(
    client: Client,
) -> None:
    for tool in (await client.list_tools()).tools:
        assert tool.description is not None, tool.name
        assert len(tool.description) > 40, tool.name
        assert tool.output_schema is not None, tool.name
        assert tool.annotations is not None, tool.name
        assert tool.annotations.open_world_hint is False, tool.name
        if tool.name in QUERYING:  # then destructive and idempotent mean nothing
            assert tool.annotations.read_only_hint is True, tool.name
        else:
            assert not tool.annotations.read_only_hint, tool.name
            destructive = tool.annotations.destructive_hint is not False  # None: MCP's default
            assert destructive is (tool.name == "delete_slo"), tool.name
            idempotent = bool(tool.annotations.idempotent_hint)
            assert idempotent is (tool.name in CHANGING | APP_ONLY), tool.name


async def test_query_tools_take_a_bounded_window_and_limit(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    for name in QUERYING - {"list_thresholds", "health_check", "list_slos"}:
        window = tools[name].input_schema["properties"]["window"]
        assert window["enum"] == WINDOWS, name
    defaults = {
        "get_endpoint_stats": 10,
        "get_agent_stats": 20,
        "get_tool_stats": 20,
        "list_alerts": 20,
    }
    for name, default in defaults.items():
        limit = tools[name].input_schema["properties"]["limit"]
        assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 500, default), name
    batch = tools["record_requests"].input_schema["properties"]["requests"]
    assert batch["maxItems"] == 10_000


async def test_server_explains_itself(client: Client) -> None:
    assert client.server_info is not None
    assert client.server_info.name == "perf-mcp"
    assert client.instructions is not None
    assert "get_performance_summary" in client.instructions


async def test_recorded_requests_appear_in_endpoint_stats_and_summary(client: Client) -> None:
    answer = await call_ok(client, "record_requests", {"requests": requests(20)})
    assert answer == {"recorded": 20, "kind": "request"}
    await call_ok(client, "record_requests", {"requests": requests(5, "/users/42", 503, 300)})

    stats = await call_ok(client, "get_endpoint_stats", {"window": "5m", "sort_by": "count"})
    by_name = {e["endpoint"]: e for e in stats["endpoints"]}
    assert set(by_name) == {"/search", "/users/{id}"}
    assert by_name["/search"]["count"] == 20
    assert by_name["/search"]["min_ms"] == pytest.approx(10.0, rel=0.01)
    assert by_name["/search"]["max_ms"] == pytest.approx(29.0, rel=0.01)
    assert by_name["/users/{id}"]["error_rate"] == 1.0
    assert by_name["/users/{id}"]["status_counts"] == {"5xx": 5}
    assert stats["total_endpoints"] == 2
    assert stats["truncated"] is False

    summary = await call_ok(client, "get_performance_summary", {"window": "1h"})
    assert summary["requests"]["count"] == 25
    assert summary["requests"]["error_count"] == 5
    assert table_rows(summary["slowest_endpoints"])[0]["endpoint"] == "/users/{id}"
    assert table_rows(summary["most_errors"])[0]["endpoint"] == "/users/{id}"


async def test_endpoint_filter_and_limit_truncate(client: Client) -> None:
    batch = [r for name in ("/a", "/b", "/c") for r in requests(3, name)]
    await call_ok(client, "record_requests", {"requests": batch})

    capped = await call_ok(client, "get_endpoint_stats", {"limit": 2})
    assert len(capped["endpoints"]) == 2
    assert capped["total_endpoints"] == 3
    assert capped["truncated"] is True

    one = await call_ok(client, "get_endpoint_stats", {"endpoint": "/b", "method": "GET"})
    assert [e["endpoint"] for e in one["endpoints"]] == ["/b"]


async def test_agent_run_with_nested_tool_calls(client: Client) -> None:
    run = {
        "agent_name": "researcher",
        "duration_ms": 1200,
        "model": "claude-sonnet-4",
        "provider": "anthropic",
        "input_tokens": 1000,
        "output_tokens": 200,
        "cost_usd": 0.01,
        "tool_calls": [
            {"tool_name": "web_search", "duration_ms": 300},
            {
                "tool_name": "web_search",
                "duration_ms": 500,
                "success": False,
                "error_type": "timeout",
            },
        ],
    }
    assert await call_ok(client, "record_agent_run", run) == {"recorded": 1, "kind": "agent_run"}
    now = time.time()
    failed = {"agent_name": "researcher", "start_time": now - 2.5, "end_time": now}
    await call_ok(
        client, "record_agent_run", {**failed, "success": False, "error_type": "rate_limit"}
    )

    agents = await call_ok(client, "get_agent_stats", {"window": "5m"})
    (researcher,) = agents["agents"]
    assert researcher["agent_name"] == "researcher"
    assert (researcher["runs"], researcher["failures"]) == (2, 1)
    assert researcher["input_tokens"] == 1000
    assert researcher["cost_usd"] == pytest.approx(0.01)

    tools = await call_ok(client, "get_tool_stats", {"tool_name": "web_search"})
    (search,) = tools["tools"]
    assert (search["calls"], search["failures"]) == (2, 1)
    assert search["top_errors"][0]["name"] == "timeout"


async def test_lone_tool_call(client: Client) -> None:
    answer = await call_ok(
        client, "record_tool_call", {"tool_name": "sql", "duration_ms": 42.5, "agent_name": "bot"}
    )
    assert answer == {"recorded": 1, "kind": "tool_call"}
    stats = await call_ok(client, "get_tool_stats", {"window": "1m", "sort_by": "calls"})
    # perf-mcp's own calls are tool calls too, with the size of their answers
    calls = {t["tool_name"]: t["calls"] for t in stats["tools"]}
    assert calls == {"sql": 1, "record_tool_call": 1}
    summary = await call_ok(client, "get_performance_summary", {})
    assert summary["tools"]["calls"] == 3  # sql, record_tool_call, get_tool_stats


@pytest.mark.parametrize("window", WINDOWS)
async def test_every_window_answers(client: Client, window: str) -> None:
    summary = await call_ok(client, "get_performance_summary", {"window": window})
    assert summary["window"] == window


async def test_empty_store_answers_with_zeroes(client: Client) -> None:
    summary = await call_ok(client, "get_performance_summary", {})
    assert summary["requests"]["count"] == 0
    assert summary["requests"]["p95_ms"] is None
    assert (await call_ok(client, "get_agent_stats", {}))["agents"] == []
    tools = (await call_ok(client, "get_tool_stats", {}))["tools"]
    assert {t["tool_name"] for t in tools} == {"get_performance_summary", "get_agent_stats"}


async def test_resource_usage_reads_the_machine_now(client: Client) -> None:
    usage = await call_ok(client, "get_resource_usage", {"window": "15m"})
    latest = usage["latest"]
    assert 0 <= latest["cpu_percent"] <= 100
    assert 0 < latest["memory_percent"] <= 100
    assert latest["processes"][0]["rss_bytes"] > 0
    assert latest["disks"][0]["percent"] > 0  # the store's filesystem
    assert usage["stats"]["memory_percent"]["samples"] == usage["samples"] >= 1
    assert (usage["window"], usage["interval_s"]) == ("15m", 30)


async def test_alerts_are_empty_on_a_quiet_store(client: Client) -> None:
    alerts = await call_ok(client, "list_alerts", {"status": "all"})
    assert alerts["alerts"] == []
    assert (alerts["active"], alerts["evaluation"], alerts["interval_s"]) == (0, "this server", 10)


async def test_thresholds_have_the_design_defaults(client: Client) -> None:
    listed = await call_ok(client, "list_thresholds", {"limit": 100})
    warnings = {t["name"]: t["warning"] for t in listed["thresholds"]}
    assert warnings == {
        "response_time_p95_ms": 1000,
        "response_time_p99_ms": 2000,
        "error_rate_5min": 0.05,
        "cpu_usage_percent": 80,
        "memory_usage_percent": 85,
        "agent_error_rate": 0.10,
        "agent_avg_time_ms": 10000,
        "agent_cost_usd_per_hour": 10,
        "tool_error_rate": 0.20,
        "slo_fast_burn": 14.4,
        "slo_medium_burn": 6.0,
        "slo_slow_burn": 1.0,
    }
    assert not any(t["overridden"] for t in listed["thresholds"])


async def test_set_threshold_changes_what_list_thresholds_shows(client: Client) -> None:
    change = await call_ok(client, "set_threshold", {"name": "response_time_p95_ms", "value": 250})
    assert change["threshold"]["warning"] == 250
    assert change["threshold"]["default_warning"] == 1000
    assert change["override"]["warning"] == 250
    listed = await call_ok(client, "list_thresholds")
    (p95,) = [t for t in listed["thresholds"] if t["name"] == "response_time_p95_ms"]
    assert (p95["warning"], p95["overridden"]) == (250, True)


async def test_set_threshold_for_one_endpoint(client: Client) -> None:
    arguments = {"name": "error_rate_5min", "value": 0.5, "subject": "GET /flaky"}
    change = await call_ok(client, "set_threshold", {**arguments, "severity": "critical"})
    assert change["override"]["subject"] == "GET /flaky"
    (row,) = change["threshold"]["subject_overrides"]
    assert row["critical"] == 0.5
    assert change["threshold"]["critical"] == 0.20  # everything else keeps the default


async def test_health_check_on_a_quiet_server_is_ok(client: Client) -> None:
    health = await call_ok(client, "health_check")
    assert (health["status"], health["reasons"], health["breached"]) == ("ok", [], [])
    components = {c["name"]: c["status"] for c in health["components"]}
    assert components == {
        "server": "ok",
        "store": "ok",
        "recording": "ok",
        "flusher": "ok",
        "sampler": "ok",
        "alerting": "ok",
    }
    assert health["db_path"].endswith("perf.db")
    assert health["store_bytes"] > 0


async def test_both_protocol_revisions_are_spoken(client: Client, protocol: str) -> None:
    expected = {"legacy": "2025-11-25", "auto": "2026-07-28"}[protocol]
    assert client.protocol_version == expected


def test_threshold_names_in_the_schema_are_the_rules() -> None:
    assert set(get_args(ThresholdName)) == set(RULES)


async def test_descriptions_read_cleanly(client: Client) -> None:
    for tool in (await client.list_tools()).tools:
        assert tool.description is not None
        assert "\n    " not in tool.description, tool.name


async def test_legacy_clients_may_set_the_log_level(server: MCPServer[Runtime]) -> None:
    async with Client(server, mode="legacy") as legacy:
        assert legacy.server_capabilities.logging is not None
        with pytest.warns(MCPDeprecationWarning):  # gone at 2026-07-28, still served before
            await legacy.set_logging_level("warning")


async def test_recorded_tokens_without_a_cost_are_priced_and_result_sizes_kept(
    client: Client,
) -> None:
    await call_ok(client, "record_agent_run", {
        "agent_name": "bot", "duration_ms": 900, "model": "claude-sonnet-4-5",
        "provider": "anthropic", "input_tokens": 1_000, "output_tokens": 500,
        "cache_read_tokens": 200, "cache_write_tokens": 300,
        "tool_calls": [{"tool_name": "grep", "duration_ms": 3, "result_chars": 700}],
    })  # fmt: skip
    await call_ok(client, "record_tool_call", {
        "tool_name": "grep", "duration_ms": 2, "result_chars": 300,
    })  # fmt: skip
    stats = await call_ok(client, "get_agent_stats", {})
    (bot,) = stats["agents"]
    assert bot["cost_usd"] == bot["estimated_cost_usd"] == 0.0102  # 0.010185, rounded
    assert stats["prices"].startswith("genai-prices ")
    tools = await call_ok(client, "get_tool_stats", {"tool_name": "grep"})
    assert tools["tools"][0]["result_chars_mean"] == 500
