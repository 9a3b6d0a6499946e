"""MCP round trip of get_performance_summary next to a cheap tool, through the real CLI.

Prepares a store with the public Monitor API: 1M requests across 200 endpoints, each with its
own timestamp, spread evenly over the hour that ends now. Then starts `perf-mcp serve --db FILE`
over stdio and `perf-mcp serve --transport http --port N --db FILE`, and from the SDK's client
times, alternately in the same run:

- the echo: a tool that returns its text, added to the same server by bench/perf_mcp_echo.py
  (which runs the CLI's entry point as the console script does): protocol cost only;
- `list_thresholds`, perf-mcp's cheapest read-only tool (shown, not a target: it waits for a
  worker thread and a small read of the store, so it is slower than the cached summary);
- the summary right after a request was recorded with `record_requests` (an endpoint's row
  and the ranking change), right after `record_tool_call` (the tool totals change), and with
  nothing recorded in between (the server's last answer again).

Recorded data reaches the store at the flusher's pace (1 s), so most summaries add what is in
memory to the stored rows; the one after each flush reads the store again. Target: each
summary's median within 1.5x of the echo's on both transports.

    python bench/mcp_latency.py [--requests 1000000] [--endpoints 200] [--calls 300]
    python bench/mcp_latency.py --quick    # CI: 100k requests, 40 calls, well under a minute

PERF_MCP_BENCH_PROFILE=DIR runs each server under cProfile and writes DIR/<transport>.prof
when it stops.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from perf_mcp import Monitor

HOUR_S = 3600
TARGET_RATIO = 1.5
WARM_UP = 20
HERE = Path(__file__).resolve().parent
PROFILE_ENV = "PERF_MCP_BENCH_PROFILE"  # a directory: each server writes <transport>.prof


def fill(path: Path, requests: int, endpoints: int, span_s: float = HOUR_S) -> None:
    """Record ``requests`` samples over ``span_s`` seconds that end now, one timestamp each."""
    rng = random.Random(1)
    names = [f"/api/service{i % 20}/resource{i}/{{id}}" for i in range(endpoints)]
    weights = [1 / (i + 1) ** 0.8 for i in range(endpoints)]  # a few hot endpoints
    start = time.time() - span_s
    step = span_s / requests
    with Monitor(path, start_flusher=False) as monitor:
        record = monitor.record_request
        chunk = 100_000
        for first in range(0, requests, chunk):
            picks = rng.choices(names, weights, k=min(chunk, requests - first))
            for i, name in enumerate(picks, start=first):
                status = 500 if rng.random() < 0.01 else 200
                record(name, "GET", status, rng.lognormvariate(3, 1), timestamp=start + i * step)
            monitor.flush()


def prepared_store(tmp: str, requests: int, endpoints: int) -> Path:
    """A fresh store in ``tmp`` filled by ``fill``; says how long it took."""
    db = Path(tmp) / "bench.db"
    started = time.perf_counter()
    fill(db, requests, endpoints)
    print(
        f"store: {requests:,} requests across {endpoints} endpoints, spread over the last hour, "
        f"written in {time.perf_counter() - started:.1f} s ({db.stat().st_size / 2**20:.1f} MiB)"
    )
    return db


def perf_mcp_serve(db: Path, *flags: str) -> list[str]:
    """`perf-mcp serve --db DB FLAGS`, with the echo tool (bench/perf_mcp_echo.py)."""
    return [sys.executable, str(HERE / "perf_mcp_echo.py"), "serve", "--db", str(db), *flags]


def profile_env(transport: str) -> dict[str, str]:
    """The server's environment: asks for a profile when PERF_MCP_BENCH_PROFILE is set."""
    where = os.environ.get(PROFILE_ENV)
    if not where:
        return {}
    return {PROFILE_ENV: str(Path(where).resolve() / f"{transport}.prof")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def http_server(
    command: list[str], port: int, env: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """Run ``command`` (a server listening on 127.0.0.1:``port``); yields its MCP URL and pid."""
    child = subprocess.Popen(command, env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not listen on port {port}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp", child.pid
    finally:
        child.terminate()  # SIGTERM: both servers stop gracefully (and write a profile)
        child.wait(timeout=15)


SUMMARY = "get_performance_summary"
ECHO = "echo"
THRESHOLDS = "list_thresholds"
AFTER_REQUEST = "summary after a request"
AFTER_TOOL = "summary after a tool call"
UNCHANGED = "summary, nothing new"
# Each summary case is timed right after an untimed call that sets it up.
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

CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    ECHO: ("echo", {"text": "ping"}),
    THRESHOLDS: ("list_thresholds", {}),
}


async def measure(client: Client, calls: int, window: str) -> dict[str, list[float]]:
    """Milliseconds per call of each case, ``calls`` of each after a warm-up."""
    order = [ECHO, THRESHOLDS, AFTER_REQUEST, AFTER_TOOL, UNCHANGED]
    times: dict[str, list[float]] = {label: [] for label in order}
    for i in range(calls + WARM_UP):
        for label in order if i % 2 else reversed(order):
            if label in WRITES:  # untimed: makes the next summary a fresh one
                tool, arguments = WRITES[label]
                assert not (await client.call_tool(tool, arguments(i))).is_error
            started = time.perf_counter()
            result = await client.call_tool(*CALLS.get(label, (SUMMARY, {"window": window})))
            assert not result.is_error, result.content
            if i >= WARM_UP:
                times[label].append((time.perf_counter() - started) * 1000)
    return times


async def run_transport(
    transport: str, db: Path, calls: int, window: str
) -> dict[str, list[float]]:
    if transport == "stdio":
        command = perf_mcp_serve(db)
        params = StdioServerParameters(
            command=command[0], args=command[1:], env=profile_env(transport)
        )
        async with Client(params) as client:
            return await measure(client, calls, window)
    port = free_port()
    command = perf_mcp_serve(db, "--transport", "http", "--port", str(port))
    with http_server(command, port, profile_env(transport)) as (url, _):
        async with Client(url) as client:
            return await measure(client, calls, window)


def report(transport: str, times: dict[str, list[float]]) -> bool:
    """Print one transport's medians and ratios; whether every summary met the target."""
    echo = statistics.median(times[ECHO])
    met = True
    for label, samples in times.items():
        median = statistics.median(samples)
        p90 = statistics.quantiles(samples, n=10)[-1]
        print(f"{transport:<10} {label:<26} {median:>10.2f} {p90:>8.2f} {median / echo:>6.2f}x")
        met = met and (
            label not in (AFTER_REQUEST, AFTER_TOOL, UNCHANGED) or median / echo <= TARGET_RATIO
        )
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--window", default="5m", choices=["1m", "5m", "15m", "1h", "24h"])
    parser.add_argument("--quick", action="store_true", help="100k requests, 40 calls (CI)")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.calls = 100_000, 40

    with tempfile.TemporaryDirectory() as tmp:
        db = prepared_store(tmp, args.requests, args.endpoints)
        print(
            f"{args.calls} calls of each, window {args.window}, alternating, "
            "through perf-mcp serve\n"
        )
        print(f"{'transport':<10} {'call':<26} {'median ms':>10} {'p90 ms':>8} {'ratio':>7}")
        met = True
        for transport in ("stdio", "http"):
            times = anyio.run(run_transport, transport, db, args.calls, args.window)
            met = report(transport, times) and met
    verdict = "met" if met else "MISSED"
    print(f"\ntarget: every summary's median within {TARGET_RATIO}x of the echo's: {verdict}")


if __name__ == "__main__":
    main()
