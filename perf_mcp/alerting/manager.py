"""AlertManager: evaluates the rules on a schedule, keeps alert state, and tells people once.

The rules and their state machine are pure (``perf_mcp.core.alerts``); the manager feeds them
observed values (``sources``), stores what happened (``store``), and announces every
transition to Logfire and the subscribers (``announce``; the server turns those calls into
MCP notifications, ``webhook`` POSTs them).

Several servers may share one store file (Claude Desktop and Cursor each start their own):
the store's evaluation lease lets one of them evaluate and notify; the others follow the
stored alert state, and take over when the evaluating one stops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

if TYPE_CHECKING:
    import logfire

from perf_mcp.alerting.announce import SUBSCRIBER_TIMEOUT_S, Announcer, Subscriber
from perf_mcp.alerting.sources import HistorySource, ObservationSource
from perf_mcp.alerting.store import AlertStore, MemoryAlertStore, load_alerts, survives_restart
from perf_mcp.core.alerts import (
    AlertEvent,
    AlertFilter,
    AlertRecord,
    AlertState,
    ReplaySummary,
    RuleSettings,
    Severity,
    Threshold,
    ThresholdChange,
    ThresholdInfo,
    ThresholdOverride,
    acknowledge,
    active_alerts,
    check_subject,
    compare_levels,
    effective_threshold,
    evaluate,
    forget_quiet,
    get_rule,
    make_override,
    not_active,
    record_events,
    threshold_table,
)
from perf_mcp.core.models import InvalidInputError
from perf_mcp.periodic import Periodic

DEFAULT_INTERVAL_S = 10.0
MIN_INTERVAL_S = 1.0
FOLLOWED_EVENTS = 1000  # another server's transitions relayed per catch-up; older are skipped

logger = logging.getLogger(__name__)


class AlertManager(Periodic):
    """Evaluates every rule each ``interval_s`` seconds over what ``source`` observes.

    An async context manager owning a task group (Periodic). Every transition is logged to
    Logfire and handed to subscribers, which run in the task group: a slow or failing one
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
        self._announcer = Announcer(log)
        self._lock = threading.Lock()  # state is read from tool calls while a thread evaluates
        self._evaluating = anyio.Lock()
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
        loaded = load_alerts(self._store)
        with self._lock:
            self._overrides, self._states, self._open = loaded
            self._version = version

    # ------------------------------------------------------------ lifecycle

    @property
    def persistent(self) -> bool:
        """True when alerts and overrides survive a restart (a store on a file)."""
        return survives_restart(self._store)

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
        return self._announcer.subscribe(callback, timeout_s, all_servers)

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
            records = record_events(events, self._states, self._open, now)
            forget_quiet(self._states, self._open, now, lambda k: self._threshold(*k).cooldown_s)
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
        result = evaluate(threshold, subject, value, samples, now, prior)
        self._states[key] = result.state
        if result.events:
            changed.append(result.state)
            events.extend(result.events)
        elif result.state.firing and key in self._open:  # keep the listed value fresh
            self._open[key] = self._open[key].model_copy(
                update={"value": result.state.value, "updated_at": now}
            )

    def _threshold(self, rule: str, subject: str | None) -> Threshold:
        return effective_threshold(rule, subject, self._overrides.values(), self.settings)

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

    def _write(self, change: Callable[..., object], *args: object) -> None:
        """Make one change to the store and count it."""
        change(*args)
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

    # ------------------------------------------------------------ alerts

    def list_alerts(
        self, status: AlertFilter = "active", since: float | None = None, limit: int = 100
    ) -> list[AlertRecord]:
        """Alerts newest first: active ones (firing or acknowledged, whenever they started)
        with fresh values, and resolved ones from the store started or resolved since ``since``.
        """
        now = self._clock()
        with self._lock:
            active = active_alerts(self._open, self._states, now)
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
            return len(active_alerts(self._open, self._states, self._clock()))

    async def acknowledge(
        self, alert_id: int, until: float | None = None, *, by: str | None = None
    ) -> AlertRecord:
        """Silence repeats of an active alert until it resolves (or ``until``), noting ``by``."""
        async with self._evaluating:  # so an evaluation cannot store an older state after it
            await self._relay(await anyio.to_thread.run_sync(self._catch_up))
            now = self._clock()
            with self._lock:
                key = next((k for k, a in self._open.items() if a.id == alert_id), None)
                if key is None or key not in self._states or not self._states[key].firing:
                    raise InvalidInputError(not_active(alert_id, self._store.get_alert(alert_id)))
                result = acknowledge(self._states[key], now, until, by)
                self._states[key] = result.state
                records = record_events(result.events, self._states, self._open, now)
            await anyio.to_thread.run_sync(
                self._persist, [result.state], records, list(result.events)
            )
        await self._publish(result.events)
        return self._open.get(key, records[-1])

    # ------------------------------------------------------------ thresholds

    def list_thresholds(self) -> list[ThresholdInfo]:
        """Every rule with its default, effective levels and overrides."""
        with self._lock:
            return threshold_table(self._overrides.values(), self.settings)

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
        by: str | None = None,
    ) -> ThresholdChange:
        """Change a rule's level (for every subject, or one), noting ``by``; applies at the next
        evaluation, at once when running. ``dry_run`` changes nothing and replays history."""
        async with self._evaluating:  # no reload of the store may slip between apply and save
            if not dry_run:
                await self._relay(await anyio.to_thread.run_sync(self._catch_up))
            with self._lock:
                override = make_override(
                    name,
                    value,
                    now=self._clock(),
                    severity=severity,
                    subject=subject,
                    cooldown_s=cooldown_s,
                    existing=self._overrides.values(),
                    changed_by=by,
                )
                subject = override.subject
                previous = self._threshold(name, subject)
                before = dict(self._overrides)
                after = {**before, (name, subject): override}
                if not dry_run:
                    self._overrides = after
            if not dry_run:
                await anyio.to_thread.run_sync(self._write, self._store.save_override, override)
        replay = baseline = None
        note = ""
        if dry_run:
            replay, baseline, note = await self._replay(name, subject, before, after)
        elif self.running:
            await self.evaluate_once()
        table = threshold_table(after.values(), self.settings)  # as it is, or would be
        return ThresholdChange(
            override=override,
            subject=subject,
            previous=previous,
            current=effective_threshold(name, subject, after.values(), self.settings),
            threshold=next(row for row in table if row.name == name),
            dry_run=dry_run,
            persisted=not dry_run and self.persistent,
            replay=replay,
            baseline=baseline,
            note=note,
        )

    async def reset_threshold(self, name: str, subject: str | None = None) -> bool:
        """Drop an override so the default applies again; False if there was none."""
        spec = get_rule(name)
        subject = check_subject(spec, subject)
        async with self._evaluating:
            await self._relay(await anyio.to_thread.run_sync(self._catch_up))
            with self._lock:
                had = self._overrides.pop((name, subject), None) is not None
            if had:
                await anyio.to_thread.run_sync(
                    self._write, self._store.delete_override, name, subject
                )
        return had

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
        return compare_levels(name, by_subject, before.values(), after.values(), self.settings)

    async def _publish(self, events: Sequence[AlertEvent]) -> None:
        await self._announcer.publish(events, self._task_group)

    async def _relay(self, events: Sequence[AlertEvent]) -> None:
        await self._announcer.relay(events, self._task_group)
