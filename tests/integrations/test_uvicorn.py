"""The middleware under a real uvicorn server on 127.0.0.1, over real sockets."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest
import uvicorn
from fastapi.responses import StreamingResponse
from starlette.applications import Starlette
from starlette.routing import Route

from perf_mcp import Monitor
from perf_mcp.core.paths import endpoint_name
from perf_mcp.integrations import in_flight_requests
from perf_mcp.integrations.asgi import UNMATCHED
from tests.integrations.asgi_apps import CHUNK, CHUNKS, AppFactory, endpoint_stats, recorded

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on a free port of 127.0.0.1; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True


async def test_under_uvicorn(
    make_app: AppFactory, monitor: Monitor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL, logger="uvicorn.error")  # the /boom traceback
    async with (
        serving(make_app(monitor, response_time_header=True)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        async with anyio.create_task_group() as tg:
            for user_id in range(200):
                tg.start_soon(client.get, f"/users/{user_id}")
        assert (await client.get("/st/orgs/acme/projects/3")).status_code == 200
        assert (await client.get("/nope/1")).status_code == 404
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/boom")).status_code == 500
        response = await client.get("/stream")
        assert len(response.content) == CHUNKS * len(CHUNK)
        assert response.headers["x-response-time"].endswith("ms")
        response = await client.post("/echo", content=b"z" * 4096)
        assert response.json() == {"received": 4096}

    assert recorded(monitor) == {
        ("/users/{user_id}", "GET"): 200,
        ("/st/orgs/{org}/projects/{project_id}", "GET"): 1,
        (endpoint_name(UNMATCHED), "GET"): 1,
        ("/boom", "GET"): 1,
        ("/stream", "GET"): 1,
        ("/echo", "POST"): 1,
    }
    stream = endpoint_stats(monitor, "/stream")
    echo = endpoint_stats(monitor, "/echo", "POST")
    boom = endpoint_stats(monitor, "/boom")
    assert stream is not None
    assert stream.avg_response_bytes == CHUNKS * len(CHUNK)
    assert echo is not None
    assert echo.avg_request_bytes == 4096
    assert boom is not None
    assert boom.error_count == 1


async def test_client_hanging_up_under_uvicorn_is_counted(
    make_app: AppFactory, monitor: Monitor
) -> None:
    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"tick\n"
            await anyio.sleep(0.005)

    async def feed(request: object) -> StreamingResponse:
        return StreamingResponse(endless())

    app = make_app(monitor)
    app.router.routes.append(Route("/feed", feed))

    async with serving(app) as url:
        port = int(url.rsplit(":", 1)[1])
        with anyio.fail_after(10):
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                await stream.send(b"GET /feed HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                received = b""
                while received.count(b"tick") < 3:
                    received += await stream.receive()
            assert received.startswith(b"HTTP/1.1 200")
            while in_flight_requests(monitor):  # the server notices the hang-up
                await anyio.sleep(0.01)

    stats = endpoint_stats(monitor, "/feed")
    assert stats is not None
    assert (stats.count, stats.status_counts) == (1, {"4xx": 1})
