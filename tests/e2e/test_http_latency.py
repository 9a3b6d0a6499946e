"""A sequential tool call over the real CLI's HTTP costs what the SDK costs, not a delayed ACK.

Without TCP_NODELAY on accepted connections, Nagle's algorithm holds each answer's last
segment until the client's delayed ACK arrives: about 40 ms per call instead of about 2.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mcp import Client

from tests.e2e.mcp_process import http_server

pytestmark = pytest.mark.anyio

CALLS = 20
FASTEST_LIMIT_MS = 30.0  # the SDK's floor is ~1-2 ms here; Nagle + delayed ACK adds ~40 ms
# to every call, so even the fastest of 20 is over 40 ms with it, however idle the machine
# (the fastest, not the median: a loaded machine slows some calls, never all of them).


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
    fastest = min(times_ms)
    assert fastest <= FASTEST_LIMIT_MS, f"fastest {fastest:.1f} ms of {CALLS} calls: {times_ms}"
