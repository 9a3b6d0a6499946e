"""The investigate prompt through a real MCP client: listed with its arguments, and a guide
from the summary through explain and compare_windows to the drill-down."""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import TextContent

from tests.server.mcp_calls import call_ok

pytestmark = pytest.mark.anyio


async def test_investigate_is_listed_with_a_required_question(client: Client) -> None:
    prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    arguments = prompts["investigate"].arguments or []
    assert [(a.name, a.required) for a in arguments] == [("question", True), ("window", False)]
    assert prompts["investigate"].title == "Investigate a question"


async def test_investigate_guides_from_the_summary_to_the_drill_down(client: Client) -> None:
    batch = [{"endpoint": "/checkout", "status_code": 200, "duration_ms": 80.0}] * 5
    await call_ok(client, "record_requests", {"requests": batch})
    await call_ok(client, "mark_deploy", {"version": "v7"})
    result = await client.get_prompt(
        "investigate", {"question": "why is checkout slow?", "window": "15m"}
    )
    (message,) = result.messages
    assert isinstance(message.content, TextContent)
    text = message.content.text
    assert text.startswith("Investigate with perf-mcp: why is checkout slow?")
    assert '"count":5' in text  # the summary's numbers are in it
    assert '"past_windows":12' in text  # and explain's answer
    steps = ["1. The summary", "2. explain(window='15m')", "3. Call compare_windows", "4. Drill"]
    assert [text.index(step) for step in steps] == sorted(text.index(step) for step in steps)
    assert 'compare_windows(window="15m", baseline="deploy")' in text  # a deploy is marked


async def test_investigate_needs_a_question_and_a_known_window(client: Client) -> None:
    with pytest.raises(MCPError, match="question must be 1 to 1000 characters"):
        await client.get_prompt("investigate", {"question": "  "})
    with pytest.raises(MCPError, match="1m, 5m, 15m, 1h, 24h, 7d"):
        await client.get_prompt("investigate", {"question": "why?", "window": "week"})
