"""The JSON API under /api/v1/ that the dashboard draws: thin over the Monitor and the alerts.

Every route is one ``Operation``: its query parameters and answer are pydantic models, which
check the input (a bad one gets a 400 naming the field and what is allowed) and describe the
route in the OpenAPI document at /api/v1/openapi.json::

    for route in api_routes(runtime):
        server.custom_route(route.path, methods=[route.method])(route.handler)
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from perf_mcp.core.alerts import AlertFilter, AlertList, AlertRecord
from perf_mcp.core.models import (
    WINDOW_SECONDS,
    AgentStatsList,
    EndpointSort,
    EndpointStats,
    EndpointStatsList,
    PerformanceSummary,
    RunSort,
    SlowRequest,
    ToolSort,
    ToolStatsList,
    Window,
)
from perf_mcp.core.timeline import Timeline, TimelineKind, grid, mean_points
from perf_mcp.resources import ResourceSample, ResourceSummary, summarize
from perf_mcp.server.auth import current_caller
from perf_mcp.server.calls import ask, describe_invalid, in_thread
from perf_mcp.server.query_tools import MAX_RESOURCE_SAMPLES, QueryTools
from perf_mcp.server.runtime import Runtime
from perf_mcp.storage import StoreError

PREFIX = "/api/v1"
Handler = Callable[[Request], Awaitable[Response]]
Limit = Annotated[int, Field(ge=1, le=500, description="At most this many rows.")]
RESOURCE_METRICS = ("cpu_percent", "memory_percent", "disk_percent")


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WindowParams(_Params):
    window: Window = "5m"


class EndpointsParams(WindowParams):
    sort_by: EndpointSort = "p95_ms"
    limit: Limit = 50


class EndpointParams(WindowParams):
    endpoint: str = Field(min_length=1, max_length=2000, description='e.g. "/users/{id}"')
    method: str | None = Field(default=None, max_length=16, description='e.g. "GET"')


class AgentsParams(WindowParams):
    sort_by: RunSort = "p95_ms"
    limit: Limit = 50


class ToolsParams(WindowParams):
    sort_by: ToolSort = "p95_ms"
    limit: Limit = 50


class SeriesParams(WindowParams):
    kind: TimelineKind = "request"
    name: str | None = Field(default=None, max_length=2000, description="All if omitted.")
    method: str | None = Field(default=None, max_length=16)


class AlertsParams(_Params):
    window: Window = "24h"
    status: AlertFilter = "active"
    limit: Limit = 50


class AcknowledgeBody(_Params):
    until: float | None = Field(
        default=None, allow_inf_nan=False, description="Unix seconds; default: until resolved."
    )


class EndpointDetail(BaseModel):
    """One endpoint (all its methods unless one is given): stats, latency over time, and
    those of the store's slowest requests that hit it."""

    stats: list[EndpointStats]
    timeline: Timeline
    slowest_requests: list[SlowRequest]


class ResourceTimeline(BaseModel):
    """Resource readings over the window: per point, the mean of each metric."""

    summary: ResourceSummary
    metrics: list[str] = Field(description="What each value of a point is (percent, 0..100).")
    step_s: int
    start: int
    points: list[list[float | None]]


class Acknowledged(BaseModel):
    alert: AlertRecord


@dataclass(frozen=True)
class Operation:
    """One route of the API: what it takes, what it answers, and the handler."""

    method: Literal["GET", "POST"]
    path: str
    summary: str
    params: type[BaseModel] | None
    answer: type[BaseModel]
    handler: Handler
    body: type[BaseModel] | None = None


class ApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _error(status: int, detail: str) -> JSONResponse:
    kind = {400: "bad_request", 403: "forbidden", 404: "not_found", 503: "unavailable"}
    return JSONResponse({"error": kind.get(status, "error"), "detail": detail}, status)


def _params(model: type[BaseModel], request: Request) -> Any:
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise ApiError(400, f"invalid query parameters: {describe_invalid(exc)}") from None


def _json(answer: BaseModel) -> Response:
    return Response(answer.model_dump_json(), media_type="application/json")


def _endpoint(
    params: type[BaseModel] | None, run: Callable[[Any, Request], Awaitable[BaseModel]]
) -> Handler:
    """A Starlette handler: check the query, run, answer JSON; errors as clear statuses."""

    async def handle(request: Request) -> Response:
        try:
            given = _params(params, request) if params is not None else None
            return _json(await run(given, request))
        except ApiError as exc:
            return _error(exc.status, exc.detail)
        except ToolError as exc:  # the Monitor refused the input, or the store failed
            return _error(503 if isinstance(exc.__cause__, StoreError) else 400, str(exc))

    return handle


class Api:
    """The handlers, over one server's Runtime. ``read_only``: refuse every change (the
    ``perf-mcp dashboard`` command looks at a store another process owns)."""

    def __init__(self, runtime: Runtime, *, read_only: bool = False) -> None:
        self.runtime = runtime
        self.tools = QueryTools(runtime)
        self.read_only = read_only

    async def summary(self, p: WindowParams, _: Request) -> PerformanceSummary:
        monitor = self.runtime.monitor
        return await ask(monitor, monitor.get_performance_summary, p.window)

    async def endpoints(self, p: EndpointsParams, _: Request) -> EndpointStatsList:
        monitor = self.runtime.monitor
        return await ask(
            monitor, monitor.get_endpoint_stats, window=p.window, sort_by=p.sort_by, limit=p.limit
        )

    async def endpoint(self, p: EndpointParams, _: Request) -> EndpointDetail:
        monitor = self.runtime.monitor
        stats = await ask(
            monitor, monitor.get_endpoint_stats, p.endpoint, p.method, p.window, "count", 500
        )
        timeline = await ask(
            monitor, monitor.get_timeline, "request", p.window, p.endpoint, p.method
        )
        summary = await ask(monitor, monitor.get_performance_summary, p.window)
        return EndpointDetail(
            stats=stats.endpoints,
            timeline=timeline,
            slowest_requests=[
                s
                for s in summary.slowest_requests
                if s.endpoint == timeline.name and timeline.method in (None, s.method)
            ],
        )

    async def agents(self, p: AgentsParams, _: Request) -> AgentStatsList:
        monitor = self.runtime.monitor
        return await ask(
            monitor, monitor.get_agent_stats, window=p.window, sort_by=p.sort_by, limit=p.limit
        )

    async def tools_(self, p: ToolsParams, _: Request) -> ToolStatsList:
        monitor = self.runtime.monitor
        return await ask(
            monitor, monitor.get_tool_stats, window=p.window, sort_by=p.sort_by, limit=p.limit
        )

    async def series(self, p: SeriesParams, _: Request) -> Timeline:
        monitor = self.runtime.monitor
        return await ask(monitor, monitor.get_timeline, p.kind, p.window, p.name, p.method)

    async def resources(self, p: WindowParams, _: Request) -> ResourceTimeline:
        """Stored samples only: the dashboard never reads the machine itself."""
        g = grid(WINDOW_SECONDS[p.window], time.time())
        raw, _stored = await in_thread(
            self.runtime.monitor.resource_samples, g.start, MAX_RESOURCE_SAMPLES
        )
        samples = [ResourceSample.model_validate_json(text) for text in raw]
        summary = summarize(samples, pid=os.getpid()).model_copy(update={"window": p.window})
        readings = [
            (
                s.timestamp,
                (s.cpu_percent, s.memory_percent, s.disks[0].percent if s.disks else None),
            )
            for s in samples
        ]
        points = mean_points(g, readings, len(RESOURCE_METRICS))
        return ResourceTimeline(
            summary=summary,
            metrics=list(RESOURCE_METRICS),
            step_s=g.step_s,
            start=g.start,
            points=points,
        )

    async def alerts(self, p: AlertsParams, _: Request) -> AlertList:
        return await self.tools.alert_page(p.window, p.status, p.limit)

    async def acknowledge(self, _: None, request: Request) -> Acknowledged:
        if self.read_only:
            raise ApiError(403, "this dashboard is read-only: acknowledge from perf-mcp serve")
        if current_caller() == "read":
            raise ApiError(403, "the read token may only look: acknowledging needs the full token")
        try:
            body = AcknowledgeBody.model_validate_json((await request.body()) or b"{}")
        except ValidationError as exc:
            raise ApiError(400, f"invalid body: {describe_invalid(exc)}") from None
        alert_id = request.path_params["alert_id"]
        return Acknowledged(alert=await self.tools.acknowledge_alert(alert_id, body.until))

    def operations(self) -> list[Operation]:
        """Every route of the API but the OpenAPI document itself."""
        get: Literal["GET"] = "GET"
        return [
            Operation(get, "/summary", "Everything at a glance", WindowParams,
                      PerformanceSummary, _endpoint(WindowParams, self.summary)),
            Operation(get, "/endpoints", "Per endpoint+method stats", EndpointsParams,
                      EndpointStatsList, _endpoint(EndpointsParams, self.endpoints)),
            Operation(get, "/endpoint", "One endpoint: stats, latency over time, slowest",
                      EndpointParams, EndpointDetail, _endpoint(EndpointParams, self.endpoint)),
            Operation(get, "/agents", "Per agent runs, tokens, cost", AgentsParams,
                      AgentStatsList, _endpoint(AgentsParams, self.agents)),
            Operation(get, "/tools", "Per tool calls and failures", ToolsParams,
                      ToolStatsList, _endpoint(ToolsParams, self.tools_)),
            Operation(get, "/series", "A chart's points: rate, errors, p50/p95/p99",
                      SeriesParams, Timeline, _endpoint(SeriesParams, self.series)),
            Operation(get, "/resources", "CPU, memory and disk over time", WindowParams,
                      ResourceTimeline, _endpoint(WindowParams, self.resources)),
            Operation(get, "/alerts", "Firing and recent alerts", AlertsParams, AlertList,
                      _endpoint(AlertsParams, self.alerts)),
            Operation("POST", "/alerts/{alert_id:int}/acknowledge",
                      "Acknowledge an alert (full token)", None, Acknowledged,
                      _endpoint(None, self.acknowledge), body=AcknowledgeBody),
        ]  # fmt: skip
