"""compare(): which changes pass the gates, and in which order they come."""

from __future__ import annotations

import pytest

from perf_mcp.core.compare import MIN_COUNT, Side, Subject, compare
from perf_mcp.core.pricing import REPORTED
from perf_mcp.core.series import RequestAcc, RunAcc

A: Subject = ("endpoint", "GET /a")


def requests(n: int, ms: float, errors: int = 0) -> RequestAcc:
    acc = RequestAcc()
    acc.hist.add(ms, n)
    acc.sum_ms = ms * n
    acc.status[2], acc.status[5] = n - errors, errors
    return acc


def runs(n: int, ms: float, tokens: int = 0, cost: float = 0.0) -> RunAcc:
    acc = RunAcc()
    for _ in range(n):
        acc.add_run(ms, None, False, (tokens, 0, 0, 0), cost, REPORTED, [])
    return acc


def one_side(accs: dict[Subject, RequestAcc | RunAcc]) -> Side:
    return Side(accs, 600)


def test_a_tripled_latency_is_found_with_its_ratio() -> None:
    (found,) = compare(one_side({A: requests(200, 100.0)}), one_side({A: requests(200, 300.0)}))
    assert (found.kind, found.name, found.count_before, found.count_after) == (*A, 200, 200)
    assert {c.metric for c in found.changes} == {"p50_ms", "p95_ms", "p99_ms"}
    for change in found.changes:
        assert change.ratio == pytest.approx(3.0, rel=0.02)


def test_too_few_samples_on_either_side_compare_nothing_but_the_rate() -> None:
    few = MIN_COUNT - 1
    assert compare(one_side({A: requests(few, 10.0)}), one_side({A: requests(few, 900.0)})) == []
    (found,) = compare(one_side({A: requests(few, 10.0)}), one_side({A: requests(500, 900.0)}))
    assert [c.metric for c in found.changes] == ["rate_per_s"]


def test_small_ratios_and_small_absolute_changes_are_not_reported() -> None:
    slightly_slower = compare(
        one_side({A: requests(500, 100.0)}), one_side({A: requests(500, 140.0)})
    )
    assert slightly_slower == []  # x1.4: under the ratio gate
    fast_but_tripled = compare(one_side({A: requests(500, 1.0)}), one_side({A: requests(500, 3.0)}))
    assert fast_but_tripled == []  # +2 ms: under the absolute gate


def test_errors_appearing_from_none_are_a_change_without_a_ratio() -> None:
    (found,) = compare(one_side({A: requests(500, 50.0)}), one_side({A: requests(500, 50.0, 50)}))
    (change,) = found.changes
    assert (change.metric, change.before, change.after, change.ratio) == (
        "error_rate",
        0.0,
        0.1,
        None,
    )


def test_subjects_rank_by_their_largest_change() -> None:
    b: Subject = ("endpoint", "GET /b")
    agent: Subject = ("agent", "bot")
    before = one_side(
        {A: requests(500, 100.0), b: requests(500, 100.0), agent: runs(100, 10.0, 1000, 0.01)}
    )
    after = one_side(
        {A: requests(500, 200.0), b: requests(500, 1000.0), agent: runs(100, 10.0, 5000, 0.05)}
    )
    ranked = compare(before, after)
    assert [(c.kind, c.name) for c in ranked] == [b, agent, A]
    assert {c.metric for c in ranked[1].changes} == {"tokens_per_run", "cost_per_run_usd"}


def test_traffic_that_stopped_is_a_rate_change() -> None:
    (found,) = compare(one_side({A: requests(600, 10.0)}), one_side({}))
    (change,) = found.changes
    assert (change.metric, change.before, change.after, change.ratio) == (
        "rate_per_s",
        1.0,
        0.0,
        0.0,
    )
