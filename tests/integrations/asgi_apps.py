"""Real FastAPI and Starlette apps with the middleware, and helpers to read the store back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI, HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from perf_mcp import Monitor
from perf_mcp.core.models import EndpointStats
from perf_mcp.core.paths import endpoint_name
from perf_mcp.integrations import PerformanceMiddleware

CHUNK = b"x" * 1000
CHUNKS = 10


class Boom(Exception):
    """What the /boom routes raise."""


class Gate:
    """Holds requests at /wait until opened, so a test can see them all in flight at once."""

    def __init__(self) -> None:
        self.opened = anyio.Event()

    async def wait(self) -> None:
        await self.opened.wait()


async def _chunks() -> AsyncIterator[bytes]:
    for _ in range(CHUNKS):
        yield CHUNK
        await anyio.sleep(0)


def build_fastapi(monitor: Monitor | None, gate: Gate | None = None, **options: Any) -> FastAPI:
    """A FastAPI app: path parameters, nested routers, mounted sub-apps, every response kind.

    With a monitor, the middleware is added with ``options``; with None the app is bare.
    """
    app = FastAPI()
    gate = gate or Gate()

    @app.get("/users/{user_id}")
    async def get_user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    @app.get("/users/{user_id}/orders/{order_id}")
    async def get_order(user_id: int, order_id: str) -> dict[str, str]:
        if order_id == "missing":
            raise HTTPException(status_code=404, detail="no such order")
        return {"order": order_id}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(_chunks(), media_type="application/octet-stream")

    @app.get("/boom")
    async def boom() -> None:
        raise Boom("boom")

    @app.get("/sync/{n}")
    def sync_endpoint(n: int) -> dict[str, int]:  # runs in the thread pool
        return {"n": n}

    @app.get("/wait")
    async def wait() -> dict[str, bool]:
        await gate.wait()
        return {"waited": True}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse("up 1\n")

    @app.get("/internal/debug")
    async def internal() -> dict[str, str]:
        return {"debug": "yes"}

    api = APIRouter(prefix="/api")
    v1 = APIRouter(prefix="/v1")

    @v1.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    api.include_router(v1)
    app.include_router(api)

    sub = FastAPI()

    @sub.get("/things/{thing_id}")
    async def get_thing(thing_id: int) -> dict[str, int]:
        return {"thing": thing_id}

    app.mount("/sub", sub)
    app.mount("/st", build_starlette_routes_only())
    if monitor is not None:
        app.add_middleware(PerformanceMiddleware, monitor=monitor, **options)
    return app


async def _params(request: Request) -> JSONResponse:
    return JSONResponse(dict(request.path_params))


def build_starlette_routes_only() -> Starlette:
    """A Starlette app with a parametrised mount, to mount inside other apps."""
    return Starlette(
        routes=[
            Route("/hello/{name}", _params),
            Mount("/orgs/{org}", routes=[Route("/projects/{project_id:int}", _params)]),
        ]
    )


def build_starlette(monitor: Monitor | None, gate: Gate | None = None, **options: Any) -> Starlette:
    """The same surface as :func:`build_fastapi`, in plain Starlette."""
    gate = gate or Gate()

    async def get_order(request: Request) -> Response:
        if request.path_params["order_id"] == "missing":
            return JSONResponse({"detail": "no such order"}, status_code=404)
        return JSONResponse({"order": request.path_params["order_id"]})

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"received": len(await request.body())})

    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(_chunks(), media_type="application/octet-stream")

    async def boom(request: Request) -> Response:
        raise Boom("boom")

    def sync_endpoint(request: Request) -> JSONResponse:
        return JSONResponse({"n": request.path_params["n"]})

    async def wait(request: Request) -> JSONResponse:
        await gate.wait()
        return JSONResponse({"waited": True})

    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[
            Route("/users/{user_id:int}", _params),
            Route("/users/{user_id:int}/orders/{order_id}", get_order),
            Route("/echo", echo, methods=["POST"]),
            Route("/stream", stream),
            Route("/boom", boom),
            Route("/sync/{n:int}", sync_endpoint),
            Route("/wait", wait),
            Route("/health", ok),
            Route("/metrics", ok),
            Route("/internal/debug", ok),
            Mount("/api", routes=[Mount("/v1", routes=[Route("/items/{item_id:int}", _params)])]),
            Mount("/sub", routes=[Route("/things/{thing_id:int}", _params)]),
            Mount("/st", app=build_starlette_routes_only()),
        ]
    )
    if monitor is not None:
        app.add_middleware(PerformanceMiddleware, monitor=monitor, **options)
    return app


AppFactory = Callable[..., Any]


def endpoint_stats(monitor: Monitor, endpoint: str, method: str = "GET") -> EndpointStats | None:
    """The stored stats of one endpoint over the last 5 minutes, or None if never recorded."""
    name = endpoint_name(endpoint)
    for stats in monitor.get_endpoint_stats(endpoint=endpoint, method=method).endpoints:
        if stats.endpoint == name and stats.method == method:
            return stats
    return None


def recorded(monitor: Monitor) -> dict[tuple[str, str], int]:
    """Request counts by (endpoint, method) over the last 5 minutes (names as stored)."""
    answer = monitor.get_endpoint_stats(limit=100)
    return {(stats.endpoint, stats.method): stats.count for stats in answer.endpoints}
