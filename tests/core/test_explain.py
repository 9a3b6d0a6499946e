"""explain(): robust gates against the past windows."""

from __future__ import annotations

from perf_mcp.core.explain import Key, Observed, explain, first_about

A: Key = ("endpoint", "GET /a")
B: Key = ("tool", "sql")


def window(p95: float, count: int = 100) -> dict[Key, Observed]:
    return {A: Observed(count, {"p95_ms": p95})}


def test_a_value_inside_the_past_spread_is_not_an_anomaly() -> None:
    noisy = [window(p95) for p95 in (50, 100, 150, 60, 140, 90, 110)]
    assert explain(window(160), noisy) == []


def test_a_value_far_outside_a_tight_past_is_one() -> None:
    tight = [window(p95) for p95 in (99, 100, 101, 100, 98, 102)]
    (finding,) = explain(window(200), tight)
    assert (finding.metric, finding.median, finding.ratio) == ("p95_ms", 100.0, 2.0)


def test_too_few_samples_now_or_in_the_past_say_nothing() -> None:
    assert explain(window(500, count=10), [window(100)] * 6) == []
    assert explain(window(500), [window(100, count=10)] * 6) == []


def test_the_asked_subject_comes_first() -> None:
    past = [{A: Observed(100, {"p95_ms": 100.0}), B: Observed(100, {"p95_ms": 10.0})}] * 6
    now = {A: Observed(100, {"p95_ms": 900.0}), B: Observed(100, {"p95_ms": 30.0})}
    findings = explain(now, past)
    assert [f.name for f in findings] == ["GET /a", "sql"]
    assert [f.name for f in first_about(findings, "sql")] == ["sql", "GET /a"]
    assert [f.name for f in first_about(findings, "/a")] == ["GET /a", "sql"]
