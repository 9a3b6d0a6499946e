"""Alert records: opened by a fire, kept current, acknowledged, closed by a resolve, and pruned."""

from __future__ import annotations

from perf_mcp.core.alerts import (
    AlertRecord,
    AlertState,
    acknowledge,
    active_alerts,
    effective_threshold,
    evaluate,
    forget_quiet,
    record_events,
)

KEY = ("error_rate_5min", "GET /pay")
RATE = effective_threshold(*KEY)


def test_an_episode_opens_one_record_and_its_resolve_closes_it() -> None:
    states: dict[tuple[str, str], AlertState] = {}
    open_alerts: dict[tuple[str, str], AlertRecord] = {}
    fired = evaluate(RATE, KEY[1], 0.1, 40, now=0.0, prior=None)
    states[KEY] = fired.state
    [opened] = record_events(fired.events, states, open_alerts, now=0.0)
    assert (opened.state, opened.severity, opened.value, opened.limit) == (
        "firing",
        "warning",
        0.1,
        0.05,
    )
    acked = acknowledge(states[KEY], now=5.0)
    states[KEY] = acked.state
    [record] = record_events(acked.events, states, open_alerts, now=5.0)
    assert (record.state, record.acknowledged_at, record.message) == (
        "acknowledged",
        5.0,
        opened.message,  # the message keeps saying what is wrong
    )
    assert [a.state for a in active_alerts(open_alerts, states, now=6.0)] == ["acknowledged"]
    resolved = evaluate(RATE, KEY[1], 0.0, 40, now=10.0, prior=states[KEY])
    states[KEY] = resolved.state
    [closed] = record_events(resolved.events, states, open_alerts, now=10.0)
    assert (closed.state, closed.resolved_at, closed.started_at) == ("resolved", 10.0, 0.0)
    assert open_alerts == {}
    assert active_alerts(open_alerts, states, now=11.0) == []


def test_quiet_subjects_are_forgotten_once_their_cooldown_has_passed() -> None:
    fired = evaluate(RATE, KEY[1], 0.1, 40, now=0.0, prior=None)
    resolved = evaluate(RATE, KEY[1], 0.0, 40, now=10.0, prior=fired.state)
    never = ("error_rate_5min", "GET /quiet")
    states = {KEY: resolved.state, never: AlertState(rule=never[0], subject=never[1])}
    forget_quiet(states, {}, now=100.0, cooldown_s=lambda key: 300.0)
    assert list(states) == [KEY]  # told someone 100 s ago: a re-fire now must stay quiet
    forget_quiet(states, {}, now=300.0, cooldown_s=lambda key: 300.0)
    assert states == {}
