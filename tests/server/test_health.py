"""health_check tells when this process dropped data it was given, and what that costs."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

import perf_mcp.recording.pending
from perf_mcp import Monitor
from perf_mcp.config import Settings
from perf_mcp.server import build_server
from perf_mcp.server.health import recording_health
from tests.server.mcp_calls import call_ok

pytestmark = pytest.mark.anyio


async def test_dropped_runs_and_calls_degrade_health_with_the_count(
    db_path: Path, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        perf_mcp.recording.pending, "MAX_PENDING_RAW", 2
    )  # raw records held between writes
    with Monitor(db_path, flush_interval_s=3600) as monitor:
        for _ in range(5):  # before the server runs: nothing writes between them
            monitor.record_tool_call("sql", 3.0)
        async with Client(build_server(monitor), mode=protocol) as client:
            health = await call_ok(client, "health_check")
            stats = await call_ok(client, "get_tool_stats", {"tool_name": "sql"})

    assert health["status"] == "degraded"
    recording = {c["name"]: c for c in health["components"]}["recording"]
    assert recording["status"] == "degraded"
    assert recording["detail"].startswith("dropped since start: 3 single runs and tool calls (")
    assert "the statistics still count them" in recording["detail"]
    assert f"recording: {recording['detail']}" in health["reasons"]
    assert stats["tools"][0]["calls"] == 5  # what was dropped is the single records only


async def test_a_full_record_buffer_drops_counts_and_degrades_health(
    db_path: Path, protocol: str
) -> None:
    small = Settings(db=str(db_path), buffer_samples=1000, flush_interval_s=60)
    with Monitor(settings=small) as monitor:
        for _ in range(1500):  # faster than any flush: the buffer fills
            monitor.record_request("/a", "GET", 200, 1.0)
        async with Client(build_server(monitor), mode=protocol) as client:
            health = await call_ok(client, "health_check")
            stats = await call_ok(client, "get_endpoint_stats")

    recording = {c["name"]: c for c in health["components"]}["recording"]
    assert recording["status"] == "degraded"
    assert recording["detail"].startswith("dropped since start: 500 samples")
    assert stats["endpoints"][0]["count"] == 1000  # what was kept is counted once


async def test_nothing_dropped_is_ok(client: Client) -> None:
    await call_ok(client, "record_tool_call", {"tool_name": "sql", "duration_ms": 3})
    health = await call_ok(client, "health_check")
    recording = {c["name"]: c for c in health["components"]}["recording"]
    assert (recording["status"], recording["detail"]) == ("ok", "nothing dropped since start")


def test_rejected_requests_degrade_health_and_say_why() -> None:
    health = recording_health({"samples": 0, "rejected": 3, "raw": 0, "buckets": 0})
    assert health.status == "degraded"
    assert health.detail.startswith("dropped since start: 3 requests the middleware handed over")


def test_each_kind_of_drop_says_what_is_missing() -> None:
    health = recording_health({"samples": 1200, "raw": 0, "buckets": 2})
    assert health.status == "degraded"
    assert health.detail.startswith("dropped since start: 1,200 samples (the record buffer")
    assert "missing from every statistic" in health.detail
    assert "; 2 10-second buckets (the store could not be written" in health.detail
    assert "single runs" not in health.detail
