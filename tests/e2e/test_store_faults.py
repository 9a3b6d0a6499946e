"""`perf-mcp serve` under a file-size limit (as `ulimit -f` sets): health_check says the store
cannot be written and why, the records wait, and once the limit is lifted every acknowledged
record is stored exactly once in an intact file."""

from __future__ import annotations

import resource
import sqlite3
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from perf_mcp import Monitor
from tests.e2e.mcp_process import http_server

pytestmark = pytest.mark.anyio

ENDPOINTS = 2000  # a write of this many new series needs far more than the room left
WAIT_S = 20.0


async def structured(client: Client, tool: str, arguments: dict[str, Any] | None = None) -> Any:
    result = await client.call_tool(tool, arguments or {})
    assert not result.is_error, result.content
    return result.structured_content


async def store_component(client: Client, status: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ask health_check until the store component has ``status``; the answer and components."""
    deadline = time.monotonic() + WAIT_S
    while True:
        health = await structured(client, "health_check")
        parts = {c["name"]: c for c in health["components"]}
        if parts["store"]["status"] == status or time.monotonic() > deadline:
            return health, parts
        await anyio.sleep(0.1)


async def test_a_file_size_limit_degrades_health_and_loses_nothing_once_lifted(
    db_path: Path,
) -> None:
    warm = [{"endpoint": "/warm", "status_code": 200, "duration_ms": 1.0}]
    batch = [
        {"endpoint": f"/e{i}", "status_code": 500 if i % 10 == 0 else 200, "duration_ms": 2.0}
        for i in range(ENDPOINTS)
    ]
    with http_server(db_path, PERF_MCP_FLUSH_INTERVAL_S="0.2") as (url, process):
        async with Client(url, mode="legacy") as client:
            await structured(client, "record_requests", {"requests": warm})
            await structured(client, "get_endpoint_stats")  # flushes: the file has its tables
            size = max(db_path.stat().st_size, Path(f"{db_path}-wal").stat().st_size)
            _, hard = resource.prlimit(process.pid, resource.RLIMIT_FSIZE)
            resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (size + 4096, hard))
            recorded = 1
            for _ in range(3):
                recorded += (await structured(client, "record_requests", {"requests": batch}))[
                    "recorded"
                ]
            health, parts = await store_component(client, "degraded")
            assert parts["store"]["status"] == "degraded", parts["store"]
            assert "could not be written" in parts["store"]["detail"], parts["store"]
            assert f"store: {parts['store']['detail']}" in health["reasons"]

            resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (hard, hard))
            health, parts = await store_component(client, "ok")
            assert parts["store"]["status"] == "ok", parts["store"]
            assert parts["recording"]["detail"] == "nothing dropped since start"
            dropped = 0  # as health_check says
    with Monitor(db_path, start_flusher=False) as reader:
        summary = reader.get_performance_summary("1h")
        endpoints = reader.get_endpoint_stats(window="1h")
    assert summary.requests.count == recorded - dropped == 1 + 3 * ENDPOINTS
    assert summary.requests.error_count == 3 * ENDPOINTS // 10
    assert endpoints.total_endpoints == 1 + ENDPOINTS
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
