"""Calls/s and latency over HTTP with 8 concurrent MCP clients: perf-mcp next to a minimal server.

Prepares the store as bench/mcp_latency.py does (1M requests across 200 endpoints, spread over
the last hour), starts `perf-mcp serve --transport http` on it and, in the same run, a minimal
server on the same SDK (bench/startup_minimal.py: one echo tool, served by uvicorn on
127.0.0.1). Each round, 8 `mcp.Client` sessions call one server at once, each up to
``--calls`` calls or ``--seconds``, whichever ends first; rounds alternate between the servers.
perf-mcp's calls are `record_requests` batches (``--batch`` requests to the client's own
endpoint) with every 4th call a `get_performance_summary`; the minimal server's are `echo`.
At the end every client's endpoint is read back with `get_endpoint_stats`: each recorded
request must be counted exactly once.

PERF_MCP_BENCH_PROFILE=DIR runs perf-mcp under cProfile (bench/perf_mcp_echo.py) and writes
DIR/load.prof when it stops.

Targets: perf-mcp >= 0.8x the minimal server's calls/s, perf-mcp's p99 under 50 ms.
bench/team_load.py runs the same rounds with a token, agent runs and an app's middleware.

    python bench/mcp_load.py [--requests 1000000] [--rounds 7] [--calls 150] [--seconds 30]
    python bench/mcp_load.py --quick    # CI: 100k requests, 3 rounds of 80 calls a client
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx2
import psutil
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_latency import (
    HERE,
    PROFILE_ENV,
    free_port,
    http_server,
    perf_mcp_serve,
    prepared_store,
    profile_env,
)

CLIENTS = 8
SUMMARY_EVERY = 4  # every 4th perf-mcp call is a summary, the others record
WARM_UP = 3  # calls per client before the clock starts
TARGET_RATIO = 0.8
TARGET_P99_MS = 50.0
CLIENT = psutil.Process()  # the 8 sessions share this process and its event loop
PERF_MCP = "perf-mcp serve"
MINIMAL = "minimal MCPServer"

# (client, its index, call number) -> (the tool called, requests recorded)
Call = Callable[[Client, int, int], Awaitable[tuple[str, int]]]


@dataclass
class Totals:
    """One server's calls over all rounds."""

    rates: list[float] = field(default_factory=list)  # calls/s of each round
    cpu_ms: list[float] = field(default_factory=list)  # server CPU per call, each round
    latencies: dict[str, list[float]] = field(default_factory=dict)  # ms, per tool
    recorded: dict[int, int] = field(default_factory=dict)  # per client: requests recorded

    def add(self, index: int, tool: str, recorded: int, ms: float | None) -> None:
        self.recorded[index] = self.recorded.get(index, 0) + recorded
        if ms is not None:
            self.latencies.setdefault(tool, []).append(ms)

    def every_latency(self) -> list[float]:
        return [ms for samples in self.latencies.values() for ms in samples]


async def echo_call(client: Client, index: int, i: int) -> tuple[str, int]:
    result = await client.call_tool("echo", {"text": "ping"})
    assert not result.is_error, result.content
    return "echo", 0


def load_endpoint(index: int) -> str:
    return f"/load/client{index}"


def record_or_summarize(batch: int) -> Call:
    """perf-mcp's load: a batch of ``batch`` requests, every SUMMARY_EVERY-th call a summary."""

    async def call(client: Client, index: int, i: int) -> tuple[str, int]:
        if i % SUMMARY_EVERY == SUMMARY_EVERY - 1:
            tool, arguments, recorded = "get_performance_summary", {"window": "5m"}, 0
        else:
            requests = [
                {
                    "endpoint": load_endpoint(index),
                    "status_code": 503 if (i + k) % 50 == 0 else 200,
                    "duration_ms": 1.0 + (i * 7 + k) % 300,
                }
                for k in range(batch)
            ]
            tool, arguments, recorded = "record_requests", {"requests": requests}, batch
        result = await client.call_tool(tool, arguments)
        assert not result.is_error, result.content
        return tool, recorded

    return call


@asynccontextmanager
async def session(url: str, token: str | None = None) -> AsyncIterator[Client]:
    """An MCP session over HTTP, sending ``token`` as the bearer token when given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


@dataclass(frozen=True)
class Round:
    """How each round runs: sessions at once, calls each at most, seconds at most."""

    calls: int
    seconds: float
    clients: int = CLIENTS
    token: str | None = None


async def one_round(
    url: str, server: psutil.Process, call: Call, plan: Round, totals: Totals
) -> str:
    """``plan.clients`` sessions calling at once after a warm-up; one line about the round."""
    ready, go = anyio.Event(), anyio.Event()
    waiting = [plan.clients]
    done = [0]

    async def client_task(index: int) -> None:
        async with session(url, plan.token) as client:
            for i in range(WARM_UP):
                totals.add(index, *await call(client, index, -1 - i), None)
            waiting[0] -= 1
            if not waiting[0]:
                ready.set()
            await go.wait()
            for i in range(plan.calls):
                if time.perf_counter() > deadline:
                    break
                started = time.perf_counter()
                tool, recorded = await call(client, index, i)
                totals.add(index, tool, recorded, (time.perf_counter() - started) * 1000)
                done[0] += 1

    deadline = float("inf")
    latencies_before = len(totals.every_latency())
    async with anyio.create_task_group() as tasks:
        for index in range(plan.clients):
            tasks.start_soon(client_task, index)
        await ready.wait()
        cpu_before, client_before = cpu_seconds(server), cpu_seconds(CLIENT)
        started = time.perf_counter()
        deadline = started + plan.seconds
        go.set()
    elapsed = time.perf_counter() - started
    cpu_ms = (cpu_seconds(server) - cpu_before) * 1000 / done[0]
    client_ms = (cpu_seconds(CLIENT) - client_before) * 1000 / done[0]
    totals.rates.append(done[0] / elapsed)
    totals.cpu_ms.append(cpu_ms)
    p50, p99 = percentiles(totals.every_latency()[latencies_before:])
    return (
        f"{done[0]:>6} {elapsed:>8.2f} {done[0] / elapsed:>8.0f} {cpu_ms:>8.2f} {client_ms:>8.2f} "
        f"{p50:>7.2f} {p99:>7.2f}"
    )


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def percentiles(latencies: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(latencies, n=100)
    return cuts[49], cuts[98]


async def counted(url: str, clients: int) -> dict[int, int]:
    """Per client, the requests perf-mcp counts for its endpoint (get_endpoint_stats)."""
    found = {}
    async with Client(url) as client:
        for index in range(clients):
            result = await client.call_tool(
                "get_endpoint_stats", {"endpoint": load_endpoint(index), "window": "1h"}
            )
            assert not result.is_error, result.content
            rows = result.structured_content["endpoints"]
            found[index] = sum(row["count"] for row in rows)
    return found


Server = tuple[str, int, Call]  # its MCP URL, its pid, what a client calls


def run_rounds(servers: dict[str, Server], plan: Round, rounds: int) -> dict[str, Totals]:
    """``rounds`` rounds, each server in turn (the order alternating); a line for each."""
    totals = {name: Totals() for name in servers}
    print(f"\n{plan.clients} clients, up to {plan.calls} calls each or {plan.seconds:g} s a round")
    print(
        f"{'server':<18} {'round':>5} {'calls':>6} {'seconds':>8} {'calls/s':>8} "
        f"{'cpu ms':>8} {'client':>8} {'p50 ms':>7} {'p99 ms':>7}"
    )
    for round_number in range(1, rounds + 1):
        order = list(servers) if round_number % 2 else list(reversed(servers))
        for name in order:
            url, pid, call = servers[name]
            line = anyio.run(one_round, url, psutil.Process(pid), call, plan, totals[name])
            print(f"{name:<18} {round_number:>5} {line}")
    return totals


def compare(totals: dict[str, Totals], clients: int = CLIENTS) -> bool:
    """Print each server's figures and perf-mcp's against the minimal one; True when the
    calls/s ratio and the p99 meet their targets."""
    print(
        "\n(cpu ms: the server's CPU time per call, steadier than calls/s on a busy machine; "
        f"client: this process's, all {clients} sessions)"
    )
    for name, total in totals.items():
        p50, p99 = percentiles(total.every_latency())
        print(
            f"{name:<18} median {statistics.median(total.rates):>6.0f} calls/s, "
            f"{statistics.median(total.cpu_ms):.2f} ms CPU a call, "
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms over {len(total.every_latency())} calls"
        )
        for tool, samples in total.latencies.items() if len(total.latencies) > 1 else ():
            p50, p99 = percentiles(samples)
            print(f"{'':<18}   {tool}: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    perf, peer = totals[PERF_MCP], totals[MINIMAL]
    # Each round runs both servers back to back, under the same load from the rest of the
    # machine: the median of the rounds' ratios is steadier than the ratio of the medians.
    ratio = statistics.median(p / m for p, m in zip(perf.rates, peer.rates, strict=True))
    cpu_ratio = statistics.median(peer.cpu_ms) / statistics.median(perf.cpu_ms)
    p99 = percentiles(perf.every_latency())[1]
    print(
        f"\nperf-mcp / minimal calls/s, median of the rounds: {ratio:.2f}x "
        f"(target >= {TARGET_RATIO}x); "
        f"by CPU per call: {cpu_ratio:.2f}x"
    )
    print(f"perf-mcp p99: {p99:.1f} ms (target < {TARGET_P99_MS:g} ms)")
    return ratio >= TARGET_RATIO and p99 < TARGET_P99_MS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=150, help="most calls per client a round")
    parser.add_argument("--seconds", type=float, default=30, help="longest round")
    parser.add_argument("--batch", type=int, default=10, help="requests per record_requests")
    parser.add_argument("--quick", action="store_true", help="100k requests, 3 short rounds (CI)")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.rounds, args.calls, args.seconds = 100_000, 3, 80, 10

    with tempfile.TemporaryDirectory() as tmp:
        db = prepared_store(tmp, args.requests, args.endpoints)
        perf_port, minimal_port = free_port(), free_port()
        flags = ["--transport", "http", "--port", str(perf_port)]
        perf_mcp = [str(Path(sys.executable).with_name("perf-mcp")), "serve", "--db", str(db)]
        if os.environ.get(PROFILE_ENV):  # the same CLI, run under cProfile
            perf_mcp = perf_mcp_serve(db)
        minimal = [sys.executable, str(HERE / "startup_minimal.py"), "--port", str(minimal_port)]
        with (
            http_server([*perf_mcp, *flags], perf_port, profile_env("load")) as perf_server,
            http_server(minimal, minimal_port) as minimal_server,
        ):
            servers = {
                MINIMAL: (*minimal_server, echo_call),
                PERF_MCP: (*perf_server, record_or_summarize(args.batch)),
            }
            totals = run_rounds(servers, Round(args.calls, args.seconds), args.rounds)
            found = anyio.run(counted, perf_server[0], CLIENTS)

    met = compare(totals)
    recorded = totals[PERF_MCP].recorded
    exact = found == recorded
    print(
        f"recorded {sum(recorded.values()):,} requests, counted {sum(found.values()):,}"
        f" ({'each exactly once' if exact else f'MISMATCH per client: {recorded} vs {found}'})"
    )
    print(f"targets: {'met' if met and exact else 'MISSED'}")


if __name__ == "__main__":
    main()
