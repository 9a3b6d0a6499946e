"""Dry runs: a threshold replayed over a history, and many subjects' replays combined."""

from __future__ import annotations

from perf_mcp.core.alerts import (
    combine_replays,
    effective_threshold,
    make_override,
    replay,
)


def test_replay_counts_what_a_threshold_would_have_done() -> None:
    threshold = effective_threshold("response_time_p95_ms")
    points = [(t * 10.0, 1500.0 if 3 <= t < 9 else 500.0, 50) for t in range(20)]
    summary = replay(threshold, "overall", points)
    assert (summary.evaluations, summary.fired, summary.notifications) == (20, 1, 2)
    assert summary.firing_s == 60
    assert not summary.still_firing
    stricter = replay(effective_threshold("response_time_p95_ms", None, [
        make_override("response_time_p95_ms", 400, now=0)
    ]), "overall", points)  # fmt: skip
    assert stricter.still_firing
    assert stricter.escalations == 1
    assert (stricter.first_at, stricter.last_at, stricter.fired_subjects) == (0, 190, ["overall"])


def test_replays_of_many_subjects_add_up_and_name_the_busiest() -> None:
    threshold = effective_threshold("error_rate_5min")
    spiky = [(60.0 * t, 0.5 if t % 10 == 0 else 0.0, 100) for t in range(30)]
    quiet = [(60.0 * t, 0.0, 100) for t in range(5, 30)]
    once = [(60.0 * t, 0.5, 100) for t in range(10, 12)]
    by_subject = {
        "GET /spiky": replay(threshold, "GET /spiky", spiky),
        "GET /quiet": replay(threshold, "GET /quiet", quiet),
        "GET /once": replay(threshold, "GET /once", once),
    }
    total = combine_replays(by_subject)
    assert (total.subjects, total.evaluations, total.fired) == (3, 57, 4)
    assert total.fired_subjects == ["GET /spiky", "GET /once"]
    assert (total.first_at, total.last_at) == (0, 29 * 60)
    assert total.still_firing  # /once never recovered in its history
    assert combine_replays({}).evaluations == 0
