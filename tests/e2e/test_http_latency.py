"""A sequential tool call over the real CLI's HTTP costs what the SDK costs, not a delayed ACK.

Without TCP_NODELAY on accepted connections, Nagle's algorithm holds each answer's last
segment until the client's delayed ACK arrives: about 40 ms per call instead of about 2.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest
from mcp import Client

from tests.e2e.mcp_process import http_server

pytestmark = pytest.mark.anyio

CALLS = 20
MEDIAN_LIMIT_MS = 20.0  # the SDK's floor is ~1-2 ms here; Nagle + delayed ACK adds ~40 ms


async def test_sequential_http_tool_calls_are_not_held_by_nagle(db_path: Path) -> None:
    with http_server(db_path) as (url, _):
        async with Client(url) as client:
            await client.call_tool("list_thresholds", {})  # warm: first-call imports, caches
            times_ms = []
            for _ in range(CALLS):
                start = time.perf_counter()
                result = await client.call_tool("list_thresholds", {})
                times_ms.append((time.perf_counter() - start) * 1000)
                assert not result.is_error, result.content
    median = statistics.median(times_ms)
    assert median <= MEDIAN_LIMIT_MS, f"median {median:.1f} ms over {CALLS} calls: {times_ms}"
