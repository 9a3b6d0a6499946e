"""Summaries of stored resource samples for ``get_resource_usage``: min/mean/max/p95 per metric."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from perf_mcp.core.stats import nearest_rank
from perf_mcp.resources.models import Answer, ProcessUsage, ResourceSample


class MetricStats(Answer):
    """One metric over a window of samples."""

    last: float
    min: float
    mean: float
    max: float
    p95: float
    samples: int


class ResourceSummary(Answer):
    """The latest sample plus min/mean/max/p95 of each numeric metric over the window."""

    samples: int = Field(description="Samples the stats rest on.")
    latest: ResourceSample | None
    stats: dict[str, MetricStats] = Field(
        description="Metric name -> stats; process_* metrics are this server's own process."
    )
    first_at: float | None = Field(default=None, description="The oldest sample, Unix seconds.")
    last_at: float | None = Field(default=None, description="The newest sample, Unix seconds.")
    window: str | None = None
    interval_s: float | None = Field(
        default=None, description="Seconds between samples; None when no sampler runs here."
    )
    spread: bool = Field(
        default=False,
        description="True when the window held more samples than were read: "
        "the stats rest on samples spread evenly over it.",
    )
    note: str = ""


SUMMARY_METRICS: tuple[str, ...] = (
    "cpu_percent",
    "memory_percent",
    "swap_percent",
    "load_1",
    "disk_read_bytes_per_s",
    "disk_write_bytes_per_s",
    "net_sent_bytes_per_s",
    "net_recv_bytes_per_s",
    "process_cpu_percent",
    "process_rss_bytes",
)


def summarize(samples: Sequence[ResourceSample], pid: int | None = None) -> ResourceSummary:
    """Summarize samples (any order) for ``get_resource_usage``: unavailable values are skipped.

    ``process_*`` metrics come from the process ``pid`` (default: each sample's first, the
    process that took it), so samples several servers stored in one file do not mix.
    """
    ordered = sorted(samples, key=lambda s: s.timestamp)
    series: dict[str, list[float]] = {name: [] for name in SUMMARY_METRICS}
    for sample in ordered:
        own = _process(sample, pid)
        values: dict[str, float | int | None] = {
            name: getattr(sample, name)
            for name in SUMMARY_METRICS
            if not name.startswith("process_")
        }
        values["process_cpu_percent"] = own.cpu_percent if own else None
        values["process_rss_bytes"] = own.rss_bytes if own else None
        for name, value in values.items():
            if value is not None:
                series[name].append(float(value))
    stats = {name: _stats(values) for name, values in series.items() if values}
    return ResourceSummary(
        samples=len(ordered),
        latest=ordered[-1] if ordered else None,
        stats=stats,
        first_at=ordered[0].timestamp if ordered else None,
        last_at=ordered[-1].timestamp if ordered else None,
    )


def _process(sample: ResourceSample, pid: int | None) -> ProcessUsage | None:
    if pid is None:
        return sample.processes[0] if sample.processes else None
    return next((p for p in sample.processes if p.pid == pid), None)


def _stats(values: list[float]) -> MetricStats:
    ordered = sorted(values)
    return MetricStats(
        last=values[-1],
        min=ordered[0],
        mean=sum(values) / len(values),
        max=ordered[-1],
        p95=ordered[nearest_rank(len(ordered), 0.95)],
        samples=len(values),
    )
