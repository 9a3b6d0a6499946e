"""LogHistogram: OTel scale-6 buckets, 0.54% quantiles against the exact answer and ddsketch,
merging, encoding, OTLP exponential points of every scale."""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Sequence
from fractions import Fraction
from itertools import pairwise

import pytest
from ddsketch import DDSketch
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View

from perf_mcp.core.sketch import (
    MAX_VALUE,
    MIN_VALUE,
    MS_PER_S,
    RELATIVE_ACCURACY,
    SCALE,
    SIZE,
    LogHistogram,
    coarse_error,
    index,
    index_of,
    position,
    position_of,
    representative,
    upper_bound,
)

TOLERANCE = RELATIVE_ACCURACY * (1 + 1e-9)
HOUR_MS = 3.6e6
# The encoding starts with: version, kind, lowest bucket, item count, count, min, max.
HEADER = struct.Struct("<BBHHQdd")
SPARSE, DENSE64, DENSE32, SPARSE64, DENSE16 = 1, 2, 3, 4, 5
SPARSE_MAX_BUCKETS = 24

# ---------------------------------------------------------------- data

uniform = st.floats(min_value=MIN_VALUE, max_value=HOUR_MS)
log_uniform = st.floats(min_value=math.log(MIN_VALUE), max_value=math.log(MAX_VALUE)).map(
    lambda e: min(max(math.exp(e), MIN_VALUE), MAX_VALUE)
)
in_range = st.one_of(uniform, log_uniform)


@st.composite
def lognormal_samples(draw: st.DrawFn) -> list[float]:
    """Heavy-tailed latencies: most fast, a few orders of magnitude slower."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    mu, sigma = draw(st.floats(-2.0, 8.0)), draw(st.floats(0.1, 3.0))
    n = draw(st.integers(1, 400))
    return [min(max(rng.lognormvariate(mu, sigma), MIN_VALUE), MAX_VALUE) for _ in range(n)]


with_zeros = st.lists(st.one_of(st.just(0.0), in_range), min_size=1, max_size=200)
duplicates = st.lists(in_range, min_size=1, max_size=4).flatmap(
    lambda pool: st.lists(st.sampled_from(pool), min_size=1, max_size=200)
)
samples = st.one_of(
    lognormal_samples(),
    st.lists(uniform, min_size=1, max_size=200),
    st.lists(log_uniform, min_size=1, max_size=200),
    with_zeros,
    duplicates,
    st.lists(st.just(0.0), min_size=1, max_size=20),
)
quantile_qs = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6).map(
    lambda qs: [*qs, 0.0, 0.5, 0.95, 0.99, 1.0]
)


def histogram(values: Sequence[float]) -> LogHistogram:
    h = LogHistogram()
    for v in values:
        h.add(v)
    return h


def exact_quantile(values: Sequence[float], q: float) -> float:
    return sorted(values)[max(math.ceil(q * len(values) - 1e-9) - 1, 0)]


def assert_within_accuracy(got: float | None, exact: float) -> None:
    assert got is not None
    if exact == 0:
        assert got == 0
    else:
        assert abs(got - exact) <= TOLERANCE * exact, (got, exact)


@st.composite
def bucket_histograms(draw: st.DrawFn, min_buckets: int, max_buckets: int) -> LogHistogram:
    """A histogram filling exactly the drawn buckets, with counts up to 2**40."""
    positions = draw(st.sets(st.integers(0, SIZE - 1), min_size=min_buckets, max_size=max_buckets))
    h = LogHistogram()
    for pos in positions:
        h.add(representative(pos), draw(st.integers(1, 2**40)))
    assert len(h.bins) == len(positions)
    return h


sparse_histograms = bucket_histograms(0, SPARSE_MAX_BUCKETS)
dense_histograms = bucket_histograms(SPARSE_MAX_BUCKETS + 1, 120)
any_histograms = st.one_of(
    sparse_histograms, dense_histograms, samples.map(histogram), st.just(LogHistogram())
)


# ---------------------------------------------------------------- accuracy


@settings(max_examples=300, deadline=None)
@given(values=samples, qs=quantile_qs)
def test_quantiles_are_within_one_percent_of_exact(values: list[float], qs: list[float]) -> None:
    h = histogram(values)
    for q, got in zip(qs, h.quantiles(qs), strict=True):
        assert_within_accuracy(got, exact_quantile(values, q))
        assert got == h.quantile(q)


@settings(max_examples=100, deadline=None)
@given(values=samples, qs=quantile_qs)
def test_agrees_with_ddsketch(values: list[float], qs: list[float]) -> None:
    ours, oracle = histogram(values), DDSketch(relative_accuracy=RELATIVE_ACCURACY)
    for v in values:
        oracle.add(v)
    for q in qs:
        # DDSketch answers the lower rank floor(q * (n - 1)); we answer the nearest rank.
        lower_rank = sorted(values)[int(q * (len(values) - 1))]
        assert_within_accuracy(ours.quantile(q), exact_quantile(values, q))
        assert_within_accuracy(oracle.get_quantile_value(q), lower_rank)


def test_bucket_edges_keep_the_accuracy() -> None:
    """Every bucket edge and its float neighbours, away from the min/max clamp."""
    for k in range(SIZE - 1):
        edge = upper_bound(k)
        for value in (math.nextafter(edge, 0), edge, math.nextafter(edge, math.inf)):
            if not MIN_VALUE <= value <= MAX_VALUE:
                continue
            h = histogram([MIN_VALUE / 2, value, MAX_VALUE * 2])
            assert_within_accuracy(h.quantile(0.5), value)


@settings(max_examples=50, deadline=None)
@given(value=st.one_of(st.just(0.0), in_range, st.floats(1e-9, 1e12)), n=st.integers(1, 50))
def test_a_single_repeated_value_comes_back_exactly(value: float, n: int) -> None:
    one_by_one, at_once = histogram([value] * n), LogHistogram()
    at_once.add(value, n)
    assert one_by_one == at_once
    assert at_once.quantiles([0.0, 0.5, 1.0]) == [value] * 3


def test_zero_is_exact_next_to_tiny_values() -> None:
    h = histogram([0.0, 0.0, 0.0, 1e-9, MIN_VALUE, 5.0])
    assert h.quantile(0.0) == 0.0
    assert h.quantile(0.4) == 0.0


def test_out_of_range_values_are_counted_and_clamped() -> None:
    """Below 1 µs reads as the first bucket (~1 µs), beyond 48 days as the last (~48 days)."""
    h = histogram([1e-9, 1e-9, 1e12, 1e15])
    assert h.count == 4
    low, high = h.quantiles([0.0, 1.0])
    assert low is not None
    assert high is not None
    assert 1e-9 <= low <= representative(1)
    assert representative(SIZE - 1) <= high <= 1e15
    assert histogram([1e-9]).quantile(0.5) == 1e-9
    assert histogram([1e15]).quantile(0.5) == 1e15


# ---------------------------------------------------------------- counting and errors


@settings(max_examples=50, deadline=None)
@given(values=samples, weights=st.lists(st.integers(1, 1000), max_size=10))
def test_count_counts_every_occurrence(values: list[float], weights: list[int]) -> None:
    h = histogram(values)
    for i, w in enumerate(weights):
        h.add(values[i % len(values)], w)
    assert h.count == len(values) + sum(weights)
    assert sum(h.bins.values()) == h.count


def test_empty_histogram_has_no_quantiles() -> None:
    h = LogHistogram()
    assert h.count == 0
    assert h.quantile(0.5) is None
    assert h.quantiles([0.0, 0.99, 1.0]) == [None, None, None]
    assert LogHistogram.from_bytes(h.to_bytes()) == h


@pytest.mark.parametrize("value", [-1.0, -1e-300, -math.inf, math.inf, math.nan])
def test_rejects_negative_and_non_finite_values(value: float) -> None:
    h = histogram([1.0, 2.0])
    before = LogHistogram.from_bytes(h.to_bytes())
    with pytest.raises(ValueError, match="finite and >= 0"):
        h.add(value)
    assert h == before


@pytest.mark.parametrize("q", [-0.01, 1.0001, -math.inf, math.inf, math.nan])
@pytest.mark.parametrize("values", [[], [1.0, 2.0]])
def test_rejects_quantiles_outside_zero_to_one(q: float, values: list[float]) -> None:
    h = histogram(values)
    with pytest.raises(ValueError, match=r"within \[0, 1\]"):
        h.quantile(q)
    with pytest.raises(ValueError, match=r"within \[0, 1\]"):
        h.quantiles([0.5, q])


# ---------------------------------------------------------------- merging and encoding


@settings(max_examples=100, deadline=None)
@given(values=samples, cuts=st.lists(st.integers(0, 400), max_size=4))
def test_merge_equals_adding_everything_to_one(values: list[float], cuts: list[int]) -> None:
    bounds = [0, *sorted(min(c, len(values)) for c in cuts), len(values)]
    parts = [histogram(values[a:b]) for a, b in pairwise(bounds)]
    merged = LogHistogram()
    for part in parts:
        merged.merge(part)
    assert merged == histogram(values)
    encoded = LogHistogram.merged(part.to_bytes() for part in parts)
    assert encoded == merged


@settings(max_examples=100, deadline=None)
@given(hs=st.lists(any_histograms, max_size=8))
def test_merged_encodings_equal_merged_objects(hs: list[LogHistogram]) -> None:
    expected = LogHistogram()
    for h in hs:
        expected.merge(h)
    got = LogHistogram.merged([h.to_bytes() for h in hs])
    assert got == expected
    assert got.quantiles([0.0, 0.5, 0.99, 1.0]) == expected.quantiles([0.0, 0.5, 0.99, 1.0])


@settings(max_examples=100, deadline=None)
@given(
    hs=st.lists(any_histograms, min_size=1, max_size=3),
    qs=st.lists(st.floats(0, 1), min_size=1, max_size=4),
)
def test_quantiles_of_encodings_equal_those_of_the_merged_histogram(
    hs: list[LogHistogram], qs: list[float]
) -> None:
    blobs = [h.to_bytes() for h in hs]
    assert LogHistogram.quantiles_of(blobs, qs) == LogHistogram.merged(blobs).quantiles(qs)


def test_quantiles_of_refuses_a_dense_row_whose_counts_do_not_sum_to_its_count() -> None:
    h = histogram([float(v) for v in range(1, 200)])
    blob = bytearray(h.to_bytes())
    assert blob[1] == DENSE16
    blob[-2] += 1  # one more sample in the top bucket than the header counts
    with pytest.raises(ValueError, match="do not sum to count"):
        LogHistogram.quantiles_of([bytes(blob)], [0.5])
    with pytest.raises(ValueError, match="within"):
        LogHistogram.quantiles_of([h.to_bytes()], [1.5])


@settings(max_examples=100, deadline=None)
@given(h=any_histograms)
def test_encoding_round_trips(h: LogHistogram) -> None:
    decoded = LogHistogram.from_bytes(h.to_bytes())
    assert decoded == h
    assert decoded.quantiles([0.0, 0.25, 0.5, 0.9, 1.0]) == h.quantiles([0.0, 0.25, 0.5, 0.9, 1.0])
    assert decoded.to_bytes() == h.to_bytes()


@pytest.mark.parametrize(
    ("buckets", "kind"),
    [(1, SPARSE), (SPARSE_MAX_BUCKETS, SPARSE), (SPARSE_MAX_BUCKETS + 1, DENSE16)],
)
def test_more_than_24_buckets_encode_dense(buckets: int, kind: int) -> None:
    h = LogHistogram()
    for pos in range(100, 100 + 3 * buckets, 3):
        h.add(representative(pos))
    blob = h.to_bytes()
    assert blob[1] == kind
    assert LogHistogram.from_bytes(blob) == h


def test_sparse_counts_past_32_bits_encode_64_bit() -> None:
    h = LogHistogram()
    h.add(5.0, 2**32)
    h.add(7.0, 3)
    blob = h.to_bytes()
    assert (blob[1], len(blob)) == (SPARSE64, HEADER.size + 2 * 10)
    assert LogHistogram.merged([blob, histogram([5.0]).to_bytes()]).bins[position(5.0)] == 2**32 + 1


def test_dense_merge_keeps_counts_above_32_bits() -> None:
    a, b = LogHistogram(), LogHistogram()
    for pos in range(1, 40):
        a.add(representative(pos), 2**40 + pos)
        b.add(representative(pos), 2**33)
    merged = LogHistogram.merged([a.to_bytes(), b.to_bytes()])
    assert merged.bins == {pos: 2**40 + pos + 2**33 for pos in range(1, 40)}
    assert merged.count == a.count + b.count


def test_16_bit_rows_widen_when_their_sum_passes_16_bits() -> None:
    small, big = LogHistogram(), LogHistogram()
    for pos in range(1, 40):
        small.add(representative(pos), 2**16 - 1)
        big.add(representative(pos + 5), 2**20)
    assert (small.to_bytes()[1], big.to_bytes()[1]) == (DENSE16, DENSE32)
    merged = LogHistogram.merged([small.to_bytes(), small.to_bytes()])
    assert merged.bins == dict.fromkeys(range(1, 40), 2 * (2**16 - 1))
    mixed = LogHistogram.merged([small.to_bytes(), big.to_bytes()])
    assert mixed.bins[10] == 2**16 - 1 + 2**20
    assert mixed.count == small.count + big.count


def test_32_bit_rows_widen_when_their_sum_passes_32_bits() -> None:
    """Rows small enough for 32-bit fields still merge exactly when the total is not."""
    small, big = LogHistogram(), LogHistogram()
    for pos in range(1, 40):
        small.add(representative(pos), 2**32 - 1)
        big.add(representative(pos + 5), 2**31)
    assert small.to_bytes()[1] == DENSE32
    merged = LogHistogram.merged([small.to_bytes(), small.to_bytes(), big.to_bytes()])
    expected = dict.fromkeys(range(1, 40), 2 * (2**32 - 1))
    for pos in range(6, 45):
        expected[pos] = expected.get(pos, 0) + 2**31
    assert merged.bins == expected
    assert LogHistogram.from_bytes(big.to_bytes()) == big


def _sparse_blob() -> bytes:
    return histogram([1.0, 2.0, 3.0]).to_bytes()


def _dense_blob() -> bytes:
    return histogram([1.5**i for i in range(40)]).to_bytes()


def _with_header(blob: bytes, **changes: int) -> bytes:
    names = ("version", "kind", "lo", "n", "count", "min", "max")
    fields = dict(zip(names, HEADER.unpack_from(blob), strict=True))
    fields.update(changes)
    return HEADER.pack(*fields.values()) + blob[HEADER.size :]


CORRUPT = {
    "empty": lambda: b"",
    "short header": lambda: _sparse_blob()[: HEADER.size - 1],
    "unknown version": lambda: _with_header(_sparse_blob(), version=9),
    "unknown kind": lambda: _with_header(_sparse_blob(), kind=7),
    "sparse cut by a byte": lambda: _sparse_blob()[:-1],
    "sparse cut by a pair": lambda: _sparse_blob()[:-6],
    "sparse with trailing bytes": lambda: _sparse_blob() + b"\0" * 6,
    "dense cut by a byte": lambda: _dense_blob()[:-1],
    "dense cut by a bucket": lambda: _dense_blob()[:-8],
    "dense with trailing bytes": lambda: _dense_blob() + b"\0" * 8,
    "count disagrees with buckets": lambda: _with_header(_dense_blob(), count=41),
    "empty kind with a body": lambda: LogHistogram().to_bytes() + b"\0" * 8,
}


@pytest.mark.parametrize("name", CORRUPT)
def test_rejects_corrupt_encodings(name: str) -> None:
    blob = CORRUPT[name]()
    with pytest.raises(ValueError, match="LogHistogram"):
        LogHistogram.from_bytes(blob)
    with pytest.raises(ValueError, match="LogHistogram"):
        LogHistogram.merged([_dense_blob(), blob, _sparse_blob()])


def test_a_store_of_the_old_buckets_is_named_with_what_to_do() -> None:
    with pytest.raises(ValueError, match="open it once with write access to convert it"):
        LogHistogram.from_bytes(_with_header(_sparse_blob(), version=1))


# ---------------------------------------------------------------- the OTel buckets

seconds = st.floats(min_value=MIN_VALUE * 1.01 / MS_PER_S, max_value=MAX_VALUE * 0.99 / MS_PER_S)


def exact_index(s: float) -> int:
    """The bucket (base**i, base**(i+1)] holding ``s`` seconds, base = 2**(1/64), in exact
    rational arithmetic: base**i < s <=> 2**i < s**64."""
    power = Fraction(s) ** 64
    i = math.floor(math.log2(s) * 64) - 2
    while Fraction(2) ** (i + 1) < power:
        i += 1
    return i


@settings(max_examples=500, deadline=None)
@given(value_ms=in_range.filter(lambda v: MIN_VALUE * 1.01 < v < MAX_VALUE * 0.99))
def test_index_is_the_otel_bucket_of_the_seconds(value_ms: float) -> None:
    """Exact except within a few ulps of an edge, where the OTel SDK's log rounds too."""
    s = value_ms / MS_PER_S
    got, exact = index_of(position(value_ms)), exact_index(s)
    if got != exact:
        edge = 2.0 ** ((exact + (got > exact)) / 64)
        assert abs(s - edge) <= 4 * math.ulp(edge)


def test_powers_of_two_are_upper_edges_exactly() -> None:
    for k in range(-20, 22):
        value_ms = 2.0**k * MS_PER_S
        assert index(value_ms) == (k << 6) - 1
        assert index(value_ms * (1 + 1e-12)) == k << 6
        assert position(value_ms) == position_of((k << 6) - 1)


def test_every_position_holds_its_representative() -> None:
    for pos in range(SIZE):
        assert position(representative(pos)) == pos
    assert index_of(position(1000.0)) == -1


def test_agrees_with_the_opentelemetry_sdk() -> None:
    """The SDK's own exponential histogram at scale 6 has our buckets, count for count."""
    rng = random.Random(7)
    values_ms = [rng.lognormvariate(3.0, 1.0) for _ in range(2000)] + [500.0, 1000.0, 250.0]
    reader = InMemoryMetricReader()
    aggregation = ExponentialBucketHistogramAggregation(max_size=2000, max_scale=SCALE)
    provider = MeterProvider(
        metric_readers=[reader], views=[View(instrument_name="d", aggregation=aggregation)]
    )
    recorder = provider.get_meter("test").create_histogram("d", unit="s")
    for v in values_ms:
        recorder.record(v / MS_PER_S)
    data = reader.get_metrics_data()
    assert data is not None
    (point,) = data.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
    provider.shutdown()
    assert point.scale == SCALE
    sdk_counts = list(point.positive.bucket_counts)
    while sdk_counts[-1] == 0:  # the SDK sends its whole backing array
        sdk_counts.pop()
    assert histogram(values_ms).to_exponential() == (0, point.positive.offset, sdk_counts)


@settings(max_examples=100, deadline=None)
@given(h=any_histograms)
def test_exponential_form_round_trips(h: LogHistogram) -> None:
    zero, offset, counts = h.to_exponential()
    back = LogHistogram.from_exponential(SCALE, zero, offset, counts, h.min, h.max)
    assert back == h if h.count else back.count == 0


@settings(max_examples=200, deadline=None)
@given(s=seconds, scale=st.integers(-2, 12), n=st.integers(1, 1000))
def test_other_scales_merge_within_their_stated_error(s: float, scale: int, n: int) -> None:
    """A point at another scale: its bucket of ``s`` (OTel downscales by shifting the index)."""
    fine = exact_index(s)
    coarse = fine >> (SCALE - scale) if scale <= SCALE else math.floor(math.log2(s) * 2**scale)
    h = LogHistogram.from_exponential(scale, 0, coarse, [n])
    (got,) = h.quantiles([0.5])
    assert got is not None
    assert h.count == n
    assert abs(got - s * MS_PER_S) <= coarse_error(scale) * (1 + 1e-9) * s * MS_PER_S


def test_coarse_error_is_stated_per_scale() -> None:
    assert [round(coarse_error(s), 4) for s in (6, 5, 4, 3)] == [0.0054, 0.0164, 0.0274, 0.0499]


def test_a_point_with_bad_counts_or_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="counts must be integers >= 0"):
        LogHistogram.from_exponential(6, 0, 0, [1, -1])
    with pytest.raises(ValueError, match="scale must be within"):
        LogHistogram.from_exponential(21, 0, 0, [1])
