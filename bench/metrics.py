"""What a /metrics scrape costs: perf-mcp's exposition next to prometheus_client's.

Fills a fresh SQLite file with requests over ``--endpoints`` routes (two status classes each),
runs over 100 agents and calls over 100 tools, spread over the last ``--hours`` hours (a fake
clock), then times the scrape the server does (flush, totals since the start, render) on a
second Monitor over the same file, first when it seals the past hours and then as a steady
scrape; next to prometheus_client's ``generate_latest`` for a registry holding the same series
(a counter per route, method and status class, an 18-bound histogram per route and method;
per agent and tool their outcome counters and histogram, tokens and cost).

    python bench/metrics.py [--endpoints 1000] [--hours 6] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from perf_mcp import Monitor
from perf_mcp.export.metrics import exposition
from perf_mcp.export.prometheus import NOMINAL_LE_S
from perf_mcp.export.totals import SinceStart

T0 = 1_800_000_000.0


def fill(path: Path, endpoints: int, hours: int) -> None:
    """Ten requests per route and a run and a call per agent and tool, every 10 minutes."""
    rng = random.Random(1)
    clock = [T0]
    with Monitor(path, clock=lambda: clock[0], start_flusher=False) as monitor:
        for step in range(hours * 6):
            clock[0] = T0 + step * 600
            for i in range(endpoints):
                for n in range(10):
                    ms = rng.lognormvariate(3.2, 0.8)
                    monitor.record_request(f"/api/r{i}/{{id}}", "GET", 500 if n == 0 else 200, ms)
            for i in range(100):
                monitor.record_agent_run(agent_name=f"agent{i}", duration_ms=900.0, input_tokens=50)
                monitor.record_tool_call(f"tool{i}", rng.lognormvariate(3, 1))
            monitor.flush()


def peer_registry(endpoints: int) -> CollectorRegistry:
    registry = CollectorRegistry()
    count = Counter("http_requests", "", ["route", "method", "status_class"], registry=registry)
    duration = Histogram(
        "http_request_duration_seconds", "", ["route", "method"], buckets=NOMINAL_LE_S,
        registry=registry,
    )  # fmt: skip
    rng = random.Random(1)
    for i in range(endpoints):
        for status_class in ("2xx", "5xx"):
            count.labels(f"/api/r{i}/{{id}}", "GET", status_class).inc()
        for _ in range(10):
            duration.labels(f"/api/r{i}/{{id}}", "GET").observe(rng.lognormvariate(3.2, 0.8) / 1000)
    runs = Counter("agent_runs", "", ["agent", "outcome"], registry=registry)
    run_s = Histogram("agent_run_seconds", "", ["agent"], buckets=NOMINAL_LE_S, registry=registry)
    tokens = Counter("agent_tokens", "", ["agent", "type"], registry=registry)
    cost = Counter("agent_cost_usd", "", ["agent"], registry=registry)
    calls = Counter("tool_calls", "", ["tool", "outcome"], registry=registry)
    call_s = Histogram("tool_call_seconds", "", ["tool"], buckets=NOMINAL_LE_S, registry=registry)
    for i in range(100):
        for outcome in ("success", "failure"):
            runs.labels(f"agent{i}", outcome).inc()
            calls.labels(f"tool{i}", outcome).inc()
        for kind in ("input", "output", "cache_read"):
            tokens.labels(f"agent{i}", kind).inc(50)
        cost.labels(f"agent{i}").inc(0)
        run_s.labels(f"agent{i}").observe(0.9)
        call_s.labels(f"tool{i}").observe(rng.lognormvariate(3, 1) / 1000)
    return registry


def timed(run: object, rounds: int) -> tuple[float, int]:
    """Median milliseconds of ``rounds`` calls, and the answer's size in bytes."""
    times, size = [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        size = len(run())  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "perf.db"
        fill(path, args.endpoints, args.hours)
        now = T0 + args.hours * 3600
        with Monitor(path, clock=lambda: now, start_flusher=False) as monitor:
            since = SinceStart(monitor.series_between, T0, clock=lambda: now)

            def scrape() -> bytes:
                monitor.flush()
                return exposition(since, monitor.drops, None, []).encode()

            first, _ = timed(scrape, 1)  # reads and seals the past hours
            steady, size = timed(scrape, args.rounds)
        registry = peer_registry(args.endpoints)
        peer, peer_size = timed(lambda: generate_latest(registry), args.rounds)
    print(f"{args.endpoints} routes, 100 agents, 100 tools over {args.hours} h of store")
    print(f"  perf-mcp /metrics, first scrape (seals the past hours) {first:8.1f} ms")
    print(f"  perf-mcp /metrics, steady scrape        median {steady:8.1f} ms  {size:>9,} bytes")
    print(f"  prometheus_client generate_latest       median {peer:8.1f} ms  {peer_size:>9,} bytes")


if __name__ == "__main__":
    main()
