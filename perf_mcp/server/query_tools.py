"""The query and change tools and the resources: summaries, stats, resources, alerts, thresholds."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, ParamSpec, TypeVar

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resolve import Resolve
from mcp.types import CallToolResult
from pydantic import BaseModel, Field, Strict

from perf_mcp.alerting import AlertManager
from perf_mcp.core.alerts import (
    AlertFilter,
    AlertList,
    AlertRecord,
    Evaluation,
    Severity,
    ThresholdChange,
    ThresholdInfo,
    ThresholdList,
    ThresholdName,
)
from perf_mcp.core.models import (
    WINDOW_SECONDS,
    AgentStats,
    AgentStatsList,
    EndpointSort,
    EndpointStats,
    EndpointStatsList,
    PerformanceSummary,
    RunSort,
    ToolSort,
    ToolStats,
    ToolStatsList,
    Window,
)
from perf_mcp.core.validation import Name
from perf_mcp.resources import ResourceSample, ResourceSummary, summarize
from perf_mcp.server.answers import answer_text
from perf_mcp.server.arguments import MAX_LIMIT, LimitArg, WindowArg
from perf_mcp.server.auth import describe_caller, require_write
from perf_mcp.server.calls import ask, in_thread, invalid, store_unusable
from perf_mcp.server.columns import FieldsArg, columns_of, with_columns
from perf_mcp.server.confirm import Confirmation, confirm_change, refusal
from perf_mcp.server.notifications import THRESHOLDS_URI
from perf_mcp.server.runtime import Runtime
from perf_mcp.storage import StoreError

P = ParamSpec("P")
Q = TypeVar("Q", bound=BaseModel)

logger = logging.getLogger(__name__)

ACCEPTED = AcceptedElicitation(data=Confirmation())  # called from Python: no one to ask
MAX_RESOURCE_SAMPLES = 1000  # a long window's samples are spread evenly down to this many
COUNTED_ALERTS = 5000  # alerts counted for list_alerts' total

EndpointFields = Annotated[FieldsArg, columns_of(EndpointStats)]
AgentFields = Annotated[FieldsArg, columns_of(AgentStats)]
ToolFields = Annotated[FieldsArg, columns_of(ToolStats)]
AlertFields = Annotated[FieldsArg, columns_of(AlertRecord)]
ThresholdFields = Annotated[FieldsArg, columns_of(ThresholdInfo)]


class AlertPage(AlertList):
    total: int = Field(description=f"Alerts that matched (counted up to {COUNTED_ALERTS}).")


class ThresholdPage(ThresholdList):
    total: int
    truncated: bool


class QueryTools:
    """The tools that read and change what the server knows, and the resources over them."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def _ask(self, query: Callable[P, Q], *args: P.args, **kwargs: P.kwargs) -> Q:
        return await ask(self.runtime.monitor, query, *args, **kwargs)

    # ------------------------------------------------------------ querying

    async def get_performance_summary(self, window: WindowArg = "5m") -> PerformanceSummary:
        """Start here: totals for requests, agent runs and tool calls (counts, error rates,
        p50/p95/p99 ms, tokens, cost), the slowest and most failing endpoints, the slowest
        requests."""
        return await self._ask(self.runtime.monitor.get_performance_summary, window)

    async def get_endpoint_stats(
        self,
        endpoint: Annotated[
            str | None,
            Field(
                max_length=2000,
                description='A route template such as "/users/{id}"; all if omitted.',
            ),
        ] = None,
        method: Annotated[str | None, Field(max_length=16, description='e.g. "GET".')] = None,
        window: WindowArg = "5m",
        sort_by: Annotated[EndpointSort, Field(description="Order, largest first.")] = "p95_ms",
        limit: LimitArg = 10,
        fields: EndpointFields = None,
    ) -> Annotated[CallToolResult, EndpointStatsList]:
        """Which endpoints are slow or failing: per endpoint count, requests/s, 5xx rate,
        status classes, latency (ms), sizes."""
        stats = await self._ask(
            self.runtime.monitor.get_endpoint_stats,
            endpoint=endpoint,
            method=method,
            window=window,
            sort_by=sort_by,
            limit=limit,
        )
        return with_columns(stats, "endpoints", fields, ("endpoint", "method"))

    async def get_agent_stats(
        self,
        agent_name: Annotated[Name | None, Field(description="All if omitted.")] = None,
        window: WindowArg = "5m",
        sort_by: Annotated[RunSort, Field(description="Order, largest first.")] = "p95_ms",
        limit: LimitArg = 20,
        fields: AgentFields = None,
    ) -> Annotated[CallToolResult, AgentStatsList]:
        """Which agent is slow, failing or expensive: per agent runs, failures, latency (ms),
        tokens, cost, top errors, tools called; usage per model."""
        stats = await self._ask(
            self.runtime.monitor.get_agent_stats,
            agent_name=agent_name,
            window=window,
            sort_by=sort_by,
            limit=limit,
        )
        return with_columns(stats, "agents", fields, ("agent_name",))

    async def get_tool_stats(
        self,
        tool_name: Annotated[Name | None, Field(description="All if omitted.")] = None,
        window: WindowArg = "5m",
        sort_by: Annotated[ToolSort, Field(description="Order, largest first.")] = "p95_ms",
        limit: LimitArg = 20,
        fields: ToolFields = None,
    ) -> Annotated[CallToolResult, ToolStatsList]:
        """Which tool is slow or failing: per tool calls, error rate, latency (ms), top errors."""
        stats = await self._ask(
            self.runtime.monitor.get_tool_stats,
            tool_name=tool_name,
            window=window,
            sort_by=sort_by,
            limit=limit,
        )
        return with_columns(stats, "tools", fields, ("tool_name",))

    async def get_resource_usage(self, window: WindowArg = "5m") -> ResourceSummary:
        """Is the machine the bottleneck: CPU, memory, swap, disk, I/O and load, and this
        server's process; the latest reading and last/min/mean/max/p95 over the window."""
        runtime = self.runtime
        sampler = runtime.sampler
        now = time.time()
        raw, stored = await in_thread(
            runtime.monitor.resource_samples, now - WINDOW_SECONDS[window], MAX_RESOURCE_SAMPLES
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
            Field(description='"active" = firing or acknowledged.'),
        ] = "active",
        limit: LimitArg = 20,
        fields: AlertFields = None,
    ) -> Annotated[CallToolResult, AlertPage]:
        """Which thresholds are crossed: alerts newest first with value, limit and id (for
        acknowledge_alert); resolved ones when they touched the window."""
        found = await self.alert_page(window, status, limit)
        return with_columns(found, "alerts", fields, ("id",))

    async def list_thresholds(
        self, limit: LimitArg = 10, fields: ThresholdFields = None
    ) -> Annotated[CallToolResult, ThresholdPage]:
        """The alert limits: warning/critical levels (default and effective), unit, cooldown,
        minimum samples, per-subject overrides."""
        return with_columns(await self._threshold_page(limit), "thresholds", fields, ("name",))

    async def alert_page(self, window: Window, status: AlertFilter, limit: int) -> AlertPage:
        """list_alerts' answer, before its columns are cut (also the JSON API's)."""
        alerts = self.runtime.alert_manager
        await alerts.refresh()
        since = time.time() - WINDOW_SECONDS[window]
        found = await in_thread(alerts.list_alerts, status, since, COUNTED_ALERTS)
        return AlertPage(
            window=window,
            status=status,
            alerts=found[:limit],
            truncated=len(found) > limit,
            total=len(found),
            active=alerts.active_count(),
            evaluation=_evaluation(alerts),
            interval_s=alerts.interval_s,
            last_evaluated_at=alerts.last_evaluated_at if alerts.leader else None,
        )

    async def _threshold_page(self, limit: int) -> ThresholdPage:
        alerts = self.runtime.alert_manager
        await alerts.refresh()
        found = alerts.list_thresholds()
        return ThresholdPage(
            thresholds=found[:limit], total=len(found), truncated=len(found) > limit
        )

    # ------------------------------------------------------------ changing

    async def set_threshold(
        self,
        name: Annotated[ThresholdName, Field(description="See list_thresholds.")],
        value: Annotated[
            float | None,
            Field(
                allow_inf_nan=False,
                description="In the threshold's unit: ms, fraction 0..1 or percent.",
            ),
        ] = None,
        severity: Annotated[
            Severity, Field(description='Which level to change: "warning" or "critical".')
        ] = "warning",
        subject: Annotated[
            str | None,
            Field(
                max_length=200,
                description='One endpoint ("GET /search"), agent or tool; all if omitted.',
            ),
        ] = None,
        cooldown_s: Annotated[
            float | None,
            Field(description="Seconds between repeats (default 300)."),
        ] = None,
        dry_run: Annotated[
            bool,
            Field(description="Change nothing; replay the last 24 h at the new level."),
        ] = False,
        ctx: Context | None = None,
        # Not an argument: the SDK fills it before the call with the person's answer
        # (server/confirm.py asks when the policy and the client allow).
        confirmation: Annotated[
            ElicitationResult[Confirmation], Resolve(confirm_change)
        ] = ACCEPTED,
    ) -> ThresholdChange:
        """Change an alert level or cooldown, for all or one subject; stored at once. Try
        dry_run=true first: it counts the alerts the new level would have raised."""
        if not dry_run:
            require_write("set_threshold")
        alerts = self.runtime.alert_manager
        refused = refusal(confirmation)
        if refused is not None:
            raise ToolError(refused)
        by = describe_caller(_client_name(ctx))
        try:
            change = await alerts.set_threshold(
                name,
                value,
                severity=severity,
                subject=subject,
                cooldown_s=cooldown_s,
                dry_run=dry_run,
                by=by,
            )
        except ValueError as exc:
            raise invalid(exc) from exc
        except StoreError as exc:
            raise store_unusable(exc) from exc
        if not dry_run:
            o = change.override
            logger.warning(  # the audit trail: who changed which level (shown at the default level)
                "threshold %s for %s set to warning=%s critical=%s cooldown_s=%s by %s",
                o.rule, o.subject or "every subject", o.warning, o.critical, o.cooldown_s, by,
            )  # fmt: skip
            await self.runtime.clients.resource_updated(THRESHOLDS_URI)
        return change

    async def acknowledge_alert(
        self,
        alert_id: Annotated[int, Field(ge=1, description="The alert's id, from list_alerts.")],
        until: Annotated[
            float | Annotated[datetime, Strict(False)] | None,
            Field(description="Unix seconds or ISO 8601 time; default: until resolved."),
        ] = None,
        ctx: Context | None = None,
    ) -> AlertRecord:
        """Silence an active alert's repeats until it resolves (or `until`); a rise to
        critical still notifies."""
        require_write("acknowledge_alert")
        if isinstance(until, datetime):
            aware = until if until.tzinfo is not None else until.replace(tzinfo=UTC)
            until = aware.timestamp()
        try:
            by = describe_caller(_client_name(ctx))
            return await self.runtime.alert_manager.acknowledge(alert_id, until, by=by)
        except ValueError as exc:
            raise invalid(exc) from exc
        except StoreError as exc:
            raise store_unusable(exc) from exc

    # ------------------------------------------------------------ resources

    async def summary_resource(self) -> str:
        """The performance summary over the last 5 minutes, as JSON."""
        summary = await self._ask(self.runtime.monitor.get_performance_summary, "5m")
        return answer_text(summary)

    async def alerts_resource(self) -> str:
        """Active alerts, as JSON. Subscribe to hear when they change."""
        return answer_text(await self.alert_page("24h", "active", MAX_LIMIT))

    async def thresholds_resource(self) -> str:
        """Alert thresholds with their current values, as JSON. Subscribe to hear of changes."""
        return answer_text(await self._threshold_page(MAX_LIMIT))


def _evaluation(alerts: AlertManager) -> Evaluation:
    if not alerts.running:
        return "not running"
    return "another server" if alerts.leader is False else "this server"


def _client_name(ctx: Context | None) -> str | None:
    """The name the client gave in its clientInfo (its own claim), if it gave one."""
    params = ctx.session.client_params if ctx is not None else None
    return params.client_info.name if params is not None else None
