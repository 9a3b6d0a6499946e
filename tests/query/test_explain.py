"""explain over generated histories (fake clock, fixed seeds): a spike is named, quiet is quiet."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from perf_mcp import Monitor
from perf_mcp.query.explain import PAST_WINDOWS

T0 = 1_800_000_000.0
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
