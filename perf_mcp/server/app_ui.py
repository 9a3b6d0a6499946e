"""The dashboard inside the chat: an MCP App (the ``io.modelcontextprotocol/ui`` extension).

``show_dashboard`` carries ``_meta.ui.resourceUri`` = ``ui://perf-mcp/dashboard``: a client
that renders apps shows that resource, the same page as ``/`` of the HTTP server with its
files inlined, under a strict content security policy (no network, only its own hashed
script and style). The page reads its data through the app-only ``dashboard_api`` tool,
which the host relays to this server: the same ``/api/v1/`` routes, called in process. Every
client gets the summary's compact answer as text; one that renders apps is told first that
the person sees the dashboard::

    app = DashboardApp(runtime)
    MCPServer(..., tools=[..., *app.tools()], extensions=[app.extension()])
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Annotated, Any, Literal

from mcp.server.apps import EXTENSION_ID, Apps, ResourceCsp, client_supports_apps
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field
from starlette.routing import Route, Router

from perf_mcp.core.models import PerformanceSummary
from perf_mcp.server.api import PREFIX, Api
from perf_mcp.server.arguments import WindowArg, strict_tool
from perf_mcp.server.calls import ask
from perf_mcp.server.runtime import Runtime
from perf_mcp.toolsets import hints

__all__ = ["APP_URI", "EXTENSION_ID", "DashboardApp", "app_html"]

APP_URI = "ui://perf-mcp/dashboard"
APP_ONLY = ["app"]  # the host offers dashboard_api to the page, never to the model
ASSETS = "perf_mcp.dashboard"


class ApiAnswer(BaseModel):
    """What a /api/v1/ route answered (see the OpenAPI document at /api/v1/openapi.json)."""

    answer: dict[str, Any]


class DashboardApp:
    """The ``show_dashboard`` tool, the app-only ``dashboard_api`` tool and the ui:// page."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        operations = Api(runtime).operations()
        routes = [Route(PREFIX + op.path, op.handler, methods=[op.method]) for op in operations]
        self.router = Router(routes)

    async def show_dashboard(self, window: WindowArg = "1h") -> PerformanceSummary:
        """Show the person the live dashboard (charts, endpoints, agents, tools, alerts) where
        the client renders MCP Apps; the answer is get_performance_summary's."""
        monitor = self.runtime.monitor
        return await ask(monitor, monitor.get_performance_summary, window)

    async def dashboard_api(
        self,
        path: Annotated[
            str,
            Field(
                min_length=1,
                max_length=4000,
                pattern=r"^[A-Za-z0-9/_.~?&=%:+,-]+$",  # a URL's path and query, no more
                description='e.g. "endpoints?window=1h"',
            ),
        ],
        method: Literal["GET", "POST"] = "GET",
        body: dict[str, Any] | None = None,
    ) -> ApiAnswer:
        """For the dashboard app only: one /api/v1/ route's JSON answer."""
        import httpx  # here, not at start-up: with the rich it brings, ~35 ms of every start

        content = None if body is None else json.dumps(body)
        # In process, on the caller's task: the token that came with the tool call applies.
        transport = httpx.ASGITransport(app=self.router)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            reply = await http.request(method, f"{PREFIX}/{path.lstrip('/')}", content=content)
        answer = reply.json() if reply.headers.get("content-type") == "application/json" else {}
        if reply.status_code != 200:
            detail = answer.get("detail", reply.text)
            raise ToolError(f"path {path[:80]!r}: /api/v1/ answered {reply.status_code}: {detail}")
        return ApiAnswer(answer=answer)

    def tools(self) -> list[Tool]:
        """Both tools, strict like every other, bound to the page by ``_meta.ui``."""
        show = strict_tool(self.show_dashboard, hints("show_dashboard"))
        api = strict_tool(self.dashboard_api, hints("dashboard_api"))
        return [
            show.model_copy(
                update={
                    "fn": _told_of_the_page(show.fn),
                    "context_kwarg": "ctx",
                    "meta": {"ui": {"resourceUri": APP_URI}},
                }
            ),
            api.model_copy(
                update={"meta": {"ui": {"resourceUri": APP_URI, "visibility": APP_ONLY}}}
            ),
        ]

    def extension(self) -> Apps:
        """The extension advertising MCP Apps and serving the page."""
        apps = Apps()
        apps.add_html_resource(
            APP_URI,
            app_html(),
            name="perf-mcp dashboard",
            description="The live perf-mcp dashboard, for show_dashboard.",
            csp=ResourceCsp(),  # no outside origin: the page talks to its host only
            prefers_border=True,
        )
        return apps


def _told_of_the_page(
    answer: Callable[..., Awaitable[CallToolResult]],
) -> Callable[..., Awaitable[CallToolResult]]:
    """``answer`` with, for a client that renders apps, a first line saying the person sees
    the dashboard (so the model need not recite it)."""

    @functools.wraps(answer)
    async def tool(*args: Any, ctx: Context[Any] | None = None, **kwargs: Any) -> CallToolResult:
        result = await answer(*args, **kwargs)
        if ctx is not None and client_supports_apps(ctx):
            window = kwargs.get("window", "1h")
            lead = f"The person now sees the live perf-mcp dashboard ({window}); its numbers:"
            result.content.insert(0, TextContent(type="text", text=lead))
        return result

    return tool


@functools.cache
def app_html() -> str:
    """The page of ``/`` as one document: its style and scripts inline, each allowed by its
    hash in a Content-Security-Policy meta tag that forbids everything else."""
    files = resources.files(ASSETS)
    page = files.joinpath("index.html").read_text(encoding="utf-8")
    style = files.joinpath("dashboard.css").read_text(encoding="utf-8")
    scripts = [
        files.joinpath(name).read_text(encoding="utf-8") for name in ("app.js", "dashboard.js")
    ]
    policy = (
        "default-src 'none'; "
        f"script-src {' '.join(_hash(s) for s in scripts)}; style-src {_hash(style)}; "
        "img-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'"
    )
    inline = {
        '<meta charset="utf-8">': '<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">',
        '<link rel="stylesheet" href="/static/dashboard.css">': f"<style>{style}</style>",
        '<script src="/static/dashboard.js" defer></script>': "".join(
            f"<script>{s}</script>" for s in scripts
        ),
        '<footer><a href="/api/v1/openapi.json">API</a></footer>': "",
    }
    for tag, replacement in inline.items():
        if tag not in page:
            raise RuntimeError(f"index.html no longer has {tag!r}: update app_ui.app_html")
        page = page.replace(tag, replacement)
    return page


def _hash(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return f"'sha256-{digest}'"
