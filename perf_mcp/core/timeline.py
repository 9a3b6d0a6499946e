"""A window split into points for a chart: the grid, the rows that fill it, the points.

The grid's step is a multiple of the 10 s bucket, so each point is covered by whole stored rows
(``plan_window`` per point), and all points' rows are read in one query: the union of their
plans. A row lands in the point holding its start.

>>> g = grid(300, now=1005)
>>> g.step_s, g.points, g.start, g.end
(10, 30, 710, 1010)
>>> g.index(1004), g.index(700)
(29, 0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from perf_mcp.core.sketch import LogHistogram
from perf_mcp.core.stats import SUMMARY_QUANTILES, percentiles, rate
from perf_mcp.core.window import TierRange, bucket_start, plan_window

MAX_POINTS = 120
# Steps a chart may take: multiples of 10 s, each dividing the next tier where it can.
STEPS = (10, 60, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
TimelineKind = Literal["request", "agent", "tool"]


@dataclass(frozen=True)
class Grid:
    """``points`` points of ``step_s`` seconds from ``start`` (a multiple of the step)."""

    start: int
    step_s: int
    points: int

    @property
    def end(self) -> int:
        return self.start + self.step_s * self.points

    def index(self, ts: float) -> int:
        """The point holding ``ts`` (rows from before the grid go to the first point)."""
        return min(max(int(ts - self.start) // self.step_s, 0), self.points - 1)

    def plan(self, now: float, retention_s: Mapping[int, float]) -> list[TierRange]:
        """The rows covering every point, each row once: the union of the points' plans."""
        by_tier: dict[int, list[tuple[int, int]]] = {}
        for i in range(self.points):
            lo = self.start + i * self.step_s
            for r in plan_window(lo, lo + self.step_s, now=now, retention_s=retention_s):
                by_tier.setdefault(r.tier_s, []).append((r.start, r.end))
        merged: list[TierRange] = []
        for tier, spans in by_tier.items():
            spans.sort()
            lo, hi = spans[0]
            for s, e in spans[1:]:
                if s > hi:
                    merged.append(TierRange(tier, lo, hi))
                    lo = s
                hi = max(hi, e)
            merged.append(TierRange(tier, lo, hi))
        return sorted(merged, key=lambda r: (r.start, r.tier_s))


def grid(window_s: int, now: float, max_points: int = MAX_POINTS) -> Grid:
    """The grid of a window ending with the point that holds ``now``: the smallest step
    giving at most ``max_points`` points."""
    step = next((s for s in STEPS if window_s <= s * max_points), STEPS[-1])
    points = -(-window_s // step)
    end = bucket_start(now, step) + step
    return Grid(start=end - points * step, step_s=step, points=points)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimelinePoint(_Model):
    """One point of a chart: what ended in ``[start, start + step_s)``."""

    start: int = Field(description="Unix seconds.")
    count: int
    per_s: float = Field(description="count / step_s.")
    errors: int = Field(description="5xx responses, or failed runs / calls.")
    error_rate: float | None = Field(description="errors / count, 0..1; null without data.")
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class Timeline(_Model):
    """A window split into points, oldest first."""

    kind: TimelineKind
    name: str | None = Field(description="The endpoint, agent or tool; null for all of them.")
    method: str | None = None
    window: str
    step_s: int
    start: int
    end: int
    points: list[TimelinePoint]


def timeline_points(g: Grid, rows: Iterable[tuple[int, int, bytes]]) -> list[TimelinePoint]:
    """The points of ``g`` from stored rows as (row start, errors, encoded histogram)."""
    hists: list[list[bytes]] = [[] for _ in range(g.points)]
    errors = [0] * g.points
    for ts, errs, hist in rows:
        i = g.index(ts)
        hists[i].append(hist)
        errors[i] += errs
    points = []
    for i, group in enumerate(hists):
        h = LogHistogram.merged(group)
        points.append(
            TimelinePoint(
                start=g.start + i * g.step_s,
                count=h.count,
                per_s=h.count / g.step_s,
                errors=errors[i],
                error_rate=rate(errors[i], h.count),
                **percentiles(h, SUMMARY_QUANTILES),
            )
        )
    return points


def mean_points(
    g: Grid, samples: Iterable[tuple[float, Sequence[float | None]]], width: int
) -> list[list[float | None]]:
    """Per point, the mean of each of ``width`` values over the samples in it (None where
    no sample had that value)."""
    sums = [[0.0] * width for _ in range(g.points)]
    counts = [[0] * width for _ in range(g.points)]
    for ts, values in samples:
        if not g.start <= ts < g.end:
            continue
        i = g.index(ts)
        for j, value in enumerate(values):
            if value is not None and math.isfinite(value):
                sums[i][j] += value
                counts[i][j] += 1
    return [
        [s / n if n else None for s, n in zip(row_sums, row_counts, strict=True)]
        for row_sums, row_counts in zip(sums, counts, strict=True)
    ]
