"""The routes a person's browser uses: the dashboard page at /, its files, and /api/v1/.

Mounted beside /mcp and /health on ``perf-mcp serve --transport http`` and served alone by
``perf-mcp dashboard``; the bearer-token layer in front of both guards them all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from perf_mcp.server.api import PREFIX, Api
from perf_mcp.server.openapi import openapi
from perf_mcp.server.runtime import Runtime

Handler = Callable[[Request], Awaitable[Response]]
WebRoute = tuple[str, list[str], Handler]
ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
# The page loads only its own files and talks only to its own server.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def web_routes(runtime: Runtime, *, read_only: bool = False) -> list[WebRoute]:
    """(path, methods, handler) of the page, its assets, the API and its OpenAPI document."""
    api = Api(runtime, read_only=read_only)
    operations = api.operations()
    document = openapi(operations)

    async def spec(_: Request) -> Response:
        return JSONResponse(document)

    routes: list[WebRoute] = [(PREFIX + op.path, [op.method], op.handler) for op in operations]
    routes.append((f"{PREFIX}/openapi.json", ["GET"], spec))
    routes.append(("/", ["GET"], _file("index.html", "text/html; charset=utf-8")))
    routes += [(f"/static/{name}", ["GET"], _file(name, kind)) for name, kind in ASSETS.items()]
    return routes


def _file(name: str, media_type: str) -> Handler:
    body = resources.files("perf_mcp.dashboard").joinpath(name).read_bytes()
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if name.endswith(".html"):
        headers |= {"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"}

    async def serve(_: Request) -> Response:
        return Response(body, media_type=media_type, headers=headers)

    return serve


class HostGuard:
    """Pure ASGI: the Host and Origin checks /mcp has, for every other route too, so a page
    on a rebound DNS name cannot read the API of a server on loopback without a token."""

    def __init__(self, app: ASGIApp, security: TransportSecuritySettings) -> None:
        self.app = app
        self.check = TransportSecurityMiddleware(security)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # /mcp checks for itself; /health answers probes that name the machine as they like.
        if scope["type"] == "http" and scope["path"] not in ("/mcp", "/health"):
            request = Request(scope)
            # JSON only for the API's POSTs (a form cannot send it cross-site); OTLP sends
            # protobuf, and its Origin is checked like every other route's.
            api_post = request.method == "POST" and scope["path"].startswith("/api/")
            refused = await self.check.validate_request(request, is_post=api_post)
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)
