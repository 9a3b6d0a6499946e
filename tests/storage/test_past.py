"""Many windows in one statement: the same sums, histogram rows and resource means as reading
each window on its own."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from perf_mcp import Monitor
from perf_mcp.core.sketch import LogHistogram
from perf_mcp.core.window import plan_window
from perf_mcp.storage import Storage

T0 = 1_800_000_000
HOUR = 3600


def fill(monitor: Monitor) -> None:
    """Three hours of two endpoints and an agent, a few records every 10 s, and CPU samples."""
    rng = random.Random(5)
    for ts in range(T0, T0 + 3 * HOUR, 10):
        for endpoint in ("/a", "/b"):
            for _ in range(rng.randrange(1, 4)):
                status = rng.choice([200, 200, 500])
                monitor.record_request(
                    endpoint, "GET", status, rng.lognormvariate(3, 1), timestamp=ts
                )
        monitor.record_agent_run(
            agent_name="triage", duration_ms=50.0, success=rng.random() > 0.2, end_time=ts + 5
        )
        if ts % 60 == 0:
            monitor.add_resource_sample(ts, json.dumps({"cpu_percent": rng.uniform(0, 100)}))
    monitor.flush()


def test_windows_read_together_match_windows_read_one_by_one(db_path: Path) -> None:
    end = T0 + 3 * HOUR
    with Monitor(db_path, clock=lambda: end, start_flusher=False) as monitor:
        fill(monitor)
        storage = monitor.storage
        spans = [(end - k * 1800, end - (k - 1) * 1800) for k in range(1, 7)]
        plans = [plan_window(lo, hi, now=end, retention_s={}) for lo, hi in spans]
        requests = storage.series_ids("request")
        together = storage.sums_by_window("request_buckets", plans, requests)
        runs = storage.series_ids("agent")
        run_sums = storage.sums_by_window("run_buckets", plans, runs)
        means = storage.resource_means_by_window(spans, ("cpu_percent",))
        for k, (span, plan) in enumerate(zip(spans, plans, strict=True)):
            alone = {s.series_id: s.acc for s in storage.request_series(plan, ids=requests)}
            assert {
                sid: (w.count, w.errors, w.total_ms)
                for (window, sid), w in together.items()
                if window == k
            } == {
                sid: (acc.count, acc.status[5], pytest.approx(acc.sum_ms))
                for sid, acc in alone.items()
            }
            for sid, hist in storage.histograms("request_buckets", plan, requests).items():
                assert LogHistogram.merged(together[k, sid].hists) == hist
            [agent] = storage.run_series("agent", plan, ids=runs)
            window_sums = run_sums[k, agent.series_id]
            acc = agent.acc
            assert (window_sums.count, window_sums.errors) == (acc.count, acc.failures)
            assert window_sums.tokens == acc.input_tokens + acc.output_tokens
            assert window_sums.cost_usd == pytest.approx(acc.cost_usd)
            assert means[k] == storage.resource_means(*span, ("cpu_percent",))


def test_nothing_to_read_is_empty_windows(db_path: Path) -> None:
    with Storage(db_path) as storage:
        plans = [plan_window(T0, T0 + HOUR, now=T0 + HOUR, retention_s={})]
        assert storage.sums_by_window("request_buckets", plans, {}) == {}
        assert storage.sums_by_window("run_buckets", plans, [1, 2]) == {}
        with pytest.raises(ValueError, match="no bucket table 'series'"):
            storage.sums_by_window("series", plans, [1])
        assert storage.resource_means_by_window([(T0, T0 + 60)], ("cpu_percent",)) == [
            ({"cpu_percent": None}, 0)
        ]
