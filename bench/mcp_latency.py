"""MCP round trip of get_performance_summary, next to a trivial echo tool on the same server.

Fills a store with 1M requests across 200 endpoints over the last hour, starts
`perf-mcp serve` (plus an `echo` tool) as a subprocess over stdio and over streamable HTTP,
and times both tools alternately from the SDK's client in the same run. The summary is timed
in three cases: right after one request was recorded (one endpoint's row and the ranking
change), right after one tool call was recorded (the tool totals change), and with nothing
recorded in between (the server gives its last answer again). Recorded data reaches the store
at the flusher's pace (1 s), so most summaries add the records still in memory to the stored
ones; the one after each flush reads the store again.
The target: the summary's median within 1.5x of echo's, i.e. the query costs less than the
protocol.

    python bench/mcp_latency.py [--requests 1000000] [--endpoints 200] [--calls 300]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from perf_mcp import Monitor

HOUR_S = 3600
TARGET_RATIO = 1.5


def fill(path: Path, requests: int, endpoints: int) -> None:
    """Record ``requests`` samples spread over the hour that ends now."""
    rng = random.Random(1)
    names = [f"/api/service{i % 20}/resource{i}/{{id}}" for i in range(endpoints)]
    weights = [1 / (i + 1) ** 0.8 for i in range(endpoints)]
    start = time.time() - HOUR_S
    clock = [start]
    with Monitor(path, clock=lambda: clock[0], start_flusher=False) as monitor:
        step = HOUR_S / requests
        chunk = 100_000
        for first in range(0, requests, chunk):
            count = min(chunk, requests - first)
            clock[0] = start + (first + count) * step
            for name in rng.choices(names, weights, k=count):
                status = 500 if rng.random() < 0.01 else 200
                monitor.record_request(name, "GET", status, rng.lognormvariate(3, 1))
            monitor.flush()


def serve(transport: str, db: str, port: int) -> None:
    """The child: perf-mcp's server with an echo tool added, over one transport."""
    import uvicorn
    from mcp.types import ToolAnnotations

    from perf_mcp.server import build_server

    with Monitor(db) as monitor:
        server = build_server(monitor)

        async def echo(text: str) -> str:
            """Return the text unchanged (the floor: protocol cost only)."""
            return text

        server.add_tool(echo, annotations=ToolAnnotations(read_only_hint=True))
        if transport == "stdio":
            anyio.run(server.run_stdio_async)
        else:
            app = server.streamable_http_app()
            uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


SUMMARY = "get_performance_summary"
# Each summary case is timed right after an untimed call that sets it up:
AFTER_REQUEST = "summary after a request"  # one request recorded: a row and the ranking change
AFTER_TOOL = "summary after a tool call"  # one tool call recorded: the tool totals change
UNCHANGED = "summary, nothing new"  # nothing recorded since: the server's last answer again
WRITES: dict[str, tuple[str, Callable[[int], dict[str, Any]]]] = {
    AFTER_REQUEST: (
        "record_requests",
        lambda i: {
            "requests": [
                {
                    "endpoint": f"/api/service{i % 20}/resource{i % 200}/{i}",
                    "status_code": 500 if i % 10 == 0 else 200,
                    "duration_ms": 5.0 + i % 97,
                }
            ]
        },
    ),
    AFTER_TOOL: ("record_tool_call", lambda i: {"tool_name": "bench_tick", "duration_ms": 1.0}),
}


async def measure(client: Client, calls: int, window: str) -> dict[str, list[float]]:
    order = ["echo", AFTER_REQUEST, AFTER_TOOL, UNCHANGED]
    times: dict[str, list[float]] = {label: [] for label in order}
    for i in range(calls + 20):
        for label in order if i % 2 else reversed(order):
            if label in WRITES:  # untimed: makes the next summary a fresh one
                tool, arguments = WRITES[label]
                assert not (await client.call_tool(tool, arguments(i))).is_error
            name, arguments_now = (
                ("echo", {"text": "ping"}) if label == "echo" else (SUMMARY, {"window": window})
            )
            started = time.perf_counter()
            result = await client.call_tool(name, arguments_now)
            elapsed = (time.perf_counter() - started) * 1000
            assert not result.is_error, result.content
            if i >= 20:  # warm-up
                times[label].append(elapsed)
    return times


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_transport(
    transport: str, db: Path, calls: int, window: str
) -> dict[str, list[float]]:
    me = [sys.executable, os.path.abspath(__file__), "--db", str(db)]
    if transport == "stdio":
        params = StdioServerParameters(command=me[0], args=[*me[1:], "--serve", "stdio"])
        async with Client(params) as client:
            return await measure(client, calls, window)
    port = free_port()
    child = subprocess.Popen([*me, "--serve", "http", "--port", str(port)])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await anyio.sleep(0.1)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            return await measure(client, calls, window)
    finally:
        child.terminate()
        child.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--window", default="5m", choices=["1m", "5m", "15m", "1h", "24h"])
    parser.add_argument("--db", help="an existing store (skips filling)")
    parser.add_argument("--serve", choices=["stdio", "http"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.db, args.port)
        return

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "bench.db"
        if not args.db:
            started = time.perf_counter()
            fill(db, args.requests, args.endpoints)
            print(
                f"filled {args.requests:,} requests across {args.endpoints} endpoints over the "
                f"last hour in {time.perf_counter() - started:.1f} s "
                f"({db.stat().st_size / 2**20:.1f} MiB)"
            )
        print(f"{args.calls} calls of each tool, window {args.window}, alternating\n")
        print(f"{'transport':<10} {'tool':<26} {'median ms':>10} {'p90 ms':>8} {'ratio':>7}")
        for transport in ("stdio", "http"):
            times = anyio.run(run_transport, transport, db, args.calls, args.window)
            echo = statistics.median(times["echo"])
            for name, samples in times.items():
                median = statistics.median(samples)
                p90 = statistics.quantiles(samples, n=10)[-1]
                print(
                    f"{transport:<10} {name:<26} {median:>10.2f} {p90:>8.2f} {median / echo:>6.2f}x"
                )
        print(f"\ntarget: get_performance_summary within {TARGET_RATIO}x of echo")


if __name__ == "__main__":
    main()
