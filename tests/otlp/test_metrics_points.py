"""Histogram points: cumulative to delta with resets, bounded streams, samples that keep
counts, min, max and buckets."""

from __future__ import annotations

from dataclasses import replace

from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
)

from perf_mcp.core.sketch import LogHistogram, position
from perf_mcp.otlp.metrics_points import (
    Point,
    Streams,
    durations,
    explicit_point,
    exponential_point,
    histogram,
    minus,
)

START = 1_000


def exp_point(counts: dict[int, int], scale: int = 6, start: int = START, zero: int = 0) -> Point:
    return Point(
        start, start + 10, zero + sum(counts.values()), 1.0, None, None, scale, zero, counts
    )


def test_a_cumulative_point_minus_the_last_is_what_was_added() -> None:
    before = exp_point({-300: 2, -299: 1}, zero=1)
    delta = minus(exp_point({-300: 5, -299: 1, -298: 4}, zero=3), before)
    assert delta is not None
    assert (delta.count, delta.buckets, delta.zero) == (9, {-300: 3, -298: 4}, 2)
    assert (delta.min, delta.max) == (None, None)  # the stream's, not the delta's


def test_a_stream_that_lowered_its_scale_subtracts_at_the_new_scale() -> None:
    """The SDK downscales a stream as its range grows: the last point is downscaled too."""
    before = exp_point({-300: 2, -299: 1})  # scale 6: both in scale-5 bucket -150
    now = exp_point({-150: 4, -149: 1}, scale=5)
    delta = minus(now, before)
    assert delta is not None
    assert (delta.scale, delta.buckets, delta.count) == (5, {-150: 1, -149: 1}, 2)


def test_resets_are_a_new_start_a_lower_count_or_a_shrunk_bucket() -> None:
    before = exp_point({-300: 2, -299: 1})
    assert minus(exp_point({-300: 5}, start=START + 1), before) is None
    assert minus(exp_point({-300: 2}), before) is None  # fewer in all
    assert minus(exp_point({-300: 1, -298: 9}), before) is None  # more in all, one bucket less
    assert minus(exp_point({-600: 9}, scale=7), before) is None  # a finer scale: a new stream


def test_streams_count_a_new_stream_whole_and_an_older_one_from_its_second_point() -> None:
    streams = Streams(listening_since_ns=START)
    young, old = exp_point({-300: 2}), exp_point({-300: 2}, start=START - 1)
    assert streams.delta("young", young) == young
    assert streams.delta("old", old) is None  # its counts began before the server listened
    grown = streams.delta("old", replace(old, count=5, buckets={-300: 5}))
    assert grown is not None
    assert grown.count == 3
    restarted = exp_point({-299: 1}, start=START + 50)
    assert streams.delta("old", restarted) == restarted


def test_streams_are_bounded_forgetting_the_least_recently_seen() -> None:
    streams = Streams(listening_since_ns=START + 1, limit=2)
    points = {name: exp_point({-300: 1}) for name in "abc"}
    for name, point in points.items():
        assert streams.delta(name, point) is None  # all older than the server
    assert streams.delta("a", replace(points["a"], count=2, buckets={-300: 2})) is None
    assert streams.delta("c", replace(points["c"], count=2, buckets={-300: 2})) is not None


def test_samples_keep_count_min_max_and_every_bucket() -> None:
    point = Point(START, START + 10, 7, 0.5, 0.0, 0.9, 6, 1, {-420: 2, -300: 3, -10: 1})
    h = histogram(point, 1000.0)
    values = durations(h)
    assert len(values) == h.count == 7
    assert (values[0], values[-1]) == (0.0, 900.0)  # the zero bucket, then the exact max
    again = LogHistogram()
    for v in values:
        again.add(v)
    assert again.bins == h.bins


def test_explicit_buckets_stand_at_their_log_midpoints_within_min_and_max() -> None:
    raw = HistogramDataPoint(
        start_time_unix_nano=START, time_unix_nano=START + 10, count=6, sum=0.3,
        explicit_bounds=[0.01, 0.1, 1.0], bucket_counts=[1, 2, 0, 3], min=0.004, max=2.5,
    )  # fmt: skip
    point = explicit_point(raw)
    assert isinstance(point, Point)
    values = durations(histogram(point, 1000.0))
    assert values[0] == 4.0
    assert values[-1] == 2500.0
    assert position(values[1]) == position((10 * 100) ** 0.5)  # (10, 100] ms: ~31.6 ms
    assert [position(v) for v in values[3:5]] == [position((1000 * 2500) ** 0.5)] * 2  # (1 s, max]


def test_points_that_cannot_be_durations_say_why() -> None:
    negative = ExponentialHistogramDataPoint(count=1, scale=6)
    negative.negative.bucket_counts.append(1)
    assert "negative values" in str(exponential_point(negative))
    short = ExponentialHistogramDataPoint(count=2, scale=6)
    short.positive.bucket_counts.append(1)
    assert "do not add up" in str(exponential_point(short))
    unordered = HistogramDataPoint(count=1, explicit_bounds=[2.0, 1.0], bucket_counts=[1, 0, 0])
    assert "finite and increasing" in str(explicit_point(unordered))
    mismatched = HistogramDataPoint(count=1, explicit_bounds=[1.0], bucket_counts=[1])
    assert "do not match" in str(explicit_point(mismatched))
