"""The HTTP face of the server: /mcp and the OTLP receiver (/v1/traces, /v1/metrics) behind
the tokens and a Host/Origin allow-list, /health.

app = http_app(server, host="127.0.0.1", port=8765, tokens=Tokens(full=token))
uvicorn.run(app, ...)
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from perf_mcp.config import LOOPBACK_HOSTS
from perf_mcp.server.auth import BearerAuth, Tokens, current_caller, write_refusal
from perf_mcp.server.health import check_health
from perf_mcp.server.runtime import Runtime
from perf_mcp.server.web import HostGuard

WILDCARD_HOSTS = ("0.0.0.0", "::", "")
OTLP_TRACES = "/v1/traces"
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
    return BearerAuth(HostGuard(app, security), tokens)


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


def _interface_addresses() -> list[str]:
    import psutil

    return [
        address.address
        for addresses in psutil.net_if_addrs().values()
        for address in addresses
        if address.family in (socket.AF_INET, socket.AF_INET6) and "%" not in address.address
    ]
