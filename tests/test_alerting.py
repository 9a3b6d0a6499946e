"""The alert manager: scheduling, Logfire and subscriber notifications, ids, acknowledgement,
thresholds, persistence across a restart, and a real Monitor as the source."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from logfire.testing import CaptureLogfire

from perf_mcp import Monitor
from perf_mcp.alerting import (
    AlertManager,
    MemoryAlertStore,
    Observation,
    Observed,
    WebhookNotifier,
    monitor_history,
    monitor_source,
)
from perf_mcp.core.alerts import AlertEvent
from perf_mcp.core.models import InvalidInputError
from perf_mcp.sampler import ResourceSample
from perf_mcp.storage import Storage
from tests.logfire_capture import alert_logs, capture_logfire
from tests.step_sleep import StepSleep

pytestmark = pytest.mark.anyio

SEARCH = "GET /search"
T0 = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class World:
    """What the source observes: the test sets values; unset subjects are not seen at all."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], tuple[float | None, int]] = {}
        self.partial: frozenset[str] = frozenset()
        self.fail: Exception | None = None

    def set(self, rule: str, subject: str, value: float | None, samples: int = 100) -> None:
        self.values[rule, subject] = (value, samples)

    def __call__(self) -> Observed:
        if self.fail is not None:
            raise self.fail
        found = [Observation(r, s, v, n) for (r, s), (v, n) in self.values.items()]
        return Observed(found, self.partial)


class Inbox:
    """A subscriber that keeps every batch of events."""

    def __init__(self) -> None:
        self.batches: list[list[AlertEvent]] = []

    def __call__(self, events: Sequence[AlertEvent]) -> None:
        self.batches.append(list(events))

    @property
    def kinds(self) -> list[tuple[str, str, str]]:
        return [(e.kind, e.rule, e.subject) for batch in self.batches for e in batch]


@pytest.fixture
def capfire() -> CaptureLogfire:
    return capture_logfire()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def store() -> MemoryAlertStore:
    return MemoryAlertStore()


@pytest.fixture
def manager(
    world: World, store: MemoryAlertStore, clock: Clock, capfire: CaptureLogfire
) -> AlertManager:
    return AlertManager(world, store=store, clock=clock)


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


# ---------------------------------------------------------------- webhook


class Receiver:
    """An httpx mock transport answering with the given statuses (or raising), in turn."""

    def __init__(self, *answers: int | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


class NoSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def fired_event(notify: bool = True) -> AlertEvent:
    return AlertEvent(
        kind="fired",
        rule="error_rate_5min",
        subject=SEARCH,
        severity="critical",
        value=0.5,
        threshold=0.2,
        unit="fraction",
        samples=40,
        at=T0,
        notify=notify,
        message="error_rate_5min for GET /search is 50%",
    )


async def test_webhook_posts_json_with_a_text_line_per_event() -> None:
    receiver = Receiver(200)
    hook = WebhookNotifier("https://hooks.example/alerts", transport=receiver.transport)
    await hook([fired_event(), fired_event(notify=False)])
    [request] = receiver.requests
    body = json.loads(request.content)
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert body["text"] == "[critical] error_rate_5min for GET /search is 50%"
    assert [(e["kind"], e["rule"], e["value"]) for e in body["events"]] == [
        ("fired", "error_rate_5min", 0.5)
    ]
    assert (hook.sent, hook.failures) == (1, 0)
    await hook([fired_event(notify=False)])  # nothing anyone should hear about: no request
    assert len(receiver.requests) == 1


async def test_webhook_retries_errors_and_timeouts_with_backoff() -> None:
    receiver = Receiver(503, httpx.ConnectTimeout("slow"), 429, 204)
    sleep = NoSleep()
    hook = WebhookNotifier(
        "http://127.0.0.1:9/hook", transport=receiver.transport, sleep=sleep, retries=3
    )
    await hook([fired_event()])
    assert len(receiver.requests) == 4
    assert sleep.calls == [1, 2, 4]
    assert (hook.sent, hook.failures) == (1, 0)


async def test_webhook_gives_up_on_a_client_error_or_after_its_retries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refused = Receiver(404)
    hook = WebhookNotifier("http://127.0.0.1:9/", transport=refused.transport, sleep=NoSleep())
    await hook([fired_event()])
    assert (len(refused.requests), hook.failures, hook.last_error) == (1, 1, "HTTP 404")
    down = Receiver(*[httpx.ConnectError("refused")] * 10)
    hook = WebhookNotifier(
        "http://127.0.0.1:9/", transport=down.transport, sleep=NoSleep(), retries=2
    )
    await hook([fired_event()])
    assert (len(down.requests), hook.failures) == (3, 1)
    assert hook.last_error == "ConnectError: refused"
    assert "alert webhook http://127.0.0.1:9/ failed" in caplog.text


def test_webhook_url_must_be_http() -> None:
    with pytest.raises(InvalidInputError, match="http:// or https://"):
        WebhookNotifier("ftp://example.com/x")
    with pytest.raises(InvalidInputError, match="http:// or https://"):
        WebhookNotifier("not a url")
    assert WebhookNotifier("http://x/", retries=2, timeout_s=5, backoff_s=1).budget_s == 18


async def test_a_webhook_that_hangs_does_not_hold_up_evaluation(
    world: World, clock: Clock, capfire: CaptureLogfire
) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await anyio.sleep_forever()
        raise AssertionError

    hook = WebhookNotifier("http://127.0.0.1:9/", transport=httpx.MockTransport(hang), timeout_s=30)
    sleep = StepSleep(stop_after=3)
    manager = AlertManager(world, clock=clock, sleep=sleep)
    manager.subscribe(hook, timeout_s=hook.budget_s)
    world.set("response_time_p95_ms", "overall", 5000)
    async with manager:
        with anyio.fail_after(10):
            await sleep.done.wait()
    assert manager.evaluations == 3


# ---------------------------------------------------------------- a real Monitor as the source


@pytest.fixture
def monitor(tmp_path: Path, clock: Clock) -> Iterator[Monitor]:
    with Monitor(tmp_path / "perf.db", clock=clock, start_flusher=False) as m:
        yield m


class FakeSampler:
    interval_s = 30.0

    def __init__(self, latest: ResourceSample | None) -> None:
        self.latest = latest


async def test_monitor_source_fires_and_resolves_on_recorded_traffic(
    monitor: Monitor, clock: Clock, capfire: CaptureLogfire
) -> None:
    manager = AlertManager(monitor_source(monitor, clock=clock), clock=clock)
    for i in range(30):
        monitor.record_request("/search", "GET", 500 if i % 2 else 200, 20.0)
        monitor.record_request("/health", "GET", 200, 1.0)
    for i in range(6):
        monitor.record_agent_run(agent_name="planner", duration_ms=100.0, success=i > 2)
    fired = {(e.rule, e.subject) for e in await manager.evaluate_once()}
    assert fired == {
        ("error_rate_5min", SEARCH),
        ("error_rate_5min", "overall"),
        ("agent_error_rate", "planner"),
    }
    clock.now += 400  # past the 5-minute window: new, healthy traffic only
    for _ in range(200):
        monitor.record_request("/search", "GET", 200, 20.0)
    resolved = {(e.kind, e.rule, e.subject) for e in await manager.evaluate_once()}
    assert resolved == {
        ("resolved", "error_rate_5min", SEARCH),
        ("resolved", "error_rate_5min", "overall"),
        ("resolved", "agent_error_rate", "planner"),
    }


async def test_monitor_source_needs_the_minimum_sample_count(
    monitor: Monitor, clock: Clock
) -> None:
    observe = monitor_source(monitor, clock=clock)
    for _ in range(19):
        monitor.record_request("/search", "GET", 500, 20.0)
    manager = AlertManager(observe, clock=clock)
    assert await manager.evaluate_once() == []
    observations = {(o.rule, o.subject): o for o in observe().observations}
    assert observations["error_rate_5min", SEARCH] == ("error_rate_5min", SEARCH, 1.0, 19)


async def test_monitor_source_reads_the_latest_fresh_resource_sample(
    monitor: Monitor, clock: Clock
) -> None:
    sample = ResourceSample(timestamp=clock.now - 5, cpu_percent=97.0, memory_percent=40.0)
    sampler: Any = FakeSampler(sample)
    observed = {
        (o.rule, o.subject): o for o in monitor_source(monitor, sampler, clock=clock)().observations
    }
    assert observed["cpu_usage_percent", "system"].value == 97.0
    assert observed["memory_usage_percent", "system"].samples == 1
    clock.now += 600  # the sampler stopped: its last reading says nothing about now
    stale = {
        (o.rule, o.subject): o for o in monitor_source(monitor, sampler, clock=clock)().observations
    }
    assert stale["cpu_usage_percent", "system"] == ("cpu_usage_percent", "system", None, 0)


# ---------------------------------------------------------------- the store on SQLite


# The tables storage.py needs for alerting (a schema migration), and a reference AlertStore
# over them: the restart test below runs it on a real file through two connections.
async def test_alerts_and_overrides_survive_a_restart_on_a_sqlite_file(
    tmp_path: Path, world: World, clock: Clock, capfire: CaptureLogfire
) -> None:
    path = tmp_path / "alerts.db"
    first_store = Storage(path)
    first = AlertManager(world, store=first_store, clock=clock)
    update = await first.set_threshold("error_rate_5min", 0.02, subject="/search")
    assert update.persisted
    world.set("error_rate_5min", SEARCH, 0.03)
    world.set("response_time_p95_ms", "overall", 3000)
    await first.evaluate_once()
    before = {a.subject: a for a in first.list_alerts()}
    await first.acknowledge(before["overall"].id, until=T0 + 3600)

    clock.now += 30
    first_store.release_alert_lease()  # as leaving the manager's context does
    first_store.close()
    store = Storage(path)  # a new connection, as after a restart
    second = AlertManager(world, store=store, clock=clock)
    assert second.threshold("error_rate_5min", SEARCH).warning == 0.02
    after = {a.subject: a for a in second.list_alerts()}
    assert {s: (a.id, a.state) for s, a in after.items()} == {
        SEARCH: (before[SEARCH].id, "firing"),
        "overall": (before["overall"].id, "acknowledged"),
    }
    assert after["overall"].acknowledged_until == T0 + 3600
    world.set("error_rate_5min", SEARCH, 0.001)
    assert [e.kind for e in await second.evaluate_once()] == ["resolved"]
    [resolved] = second.list_alerts("resolved")
    assert (resolved.id, resolved.resolved_at) == (before[SEARCH].id, clock.now)
    store.close()
    with sqlite3.connect(path) as conn:
        kinds = conn.execute("SELECT kind FROM alert_events ORDER BY id").fetchall()
    conn.close()
    assert [k for (k,) in kinds] == ["fired", "fired", "acknowledged", "resolved"]


# ---------------------------------------------------------------- servers sharing one store


async def test_servers_sharing_a_store_evaluate_once_and_follow_each_other(
    tmp_path: Path, world: World, clock: Clock, capfire: CaptureLogfire
) -> None:
    path = tmp_path / "shared.db"
    with Storage(path, clock=clock) as first_store, Storage(path, clock=clock) as second_store:
        first, second, second_clients = Inbox(), Inbox(), Inbox()
        a = AlertManager(world, store=first_store, clock=clock)
        b = AlertManager(world, store=second_store, clock=clock)
        a.subscribe(first)
        b.subscribe(second)  # a webhook: each transition once, from where it happened
        b.subscribe(second_clients, all_servers=True)  # b's own MCP clients: everything
        world.set("response_time_p95_ms", "overall", 5000)
        assert [e.kind for e in await a.evaluate_once()] == ["fired"]
        assert await b.evaluate_once() == []  # the lease is taken: b only follows
        assert (a.leader, b.leader) == (True, False)
        assert second_clients.kinds == [("fired", "response_time_p95_ms", "overall")]
        [relayed] = second_clients.batches[0]
        assert (relayed.value, relayed.threshold, relayed.unit, relayed.notify) == (
            5000,
            2000,
            "ms",
            True,
        )
        [alert] = b.list_alerts()
        assert (alert.id, alert.state) == (a.list_alerts()[0].id, "firing")

        await b.acknowledge(alert.id)  # where the user happens to ask
        clock.now += 400  # past the cooldown: only the acknowledgement keeps a quiet
        assert await a.evaluate_once() == []
        assert a.list_alerts()[0].state == "acknowledged"
        await b.set_threshold("response_time_p95_ms", 6000)
        clock.now += 10
        assert [e.kind for e in await a.evaluate_once()] == ["resolved"]
        world.set("response_time_p95_ms", "overall", 9000)
        clock.now += 10
        assert [e.kind for e in await a.evaluate_once()] == ["fired"]

        first_store.release_alert_lease()  # a stops cleanly: b takes over at its next tick
        clock.now += 10
        assert await b.evaluate_once() == []  # already firing: not announced twice
        assert b.leader
        assert await a.evaluate_once() == []
        assert not a.leader
        clock.now += b.lease_ttl_s + 1  # b died without a word: its lease runs out
        assert await a.evaluate_once() == []
        assert a.leader
        world.set("response_time_p95_ms", "overall", 100)
        clock.now += 10
        assert [e.kind for e in await a.evaluate_once()] == ["resolved"]
        await b.refresh()
        assert b.list_alerts() == []
    assert first.kinds == [
        ("fired", "response_time_p95_ms", "overall"),
        ("resolved", "response_time_p95_ms", "overall"),
        ("fired", "response_time_p95_ms", "overall"),
        ("resolved", "response_time_p95_ms", "overall"),
    ]
    assert second.kinds == [("acknowledged", "response_time_p95_ms", "overall")]
    assert second_clients.kinds == [  # what b's clients heard: all of it, once
        ("fired", "response_time_p95_ms", "overall"),
        ("acknowledged", "response_time_p95_ms", "overall"),
        ("resolved", "response_time_p95_ms", "overall"),
        ("fired", "response_time_p95_ms", "overall"),
        ("resolved", "response_time_p95_ms", "overall"),
    ]


# ---------------------------------------------------------------- history for dry runs


def traffic(monitor: Monitor, since: float, minutes: int, errors: float, ms: float) -> None:
    """30 GET /search requests a minute from ``since``, a share ``errors`` of them 500s."""
    for minute in range(minutes):
        for i in range(30):
            status = 500 if i < 30 * errors else 200
            at = since + 60 * minute + 2 * i
            monitor.record_request("/search", "GET", status, ms, timestamp=at)


async def test_history_replays_what_the_store_holds(monitor: Monitor, clock: Clock) -> None:
    hour = T0 - 3600
    traffic(monitor, hour, 20, errors=0.0, ms=20)
    traffic(monitor, hour + 1200, 10, errors=0.5, ms=1500)  # ten bad minutes
    traffic(monitor, hour + 1800, 30, errors=0.0, ms=20)
    history = monitor_history(monitor, hours=1, clock=clock)

    errors = history("error_rate_5min", SEARCH)[SEARCH]
    assert len(errors) == 56  # a point a minute, each over the 5 minutes before it
    by_time = {t: (value, n) for t, value, n in errors}
    assert by_time[hour + 1800] == (0.5, 150)  # the five minutes before are all bad
    assert by_time[hour + 900] == (0.0, 150)
    p95 = {t: v for t, v, _ in history("response_time_p95_ms", SEARCH)[SEARCH]}
    assert p95[hour + 1800] == pytest.approx(1500, rel=0.02)
    assert p95[hour + 900] == pytest.approx(20, rel=0.02)

    manager = AlertManager(monitor_source(monitor, clock=clock), history=history, clock=clock)
    stricter = await manager.set_threshold("error_rate_5min", 0.6, subject=SEARCH, dry_run=True)
    assert stricter.replay is not None
    assert stricter.baseline is not None
    assert (stricter.replay.fired, stricter.baseline.fired) == (0, 1)
    everywhere = await manager.set_threshold("response_time_p95_ms", 500, dry_run=True)
    assert everywhere.replay is not None
    assert everywhere.replay.subjects == 2  # overall and GET /search
    assert everywhere.replay.fired_subjects == sorted(["overall", SEARCH], reverse=True)
    assert manager.threshold("response_time_p95_ms").warning == 1000


async def test_history_of_resources_agents_and_tools(monitor: Monitor, clock: Clock) -> None:
    for i in range(10):
        sample = ResourceSample(timestamp=T0 - 600 + 60 * i, cpu_percent=10.0 * i)
        monitor.storage.add_resource_sample(sample.timestamp, sample.model_dump_json())
    for i in range(10):
        monitor.record_agent_run(
            agent_name="planner", duration_ms=100.0, success=i % 2 == 0, end_time=T0 - 100 + i
        )
    monitor.record_tool_call("fetch", 5.0, success=False, timestamp=T0 - 30)
    history = monitor_history(monitor, hours=1, clock=clock)

    [(subject, cpu)] = history("cpu_usage_percent", None).items()
    assert subject == "system"
    assert [v for _, v, _ in cpu] == [10.0 * i for i in range(10)]
    runs = history("agent_error_rate", None)["planner"]
    assert runs[-1][1:] == (0.5, 10)
    assert runs[0][1:] == (None, 0)
    assert history("agent_avg_time_ms", "planner")["planner"][-1][1] == pytest.approx(100)
    assert history("tool_error_rate", None)["fetch"][-1][1:] == (1.0, 1)
