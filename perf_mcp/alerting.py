"""AlertManager: evaluates the rules on a schedule, keeps alert state, and tells people once.

The rules and their state machine are pure (``perf_mcp.core.rules``); this module feeds them
observed values, stores what happened, logs every transition to Logfire and calls
subscribers (the server turns those calls into MCP ``resources/updated`` notifications).

>>> import anyio
>>> from perf_mcp import Monitor
>>> async def main() -> None:
...     with Monitor(":memory:") as monitor:
...         async with AlertManager(monitor_source(monitor), interval_s=10) as alerts:
...             events = await alerts.evaluate_once()
...             print(events, alerts.list_alerts())
>>> anyio.run(main)
[] []
"""

from __future__ import annotations

import inspect
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

import anyio
import anyio.abc
import logfire
from pydantic import BaseModel, ConfigDict, Field

from perf_mcp.core import rules
from perf_mcp.core.models import EndpointSort, InvalidInputError, Window
from perf_mcp.core.rules import (
    AlertEvent,
    AlertRecord,
    AlertState,
    AlertStatus,
    ReplaySummary,
    RuleSettings,
    Severity,
    Threshold,
    ThresholdInfo,
    ThresholdOverride,
)

if TYPE_CHECKING:
    import httpx

    from perf_mcp.monitor import Monitor
    from perf_mcp.sampler import ResourceSampler

DEFAULT_INTERVAL_S = 10.0
MIN_INTERVAL_S = 1.0
SUBSCRIBER_TIMEOUT_S = 10.0

logger = logging.getLogger(__name__)

AlertFilter = Literal["active", "firing", "acknowledged", "resolved", "all"]


class Observation(NamedTuple):
    """One observed value of one rule for one subject (None: no data)."""

    rule: str
    subject: str
    value: float | None
    samples: int


class Observed(NamedTuple):
    """What a source saw: the values, and the rules whose subject lists were cut short.

    A firing alert whose subject is missing is resolved for lack of data, unless its rule
    is in ``partial`` (the subject may simply not have made the list).
    """

    observations: list[Observation]
    partial: frozenset[str] = frozenset()


ObservationSource = Callable[[], Observed]
HistorySource = Callable[[str, str | None], Sequence[tuple[float, float | None, int]]]
Subscriber = Callable[[Sequence["AlertEvent"]], Awaitable[None] | None]


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


class ThresholdUpdate(_Answer):
    """The answer to ``set_threshold``: the levels before and after, and a dry run's replay."""

    threshold: ThresholdInfo
    subject: str | None
    previous: Threshold
    current: Threshold
    dry_run: bool
    persisted: bool = Field(description="True when stored so it survives a restart.")
    replay: ReplaySummary | None = Field(
        default=None, description="Dry run: how the new levels would have behaved on history."
    )
    note: str = ""


class AlertStore(Protocol):
    """What the alert manager needs stored; ``storage.Storage`` implements it on SQLite."""

    def load_overrides(self) -> list[ThresholdOverride]: ...
    def save_override(self, override: ThresholdOverride) -> None: ...
    def delete_override(self, rule: str, subject: str | None) -> bool: ...
    def load_alert_states(self) -> list[AlertState]: ...
    def save_alert_states(self, states: Sequence[AlertState]) -> None: ...
    def save_alert(self, alert: AlertRecord) -> int:
        """Insert (``id == 0``) or update an alert; return its id."""
        ...

    def list_alerts(
        self, status: AlertStatus | None, since: float | None, limit: int
    ) -> list[AlertRecord]:
        """Alerts newest first, of one status (None: any) started or resolved since ``since``."""
        ...

    def get_alert(self, alert_id: int) -> AlertRecord | None: ...
    def add_alert_events(self, events: Sequence[tuple[int, AlertEvent]]) -> None:
        """Append transitions, each with its alert's id."""
        ...


class MemoryAlertStore:
    """An AlertStore in memory: for tests and for a private ``:memory:`` server."""

    persistent = False

    def __init__(self) -> None:
        self.overrides: dict[tuple[str, str | None], ThresholdOverride] = {}
        self.states: dict[tuple[str, str], AlertState] = {}
        self.alerts: dict[int, AlertRecord] = {}
        self.events: list[tuple[int, AlertEvent]] = []

    def load_overrides(self) -> list[ThresholdOverride]:
        return list(self.overrides.values())

    def save_override(self, override: ThresholdOverride) -> None:
        self.overrides[override.rule, override.subject] = override

    def delete_override(self, rule: str, subject: str | None) -> bool:
        return self.overrides.pop((rule, subject), None) is not None

    def load_alert_states(self) -> list[AlertState]:
        return list(self.states.values())

    def save_alert_states(self, states: Sequence[AlertState]) -> None:
        for state in states:
            self.states[state.rule, state.subject] = state

    def save_alert(self, alert: AlertRecord) -> int:
        alert_id = alert.id or max(self.alerts, default=0) + 1
        self.alerts[alert_id] = alert.model_copy(update={"id": alert_id})
        return alert_id

    def list_alerts(
        self, status: AlertStatus | None, since: float | None, limit: int
    ) -> list[AlertRecord]:
        found = [
            a
            for a in sorted(self.alerts.values(), key=lambda a: (a.started_at, a.id), reverse=True)
            if (status is None or a.state == status)
            and (since is None or max(a.started_at, a.resolved_at or 0) >= since)
        ]
        return found[:limit]

    def get_alert(self, alert_id: int) -> AlertRecord | None:
        return self.alerts.get(alert_id)

    def add_alert_events(self, events: Sequence[tuple[int, AlertEvent]]) -> None:
        self.events.extend(events)


# ---------------------------------------------------------------- where values come from


def monitor_source(
    monitor: Monitor,
    sampler: ResourceSampler | None = None,
    *,
    window: Window = "5m",
    limit: int = 500,
    max_sample_age_s: float | None = None,
    clock: Callable[[], float] = time.time,
) -> ObservationSource:
    """Observe the rules through the Monitor's query API and the sampler's latest reading.

    Blocking (SQLite queries): the manager calls it in a worker thread.
    """

    def observe() -> Observed:
        summary = monitor.get_performance_summary(window)
        endpoints = monitor.get_endpoint_stats(window=window, limit=limit)
        endpoint_rows = {(e.method, e.endpoint): e for e in endpoints.endpoints}
        if endpoints.truncated:  # the slowest may not be the most failing: ask for both
            for sort in _EXTRA_SORTS:
                more = monitor.get_endpoint_stats(window=window, limit=limit, sort_by=sort)
                endpoint_rows.update({(e.method, e.endpoint): e for e in more.endpoints})
        agents = monitor.get_agent_stats(window=window, limit=limit)
        tools = monitor.get_tool_stats(window=window, limit=limit)
        latest = sampler.latest if sampler is not None else None
        if latest is not None and sampler is not None:
            max_age = max_sample_age_s or 3 * sampler.interval_s + 5
            if clock() - latest.timestamp > max_age:
                latest = None  # a sampler that stopped is no evidence about now

        found: list[Observation] = []
        totals = summary.requests
        for rule, value in _request_values(totals.p95_ms, totals.p99_ms, totals.error_rate):
            found.append(Observation(rule, rules.OVERALL, value, totals.count))
        for e in endpoint_rows.values():
            subject = f"{e.method} {e.endpoint}"
            for rule, value in _request_values(e.p95_ms, e.p99_ms, e.error_rate):
                found.append(Observation(rule, subject, value, e.count))
        for a in agents.agents:
            found.append(Observation("agent_error_rate", a.agent_name, a.error_rate, a.runs))
            found.append(Observation("agent_avg_time_ms", a.agent_name, a.mean_ms, a.runs))
        for t in tools.tools:
            found.append(Observation("tool_error_rate", t.tool_name, t.error_rate, t.calls))
        cpu = latest.cpu_percent if latest else None
        memory = latest.memory_percent if latest else None
        found.append(Observation("cpu_usage_percent", rules.SYSTEM, cpu, int(cpu is not None)))
        found.append(
            Observation("memory_usage_percent", rules.SYSTEM, memory, int(memory is not None))
        )
        partial = set()
        if endpoints.truncated:
            partial |= {"response_time_p95_ms", "response_time_p99_ms", "error_rate_5min"}
        if agents.truncated:
            partial |= {"agent_error_rate", "agent_avg_time_ms"}
        if tools.truncated:
            partial.add("tool_error_rate")
        return Observed(found, frozenset(partial))

    return observe


_EXTRA_SORTS: tuple[EndpointSort, ...] = ("error_rate", "p99_ms")


def _request_values(
    p95: float | None, p99: float | None, error_rate: float | None
) -> list[tuple[str, float | None]]:
    return [
        ("response_time_p95_ms", p95),
        ("response_time_p99_ms", p99),
        ("error_rate_5min", error_rate),
    ]


# ---------------------------------------------------------------- the manager


class AlertManager:
    """Evaluates every rule each ``interval_s`` seconds over what ``source`` observes.

    An async context manager owning a task group. Every transition is logged to Logfire
    (``warn`` for warnings, ``error`` for critical, ``info`` for resolved and acknowledged)
    and handed to subscribers; subscribers run in the task group, so a slow or failing one
    never holds up evaluation.
    """

    def __init__(
        self,
        source: ObservationSource,
        *,
        store: AlertStore | None = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        settings: RuleSettings | None = None,
        history: HistorySource | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        log: logfire.Logfire | None = None,
    ) -> None:
        if not (isinstance(interval_s, int | float) and math.isfinite(interval_s)) or (
            interval_s < MIN_INTERVAL_S
        ):
            raise InvalidInputError(
                f"alert evaluation interval must be at least {MIN_INTERVAL_S:g} s, "
                f"got {interval_s!r}"
            )
        self.interval_s = float(interval_s)
        self.settings = settings or RuleSettings()
        self._source = source
        self._store: AlertStore = store if store is not None else MemoryAlertStore()
        self._history = history
        self._clock = clock
        self._sleep = sleep
        self._log = log or logfire.DEFAULT_LOGFIRE_INSTANCE
        self._lock = threading.Lock()  # state is read from tool calls while a thread evaluates
        self._evaluating = anyio.Lock()
        self._subscribers: list[tuple[Subscriber, float]] = []
        self._task_group: anyio.abc.TaskGroup | None = None
        self.evaluations = 0
        self.errors = 0
        self.last_error: str | None = None
        self.last_evaluated_at: float | None = None
        self._overrides = {(o.rule, o.subject): o for o in self._store.load_overrides()}
        self._states = {(s.rule, s.subject): s for s in self._store.load_alert_states()}
        self._open: dict[tuple[str, str], AlertRecord] = {}
        self._per_subject: set[str] = set()
        for status in ("firing", "acknowledged"):
            for alert in self._store.list_alerts(status, None, 100_000):
                self._open.setdefault((alert.threshold, alert.subject), alert)

    # ------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        """True between entering and leaving the context."""
        return self._task_group is not None

    async def __aenter__(self) -> AlertManager:
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        task_group.start_soon(self._run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        task_group, self._task_group = self._task_group, None
        assert task_group is not None
        task_group.cancel_scope.cancel()
        return await task_group.__aexit__(exc_type, exc, tb)

    async def _run(self) -> None:
        while True:
            started = anyio.current_time()
            await self.evaluate_once()
            await self._sleep(max(0.0, self.interval_s - (anyio.current_time() - started)))

    def subscribe(
        self, callback: Subscriber, *, timeout_s: float = SUBSCRIBER_TIMEOUT_S
    ) -> Callable[[], None]:
        """Call ``callback(events)`` after each change; returns a function that unsubscribes.

        It may be async. It runs in the event loop and is cancelled after ``timeout_s``;
        an exception is logged and ignored.
        """
        entry = (callback, timeout_s)
        self._subscribers.append(entry)

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)

        return unsubscribe

    # ------------------------------------------------------------ evaluation

    async def evaluate_once(self) -> list[AlertEvent]:
        """Observe, evaluate every rule, store and announce the transitions."""
        async with self._evaluating:
            try:
                events = await anyio.to_thread.run_sync(self._evaluate)
            except Exception as exc:  # a failing source or store must not stop alerting
                self.errors += 1
                self.last_error = f"alert evaluation failed: {type(exc).__name__}: {exc}"
                logger.warning("alert evaluation failed", exc_info=exc)
                return []
        await self._publish(events)
        return events

    def _evaluate(self) -> list[AlertEvent]:
        observed = self._source()
        now = self._clock()
        with self._lock:
            seen: set[tuple[str, str]] = set()
            changed: list[AlertState] = []
            events: list[AlertEvent] = []
            thresholds: dict[tuple[str, str | None], Threshold] = {}
            self._per_subject = {rule for rule, subject in self._overrides if subject is not None}
            for rule, subject, value, samples in observed.observations:
                key = (rule, subject)
                seen.add(key)
                self._step(key, value, samples, now, thresholds, changed, events)
            for key, state in list(self._states.items()):
                if key not in seen and state.firing and key[0] not in observed.partial:
                    self._step(key, None, 0, now, thresholds, changed, events)
            records = self._record(events, now)
            self._prune(now)
            self.evaluations += 1
            self.last_evaluated_at = now
        self._persist(changed, records, events)
        return events

    def _step(
        self,
        key: tuple[str, str],
        value: float | None,
        samples: int,
        now: float,
        thresholds: dict[tuple[str, str | None], Threshold],
        changed: list[AlertState],
        events: list[AlertEvent],
    ) -> None:
        rule, subject = key
        cache_key = key if rule in self._per_subject else (rule, None)
        threshold = thresholds.get(cache_key)
        if threshold is None:
            threshold = thresholds[cache_key] = self._threshold(rule, subject)
        prior = self._states.get(key)
        result = rules.evaluate(threshold, subject, value, samples, now, prior)
        self._states[key] = result.state
        if result.events:
            changed.append(result.state)
            events.extend(result.events)
        elif result.state.firing and key in self._open:  # keep the listed value fresh
            self._open[key] = self._open[key].model_copy(
                update={"value": result.state.value, "updated_at": now}
            )

    def _threshold(self, rule: str, subject: str | None) -> Threshold:
        return rules.effective_threshold(rule, subject, self._overrides.values(), self.settings)

    def _record(self, events: Sequence[AlertEvent], now: float) -> list[AlertRecord]:
        """Open, update or close the alert records the events belong to."""
        touched: list[AlertRecord] = []
        for event in events:
            key = (event.rule, event.subject)
            state = self._states[key]
            alert = self._open.get(key)
            if event.kind == "fired" or alert is None:
                alert = AlertRecord(
                    id=0,
                    threshold=event.rule,
                    subject=event.subject,
                    severity=event.severity or "warning",
                    state="firing",
                    value=event.value,
                    limit=event.threshold,
                    unit=event.unit,
                    message=event.message,
                    started_at=state.started_at or now,
                    updated_at=now,
                )
            alert = alert.model_copy(
                update={
                    "severity": event.severity or alert.severity,
                    "value": event.value,
                    "limit": event.threshold,
                    "message": event.message,
                    "updated_at": now,
                    "state": _status(state, now),
                }
            )
            if event.kind == "resolved":
                alert = alert.model_copy(update={"state": "resolved", "resolved_at": now})
                self._open.pop(key, None)
            else:
                if event.kind == "acknowledged":
                    alert = alert.model_copy(
                        update={
                            "acknowledged_at": now,
                            "acknowledged_until": state.acknowledged_until,
                        }
                    )
                elif not state.acknowledged:
                    alert = alert.model_copy(
                        update={"acknowledged_at": None, "acknowledged_until": None}
                    )
                self._open[key] = alert
            touched.append(alert)
        return touched

    def _persist(
        self,
        states: Sequence[AlertState],
        records: Sequence[AlertRecord],
        events: Sequence[AlertEvent],
    ) -> None:
        """Write what changed: states, alert records (ids come back), events."""
        if not events:
            return
        self._store.save_alert_states(states)
        ids: list[int] = []
        for record in records:
            alert_id = self._store.save_alert(record)
            ids.append(alert_id)
            key = (record.threshold, record.subject)
            with self._lock:
                current = self._open.get(key)
                if current is not None and current.started_at == record.started_at:
                    self._open[key] = current.model_copy(update={"id": alert_id})
        self._store.add_alert_events(list(zip(ids, events, strict=True)))

    def _prune(self, now: float) -> None:
        """Forget quiet subjects whose cooldown has passed (memory stays bounded)."""
        for key, state in list(self._states.items()):
            if state.firing:
                continue
            last = state.last_notified_at
            cooldown = self._threshold(*key).cooldown_s if last is not None else 0
            if last is None or now - last >= cooldown:
                del self._states[key]
        for key in [k for k in self._open if k not in self._states or not self._states[k].firing]:
            del self._open[key]  # a record left open by a crash before its resolve was stored

    async def _publish(self, events: Sequence[AlertEvent]) -> None:
        """Log each event to Logfire and hand them to the subscribers."""
        if not events:
            return
        for event in events:
            self._log_event(event)
        for callback, timeout_s in list(self._subscribers):
            if self._task_group is not None:
                self._task_group.start_soon(self._deliver, callback, timeout_s, events)
            else:
                await self._deliver(callback, timeout_s, events)

    async def _deliver(
        self, callback: Subscriber, timeout_s: float, events: Sequence[AlertEvent]
    ) -> None:
        try:
            with anyio.fail_after(timeout_s):
                result = callback(events)
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:
            logger.warning("an alert subscriber failed: %r", exc, exc_info=exc)

    def _log_event(self, event: AlertEvent) -> None:
        attributes: dict[str, Any] = {
            "kind": event.kind,
            "rule": event.rule,
            "subject": event.subject,
            "value": event.value,
            "threshold": event.threshold,
            "severity": event.severity,
            "unit": event.unit,
            "samples": event.samples,
            "notify": event.notify,
            "message": event.message,
        }
        attributes = {k: v for k, v in attributes.items() if v is not None}
        template = "alert {kind}: {message}"
        if event.kind in ("resolved", "acknowledged"):
            self._log.info(template, **attributes)
        elif event.severity == "critical" and event.kind != "deescalated":
            self._log.error(template, **attributes)
        else:
            self._log.warn(template, **attributes)

    # ------------------------------------------------------------ alerts

    def list_alerts(
        self, status: AlertFilter = "active", since: float | None = None, limit: int = 100
    ) -> list[AlertRecord]:
        """Alerts newest first: active ones (firing or acknowledged) with fresh values,
        resolved ones from the store."""
        now = self._clock()
        with self._lock:
            active = [
                alert.model_copy(update={"state": _status(state, now)})
                for alert, state in self._active()
            ]
        if status in ("firing", "acknowledged"):
            active = [a for a in active if a.state == status]
        found = active if status != "resolved" else []
        if status in ("resolved", "all"):
            found = found + self._store.list_alerts("resolved", since, limit)
        if since is not None:
            found = [a for a in found if max(a.started_at, a.resolved_at or 0) >= since]
        found.sort(key=lambda a: (a.started_at, a.id), reverse=True)
        return found[:limit]

    def active_count(self) -> int:
        """Alerts firing or acknowledged now."""
        with self._lock:
            return len(self._active())

    def _active(self) -> list[tuple[AlertRecord, AlertState]]:
        """Open alert records whose rule and subject are firing (call under the lock)."""
        found = []
        for key, alert in self._open.items():
            state = self._states.get(key)
            if state is not None and state.firing:
                found.append((alert, state))
        return found

    async def acknowledge(self, alert_id: int, until: float | None = None) -> AlertRecord:
        """Silence repeats of an active alert until it resolves, or until ``until``."""
        async with self._evaluating:  # so an evaluation cannot store an older state after it
            now = self._clock()
            with self._lock:
                key = next((k for k, a in self._open.items() if a.id == alert_id), None)
                if key is None or key not in self._states or not self._states[key].firing:
                    raise InvalidInputError(self._not_active(alert_id))
                result = rules.acknowledge(self._states[key], now, until)
                self._states[key] = result.state
                records = self._record(result.events, now)
            await anyio.to_thread.run_sync(
                self._persist, [result.state], records, list(result.events)
            )
        await self._publish(result.events)
        return self._open.get(key, records[-1])

    def _not_active(self, alert_id: int) -> str:
        stored = self._store.get_alert(alert_id)
        if stored is not None and stored.state == "resolved":
            return f"alert {alert_id} is resolved: nothing to acknowledge"
        return (
            f"no active alert with id {alert_id}: list_alerts(status='active') shows the "
            "alerts that can be acknowledged"
        )

    # ------------------------------------------------------------ thresholds

    def list_thresholds(self) -> list[ThresholdInfo]:
        """Every rule with its default, effective levels and overrides."""
        with self._lock:
            return rules.threshold_table(self._overrides.values(), self.settings)

    def threshold(self, name: str, subject: str | None = None) -> Threshold:
        """The levels that apply to ``subject`` now."""
        with self._lock:
            return self._threshold(name, subject)

    async def set_threshold(
        self,
        name: str,
        value: float | None,
        *,
        severity: Severity = "warning",
        subject: str | None = None,
        cooldown_s: float | None = None,
        dry_run: bool = False,
    ) -> ThresholdUpdate:
        """Change a rule's level (for every subject, or one); applies at the next evaluation,
        at once when the manager is running. ``dry_run`` changes nothing and replays history.
        """
        now = self._clock()
        with self._lock:
            override = rules.make_override(
                name,
                value,
                now=now,
                severity=severity,
                subject=subject,
                cooldown_s=cooldown_s,
                existing=self._overrides.values(),
            )
            subject = override.subject
            previous = self._threshold(name, subject)
            candidate = dict(self._overrides)
            candidate[name, subject] = override
            current = rules.effective_threshold(name, subject, candidate.values(), self.settings)
            if not dry_run:
                self._overrides = candidate
        replay: ReplaySummary | None = None
        note = ""
        if dry_run:
            replay, note = await self._replay(current, name, subject)
        else:
            await anyio.to_thread.run_sync(self._store.save_override, override)
            if self.running:
                await self.evaluate_once()
        [info] = [row for row in self.list_thresholds() if row.name == name]
        return ThresholdUpdate(
            threshold=info,
            subject=subject,
            previous=previous,
            current=current,
            dry_run=dry_run,
            persisted=not dry_run and getattr(self._store, "persistent", True),
            replay=replay,
            note=note,
        )

    async def reset_threshold(self, name: str, subject: str | None = None) -> bool:
        """Drop an override so the default applies again; False if there was none."""
        spec = rules.get_rule(name)
        subject = rules.check_subject(spec, subject)
        with self._lock:
            had = self._overrides.pop((name, subject), None) is not None
        if had:
            await anyio.to_thread.run_sync(self._store.delete_override, name, subject)
        return had

    async def _replay(
        self, threshold: Threshold, name: str, subject: str | None
    ) -> tuple[ReplaySummary | None, str]:
        if self._history is None:
            return None, "no stored history to replay in this server"
        history = self._history
        points = await anyio.to_thread.run_sync(lambda: list(history(name, subject)))
        target = subject or (rules.SYSTEM if "system" in rules.get_rule(name).scopes else "")
        summary = rules.replay(threshold, target or rules.OVERALL, points)
        return summary, f"replayed {len(points)} stored points"


# ---------------------------------------------------------------- webhook


class WebhookNotifier:
    """A subscriber that POSTs the events people should hear about as JSON to a URL.

    Retries on connection errors, timeouts, 429 and 5xx with exponential backoff; gives up
    on other 4xx. The body carries ``text`` (one line per event, which Slack-style incoming
    webhooks show) and ``events`` (each AlertEvent as JSON)::

        hook = WebhookNotifier(url)
        manager.subscribe(hook, timeout_s=hook.budget_s)
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 3,
        backoff_s: float = 1.0,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        import httpx

        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise InvalidInputError(f"webhook URL is not a URL: {url!r} ({exc})") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise InvalidInputError(f"webhook URL must be http:// or https://, got {url!r}")
        self.url = url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.headers = {"user-agent": "perf-mcp", **(headers or {})}
        self._transport = transport
        self._sleep = sleep
        self.sent = 0
        self.failures = 0
        self.last_error: str | None = None

    @property
    def budget_s(self) -> float:
        """The longest one delivery can take, every retry included."""
        waits = sum(self.backoff_s * 2.0**i for i in range(self.retries))
        return (self.retries + 1) * self.timeout_s + waits

    async def __call__(self, events: Sequence[AlertEvent]) -> None:
        import httpx

        wanted = [e for e in events if e.notify]
        if not wanted:
            return
        body = {
            "source": "perf-mcp",
            "text": "\n".join(f"[{e.severity or 'info'}] {e.message}" for e in wanted),
            "events": [e.model_dump(mode="json") for e in wanted],
        }
        async with httpx.AsyncClient(
            transport=self._transport, timeout=self.timeout_s, headers=self.headers
        ) as client:
            for attempt in range(self.retries + 1):
                if attempt:
                    await self._sleep(self.backoff_s * 2 ** (attempt - 1))
                try:
                    response = await client.post(self.url, json=body)
                except httpx.HTTPError as exc:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    continue
                if response.is_success:
                    self.sent += 1
                    return
                self.last_error = f"HTTP {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    break  # the receiver refuses this request: trying again will not help
        self.failures += 1
        logger.warning("alert webhook %s failed: %s", self.url, self.last_error)


def _status(state: AlertState | None, now: float) -> AlertStatus:
    if state is None or not state.firing:
        return "resolved"
    return "acknowledged" if state.is_acknowledged(now) else "firing"
