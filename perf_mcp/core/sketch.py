"""LogHistogram: OpenTelemetry's exponential-histogram buckets at scale 6, 0.54% accurate.

The buckets are OTel's (and Prometheus native histograms' schema 6) for the value in seconds,
the unit both use for durations: base = 2**(1/64), bucket index ``i`` holds
``(base**i, base**(i+1)]`` seconds, and a bucket answers with its midpoint in log space, within
``RELATIVE_ACCURACY`` (2**(1/128) - 1, about 0.54%) of all it holds. The API takes
milliseconds. Positions number the buckets from 0: position 0 holds exact zeros, positions 1..
hold indexes MIN_INDEX..MAX_INDEX (about 1 µs to 48 days); smaller positive values count in the
first, larger ones in the last. So a histogram converts to an OTLP ExponentialHistogramDataPoint
and back bucket for bucket (``to_exponential``, ``from_exponential``), and points of coarser
scales merge in with the error ``coarse_error`` states.

>>> h = LogHistogram()
>>> for v in (1.0, 2.0, 3.0, 100.0):
...     h.add(v)
>>> abs(h.quantile(0.5) - 2.0) <= RELATIVE_ACCURACY * 2.0
True
>>> index(1000.0), index(1000.1)  # 1 s is 2**0: the upper edge of bucket -1
(-1, 0)
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import accumulate, compress

from perf_mcp.core.stats import nearest_rank

SCALE = 6
RELATIVE_ACCURACY = math.pow(2.0, 2.0 ** -(SCALE + 1)) - 1  # half a bucket, in log space
MS_PER_S = 1000.0
MIN_INDEX = -20 << SCALE  # the lowest bucket starts at 2**-20 s (0.95 µs)
MAX_INDEX = (22 << SCALE) - 1  # the highest ends at 2**22 s (48.5 days)
MIN_VALUE = 2.0**-20 * MS_PER_S  # milliseconds; at or below, counted in the lowest bucket
MAX_VALUE = 2.0**22 * MS_PER_S  # milliseconds; above, counted in the highest bucket
SIZE = MAX_INDEX - MIN_INDEX + 2  # positions, zeros' included
_SHIFT = 1 - MIN_INDEX  # position = index + _SHIFT
# The fast path's range, a hair inside [MIN_VALUE, MAX_VALUE] so log rounding cannot leave it.
_LOW, _HIGH = MIN_VALUE * (1 + 1e-9), MAX_VALUE * (1 - 1e-9)

_FORMAT_VERSION = 2  # 1: perf-mcp's own buckets (gamma 1.0202), before the OTel ones
_HEADER = struct.Struct("<BBHHQdd")  # version, kind, lo, n, count, min, max
_EMPTY, _SPARSE, _DENSE64, _DENSE32, _SPARSE64, _DENSE16 = 0, 1, 2, 3, 4, 5
_PAIRS = {_SPARSE: struct.Struct("<HI"), _SPARSE64: struct.Struct("<HQ")}  # bucket, count
_DENSE = {_DENSE16: (16, "H"), _DENSE32: (32, "I"), _DENSE64: (64, "Q")}  # field bits, code
_ITEM_SIZE = {_EMPTY: 0} | {k: p.size for k, p in _PAIRS.items()}
_ITEM_SIZE |= {k: bits // 8 for k, (bits, _) in _DENSE.items()}
_CODE = dict(_DENSE.values())  # field bits -> struct code
# Dense kinds an array reads directly (its item as wide as the field; native byte order).
_ARRAY_CODES = {k: code for k, (bits, code) in _DENSE.items() if array(code).itemsize * 8 == bits}
# Above this many buckets a dense row merges faster (one big-int add) than a loop over pairs.
_SPARSE_MAX_BUCKETS = 24


def index(value_ms: float) -> int:
    """The OTel scale-6 bucket index of a positive value (milliseconds; the index is of seconds).

    ``ceil(log2(s) * 64) - 1``: log2 is exact at powers of two, which are upper bucket edges.
    """
    return math.ceil(math.log2(value_ms / MS_PER_S) * 64) - 1


def position(value: float) -> int:
    """The bucket position a non-negative value falls in."""
    if _LOW < value <= _HIGH:
        return math.ceil(math.log2(value / MS_PER_S) * 64) + (_SHIFT - 1)
    if value <= MIN_VALUE:
        return 1 if value > 0 else 0
    return min(max(index(value), MIN_INDEX), MAX_INDEX) + _SHIFT if value <= MAX_VALUE else SIZE - 1


def positions(values: Iterable[float]) -> Counter[int]:
    """How many of the non-negative ``values`` fall in each bucket (one pass, for many)."""
    log2, ceil, low, high, shift, ms = math.log2, math.ceil, _LOW, _HIGH, _SHIFT - 1, MS_PER_S
    return Counter(
        [ceil(log2(v / ms) * 64) + shift if low < v <= high else position(v) for v in values]
    )


def position_of(index: int) -> int:
    """The position of OTel scale-6 bucket ``index``, clamped to the kept range."""
    return min(max(index, MIN_INDEX), MAX_INDEX) + _SHIFT


def index_of(pos: int) -> int:
    """The OTel scale-6 index of position ``pos`` (>= 1; position 0 is the zero bucket)."""
    return pos - _SHIFT


def representative(pos: int) -> float:
    """The value (ms) reported for bucket ``pos``: its log midpoint, within RELATIVE_ACCURACY
    of all it holds."""
    if pos == 0:
        return 0.0
    return MS_PER_S * math.pow(2.0, (pos - _SHIFT + 0.5) / 64)


def upper_bound(pos: int) -> float:
    """The upper edge (ms, inclusive) of bucket ``pos``; position 0's is 0."""
    return MS_PER_S * math.pow(2.0, (pos - _SHIFT + 1) / 64) if pos else 0.0


def coarse_error(scale: int) -> float:
    """The relative error ``from_exponential`` adds to a value of a point at ``scale``.

    A finer point (scale > 6) merges exactly. A coarser bucket spans ``m = 2**(6 - scale)``
    fine ones, and all its count goes to the fine bucket starting at its log midpoint, whose
    log midpoint is ``(m + 1) / 2`` fine buckets from the coarse edges: scale 5 gives 1.64%,
    4 gives 2.74%, 3 gives 4.99%. The point's min and max still clamp the answers.
    """
    if scale >= SCALE:
        return RELATIVE_ACCURACY
    return math.pow(2.0, ((1 << (SCALE - scale)) + 1) / 128) - 1


class LogHistogram:
    """Counts per bucket position, plus the exact count, min and max.

    Quantiles are nearest-rank (perf_mcp.core.stats) and clamped to ``[min, max]``, so the
    answer is within RELATIVE_ACCURACY (0.54%) of the exact sorted value at that rank.
    """

    __slots__ = ("bins", "count", "max", "min")

    def __init__(self) -> None:
        self.bins: dict[int, int] = {}
        self.count = 0
        self.min = math.inf
        self.max = -math.inf

    def add(self, value: float, count: int = 1) -> None:
        """Add ``count`` occurrences of a non-negative finite ``value``."""
        if not value >= 0 or value == math.inf:
            raise ValueError(f"LogHistogram values must be finite and >= 0, got {value!r}")
        if count.__class__ is not int or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        pos = position(value)
        self.bins[pos] = self.bins.get(pos, 0) + count
        self.count += count
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value

    def add_checked(self, values: Sequence[float]) -> None:
        """Add many values that were checked to be finite and >= 0 (the record path's)."""
        bins = self.bins
        for pos, n in positions(values).items():
            bins[pos] = bins.get(pos, 0) + n
        self.count += len(values)
        low, high = min(values), max(values)
        if low < self.min:
            self.min = low
        if high > self.max:
            self.max = high

    def merge(self, other: LogHistogram) -> None:
        """Add every sample of ``other`` to this histogram."""
        bins = self.bins
        for pos, n in other.bins.items():
            bins[pos] = bins.get(pos, 0) + n
        self.count += other.count
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def copy(self) -> LogHistogram:
        """An independent histogram with the same samples."""
        copy = LogHistogram()
        copy.bins = dict(self.bins)
        copy.count, copy.min, copy.max = self.count, self.min, self.max
        return copy

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 <= q <= 1), or None when empty."""
        return self.quantiles((q,))[0]

    def quantiles(self, qs: Sequence[float]) -> list[float | None]:
        """Several quantiles in one pass over the buckets."""
        _check_quantiles(qs)
        if self.count == 0:
            return [None] * len(qs)
        positions = sorted(self.bins)
        cumulative = list(accumulate(map(self.bins.__getitem__, positions)))
        return _at_ranks(positions, cumulative, self.count, qs, self.min, self.max)

    @classmethod
    def quantiles_of(cls, encoded: Sequence[bytes], qs: Sequence[float]) -> list[float | None]:
        """``merged(encoded).quantiles(qs)``; one dense row (a closed hour's, say) is read
        without building its buckets, several times faster."""
        if len(encoded) == 1:
            _version, kind, lo, n, count, low, high = _decode_header(encoded[0])
            if kind in _ARRAY_CODES and count:
                _check_quantiles(qs)
                fields = array(_ARRAY_CODES[kind], encoded[0][_HEADER.size :])
                if sys.byteorder == "big":
                    fields.byteswap()  # the encoding is little-endian
                cumulative = list(accumulate(fields))
                if cumulative[-1] != count:
                    raise ValueError(
                        "corrupt LogHistogram encoding: bucket counts do not sum to count"
                    )
                return _at_ranks(range(lo, lo + n), cumulative, count, qs, low, high)
        return cls.merged(encoded).quantiles(qs)

    def to_exponential(self) -> tuple[int, int, list[int]]:
        """The buckets as an OTel scale-6 point has them: ``(zero_count, offset, counts)``,
        ``counts[k]`` being the count of index ``offset + k``."""
        filled = [pos for pos in self.bins if pos]
        if not filled:
            return self.bins.get(0, 0), 0, []
        lo = min(filled)
        counts = [0] * (max(filled) - lo + 1)
        for pos in filled:
            counts[pos - lo] = self.bins[pos]
        return self.bins.get(0, 0), index_of(lo), counts

    @classmethod
    def from_exponential(
        cls,
        scale: int,
        zero_count: int,
        offset: int,
        counts: Sequence[int],
        min_ms: float | None = None,
        max_ms: float | None = None,
    ) -> LogHistogram:
        """A histogram of an OTel point's zero and positive buckets, at any scale.

        Scale 6 comes back bucket for bucket, finer scales merge exactly, coarser ones within
        ``coarse_error(scale)``. Without the point's min and max, the outermost buckets'
        representatives stand in.
        """
        if not -10 <= scale <= 20:
            raise ValueError(f"exponential histogram scale must be within [-10, 20], got {scale}")
        if any(n.__class__ is not int or n < 0 for n in (zero_count, *counts)):
            raise ValueError("exponential histogram bucket counts must be integers >= 0")
        if scale >= SCALE:
            shift = scale - SCALE
            fine = [(offset + k) >> shift for k in range(len(counts))]
        else:
            widen = SCALE - scale
            fine = [((offset + k) << widen) + (1 << (widen - 1)) for k in range(len(counts))]
        h = cls()
        bins = h.bins
        if zero_count:
            bins[0] = zero_count
        for idx, n in zip(fine, counts, strict=True):
            if n:
                pos = position_of(idx)
                bins[pos] = bins.get(pos, 0) + n
        h.count = sum(bins.values())
        if h.count:
            h.min = representative(min(bins)) if min_ms is None else min_ms
            h.max = representative(max(bins)) if max_ms is None else max_ms
        return h

    def to_bytes(self) -> bytes:
        """A compact encoding: a header, then the buckets as sparse pairs or a dense range.

        Dense rows are 16-, 32- or 64-bit counts (the narrowest their largest fits) from the
        lowest bucket to the highest, so ``merged`` can add them as whole integers; rows with
        few buckets list (bucket, count) pairs, counts 32-bit (or 64-bit).
        """
        if not self.bins:
            return _HEADER.pack(_FORMAT_VERSION, _EMPTY, 0, 0, 0, 0.0, 0.0)
        lo, hi = min(self.bins), max(self.bins)
        span = hi - lo + 1
        if len(self.bins) <= _SPARSE_MAX_BUCKETS:
            kind = _SPARSE if max(self.bins.values()) < 1 << 32 else _SPARSE64
            header = _HEADER.pack(
                _FORMAT_VERSION, kind, lo, len(self.bins), self.count, self.min, self.max
            )
            return header + b"".join(_PAIRS[kind].pack(p, n) for p, n in self.bins.items())
        dense = [0] * span
        for pos, n in self.bins.items():
            dense[pos - lo] = n
        kind = next(k for k, (bits, _) in _DENSE.items() if max(dense) < 1 << bits)
        code = _DENSE[kind][1]
        header = _HEADER.pack(_FORMAT_VERSION, kind, lo, span, self.count, self.min, self.max)
        return header + struct.pack(f"<{span}{code}", *dense)

    @classmethod
    def from_bytes(cls, data: bytes) -> LogHistogram:
        """Decode what ``to_bytes`` wrote."""
        return cls.merged((data,))

    @classmethod
    def merged(cls, encoded: Iterable[bytes]) -> LogHistogram:
        """Merge many encoded histograms quickly.

        Each dense row becomes one big Python int, a fixed-width field per bucket, so merging
        is a shift and an add at C speed instead of a Python loop over buckets. Fields are as
        narrow as the widest row's and the sum of all counts allow (16, 32 or 64 bits).
        """
        rows = [(data, *_decode_header(data)) for data in encoded]
        result = cls()
        sparse: list[tuple[struct.Struct, memoryview]] = []  # added after the dense rows
        # The narrowest fields that no row's and no sum's count overflows.
        widest = max((_DENSE[row[2]][0] for row in rows if row[2] in _DENSE), default=16)
        total_count = sum(row[5] for row in rows)
        bits = max(widest, next(b for b in (16, 32, 64) if total_count < 1 << b or b == 64))
        total = 0
        base = SIZE  # the bucket in field 0 of ``total``
        for data, _version, kind, lo, n, count, lo_value, hi_value in rows:
            if kind == _EMPTY:
                continue
            result.count += count
            if lo_value < result.min:
                result.min = lo_value
            if hi_value > result.max:
                result.max = hi_value
            if kind in _PAIRS:
                sparse.append((_PAIRS[kind], memoryview(data)[_HEADER.size :]))
                continue
            if _DENSE[kind][0] < bits:  # widen narrower fields (only past their sums)
                counts = struct.unpack_from(f"<{n}{_DENSE[kind][1]}", data, _HEADER.size)
                row = int.from_bytes(struct.pack(f"<{n}{_CODE[bits]}", *counts), "little")
            else:
                row = int.from_bytes(memoryview(data)[_HEADER.size :], "little")
            if lo < base:  # rebase: move what we have up to make room below
                total <<= bits * (base - lo)
                base = lo
            total += row << (bits * (lo - base))
        if total:
            size = bits // 8
            width = -(-total.bit_length() // bits)
            fields = struct.unpack(f"<{width}{_CODE[bits]}", total.to_bytes(width * size, "little"))
            result.bins = dict(compress(enumerate(fields, base), fields))
        bins = result.bins
        for pair, items in sparse:
            for pos, c in pair.iter_unpack(items):
                bins[pos] = bins.get(pos, 0) + c
        if sum(result.bins.values()) != result.count:
            raise ValueError("corrupt LogHistogram encoding: bucket counts do not sum to count")
        return result

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogHistogram):
            return NotImplemented
        return (self.bins, self.count, self.min, self.max) == (
            other.bins,
            other.count,
            other.min,
            other.max,
        )

    def __repr__(self) -> str:
        return f"LogHistogram(count={self.count}, buckets={len(self.bins)})"


def _check_quantiles(qs: Sequence[float]) -> None:
    if any(not 0 <= q <= 1 for q in qs):
        raise ValueError(f"quantiles must be within [0, 1], got {list(qs)}")


def _at_ranks(
    positions: Sequence[int],
    cumulative: Sequence[int],
    count: int,
    qs: Sequence[float],
    low: float,
    high: float,
) -> list[float | None]:
    """The nearest-rank quantiles of buckets at ``positions`` (ascending; ``cumulative``
    their running counts), clamped to the samples' ``[low, high]``."""
    return [
        min(
            max(representative(positions[bisect_right(cumulative, nearest_rank(count, q))]), low),
            high,
        )
        for q in qs
    ]


def _decode_header(data: bytes) -> tuple[int, int, int, int, int, float, float]:
    if len(data) < _HEADER.size:
        raise ValueError("not a LogHistogram encoding: too short")
    fields: tuple[int, int, int, int, int, float, float] = _HEADER.unpack_from(data)
    if fields[0] != _FORMAT_VERSION:
        raise ValueError(
            f"LogHistogram encoding version {fields[0]}, not {_FORMAT_VERSION}"
            + (
                ": a store of perf-mcp before its OTel buckets; open it once with write access "
                "to convert it"
                if fields[0] == 1
                else ""
            )
        )
    item_size = _ITEM_SIZE.get(fields[1])
    if item_size is None:
        raise ValueError(f"unknown LogHistogram encoding kind {fields[1]}")
    if len(data) != _HEADER.size + item_size * fields[3]:
        raise ValueError("corrupt LogHistogram encoding: length does not match its header")
    return fields
