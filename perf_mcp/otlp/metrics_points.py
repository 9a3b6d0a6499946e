"""OTLP histogram data points to perf-mcp histograms: exponential and explicit buckets, delta
and cumulative temporality (and monotonic counters' points, for token counts).

A cumulative stream becomes deltas against its previous point (``Streams``, bounded); a new
``start_time_unix_nano``, a lower count or a bucket that shrank is a reset, and the point then
counts whole. The first point of a stream counts whole when the stream started while perf-mcp
listened, and is only the baseline otherwise (its counts began before perf-mcp could see them).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, replace

from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    NumberDataPoint,
)

from perf_mcp.core.sketch import MS_PER_S, LogHistogram, representative

MAX_STREAMS = 10_000  # cumulative streams remembered; the least recently seen go first
MAX_BUCKETS = 4096  # of one point (the SDK sends 160 at most by default)


@dataclass(frozen=True)
class Point:
    """One histogram point in the point's unit: ``scale`` None for explicit buckets, whose
    ``buckets`` are keyed by bucket number and bounded by ``bounds``; else keyed by index."""

    start_ns: int
    time_ns: int
    count: int
    sum: float
    min: float | None  # None: unknown (not sent, or a delta of cumulative points)
    max: float | None
    scale: int | None
    zero: int
    buckets: dict[int, int]
    bounds: tuple[float, ...] = ()


def exponential_point(p: ExponentialHistogramDataPoint) -> Point | str:
    """The point, or why it cannot be used."""
    counts = p.positive.bucket_counts
    if len(counts) > MAX_BUCKETS:
        return f"exponential histogram point with over {MAX_BUCKETS} buckets"
    if any(p.negative.bucket_counts):
        return "exponential histogram point with negative values (a duration is >= 0)"
    if not -10 <= p.scale <= 20:
        return f"exponential histogram point of scale {p.scale} (OTLP allows -10 to 20)"
    buckets = {p.positive.offset + k: n for k, n in enumerate(counts) if n}
    if p.zero_count + sum(buckets.values()) != p.count:
        return "exponential histogram point whose buckets do not add up to its count"
    return _histogram_point(p, p.scale, p.zero_count, buckets)


def explicit_point(p: HistogramDataPoint) -> Point | str:
    """The point, or why it cannot be used."""
    bounds = tuple(p.explicit_bounds)
    if len(bounds) > MAX_BUCKETS or len(p.bucket_counts) != len(bounds) + 1:
        return "histogram point whose bucket counts do not match its bounds"
    if any(not math.isfinite(b) for b in bounds) or list(bounds) != sorted(set(bounds)):
        return "histogram point whose bounds are not finite and increasing"
    if sum(p.bucket_counts) != p.count:
        return "histogram point whose buckets do not add up to its count"
    buckets = {k: n for k, n in enumerate(p.bucket_counts) if n}
    return _histogram_point(p, None, 0, buckets, bounds)


def _histogram_point(
    p: ExponentialHistogramDataPoint | HistogramDataPoint,
    scale: int | None,
    zero: int,
    buckets: dict[int, int],
    bounds: tuple[float, ...] = (),
) -> Point:
    """A Point of ``p``'s times, count, sum, min and max (when sent), with these buckets."""
    low = p.min if p.HasField("min") else None
    high = p.max if p.HasField("max") else None
    return Point(
        p.start_time_unix_nano, p.time_unix_nano, p.count, p.sum, low, high, scale, zero, buckets,
        bounds,
    )  # fmt: skip


def sum_point(p: NumberDataPoint) -> Point | str:
    """A monotonic counter's point as a Point without buckets, its value the count and sum:
    a cumulative stream's deltas and resets then work as for histograms. Or why it cannot."""
    value = p.as_int if p.WhichOneof("value") == "as_int" else p.as_double
    if not math.isfinite(value) or value < 0:
        return "counter point whose value is negative or not finite"
    return Point(
        p.start_time_unix_nano, p.time_unix_nano, round(value), value, None, None, None, 0, {}
    )


def minus(current: Point, previous: Point) -> Point | None:
    """What ``current`` added since ``previous`` of the same cumulative stream; None when the
    stream was reset in between."""
    if current.start_ns != previous.start_ns or current.count < previous.count:
        return None
    before = previous.buckets
    if current.scale is None or previous.scale is None:
        if current.bounds != previous.bounds or current.scale != previous.scale:
            return None
    elif previous.scale >= current.scale:  # the SDK only ever lowers a stream's scale
        shift, before = previous.scale - current.scale, {}
        for index, n in previous.buckets.items():
            before[index >> shift] = before.get(index >> shift, 0) + n
    else:
        return None
    added = {k: n - before.get(k, 0) for k, n in current.buckets.items()}
    zero = current.zero - previous.zero
    if zero < 0 or any(n < 0 for n in added.values()) or not before.keys() <= added.keys():
        return None
    return replace(
        current,
        count=current.count - previous.count,
        sum=current.sum - previous.sum,
        min=None,
        max=None,
        zero=zero,
        buckets={k: n for k, n in added.items() if n},
    )


class Streams:
    """The last point of each cumulative stream, at most ``limit``, behind one lock."""

    def __init__(self, listening_since_ns: int, limit: int = MAX_STREAMS) -> None:
        self.listening_since_ns = listening_since_ns
        self.limit = limit
        self._last: OrderedDict[Hashable, Point] = OrderedDict()
        self._lock = threading.Lock()

    def delta(self, key: Hashable, point: Point) -> Point | None:
        """What ``point`` adds to its stream; None: it is only the stream's baseline."""
        with self._lock:
            previous = self._last.pop(key, None)
            self._last[key] = point
            if len(self._last) > self.limit:
                self._last.popitem(last=False)
        if previous is None:
            return point if point.start_ns >= self.listening_since_ns else None
        return minus(point, previous) or point


def histogram(point: Point, ms_per_unit: float) -> LogHistogram:
    """The point's samples in a LogHistogram (milliseconds). Scale-6 or finer buckets of
    seconds come over exactly; coarser ones within ``coarse_error``; other units and explicit
    buckets by each bucket's log midpoint, clamped to the point's min and max."""
    low = None if point.min is None else point.min * ms_per_unit
    high = None if point.max is None else point.max * ms_per_unit
    if point.scale is not None and ms_per_unit == MS_PER_S:
        lo = min(point.buckets, default=0)
        counts = [point.buckets.get(i, 0) for i in range(lo, max(point.buckets, default=-1) + 1)]
        return LogHistogram.from_exponential(point.scale, point.zero, lo, counts, low, high)
    h = LogHistogram()
    if point.zero:
        h.add(0.0, point.zero)
    for key, n in point.buckets.items():
        lower, upper = (edge * ms_per_unit for edge in _edges(point, key))
        if low is not None:
            lower, upper = max(lower, low), max(upper, low)
        if high is not None:
            lower, upper = min(lower, high), min(upper, high)
        h.add(_midpoint(lower, upper), n)
    if h.count:
        h.min, h.max = (h.min if low is None else low), (h.max if high is None else high)
    return h


def durations(h: LogHistogram) -> list[float]:
    """One value per sample (ms): each bucket's representative, clamped to [min, max], with
    the lowest one the exact min and the highest the exact max; each stays in its bucket."""
    values: list[float] = []
    for pos in sorted(h.bins):
        values.extend([min(max(representative(pos), h.min), h.max)] * h.bins[pos])
    if values:
        values[0], values[-1] = h.min, h.max
    return values


def _edges(point: Point, key: int) -> tuple[float, float]:
    """Bucket ``key``'s lower and upper edge in the point's unit (0 and inf stand open ends)."""
    if point.scale is not None:
        width = 2.0**-point.scale
        return math.pow(2.0, key * width), math.pow(2.0, (key + 1) * width)
    bounds = point.bounds
    lower = max(bounds[key - 1], 0.0) if key else 0.0
    return lower, bounds[key] if key < len(bounds) else math.inf


def _midpoint(lower: float, upper: float) -> float:
    """A value to stand for (lower, upper]: the log midpoint, or what an open end allows."""
    if upper == math.inf:
        return lower
    if lower <= 0.0:
        return max(upper / 2, 0.0)
    return math.sqrt(lower * upper)
