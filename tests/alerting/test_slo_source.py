"""SLO alerts through the alert manager: generated histories on a fake clock, where when each
burn-rate rule fires is known from the SRE workbook's rules."""

from __future__ import annotations

import pytest

from perf_mcp import Monitor
from perf_mcp.alerting import AlertManager, MemoryAlertStore, Observed
from perf_mcp.alerting.slo_source import with_slo_history, with_slos
from perf_mcp.core.alerts import AlertEvent
from tests.alerting.fakes import Clock

pytestmark = pytest.mark.anyio

HEALTHY_HOURS = 6


def record_minute(monitor: Monitor, start: float, errors_per_10s: int) -> None:
    """Ten POST /checkout requests every 10 s for a minute, ``errors_per_10s`` of them 503."""
    monitor.record_requests(
        [
            {
                "endpoint": "/checkout",
                "method": "POST",
                "status_code": 503 if i < errors_per_10s else 200,
                "duration_ms": 40.0 + i,
                "timestamp": start + bucket * 10 + i,
            }
            for bucket in range(6)
            for i in range(10)
        ]
    )


def history(monitor: Monitor, clock: Clock, errors_per_10s: int) -> None:
    """HEALTHY_HOURS of steady traffic before now."""
    for minute in range(HEALTHY_HOURS * 60, 0, -1):
        record_minute(monitor, clock.now - minute * 60, errors_per_10s)


async def run_minutes(
    manager: AlertManager, monitor: Monitor, clock: Clock, minutes: int, errors_per_10s: int
) -> list[tuple[float, AlertEvent]]:
    """Record and evaluate minute by minute: (minutes since the start, event) of each event."""
    start = clock.now
    found = []
    for _ in range(minutes):
        record_minute(monitor, clock.now, errors_per_10s)
        clock.now += 60
        found += [((clock.now - start) / 60, e) for e in await manager.evaluate_once()]
    return found


def slo_manager(monitor: Monitor, clock: Clock) -> AlertManager:
    return AlertManager(
        with_slos(lambda: Observed([]), monitor), store=MemoryAlertStore(), clock=clock
    )


async def test_an_slo_burning_at_20x_pages_when_the_fast_rule_says_and_is_acknowledged(
    monitor: Monitor, clock: Clock
) -> None:
    history(monitor, clock, errors_per_10s=0)
    monitor.set_slo("availability", 0.99, scope="endpoint", subject="POST /checkout", name="pay")
    manager = slo_manager(monitor, clock)
    # 2 of 10 fail: 20% where 1% is allowed, 20x. The fast rule needs 14.4x over 1 h:
    # 20 * t / 60 min > 14.4 after t = 43.2 min (and its 5 min window burns at 20x by then).
    events = await run_minutes(manager, monitor, clock, 50, errors_per_10s=2)
    fired = {e.rule: (minute, e) for minute, e in events if e.kind == "fired"}
    minute, fast = fired["slo_fast_burn"]
    assert minute == 44
    assert (fast.subject, fast.severity, fast.value) == (
        "pay",
        "critical",
        pytest.approx(14.67, abs=0.01),
    )
    assert fast.message.startswith(
        "slo_fast_burn for pay is 14.7x, above the critical threshold 14.4x"
    )
    # The ticket rule (1x over 3 d and 6 h; here 6 h of history) came first: 20 t / (360 + t) > 1.
    assert fired["slo_slow_burn"][0] == 19
    assert fired["slo_slow_burn"][1].severity == "warning"
    assert "slo_medium_burn" not in fired  # 6x over 6 h takes 2.6 h of this
    [alert] = [a for a in manager.list_alerts() if a.threshold == "slo_fast_burn"]
    acknowledged = await manager.acknowledge(alert.id)
    assert acknowledged.state == "acknowledged"


async def test_an_slo_exactly_on_budget_never_fires(monitor: Monitor, clock: Clock) -> None:
    history(monitor, clock, errors_per_10s=1)
    monitor.set_slo("availability", 0.9, scope="endpoint", subject="POST /checkout")
    manager = slo_manager(monitor, clock)
    events = await run_minutes(manager, monitor, clock, 30, errors_per_10s=1)  # 10%: 1x
    assert events == []
    [status] = monitor.list_slos().slos
    assert {rule.burn for rule in status.rules} == {1.0}
    assert status.budget_left == 0.0


async def test_a_deleted_slo_resolves_its_alerts(monitor: Monitor, clock: Clock) -> None:
    history(monitor, clock, errors_per_10s=5)  # 50% bad: 50x
    monitor.set_slo("availability", 0.99, name="pay", scope="endpoint", subject="/checkout")
    manager = slo_manager(monitor, clock)
    assert {e.rule for e in await manager.evaluate_once()} == {
        "slo_fast_burn",
        "slo_medium_burn",
        "slo_slow_burn",
    }
    assert monitor.delete_slo("pay")
    clock.now += 10
    assert {e.kind for e in await manager.evaluate_once()} == {"resolved"}


async def test_a_set_threshold_dry_run_replays_an_slos_burn(monitor: Monitor, clock: Clock) -> None:
    history(monitor, clock, errors_per_10s=5)  # 50% bad for 6 hours: 50x a 99% objective
    monitor.set_slo("availability", 0.99, name="pay", scope="endpoint", subject="/checkout")
    manager = AlertManager(
        with_slos(lambda: Observed([]), monitor),
        store=MemoryAlertStore(),
        clock=clock,
        history=with_slo_history(lambda rule, subject: {}, monitor),
    )
    change = await manager.set_threshold("slo_fast_burn", 100.0, dry_run=True)
    assert change.replay is not None
    assert change.baseline is not None
    assert (change.baseline.fired, change.replay.fired) == (1, 0)  # 50x: over 14.4, under 100
    assert change.baseline.fired_subjects == ["pay"]
    assert change.current.warning == change.current.critical == 100.0
