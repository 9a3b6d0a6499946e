"""The HTTP face of the server: /mcp, the OTLP receiver (/v1/traces, /v1/metrics) and
/metrics behind the tokens and a Host/Origin allow-list, /health.

app = http_app(server, host="127.0.0.1", port=8765, tokens=Tokens(full=token))
uvicorn.run(app, ...)
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import Any

import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.transport_security import RequestBodyLimitMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from perf_mcp.config import LOOPBACK_HOSTS
from perf_mcp.core.alerts import AlertRecord
from perf_mcp.export.metrics import exposition
from perf_mcp.export.prometheus import CONTENT_TYPE
from perf_mcp.export.totals import SinceStart
from perf_mcp.monitor import Monitor
from perf_mcp.server.auth import BearerAuth, Tokens, current_caller, write_refusal
from perf_mcp.server.health import check_health
from perf_mcp.server.runtime import Runtime
from perf_mcp.server.web import HostGuard
from perf_mcp.storage import StoreError

WILDCARD_HOSTS = ("0.0.0.0", "::", "")
OTLP_TRACES = "/v1/traces"
# No route reads more (413 past it); /mcp and OTLP stop at 4 MiB with their own messages.
MAX_BODY_BYTES = 8 << 20
OTLP_METRICS = "/v1/metrics"


def http_app(
    server: MCPServer[Any],
    *,
    host: str,
    port: int,
    tokens: Tokens,
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
) -> ASGIApp:
    """Streamable HTTP at /mcp, OTLP at /v1/traces and /v1/metrics, /health, the dashboard and
    /api/v1/, behind the tokens and the Host/Origin checks."""
    security = transport_security(host, port, allowed_hosts, allowed_origins)
    app = server.streamable_http_app(host=host, transport_security=security)
    return BearerAuth(RequestBodyLimitMiddleware(HostGuard(app, security), MAX_BODY_BYTES), tokens)


def transport_security(
    host: str, port: int, allowed_hosts: Sequence[str] = (), allowed_origins: Sequence[str] = ()
) -> TransportSecuritySettings:
    """The Host and Origin headers /mcp answers: the bound address's names on its port, and
    the ones listed. A page served from another port of the same machine is a foreign Origin.
    """
    hosts = [*bound_names(host, port), *allowed_hosts]
    derived = [f"{scheme}://{name}" for name in hosts for scheme in ("http", "https")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[*derived, *allowed_origins],
    )


def bound_names(host: str, port: int) -> list[str]:
    """``host:port`` for each name a client may reach the bound address by."""
    if host in LOOPBACK_HOSTS:
        names = list(LOOPBACK_HOSTS)
    elif host in WILDCARD_HOSTS:  # every interface: each of their addresses and our name
        names = [*LOOPBACK_HOSTS, socket.gethostname(), socket.getfqdn(), *_interface_addresses()]
    else:
        names = [host]
    unique = dict.fromkeys(f"[{n}]" if ":" in n else n for n in names)
    return [f"{name}:{port}" for name in unique] + (list(unique) if port == 80 else [])


def health_route(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    """GET /health: the health check as JSON, 503 when unhealthy. Open to all; a caller
    without a valid token learns the status only (the report names paths and endpoints)."""

    async def health(request: Request) -> Response:
        report = await check_health(runtime)
        code = 503 if report.status == "unhealthy" else 200
        if current_caller() == "anonymous":
            return JSONResponse({"status": report.status}, status_code=code)
        return Response(report.model_dump_json(), status_code=code, media_type="application/json")

    return health


def otlp_route(runtime: Runtime, path: str) -> Callable[[Request], Awaitable[Response]]:
    """POST /v1/traces or /v1/metrics: OTLP/HTTP spans and histogram points recorded as
    requests, agent runs and tool calls (perf_mcp.otlp); the full token when tokens are set."""
    receiver: Callable[[Request], Awaitable[Response]] | None = None

    async def export(request: Request) -> Response:
        nonlocal receiver
        if receiver is None:  # protobuf's classes are imported at the first export, not start-up
            from perf_mcp.otlp.receiver import metrics_receiver, trace_receiver

            args = (lambda: runtime.monitor, lambda: write_refusal(f"POST {path}"), runtime.otlp)
            if path == OTLP_METRICS:
                receiver = metrics_receiver(*args, int(runtime.started_at * 1e9))
            else:
                receiver = trace_receiver(*args)
        return await receiver(request)

    return export


def metrics_route(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    """GET /metrics: the Prometheus text format (perf_mcp.export.metrics), counting since
    the server started; any token when tokens are set."""
    counted: dict[Monitor, SinceStart] = {}  # the totals of the Monitor the server runs on

    async def metrics(request: Request) -> Response:
        monitor = runtime.monitor
        since = counted.get(monitor)
        if since is None:
            counted.clear()
            since = counted[monitor] = SinceStart(monitor.series_between, runtime.started_at)
        firing: list[AlertRecord] = []
        if runtime.alerts is not None:  # the firing alerts, this server's or the leader's
            await runtime.alerts.refresh()
            firing = runtime.alerts.list_alerts("firing", None, runtime.alerts.active_count())
        reading = runtime.sampler.latest if runtime.sampler is not None else None

        def scrape(since: SinceStart) -> str:
            with suppress(StoreError):  # a store that takes no flush still shows what it holds
                monitor.flush()
            return exposition(since, monitor.drops, reading, firing)

        text = await anyio.to_thread.run_sync(scrape, since)
        return Response(text, media_type=CONTENT_TYPE)

    return metrics


def _interface_addresses() -> list[str]:
    import psutil

    return [
        address.address
        for addresses in psutil.net_if_addrs().values()
        for address in addresses
        if address.family in (socket.AF_INET, socket.AF_INET6) and "%" not in address.address
    ]
