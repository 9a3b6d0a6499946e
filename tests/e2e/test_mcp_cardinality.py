"""100,000 distinct endpoint names through MCP's record_requests: every record counted once,
the folded ones exactly, memory and the file bounded, whether or not the store can be written."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client

from perf_mcp import Monitor
from perf_mcp.server import build_server
from perf_mcp.server.record_tools import MAX_BATCH
from tests.recording.cardinality import FlakyStore, Peak, check_counted_once, endpoint
from tests.server.mcp_calls import call_ok

pytestmark = pytest.mark.anyio

NAMES = 100_000


@pytest.mark.parametrize(
    "full_batches", [range(0), range(3, 7)], ids=["store-writable", "store-full-for-40k-names"]
)
async def test_a_hundred_thousand_names_over_mcp_stay_bounded_and_counted_once(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, full_batches: range
) -> None:
    peak = Peak()
    with Monitor(db_path) as monitor:  # the default flusher, at its normal interval
        store = FlakyStore(monitor.storage)
        monkeypatch.setattr(monitor.storage, "write", store)
        async with Client(build_server(monitor)) as client:
            for n, first in enumerate(range(0, NAMES, MAX_BATCH)):
                store.full = n in full_batches
                batch = [
                    {
                        "endpoint": endpoint(i),
                        "method": "GET",
                        "status_code": 200,
                        "duration_ms": 1.0,
                    }
                    for i in range(first, first + MAX_BATCH)
                ]
                answer = await call_ok(client, "record_requests", {"requests": batch})
                assert answer["recorded"] == MAX_BATCH
                peak.sample()
                await anyio.to_thread.run_sync(store.wait_until_flushed, first + MAX_BATCH)
            folded = NAMES - monitor.settings.series_budget
            stats = await call_ok(client, "get_endpoint_stats", {"window": "1h"})
            summary = await call_ok(client, "get_performance_summary", {"window": "1h"})
        assert stats["folded_series"] == folded
        assert summary["folded_series"] == {"request": folded}
        assert summary["requests"]["count"] == NAMES
        check_counted_once(monitor, NAMES, peak)
