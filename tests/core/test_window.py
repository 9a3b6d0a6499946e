"""Time buckets and window plans: exact cover, coarsest rows, rows that retention still keeps."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perf_mcp.core.window import BUCKET_S, TIERS, TierRange, bucket_start, plan_window

MIN, HOUR, DAY = 60, 3600, 86400
H = 1_767_225_600  # 2026-01-01 00:00:00 UTC, an hour boundary
NOW = H + 34 * MIN + 56.5
RETENTION = {10: 6 * HOUR, 60: 7 * DAY, 3600: 90 * DAY}  # the store's defaults


def ceil_to(ts: float, width: int) -> int:
    return -(-math.ceil(ts) // width) * width


def rows(plan: list[TierRange]) -> int:
    return sum((r.end - r.start) // r.tier_s for r in plan)


# ---------------------------------------------------------------- bucket_start


@pytest.mark.parametrize(
    ("ts", "width", "start"),
    [
        (1234.5, 10, 1230),
        (1230.0, 10, 1230),
        (1239.999999, 10, 1230),
        (1234.5, 60, 1200),
        (3599.9999, 3600, 0),
        (3600, 3600, 3600),
        (0.0, 10, 0),
        (-0.5, 10, -10),
        (-10.0, 10, -10),
        (-10.000001, 10, -20),
        (NOW, 3600, H),
    ],
)
def test_bucket_start_examples(ts: float, width: int, start: int) -> None:
    assert bucket_start(ts, width) == start


def test_bucket_start_defaults_to_ten_seconds() -> None:
    assert BUCKET_S == 10
    assert TIERS == (10, 60, 3600)
    assert bucket_start(NOW) == H + 34 * MIN + 50


timestamps = st.one_of(
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
    st.integers(-(10**8), 10**8).map(lambda k: k * 10.0),
    st.integers(-(10**8), 10**8).map(lambda k: math.nextafter(k * 60.0, -math.inf)),
    st.integers(0, 10**6).map(lambda k: math.nextafter(k * 3600.0, math.inf)),
)


@settings(max_examples=500, deadline=None)
@given(ts=timestamps, width=st.one_of(st.sampled_from(TIERS), st.integers(1, 10**6)))
def test_bucket_start_holds_the_timestamp(ts: float, width: int) -> None:
    start = bucket_start(ts, width)
    assert isinstance(start, int)
    assert start % width == 0
    assert start <= ts < start + width


# ---------------------------------------------------------------- plan examples


def test_tier_ranges_are_frozen_values() -> None:
    r = TierRange(60, 120, 240)
    assert r == TierRange(tier_s=60, start=120, end=240)
    assert len({r, TierRange(60, 120, 240)}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.start = 0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("window_s", "plan"),
    [
        (20, [TierRange(10, H + 34 * MIN + 30, H + 35 * MIN)]),
        (
            MIN,
            [
                TierRange(10, H + 33 * MIN + 50, H + 34 * MIN),
                TierRange(60, H + 34 * MIN, H + 35 * MIN),
            ],
        ),
        (
            5 * MIN,
            [
                TierRange(10, H + 29 * MIN + 50, H + 30 * MIN),
                TierRange(60, H + 30 * MIN, H + 35 * MIN),
            ],
        ),
        (
            HOUR,
            [
                TierRange(10, H - HOUR + 34 * MIN + 50, H - HOUR + 35 * MIN),
                TierRange(60, H - HOUR + 35 * MIN, H),
                TierRange(3600, H, H + HOUR),  # the current, partial hour
            ],
        ),
        (
            DAY,  # older than the 6 h of 10 s rows: starts on a minute
            [
                TierRange(60, H - DAY + 34 * MIN, H - DAY + HOUR),
                TierRange(3600, H - DAY + HOUR, H + HOUR),
            ],
        ),
        (7 * DAY, [TierRange(3600, H - 7 * DAY, H + HOUR)]),  # 1 min rows gone: on the hour
    ],
    ids=["20s", "1m", "5m", "1h", "24h", "7d"],
)
def test_windows_ending_now(window_s: int, plan: list[TierRange]) -> None:
    assert plan_window(NOW - window_s, None, now=NOW, retention_s=RETENTION) == plan


def test_row_counts_of_windows_ending_now() -> None:
    counts = {
        window_s: rows(plan_window(NOW - window_s, None, now=NOW, retention_s=RETENTION))
        for window_s in (MIN, 5 * MIN, HOUR, DAY, 7 * DAY)
    }
    assert counts == {MIN: 2, 5 * MIN: 6, HOUR: 27, DAY: 50, 7 * DAY: 169}


def test_the_bucket_holding_now_is_read_on_a_boundary() -> None:
    now = H + 34 * MIN + 50
    assert plan_window(now - 5, None, now=now, retention_s=RETENTION) == [
        TierRange(10, H + 34 * MIN + 40, H + 35 * MIN)
    ]


def test_the_hour_just_begun_serves_a_window_ending_on_the_hour() -> None:
    assert plan_window(H - 5 * MIN, None, now=H, retention_s=RETENTION) == [
        TierRange(60, H - 5 * MIN, H),
        TierRange(3600, H, H + HOUR),
    ]


def test_an_explicit_end_is_aligned_up_to_ten_seconds() -> None:
    plan = plan_window(
        H + 10 * MIN + 5, H + 2 * HOUR + 3 * MIN + 1, now=H + 3 * HOUR, retention_s={}
    )
    assert plan == [
        TierRange(60, H + 10 * MIN, H + HOUR),
        TierRange(3600, H + HOUR, H + 2 * HOUR),
        TierRange(60, H + 2 * HOUR, H + 2 * HOUR + 3 * MIN),
        TierRange(10, H + 2 * HOUR + 3 * MIN, H + 2 * HOUR + 3 * MIN + 10),
    ]


def test_an_old_end_is_aligned_to_rows_that_still_exist() -> None:
    """Three days back the 10 s rows are gone, so both edges fall on minutes."""
    plan = plan_window(H - 3 * DAY + 5, H - 3 * DAY + 125, now=H, retention_s=RETENTION)
    assert plan == [TierRange(60, H - 3 * DAY, H - 3 * DAY + 3 * MIN)]
    plan = plan_window(H - 30 * DAY + 5, H - 30 * DAY + 125, now=H, retention_s=RETENTION)
    assert plan == [TierRange(3600, H - 30 * DAY, H - 30 * DAY + HOUR)]


def test_a_tier_missing_from_retention_is_kept_forever() -> None:
    plan = plan_window(H - 30 * DAY + 15, H - 30 * DAY + 125, now=H, retention_s={})
    assert plan == [
        TierRange(10, H - 30 * DAY + 10, H - 30 * DAY + MIN),
        TierRange(60, H - 30 * DAY + MIN, H - 30 * DAY + 2 * MIN),
        TierRange(10, H - 30 * DAY + 2 * MIN, H - 30 * DAY + 130),
    ]


@pytest.mark.parametrize(
    ("start", "end"), [(H + 100, H + 100), (H + 100, H + 50), (NOW + 20, None)]
)
def test_empty_windows_read_nothing(start: float, end: float | None) -> None:
    assert plan_window(start, end, now=NOW, retention_s=RETENTION) == []


# ---------------------------------------------------------------- plan properties

nows = st.one_of(
    st.floats(1e9, 2e9),
    st.integers(10**8, 2 * 10**8).map(lambda k: k * 10.0),
    st.integers(10**6, 5 * 10**5 + 10**6).map(lambda k: k * 3600.0),
)
offsets = st.one_of(
    st.floats(-100.0, 40.0 * DAY),
    st.integers(0, 40 * 24).map(lambda k: k * 3600.0),
    st.integers(0, 40 * 24 * 60).map(lambda k: k * 60.0 + 0.5),
    st.sampled_from([0.0, 9.999, 10.0, 59.99, 60.0, 3599.9, 3600.0]),
)


@st.composite
def retentions(draw: st.DrawFn) -> dict[int, float]:
    """Realistic shapes: 1 min rows outlive 10 s rows; tiers may be missing (kept forever)."""
    r10 = draw(st.one_of(st.floats(0.0, 10.0 * DAY), st.sampled_from([HOUR, 6 * HOUR])))
    r60 = r10 + draw(st.floats(0.0, 30.0 * DAY))
    chosen = {10: r10, 60: r60, 3600: 90.0 * DAY}
    keep = draw(st.sets(st.sampled_from(TIERS)))
    if 10 not in keep:  # 10 s rows kept forever: so are 1 min rows
        keep.discard(60)
    return {tier: s for tier, s in chosen.items() if tier in keep}


def expected_range(
    start: float, end: float | None, now: float, retention_s: Mapping[int, float]
) -> tuple[int, int]:
    """The aligned window, written the way the spec reads."""
    cut = {tier: now - retention_s.get(tier, math.inf) for tier in (10, 60)}
    if bucket_start(start, 10) >= cut[10]:
        lo = bucket_start(start, 10)
    elif bucket_start(start, 60) >= cut[60]:
        lo = bucket_start(start, 60)
    else:
        lo = bucket_start(start, 3600)
    if end is None:
        candidates = [(3600, bucket_start(now, 3600)), (60, bucket_start(now, 60))]
        width = next((w for w, begun in candidates if lo <= begun), 10)
        hi = bucket_start(now, width) + width
    else:
        hi = ceil_to(end, 10)
    if bucket_start(hi - 1, 60) < cut[10]:  # the 10 s rows ending the window are gone
        hi = ceil_to(hi, 60)
    if bucket_start(hi - 1, 3600) < cut[60]:
        hi = ceil_to(hi, 3600)
    return lo, hi


@settings(max_examples=500, deadline=None)
@given(
    now=nows,
    back=offsets,
    length=st.one_of(st.none(), offsets),
    retention_s=retentions(),
)
def test_plans_cover_the_aligned_window_exactly(
    now: float, back: float, length: float | None, retention_s: dict[int, float]
) -> None:
    start = now - back
    end = None if length is None else start + length
    plan = plan_window(start, end, now=now, retention_s=retention_s)
    lo, hi = expected_range(start, end, now, retention_s)

    if lo >= hi:
        assert plan == []
        return
    # Exactly [lo, hi): ordered, contiguous, no overlap, every row aligned to its tier.
    assert plan[0].start == lo
    assert plan[-1].end == hi
    for a, b in pairwise(plan):
        assert a.end == b.start
        assert a.tier_s != b.tier_s  # one range per tier and contiguous piece
    for r in plan:
        assert r.tier_s in TIERS
        assert r.start < r.end
        assert r.start % r.tier_s == 0
        assert r.end % r.tier_s == 0
    # The window asked for is inside, stretched by less than an hour at either edge.
    assert lo <= start < lo + HOUR
    if end is None:
        assert now < hi <= bucket_start(now, 3600) + HOUR
    else:
        assert end <= hi < end + HOUR


@settings(max_examples=500, deadline=None)
@given(
    now=nows,
    back=offsets,
    length=st.one_of(st.none(), offsets),
    retention_s=retentions(),
)
def test_plans_use_the_coarsest_rows_that_exist(
    now: float, back: float, length: float | None, retention_s: dict[int, float]
) -> None:
    start = now - back
    end = None if length is None else start + length
    plan = plan_window(start, end, now=now, retention_s=retention_s)

    assert len(plan) <= 5
    hours = sum(rows([r]) for r in plan if r.tier_s == 3600)
    assert rows(plan) <= hours + 2 * 59 + 2 * 5
    for r in plan:
        coarser = {10: 60, 60: 3600}.get(r.tier_s)
        if coarser is not None:  # no whole minute in 10 s rows, no whole hour in 1 min rows
            assert ceil_to(r.start, coarser) + coarser > r.end
            cutoff = now - retention_s.get(r.tier_s, math.inf)
            assert r.start >= cutoff  # finer rows older than their retention are gone
