"""The alert state machine on a fake clock: fire, hold, repeat, escalate, acknowledge, resolve."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perf_mcp.core.alerts import (
    AlertEvent,
    AlertState,
    Threshold,
    ThresholdOverride,
    acknowledge,
    effective_threshold,
    evaluate,
    make_override,
)
from perf_mcp.core.models import InvalidInputError

P95 = effective_threshold("response_time_p95_ms", "GET /search")
SEARCH = "GET /search"


class Timeline:
    """Feeds values to evaluate() for one rule and subject, keeping the state and the events."""

    def __init__(self, threshold: Threshold = P95, subject: str = SEARCH) -> None:
        self.threshold = threshold
        self.subject = subject
        self.state: AlertState | None = None
        self.events: list[AlertEvent] = []

    def at(self, now: float, value: float | None, samples: int = 100) -> list[str]:
        """Evaluate at ``now``; the kinds of the events of this step."""
        result = evaluate(self.threshold, self.subject, value, samples, now, self.state)
        self.state = result.state
        self.events.extend(result.events)
        return [e.kind for e in result.events]

    def ack(self, now: float, until: float | None = None) -> None:
        assert self.state is not None
        result = acknowledge(self.state, now, until)
        self.state = result.state
        self.events.extend(result.events)

    @property
    def current(self) -> AlertState:
        assert self.state is not None
        return self.state

    @property
    def notified(self) -> list[tuple[str, float]]:
        return [(e.kind, e.at) for e in self.events if e.notify]


def test_overrides_and_states_survive_a_json_round_trip() -> None:
    override = make_override("tool_error_rate", 0.3, subject="search_web", now=12.5)
    assert ThresholdOverride.model_validate_json(override.model_dump_json()) == override
    line = Timeline()
    line.at(0, 1500)
    line.ack(10, until=100)
    assert AlertState.model_validate_json(line.current.model_dump_json()) == line.current


def test_fires_once_then_holds_quietly_inside_the_cooldown() -> None:
    line = Timeline()
    assert line.at(0, 800) == []
    assert line.at(10, 1500) == ["fired"]
    for now in range(20, 300, 10):
        assert line.at(now, 1500) == []
    event = line.events[0]
    assert (event.severity, event.value, event.threshold, event.notify) == (
        "warning",
        1500,
        1000,
        True,
    )
    assert event.message == (
        "response_time_p95_ms for GET /search is 1500 ms, above the warning threshold "
        "1000 ms (100 requests in the window)"
    )


def test_value_at_the_threshold_does_not_fire() -> None:
    assert Timeline().at(0, 1000) == []


def test_repeats_after_the_cooldown_and_not_before() -> None:
    line = Timeline()
    line.at(0, 1500)
    assert line.at(299, 1500) == []
    assert line.at(300, 1500) == ["repeated"]
    assert line.at(590, 1500) == []
    assert line.at(600, 1500) == ["repeated"]
    assert line.notified == [("fired", 0), ("repeated", 300), ("repeated", 600)]
    assert "firing for 5 min" in line.events[1].message


def test_resolves_only_below_the_hysteresis_line() -> None:
    line = Timeline()
    line.at(0, 1500)
    assert line.at(10, 950) == []  # under the threshold but above 90% of it
    assert line.current.firing
    assert line.at(20, 900) == ["resolved"]
    resolved = line.events[-1]
    assert resolved.notify
    assert "at or below 900 ms (90% of the warning threshold 1000 ms)" in resolved.message
    assert not line.current.firing


def test_a_value_hovering_at_the_line_does_not_flap() -> None:
    line = Timeline()
    for step, value in enumerate([1001, 999, 1002, 950, 1010, 998] * 20):
        line.at(step * 10, value)
    assert [e.kind for e in line.events if e.kind in ("fired", "resolved")] == ["fired"]


def test_a_refire_inside_the_cooldown_is_recorded_but_does_not_notify() -> None:
    line = Timeline()
    line.at(0, 1500)
    line.at(10, 100)
    assert line.at(60, 1500) == ["fired"]
    assert not line.events[-1].notify
    assert line.at(70, 100) == ["resolved"]
    assert not line.events[-1].notify  # nobody was told it fired, so nobody is told it resolved
    line.at(80, 1500)
    assert line.at(300, 1500) == ["repeated"]
    assert line.notified == [("fired", 0), ("resolved", 10), ("repeated", 300)]


def test_acknowledgement_silences_repeats_until_resolved() -> None:
    line = Timeline()
    line.at(0, 1500)
    line.ack(5)
    assert line.events[-1].kind == "acknowledged"
    assert "until it resolves" in line.events[-1].message
    assert all(line.at(now, 1500) == [] for now in range(10, 3600, 10))
    assert line.at(3600, 100) == ["resolved"]
    assert not line.current.acknowledged
    assert line.at(4000, 1500) == ["fired"]  # a new episode is not acknowledged
    assert line.events[-1].notify


def test_acknowledgement_names_who_acknowledged_in_the_history() -> None:
    line = Timeline()
    line.at(0, 1500)
    assert line.state is not None
    (event,) = acknowledge(line.state, 5, by="full token (client says it is 'ops')").events
    assert event.message.endswith("until it resolves by full token (client says it is 'ops')")


def test_acknowledgement_until_a_time_lets_repeats_resume_after_it() -> None:
    line = Timeline()
    line.at(0, 1500)
    line.ack(5, until=1000)
    assert "until 1970-01-01T00:16:40+00:00" in line.events[-1].message
    assert [line.at(now, 1500) for now in (300, 600, 900)] == [[], [], []]
    assert line.at(1000, 1500) == ["repeated"]


def test_acknowledging_needs_a_firing_alert_and_a_future_time() -> None:
    line = Timeline()
    line.at(0, 100)
    with pytest.raises(InvalidInputError, match="nothing to acknowledge"):
        line.ack(1)
    line.at(10, 1500)
    with pytest.raises(InvalidInputError, match="in the future"):
        line.ack(20, until=15)


def test_minimum_samples_keep_a_thin_window_from_firing() -> None:
    line = Timeline(effective_threshold("error_rate_5min", SEARCH))
    assert line.at(0, 1.0, samples=19) == []
    assert line.at(10, 1.0, samples=20) == ["fired"]
    agent = Timeline(effective_threshold("agent_error_rate", "planner"), "planner")
    assert agent.at(0, 1.0, samples=4) == []
    assert agent.at(10, 1.0, samples=5) == ["fired"]


def test_a_firing_alert_holds_on_thin_data_and_resolves_on_no_data() -> None:
    line = Timeline()
    line.at(0, 1500)
    assert line.at(10, 100, samples=3) == []  # too few to call it recovered
    assert line.current.firing
    assert line.at(20, None, samples=0) == ["resolved"]
    assert line.events[-1].message.endswith("resolved: no data in the window")


def test_escalates_at_once_even_inside_the_cooldown_and_when_acknowledged() -> None:
    line = Timeline()
    line.at(0, 1500)
    line.ack(5)
    assert line.at(10, 2500) == ["escalated"]
    event = line.events[-1]
    assert (event.severity, event.threshold, event.notify) == ("critical", 2000, True)
    assert not line.current.acknowledged


def test_fires_straight_to_critical_and_deescalates_with_hysteresis() -> None:
    line = Timeline()
    assert line.at(0, 5000) == ["fired"]
    assert line.at(10, 1900) == []  # below critical but above 90% of it
    assert line.at(20, 1800) == ["deescalated"]
    assert line.at(30, 800) == ["resolved"]
    assert [(e.kind, e.severity, e.notify) for e in line.events] == [
        ("fired", "critical", True),
        ("deescalated", "warning", False),
        ("resolved", "warning", True),  # resolved carries the severity it resolved from
    ]


def test_subjects_are_independent() -> None:
    threshold = effective_threshold("tool_error_rate")
    search, fetch = Timeline(threshold, "search_web"), Timeline(threshold, "fetch_url")
    assert search.at(0, 0.5, samples=10) == ["fired"]
    assert fetch.at(0, 0.1, samples=10) == []
    assert fetch.at(60, 0.9, samples=10) == ["fired"]  # its own cooldown, not search's
    assert fetch.events[-1].notify
    assert [e.subject for e in search.events + fetch.events] == ["search_web", "fetch_url"]


def test_system_rules_need_one_sample() -> None:
    cpu = Timeline(effective_threshold("cpu_usage_percent"), "system")
    assert cpu.at(0, 93.5, samples=1) == ["fired"]
    assert cpu.events[-1].message == (
        "cpu_usage_percent for system is 93.5%, above the warning threshold 80.0%"
    )


# ---------------------------------------------------------------- properties

values = st.one_of(st.none(), st.floats(0, 5000, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.floats(1, 400), values, st.integers(0, 60), st.booleans()), max_size=60
    )
)
def test_people_are_never_told_twice_inside_a_cooldown_except_to_escalate(
    steps: Sequence[tuple[float, float | None, int, bool]],
) -> None:
    line, now = Timeline(), 0.0
    for gap, value, samples, ack in steps:
        now += gap
        line.at(now, value, samples)
        if ack and line.state is not None and line.state.firing:
            line.ack(now)
    last: float | None = None
    for kind, at in line.notified:
        if kind in ("fired", "repeated") and last is not None:
            assert at - last >= P95.cooldown_s
        if kind != "resolved":
            last = at
    kinds = [e.kind for e in line.events if e.kind in ("fired", "resolved")]
    assert all(a != b for a, b in pairwise(kinds))
