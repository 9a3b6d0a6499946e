"""Middleware overhead: one trivial route, bare and under each instrumentation, in one run.

Two drivers, each printing added µs per request and the throughput ratio to bare:

1. **raw ASGI**: the app is called in a loop with a prebuilt scope, no server and no sockets,
   timed in CPU time of the driving thread (the event loop's throughput) and of the whole
   process (adding what a monitor's flusher thread does for those requests: its fold, the
   middleware's checks, the writes); rounds interleave the variants so drift on a shared
   machine hits them alike.
2. **uvicorn** on 127.0.0.1: each variant in its own server process, driven by a bounded load
   generator (``--connections`` keep-alive HTTP/1.1 connections, one request in flight on each).
   Prints the measured requests/s and, steadier on a shared machine, the server process's CPU
   time per request: the ratio of those is the throughput ratio of a CPU-bound server.

Peers: prometheus-fastapi-instrumentator, starlette-exporter, OpenTelemetry's ASGI middleware
(with an SDK tracer and meter provider, no exporter), a ``BaseHTTPMiddleware`` timer, a
minimal pure-ASGI timer (the floor any timing middleware pays), and that timer calling
``Monitor.record_request`` (the floor of any middleware recording to a perf-mcp Monitor: ours
minus it is the cost of our own per-request work).

    pip install -e ".[bench]"
    python bench/middleware.py [--requests 20000] [--rounds 5] [--seconds 4] [--skip-uvicorn]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING

import psutil
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from perf_mcp import Monitor

PATH = "/users/42"
ROUTE = "/users/{user_id}"


async def get_user(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def bare() -> Starlette:
    return Starlette(routes=[Route(ROUTE, get_user)])


class MinimalTimer:
    """The floor: a pure-ASGI middleware that only takes a perf_counter pair."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.total_s = 0.0
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.total_s += perf_counter() - start
            self.count += 1


class MinimalRecorder:
    """The floor of a recording middleware: the minimal timer, the status seen on ``send``, and
    one ``Monitor.record_request`` (of the raw path, which the monitor collapses and caches).
    Ours minus this is what our features cost: templates, sizes, disconnects, gauge."""

    def __init__(self, app: ASGIApp, monitor: Monitor) -> None:
        self.app = app
        self.monitor = monitor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        def observe(message: Message) -> Awaitable[None]:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            return send(message)

        start = perf_counter()
        try:
            await self.app(scope, receive, observe)
        finally:
            duration_ms = (perf_counter() - start) * 1000
            self.monitor.record_request(scope["path"], scope["method"], status, duration_ms)


class BaseHTTPTimer(BaseHTTPMiddleware):
    """The timer most tutorials show: BaseHTTPMiddleware setting X-Response-Time."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        start = perf_counter()
        response = await call_next(request)
        response.headers["x-response-time"] = f"{(perf_counter() - start) * 1000:.3f}ms"
        return response


def with_minimal_timer() -> Starlette:
    app = bare()
    app.add_middleware(MinimalTimer)
    return app


MONITORS: list[Monitor] = []  # every bench monitor: a raw-driver round ends by flushing them


def bench_monitor() -> Monitor:
    """A real monitor on a temporary file store, its flusher running."""
    from perf_mcp import Monitor

    db = Path(tempfile.mkdtemp(prefix="perf-mcp-bench-")) / "perf.db"
    monitor = Monitor(db, flush_interval_s=1.0)
    MONITORS.append(monitor)
    return monitor


def with_minimal_recorder() -> Starlette:
    app = bare()
    app.add_middleware(MinimalRecorder, monitor=bench_monitor())
    return app


def with_perf_mcp(header: bool = False) -> Starlette:
    from perf_mcp.integrations import PerformanceMiddleware

    app = bare()
    monitor = bench_monitor()
    app.add_middleware(PerformanceMiddleware, monitor=monitor, response_time_header=header)
    return app


def with_instrumentator() -> Starlette:
    from prometheus_client import CollectorRegistry
    from prometheus_fastapi_instrumentator import Instrumentator

    app = bare()
    Instrumentator(registry=CollectorRegistry()).instrument(app)
    return app


def with_starlette_exporter() -> Starlette:
    from starlette_exporter import PrometheusMiddleware

    app = bare()
    app.add_middleware(PrometheusMiddleware, group_paths=True)
    return app


def with_opentelemetry() -> Starlette:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    app = bare()
    app.add_middleware(
        OpenTelemetryMiddleware, tracer_provider=TracerProvider(), meter_provider=MeterProvider()
    )
    return app


def with_base_http_timer() -> Starlette:
    app = bare()
    app.add_middleware(BaseHTTPTimer)
    return app


VARIANTS: dict[str, Callable[[], Starlette]] = {
    "bare": bare,
    "minimal pure-ASGI timer": with_minimal_timer,
    "minimal timer + record_request": with_minimal_recorder,
    "perf-mcp": with_perf_mcp,
    "perf-mcp + X-Response-Time": lambda: with_perf_mcp(header=True),
    "starlette-exporter": with_starlette_exporter,
    "prometheus-fastapi-instrumentator": with_instrumentator,
    "BaseHTTPMiddleware timer": with_base_http_timer,
    "opentelemetry-asgi": with_opentelemetry,
}


# ------------------------------------------------------------------ driver 1: raw ASGI


SCOPE: Scope = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.3"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": PATH,
    "raw_path": PATH.encode(),
    "root_path": "",
    "query_string": b"",
    "headers": [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"bench/1.0"),
        (b"accept", b"*/*"),
        (b"accept-encoding", b"gzip, deflate"),
        (b"connection", b"keep-alive"),
    ],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
    "state": {},
}
REQUEST: Message = {"type": "http.request", "body": b"", "more_body": False}


async def receive() -> Message:
    return REQUEST


async def send(message: Message) -> None:
    pass


async def per_request_s(app: ASGIApp, n: int) -> tuple[float, float]:
    """CPU seconds per request of this thread (other processes on the machine don't count),
    and of the whole process once the monitors have folded and written the round's requests
    (their flusher's work, done here so that it counts in the round that made it)."""
    gc.collect()
    start, start_process = time.thread_time(), time.process_time()
    for _ in range(n):
        await app(dict(SCOPE), receive, send)
    thread = time.thread_time() - start
    for monitor in MONITORS:
        monitor.flush()
    return thread / n, (time.process_time() - start_process) / n


async def raw_asgi(names: list[str], requests: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Median seconds per request of each variant (thread, process), over interleaved rounds."""
    apps = {name: VARIANTS[name]() for name in names}
    for app in apps.values():
        await per_request_s(app, 2000)  # build the middleware stack, warm caches
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for round_index in range(rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            samples[name].append(await per_request_s(apps[name], requests))
    return {
        name: (statistics.median(t for t, _ in values), statistics.median(p for _, p in values))
        for name, values in samples.items()
    }


# ------------------------------------------------------------------ driver 2: uvicorn


@dataclass
class _Progress:
    done: int = 0
    stop: bool = False


class _Connection(asyncio.Protocol):
    """One keep-alive connection sending the next request when a response is complete."""

    def __init__(self, request: bytes, stats: _Progress) -> None:
        self.request = request
        self.stats = stats
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].lower()
        at = head.find(b"content-length:")
        length = int(head[at + 15 : head.find(b"\r\n", at) if b"\r\n" in head[at:] else None])
        if len(self.buffer) < end + 4 + length:
            return
        self.buffer = self.buffer[end + 4 + length :]
        self.stats.done += 1
        if not self.stats.stop and self.transport is not None:
            self.transport.write(self.request)
        elif self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


async def load(
    port: int, server: psutil.Process, connections: int, warmup_s: float, seconds: float
) -> tuple[float, float]:
    """Requests per second over ``seconds`` after ``warmup_s``, and server CPU s per request."""
    loop = asyncio.get_running_loop()
    request = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    stats = _Progress()
    protocols = []
    for _ in range(connections):
        _, protocol = await loop.create_connection(
            lambda: _Connection(request, stats), "127.0.0.1", port
        )
        protocols.append(protocol)
    await asyncio.sleep(warmup_s)
    first, start, cpu_start = stats.done, perf_counter(), _cpu_s(server)
    await asyncio.sleep(seconds)
    last, elapsed, cpu_end = stats.done, perf_counter() - start, _cpu_s(server)
    stats.stop = True
    await asyncio.wait_for(asyncio.gather(*(p.lost for p in protocols)), 10)
    return (last - first) / elapsed, (cpu_end - cpu_start) / (last - first)


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_listening(port: int, server: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout_s} s")


def uvicorn_run(name: str, connections: int, seconds: float) -> tuple[float, float]:
    """(requests/s, server CPU seconds per request) of one variant in its own server process."""
    port = free_port()
    command = [sys.executable, __file__, "--serve", name, "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        wait_until_listening(port, server)
        process = psutil.Process(server.pid)
        return asyncio.run(load(port, process, connections, warmup_s=1.0, seconds=seconds))
    finally:
        server.terminate()
        server.wait(10)


def serve(name: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        VARIANTS[name](), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )


# ------------------------------------------------------------------ report


def report_raw(title: str, seconds: dict[str, tuple[float, float]]) -> None:
    """The request thread's CPU (the throughput ratio of the app's event loop), and the whole
    process's, which adds what a monitor's flusher thread does for those requests."""
    print(f"\n{title}")
    base, base_process = seconds["bare"]
    print(
        f"  {'variant':36} {'µs/req':>9} {'added µs':>9} {'× bare throughput':>18}"
        f" {'process µs/req':>15} {'× bare':>7}"
    )
    for name, (per_request, process) in seconds.items():
        print(
            f"  {name:36} {per_request * 1e6:9.2f} {(per_request - base) * 1e6:+9.2f} "
            f"{base / per_request:18.3f} {process * 1e6:15.2f} {base_process / process:7.3f}"
        )


def report_server(title: str, runs: dict[str, list[tuple[float, float]]]) -> None:
    """Measured req/s (at the mercy of anything else on the machine) and server CPU per request
    (what the middleware costs the server: its throughput ratio when CPU-bound)."""
    print(f"\n{title}")
    rps = {name: statistics.median(r for r, _ in values) for name, values in runs.items()}
    cpu = {name: statistics.median(c for _, c in values) for name, values in runs.items()}
    print(
        f"  {'variant':36} {'req/s':>7} {'× bare':>7}   "
        f"{'server CPU µs/req':>17} {'added µs':>9} {'× bare capacity':>15}"
    )
    for name in runs:
        print(
            f"  {name:36} {rps[name]:7.0f} {rps[name] / rps['bare']:7.3f}   "
            f"{cpu[name] * 1e6:17.1f} {(cpu[name] - cpu['bare']) * 1e6:+9.1f} "
            f"{cpu['bare'] / cpu[name]:15.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20000, help="per variant per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0, help="uvicorn: measured per run")
    parser.add_argument("--uvicorn-rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--skip-uvicorn", action="store_true")
    parser.add_argument("--only", nargs="*", help="variant names (bare is always included)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return

    names = list(VARIANTS) if not args.only else ["bare", *[n for n in args.only if n != "bare"]]
    print(f"python {sys.version.split()[0]} on {os.cpu_count()} cores; route GET {ROUTE}")
    raw = asyncio.run(raw_asgi(names, args.requests, args.rounds))
    report_raw(f"raw ASGI driver: {args.requests} requests x {args.rounds} rounds, median", raw)
    if args.skip_uvicorn:
        return
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for round_index in range(args.uvicorn_rounds):
        for name in names if round_index % 2 == 0 else names[::-1]:
            runs[name].append(uvicorn_run(name, args.connections, args.seconds))
    report_server(
        f"uvicorn on 127.0.0.1: {args.connections} keep-alive connections, "
        f"{args.seconds:g} s x {args.uvicorn_rounds} runs, median",
        runs,
    )


if __name__ == "__main__":
    main()
