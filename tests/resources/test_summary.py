"""Summaries of resource samples: min/mean/max/p95 per metric against exact answers."""

from __future__ import annotations

from perf_mcp.resources import ResourceSample, summarize


def test_summarize_gives_latest_and_min_mean_max_p95_skipping_unavailable() -> None:
    samples = [
        ResourceSample(timestamp=float(t), cpu_percent=float(t * 10), memory_percent=50.0)
        for t in range(1, 11)
    ]
    samples.append(
        ResourceSample(timestamp=11.0, memory_percent=70.0, unavailable={"cpu_percent": "x"})
    )
    summary = summarize(list(reversed(samples)))
    assert summary.samples == 11
    assert summary.latest is not None
    assert summary.latest.timestamp == 11.0
    cpu = summary.stats["cpu_percent"]
    assert (cpu.last, cpu.min, cpu.mean, cpu.max, cpu.p95, cpu.samples) == (
        100,
        10,
        55,
        100,
        100,
        10,
    )
    assert summary.stats["memory_percent"].last == 70
    assert "load_1" not in summary.stats
    assert summarize([]).latest is None


def test_p95_of_two_samples_is_the_higher_one() -> None:
    samples = [
        ResourceSample(timestamp=1.0, cpu_percent=1.0),
        ResourceSample(timestamp=2.0, cpu_percent=2.0),
    ]
    assert summarize(samples).stats["cpu_percent"].p95 == 2
