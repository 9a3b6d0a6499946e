"""LogHistogram: a DDSketch-style log-bucket histogram with 1% relative accuracy.

Bucket ``p`` (1 <= p < SIZE) holds values in ``[MIN_VALUE * GAMMA**(p-1), MIN_VALUE * GAMMA**p)``
and answers with the point whose relative distance to both edges is ``RELATIVE_ACCURACY``.
Bucket 0 holds exact zeros. Values are milliseconds: 1 µs to 30 days keep 1% accuracy;
smaller positive values count in the first bucket, larger ones in the last.

>>> h = LogHistogram()
>>> for v in (1.0, 2.0, 3.0, 100.0):
...     h.add(v)
>>> abs(h.quantile(0.5) - 2.0) <= 0.01 * 2.0
True
"""

from __future__ import annotations

import math
import struct
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import accumulate, compress

from perf_mcp.core.stats import nearest_rank

RELATIVE_ACCURACY = 0.01
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
MIN_VALUE = 1e-3  # 1 µs in milliseconds
MAX_VALUE = 30 * 24 * 3600 * 1000.0  # 30 days in milliseconds
INV_LOG_GAMMA = 1 / math.log(GAMMA)
# position = int(log(value) * INV_LOG_GAMMA + OFFSET) for MIN_VALUE <= value <= MAX_VALUE
OFFSET = 1 - math.log(MIN_VALUE) * INV_LOG_GAMMA
SIZE = int(math.log(MAX_VALUE) * INV_LOG_GAMMA + OFFSET) + 1

_FORMAT_VERSION = 1
_HEADER = struct.Struct("<BBHHQdd")  # version, kind, lo, n, count, min, max
_PAIR = struct.Struct("<HQ")  # bucket, count
_EMPTY, _SPARSE, _DENSE64, _DENSE32 = 0, 1, 2, 3
_ITEM_SIZE = {_EMPTY: 0, _SPARSE: _PAIR.size, _DENSE64: 8, _DENSE32: 4}  # body bytes per item
_DENSE_FORMAT = {8: "Q", 4: "I"}
# Above this many buckets a dense row merges faster (one big-int add) than a loop over pairs.
_SPARSE_MAX_BUCKETS = 24


def position(value: float) -> int:
    """The bucket a non-negative value falls in."""
    if value >= MIN_VALUE:
        if value >= MAX_VALUE:
            return SIZE - 1
        return int(math.log(value) * INV_LOG_GAMMA + OFFSET)
    return 1 if value > 0 else 0


def positions(values: Iterable[float]) -> Counter[int]:
    """How many of the non-negative ``values`` fall in each bucket (one pass, for many)."""
    log, scale, offset = math.log, INV_LOG_GAMMA, OFFSET
    return Counter(
        [
            int(log(v) * scale + offset) if MIN_VALUE <= v < MAX_VALUE else position(v)
            for v in values
        ]
    )


def representative(pos: int) -> float:
    """The value reported for bucket ``pos``: within RELATIVE_ACCURACY of all it holds."""
    if pos == 0:
        return 0.0
    lower = MIN_VALUE * GAMMA ** (pos - 1)
    return lower * 2 * GAMMA / (GAMMA + 1)


class LogHistogram:
    """Counts per log bucket, plus the exact count, min and max.

    Quantiles are nearest-rank (perf_mcp.core.stats) and clamped to ``[min, max]``, so the
    answer is within 1% of the exact sorted value at that rank.
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
        if any(not 0 <= q <= 1 for q in qs):
            raise ValueError(f"quantiles must be within [0, 1], got {list(qs)}")
        if self.count == 0:
            return [None] * len(qs)
        positions = sorted(self.bins)
        cumulative = list(accumulate(map(self.bins.__getitem__, positions)))
        answers: list[float | None] = []
        for q in qs:
            rank = nearest_rank(self.count, q)
            pos = positions[bisect_right(cumulative, rank)]
            answers.append(min(max(representative(pos), self.min), self.max))
        return answers

    def to_bytes(self) -> bytes:
        """A compact encoding: a header, then the buckets as sparse pairs or a dense range.

        Dense rows are 32-bit (or, past 2**32 in a bucket, 64-bit) counts from the lowest
        bucket to the highest, so ``merged`` can add them as whole integers; rows with few
        buckets list (bucket, count) pairs.
        """
        if not self.bins:
            return _HEADER.pack(_FORMAT_VERSION, _EMPTY, 0, 0, 0, 0.0, 0.0)
        lo, hi = min(self.bins), max(self.bins)
        span = hi - lo + 1
        if len(self.bins) <= _SPARSE_MAX_BUCKETS:
            header = _HEADER.pack(
                _FORMAT_VERSION, _SPARSE, lo, len(self.bins), self.count, self.min, self.max
            )
            return header + b"".join(_PAIR.pack(p, n) for p, n in self.bins.items())
        dense = [0] * span
        for pos, n in self.bins.items():
            dense[pos - lo] = n
        kind, code = (_DENSE32, "I") if max(dense) < 1 << 32 else (_DENSE64, "Q")
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
        is a shift and an add at C speed instead of a Python loop over buckets. Fields are
        32 bits wide while no bucket of any row needs more; past that, 64.
        """
        rows = [(data, *_decode_header(data)) for data in encoded]
        result = cls()
        sparse: dict[int, int] = {}
        wide = any(row[2] == _DENSE64 for row in rows) or sum(row[5] for row in rows) >= 1 << 32
        bits = 64 if wide else 32
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
            if kind == _SPARSE:
                for pos, c in _PAIR.iter_unpack(data[_HEADER.size :]):
                    sparse[pos] = sparse.get(pos, 0) + c
                continue
            if kind == _DENSE32 and wide:  # widen 32-bit fields (only past 2**32 samples)
                body = struct.pack(f"<{n}Q", *struct.unpack_from(f"<{n}I", data, _HEADER.size))
                row = int.from_bytes(body, "little")
            else:  # drop the header's bytes from the low end of the little-endian int
                row = int.from_bytes(data, "little") >> (8 * _HEADER.size)
            if lo < base:  # rebase: move what we have up to make room below
                total <<= bits * (base - lo)
                base = lo
            total += row << (bits * (lo - base))
        if total:
            size = bits // 8
            width = -(-total.bit_length() // bits)
            counts = struct.unpack(
                f"<{width}{_DENSE_FORMAT[size]}", total.to_bytes(width * size, "little")
            )
            result.bins = dict(compress(enumerate(counts, base), counts))
        for pos, c in sparse.items():
            result.bins[pos] = result.bins.get(pos, 0) + c
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


def _decode_header(data: bytes) -> tuple[int, int, int, int, int, float, float]:
    if len(data) < _HEADER.size:
        raise ValueError("not a LogHistogram encoding: too short")
    fields: tuple[int, int, int, int, int, float, float] = _HEADER.unpack_from(data)
    if fields[0] != _FORMAT_VERSION:
        raise ValueError(f"unknown LogHistogram encoding version {fields[0]}")
    item_size = _ITEM_SIZE.get(fields[1])
    if item_size is None:
        raise ValueError(f"unknown LogHistogram encoding kind {fields[1]}")
    if len(data) != _HEADER.size + item_size * fields[3]:
        raise ValueError("corrupt LogHistogram encoding: length does not match its header")
    return fields
