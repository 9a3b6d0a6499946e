"""explain over generated histories (fake clock, fixed seeds): a spike is named, quiet is quiet."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from perf_mcp import Monitor
from perf_mcp.core.compare import QUANTILES
from perf_mcp.core.sketch import LogHistogram
from perf_mcp.query.explain import PAST_WINDOWS, PastQuantiles
from perf_mcp.storage.past import WindowSums

T0 = 1_800_000_000.0
QS = list(QUANTILES.values())
HOUR = 3600.0
END = T0 + (PAST_WINDOWS + 1) * HOUR


@pytest.fixture
def history(db_path: Path) -> Iterator[tuple[Monitor, list[float]]]:
    """Thirteen steady hours of /search, /cart and CPU; the test may change the last one."""
    clock = [T0]
    with Monitor(db_path, clock=lambda: clock[0], start_flusher=False) as monitor:
        yield monitor, clock


def fill(monitor: Monitor, clock: list[float], spike: bool) -> None:
    rng = random.Random(3)
    ts = T0
    while ts < END:
        clock[0] = ts
        late = spike and ts >= END - HOUR
        for endpoint in ("/search", "/cart"):
            ms = rng.lognormvariate(4.0, 0.3) * (4 if late and endpoint == "/search" else 1)
            monitor.record_request(endpoint, "GET", 200, ms, timestamp=ts)
        if ts % 60 == 0:
            cpu = 85.0 + rng.uniform(-3, 3) if late else 20.0 + rng.uniform(-3, 3)
            monitor.add_resource_sample(ts, json.dumps({"cpu_percent": cpu}))
        if ts % 600 == 0:
            monitor.flush()
        ts += 2.0
    clock[0] = END
    monitor.flush()


def test_names_a_latency_spike_and_the_cpu_spike_beside_it(
    history: tuple[Monitor, list[float]],
) -> None:
    monitor, clock = history
    fill(monitor, clock, spike=True)
    answer = monitor.explain("1h")
    found = {(f.name, f.metric): f for f in answer.findings}
    assert set(found) == {
        ("GET /search", "p50_ms"),
        ("GET /search", "p95_ms"),
        ("GET /search", "p99_ms"),
        ("cpu_percent", "mean"),
    }
    assert found["GET /search", "p95_ms"].ratio == pytest.approx(4.0, rel=0.1)
    assert found["GET /search", "p95_ms"].next == (
        'get_endpoint_stats(endpoint="/search", method="GET")'
    )
    assert found["cpu_percent", "mean"].now == pytest.approx(85.0, abs=1.0)
    assert found["cpu_percent", "mean"].median == pytest.approx(20.0, abs=1.0)
    assert answer.past_windows == PAST_WINDOWS
    about_cpu = monitor.explain("1h", subject="cpu_percent")
    assert about_cpu.findings[0].name == "cpu_percent"


def test_is_quiet_on_a_steady_history(history: tuple[Monitor, list[float]]) -> None:
    monitor, clock = history
    fill(monitor, clock, spike=False)
    assert monitor.explain("1h").findings == []


def test_late_records_in_past_windows_are_read_again(
    history: tuple[Monitor, list[float]],
) -> None:
    monitor, clock = history
    fill(monitor, clock, spike=True)
    assert ("GET /search", "p95_ms") in {(f.name, f.metric) for f in monitor.explain("1h").findings}
    # Late records make /search as slow in 8 of the 12 past hours as it is now: its past
    # windows' metrics are merged again, and the spike is no longer an anomaly.
    rng = random.Random(4)
    for hour in range(1, 9):
        start = END - (hour + 1) * HOUR
        monitor.record_requests(
            [
                {"endpoint": "/search", "method": "GET", "status_code": 200,
                 "duration_ms": rng.lognormvariate(4.0, 0.3) * 4, "timestamp": start + i * 2}
                for i in range(1800)
            ]
        )  # fmt: skip
    found = {(f.name, f.metric) for f in monitor.explain("1h").findings}
    assert ("GET /search", "p95_ms") not in found


def test_past_quantiles_are_kept_while_the_sums_stay_the_same() -> None:
    fast, slow = LogHistogram(), LogHistogram()
    fast.add(10.0, 60)
    slow.add(40.0, 60)
    sums = WindowSums(count=60, total_ms=600.0, hists=[fast.to_bytes()])
    kept = PastQuantiles(max_entries=2)
    window = ("request_buckets", 0.0, 3600.0)  # the table and the window's span
    assert kept.get((*window, 1), sums) == fast.quantiles(QS)
    sums.hists = [slow.to_bytes()]  # not decoded again while the sums are the same
    assert kept.get((*window, 1), sums) == fast.quantiles(QS)
    sums.total_ms += 5.0  # a late record: the window's sums moved
    assert kept.get((*window, 1), sums) == slow.quantiles(QS)
    for sid in (2, 3):  # the oldest entry goes past max_entries
        kept.get((*window, sid), sums)
    sums.hists = [fast.to_bytes()]
    assert kept.get((*window, 1), sums) == fast.quantiles(QS)
