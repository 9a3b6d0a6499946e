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
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, Literal, ParamSpec, TypeVar

import anyio
import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.caching import CacheHint
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    Completion,
    CompletionArgument,
    CompletionContext,
    EmptyResult,
    LoggingLevel,
    PromptReference,
    ResourceTemplateReference,
    SetLevelRequestParams,
    ToolAnnotations,
)
from pydantic import BaseModel, Field, ValidationError

from perf_mcp.core.alerts_models import (
    AlertFilter,
    AlertList,
    ComponentHealth,
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
from perf_mcp.core.rules import (
    OVERALL,
    AlertState,
    Severity,
    ThresholdOverride,
    make_override,
    threshold_table,
)
from perf_mcp.monitor import Monitor
from perf_mcp.sampler import ResourceReader, ResourceSummary, summarize
from perf_mcp.storage import StoreError

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

MAX_BATCH = 10_000
MAX_LIMIT = 500
MAX_COMPLETIONS = 100  # the protocol's cap on completion values

INSTRUCTIONS = """\
perf-mcp measures web endpoints, AI agents and their tools, and the machine they run on.

Asking: start with get_performance_summary (one window, everything at a glance), then drill
down with get_endpoint_stats, get_agent_stats or get_tool_stats (filter by name, sort, limit).
list_alerts shows thresholds that were crossed; list_thresholds shows the limits;
get_resource_usage shows CPU and memory; health_check says whether the server is well.
Every query takes `window`: "1m", "5m", "15m", "1h", "24h" or "7d" (default "5m").
Durations are milliseconds (fields end in _ms), rates are fractions between 0 and 1, and
lists are capped by `limit` (say `truncated` when more matched).

Reporting: an agent calls record_agent_run once per run (with its tool calls nested),
record_tool_call for a lone tool call, and an app that is not Python sends its HTTP requests
in batches with record_requests. Changing: set_threshold, acknowledge_alert.

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


def package_version() -> str:
    """The installed perf-mcp version, or a placeholder when running from a source tree."""
    try:
        return version("perf-mcp")
    except PackageNotFoundError:
        return "0+unknown"


class RecordResult(BaseModel):
    """What a reporting tool stored."""

    recorded: int = Field(description="Items recorded by this call.")
    kind: Literal["agent_run", "tool_call", "request"]


class Runtime:
    """The Monitor a server works on, and the state that lives as long as the server.

    The lifespan opens it; with several connections in one process (the in-process test
    client) the first opens the Monitor and the last closes it.
    """

    def __init__(
        self,
        monitor: Monitor | None,
        db_path: str | os.PathLike[str] | None,
        flush_interval_s: float,
    ) -> None:
        self._owned = monitor is None
        self._monitor = monitor
        self._db_path = db_path
        self._flush_interval_s = flush_interval_s
        self._users = 0
        self._lock = anyio.Lock()
        self.started_at = time.time()
        self.overrides: list[ThresholdOverride] = []
        self.reader: ResourceReader | None = None
        self.client_log_level: LoggingLevel | None = None

    @property
    def monitor(self) -> Monitor:
        if self._monitor is None:
            raise ToolError("the server is not running: its lifespan has not started")
        return self._monitor

    async def open(self) -> None:
        """Open the Monitor (when this runtime owns it) for one more user."""
        async with self._lock:
            if self._monitor is None:
                self._monitor = await anyio.to_thread.run_sync(
                    functools.partial(
                        Monitor, self._db_path, flush_interval_s=self._flush_interval_s
                    )
                )
                logger.info("perf-mcp store: %s", self._monitor.db_path)
            if self.reader is None:
                self.reader = _resource_reader(self._monitor.db_path)
                await anyio.to_thread.run_sync(self.reader.prime)
            self._users += 1

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
                    await anyio.to_thread.run_sync(monitor.close)
                else:
                    await anyio.to_thread.run_sync(monitor.flush)


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


async def _in_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking Monitor call off the event loop; bad input becomes a ToolError."""
    try:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
    except ValueError as exc:
        raise _invalid(exc) from exc
    except StoreError as exc:
        raise ToolError(f"the metrics store cannot be used: {exc}") from exc


def _resource_reader(db_path: str) -> ResourceReader:
    """A psutil reader watching this process and the filesystem that holds the store."""
    disk = [] if db_path == ":memory:" else [os.path.dirname(os.path.abspath(db_path))]
    return ResourceReader(disk_paths=disk)


class PerfTools:
    """The tools, resources, prompts and completions, as methods over one Runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

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
        count = await _in_thread(self.runtime.monitor.record_requests, requests)
        return RecordResult(recorded=count, kind="request")

    # ------------------------------------------------------------ querying

    async def get_performance_summary(self, window: WindowArg = "5m") -> PerformanceSummary:
        """Everything at a glance for one window: requests, agents, tools, worst endpoints.

        Returns request count, rate (per second), 5xx error rate and latency percentiles in
        milliseconds; agent runs, success rate, tokens and cost; tool calls; the slowest
        endpoints by p95, the endpoints with most 5xx and the slowest single requests.
        Start here, then drill down with get_endpoint_stats, get_agent_stats, get_tool_stats.
        """
        return await _in_thread(self.runtime.monitor.get_performance_summary, window)

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
        return await _in_thread(
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
        return await _in_thread(
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
        return await _in_thread(
            self.runtime.monitor.get_tool_stats,
            tool_name=tool_name,
            window=window,
            sort_by=sort_by,
            limit=limit,
        )

    async def get_resource_usage(self, window: WindowArg = "5m") -> ResourceSummary:
        """CPU, memory, swap, disk, I/O and load of the machine, and this server's own process.

        `latest` is a reading; `stats` gives last/min/mean/max/p95 of each metric over the
        window (percentages 0..100, bytes, bytes per second). A value psutil cannot give here
        is missing with its reason in `unavailable`. Without the background sampler the
        window holds only the reading taken for this answer (`samples` = 1).
        """
        reader = self.runtime.reader
        if reader is None:
            raise ToolError("the server is not running: its lifespan has not started")
        return summarize([await anyio.to_thread.run_sync(reader.read)])

    async def list_alerts(
        self,
        window: WindowArg = "24h",
        status: Annotated[
            AlertFilter, Field(description='"active" (firing or acknowledged), a state, or "all".')
        ] = "active",
        limit: LimitArg = 20,
    ) -> AlertList:
        """Alerts raised when a threshold was crossed, newest first, with value and limit.

        See list_thresholds for the limits and set_threshold to change one.
        """
        return AlertList(
            window=window, alerts=[], total=0, truncated=False, active=0, alerting_enabled=False
        )

    async def list_thresholds(self) -> ThresholdList:
        """The alert thresholds: default and effective warning/critical levels, unit, range.

        Also the cooldown between repeated notifications, the minimum sample count before a
        rule can fire, and overrides for single subjects (an endpoint, agent or tool).
        """
        return ThresholdList(thresholds=threshold_table(self.runtime.overrides))

    async def health_check(self) -> HealthStatus:
        """Whether the server is well: store writable, background work running, version, uptime."""
        runtime = self.runtime
        monitor = runtime.monitor
        components = [ComponentHealth(name="server", status="ok")]
        store_bytes = None
        try:
            await anyio.to_thread.run_sync(monitor.flush)
            store_bytes = await anyio.to_thread.run_sync(monitor.storage.file_size_bytes)
            components.append(ComponentHealth(name="store", status="ok", detail="writable"))
        except Exception as exc:  # the answer is the error: report it, don't crash
            detail = f"{type(exc).__name__}: {exc}"
            components.append(ComponentHealth(name="store", status="unhealthy", detail=detail))
        components += [
            ComponentHealth(name="sampler", status="disabled", detail="not running here"),
            ComponentHealth(name="alerting", status="disabled", detail="not running here"),
        ]
        failing = any(c.status == "unhealthy" for c in components)
        return HealthStatus(
            status="unhealthy" if failing else "ok",
            version=package_version(),
            uptime_s=round(time.time() - runtime.started_at, 3),
            db_path=monitor.db_path,
            store_bytes=store_bytes,
            components=components,
            active_alerts=0,
        )

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
    ) -> ThresholdChange:
        """Change an alert threshold's level or cooldown, for everything or for one subject.

        Units follow the name: *_ms in milliseconds, *_rate as a fraction (0.05 = 5%),
        *_percent in 0..100. Changing the warning level alone keeps the critical/warning
        ratio. Answers with the stored override and the rule's levels after it.
        """
        runtime = self.runtime
        try:
            override = make_override(
                name,
                value,
                now=time.time(),
                severity=severity,
                subject=subject,
                cooldown_s=cooldown_s,
                existing=runtime.overrides,
            )
        except ValueError as exc:
            raise _invalid(exc) from exc
        runtime.overrides = [
            o for o in runtime.overrides if (o.rule, o.subject) != (name, override.subject)
        ]
        runtime.overrides.append(override)
        (row,) = [t for t in threshold_table(runtime.overrides) if t.name == name]
        return ThresholdChange(override=override, threshold=row, persisted=False)

    async def acknowledge_alert(
        self,
        rule: Annotated[ThresholdName, Field(description="The alert's rule, from list_alerts.")],
        subject: Annotated[
            str,
            Field(
                min_length=1,
                max_length=200,
                description='The alert\'s subject from list_alerts: "overall", "system", an '
                "endpoint, agent or tool.",
            ),
        ] = OVERALL,
        until: Annotated[
            float | None,
            Field(
                description="Silence repeats until then (Unix seconds); default: until resolved."
            ),
        ] = None,
    ) -> AlertState:
        """Acknowledge a firing alert: its repeats stop until it resolves (or until `until`)."""
        raise ToolError(
            f"no firing alert for {rule} on {subject!r}: list_alerts shows the alerts that "
            "exist (alert evaluation is not running in this server, so there are none)"
        )

    # ------------------------------------------------------------ resources

    async def summary_resource(self) -> str:
        """The performance summary over the last 5 minutes, as JSON."""
        summary = await _in_thread(self.runtime.monitor.get_performance_summary, "5m")
        return summary.model_dump_json(indent=1)

    async def alerts_resource(self) -> str:
        """Active alerts, as JSON."""
        return (await self.list_alerts()).model_dump_json(indent=1)

    async def thresholds_resource(self) -> str:
        """Alert thresholds with their current values, as JSON."""
        return (await self.list_thresholds()).model_dump_json(indent=1)

    # ------------------------------------------------------------ prompts

    async def performance_review(
        self,
        window: Annotated[str, Field(description='"1m", "5m", "15m", "1h", "24h" or "7d".')] = "1h",
    ) -> list[UserMessage]:
        """Review the performance of everything monitored over a window, worst first."""
        checked = _prompt_window(window)
        summary = await _in_thread(self.runtime.monitor.get_performance_summary, checked)
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


def build_server(
    monitor: Monitor | None = None,
    *,
    db_path: str | os.PathLike[str] | None = None,
    flush_interval_s: float = 1.0,
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING",
) -> MCPServer[Runtime]:
    """Build the perf-mcp MCP server.

    Give a ``monitor`` you own (the server flushes it but never closes it), or let the
    server's lifespan open one on ``db_path`` (default: ``$PERF_MCP_DB`` or the user data
    directory) and flush and close it on shutdown.
    """
    runtime = Runtime(monitor, db_path, flush_interval_s)
    tools = PerfTools(runtime)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        await runtime.open()
        try:
            yield runtime
        finally:
            await runtime.release()

    server: MCPServer[Runtime] = MCPServer(
        name="perf-mcp",
        title="perf-mcp performance monitor",
        description="Performance numbers for web endpoints, AI agents and their tools.",
        instructions=INSTRUCTIONS,
        version=package_version(),
        lifespan=lifespan,
        log_level=log_level,
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
    server.resource("perf://alerts", name="alerts", mime_type=json_type)(tools.alerts_resource)
    server.resource("perf://thresholds", name="thresholds", mime_type=json_type)(
        tools.thresholds_resource
    )
    server.prompt(title="Performance review")(tools.performance_review)
    server.prompt(title="Diagnose an endpoint")(tools.diagnose_endpoint)
    server.completion()(tools.complete)  # type: ignore[no-untyped-call]

    async def set_logging_level(
        ctx: ServerRequestContext[Runtime], params: SetLevelRequestParams
    ) -> EmptyResult:
        runtime.client_log_level = params.level
        return EmptyResult()

    # MCPServer has no public hook for logging/setLevel (a 2025-11-25 method the 2026 revision
    # removed); the SDK's extension docs point at the low-level server for re-providing it.
    server._lowlevel_server.add_request_handler(
        "logging/setLevel", SetLevelRequestParams, set_logging_level
    )
    return server
