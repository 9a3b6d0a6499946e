"""The dashboard as an MCP App, through a real MCP client that declares the extension (as
clients that render apps do) and one that does not."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client import advertise
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer
from mcp.types import CallToolResult, TextResourceContents

from perf_mcp.server import Runtime
from perf_mcp.server.app_ui import APP_URI, EXTENSION_ID
from tests.e2e.mcp_process import http_server
from tests.server.mcp_calls import call_error, call_ok

pytestmark = pytest.mark.anyio

APP_MIME = "text/html;profile=mcp-app"
RENDERS_APPS = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME]})
BATCH = [
    {"endpoint": f"/orders/{i}", "status_code": 500 if i < 2 else 200, "duration_ms": 20.0 + i}
    for i in range(8)
]


@pytest.fixture
async def app_client(server: MCPServer[Runtime], protocol: str) -> AsyncIterator[Client]:
    async with Client(server, mode=protocol, extensions=[RENDERS_APPS]) as connected:
        yield connected


def texts(result: CallToolResult) -> list[str]:
    assert not result.is_error, result.content
    return [block.text for block in result.content if block.type == "text"]


def numbers(text: str) -> dict[str, Any]:
    """A summary answer without the moment it was made and the tool totals (perf-mcp's own
    calls count there: show_dashboard's own is one more by the time the summary is asked)."""
    data = json.loads(text)
    data.pop("generated_at")
    data.pop("tools")
    return dict(data)


async def test_the_server_advertises_the_extension_and_binds_the_tools(
    app_client: Client, protocol: str
) -> None:
    advertised = EXTENSION_ID in (app_client.server_capabilities.extensions or {})
    assert advertised == (protocol != "legacy")  # 2025-11-25 capabilities have no extensions
    tools = {tool.name: tool for tool in (await app_client.list_tools()).tools}
    assert tools["show_dashboard"].meta == {"ui": {"resourceUri": APP_URI}}
    assert tools["dashboard_api"].meta == {"ui": {"resourceUri": APP_URI, "visibility": ["app"]}}
    assert tools["show_dashboard"].input_schema["additionalProperties"] is False


async def test_the_page_is_one_document_that_may_reach_nothing(app_client: Client) -> None:
    (content,) = (await app_client.read_resource(APP_URI)).contents
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == APP_MIME
    assert content.meta == {"ui": {"csp": {}, "prefersBorder": True}}  # no outside origin
    html = content.text
    assert html.startswith("<!doctype html>")
    assert "/static/" not in html
    assert "src=" not in html  # every script inline
    found = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert found
    policy = dict(d.strip().split(" ", 1) for d in found.group(1).split(";"))
    assert policy["default-src"] == policy["connect-src"] == "'none'"
    scripts = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    (style,) = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    assert len(scripts) == 2
    assert policy["script-src"].split() == [sha256(s) for s in scripts]  # nothing else runs
    assert policy["style-src"] == sha256(style)
    assert "window.perfMcpApi" in scripts[0]


def sha256(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


async def test_show_dashboard_tells_an_app_client_the_person_sees_it(app_client: Client) -> None:
    await call_ok(app_client, "record_requests", {"requests": BATCH})
    shown = texts(await app_client.call_tool("show_dashboard", {"window": "15m"}))
    summary = texts(await app_client.call_tool("get_performance_summary", {"window": "15m"}))
    assert shown[0] == "The person now sees the live perf-mcp dashboard (15m); its numbers:"
    assert numbers(shown[1]) == numbers(summary[0])
    assert numbers(shown[1])["requests"]["count"] == 8


async def test_a_client_without_the_extension_gets_the_summary_answer(client: Client) -> None:
    await call_ok(client, "record_requests", {"requests": BATCH})
    (shown,) = texts(await client.call_tool("show_dashboard", {}))
    (summary,) = texts(await client.call_tool("get_performance_summary", {"window": "1h"}))
    assert numbers(shown) == numbers(summary)
    assert numbers(shown)["requests"]["error_count"] == 2


async def test_the_app_reads_the_api_through_its_tool(app_client: Client) -> None:
    await call_ok(app_client, "record_requests", {"requests": BATCH})
    listed = await call_ok(app_client, "dashboard_api", {"path": "endpoints?window=5m"})
    (row,) = listed["answer"]["endpoints"]
    assert (row["endpoint"], row["count"], row["error_count"]) == ("/orders/{id}", 8, 2)
    series = await call_ok(app_client, "dashboard_api", {"path": "series?kind=request&window=1h"})
    assert sum(p["count"] for p in series["answer"]["points"]) == 8


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ({"path": "endpoints?window=2h"}, "400: invalid query parameters: window"),
        ({"path": "../mcp"}, "404"),
        ({"path": "alerts/999/acknowledge", "method": "POST", "body": {}}, "999"),
        ({"path": "summary", "verb": "GET"}, "unknown argument"),
    ],
)
async def test_the_app_tool_says_what_was_wrong(
    app_client: Client, arguments: dict[str, Any], said: str
) -> None:
    assert said in await call_error(app_client, "dashboard_api", arguments)


async def test_over_http_the_read_token_may_look_through_the_app_but_not_acknowledge(
    tmp_path: Path,
) -> None:
    full, read = "app-full-token-0123456789abcdef", "app-read-token-0123456789abcdef"
    tokens = ["--token", full, "--read-token", read, "--toolsets", "dashboard"]
    with http_server(tmp_path / "perf.db", extra=tokens) as (
        url,
        _,
    ):
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {read}"}) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            looked = await call_ok(client, "dashboard_api", {"path": "alerts?status=all"})
            ack = {"path": "alerts/1/acknowledge", "method": "POST", "body": {}}
            refused = await call_error(client, "dashboard_api", ack)
    assert looked["answer"]["alerts"] == []
    assert "answered 403: the read token may only look" in refused
