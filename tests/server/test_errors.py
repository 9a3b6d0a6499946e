"""Bad arguments come back as a tool error that says what was wrong and what is allowed.

Nothing is recorded from a rejected call, and the server keeps serving.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from mcp import Client

from tests.server.mcp_calls import call_error, call_ok

pytestmark = pytest.mark.anyio

GOOD = {"endpoint": "/search", "method": "GET", "status_code": 200, "duration_ms": 12.0}
REFUSED = re.compile(
    r"Error executing tool (\w+): invalid arguments, nothing was recorded or changed: (.+)"
)
PYDANTIC = ("validation error", "[type=", "pydantic", "https://", "input_value", "Input should")


async def stored_counts(client: Client) -> tuple[int, int, int]:
    """Requests, runs and tool calls stored, leaving out perf-mcp's own calls (recorded as
    tool calls when they answer, these counts' among them)."""
    summary = await call_ok(client, "get_performance_summary", {"window": "1h"})
    tools = await call_ok(client, "get_tool_stats", {"window": "1h", "limit": 500})
    own = {tool.name for tool in (await client.list_tools()).tools}
    calls = sum(t["calls"] for t in tools["tools"] if t["tool_name"] not in own)
    return summary["requests"]["count"], summary["agents"]["runs"], calls


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        ("get_performance_summary", {"window": "2m"}, "'1m', '5m', '15m', '1h', '24h' or '7d'"),
        ("get_endpoint_stats", {"limit": 501}, "less than or equal to 500"),
        ("get_endpoint_stats", {"limit": 0}, "greater than or equal to 1"),
        ("get_endpoint_stats", {"sort_by": "slowness"}, "'p95_ms'"),
        ("get_agent_stats", {"window": 5}, "window"),
        ("get_tool_stats", {"tool_name": ""}, "non-blank string"),
        ("get_endpoint_stats", {"endpoint": "/" + "x" * 3000}, "at most 2000 characters"),
        ("list_alerts", {"status": "sleeping"}, "'active'"),
        ("get_resource_usage", {"window": None}, "window"),
        ("list_alerts", {"window": "1y"}, "'24h'"),
    ],
)
async def test_bad_query_arguments_say_what_is_allowed(
    client: Client, tool: str, arguments: dict[str, Any], says: str
) -> None:
    message = await call_error(client, tool, arguments)
    assert says in message


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        (
            "record_requests",
            {"requests": [{**GOOD, "duration_ms": -1}]},
            "must be a number from 0 to",
        ),
        (
            "record_requests",
            {"requests": [{**GOOD, "status_code": 700}]},
            "an integer from 100 to 599",
        ),
        ("record_requests", {"requests": [{**GOOD, "colour": "red"}]}, "unknown field 'colour'"),
        ("record_requests", {"requests": [GOOD, {"endpoint": "/x"}]}, "status_code"),
        ("record_requests", {"requests": []}, "at least 1 item"),
        ("record_requests", {"requests": [{**GOOD, "timestamp": 1.0}]}, "timestamp"),
        ("record_agent_run", {"agent_name": "bot"}, "give duration_ms"),
        ("record_agent_run", {"agent_name": "   ", "duration_ms": 5}, "blank"),
        (
            "record_agent_run",
            {"agent_name": "bot", "duration_ms": "slow"},
            "must be a number from 0 to 2592000000, got 'slow'",
        ),
        ("record_agent_run", {"agent_name": "b" * 201, "duration_ms": 5}, "at most 200"),
        (
            "record_agent_run",
            {"agent_name": "bot", "duration_ms": 5, "input_tokens": -3},
            "input_tokens: must be an integer from 0",
        ),
        (
            "record_agent_run",
            {"agent_name": "bot", "duration_ms": 5, "tool_calls": [{"tool_name": "t"}]},
            "duration_ms",
        ),
        ("record_tool_call", {"tool_name": "sql"}, "duration_ms"),
        (
            "record_tool_call",
            {"tool_name": "sql", "duration_ms": 1e12},
            "must be a number from 0 to",
        ),
    ],
)
async def test_rejected_records_store_nothing(
    client: Client, tool: str, arguments: dict[str, Any], says: str
) -> None:
    before = await stored_counts(client)
    message = await call_error(client, tool, arguments)
    assert says in message
    assert await stored_counts(client) == before


async def test_oversized_batch_is_rejected_whole(client: Client) -> None:
    batch = [GOOD] * 10_001
    message = await call_error(client, "record_requests", {"requests": batch})
    assert "at most 10000 items" in message
    assert await stored_counts(client) == (0, 0, 0)


async def test_largest_batch_is_accepted(client: Client) -> None:
    answer = await call_ok(client, "record_requests", {"requests": [GOOD] * 10_000})
    assert answer["recorded"] == 10_000
    assert await stored_counts(client) == (10_000, 0, 0)


async def test_unknown_threshold_names_the_allowed_ones(client: Client) -> None:
    message = await call_error(client, "set_threshold", {"name": "latency", "value": 5})
    assert "'response_time_p95_ms'" in message
    assert "'tool_error_rate'" in message


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"name": "error_rate_5min", "value": 5}, "between 0% and 100%"),
        ({"name": "cpu_usage_percent", "value": 0}, "between 1.0% and 100.0%"),
        ({"name": "response_time_p95_ms", "value": -10}, "between 1 ms and"),
        (
            {"name": "response_time_p95_ms", "value": 500, "severity": "critical"},
            "lower the warning level first",
        ),
        ({"name": "response_time_p95_ms"}, "give a value, a cooldown_s, or both"),
        ({"name": "cpu_usage_percent", "value": 50, "subject": "GET /x"}, "whole system"),
        ({"name": "error_rate_5min", "value": 0.1, "subject": "search"}, "endpoint path"),
        ({"name": "tool_error_rate", "value": 0.3, "severity": "fatal"}, "'critical'"),
        ({"name": "tool_error_rate", "cooldown_s": -1}, "cooldown_s must be between"),
    ],
)
async def test_bad_threshold_changes_nothing(
    client: Client, arguments: dict[str, Any], says: str
) -> None:
    message = await call_error(client, "set_threshold", arguments)
    assert says in message
    listed = await call_ok(client, "list_thresholds")
    assert not any(t["overridden"] or t["subject_overrides"] for t in listed["thresholds"])


async def test_acknowledging_an_unknown_alert_points_at_list_alerts(client: Client) -> None:
    message = await call_error(client, "acknowledge_alert", {"alert_id": 42})
    assert "no active alert with id 42" in message
    assert "list_alerts(status='active')" in message
    message = await call_error(client, "acknowledge_alert", {"alert_id": 0})
    assert "greater than or equal to 1" in message
    message = await call_error(client, "acknowledge_alert", {"alert_id": 1, "until": "soon"})
    assert "until" in message


async def test_unknown_tool_is_an_error_not_a_crash(client: Client) -> None:
    message = await call_error(client, "drop_all_tables", {})
    assert "Unknown tool" in message


async def test_server_keeps_serving_after_errors(client: Client) -> None:
    for _ in range(3):
        await call_error(client, "get_performance_summary", {"window": "forever"})
    await call_ok(client, "record_requests", {"requests": [GOOD]})
    assert await stored_counts(client) == (1, 0, 0)


MINIMAL = {
    "record_agent_run": {"agent_name": "bot", "duration_ms": 5},
    "record_tool_call": {"tool_name": "sql", "duration_ms": 5},
    "record_requests": {"requests": [GOOD]},
    "get_performance_summary": {},
    "get_endpoint_stats": {},
    "get_agent_stats": {},
    "get_tool_stats": {},
    "get_resource_usage": {},
    "list_alerts": {},
    "list_thresholds": {},
    "health_check": {},
    "set_threshold": {"name": "tool_error_rate", "value": 0.3},
    "acknowledge_alert": {"alert_id": 1},
}


@pytest.mark.parametrize("tool", sorted(MINIMAL))
async def test_unknown_arguments_are_named_not_ignored(client: Client, tool: str) -> None:
    message = await call_error(client, tool, {**MINIMAL[tool], "colour": "red"})
    assert "colour: unknown argument; this tool takes " in message
    tools = {t.name: t for t in (await client.list_tools()).tools}
    for name in tools[tool].input_schema["properties"]:
        assert name in message.partition("this tool takes ")[2]
    assert await stored_counts(client) == (0, 0, 0)
    listed = await call_ok(client, "list_thresholds")
    assert not any(t["overridden"] for t in listed["thresholds"])


async def test_every_input_schema_forbids_other_arguments(client: Client) -> None:
    for tool in (await client.list_tools()).tools:
        assert tool.input_schema["additionalProperties"] is False, tool.name


RUN = MINIMAL["record_agent_run"]
CALL = MINIMAL["record_tool_call"]


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        (
            "record_tool_call",
            {**CALL, "duration_ms": "5"},
            "duration_ms: must be a number from 0 to 2592000000, got '5'",
        ),
        (
            "record_tool_call",
            {**CALL, "duration_ms": True},
            "must be a number from 0 to 2592000000, got True",
        ),
        ("record_tool_call", {**CALL, "success": 1}, "success: must be true or false, got 1"),
        ("record_tool_call", {**CALL, "success": "yes"}, 'must be true or false, got "yes"'),
        ("record_tool_call", {**CALL, "timestamp": "1700000000"}, "timestamp: must be a JSON"),
        (
            "record_tool_call",
            {**CALL, "tool_name": 7},
            "tool_name: must be a non-blank string of at most 200 characters, got 7",
        ),
        ("record_agent_run", {**RUN, "success": "false"}, 'must be true or false, got "false"'),
        (
            "record_agent_run",
            {**RUN, "input_tokens": "10"},
            "input_tokens: must be an integer from 0 to 1099511627776, got '10'",
        ),
        (
            "record_agent_run",
            {**RUN, "input_tokens": 10.5},
            "must be an integer from 0 to 1099511627776, got 10.5",
        ),
        ("record_agent_run", {**RUN, "cost_usd": "0.01"}, "cost_usd: must be a JSON number"),
        (
            "record_agent_run",
            {**RUN, "tool_calls": [{"tool_name": "t", "duration_ms": "4"}]},
            "tool_calls[0].duration_ms: must be a number from 0 to",
        ),
        (
            "record_agent_run",
            {**RUN, "tool_calls": [{"tool_name": "t", "duration_ms": 4, "success": 0}]},
            "tool_calls[0].success: must be true or false, got 0",
        ),
        (
            "record_requests",
            {"requests": [GOOD, {**GOOD, "status_code": "200"}]},
            "requests[1].status_code: must be an integer from 100 to 599, got '200'",
        ),
        (
            "record_requests",
            {"requests": [{**GOOD, "duration_ms": False}]},
            "requests[0].duration_ms: must be a number from 0 to 2592000000, got Fals",
        ),
    ],
)
async def test_records_take_json_numbers_and_booleans_only(
    client: Client, tool: str, arguments: dict[str, Any], says: str
) -> None:
    message = await call_error(client, tool, arguments)
    assert says in message
    assert await stored_counts(client) == (0, 0, 0)


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        (
            "get_endpoint_stats",
            {"limit": "5"},
            'limit: must be a JSON number, not the string "5"',
        ),
        ("get_agent_stats", {"limit": True}, "limit: must be a number, not true"),
        ("set_threshold", {"name": "tool_error_rate", "value": "0.3"}, "value: must be a JSON"),
        (
            "set_threshold",
            {"name": "tool_error_rate", "value": 0.3, "dry_run": "true"},
            'dry_run: must be true or false, got "true"',
        ),
        ("set_threshold", {"name": "tool_error_rate", "cooldown_s": "60"}, "cooldown_s: must"),
        ("acknowledge_alert", {"alert_id": "1"}, "alert_id: must be a JSON number"),
    ],
)
async def test_queries_and_changes_take_json_numbers_and_booleans_only(
    client: Client, tool: str, arguments: dict[str, Any], says: str
) -> None:
    message = await call_error(client, tool, arguments)
    assert says in message
    listed = await call_ok(client, "list_thresholds")
    assert not any(t["overridden"] for t in listed["thresholds"])


async def test_acknowledge_still_takes_an_iso_time(client: Client) -> None:
    message = await call_error(
        client, "acknowledge_alert", {"alert_id": 1, "until": "2030-01-01T09:00:00Z"}
    )
    assert "no active alert with id 1" in message  # the time was taken; the alert is unknown


# NaN cannot be sent: JSON has no NaN (the SDK's client sends null, which means "now").
@pytest.mark.parametrize("timestamp", [0, 1.0, 3600], ids=["zero", "1970", "hour-ahead"])
async def test_a_run_with_one_bad_nested_timestamp_records_nothing(
    client: Client, timestamp: float
) -> None:
    when = time.time() + timestamp if timestamp == 3600 else timestamp
    calls = [
        {"tool_name": "search", "duration_ms": 3},
        {"tool_name": "fetch", "duration_ms": 4, "timestamp": when},
    ]
    message = await call_error(client, "record_agent_run", {**RUN, "tool_calls": calls})
    assert "timestamp" in message
    assert await stored_counts(client) == (0, 0, 0)


@pytest.mark.parametrize(
    ("tool", "arguments", "reason"),
    [
        # refused by the SDK's validation of the arguments against the input schema
        ("get_endpoint_stats", {"limit": "5"}, 'limit: must be a JSON number, not the string "5"'),
        (
            "get_endpoint_stats",
            {"fields": ["p42_ms"]},
            "fields: unknown column 'p42_ms'; allowed: ",
        ),
        ("list_alerts", {"colour": 1}, "colour: unknown argument; this tool takes window, status,"),
        ("health_check", {"colour": 1}, "colour: unknown argument; this tool takes no arguments"),
        ("record_requests", {"requests": [{**GOOD, "colour": 1}]}, "requests[0]: unknown field"),
        # refused by perf-mcp's own checks, past the schema
        ("record_agent_run", {"agent_name": "bot"}, "give duration_ms, or both start_time and"),
        ("record_requests", {"requests": [{**GOOD, "duration_ms": -1}]}, "requests[0].duration_ms"),
        ("set_threshold", {"name": "error_rate_5min", "value": 5}, "error_rate_5min warning must"),
        ("acknowledge_alert", {"alert_id": 42}, "no active alert with id 42"),
        ("compare_windows", {"baseline": "deploy"}, "baseline 'deploy' needs a deploy marker"),
    ],
)
async def test_the_schema_and_perf_mcps_own_checks_refuse_alike(
    client: Client, tool: str, arguments: dict[str, Any], reason: str
) -> None:
    message = await call_error(client, tool, arguments)
    refused = REFUSED.fullmatch(message)
    assert refused is not None, message
    assert refused.group(1) == tool
    assert refused.group(2).startswith(reason), message
    assert not [word for word in PYDANTIC if word in message], message
    assert "\n" not in message
    assert await stored_counts(client) == (0, 0, 0)
    listed = await call_ok(client, "list_thresholds")
    assert not any(t["overridden"] for t in listed["thresholds"])
