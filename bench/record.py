"""Record cost and accuracy: perf-mcp's Monitor next to prometheus_client and DDSketch.

One run, the same data for all: N latencies (default 1M) from a lognormal body with a heavy
lognormal tail, over 50 endpoints. Prints ns per call at the call site of
``record_request`` (positional and keyword), ``record_agent_run`` and ``record_tool_call``
(what they cost the app's thread: check and queue), then the fold and the write that the
flusher thread does per sample, and the whole cost per sample; each next to
prometheus_client's labelled ``Histogram.labels(...).observe`` and ``DDSketch.add``. Then the
relative error of p50/p95/p99/p99.9 against the exact values (nearest rank), and the time to
answer a 5-minute window.

    python bench/record.py [--samples 200000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import time
from collections.abc import Callable

from ddsketch import DDSketch
from prometheus_client import CollectorRegistry, Histogram

from perf_mcp import Monitor
from perf_mcp.config import Settings

QUANTILES = (0.5, 0.95, 0.99, 0.999)
ENDPOINTS = [f"/api/v1/resource{i}/{{id}}" for i in range(50)]
T0 = 1_800_000_000.0


def latencies(n: int, seed: int = 42) -> list[float]:
    """Milliseconds: lognormal around 20 ms, 2% from a slow tail around 600 ms."""
    rng = random.Random(seed)
    return [
        rng.lognormvariate(6.4, 0.9) if rng.random() < 0.02 else rng.lognormvariate(3.0, 0.6)
        for _ in range(n)
    ]


def exact(values: list[float], q: float) -> float:
    """The nearest-rank quantile: the smallest value with at least q of them at or below."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered) - 1e-9) - 1, 0)]


def prometheus_quantile(q: float, bounds: list[float], counts: list[float]) -> float:
    """PromQL's histogram_quantile: linear interpolation inside the bucket holding the rank."""
    total = counts[-1]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cumulative in zip(bounds, counts, strict=True):
        if cumulative >= rank:
            if bound == float("inf"):
                return lower  # PromQL answers the highest finite bound
            return lower + (bound - lower) * (rank - below) / (cumulative - below)
        lower, below = bound, cumulative
    return lower


def per_call_ns(loop: Callable[[], None], calls: int, empty_ns: float) -> float:
    """ns per call of one timed loop, the bare loop's cost subtracted."""
    gc.collect()
    start = time.perf_counter_ns()
    loop()
    return (time.perf_counter_ns() - start) / calls - empty_ns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200_000, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n, rounds = args.samples, args.rounds
    values = latencies(n)
    names = [ENDPOINTS[i % len(ENDPOINTS)] for i in range(n)]
    rows = list(zip(names, values, strict=True))
    runs = n // 10  # agent runs and tool calls are rarer than requests
    print(f"{n:,} requests over {len(ENDPOINTS)} endpoints, {runs:,} agent runs and tool calls\n")

    def empty() -> None:
        for _name, _ms in rows:
            pass

    gc.collect()
    start = time.perf_counter_ns()
    empty()
    empty_ns = (time.perf_counter_ns() - start) / n

    settings = Settings(db=":memory:", buffer_samples=max(2 * n, 1000))
    monitor = Monitor(settings=settings, start_flusher=False)
    record = monitor.record_request

    def positional() -> None:
        for name, ms in rows:
            record(name, "GET", 200, ms)

    def keyword() -> None:
        for name, ms in rows:
            record(endpoint=name, method="GET", status_code=200, duration_ms=ms)

    agent_rows = rows[:runs]

    def agent_runs() -> None:  # the fields @monitor_agent sends
        record_run = monitor.record_agent_run
        for _name, ms in agent_rows:
            record_run(
                agent_name="planner",
                duration_ms=ms,
                success=True,
                model="claude-sonnet-4",
                provider="anthropic",
                input_tokens=1200,
                output_tokens=310,
            )

    def tool_calls() -> None:  # positional, as @monitor_tool calls it
        record_tool = monitor.record_tool_call
        for _name, ms in agent_rows:
            record_tool("search", ms, True, None, None)

    registry = CollectorRegistry()
    labels = ["endpoint", "method", "status"]
    histogram = Histogram("latency_seconds", "", labels, registry=registry)

    def prometheus() -> None:
        for name, ms in rows:
            histogram.labels(name, "GET", "200").observe(ms / 1000)

    sketch = DDSketch(relative_accuracy=0.01)

    def ddsketch() -> None:
        for _name, ms in rows:
            sketch.add(ms)

    def fold_and_write() -> tuple[float, float]:
        """ns per request for the flusher's two steps: the fold, then the write."""
        flusher = monitor._flusher
        queued = len(flusher.requests)
        start = time.perf_counter_ns()
        with flusher.fold_lock:
            flusher.fold()
        folded = time.perf_counter_ns()
        monitor.flush()
        return (folded - start) / queued, (time.perf_counter_ns() - folded) / queued

    # Rounds interleave the contenders, so a noisy moment hurts them alike; medians are shown.
    times: dict[str, list[float]] = {}
    for round_number in range(rounds + 1):  # round 0 warms up and is not counted
        for label, loop, calls in (
            ("prometheus_client Histogram.labels().observe", prometheus, n),
            ("ddsketch DDSketch.add (one sketch, no labels)", ddsketch, n),
            ("perf-mcp record_request, positional", positional, n),
            ("perf-mcp record_request, keywords", keyword, n),
            ("perf-mcp record_agent_run, keywords", agent_runs, runs),
            ("perf-mcp record_tool_call, positional", tool_calls, runs),
        ):
            ns = per_call_ns(loop, calls, empty_ns)
            if label.startswith("perf-mcp record_request"):
                fold_ns, write_ns = fold_and_write()
                if round_number:
                    times.setdefault("fold", []).append(fold_ns)
                    times.setdefault("write", []).append(write_ns)
            if round_number:
                times.setdefault(label, []).append(ns)
        monitor.flush()
    median = {label: statistics.median(values) for label, values in times.items()}
    prom_ns = median["prometheus_client Histogram.labels().observe"]
    print(f"at the call site (median of {rounds} rounds, loop overhead subtracted):")
    for label, value in median.items():
        if label not in ("fold", "write"):
            print(f"  {label:<46} {value:8.0f} ns/call  {value / prom_ns:5.2f}x prometheus")
    pos_ns, kw_ns = (
        median["perf-mcp record_request, positional"],
        median["perf-mcp record_request, keywords"],
    )
    print(f"  ratio positional / prometheus_client: {pos_ns / prom_ns:.2f} (target <= 0.30)")
    print(f"  ratio keywords / prometheus_client:   {kw_ns / prom_ns:.2f} (target <= 0.30)\n")
    whole = pos_ns + median["fold"] + median["write"]
    print("per request on the flusher thread, and the whole cost:")
    print(f"  {'fold into 10 s accumulators':<46} {median['fold']:8.0f} ns/request")
    print(f"  {'write to the store (amortized)':<46} {median['write']:8.0f} ns/request")
    print(f"  {'whole: call + fold + write':<46} {whole:8.0f} ns/request")
    print(f"  ratio whole / prometheus_client:      {whole / prom_ns:.2f} (target <= 1.0)\n")

    start = time.perf_counter()
    stats = monitor.get_endpoint_stats(window="5m", limit=500)
    query_ms = (time.perf_counter() - start) * 1000
    assert sum(r.count for r in stats.endpoints) == 2 * n * (rounds + 1)
    print(f"merge + quantiles of a 5-minute window ({len(stats.endpoints)} endpoints): ", end="")
    print(f"{query_ms:.1f} ms")
    record(ENDPOINTS[0], "GET", 200, 20.0)  # the store changes
    start = time.perf_counter()
    monitor.get_endpoint_stats(window="5m", limit=500)
    again_ms = (time.perf_counter() - start) * 1000
    print(f"after one more record (merge + quantiles, a one-row flush): {again_ms:.1f} ms")
    start = time.perf_counter()
    monitor.get_endpoint_stats(window="5m", limit=500)
    cached_ms = (time.perf_counter() - start) * 1000
    print(f"the same query, store unchanged (the answer is reused): {cached_ms:.2f} ms\n")

    now = time.time()
    (total,) = monitor.series_between("request", now - 300, now + 10, totals=True)
    ours_q = total.acc.hist.quantiles(QUANTILES)
    values = values * 2 * (rounds + 1) + [20.0]  # both call styles each round, and once more

    prom_bounds: list[float] = []
    prom_counts: list[float] = []
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name.endswith("_bucket"):
                le = float(sample.labels["le"])
                if le not in prom_bounds:
                    prom_bounds.append(le)
                    prom_counts.append(0.0)
                prom_counts[prom_bounds.index(le)] += sample.value

    print("relative error against the exact quantile (all endpoints together):")
    header = ("quantile", "exact ms", "perf-mcp", "DDSketch", "prometheus")
    print("  {:<8} {:>10} {:>10} {:>10} {:>11}".format(*header))
    for q, ours_value in zip(QUANTILES, ours_q, strict=True):
        truth = exact(values, q)
        prom = prometheus_quantile(q, prom_bounds, prom_counts) * 1000
        dd = sketch.get_quantile_value(q) or 0.0
        assert ours_value is not None
        print(
            f"  p{q * 100:<7g} {truth:10.2f} {abs(ours_value - truth) / truth:10.2%} "
            f"{abs(dd - truth) / truth:10.2%} {abs(prom - truth) / truth:11.2%}"
        )
    monitor.close()


if __name__ == "__main__":
    main()
