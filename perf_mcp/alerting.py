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

Several servers may share one store file (Claude Desktop and Cursor each start their own):
the store's evaluation lease lets one of them evaluate and notify; the others follow the
stored alert state, and take over when the evaluating one stops.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import anyio
import anyio.abc
import logfire

from perf_mcp.core import alerts as rules
from perf_mcp.core.alerts import (
    AlertEvent,
    AlertFilter,
    AlertRecord,
    AlertState,
    AlertStatus,
    ReplaySummary,
    RuleSettings,
    Severity,
    Threshold,
    ThresholdChange,
    ThresholdInfo,
    ThresholdOverride,
)
from perf_mcp.core.models import EndpointSort, InvalidInputError, Window
from perf_mcp.core.window import plan_window
from perf_mcp.periodic import Periodic

if TYPE_CHECKING:
    import httpx

    from perf_mcp.monitor import Monitor
    from perf_mcp.sampler import ResourceSampler
    from perf_mcp.storage import SeriesAgg

DEFAULT_INTERVAL_S = 10.0
MIN_INTERVAL_S = 1.0
SUBSCRIBER_TIMEOUT_S = 10.0
FOLLOWED_EVENTS = 1000  # another server's transitions relayed per catch-up; older are skipped
HISTORY_HOURS = 24.0
HISTORY_STEP_S = 60
HISTORY_SUBJECTS = 20

logger = logging.getLogger(__name__)


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


HistoryPoint = tuple[float, float | None, int]  # (time, value, samples), as rules.replay takes
ObservationSource = Callable[[], Observed]
HistorySource = Callable[[str, str | None], Mapping[str, Sequence[HistoryPoint]]]
"""(rule, subject or None for every subject) -> points by subject, for a dry run."""
Subscriber = Callable[[Sequence["AlertEvent"]], Awaitable[None] | None]


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

    def claim_alert_lease(self, ttl_s: float) -> tuple[bool, int]:
        """Take or renew the evaluation lease; (held by this store connection, version)."""
        ...

    def release_alert_lease(self) -> None: ...
    def alert_lease(self) -> tuple[int | None, float, int]:
        """(holder, expiry, version of the alert state)."""
        ...

    def bump_alert_version(self) -> int:
        """Count a change to alert state; return the new version."""
        ...

    def last_alert_event_id(self) -> int: ...
    def alert_events_after(self, event_id: int, limit: int) -> list[tuple[int, AlertEvent]]:
        """Transitions stored after ``event_id`` by any server, oldest first, with their ids."""
        ...


class MemoryAlertStore:
    """An AlertStore in memory: for tests and for a private ``:memory:`` server."""

    persistent = False

    def __init__(self) -> None:
        self.overrides: dict[tuple[str, str | None], ThresholdOverride] = {}
        self.states: dict[tuple[str, str], AlertState] = {}
        self.alerts: dict[int, AlertRecord] = {}
        self.events: list[tuple[int, AlertEvent]] = []
        self.version = 0

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

    def claim_alert_lease(self, ttl_s: float) -> tuple[bool, int]:
        return True, self.version  # one process: always the evaluator

    def release_alert_lease(self) -> None:
        pass

    def alert_lease(self) -> tuple[int | None, float, int]:
        return None, 0.0, self.version

    def bump_alert_version(self) -> int:
        self.version += 1
        return self.version

    def last_alert_event_id(self) -> int:
        return len(self.events)

    def alert_events_after(self, event_id: int, limit: int) -> list[tuple[int, AlertEvent]]:
        return [(i + 1, e) for i, (_, e) in enumerate(self.events)][event_id : event_id + limit]


def _survives_restart(store: AlertStore) -> bool:
    return bool(getattr(store, "persistent", True)) and getattr(store, "path", "") != ":memory:"


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


def monitor_history(
    monitor: Monitor,
    *,
    hours: float = HISTORY_HOURS,
    step_s: int = HISTORY_STEP_S,
    window_s: int = 300,
    max_subjects: int = HISTORY_SUBJECTS,
    clock: Callable[[], float] = time.time,
) -> HistorySource:
    """A rule's value over the stored history, as the manager would have seen it: every
    ``step_s`` over the last ``hours``, each point over the ``window_s`` before it.

    Request, agent and tool rules read the store's minute rows; cpu and memory rules read
    the stored resource samples. A rule-wide dry run (subject None) replays ``overall`` and
    the ``max_subjects`` busiest subjects. Blocking: call it in a worker thread.
    """

    def history(rule: str, subject: str | None) -> dict[str, list[HistoryPoint]]:
        spec = rules.get_rule(rule)
        now = clock()
        end = int(now) // step_s * step_s
        start = end - int(hours * 3600)
        if spec.sample_kind == "samples":
            return {
                rules.SYSTEM: _resource_history(monitor, rule, start, int(hours * 3600 / step_s))
            }
        monitor.flush()
        retention = monitor.settings.retention_s
        times = range(start + window_s, end + 1, step_s)
        if spec.sample_kind == "requests":
            wanted = _request_subjects(monitor, subject, max_subjects)
            points: dict[str, list[HistoryPoint]] = {s: [] for s, _, _ in wanted}
            for t in times:
                plan = plan_window(t - window_s, t, now=now, retention_s=retention)
                for name, value, count in _request_step(monitor, rule, plan, wanted):
                    points[name].append((float(t), value, count))
            return points
        kind = "tool" if spec.sample_kind == "calls" else "agent"
        names = _run_subjects(monitor, kind, subject, max_subjects)
        runs: dict[str, list[HistoryPoint]] = {name: [] for name in names}
        for t in times:
            plan = plan_window(t - window_s, t, now=now, retention_s=retention)
            found = {
                s.name: s.acc
                for s in monitor.storage.run_series(kind, plan, name=subject)
                if s.name in runs
            }
            for name, series in runs.items():
                acc = found.get(name)
                count = acc.count if acc is not None else 0
                value = None
                if acc is not None and count:
                    value = (
                        acc.sum_ms / count if rule == "agent_avg_time_ms" else acc.failures / count
                    )
                series.append((float(t), value, count))
        return runs

    return history


# A request subject of a dry run: its key, and the (endpoint, method) series it merges
# (endpoint None: the all-endpoint total; method None: every method of the endpoint).
_RequestSubject = tuple[str, str | None, str | None]


def _request_subjects(
    monitor: Monitor, subject: str | None, max_subjects: int
) -> list[_RequestSubject]:
    if subject == rules.OVERALL:
        return [(rules.OVERALL, None, None)]
    if subject is not None:
        method, _, path = subject.partition(" ")
        if path.startswith("/"):
            return [(subject, path, method)]
        return [(subject, subject, None)]  # a path: every method of it
    busiest = monitor.get_endpoint_stats(window="24h", sort_by="count", limit=max_subjects)
    return [(rules.OVERALL, None, None)] + [
        (f"{e.method} {e.endpoint}", e.endpoint, e.method) for e in busiest.endpoints
    ]


def _request_step(
    monitor: Monitor, rule: str, plan: Sequence[Any], wanted: Sequence[_RequestSubject]
) -> Iterable[tuple[str, float | None, int]]:
    """Each wanted subject's value over one window plan."""
    storage = monitor.storage
    one = wanted[0] if len(wanted) == 1 and wanted[0][1] is not None else None
    endpoints = (
        storage.request_series(plan, name=one[1], method=one[2])
        if one is not None
        else storage.request_series(plan)
    )
    totals = storage.request_series(plan, totals=True) if wanted[0][1] is None else []
    chosen: dict[str, list[SeriesAgg]] = {}
    for key, endpoint, method in wanted:
        if endpoint is None:
            chosen[key] = totals
        else:
            chosen[key] = [
                s
                for s in endpoints
                if s.name == endpoint and (method is None or s.method == method)
            ]
    if rule != "error_rate_5min":
        storage.fill_histograms(
            "request_buckets", plan, [s for series in chosen.values() for s in series]
        )
    for key, series in chosen.items():
        count = sum(s.acc.count for s in series)
        if not count:
            yield key, None, 0
        elif rule == "error_rate_5min":
            yield key, sum(s.acc.status[5] for s in series) / count, count
        else:
            merged = series[0].acc.hist
            for s in series[1:]:
                merged.merge(s.acc.hist)
            yield key, merged.quantile(0.95 if rule == "response_time_p95_ms" else 0.99), count


def _run_subjects(monitor: Monitor, kind: str, subject: str | None, max_subjects: int) -> list[str]:
    if subject is not None:
        return [subject]
    if kind == "tool":
        tools = monitor.get_tool_stats(window="24h", sort_by="calls", limit=max_subjects)
        return [t.tool_name for t in tools.tools]
    agents = monitor.get_agent_stats(window="24h", sort_by="runs", limit=max_subjects)
    return [a.agent_name for a in agents.agents]


def _resource_history(monitor: Monitor, rule: str, since: float, limit: int) -> list[HistoryPoint]:
    from perf_mcp.sampler import ResourceSample

    field = "cpu_percent" if rule == "cpu_usage_percent" else "memory_percent"
    points: list[HistoryPoint] = []
    for raw in monitor.storage.resource_samples_spread(since, limit)[0]:
        sample = ResourceSample.model_validate_json(raw)
        value = getattr(sample, field)
        points.append((sample.timestamp, value, int(value is not None)))
    return points


# ---------------------------------------------------------------- the manager


class AlertManager(Periodic):
    """Evaluates every rule each ``interval_s`` seconds over what ``source`` observes.

    An async context manager owning a task group (Periodic). Every transition is logged to Logfire
    (``warn`` for warnings, ``error`` for critical, ``info`` for resolved and acknowledged)
    and handed to subscribers; subscribers run in the task group, so a slow or failing one
    never holds up evaluation.

    Only the holder of the store's evaluation lease evaluates; the others reload the stored
    alert state whenever its version changes, so every server lists the same alerts and
    can acknowledge them or change thresholds.
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
        super().__init__(
            interval_s, what="alert evaluation", min_interval_s=MIN_INTERVAL_S, sleep=sleep
        )
        # Long enough that a busy evaluator keeps it, short enough that a dead one is replaced.
        self.lease_ttl_s = max(3 * self.interval_s, self.interval_s + 15)
        self.settings = settings or RuleSettings()
        self._source = source
        self._store: AlertStore = store if store is not None else MemoryAlertStore()
        self._history = history
        self._clock = clock
        self._log = log or logfire.DEFAULT_LOGFIRE_INSTANCE
        self._lock = threading.Lock()  # state is read from tool calls while a thread evaluates
        self._evaluating = anyio.Lock()
        self._subscribers: list[tuple[Subscriber, float, bool]] = []
        self.evaluations = 0
        self.errors = 0
        self.last_error: str | None = None
        self.last_evaluated_at: float | None = None
        self.last_tick_at: float | None = None
        self.leader: bool | None = None  # None until the first tick asked the store
        self._overrides: dict[tuple[str, str | None], ThresholdOverride] = {}
        self._states: dict[tuple[str, str], AlertState] = {}
        self._open: dict[tuple[str, str], AlertRecord] = {}
        self._per_subject: set[str] = set()
        self._version = -1
        self._reload(self._store.alert_lease()[2])
        self._last_event_id = self._store.last_alert_event_id()
        # Transitions this manager stored, to tell them from other servers' when following.
        self._own: deque[tuple[str, str, str, float]] = deque(maxlen=FOLLOWED_EVENTS)

    def _reload(self, version: int) -> None:
        """Replace overrides, states and open alerts with what the store holds (blocking)."""
        overrides = {(o.rule, o.subject): o for o in self._store.load_overrides()}
        states = {(s.rule, s.subject): s for s in self._store.load_alert_states()}
        open_alerts: dict[tuple[str, str], AlertRecord] = {}
        for status in ("firing", "acknowledged"):
            for alert in self._store.list_alerts(status, None, 100_000):
                open_alerts.setdefault((alert.threshold, alert.subject), alert)
        with self._lock:
            self._overrides, self._states, self._open = overrides, states, open_alerts
            self._version = version

    # ------------------------------------------------------------ lifecycle

    @property
    def persistent(self) -> bool:
        """True when alerts and overrides survive a restart (a store on a file)."""
        return _survives_restart(self._store)

    async def tick(self) -> object:
        return await self.evaluate_once()

    async def _stopped(self) -> None:
        if self.leader:  # let another server sharing the store take over at once
            with anyio.CancelScope(shield=True):
                try:
                    await anyio.to_thread.run_sync(self._store.release_alert_lease)
                except Exception as exc:  # a closed store: the lease simply expires
                    logger.debug("could not release the alert lease: %r", exc)
            self.leader = None

    def subscribe(
        self,
        callback: Subscriber,
        *,
        timeout_s: float = SUBSCRIBER_TIMEOUT_S,
        all_servers: bool = False,
    ) -> Callable[[], None]:
        """Call ``callback(events)`` after each change; returns a function that unsubscribes.

        It may be async. It runs in the event loop and is cancelled after ``timeout_s``;
        an exception is logged and ignored. With ``all_servers`` it also hears, a tick
        later, the transitions other servers sharing the store raised: for telling this
        server's own clients. Leave it False for anything that must hear each transition
        once, such as a webhook.
        """
        entry = (callback, timeout_s, all_servers)
        self._subscribers.append(entry)

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)

        return unsubscribe

    # ------------------------------------------------------------ evaluation

    async def evaluate_once(self) -> list[AlertEvent]:
        """Observe, evaluate every rule, store and announce the transitions.

        Only while this manager holds the store's evaluation lease; otherwise it catches up
        with the state the evaluating server stored, and returns no events.
        """
        async with self._evaluating:
            try:
                events, followed = await anyio.to_thread.run_sync(self._tick)
            except Exception as exc:  # a failing source or store must not stop alerting
                self.errors += 1
                self.last_error = f"alert evaluation failed: {type(exc).__name__}: {exc}"
                logger.warning("alert evaluation failed", exc_info=exc)
                return []
        await self._relay(followed)
        await self._publish(events)
        return events

    async def refresh(self) -> None:
        """Catch up with changes another server sharing the store made since the last tick."""
        async with self._evaluating:
            followed = await anyio.to_thread.run_sync(self._catch_up)
        await self._relay(followed)

    def _catch_up(self) -> list[AlertEvent]:
        return self._follow(self._store.alert_lease()[2])

    def _follow(self, version: int) -> list[AlertEvent]:
        """Reload when the stored state changed; the transitions other servers stored."""
        if version == self._version:
            return []
        self._reload(version)
        found = self._store.alert_events_after(self._last_event_id, FOLLOWED_EVENTS)
        if found:
            self._last_event_id = found[-1][0]
        if len(found) == FOLLOWED_EVENTS:  # a long absence: what is old is news to nobody
            self._last_event_id = self._store.last_alert_event_id()
        own = set(self._own)
        return [e for _, e in found if (e.rule, e.subject, e.kind, e.at) not in own]

    def _tick(self) -> tuple[list[AlertEvent], list[AlertEvent]]:
        """(transitions this manager raised, transitions other servers raised)."""
        held, version = self._store.claim_alert_lease(self.lease_ttl_s)
        self.last_tick_at = self._clock()
        followed = self._follow(version)
        if held != self.leader:
            logger.info(
                "alert evaluation: %s",
                "this server evaluates" if held else "another server sharing the store evaluates",
            )
            self.leader = held
        return (self._evaluate() if held else []), followed

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
            if event.kind != "acknowledged":  # the message keeps saying what is wrong
                alert = alert.model_copy(
                    update={
                        "severity": event.severity or alert.severity,
                        "value": event.value,
                        "limit": event.threshold,
                        "message": event.message,
                    }
                )
            alert = alert.model_copy(update={"updated_at": now, "state": _status(state, now)})
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
        self._own.extend((e.rule, e.subject, e.kind, e.at) for e in events)
        self._store.add_alert_events(list(zip(ids, events, strict=True)))
        self._wrote()

    def _wrote(self) -> None:
        """Count a change in the store, so servers sharing it reload."""
        version = self._store.bump_alert_version()
        with self._lock:
            if version == self._version + 1:
                self._version = version
                self._last_event_id = self._store.last_alert_event_id()
            else:  # another server wrote since we looked: catch up at the next tick
                self._version = -1

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
            try:
                self._log_event(event)
            except Exception as exc:  # telemetry trouble must not stop alerting
                logger.warning("logging an alert to Logfire failed: %r", exc)
        for callback, timeout_s, _ in list(self._subscribers):
            await self._start(callback, timeout_s, events)

    async def _relay(self, events: Sequence[AlertEvent]) -> None:
        """Hand other servers' transitions to the subscribers that asked for them."""
        if events:
            for callback, timeout_s, all_servers in list(self._subscribers):
                if all_servers:
                    await self._start(callback, timeout_s, events)

    async def _start(
        self, callback: Subscriber, timeout_s: float, events: Sequence[AlertEvent]
    ) -> None:
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
        """Alerts newest first: active ones (firing or acknowledged, whenever they started)
        with fresh values, and resolved ones from the store started or resolved since ``since``.
        """
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
            await self._relay(await anyio.to_thread.run_sync(self._catch_up))
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
    ) -> ThresholdChange:
        """Change a rule's level (for every subject, or one); applies at the next evaluation,
        at once when the manager is running. ``dry_run`` changes nothing and replays history.
        """
        async with self._evaluating:  # no reload of the store may slip between apply and save
            if not dry_run:
                await self._relay(await anyio.to_thread.run_sync(self._catch_up))
            with self._lock:
                override = rules.make_override(
                    name,
                    value,
                    now=self._clock(),
                    severity=severity,
                    subject=subject,
                    cooldown_s=cooldown_s,
                    existing=self._overrides.values(),
                )
                subject = override.subject
                previous = self._threshold(name, subject)
                before = dict(self._overrides)
                after = {**before, (name, subject): override}
                if not dry_run:
                    self._overrides = after
            if not dry_run:
                await anyio.to_thread.run_sync(self._save_override, override)
        replay = baseline = None
        note = ""
        if dry_run:
            replay, baseline, note = await self._replay(name, subject, before, after)
        elif self.running:
            await self.evaluate_once()
        table = rules.threshold_table(after.values(), self.settings)  # as it is, or would be
        return ThresholdChange(
            override=override,
            subject=subject,
            previous=previous,
            current=rules.effective_threshold(name, subject, after.values(), self.settings),
            threshold=next(row for row in table if row.name == name),
            dry_run=dry_run,
            persisted=not dry_run and self.persistent,
            replay=replay,
            baseline=baseline,
            note=note,
        )

    def _save_override(self, override: ThresholdOverride) -> None:
        self._store.save_override(override)
        self._wrote()

    async def reset_threshold(self, name: str, subject: str | None = None) -> bool:
        """Drop an override so the default applies again; False if there was none."""
        spec = rules.get_rule(name)
        subject = rules.check_subject(spec, subject)
        async with self._evaluating:
            await self._relay(await anyio.to_thread.run_sync(self._catch_up))
            with self._lock:
                had = self._overrides.pop((name, subject), None) is not None
            if had:
                await anyio.to_thread.run_sync(self._delete_override, name, subject)
        return had

    def _delete_override(self, name: str, subject: str | None) -> None:
        self._store.delete_override(name, subject)
        self._wrote()

    async def _replay(
        self,
        name: str,
        subject: str | None,
        before: Mapping[tuple[str, str | None], ThresholdOverride],
        after: Mapping[tuple[str, str | None], ThresholdOverride],
    ) -> tuple[ReplaySummary | None, ReplaySummary | None, str]:
        """Replay the stored history under the new levels and under the current ones."""
        if self._history is None:
            return None, None, "no stored history to replay in this server"
        history = self._history
        by_subject = await anyio.to_thread.run_sync(lambda: dict(history(name, subject)))
        new: dict[str, ReplaySummary] = {}
        old: dict[str, ReplaySummary] = {}
        for key, points in by_subject.items():
            for levels, into in ((after, new), (before, old)):
                threshold = rules.effective_threshold(name, key, levels.values(), self.settings)
                into[key] = rules.replay(threshold, key, points)
        replay, baseline = rules.combine_replays(new), rules.combine_replays(old)
        if not replay.evaluations:
            return replay, baseline, "no stored history for this rule yet: nothing to replay"
        span = (replay.last_at or 0) - (replay.first_at or 0)
        note = (
            f"replayed {replay.evaluations} evaluations of {replay.subjects} subject(s) over "
            f"{span / 3600:.1f} h of stored history: {replay.fired} episode(s) with the new "
            f"levels, {baseline.fired} with the current ones"
        )
        return replay, baseline, note


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
        self.last_failed = False  # the latest delivery gave up

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
                    self.last_failed = False
                    return
                self.last_error = f"HTTP {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    break  # the receiver refuses this request: trying again will not help
        self.failures += 1
        self.last_failed = True
        logger.warning("alert webhook %s failed: %s", self.url, self.last_error)


def _status(state: AlertState | None, now: float) -> AlertStatus:
    if state is None or not state.firing:
        return "resolved"
    return "acknowledged" if state.is_acknowledged(now) else "firing"
