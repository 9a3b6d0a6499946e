"""set_slo, list_slos and delete_slo through a real MCP client, on both protocol revisions."""

from __future__ import annotations

import pytest
from mcp import Client

from tests.server.mcp_calls import call_error, call_ok

pytestmark = pytest.mark.anyio


async def test_an_slo_is_set_listed_with_its_budget_and_deleted(client: Client) -> None:
    failing = [
        {"endpoint": "/pay", "method": "POST", "status_code": 503 if i < 20 else 200,
         "duration_ms": 40.0}
        for i in range(1000)
    ]  # fmt: skip
    await call_ok(client, "record_requests", {"requests": failing})
    dry = await call_ok(
        client,
        "set_slo",
        {"kind": "availability", "objective": 0.999, "scope": "endpoint", "subject": "/pay",
         "name": "pay", "dry_run": True},
    )  # fmt: skip
    assert dry["dry_run"]
    assert set(dry["replay"]) == {"slo_fast_burn", "slo_medium_burn", "slo_slow_burn"}
    assert (await call_ok(client, "list_slos"))["slos"] == []

    args = {"kind": "availability", "objective": 0.999, "scope": "endpoint", "subject": "/pay"}
    change = await call_ok(client, "set_slo", {**args, "name": "pay"})
    assert change["status"]["budget_left"] == -19.0  # 20 bad where 1 is allowed: 20x
    [status] = (await call_ok(client, "list_slos"))["slos"]
    assert (status["name"], status["events"], status["bad"], status["alert"]) == (
        "pay", 1000, 20, "page"
    )  # fmt: skip
    alerts = await call_ok(client, "list_alerts")
    assert {(a["threshold"], a["subject"]) for a in alerts["alerts"]} >= {("slo_fast_burn", "pay")}
    assert (await call_ok(client, "delete_slo", {"name": "pay"}))["slos"] == []


async def test_bad_slos_are_refused_saying_what_is_allowed(client: Client) -> None:
    message = await call_error(client, "set_slo", {"kind": "availability", "objective": 1.0})
    assert "objective" in message
    assert "between 0 and 1" in message
    message = await call_error(client, "set_slo", {"kind": "latency", "objective": 0.99})
    assert "threshold_ms" in message
    message = await call_error(client, "set_slo", {"kind": "uptime", "objective": 0.99})
    assert "availability" in message
    assert "latency" in message
    message = await call_error(client, "delete_slo", {"name": "nope"})
    assert "no SLO named 'nope'" in message
