"""mark_deploy and compare_windows through a real MCP client, on both protocol revisions."""

from __future__ import annotations

import pytest
from mcp import Client

from tests.server.mcp_calls import call_error, call_ok

pytestmark = pytest.mark.anyio


async def test_a_marked_deploy_is_in_the_summary_and_splits_compare_windows(
    client: Client,
) -> None:
    slow = [
        {"endpoint": "/pay", "method": "POST", "status_code": 200, "duration_ms": 40.0 + i % 7}
        for i in range(200)
    ]
    await call_ok(client, "record_requests", {"requests": slow})
    marker = await call_ok(client, "mark_deploy", {"version": "v2", "note": "new client"})
    assert (marker["version"], marker["note"]) == ("v2", "new client")
    summary = await call_ok(client, "get_performance_summary", {})
    assert [d["version"] for d in summary["deploys"]] == ["v2"]

    answer = await call_ok(client, "compare_windows", {"window": "1h", "baseline": "deploy"})
    assert answer["deploy"]["version"] == "v2"
    assert answer["baseline_end"] <= marker["at"] + 10
    assert [r["metric"] for r in answer["resources"]] == ["cpu_percent", "memory_percent"]


async def test_compare_windows_says_what_is_allowed(client: Client) -> None:
    message = await call_error(client, "compare_windows", {"baseline": "deploy"})
    assert "needs a deploy marker" in message
    assert "mark_deploy" in message
    message = await call_error(client, "compare_windows", {"baseline": "yesterday"})
    assert "previous" in message
    assert "deploy" in message
    message = await call_error(client, "mark_deploy", {"version": ""})
    assert "version" in message


async def test_explain_answers_with_nothing_anomalous_on_a_new_store(client: Client) -> None:
    answer = await call_ok(client, "explain", {"window": "5m", "subject": "/search"})
    assert (answer["subject"], answer["past_windows"], answer["findings"]) == ("/search", 12, [])
