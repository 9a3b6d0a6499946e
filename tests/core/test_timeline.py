"""The chart grid: every second of the window read once, from rows that fit in one point."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from perf_mcp.core.timeline import MAX_POINTS, grid

WINDOWS = st.sampled_from([60, 300, 900, 3600, 86400, 604800])
RETENTION = {10: 6 * 3600, 60: 7 * 86400, 3600: 90 * 86400}


@given(window_s=WINDOWS, now=st.floats(1.6e9, 1.8e9))
def test_the_plan_reads_each_second_once_and_no_row_straddles_two_points(
    window_s: int, now: float
) -> None:
    g = grid(window_s, now)
    plan = g.plan(now, RETENTION)

    assert g.points <= MAX_POINTS
    assert g.start <= now - window_s + g.step_s
    assert g.end > now
    covered = sorted((r.start, r.end) for r in plan)
    assert covered[0][0] <= g.start
    assert covered[-1][1] >= g.end
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(covered))
    for r in plan:  # each row ends in the point it starts in, unless retention made it coarse
        if r.start >= now - RETENTION[10]:
            assert all(
                g.index(ts) == g.index(ts + r.tier_s - 1) for ts in range(r.start, r.end, r.tier_s)
            )
