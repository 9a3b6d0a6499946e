"""Two app processes push over OTLP (``PERF_MCP_URL``) into one `perf-mcp serve --transport http`.

Each app (tests/e2e/emitters/push_app.py, served by uvicorn) records through perf-mcp's
middleware and record methods with no store of its own and writes down what it recorded. The
server then answers exact counts, and its store holds the sum of both apps' histograms bucket
for bucket. With the server stopped the apps keep answering as fast as before and report
what they had to drop.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from perf_mcp import Monitor
from perf_mcp.core.sketch import LogHistogram
from perf_mcp.recording.pending import MAX_PENDING_BUCKETS
from tests.e2e.mcp_process import free_port, http_server, server_env, wait_for_port
from tests.e2e.test_http_access import FULL, READ, client, structured
from tests.server.mcp_calls import their_tools

pytestmark = pytest.mark.anyio
RECORDED = 400  # requests each app records through record_request
SPREAD = MAX_PENDING_BUCKETS + 40  # 10 s buckets recorded while the server is down


@dataclass
class App:
    http: httpx.Client
    process: subprocess.Popen[str]
    recorded: Path

    def served_ms(self, n: int) -> list[float]:
        """The time of ``n`` requests in a row, each answered as the app answers it."""
        times = []
        for i in range(1, n + 1):
            start = time.perf_counter()
            response = self.http.get(f"/items/{i}")
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == (404 if i % 7 == 0 else 200)
        return times


@contextmanager
def running_app(base: str, recorded: Path) -> Iterator[App]:
    """The push app on a free port, pushing to ``base`` with the full token."""
    port = free_port()
    env = server_env(
        PERF_MCP_URL=base,
        PERF_MCP_TOKEN=FULL,
        PERF_MCP_FLUSH_INTERVAL_S="0.2",
        RECORDED_OUT=str(recorded),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.emitters.push_app", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port, process)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield App(http, process, recorded)
    finally:
        if process.poll() is None:
            process.terminate()
        process.communicate(timeout=30)


async def ask(base: str, tool: str, **arguments: Any) -> Any:
    async with client(f"{base}/mcp", READ) as connected:
        return await structured(connected, tool, arguments)


def recorded_by(app: App) -> list[tuple[int, float]]:
    lines = app.recorded.read_text().splitlines()
    return [(status, ms) for line in lines for status, ms in json.loads(line)]


async def test_two_apps_push_into_one_server(tmp_path: Path) -> None:
    db = tmp_path / "perf.db"
    with (
        http_server(db, PERF_MCP_TOKEN=FULL, PERF_MCP_READ_TOKEN=READ) as (url, server),
        running_app(url.removesuffix("/mcp"), tmp_path / "a.jsonl") as a,
        running_app(url.removesuffix("/mcp"), tmp_path / "b.jsonl") as b,
    ):
        base = url.removesuffix("/mcp")
        before = {}
        for app, items, seed in ((a, 30, 1), (b, 20, 2)):
            app.served_ms(items)
            assert app.http.post("/record", params={"n": RECORDED, "seed": seed}).is_success
            assert app.http.post("/flush").json() == {"pushed": True, "error": None}
            before[app.process.pid] = statistics.median(app.served_ms(50))
            assert app.http.post("/flush").json()["pushed"]

        stats = await ask(base, "get_endpoint_stats", window="1h", limit=50)
        rows = {(e["endpoint"], e["method"]): e for e in stats["endpoints"]}
        items = rows[("/items/{item_id}", "GET")]
        # 30 + 50 and 20 + 50 requests; 404 for multiples of 7: 4 + 7 and 2 + 7
        assert (items["count"], items["status_counts"]) == (150, {"2xx": 130, "4xx": 20})
        recorded = recorded_by(a) + recorded_by(b)
        failed = sum(1 for status, _ in recorded if status == 500)
        row = rows[("/recorded", "POST")]
        assert (row["count"], row["error_count"]) == (2 * RECORDED, failed)
        assert row["status_counts"] == {"2xx": 2 * RECORDED - failed, "5xx": failed}

        (planner,) = (await ask(base, "get_agent_stats", window="1h"))["agents"]
        assert (planner["agent_name"], planner["runs"], planner["tool_calls"]) == ("planner", 2, 4)
        assert (planner["input_tokens"], planner["output_tokens"]) == (200, 80)
        tools = their_tools(await ask(base, "get_tool_stats", window="1h"))
        assert {name: (t["calls"], t["failures"]) for name, t in tools.items()} == {
            "search": (4, 0),
            "fetch": (2, 2),
        }

        expected = LogHistogram()
        for _, ms in recorded:
            expected.add(ms)
        with Monitor(db, start_flusher=False) as store:
            now = time.time()
            (stored,) = store.series_between(
                "request", now - 3600, now + 60, name="/recorded", method="POST"
            )
        assert stored.acc.hist.bins == expected.bins  # bucket for bucket
        assert stored.acc.hist.count == expected.count == 2 * RECORDED
        assert (stored.acc.hist.min, stored.acc.hist.max) == pytest.approx(
            (expected.min, expected.max), rel=1e-12
        )

        server.terminate()
        server.wait(timeout=30)
        for app in (a, b):
            assert app.http.post("/record", params={"spread": SPREAD}).is_success
            after = statistics.median(app.served_ms(50))  # flushes fail meanwhile
            assert after <= max(3 * before[app.process.pid], before[app.process.pid] + 20)
            flushed = app.http.post("/flush").json()
            assert not flushed["pushed"]
            assert f"could not reach {base}/v1/" in flushed["error"]
            state = app.http.get("/state").json()
            assert "could not reach" in state["failure"]
            # an hour of 10 s buckets waits for the server; the oldest past it are dropped
            assert 40 <= state["drops"]["buckets"] <= 42, state
            assert (state["drops"]["samples"], state["drops"]["raw"]) == (0, 0)
        for app in (a, b):
            app.process.terminate()
            _, stderr = app.process.communicate(timeout=30)
            assert "perf-mcp flush failed; keeping its data for the next: could not reach" in stderr
