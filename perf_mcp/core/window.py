"""Time buckets and window plans: which stored rows answer a window.

The store keeps bucket rows in three tiers side by side (10 s, 1 min, 1 h). A row of tier ``T``
at ``ts`` holds the samples with ``ts <= t < ts + T``, and ``ts`` is a multiple of ``T``.
A plan names the rows that cover a window exactly, as few and as coarse as possible.

>>> bucket_start(1234.5), bucket_start(1234.5, 60)
(1230, 1200)
>>> for rows in plan_window(3590, 7300, now=7300, retention_s={}):
...     print(rows)
TierRange(tier_s=10, start=3590, end=3600)
TierRange(tier_s=3600, start=3600, end=7200)
TierRange(tier_s=60, start=7200, end=7260)
TierRange(tier_s=10, start=7260, end=7300)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

BUCKET_S = 10
MINUTE_S = 60
HOUR_S = 3600
TIERS: tuple[int, ...] = (BUCKET_S, MINUTE_S, HOUR_S)


def bucket_start(ts: float, width: int = BUCKET_S) -> int:
    """The start of the ``width``-second bucket holding ``ts``: a multiple of ``width``, <= ts."""
    # Integer floor division is exact where float ``ts / width`` can round across a boundary.
    return math.floor(ts) // width * width


def _bucket_end(ts: int, width: int) -> int:
    """The smallest multiple of ``width`` that is >= ``ts``."""
    return -(-ts // width) * width


@dataclass(frozen=True, slots=True)
class TierRange:
    """The rows of one tier with ``start <= ts < end``."""

    tier_s: int
    start: int
    end: int


def plan_window(
    start: float, end: float | None, *, now: float, retention_s: Mapping[int, float]
) -> list[TierRange]:
    """The rows to read for the window ``[start, end)``, ordered by time.

    ``end=None`` means up to and including ``now``: the plan then ends at the end of the
    current 10 s bucket, or of the current minute or hour when the window reaches back to its
    start, so that the partial minute or hour row serves (no data lies after ``now``).
    Edges are aligned outwards to 10 s, or to 1 min or 1 h where the finer rows at that edge
    may be gone (row ``ts`` older than ``now - retention_s[tier]``; a tier missing from
    ``retention_s`` is kept forever). The aligned range is covered with no gap or overlap by
    whole hours, then whole minutes at either edge, then 10 s rows: at most 5 ranges.
    """
    cutoff_10s = now - retention_s.get(BUCKET_S, math.inf)
    cutoff_1m = now - retention_s.get(MINUTE_S, math.inf)

    lo = bucket_start(start, BUCKET_S)
    if lo < cutoff_10s:
        lo = bucket_start(lo, MINUTE_S)
    if lo < cutoff_1m:
        lo = bucket_start(lo, HOUR_S)

    if end is None:
        hour, minute = bucket_start(now, HOUR_S), bucket_start(now, MINUTE_S)
        if lo <= hour:
            hi = hour + HOUR_S
        elif lo <= minute:
            hi = minute + MINUTE_S
        else:
            hi = bucket_start(now, BUCKET_S) + BUCKET_S
    else:
        hi = _bucket_end(math.ceil(end), BUCKET_S)
    # The 10 s (or 1 min) rows just before an old end may be gone: end on a coarser boundary.
    if hi % MINUTE_S and bucket_start(hi, MINUTE_S) < cutoff_10s:
        hi = _bucket_end(hi, MINUTE_S)
    if hi % HOUR_S and bucket_start(hi, HOUR_S) < cutoff_1m:
        hi = _bucket_end(hi, HOUR_S)

    if hi <= lo:
        return []
    first_hour, last_hour = _bucket_end(lo, HOUR_S), bucket_start(hi, HOUR_S)
    if first_hour >= last_hour:
        return _cover_without_hours(lo, hi)
    return [
        *_cover_without_hours(lo, first_hour),
        TierRange(HOUR_S, first_hour, last_hour),
        *_cover_without_hours(last_hour, hi),
    ]


def _cover_without_hours(lo: int, hi: int) -> list[TierRange]:
    """Whole minutes as 1 min rows, the 10 s-aligned rest at either edge as 10 s rows."""
    first_minute, last_minute = _bucket_end(lo, MINUTE_S), bucket_start(hi, MINUTE_S)
    if first_minute >= last_minute:
        return [TierRange(BUCKET_S, lo, hi)] if lo < hi else []
    pieces = [
        TierRange(BUCKET_S, lo, first_minute),
        TierRange(MINUTE_S, first_minute, last_minute),
        TierRange(BUCKET_S, last_minute, hi),
    ]
    return [piece for piece in pieces if piece.start < piece.end]
