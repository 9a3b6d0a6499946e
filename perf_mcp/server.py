"""The MCP server: tools, resources and prompts over a Monitor. The only module that imports mcp.

Every tool is a thin adapter over the Monitor method of the same name. Build one with
``build_server()`` and run it with ``perf-mcp serve`` (see ``perf_mcp.cli``), or connect to it
in-process::

    from mcp import Client
    from perf_mcp.server import build_server

    async with Client(build_server(db_path=":memory:")) as client:
        result = await client.call_tool("get_performance_summary", {"window": "5m"})
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, ParamSpec, TypeVar, get_args

import anyio
import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.caching import CacheHint
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    Completion,
    CompletionArgument,
    CompletionContext,
    EmptyResult,
    LoggingLevel,
    LoggingMessageNotification,
    LoggingMessageNotificationParams,
    NotificationParams,
    PromptReference,
    ResourceTemplateReference,
    ResourceUpdatedNotification,
    ResourceUpdatedNotificationParams,
    ServerNotification,
    SetLevelRequestParams,
    SubscribeRequestParams,
    ToolAnnotations,
    UnsubscribeRequestParams,
)
from pydantic import BaseModel, Field, ValidationError

from perf_mcp import __version__
from perf_mcp.alerting import AlertManager, WebhookNotifier, monitor_history, monitor_source
from perf_mcp.config import Settings
from perf_mcp.core.alerts_models import (
    AlertFilter,
    AlertList,
    Breach,
    ComponentHealth,
    Evaluation,
    HealthLevel,
    HealthStatus,
    ThresholdChange,
    ThresholdList,
    ThresholdName,
)
from perf_mcp.core.models import (
    WINDOW_SECONDS,
    AgentRunRecord,
    AgentStatsList,
    Count,
    DurationMs,
    EndpointSort,
    EndpointStatsList,
    Name,
    PerformanceSummary,
    RequestSample,
    RunSort,
    ToolCallRecord,
    ToolSort,
    ToolStatsList,
    Window,
)
from perf_mcp.core.rules import AlertEvent, AlertRecord, Severity
from perf_mcp.monitor import Monitor
from perf_mcp.sampler import (
    ResourceReader,
    ResourceSample,
    ResourceSampler,
    ResourceSummary,
    summarize,
)
from perf_mcp.storage import StoreError

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
Q = TypeVar("Q", bound=BaseModel)

MAX_BATCH = 10_000
INLINE_BATCH = 100  # samples recorded on the event loop (~0.1 ms); bigger batches in a thread
MAX_LIMIT = 500
MAX_COMPLETIONS = 100  # the protocol's cap on completion values
MAX_RESOURCE_SAMPLES = 1000  # a long window's samples are spread evenly down to this many

INSTRUCTIONS = """\
perf-mcp measures web endpoints, AI agents and their tools, and the machine they run on.

Asking: start with get_performance_summary (one window, everything at a glance), then drill
down with get_endpoint_stats, get_agent_stats or get_tool_stats (filter by name, sort, limit).
list_alerts shows thresholds that were crossed; list_thresholds shows the limits;
get_resource_usage shows CPU, memory, disk and this server's process; health_check says
whether everything is well (ok, degraded or unhealthy) and why.
Every query takes `window`: "1m", "5m", "15m", "1h", "24h" or "7d" (default "5m").
Durations are milliseconds (fields end in _ms), rates are fractions between 0 and 1, and
lists are capped by `limit` (say `truncated` when more matched).

Reporting: an agent calls record_agent_run once per run (with its tool calls nested),
record_tool_call for a lone tool call, and an app that is not Python sends its HTTP requests
in batches with record_requests.

Alerts: the server checks every threshold on its own every few seconds. Subscribe to
perf://alerts to hear when one fires or resolves. Changing: set_threshold (dry_run=true first
shows how often a new level would have fired over the last 24 h), acknowledge_alert with the
alert's id to silence its repeats.

Quote the numbers with their units and window; say when there was no traffic instead of
guessing. The prompts performance_review and diagnose_endpoint walk through a review.
"""

READ_ONLY = ToolAnnotations(
    read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
)
RECORDING = ToolAnnotations(
    read_only_hint=False, idempotent_hint=False, destructive_hint=False, open_world_hint=False
)
SETTING = ToolAnnotations(
    read_only_hint=False, idempotent_hint=True, destructive_hint=False, open_world_hint=False
)

WindowArg = Annotated[
    Window, Field(description='Time window to aggregate: "1m", "5m", "15m", "1h", "24h" or "7d".')
]
LimitArg = Annotated[
    int, Field(ge=1, le=MAX_LIMIT, description=f"Most items to return, 1 to {MAX_LIMIT}.")
]
OptionalText = Annotated[str, Field(max_length=200)] | None


class RecordResult(BaseModel):
    """What a reporting tool stored."""

    recorded: int = Field(description="Items recorded by this call.")
    kind: Literal["agent_run", "tool_call", "request"]


class Runtime:
    """The Monitor a server works on, and the state that lives as long as the server.

    The lifespan opens it; with several connections in one process (the in-process test
    client) the first opens the Monitor and the last closes it. The resource sampler and
    the alert manager run in the lifespan of the connection that found them stopped.
    """

    def __init__(
        self,
        monitor: Monitor | None,
        db_path: str | os.PathLike[str] | None,
        flush_interval_s: float | None,
        settings: Settings | None,
    ) -> None:
        self._owned = monitor is None
        self._monitor = monitor
        self._db_path = db_path
        self._flush_interval_s = flush_interval_s
        self.settings = settings or (monitor.settings if monitor is not None else Settings())
        self._users = 0
        self._lock = anyio.Lock()
        self.started_at = time.time()
        self.sampler: ResourceSampler | None = None
        self.alerts: AlertManager | None = None
        self.webhook: WebhookNotifier | None = None
        self.clients = ClientNotifier()
        self._background_runs = False

    @property
    def monitor(self) -> Monitor:
        if self._monitor is None:
            raise ToolError("the server is not running: its lifespan has not started")
        return self._monitor

    @property
    def alert_manager(self) -> AlertManager:
        if self.alerts is None:
            raise ToolError("the server is not running: its lifespan has not started")
        return self.alerts

    async def open(self) -> None:
        """Open the Monitor (when this runtime owns it) for one more user."""
        async with self._lock:
            if self._monitor is None:
                self._monitor = await anyio.to_thread.run_sync(
                    functools.partial(
                        Monitor,
                        self._db_path,
                        flush_interval_s=self._flush_interval_s,
                        settings=self.settings,
                    )
                )
                logger.info("perf-mcp store: %s", self._monitor.db_path)
            if self.alerts is None:
                await self._build_background(self._monitor)
            self._users += 1

    async def _build_background(self, monitor: Monitor) -> None:
        settings = self.settings
        storage = monitor.storage
        disks = [] if monitor.db_path == ":memory:" else [os.path.dirname(monitor.db_path)]
        reader = ResourceReader(pids=settings.watch_pids, disk_paths=[*disks, *settings.disk_paths])
        self.sampler = ResourceSampler(
            lambda sample: storage.add_resource_sample(sample.timestamp, _sample_json(sample)),
            interval_s=settings.sample_interval_s,
            reader=reader,
        )
        alerts = await anyio.to_thread.run_sync(
            lambda: AlertManager(
                monitor_source(monitor, self.sampler),
                store=storage,
                interval_s=settings.alert_interval_s,
                history=monitor_history(monitor),
            )
        )
        alerts.subscribe(self.clients.alerts_changed, all_servers=True)
        if settings.webhook_url:
            self.webhook = WebhookNotifier(settings.webhook_url)
            alerts.subscribe(self.webhook, timeout_s=self.webhook.budget_s)
        self.alerts = alerts

    @asynccontextmanager
    async def background(self) -> AsyncIterator[None]:
        """Sample resources and evaluate alerts while this lifespan lasts, unless another
        connection's lifespan already does."""
        sampler, alerts = self.sampler, self.alerts
        if sampler is None or alerts is None or self._background_runs:
            yield
            return
        self._background_runs = True  # before the first await: lifespans may start together
        try:
            async with sampler, alerts:
                yield
        finally:
            self._background_runs = False

    async def release(self) -> None:
        """Flush for a leaving user; close the Monitor when the last one leaves."""
        with anyio.CancelScope(shield=True):
            async with self._lock:
                self._users = max(0, self._users - 1)
                monitor = self._monitor
                if monitor is None:
                    return
                if self._owned and self._users == 0:
                    self._monitor = None
                    self.sampler = self.alerts = self.webhook = None
                    await anyio.to_thread.run_sync(monitor.close)
                else:
                    await anyio.to_thread.run_sync(monitor.flush)


def _sample_json(sample: ResourceSample) -> str:
    return sample.model_dump_json(exclude_none=True)


ALERTS_URI = "perf://alerts"
THRESHOLDS_URI = "perf://thresholds"
SUBSCRIBABLE = (ALERTS_URI, THRESHOLDS_URI)
MAX_PEERS = 256  # legacy connections remembered for notifications; the oldest is forgotten
LOG_LEVELS: tuple[LoggingLevel, ...] = get_args(LoggingLevel)  # least severe first


@dataclass
class _Peer:
    """A 2025-11-25 client connection: where to send notifications, and what it asked for."""

    session: ServerSession
    uris: set[str] = field(default_factory=set)
    level: LoggingLevel = "info"


class ClientNotifier:
    """Tells connected MCP clients that alerts or thresholds changed.

    2026-07-28 clients listen with ``subscriptions/listen``: the events go on the server's
    subscription bus. 2025-11-25 clients subscribe with ``resources/subscribe`` and get
    ``notifications/resources/updated``, plus a log message (``notifications/message``) for
    each alert people should hear about, at or above the level they set.
    """

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self._peers: dict[int, _Peer] = {}

    def peer(self, session: ServerSession) -> _Peer:
        """The record of the connection ``session`` belongs to (made on first sight)."""
        key = _connection_key(session)
        found = self._peers.pop(key, None) or _Peer(session)
        self._peers[key] = found  # most recently seen last
        while len(self._peers) > MAX_PEERS:
            del self._peers[next(iter(self._peers))]
        return found

    async def resource_updated(self, uri: str) -> None:
        """Announce that a resource changed to everyone subscribed to it."""
        await self.bus.publish(ResourceUpdated(uri=uri))
        for key, peer in list(self._peers.items()):
            if uri in peer.uris:
                await self._send(
                    key,
                    peer,
                    ResourceUpdatedNotification(params=ResourceUpdatedNotificationParams(uri=uri)),
                )

    async def alerts_changed(self, events: Sequence[AlertEvent]) -> None:
        """An AlertManager subscriber: resource-updated, then a log line per notable event."""
        await self.resource_updated(ALERTS_URI)
        notable = [e for e in events if e.notify]
        for key, peer in list(self._peers.items()):
            for event in notable:
                level = _log_level(event)
                if LOG_LEVELS.index(level) < LOG_LEVELS.index(peer.level):
                    continue
                data = {**event.model_dump(mode="json", exclude_none=True), "uri": ALERTS_URI}
                message = LoggingMessageNotification(
                    params=LoggingMessageNotificationParams(
                        level=level, logger="perf_mcp.alerts", data=data
                    )
                )
                if not await self._send(key, peer, message):
                    break

    async def _send(self, key: int, peer: _Peer, notification: ServerNotification) -> bool:
        try:
            await peer.session.send_notification(notification)
        except Exception as exc:  # the client went away: forget it
            logger.debug("dropping an MCP client that cannot be notified: %r", exc)
            self._peers.pop(key, None)
            return False
        return True


def _connection_key(session: ServerSession) -> int:
    """One key per client connection. Each request gets its own ServerSession, but all of a
    connection's share the ``initialize`` params object, which lives as long as it does."""
    params = session.client_params
    return id(params) if params is not None else id(session)


def _log_level(event: AlertEvent) -> LoggingLevel:
    if event.kind == "resolved":
        return "notice"
    if event.kind == "acknowledged":
        return "info"
    if event.severity == "critical" and event.kind != "deescalated":
        return "critical"
    return "warning"


def _describe_invalid(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for error in exc.errors(include_url=False):
            where = ".".join(str(part) for part in error["loc"]) or "arguments"
            parts.append(f"{where}: {error['msg']}")
        return "; ".join(parts)
    return str(exc)


def _invalid(exc: ValueError) -> ToolError:
    return ToolError(
        f"invalid arguments, nothing was recorded or changed: {_describe_invalid(exc)}"
    )


@contextmanager
def _tool_errors() -> Iterator[None]:
    """Bad input and an unusable store become ToolErrors, the errors a client is shown."""
    try:
        yield
    except ValueError as exc:
        raise _invalid(exc) from exc
    except StoreError as exc:
        raise ToolError(f"the metrics store cannot be used: {exc}") from exc


async def _in_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking Monitor call off the event loop; bad input becomes a ToolError."""
    with _tool_errors():
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


class PerfTools:
    """The tools, resources, prompts and completions, as methods over one Runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def _query(self, query: Callable[P, Q], *args: P.args, **kwargs: P.kwargs) -> Q:
        """A Monitor query's answer: at once when it is cached and current (no thread hop,
        no I/O), else from a worker thread."""
        call = functools.partial(query, *args, **kwargs)
        with _tool_errors():
            answer = self.runtime.monitor.cached_answer(call)
        return answer if answer is not None else await _in_thread(call)

    # ------------------------------------------------------------ reporting

    async def record_agent_run(
        self,
        agent_name: Annotated[Name, Field(description="The agent's name (gen_ai.agent.name).")],
        duration_ms: Annotated[
            DurationMs | None,
            Field(description="Run time in milliseconds. Or give start_time and end_time."),
        ] = None,
        success: Annotated[bool, Field(description="False when the run failed.")] = True,
        error_type: Annotated[
            OptionalText, Field(description='Failure class when success is false, e.g. "timeout".')
        ] = None,
        model: Annotated[
            OptionalText, Field(description="Model name (gen_ai.request.model).")
        ] = None,
        provider: Annotated[
            OptionalText, Field(description='Provider (gen_ai.provider.name), e.g. "anthropic".')
        ] = None,
        input_tokens: Annotated[Count, Field(description="Prompt tokens used.")] = 0,
        output_tokens: Annotated[Count, Field(description="Completion tokens used.")] = 0,
        cache_read_tokens: Annotated[Count, Field(description="Tokens served from cache.")] = 0,
        cost_usd: Annotated[
            float, Field(ge=0, le=1e6, allow_inf_nan=False, description="Cost in US dollars.")
        ] = 0.0,
        tool_calls: Annotated[
            list[ToolCallRecord],
            Field(max_length=1000, description="Tool calls made during the run (up to 1000)."),
        ] = [],  # noqa: B006 - pydantic copies defaults, the list is never shared
        start_time: Annotated[
            float | None, Field(description="Run start, Unix seconds (with end_time).")
        ] = None,
        end_time: Annotated[float | None, Field(description="Run end, Unix seconds.")] = None,
        run_id: Annotated[OptionalText, Field(description="Your id for this run.")] = None,
        conversation_id: Annotated[
            OptionalText, Field(description="Conversation or session id.")
        ] = None,
    ) -> RecordResult:
        """Record one finished AI agent run, with its tool calls nested, for later analysis.

        Call once per run, after it ends. Give duration_ms (milliseconds), or start_time and
        end_time (Unix seconds). Token counts and cost feed get_agent_stats; nested
        tool_calls also feed get_tool_stats. Nothing is stored when an argument is invalid.
        """
        try:
            run = AgentRunRecord(
                agent_name=agent_name,
                duration_ms=duration_ms,
                start_time=start_time,
                end_time=end_time,
                success=success,
                error_type=error_type,
                model=model,
                provider=provider,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cache_read_tokens=cache_read_tokens,
                cost_usd=cost_usd,
                tool_calls=tool_calls,
                run_id=run_id,
                conversation_id=conversation_id,
            )
            self.runtime.monitor.record_agent_run(run)
        except ValueError as exc:
            raise _invalid(exc) from exc
        return RecordResult(recorded=1, kind="agent_run")

    async def record_tool_call(
        self,
        tool_name: Annotated[Name, Field(description="The tool's name (gen_ai.tool.name).")],
        duration_ms: Annotated[DurationMs, Field(description="Call time in milliseconds.")],
        success: Annotated[bool, Field(description="False when the call failed.")] = True,
        error_type: Annotated[
            OptionalText, Field(description="Failure class when success is false.")
        ] = None,
        agent_name: Annotated[
            Name | None, Field(description="The agent that made the call, if any.")
        ] = None,
        timestamp: Annotated[
            float | None, Field(description="When it ended, Unix seconds; default now.")
        ] = None,
    ) -> RecordResult:
        """Record one tool call made outside a reported agent run (feeds get_tool_stats).

        Tool calls made inside a run belong in record_agent_run's tool_calls instead, so
        they are not counted twice.
        """
        try:
            self.runtime.monitor.record_tool_call(
                tool_name,
                duration_ms,
                success=success,
                error_type=error_type,
                agent_name=agent_name,
                timestamp=timestamp,
            )
        except ValueError as exc:
            raise _invalid(exc) from exc
        return RecordResult(recorded=1, kind="tool_call")

    async def record_requests(
        self,
        requests: Annotated[
            list[RequestSample],
            Field(
                min_length=1,
                max_length=MAX_BATCH,
                description=(
                    f"1 to {MAX_BATCH} HTTP requests: endpoint (route template or path; ids "
                    "collapse to {id}), method, status_code, duration_ms, optional "
                    "request_bytes, response_bytes, timestamp (Unix seconds)."
                ),
            ),
        ],
    ) -> RecordResult:
        """Record a batch of HTTP requests served by an app that cannot use the Python library.

        All or nothing: when one sample is invalid, none is stored and the error names it.
        Send batches every few seconds rather than one call per request.
        """
        record = self.runtime.monitor.record_requests
        if len(requests) > INLINE_BATCH:
            count = await _in_thread(record, requests)
        else:
            with _tool_errors():
                count = record(requests)
        return RecordResult(recorded=count, kind="request")

    # ------------------------------------------------------------ querying

    async def get_performance_summary(self, window: WindowArg = "5m") -> PerformanceSummary:
        """Everything at a glance for one window: requests, agents, tools, worst endpoints.

        Returns request count, rate (per second), 5xx count and rate, status classes and
        p50/p95/p99 latency in milliseconds; agent runs, success rate, p50/p95/p99, tokens and
        cost; tool calls, success rate and p50/p95/p99; and three tables (column names, then
        one array per row): the 5 slowest endpoints by p95 and the 5 with most 5xx (count,
        5xx, p50/p95/p99 each) and the 5 slowest single requests. Includes what was recorded
        a moment ago. Start here, then drill down with get_endpoint_stats (p90, mean, min, max,
        sizes), get_agent_stats, get_tool_stats.
        """
        return await self._query(self.runtime.monitor.get_performance_summary, window)

    async def get_endpoint_stats(
        self,
        endpoint: Annotated[
            str | None,
            Field(
                max_length=2000,
                description='One endpoint (route template such as "/users/{id}"); all if omitted.',
            ),
        ] = None,
        method: Annotated[
            str | None, Field(max_length=16, description='HTTP method filter, e.g. "GET".')
        ] = None,
        window: WindowArg = "5m",
        sort_by: Annotated[EndpointSort, Field(description="Order, largest first.")] = "p95_ms",
        limit: LimitArg = 20,
    ) -> EndpointStatsList:
        """Per-endpoint HTTP statistics: count, requests/s, 5xx rate, status classes, latency.

        Latencies are milliseconds (p50, p90, p95, p99, mean, min, max); error_rate is the
        5xx share (0..1). Use it to answer "which endpoints are slow or failing?".
        """
        return await self._query(
            self.runtime.monitor.get_endpoint_stats,
            endpoint=endpoint,
            method=method,
            window=window,
            sort_by=sort_by,
            limit=limit,
        )

    async def get_agent_stats(
        self,
        agent_name: Annotated[
            Name | None, Field(description="One agent; all agents if omitted.")
        ] = None,
        window: WindowArg = "5m",
        sort_by: Annotated[RunSort, Field(description="Order, largest first.")] = "p95_ms",
        limit: LimitArg = 20,
    ) -> AgentStatsList:
        """Per-agent run statistics: runs, failures, latency (ms), tokens, cost, top errors.

        Also lists usage per model and the tools each agent called. Use it to answer "which
        agent is slow, failing or expensive?".
        """
        return await self._query(
            self.runtime.monitor.get_agent_stats,
            agent_name=agent_name,
            window=window,
            sort_by=sort_by,
            limit=limit,
        )

    async def get_tool_stats(
        self,
        tool_name: Annotated[
            Name | None, Field(description="One tool; all tools if omitted.")
        ] = None,
        window: WindowArg = "5m",
        sort_by: Annotated[ToolSort, Field(description="Order, largest first.")] = "p95_ms",
        limit: LimitArg = 20,
    ) -> ToolStatsList:
        """Per-tool call statistics: calls, failures, error rate, latency (ms), top errors."""
        return await self._query(
            self.runtime.monitor.get_tool_stats,
            tool_name=tool_name,
            window=window,
            sort_by=sort_by,
            limit=limit,
        )

    async def get_resource_usage(self, window: WindowArg = "5m") -> ResourceSummary:
        """CPU, memory, swap, disk, I/O and load of the machine, and this server's own process.

        `latest` is the newest reading; `stats` gives last/min/mean/max/p95 of each metric
        over the window's stored samples (percentages 0..100, bytes, bytes per second;
        process_* is this server's process). A value psutil cannot give here is missing with
        its reason in `unavailable`. Samples are taken every `interval_s` seconds.
        """
        runtime = self.runtime
        storage = runtime.monitor.storage
        sampler = runtime.sampler
        now = time.time()
        raw, stored = await _in_thread(
            storage.resource_samples_spread, now - WINDOW_SECONDS[window], MAX_RESOURCE_SAMPLES
        )
        samples = [ResourceSample.model_validate_json(text) for text in raw]
        fresh = sampler.latest if sampler is not None else None
        if sampler is not None and (fresh is None or now - fresh.timestamp > sampler.interval_s):
            fresh = await sampler.sample_once()  # nothing recent: read the machine now
            if fresh is not None:
                samples.append(fresh)
        summary = summarize(samples, pid=os.getpid())
        note = "" if samples else "no resource samples in this window yet"
        return summary.model_copy(
            update={
                "window": window,
                "interval_s": sampler.interval_s if sampler is not None else None,
                "spread": stored > len(raw),
                "note": note,
            }
        )

    async def list_alerts(
        self,
        window: WindowArg = "24h",
        status: Annotated[
            AlertFilter,
            Field(description='"active" (firing or acknowledged), one state, or "all".'),
        ] = "active",
        limit: LimitArg = 20,
    ) -> AlertList:
        """Alerts raised when a threshold was crossed, newest first, with value and limit.

        Active alerts are always listed; resolved ones when they started or ended within
        `window`. Each has an `id` for acknowledge_alert. See list_thresholds for the limits
        and set_threshold to change one.
        """
        alerts = self.runtime.alert_manager
        await alerts.refresh()
        since = time.time() - WINDOW_SECONDS[window]
        found = await _in_thread(alerts.list_alerts, status, since, limit + 1)
        return AlertList(
            window=window,
            status=status,
            alerts=found[:limit],
            truncated=len(found) > limit,
            active=alerts.active_count(),
            evaluation=_evaluation(alerts),
            interval_s=alerts.interval_s,
            last_evaluated_at=alerts.last_evaluated_at if alerts.leader else None,
        )

    async def list_thresholds(self) -> ThresholdList:
        """The alert thresholds: default and effective warning/critical levels, unit, range.

        Also the cooldown between repeated notifications, the minimum sample count before a
        rule can fire, and overrides for single subjects (an endpoint, agent or tool).
        """
        alerts = self.runtime.alert_manager
        await alerts.refresh()
        return ThresholdList(thresholds=alerts.list_thresholds())

    async def health_check(self) -> HealthStatus:
        """Whether the server is well: ok, degraded or unhealthy, and why.

        Reasons name the thresholds crossed now, a stalled resource sampler, alert
        evaluation or store flusher, and a store that cannot be written or grows large.
        Also the version, uptime, store size and the age of the last flush.
        """
        return await _health(self.runtime)

    # ------------------------------------------------------------ changing

    async def set_threshold(
        self,
        name: Annotated[ThresholdName, Field(description="Which threshold (see list_thresholds).")],
        value: Annotated[
            float | None,
            Field(
                allow_inf_nan=False,
                description="New level in the threshold's unit: ms, a fraction 0..1, or percent.",
            ),
        ] = None,
        severity: Annotated[
            Severity, Field(description='Which level to change: "warning" or "critical".')
        ] = "warning",
        subject: Annotated[
            str | None,
            Field(
                max_length=200,
                description='Only for one endpoint ("GET /search"), agent or tool; all if omitted.',
            ),
        ] = None,
        cooldown_s: Annotated[
            float | None,
            Field(description="Seconds before the same alert notifies again (default 300)."),
        ] = None,
        dry_run: Annotated[
            bool,
            Field(
                description="Change nothing; replay the stored history (last 24 h) to show how "
                "often the new level would have fired, next to the current one."
            ),
        ] = False,
    ) -> ThresholdChange:
        """Change an alert threshold's level or cooldown, for everything or for one subject.

        Units follow the name: *_ms in milliseconds, *_rate as a fraction (0.05 = 5%),
        *_percent in 0..100. Changing the warning level alone keeps the critical/warning
        ratio. Applies at once and is stored (it survives a restart); with dry_run=true
        nothing changes and `replay` / `baseline` count the alerts the new and the current
        levels would have raised on the stored history.
        """
        alerts = self.runtime.alert_manager
        try:
            change = await alerts.set_threshold(
                name,
                value,
                severity=severity,
                subject=subject,
                cooldown_s=cooldown_s,
                dry_run=dry_run,
            )
        except ValueError as exc:
            raise _invalid(exc) from exc
        except StoreError as exc:
            raise ToolError(f"the metrics store cannot be used: {exc}") from exc
        if not dry_run:
            await self.runtime.clients.resource_updated(THRESHOLDS_URI)
        return change

    async def acknowledge_alert(
        self,
        alert_id: Annotated[int, Field(ge=1, description="The alert's id, from list_alerts.")],
        until: Annotated[
            float | datetime | None,
            Field(
                description="Silence repeats until then: Unix seconds or an ISO 8601 time "
                '("2030-01-01T09:00:00Z"; UTC unless it has an offset). Default: until resolved.'
            ),
        ] = None,
    ) -> AlertRecord:
        """Acknowledge an active alert: its repeated notifications stop until it resolves
        (or until `until`). A rise to critical notifies again. Answers with the alert."""
        if isinstance(until, datetime):
            aware = until if until.tzinfo is not None else until.replace(tzinfo=UTC)
            until = aware.timestamp()
        try:
            return await self.runtime.alert_manager.acknowledge(alert_id, until)
        except ValueError as exc:
            raise ToolError(str(exc)) from exc
        except StoreError as exc:
            raise ToolError(f"the metrics store cannot be used: {exc}") from exc

    # ------------------------------------------------------------ resources

    async def summary_resource(self) -> str:
        """The performance summary over the last 5 minutes, as JSON."""
        summary = await self._query(self.runtime.monitor.get_performance_summary, "5m")
        return summary.model_dump_json(indent=1)

    async def alerts_resource(self) -> str:
        """Active alerts, as JSON. Subscribe to hear when they change."""
        return (await self.list_alerts()).model_dump_json(indent=1)

    async def thresholds_resource(self) -> str:
        """Alert thresholds with their current values, as JSON. Subscribe to hear of changes."""
        return (await self.list_thresholds()).model_dump_json(indent=1)

    # ------------------------------------------------------------ 2025-11-25 notifications

    async def subscribe(
        self, ctx: ServerRequestContext[Runtime], params: SubscribeRequestParams
    ) -> EmptyResult:
        """resources/subscribe: perf://alerts and perf://thresholds announce their changes."""
        if params.uri not in SUBSCRIBABLE:
            raise MCPError(
                INVALID_PARAMS,
                f"cannot subscribe to {params.uri!r}: subscribe to {ALERTS_URI} (alerts firing "
                f"and resolving) or {THRESHOLDS_URI}; read perf://summary when you need it",
            )
        self.runtime.clients.peer(ctx.session).uris.add(params.uri)
        return EmptyResult()

    async def unsubscribe(
        self, ctx: ServerRequestContext[Runtime], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        """resources/unsubscribe."""
        self.runtime.clients.peer(ctx.session).uris.discard(params.uri)
        return EmptyResult()

    async def set_logging_level(
        self, ctx: ServerRequestContext[Runtime], params: SetLevelRequestParams
    ) -> EmptyResult:
        """logging/setLevel: the least severe alert log message this client wants."""
        self.runtime.clients.peer(ctx.session).level = params.level
        return EmptyResult()

    async def initialized(
        self, ctx: ServerRequestContext[Runtime], params: NotificationParams
    ) -> None:
        """A 2025-11-25 client finished its handshake: it hears alert log messages."""
        self.runtime.clients.peer(ctx.session)

    # ------------------------------------------------------------ prompts

    async def performance_review(
        self,
        window: Annotated[str, Field(description='"1m", "5m", "15m", "1h", "24h" or "7d".')] = "1h",
    ) -> list[UserMessage]:
        """Review the performance of everything monitored over a window, worst first."""
        checked = _prompt_window(window)
        summary = await self._query(self.runtime.monitor.get_performance_summary, checked)
        text = (
            f"Review the performance of my services and agents over the last {checked}.\n\n"
            "Here is the current summary from perf-mcp (durations in milliseconds, rates as "
            f"fractions):\n\n{summary.model_dump_json(exclude_none=True)}\n\n"
            "Then, using the perf-mcp tools with the same window:\n"
            "1. get_endpoint_stats sorted by p95_ms and by error_rate for the worst endpoints;\n"
            "2. get_agent_stats and get_tool_stats for slow, failing or expensive agents/tools;\n"
            "3. list_alerts and get_resource_usage for crossed thresholds and CPU/memory.\n"
            "Report the three most important problems with their numbers, a likely cause for "
            "each and what to look at next. If there was no traffic, say so plainly."
        )
        return [UserMessage(text)]

    async def diagnose_endpoint(
        self,
        endpoint: Annotated[
            str,
            Field(description='The endpoint, e.g. "/search" or "GET /users/{id}".'),
        ],
    ) -> list[UserMessage]:
        """Diagnose one HTTP endpoint: latency, errors, slow requests, compared across windows."""
        method, path = _split_endpoint(endpoint)
        monitor = self.runtime.monitor
        recent = await _in_thread(
            monitor.get_endpoint_stats, endpoint=path, method=method, window="5m", limit=10
        )
        day = await _in_thread(
            monitor.get_endpoint_stats, endpoint=path, method=method, window="24h", limit=10
        )
        text = (
            f"Diagnose the endpoint {endpoint!r}.\n\n"
            f"Last 5 minutes:\n{recent.model_dump_json(exclude_none=True)}\n\n"
            f"Last 24 hours:\n{day.model_dump_json(exclude_none=True)}\n\n"
            "Compare the two windows: has p95/p99 latency or the 5xx rate changed? Use "
            "get_performance_summary (slowest_requests) for slow examples of this endpoint, "
            "list_alerts for crossed thresholds and get_resource_usage for CPU or memory "
            "pressure. Conclude with the most likely cause and the next thing to check. If "
            "the endpoint had no traffic, say so and list the known endpoints instead."
        )
        return [UserMessage(text)]

    async def complete(
        self,
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        """Offer windows, and the endpoint, agent and tool names the store knows."""
        if argument.name == "window":
            candidates = list(WINDOW_SECONDS)
        elif argument.name in ("endpoint", "agent_name", "tool_name"):
            kind: Literal["endpoint", "agent", "tool"] = (
                "endpoint" if argument.name == "endpoint" else
                "agent" if argument.name == "agent_name" else "tool"
            )  # fmt: skip
            candidates = await anyio.to_thread.run_sync(self.runtime.monitor.known_names, kind)
        else:
            return None
        typed = argument.value.lower()
        matches = [c for c in candidates if c.lower().startswith(typed)]
        matches += [c for c in candidates if typed in c.lower() and c not in matches]
        return Completion(
            values=matches[:MAX_COMPLETIONS],
            total=len(matches),
            has_more=len(matches) > MAX_COMPLETIONS,
        )


def _prompt_window(window: str) -> Window:
    if window not in WINDOW_SECONDS:
        allowed = ", ".join(WINDOW_SECONDS)
        raise MCPError(INVALID_PARAMS, f"unknown window {window!r}; allowed: {allowed}")
    return window  # type: ignore[return-value]  # checked against the same table above


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def _split_endpoint(endpoint: str) -> tuple[str | None, str]:
    """'GET /users/{id}' -> ('GET', '/users/{id}'); '/search' -> (None, '/search')."""
    head, _, rest = endpoint.strip().partition(" ")
    if head.upper() in _METHODS and rest.strip():
        return head.upper(), rest.strip()
    if not endpoint.strip():
        raise MCPError(INVALID_PARAMS, "endpoint must not be empty, e.g. '/search'")
    return None, endpoint.strip()


# ---------------------------------------------------------------- health

STALE_INTERVALS = 3  # background work this many intervals late (plus slack) is stalled
STORE_WARN_BYTES = 1 << 30


async def _health(runtime: Runtime) -> HealthStatus:
    """The health_check answer: each part's state, the crossed thresholds, the verdict."""
    monitor = runtime.monitor
    now = time.time()
    components = [ComponentHealth(name="server", status="ok", detail=f"pid {os.getpid()}")]
    store_bytes = None
    try:
        await anyio.to_thread.run_sync(monitor.flush)
        store_bytes = await anyio.to_thread.run_sync(monitor.storage.file_size_bytes)
    except Exception as exc:  # the answer is the error: report it, don't crash
        detail = f"cannot be written: {type(exc).__name__}: {exc}"
        components.append(ComponentHealth(name="store", status="unhealthy", detail=detail))
    else:
        components.append(_store_health(store_bytes))
    components += [
        _flusher_health(monitor, now),
        _sampler_health(runtime.sampler, now),
        _alerting_health(runtime.alerts, now),
    ]
    if runtime.webhook is not None:
        components.append(_webhook_health(runtime.webhook))
    active = runtime.alerts.list_alerts("active", limit=100) if runtime.alerts else []
    active.sort(key=lambda a: a.severity != "critical")
    problems: list[tuple[HealthLevel, str]] = [
        ("unhealthy" if c.status == "unhealthy" else "degraded", f"{c.name}: {c.detail}")
        for c in components
        if c.status in ("degraded", "unhealthy")
    ]
    for alert in active:
        acknowledged = alert.state == "acknowledged"
        serious = alert.severity == "critical" and not acknowledged
        ack = " (acknowledged)" if acknowledged else ""
        problems.append(
            ("unhealthy" if serious else "degraded", f"alert {alert.id}{ack}: {alert.message}")
        )
    problems.sort(key=lambda p: p[0] != "unhealthy")
    status: HealthLevel = problems[0][0] if problems else "ok"
    last_flush = monitor.storage.last_flush_at
    return HealthStatus(
        status=status,
        reasons=[reason for _, reason in problems],
        version=__version__,
        uptime_s=round(now - runtime.started_at, 3),
        db_path=monitor.db_path,
        store_bytes=store_bytes,
        last_flush_age_s=round(now - last_flush, 3) if last_flush is not None else None,
        components=components,
        active_alerts=len(active),
        breached=[_breach(alert) for alert in active],
    )


def _store_health(size: int) -> ComponentHealth:
    mib = f"{size / (1 << 20):,.1f} MiB"
    if size > STORE_WARN_BYTES:
        return ComponentHealth(
            name="store",
            status="degraded",
            detail=f"writable but large ({mib}): shorten the retention "
            "(PERF_MCP_RETENTION_1M_D, PERF_MCP_RETENTION_1H_D)",
        )
    return ComponentHealth(name="store", status="ok", detail=f"writable, {mib}")


def _stale_after(interval_s: float) -> float:
    return STALE_INTERVALS * interval_s + 5


def _flusher_health(monitor: Monitor, now: float) -> ComponentHealth:
    last = monitor.storage.last_flush_at
    age = f"last write {now - last:.1f} s ago" if last is not None else "nothing written yet"
    alive = monitor.flusher_alive
    if alive is None:
        return ComponentHealth(
            name="flusher", status="disabled", detail=f"no background flusher: queries flush; {age}"
        )
    if not alive:
        return ComponentHealth(
            name="flusher",
            status="degraded",
            detail=f"stopped: recorded data is written only when someone queries; {age}",
        )
    return ComponentHealth(
        name="flusher", status="ok", detail=f"every {monitor.flush_interval_s:g} s; {age}"
    )


def _sampler_health(sampler: ResourceSampler | None, now: float) -> ComponentHealth:
    if sampler is None or not sampler.running:
        return ComponentHealth(
            name="sampler", status="degraded", detail="not running: no new resource samples"
        )
    every = f"every {sampler.interval_s:g} s"
    latest = sampler.latest
    since = latest.timestamp if latest is not None else sampler.started_at or now
    age = now - since
    if age > _stale_after(sampler.interval_s) + sampler.first_after_s:
        error = f"; {sampler.last_error}" if sampler.last_error else ""
        what = "last sample" if latest is not None else "started, no sample yet,"
        return ComponentHealth(
            name="sampler", status="degraded", detail=f"{what} {age:.0f} s ago ({every}){error}"
        )
    if latest is None:
        return ComponentHealth(name="sampler", status="ok", detail=f"{every}; first sample soon")
    return ComponentHealth(
        name="sampler",
        status="ok",
        detail=f"{every}; last sample {age:.1f} s ago, {sampler.samples_taken} taken",
    )


def _alerting_health(alerts: AlertManager | None, now: float) -> ComponentHealth:
    if alerts is None or not alerts.running:
        return ComponentHealth(
            name="alerting", status="degraded", detail="not running: nothing new can fire"
        )
    every = f"every {alerts.interval_s:g} s"
    if alerts.leader is False:
        return ComponentHealth(
            name="alerting",
            status="ok",
            detail=f"another perf-mcp server sharing this store evaluates ({every}); "
            "this one follows and takes over if it stops",
        )
    last = alerts.last_evaluated_at
    if last is None or now - last > _stale_after(alerts.interval_s):
        when = f"last evaluation {now - last:.0f} s ago" if last is not None else "no evaluation"
        error = f"; {alerts.last_error}" if alerts.last_error else ""
        if last is None and alerts.last_error is None:
            return ComponentHealth(name="alerting", status="ok", detail=f"{every}; starting")
        return ComponentHealth(
            name="alerting", status="degraded", detail=f"{when} ({every}){error}"
        )
    return ComponentHealth(
        name="alerting", status="ok", detail=f"{every}; last evaluation {now - last:.1f} s ago"
    )


def _webhook_health(hook: WebhookNotifier) -> ComponentHealth:
    if hook.last_failed:
        return ComponentHealth(
            name="webhook",
            status="degraded",
            detail=f"{hook.failures} delivery(ies) failed, last: {hook.last_error} "
            f"({hook.sent} sent)",
        )
    return ComponentHealth(name="webhook", status="ok", detail=f"{hook.sent} sent")


def _breach(alert: AlertRecord) -> Breach:
    return Breach(
        alert_id=alert.id,
        threshold=alert.threshold,
        subject=alert.subject,
        severity=alert.severity,
        value=alert.value,
        limit=alert.limit,
        unit=alert.unit,
        since=alert.started_at,
        acknowledged=alert.state == "acknowledged",
    )


def _evaluation(alerts: AlertManager) -> Evaluation:
    if not alerts.running:
        return "not running"
    return "another server" if alerts.leader is False else "this server"


def build_server(
    monitor: Monitor | None = None,
    *,
    db_path: str | os.PathLike[str] | None = None,
    flush_interval_s: float | None = None,
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING",
    settings: Settings | None = None,
) -> MCPServer[Runtime]:
    """Build the perf-mcp MCP server.

    Give a ``monitor`` you own (the server flushes it but never closes it), or let the
    server's lifespan open one on ``db_path`` (default: ``$PERF_MCP_DB`` or the user data
    directory) and flush and close it on shutdown. The lifespan also runs the resource
    sampler and the alert manager; ``settings`` (default: the monitor's, else the
    environment's) sets their intervals, the webhook and the watched processes.
    """
    runtime = Runtime(monitor, db_path, flush_interval_s, settings)
    tools = PerfTools(runtime)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        await runtime.open()
        try:
            async with runtime.background():
                yield runtime
        finally:
            await runtime.release()

    server: MCPServer[Runtime] = MCPServer(
        name="perf-mcp",
        title="perf-mcp performance monitor",
        description="Performance numbers for web endpoints, AI agents and their tools.",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan,
        log_level=log_level,
        subscriptions=runtime.clients.bus,
        # The tool, resource and prompt lists never change while the server runs.
        cache_hints={
            "tools/list": CacheHint(ttl_ms=300_000, scope="public"),
            "prompts/list": CacheHint(ttl_ms=300_000, scope="public"),
            "resources/list": CacheHint(ttl_ms=300_000, scope="public"),
        },
    )
    registered: list[tuple[Callable[..., Any], ToolAnnotations]] = [
        (tools.record_agent_run, RECORDING),
        (tools.record_tool_call, RECORDING),
        (tools.record_requests, RECORDING),
        (tools.get_performance_summary, READ_ONLY),
        (tools.get_endpoint_stats, READ_ONLY),
        (tools.get_agent_stats, READ_ONLY),
        (tools.get_tool_stats, READ_ONLY),
        (tools.get_resource_usage, READ_ONLY),
        (tools.list_alerts, READ_ONLY),
        (tools.list_thresholds, READ_ONLY),
        (tools.health_check, READ_ONLY),
        (tools.set_threshold, SETTING),
        (tools.acknowledge_alert, SETTING),
    ]
    for fn, hints in registered:
        description = inspect.cleandoc(fn.__doc__ or "")
        server.add_tool(fn, description=description, annotations=hints, structured_output=True)

    json_type = "application/json"
    server.resource("perf://summary", name="summary", mime_type=json_type)(tools.summary_resource)
    server.resource(ALERTS_URI, name="alerts", mime_type=json_type)(tools.alerts_resource)
    server.resource(THRESHOLDS_URI, name="thresholds", mime_type=json_type)(
        tools.thresholds_resource
    )
    server.prompt(title="Performance review")(tools.performance_review)
    server.prompt(title="Diagnose an endpoint")(tools.diagnose_endpoint)
    server.completion()(tools.complete)  # type: ignore[no-untyped-call]

    # MCPServer has no public hooks for the 2025-11-25 methods the 2026 revision removed
    # (logging/setLevel, resources/subscribe): the SDK's extension docs point at the
    # low-level server for re-providing them. 2026 clients use subscriptions/listen, which
    # MCPServer serves from the bus given above.
    lowlevel = server._lowlevel_server
    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, tools.set_logging_level)
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, tools.subscribe)
    lowlevel.add_request_handler(
        "resources/unsubscribe", UnsubscribeRequestParams, tools.unsubscribe
    )
    lowlevel.add_notification_handler(
        "notifications/initialized", NotificationParams, tools.initialized
    )
    return server
