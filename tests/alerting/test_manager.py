"""The alert manager: scheduling, Logfire and subscriber notifications, ids, acknowledgement,
thresholds, dry runs and persistence across a restart."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest
from logfire.testing import CaptureLogfire

from perf_mcp.alerting import (
    AlertManager,
    MemoryAlertStore,
)
from perf_mcp.core.alerts import AlertEvent
from perf_mcp.core.models import InvalidInputError
from tests.alerting.fakes import SEARCH, T0, Clock, Inbox, World
from tests.logfire_capture import alert_logs
from tests.step_sleep import StepSleep

pytestmark = pytest.mark.anyio


async def test_a_crossing_fires_once_is_logged_to_logfire_and_reaches_subscribers(
    manager: AlertManager, world: World, clock: Clock, capfire: CaptureLogfire
) -> None:
    inbox = Inbox()
    manager.subscribe(inbox)
    world.set("error_rate_5min", SEARCH, 0.5, samples=40)
    world.set("error_rate_5min", "GET /health", 0.0, samples=40)
    assert [e.kind for e in await manager.evaluate_once()] == ["fired"]
    clock.now += 10
    assert await manager.evaluate_once() == []
    assert inbox.kinds == [("fired", "error_rate_5min", SEARCH)]
    [log] = alert_logs(capfire)
    assert log["logfire.level_num"] == 17  # error: 50% is above the 20% critical level
    assert {k: log[k] for k in ("rule", "subject", "value", "threshold", "severity")} == {
        "rule": "error_rate_5min",
        "subject": SEARCH,
        "value": 0.5,
        "threshold": 0.2,
        "severity": "critical",
    }
    assert log["logfire.msg"].startswith("alert fired: error_rate_5min for GET /search is 50%")


async def test_warnings_log_at_warn_and_resolutions_at_info(
    manager: AlertManager, world: World, clock: Clock, capfire: CaptureLogfire
) -> None:
    world.set("response_time_p95_ms", "overall", 1500)
    await manager.evaluate_once()
    clock.now += 10
    world.set("response_time_p95_ms", "overall", 300)
    await manager.evaluate_once()
    assert [(log["kind"], log["logfire.level_num"]) for log in alert_logs(capfire)] == [
        ("fired", 13),
        ("resolved", 9),
    ]


async def test_repeats_after_the_cooldown_and_resolves_with_hysteresis(
    manager: AlertManager, world: World, clock: Clock
) -> None:
    inbox = Inbox()
    manager.subscribe(inbox)
    world.set("response_time_p95_ms", SEARCH, 1500)
    for _ in range(31):  # 300 s of 10 s evaluations
        await manager.evaluate_once()
        clock.now += 10
    world.set("response_time_p95_ms", SEARCH, 950)  # below 1000 but above 90% of it
    await manager.evaluate_once()
    world.set("response_time_p95_ms", SEARCH, 850)
    await manager.evaluate_once()
    assert [kind for kind, _, _ in inbox.kinds] == ["fired", "repeated", "resolved"]
    [alert] = manager.list_alerts("all")
    assert (alert.state, alert.value, alert.resolved_at) == ("resolved", 850, clock.now)


async def test_alerts_have_ids_states_and_fresh_values(
    manager: AlertManager, world: World, clock: Clock
) -> None:
    world.set("tool_error_rate", "search_web", 0.3, samples=10)
    await manager.evaluate_once()
    clock.now += 10
    world.set("tool_error_rate", "search_web", 0.35, samples=12)
    await manager.evaluate_once()
    [alert] = manager.list_alerts()
    assert alert.id >= 1
    assert (alert.threshold, alert.subject, alert.severity, alert.state) == (
        "tool_error_rate",
        "search_web",
        "warning",
        "firing",
    )
    assert (alert.value, alert.limit, alert.unit) == (0.35, 0.2, "fraction")
    assert alert.started_at == T0
    assert manager.active_count() == 1
    assert manager.list_alerts("resolved") == []


async def test_a_subject_that_disappears_resolves_unless_its_list_was_cut_short(
    manager: AlertManager, world: World, clock: Clock
) -> None:
    world.set("agent_error_rate", "planner", 0.5, samples=10)
    world.set("tool_error_rate", "fetch", 0.9, samples=10)
    await manager.evaluate_once()
    world.values.clear()
    world.partial = frozenset({"tool_error_rate"})
    clock.now += 400  # the 5-minute window has emptied
    events = await manager.evaluate_once()
    assert [(e.kind, e.subject) for e in events] == [("resolved", "planner")]
    assert events[0].message.endswith("no data in the window")
    assert [a.subject for a in manager.list_alerts()] == ["fetch"]


async def test_acknowledge_by_id_silences_repeats_and_is_announced(
    manager: AlertManager, world: World, clock: Clock
) -> None:
    inbox = Inbox()
    manager.subscribe(inbox)
    world.set("cpu_usage_percent", "system", 90, samples=1)
    await manager.evaluate_once()
    [alert] = manager.list_alerts()
    clock.now += 5
    acked = await manager.acknowledge(alert.id)
    assert (acked.id, acked.state, acked.acknowledged_at) == (alert.id, "acknowledged", T0 + 5)
    for _ in range(100):
        clock.now += 10
        await manager.evaluate_once()
    assert [kind for kind, _, _ in inbox.kinds] == ["fired", "acknowledged"]
    assert [a.state for a in manager.list_alerts("acknowledged")] == ["acknowledged"]
    assert manager.list_alerts("firing") == []


async def test_acknowledge_until_a_time_then_repeats_resume(
    manager: AlertManager, world: World, clock: Clock
) -> None:
    world.set("memory_usage_percent", "system", 90, samples=1)
    await manager.evaluate_once()
    [alert] = manager.list_alerts()
    await manager.acknowledge(alert.id, until=T0 + 600)
    clock.now = T0 + 590
    assert await manager.evaluate_once() == []
    assert manager.list_alerts()[0].state == "acknowledged"
    clock.now = T0 + 600
    assert [e.kind for e in await manager.evaluate_once()] == ["repeated"]
    assert manager.list_alerts()[0].state == "firing"


async def test_acknowledging_unknown_or_resolved_alerts_says_what_to_do(
    manager: AlertManager, world: World, clock: Clock
) -> None:
    with pytest.raises(InvalidInputError, match=r"list_alerts\(status='active'\)"):
        await manager.acknowledge(42)
    world.set("response_time_p99_ms", "overall", 9000)
    await manager.evaluate_once()
    [alert] = manager.list_alerts()
    world.set("response_time_p99_ms", "overall", 10)
    clock.now += 10
    await manager.evaluate_once()
    with pytest.raises(InvalidInputError, match="is resolved"):
        await manager.acknowledge(alert.id)


async def test_alerts_acknowledgements_and_overrides_survive_a_restart(
    world: World, store: MemoryAlertStore, clock: Clock, capfire: CaptureLogfire
) -> None:
    first = AlertManager(world, store=store, clock=clock)
    await first.set_threshold("agent_avg_time_ms", 30_000, subject="planner")
    world.set("agent_avg_time_ms", "planner", 40_000, samples=8)
    world.set("agent_avg_time_ms", "writer", 40_000, samples=8)
    await first.evaluate_once()
    by_subject = {a.subject: a for a in first.list_alerts()}
    assert by_subject["planner"].limit == 30_000
    await first.acknowledge(by_subject["writer"].id)

    clock.now += 60
    second = AlertManager(world, store=store, clock=clock)
    assert second.threshold("agent_avg_time_ms", "planner").warning == 30_000
    after = {a.subject: a for a in second.list_alerts()}
    assert {s: (a.id, a.state) for s, a in after.items()} == {
        "planner": (by_subject["planner"].id, "firing"),
        "writer": (by_subject["writer"].id, "acknowledged"),
    }
    assert await second.evaluate_once() == []  # no second "fired" after the restart
    clock.now += 300
    assert [(e.kind, e.subject) for e in await second.evaluate_once()] == [("repeated", "planner")]


async def test_set_threshold_validates_applies_and_lists(
    manager: AlertManager, world: World
) -> None:
    with pytest.raises(InvalidInputError, match="allowed: response_time_p95_ms"):
        await manager.set_threshold("p95", 100)
    with pytest.raises(InvalidInputError, match="between 1 ms and 3600000 ms"):
        await manager.set_threshold("response_time_p95_ms", 0)
    world.set("response_time_p95_ms", SEARCH, 700)
    assert await manager.evaluate_once() == []
    update = await manager.set_threshold("response_time_p95_ms", 500, subject="/search")
    assert (update.previous.warning, update.current.warning, update.current.critical) == (
        1000,
        500,
        1000,
    )
    assert update.persisted is False  # a MemoryAlertStore keeps nothing across processes
    assert [e.kind for e in await manager.evaluate_once()] == ["fired"]
    [row] = [r for r in manager.list_thresholds() if r.name == "response_time_p95_ms"]
    assert (row.warning, [o.subject for o in row.subject_overrides]) == (1000, ["/search"])
    assert await manager.reset_threshold("response_time_p95_ms", "/search")
    assert not await manager.reset_threshold("response_time_p95_ms", "/search")


async def test_dry_run_replays_history_and_changes_nothing(
    world: World, store: MemoryAlertStore, clock: Clock, capfire: CaptureLogfire
) -> None:
    asked: list[tuple[str, str | None]] = []

    def history(rule: str, subject: str | None) -> dict[str, list[tuple[float, float | None, int]]]:
        asked.append((rule, subject))
        return {"overall": [(T0 + 60 * i, 0.02 if i % 10 else 0.5, 200) for i in range(60)]}

    manager = AlertManager(world, store=store, clock=clock, history=history)
    update = await manager.set_threshold("error_rate_5min", 0.01, dry_run=True)
    assert update.dry_run
    assert update.replay is not None
    assert (update.replay.evaluations, update.replay.fired) == (60, 1)
    assert update.replay.still_firing
    assert (update.replay.first_at, update.replay.last_at) == (T0, T0 + 59 * 60)
    assert update.baseline is not None
    assert update.baseline.fired == 6  # the levels in effect now: each spike fires
    assert "1 episode(s) with the new levels, 6 with the current ones" in update.note
    assert update.threshold.warning == 0.01  # the table as it would be
    assert asked == [("error_rate_5min", None)]
    assert manager.threshold("error_rate_5min").warning == 0.05
    assert store.overrides == {}
    default = await manager.set_threshold("error_rate_5min", 0.10, dry_run=True)
    assert default.replay is not None
    assert default.replay.fired == 6  # each spike fires; the 2% between them resolves it


async def test_a_failing_source_is_counted_and_the_next_evaluation_works(
    manager: AlertManager, world: World
) -> None:
    world.fail = RuntimeError("database is locked")
    assert await manager.evaluate_once() == []
    assert (manager.errors, manager.last_error) == (
        1,
        "alert evaluation failed: RuntimeError: database is locked",
    )
    world.fail = None
    world.set("response_time_p95_ms", "overall", 5000)
    assert [e.kind for e in await manager.evaluate_once()] == ["fired"]


async def test_a_failing_or_stuck_subscriber_never_holds_up_evaluation(
    world: World, clock: Clock, capfire: CaptureLogfire
) -> None:
    stuck = anyio.Event()

    async def never_returns(events: Sequence[AlertEvent]) -> None:
        await stuck.wait()

    def raises(events: Sequence[AlertEvent]) -> None:
        raise RuntimeError("client went away")

    inbox = Inbox()
    sleep = StepSleep(stop_after=3)
    manager = AlertManager(world, clock=clock, sleep=sleep)
    for callback in (never_returns, raises, inbox):
        manager.subscribe(callback)
    world.set("response_time_p95_ms", "overall", 5000)
    async with manager:
        with anyio.fail_after(10):
            await sleep.done.wait()
    assert manager.evaluations == 3
    assert inbox.kinds == [("fired", "response_time_p95_ms", "overall")]


async def test_runs_every_interval_and_refuses_a_shorter_one(world: World, clock: Clock) -> None:
    with pytest.raises(InvalidInputError, match="at least 1 s"):
        AlertManager(world, interval_s=0.1)
    sleep = StepSleep(stop_after=4)
    manager = AlertManager(world, clock=clock, sleep=sleep)
    assert manager.interval_s == 10
    async with manager:
        assert manager.running
        with anyio.fail_after(10):
            await sleep.done.wait()
    assert not manager.running
    assert manager.evaluations == 4
    assert all(9 < s <= 10 for s in sleep.calls)
