"""Record cost and accuracy: perf-mcp's Monitor next to prometheus_client and DDSketch.

One run, the same data for all three: N latencies (default 1M) from a lognormal body with a
heavy lognormal tail, over 50 endpoints, spread across 5 minutes. Prints ns per record call,
the ratio to prometheus_client's labelled ``Histogram.labels(...).observe``, the relative error
of p50/p95/p99/p99.9 against the exact values, and the time to merge and answer a 5-minute
window.

    python bench/record.py [--samples 1000000]
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable

from ddsketch import DDSketch
from prometheus_client import CollectorRegistry, Histogram

from perf_mcp import Monitor
from perf_mcp.config import Settings
from perf_mcp.core.window import plan_window

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
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


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


def timed(label: str, loop: Callable[[], None], n: int, empty_ns: float) -> float:
    gc.collect()
    start = time.perf_counter_ns()
    loop()
    ns = (time.perf_counter_ns() - start) / n - empty_ns
    print(f"  {label:<46} {ns:8.0f} ns/call")
    return ns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    n = parser.parse_args().samples
    values = latencies(n)
    names = [ENDPOINTS[i % len(ENDPOINTS)] for i in range(n)]
    stamps = [T0 + 300 * i / n for i in range(n)]
    rows = list(zip(names, values, stamps, strict=True))
    print(f"{n:,} samples, {len(ENDPOINTS)} endpoints, spread over 5 minutes\n")

    def empty() -> None:
        for _name, _ms, _ts in rows:
            pass

    gc.collect()
    start = time.perf_counter_ns()
    empty()
    empty_ns = (time.perf_counter_ns() - start) / n

    clock = [T0 + 300.0]
    monitor = Monitor(":memory:", clock=lambda: clock[0], start_flusher=False)
    record = monitor.record_request
    python_lane = Monitor(
        ":memory:", clock=lambda: clock[0], start_flusher=False, settings=Settings(accelerate=False)
    )

    def ours() -> None:
        for name, ms, ts in rows:
            record(name, "GET", 200, ms, None, None, ts)

    def ours_python() -> None:
        record_py = python_lane.record_request
        for name, ms, ts in rows:
            record_py(name, "GET", 200, ms, None, None, ts)

    registry = CollectorRegistry()
    labels = ["endpoint", "method", "status"]
    histogram = Histogram("latency_seconds", "", labels, registry=registry)

    def prometheus() -> None:
        for name, ms, _ts in rows:
            histogram.labels(name, "GET", "200").observe(ms / 1000)

    sketch = DDSketch(relative_accuracy=0.01)

    def ddsketch() -> None:
        for _name, ms, _ts in rows:
            sketch.add(ms)

    lane = "compiled lane" if monitor.accelerated else "Python lane: _accel not built"
    print("record cost (loop overhead subtracted):")
    ours_ns = timed(f"perf-mcp Monitor.record_request ({lane})", ours, n, empty_ns)
    py_ns = timed("perf-mcp Monitor.record_request (Python lane)", ours_python, n, empty_ns)
    prom_ns = timed("prometheus_client Histogram.labels().observe", prometheus, n, empty_ns)
    dd_ns = timed("ddsketch DDSketch.add (one sketch, no labels)", ddsketch, n, empty_ns)
    print(f"  ratio perf-mcp / prometheus_client: {ours_ns / prom_ns:.2f} (target <= 0.25)")
    print(f"  ratio Python lane / prometheus_client: {py_ns / prom_ns:.2f}")
    print(f"  ratio perf-mcp / DDSketch.add:      {ours_ns / dd_ns:.2f}\n")
    python_lane.close()

    start = time.perf_counter()
    stats = monitor.get_endpoint_stats(window="5m", limit=500)
    query_ms = (time.perf_counter() - start) * 1000
    assert sum(r.count for r in stats.endpoints) == n
    print(
        f"flush + merge + quantiles of a 5-minute window ({len(stats.endpoints)} endpoints): "
        f"{query_ms:.1f} ms"
    )
    record(ENDPOINTS[0], "GET", 200, 20.0, None, None, T0 + 299)  # the store changes
    start = time.perf_counter()
    monitor.get_endpoint_stats(window="5m", limit=500)
    again_ms = (time.perf_counter() - start) * 1000
    print(f"after one more record (merge + quantiles, a one-row flush): {again_ms:.1f} ms")
    start = time.perf_counter()
    monitor.get_endpoint_stats(window="5m", limit=500)
    cached_ms = (time.perf_counter() - start) * 1000
    print(f"the same query, store unchanged (the answer is reused): {cached_ms:.2f} ms\n")

    plan = plan_window(T0, None, now=clock[0], retention_s=monitor.settings.retention_s)
    (total,) = monitor.storage.request_series(plan, totals=True)
    monitor.storage.fill_histograms("request_buckets", plan, [total])
    ours_q = total.acc.hist.quantiles(QUANTILES)

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
