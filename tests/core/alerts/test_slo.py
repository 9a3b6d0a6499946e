"""SLOs, pure: validation, windows scaled to the period, burn rates, the budget left, and the
histogram line of latency SLOs."""

from __future__ import annotations

from typing import Any

import pytest

from perf_mcp.core.alerts import RULES, effective_threshold, evaluate
from perf_mcp.core.alerts.slo import (
    BURN_RULES,
    Slo,
    counted_under,
    make_slo,
    rule_values,
    slo_status,
    slow_count,
    window_seconds,
)
from perf_mcp.core.models import InvalidInputError
from perf_mcp.core.sketch import LogHistogram


def slo(**fields: Any) -> Slo:
    given = {"kind": "availability", "scope": "all", "objective": 0.999, "now": 0.0}
    return make_slo(**{**given, **fields})


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"objective": 1.0}, "objective: must be a fraction strictly between 0 and 1"),
        ({"objective": 0}, "objective: must be a fraction strictly between 0 and 1"),
        ({"objective": 99.9}, "0.999 means 99.9%"),
        ({"kind": "speed"}, "kind: Input should be 'availability' or 'latency'"),
        ({"scope": "host"}, "scope: Input should be 'endpoint', 'agent', 'tool' or 'all'"),
        ({"kind": "latency"}, "a latency SLO needs threshold_ms"),
        ({"threshold_ms": 300}, "threshold_ms is for latency SLOs"),
        ({"kind": "latency", "threshold_ms": -1}, "threshold_ms: must be a positive number"),
        ({"period_days": 365}, "period_days: must be from 1 to 90 days, got 365"),
        ({"subject": "/x"}, "scope 'all' covers every request: omit the subject"),
        ({"scope": "agent"}, "scope 'agent' needs a subject"),
        ({"scope": "endpoint", "subject": "checkout"}, "an endpoint subject is a path"),
    ],
)
def test_a_bad_slo_is_refused_naming_the_field_and_what_is_allowed(
    fields: dict[str, Any], says: str
) -> None:
    with pytest.raises(InvalidInputError, match="invalid SLO") as caught:
        slo(**fields)
    assert says in str(caught.value)


def test_an_slo_is_named_after_its_subject_and_kind_unless_named() -> None:
    assert slo().name == "all requests availability"
    assert slo(scope="tool", subject="web_search").target == "tool web_search"
    assert slo(name=" checkout ").name == "checkout"


def test_windows_are_the_workbooks_for_30_days_and_scale_with_the_period() -> None:
    assert window_seconds(slo()) == {300: 300, 1800: 1800, 3600: 3600, 21600: 21600, 259200: 259200}
    week = window_seconds(slo(period_days=7))
    assert (week[3600], week[300], week[259200]) == (840, 70, 60480)
    assert min(window_seconds(slo(period_days=1)).values()) == 10


def test_the_budget_left_and_burn_rates_match_a_hand_computation() -> None:
    # 99.9% of 100,000 requests: 100 may fail; 40 did, so 60% of the budget is left.
    objective = slo(objective=0.999)
    windows = dict.fromkeys(window_seconds(objective).values(), (2, 1000))
    status = slo_status(objective, (40, 100_000), windows)
    assert (status.budget_left, status.bad, status.sli) == (0.6, 40, 0.9996)
    assert set(status.burn.values()) == {2.0}  # 0.2% bad where 0.1% is allowed
    assert [r.firing for r in status.rules] == [False, False, True]
    assert status.alert == "ticket"


def test_an_overspent_budget_is_negative_and_no_events_spend_nothing() -> None:
    objective = slo(objective=0.99)
    windows = dict.fromkeys(window_seconds(objective).values(), (0, 0))
    assert slo_status(objective, (30, 1000), windows).budget_left == -2.0
    quiet = slo_status(objective, (0, 0), windows)
    assert (quiet.budget_left, quiet.sli, quiet.alert) == (1.0, None, "none")
    assert all(r.burn is None for r in quiet.rules)


def test_a_rule_burns_at_the_lower_of_its_two_windows() -> None:
    objective = slo(objective=0.99)
    counts = dict.fromkeys(window_seconds(objective).values(), (10, 100))  # 10x everywhere
    counts[300] = (1, 100)  # the fast rule's short window has calmed down: 1x
    values = {rule: value for rule, value, _ in rule_values(objective, counts)}
    assert values == {"slo_fast_burn": 1.0, "slo_medium_burn": 10.0, "slo_slow_burn": 10.0}


def test_exactly_on_budget_fires_no_rule_at_all() -> None:
    objective = slo(objective=0.99)
    counts = {s: (s // 10, s * 10) for s in window_seconds(objective).values()}  # 1% bad
    for rule, value, events in rule_values(objective, counts):
        outcome = evaluate(effective_threshold(rule, "x"), "x", value, events, 0.0, None)
        assert outcome.events == (), rule


def test_the_burn_rules_are_alert_rules_with_the_workbooks_levels() -> None:
    for rule in BURN_RULES:
        spec = RULES[rule.rule]
        assert (spec.unit, spec.scopes, spec.warning) == ("burn", ("slo",), rule.factor)
        assert spec.critical == rule.factor if rule.severity == "critical" else spec.critical > 1
    fast = effective_threshold("slo_fast_burn", "checkout")
    outcome = evaluate(fast, "checkout", 20.0, 10, 0.0, None)
    assert [(e.kind, e.severity, e.message) for e in outcome.events] == [
        (
            "fired",
            "critical",
            "slo_fast_burn for checkout is 20x, above the critical threshold 14.4x",
        )
    ]


def test_latency_counts_a_sample_fast_only_when_its_whole_bucket_is_under_the_threshold() -> None:
    hist = LogHistogram()
    for value in (100.0, 250.0, 299.0, 300.0, 301.0, 900.0):
        hist.add(value)
    line = counted_under(300.0)
    assert 294 < line <= 300  # one 2% bucket at most below the threshold
    assert slow_count(hist, 300.0) == 4  # 299 shares the threshold's bucket: counted slow
    assert slow_count(hist, 1000.0) == 0  # every sample under it (its max is exact)
    assert slow_count(hist, 50.0) == 6
    assert slow_count(LogHistogram(), 10.0) == 0
