"""Pure-ASGI request timing: one ``perf_counter`` pair and one ``record_request`` per request."""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Awaitable, Iterable
from time import perf_counter
from typing import TYPE_CHECKING, Any

import anyio
from starlette.requests import ClientDisconnect
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from perf_mcp.monitor import Monitor, RequestRecorder

__all__ = [
    "DEFAULT_EXCLUDE",
    "DISCONNECTED_STATUS",
    "UNMATCHED",
    "PerformanceMiddleware",
    "in_flight_requests",
]

DEFAULT_EXCLUDE: tuple[str, ...] = ("/health", "/metrics")
"""Paths not recorded unless ``exclude`` says otherwise (full-match regexes)."""

UNMATCHED = "__unmatched__"
"""The one endpoint every 404 with no matching route is recorded under."""

DISCONNECTED_STATUS = 499
"""Status recorded when the client went away before the response was complete (nginx's 499)."""

_HEADER_NAME = b"x-response-time"
_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "TRACE"})
_MOUNT_CACHE_SIZE = 512
_log = logging.getLogger(__name__)
_middlewares: weakref.WeakSet[PerformanceMiddleware] = weakref.WeakSet()


class PerformanceMiddleware:
    """Record every HTTP request's latency, status and sizes under its route template.

    ```python
    from fastapi import FastAPI
    from perf_mcp import Monitor
    from perf_mcp.integrations import PerformanceMiddleware

    app = FastAPI()
    app.add_middleware(PerformanceMiddleware, monitor=Monitor("perf.db"))
    ```

    ``exclude`` holds regexes matched against the whole path (below any ``root_path``);
    ``response_time_header=True`` adds ``X-Response-Time: 1.23ms`` (time to the first byte;
    off by default: it tells every client how long the server worked, and costs a fifth of
    the middleware's time);
    ``group_unmatched`` records every 404 that matched no route as ``__unmatched__``.
    Websocket and lifespan scopes pass straight through; at lifespan shutdown the monitor is
    flushed, so a server stopped by a signal keeps its last second of requests.
    """

    def __init__(
        self,
        app: ASGIApp,
        monitor: Monitor | None = None,
        *,
        exclude: Iterable[str] = DEFAULT_EXCLUDE,
        response_time_header: bool = False,
        group_unmatched: bool = True,
    ) -> None:
        self.app = app
        self._monitor = monitor
        self._skip_literal, self._skip_regex = _compile_exclusions(exclude)
        self.response_time_header = response_time_header
        self.group_unmatched = group_unmatched
        self.in_flight = 0
        """Requests that have started and not finished (a gauge)."""
        self.disconnects = 0
        """Requests whose client went away before the response was complete."""
        self.record_failures = 0
        """Requests the monitor refused to take, being closed or read-only (logged once; the
        response is unaffected). A value the check refuses is counted by the monitor instead,
        when it folds the request: ``Monitor.drops["rejected"]``."""
        self._mount_templates: dict[str, str] = {}
        self._record_request: RequestRecorder | None = None
        _middlewares.add(self)

    @property
    def monitor(self) -> Monitor:
        """The monitor this middleware writes to (the default one unless given)."""
        if self._monitor is None:
            from perf_mcp.integrations import default_monitor

            self._monitor = default_monitor()
        return self._monitor

    def excludes(self, path: str) -> bool:
        """Whether ``path`` (below the root path) is left unrecorded."""
        return path in self._skip_literal or (
            self._skip_regex is not None and self._skip_regex.fullmatch(path) is not None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                send = self._flush_before_shutdown_completes(send)
            await self.app(scope, receive, send)
            return
        root_path: str = scope.get("root_path", "")
        path: str = scope["path"]
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :] or "/"
        if path in self._skip_literal or (
            self._skip_regex is not None and self._skip_regex.fullmatch(path) is not None
        ):
            await self.app(scope, receive, send)
            return

        record = self._record_request or self._bind_recorder()
        exchange = _Exchange()
        exchange.forward_receive, exchange.forward_send = receive, send
        if self.response_time_header:
            exchange.header = True
        self.in_flight += 1
        exchange.start = start = perf_counter()
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except BaseException as exc:
            duration_ms = (perf_counter() - start) * 1000
            self.in_flight -= 1
            started = exchange.status != 0
            hung_up = exchange.disconnected and not exchange.complete
            if hung_up or _is_hang_up(exc, started=started):
                self.disconnects += 1
                status = DISCONNECTED_STATUS
            else:
                status = 500
            received, sent = exchange.received, exchange.sent
            self._record(record, scope, root_path, path, status, duration_ms, received, sent)
            raise
        duration_ms = (perf_counter() - start) * 1000
        self.in_flight -= 1
        status = exchange.status
        if not exchange.complete:
            if exchange.disconnected:
                self.disconnects += 1
                status = DISCONNECTED_STATUS
            elif status == 0:  # returned without a response: the server answers 500
                status = 500
        received, sent = exchange.received, exchange.sent
        # _record inlined for the common case (a Starlette route, not mounted): no calls but one.
        route = scope.get("route")
        if route.__class__ is not Route or scope.get("root_path", "") != root_path:
            self._record(record, scope, root_path, path, status, duration_ms, received, sent)
            return
        method: str = scope["method"]
        try:
            record(
                route.path_format,
                method,
                status,
                duration_ms,
                received if received or method in _BODYLESS_METHODS else _content_length(scope),
                sent,
            )
        except Exception:
            self._record_failed(path)

    def _flush_before_shutdown_completes(self, send: Send) -> Send:
        # uvicorn re-raises SIGTERM/SIGINT after a graceful shutdown, so atexit never runs:
        # write what is pending while the server still waits for the app.
        async def send_after_flush(message: Message) -> None:
            if message["type"].startswith("lifespan.shutdown") and self._monitor is not None:
                try:
                    await anyio.to_thread.run_sync(self._monitor.flush)
                except Exception:
                    _log.warning("perf-mcp could not flush at shutdown", exc_info=True)
            await send(message)

        return send_after_flush

    def _bind_recorder(self) -> RequestRecorder:
        self._record_request = record = self.monitor.request_recorder()
        return record

    def _record(
        self,
        record: RequestRecorder,
        scope: Scope,
        root_path: str,
        path: str,
        status: int,
        duration_ms: float,
        received: int,
        sent: int,
    ) -> None:
        method: str = scope["method"]
        request_bytes: int | None = received
        if not received and method not in _BODYLESS_METHODS:
            request_bytes = _content_length(scope)
        try:
            endpoint = self._endpoint(scope, root_path, path, status)
            record(endpoint, method, status, duration_ms, request_bytes, sent)
        except Exception:
            self._record_failed(path)

    def _record_failed(self, path: str) -> None:
        self.record_failures += 1
        if self.record_failures == 1:
            _log.warning("perf-mcp could not record a request to %s", path, exc_info=True)

    def _endpoint(self, scope: Scope, root_path: str, path: str, status: int) -> str:
        """The route template the framework matched, else the raw path (ids collapse later)."""
        route = scope.get("route")
        if route is None:
            return UNMATCHED if status == 404 and self.group_unmatched else path
        if route.__class__ is Route and scope.get("root_path", "") == root_path:
            template: str = route.path_format  # the common case: a Starlette route, not mounted
            return template
        if isinstance(route, Mount):
            if status == 404 and self.group_unmatched and route.routes:
                return UNMATCHED  # the mounted router matched nothing
            template = "/{path}"
        else:
            matched = _route_template(scope, route)
            if matched is None:
                return path
            template = matched
        mounted_at: str = scope.get("root_path", "")
        if mounted_at == root_path:
            return template
        return self._mount_prefix(scope, mounted_at[len(root_path) :]) + template

    def _mount_prefix(self, scope: Scope, raw_prefix: str) -> str:
        """``/orgs/acme`` -> ``/orgs/{org}``: the templates of the mounts that matched."""
        cached = self._mount_templates.get(raw_prefix)
        if cached is not None:
            return cached
        router = scope.get("router")
        prefix = _resolve_mounts(getattr(router, "routes", ()), raw_prefix)
        if len(self._mount_templates) < _MOUNT_CACHE_SIZE:
            self._mount_templates[raw_prefix] = prefix
        return prefix


class _Exchange:
    """One request's view of the ASGI messages: status, sizes, completion, disconnect.

    Its bound ``send`` and ``receive`` wrap the server's ``forward_send`` and
    ``forward_receive``; the counters start as class attributes (no ``__init__`` call per
    request)."""

    start = 0.0
    status = 0
    sent = 0
    received = 0
    complete = False
    disconnected = False
    header = False
    forward_receive: Receive
    forward_send: Send

    def send(self, message: Message) -> Awaitable[None]:
        # A plain function handing back the server's awaitable: no extra coroutine frame.
        kind = message["type"]
        if kind == "http.response.body":
            self.sent += len(message.get("body", b""))
            if not message.get("more_body", False):
                self.complete = True
        elif kind == "http.response.start":
            self.status = message["status"]
            if self.header:  # a fresh list in the same message, as Starlette's own middleware do
                elapsed = b"%.2fms" % ((perf_counter() - self.start) * 1000)
                message["headers"] = [*message.get("headers", ()), (_HEADER_NAME, elapsed)]
        return self.forward_send(message)

    async def receive(self) -> Message:
        message = await self.forward_receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
        elif message["type"] == "http.disconnect":
            self.disconnected = True
        return message


def _is_hang_up(exc: BaseException, started: bool) -> bool:
    """Whether ``exc`` says the client went away: the request's task was cancelled, or a write
    of the response failed (an OSError before the response started is the app's own error)."""
    if isinstance(exc, anyio.get_cancelled_exc_class()):
        return True
    return started and isinstance(exc, OSError | ClientDisconnect)


def in_flight_requests(monitor: Monitor | None = None) -> int:
    """Requests in progress in this process, over every middleware (writing to ``monitor``)."""
    return sum(m.in_flight for m in list(_middlewares) if monitor is None or m._monitor is monitor)


def _route_template(scope: Scope, route: Any) -> str | None:
    # FastAPI >= 0.12x keeps an included router's routes unprefixed and records the full
    # template on its "effective route context"; older FastAPI and Starlette put it on the route.
    fastapi_state = scope.get("fastapi")
    if fastapi_state is not None:
        context = fastapi_state.get("effective_route_context")
        if context is not None and context.original_route is route:
            template = getattr(context, "path_format", None)
            if template:
                return str(template)
    template = getattr(route, "path_format", None)
    return template if isinstance(template, str) else None


def _resolve_mounts(routes: Iterable[Any], raw_prefix: str) -> str:
    """Walk the router's mounts along ``raw_prefix`` and join their templates."""
    prefix = ""
    remaining = raw_prefix
    while remaining:
        for route in routes:
            if not isinstance(route, Mount):
                continue
            match = route.path_regex.match(remaining + "/")
            if match is None:
                continue
            rest = "/" + match.group("path")
            consumed = len(remaining) + 1 - len(rest)
            if consumed <= 0 and route.path:
                continue
            prefix += route.path_format.removesuffix("/{path}")
            remaining = remaining[consumed:]
            routes = route.routes
            break
        else:
            return prefix + remaining  # not a mount we can see: the monitor collapses ids
    return prefix


def _compile_exclusions(patterns: Iterable[str]) -> tuple[frozenset[str], re.Pattern[str] | None]:
    """Plain paths go to a set (one hash lookup); the rest to one precompiled alternation."""
    literal: set[str] = set()
    regexes: list[str] = []
    for pattern in patterns:
        re.compile(pattern)  # a bad pattern fails here, at start-up, with re's message
        if re.escape(pattern) == pattern:
            literal.update((pattern, pattern.rstrip("/") + "/"))
        else:
            regexes.append(f"(?:{pattern})")
    return frozenset(literal), re.compile("|".join(regexes)) if regexes else None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
