"""PerformanceMiddleware on real FastAPI and Starlette apps, through httpx's ASGI transport."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from perf_mcp import Monitor
from perf_mcp.core.paths import endpoint_name
from perf_mcp.integrations import PerformanceMiddleware, in_flight_requests
from perf_mcp.integrations.asgi import UNMATCHED
from tests.integrations.asgi_apps import (
    CHUNK,
    CHUNKS,
    AppFactory,
    Boom,
    Gate,
    build_fastapi,
    endpoint_stats,
    recorded,
)

pytestmark = pytest.mark.anyio


def client_for(
    app: Any, root_path: str = "", raise_app_exceptions: bool = True
) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(
        app=app, root_path=root_path, raise_app_exceptions=raise_app_exceptions
    )
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_records_route_template_not_raw_path(make_app: AppFactory, monitor: Monitor) -> None:
    async with client_for(make_app(monitor)) as client:
        for user_id in (1, 2, 3):
            assert (await client.get(f"/users/{user_id}")).status_code == 200
        await client.get("/users/7/orders/abc-def")

    assert recorded(monitor) == {
        ("/users/{user_id}", "GET"): 3,
        ("/users/{user_id}/orders/{order_id}", "GET"): 1,
    }


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/api/v1/items/42", "/api/v1/items/{item_id}"),
        ("/sub/things/9", "/sub/things/{thing_id}"),
        ("/st/hello/ada", "/st/hello/{name}"),
        ("/st/orgs/acme/projects/3", "/st/orgs/{org}/projects/{project_id}"),
    ],
)
async def test_templates_include_routers_and_mounts(
    make_app: AppFactory, monitor: Monitor, path: str, template: str
) -> None:
    async with client_for(make_app(monitor)) as client:
        assert (await client.get(path)).status_code == 200
        assert (await client.get(path)).status_code == 200

    assert recorded(monitor) == {(template, "GET"): 2}


async def test_mount_templates_are_found_again_for_other_values(
    make_app: AppFactory, monitor: Monitor
) -> None:
    async with client_for(make_app(monitor)) as client:
        for org in ("acme", "globex", "initech"):
            await client.get(f"/st/orgs/{org}/projects/1")

    assert recorded(monitor) == {("/st/orgs/{org}/projects/{project_id}", "GET"): 3}


async def test_root_path_is_not_part_of_the_endpoint(
    make_app: AppFactory, monitor: Monitor
) -> None:
    async with client_for(make_app(monitor), root_path="/prefix") as client:
        assert (await client.get("/prefix/users/5")).status_code == 200
        assert (await client.get("/prefix/st/orgs/acme/projects/3")).status_code == 200

    assert recorded(monitor) == {
        ("/users/{user_id}", "GET"): 1,
        ("/st/orgs/{org}/projects/{project_id}", "GET"): 1,
    }


async def test_unmatched_paths_share_one_series(make_app: AppFactory, monitor: Monitor) -> None:
    async with client_for(make_app(monitor)) as client:
        for path in ("/nope", "/nope/1", "/wp-admin.php", "/st/orgs/acme/nothing", "/sub/zzz"):
            assert (await client.get(path)).status_code == 404

    assert recorded(monitor) == {(endpoint_name(UNMATCHED), "GET"): 5}
    stats = endpoint_stats(monitor, UNMATCHED)
    assert stats is not None
    assert stats.status_counts == {"4xx": 5}


async def test_a_404_from_a_matched_route_stays_on_its_route(
    make_app: AppFactory, monitor: Monitor
) -> None:
    async with client_for(make_app(monitor)) as client:
        assert (await client.get("/users/1/orders/missing")).status_code == 404

    assert recorded(monitor) == {("/users/{user_id}/orders/{order_id}", "GET"): 1}


async def test_unmatched_grouping_can_be_turned_off(make_app: AppFactory, monitor: Monitor) -> None:
    async with client_for(make_app(monitor, group_unmatched=False)) as client:
        await client.get("/nope/1")
        await client.get("/nope/2")

    assert recorded(monitor) == {("/nope/{id}", "GET"): 2}


async def test_health_and_metrics_are_excluded_by_default(
    make_app: AppFactory, monitor: Monitor
) -> None:
    async with client_for(make_app(monitor)) as client:
        for path in ("/health", "/metrics", "/users/1"):
            assert (await client.get(path)).status_code == 200

    assert recorded(monitor) == {("/users/{user_id}", "GET"): 1}


async def test_exclusions_are_full_match_regexes(make_app: AppFactory, monitor: Monitor) -> None:
    app = make_app(monitor, exclude=[r"/internal/.*", "/users/1"])
    async with client_for(app) as client:
        for path in ("/internal/debug", "/users/1", "/users/12", "/health"):
            assert (await client.get(path)).status_code == 200

    assert recorded(monitor) == {("/users/{user_id}", "GET"): 1, ("/health", "GET"): 1}


def test_a_bad_exclusion_fails_at_start_up(monitor: Monitor) -> None:
    with pytest.raises(re.error):
        PerformanceMiddleware(PlainTextResponse("x"), monitor=monitor, exclude=["/users/(["])


async def test_response_time_header_is_added_when_asked(
    make_app: AppFactory, monitor: Monitor
) -> None:
    async with client_for(make_app(monitor, response_time_header=True)) as client:
        response = await client.get("/users/1")

    assert re.fullmatch(r"\d+\.\d{2}ms", response.headers["x-response-time"])


async def test_no_response_time_header_by_default(make_app: AppFactory, monitor: Monitor) -> None:
    # It would tell every client how long the server worked on its request.
    async with client_for(make_app(monitor)) as client:
        response = await client.get("/users/1")

    assert "x-response-time" not in response.headers
    assert recorded(monitor) == {("/users/{user_id}", "GET"): 1}


async def test_unhandled_exception_is_a_500_and_propagates(
    make_app: AppFactory, monitor: Monitor
) -> None:
    async with client_for(make_app(monitor)) as client:
        with pytest.raises(Boom, match="boom"):
            await client.get("/boom")

    stats = endpoint_stats(monitor, "/boom")
    assert stats is not None
    assert (stats.count, stats.error_count, stats.status_counts) == (1, 1, {"5xx": 1})


async def test_unhandled_exception_still_answers_500(
    make_app: AppFactory, monitor: Monitor
) -> None:
    async with client_for(make_app(monitor), raise_app_exceptions=False) as client:
        assert (await client.get("/boom")).status_code == 500

    stats = endpoint_stats(monitor, "/boom")
    assert stats is not None
    assert stats.error_count == 1


async def test_streaming_response_bytes_are_counted(make_app: AppFactory, monitor: Monitor) -> None:
    async with client_for(make_app(monitor)) as client:
        response = await client.get("/stream")

    assert len(response.content) == CHUNKS * len(CHUNK)
    stats = endpoint_stats(monitor, "/stream")
    assert stats is not None
    assert stats.avg_response_bytes == CHUNKS * len(CHUNK)


async def test_request_bytes_from_content_length(make_app: AppFactory, monitor: Monitor) -> None:
    async with client_for(make_app(monitor)) as client:
        response = await client.post("/echo", content=b"a" * 1234)

    assert response.json() == {"received": 1234}
    stats = endpoint_stats(monitor, "/echo", "POST")
    assert stats is not None
    assert stats.avg_request_bytes == 1234
    assert stats.avg_response_bytes == len(response.content)


async def test_request_bytes_of_a_chunked_body_are_counted(
    make_app: AppFactory, monitor: Monitor
) -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"b" * 100

    async with client_for(make_app(monitor)) as client:
        response = await client.post("/echo", content=body())

    assert "content-length" not in response.request.headers
    assert response.json() == {"received": 500}
    stats = endpoint_stats(monitor, "/echo", "POST")
    assert stats is not None
    assert stats.avg_request_bytes == 500


async def test_sync_endpoints_in_the_thread_pool(make_app: AppFactory, monitor: Monitor) -> None:
    async with client_for(make_app(monitor)) as client, anyio.create_task_group() as tg:
        for n in range(50):
            tg.start_soon(client.get, f"/sync/{n}")

    assert recorded(monitor) == {("/sync/{n}", "GET"): 50}


async def test_a_thousand_concurrent_requests_give_a_thousand_records(
    make_app: AppFactory, monitor: Monitor
) -> None:
    gate = Gate()
    app = make_app(monitor, gate=gate)
    statuses: list[int] = []

    async def get() -> None:
        statuses.append((await client.get("/wait")).status_code)

    limits = httpx.Limits(max_connections=None)
    transport = httpx.ASGITransport(app=app)
    with anyio.fail_after(60):
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://t", limits=limits) as client,
            anyio.create_task_group() as tg,
        ):
            for _ in range(1000):
                tg.start_soon(get)
            while in_flight_requests(monitor) < 1000:
                await anyio.sleep(0.01)
            assert in_flight_requests(monitor) == 1000
            gate.opened.set()

    assert statuses == [200] * 1000
    assert in_flight_requests(monitor) == 0
    assert recorded(monitor) == {("/wait", "GET"): 1000}


# ------------------------------------------------------------------ raw ASGI: disconnects, scopes


def http_scope(path: str, method: str = "GET") -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }


async def test_client_disconnect_mid_stream_is_counted_not_raised(monitor: Monitor) -> None:
    gate = Gate()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"tick"
            await anyio.sleep(0)

    async def stream(request: Request) -> Any:
        from starlette.responses import StreamingResponse

        return StreamingResponse(endless())

    middleware = PerformanceMiddleware(Starlette(routes=[Route("/feed", stream)]), monitor=monitor)
    sent: list[Message] = []

    async def receive() -> Message:
        await gate.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if len(sent) == 5:
            gate.opened.set()  # the client hangs up after a few chunks

    with anyio.fail_after(10):
        await middleware(http_scope("/feed"), receive, send)

    assert middleware.disconnects == 1
    stats = endpoint_stats(monitor, "/feed")
    assert stats is not None
    assert stats.status_counts == {"4xx": 1}  # recorded as 499, client closed request


async def test_a_failed_write_is_a_disconnect_and_propagates(monitor: Monitor) -> None:
    middleware = PerformanceMiddleware(build_fastapi(None), monitor=monitor)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError):
        await middleware(http_scope("/users/3"), receive, send)

    assert middleware.disconnects == 1
    stats = endpoint_stats(monitor, "/users/{user_id}")
    assert stats is not None
    assert stats.status_counts == {"4xx": 1}


async def test_the_apps_own_os_error_is_a_500(monitor: Monitor) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise FileNotFoundError("config.toml")

    middleware = PerformanceMiddleware(app, monitor=monitor)
    with pytest.raises(FileNotFoundError):
        await middleware(http_scope("/settings"), receive_nothing, send_nowhere)

    assert middleware.disconnects == 0
    stats = endpoint_stats(monitor, "/settings")
    assert stats is not None
    assert stats.status_counts == {"5xx": 1}


async def test_a_cancelled_request_is_counted_as_a_hang_up(monitor: Monitor) -> None:
    started = anyio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        started.set()
        await anyio.sleep_forever()

    middleware = PerformanceMiddleware(app, monitor=monitor)
    async with anyio.create_task_group() as tg:
        tg.start_soon(middleware, http_scope("/slow"), receive_nothing, send_nowhere)
        await started.wait()
        assert in_flight_requests(monitor) == 1
        tg.cancel_scope.cancel()  # what a server does when the connection drops

    assert middleware.disconnects == 1
    assert in_flight_requests(monitor) == 0
    stats = endpoint_stats(monitor, "/slow")
    assert stats is not None
    assert stats.status_counts == {"4xx": 1}


async def receive_nothing() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send_nowhere(message: Message) -> None:
    pass


async def test_a_complete_response_is_not_a_disconnect(monitor: Monitor) -> None:
    """Servers answer http.disconnect once the response is complete; that is no hang-up."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})
        assert (await receive())["type"] == "http.disconnect"

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        pass

    middleware = PerformanceMiddleware(app, monitor=monitor)
    await middleware(http_scope("/done"), receive, send)

    assert middleware.disconnects == 0
    stats = endpoint_stats(monitor, "/done")
    assert stats is not None
    assert stats.status_counts == {"2xx": 1}


async def test_lifespan_passes_through_untouched(monitor: Monitor) -> None:
    events: list[str] = []
    app = build_fastapi(monitor)  # the middleware sits inside, as an app would add it
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> Message:
        return next(messages)

    async def send(message: Message) -> None:
        events.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

    assert events == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert recorded(monitor) == {}


async def test_lifespan_shutdown_flushes_what_is_pending(db_path: Path) -> None:
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    events: list[str] = []

    async def receive() -> Message:
        return next(messages)

    async def send(message: Message) -> None:
        events.append(message["type"])
        if message["type"] == "lifespan.startup.complete":
            async with client_for(app) as client:  # traffic while the app runs
                await client.get("/users/1")

    with Monitor(db_path=db_path, flush_interval_s=3600) as writer:
        app = build_fastapi(writer)
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
        with Monitor(db_path=db_path, start_flusher=False) as reader:  # another process's view
            assert recorded(reader) == {("/users/{user_id}", "GET"): 1}

    assert events == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_websockets_pass_through_untouched(monitor: Monitor) -> None:
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    app = Starlette(routes=[WebSocketRoute("/ws", echo)])
    app.add_middleware(PerformanceMiddleware, monitor=monitor)
    with TestClient(app) as client, client.websocket_connect("/ws") as websocket:
        websocket.send_text("ping")
        assert websocket.receive_text() == "ping"

    assert recorded(monitor) == {}


async def test_wraps_any_asgi_app(monitor: Monitor) -> None:
    async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
        status = 200 if scope["path"].startswith("/orders/") else 404
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})

    async with client_for(PerformanceMiddleware(bare_app, monitor=monitor)) as client:
        await client.get("/orders/1001")
        await client.get("/orders/1002")
        await client.get("/favicon.ico")

    assert recorded(monitor) == {("/orders/{id}", "GET"): 2, (endpoint_name(UNMATCHED), "GET"): 1}


@pytest.mark.parametrize("status", [999, "200", True, 200.0])
async def test_a_status_the_check_refuses_is_dropped_counted_and_logged_once(
    monitor: Monitor, status: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        given = status if scope["path"] == "/bad" else 200
        await send({"type": "http.response.start", "status": given, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = PerformanceMiddleware(app, monitor=monitor)
    async with client_for(middleware) as client:
        for path in ("/good", "/bad", "/bad", "/good"):
            await client.get(path)

    assert recorded(monitor) == {("/good", "GET"): 2}  # the flush and the query still work
    assert monitor.drops["rejected"] == 2
    assert middleware.record_failures == 0  # the monitor took them; its fold refused them
    warnings = [r.getMessage() for r in caplog.records if "invalid value" in r.getMessage()]
    assert len(warnings) == 1
    assert "status_code" in warnings[0]


async def test_a_monitor_that_refuses_does_not_break_the_response(
    make_app: AppFactory, tmp_path: Path
) -> None:
    closed = Monitor(tmp_path / "closed.db", start_flusher=False)
    middleware = PerformanceMiddleware(make_app(None), monitor=closed)
    async with client_for(middleware) as client:
        assert (await client.get("/users/1")).status_code == 200  # a route, before the close
        closed.close()  # a closed monitor refuses every record
        assert (await client.get("/users/1")).status_code == 200  # a route
        assert (await client.get("/nowhere")).status_code == 404  # no route

    assert middleware.record_failures == 2


async def test_a_monitor_subclass_records_through_its_own_record_request(
    make_app: AppFactory, tmp_path: Path
) -> None:
    class Counting(Monitor):
        calls = 0

        def record_request(self, *args: Any, **kwargs: Any) -> None:
            self.calls += 1
            super().record_request(*args, **kwargs)

    with Counting(tmp_path / "counting.db", start_flusher=False) as counting:
        async with client_for(PerformanceMiddleware(make_app(None), monitor=counting)) as client:
            await client.get("/users/1")
            await client.get("/nowhere")
        assert counting.calls == 2
        assert sum(recorded(counting).values()) == 2
