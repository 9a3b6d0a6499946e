"""Resources, prompts and argument completion through a real MCP client."""

from __future__ import annotations

import json

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import PromptReference, TextContent, TextResourceContents

from tests.server.mcp_calls import call_ok

pytestmark = pytest.mark.anyio


async def record(client: Client, endpoint: str, n: int = 3, status: int = 200) -> None:
    batch = [
        {"endpoint": endpoint, "status_code": status, "duration_ms": 50.0 + i} for i in range(n)
    ]
    await call_ok(client, "record_requests", {"requests": batch})


async def read_json(client: Client, uri: str) -> object:
    result = await client.read_resource(uri)
    (content,) = result.contents
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == "application/json"
    return json.loads(content.text)


async def prompt_text(client: Client, name: str, arguments: dict[str, str]) -> str:
    result = await client.get_prompt(name, arguments)
    (message,) = result.messages
    assert message.role == "user"
    assert isinstance(message.content, TextContent)
    return message.content.text


async def test_lists_the_three_resources_and_the_dashboard_app(client: Client) -> None:
    resources = {str(r.uri): r for r in (await client.list_resources()).resources}
    assert sorted(resources) == [
        "perf://alerts",
        "perf://summary",
        "perf://thresholds",
        "ui://perf-mcp/dashboard",
    ]
    assert all(r.description for r in resources.values())
    kinds = {uri: r.mime_type for uri, r in resources.items()}
    assert set(kinds.values()) == {"application/json", "text/html;profile=mcp-app"}


async def test_summary_resource_reflects_recorded_traffic(client: Client) -> None:
    await record(client, "/search", n=4, status=500)
    summary = await read_json(client, "perf://summary")
    assert isinstance(summary, dict)
    assert summary["window"] == "5m"
    assert summary["requests"]["count"] == 4
    assert summary["requests"]["error_count"] == 4


async def test_alerts_and_thresholds_resources(client: Client) -> None:
    alerts = await read_json(client, "perf://alerts")
    assert isinstance(alerts, dict)
    assert alerts["alerts"] == []
    await call_ok(client, "set_threshold", {"name": "tool_error_rate", "value": 0.5})
    thresholds = await read_json(client, "perf://thresholds")
    assert isinstance(thresholds, dict)
    warnings = {t["name"]: t["warning"] for t in thresholds["thresholds"]}
    assert warnings["tool_error_rate"] == 0.5


async def test_unknown_resource_is_a_protocol_error(client: Client) -> None:
    with pytest.raises(MCPError):
        await client.read_resource("perf://nothing")


async def test_lists_the_prompts_with_their_arguments(client: Client) -> None:
    prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(prompts) == {"performance_review", "diagnose_endpoint", "investigate"}
    review_args = prompts["performance_review"].arguments or []
    assert [(a.name, a.required) for a in review_args] == [("window", False)]
    diagnose_args = prompts["diagnose_endpoint"].arguments or []
    assert [(a.name, a.required) for a in diagnose_args] == [("endpoint", True)]


async def test_performance_review_carries_the_numbers(client: Client) -> None:
    await record(client, "/checkout", n=7)
    text = await prompt_text(client, "performance_review", {"window": "15m"})
    assert "last 15m" in text
    assert '"count":7' in text
    assert "get_endpoint_stats" in text


async def test_performance_review_rejects_an_unknown_window(client: Client) -> None:
    with pytest.raises(MCPError) as raised:
        await client.get_prompt("performance_review", {"window": "fortnight"})
    assert "1m, 5m, 15m, 1h, 24h, 7d" in str(raised.value)


async def test_diagnose_endpoint_carries_both_windows(client: Client) -> None:
    await record(client, "/users/17", n=2, status=503)
    text = await prompt_text(client, "diagnose_endpoint", {"endpoint": "GET /users/{id}"})
    assert "Last 5 minutes" in text
    assert "Last 24 hours" in text
    assert text.count('"endpoint":"/users/{id}"') == 2
    assert '"error_count":2' in text


async def test_completes_endpoint_names_the_store_knows(client: Client) -> None:
    for endpoint in ("/search", "/users/1", "/status"):
        await record(client, endpoint, n=1)
    ref = PromptReference(name="diagnose_endpoint")
    everything = await client.complete(ref, {"name": "endpoint", "value": ""})
    assert everything.completion.values == ["/search", "/status", "/users/{id}"]
    typed = await client.complete(ref, {"name": "endpoint", "value": "/s"})
    assert typed.completion.values == ["/search", "/status"]
    assert typed.completion.total == 2
    assert typed.completion.has_more is False


async def test_completes_windows(client: Client) -> None:
    ref = PromptReference(name="performance_review")
    result = await client.complete(ref, {"name": "window", "value": "1"})
    assert result.completion.values == ["1m", "15m", "1h"]


async def test_completion_caps_at_one_hundred_values(client: Client) -> None:
    batch = [
        {"endpoint": f"/route{i:03d}/static", "status_code": 200, "duration_ms": 1.0}
        for i in range(130)
    ]
    await call_ok(client, "record_requests", {"requests": batch})
    ref = PromptReference(name="diagnose_endpoint")
    result = await client.complete(ref, {"name": "endpoint", "value": "/route"})
    assert len(result.completion.values) == 100
    assert result.completion.total == 130
    assert result.completion.has_more is True
