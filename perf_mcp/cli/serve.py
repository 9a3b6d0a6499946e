"""perf-mcp serve: settings from flags and environment, then stdio or HTTP until a signal."""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perf_mcp import __version__, toolsets
from perf_mcp.cli.access import AccessError, bind_refusal, tokens_of

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from starlette.types import ASGIApp

    from perf_mcp.config import Settings
    from perf_mcp.monitor import Monitor

logger = logging.getLogger("perf_mcp.cli")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
SHUTDOWN_GRACE_S = 3.0  # HTTP: time for open streams to close after a signal
STDIO_EXIT_AFTER_S = 1.0  # stdio: time to unwind after a signal once the store is flushed
# What makes Logfire send anything: a token, an OTLP endpoint, or logfire's credentials file.
TELEMETRY_ENV = (
    "LOGFIRE_TOKEN",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)
CREDENTIALS_FILE = "logfire_credentials.json"
TOOLSETS_HELP = (
    f"MCP tools listed, comma-separated: {', '.join(toolsets.TOOLSETS)} or all "
    f"(default: {','.join(toolsets.DEFAULT)}; PERF_MCP_TOOLSETS)"
)


def serve(args: argparse.Namespace) -> int:
    """Run the MCP server until the client leaves or a signal stops it; 2 on bad settings."""
    # stdout belongs to the protocol in stdio mode: every log line goes to stderr.
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="perf-mcp %(levelname)s %(message)s"
    )
    settings = _serve_settings(args)
    if settings is None:
        return 2
    try:
        full, read = tokens_of(settings)
    except AccessError as exc:
        print(f"perf-mcp: {exc}", file=sys.stderr)
        return 2
    http = args.transport == "http"
    refusal = bind_refusal(args.host, full, read, settings.allowed_hosts) if http else None
    if refusal is not None:
        print(f"perf-mcp: {refusal}", file=sys.stderr)
        return 2
    sock = None
    if args.transport == "http":
        try:
            sock = listen_socket(args.host, args.port)
        except OSError as exc:
            hint = " (pass --port N to use another port)" if exc.errno == errno.EADDRINUSE else ""
            print(
                f"perf-mcp: cannot listen on {args.host}:{args.port}: {exc}{hint}", file=sys.stderr
            )
            return 2

    import anyio

    from perf_mcp.monitor import Monitor
    from perf_mcp.pydantic_plugins import skip_idle_plugins_in_this_process
    from perf_mcp.storage import without_password

    skip_idle_plugins_in_this_process()  # the SDK's and the server's models
    from perf_mcp.server import build_server

    try:
        toolsets.chosen_toolsets(settings.toolsets)
    except ValueError as exc:
        print(f"perf-mcp: --toolsets (or PERF_MCP_TOOLSETS): {exc}", file=sys.stderr)
        if sock is not None:
            sock.close()
        return 2
    configure_logfire()
    try:
        monitor = Monitor(args.db, settings=settings.model_copy(update={"url": None}))
    except Exception as exc:  # a store we cannot open: say which and why, no traceback
        print(
            f"perf-mcp: cannot open the store {without_password(args.db or '(default)')}: {exc}",
            file=sys.stderr,
        )
        return 2
    try:
        server = build_server(monitor, log_level=args.log_level, settings=settings)
        if sock is not None:
            # uvicorn stops gracefully on SIGTERM, then raises it again: make that an exit.
            signal.signal(signal.SIGTERM, _stop_quietly)
            from perf_mcp.server.auth import Tokens
            from perf_mcp.server.http import http_app

            app = http_app(
                server,
                host=args.host,
                port=sock.getsockname()[1],
                tokens=Tokens(full, read),
                allowed_hosts=settings.allowed_hosts,
                allowed_origins=settings.allowed_origins,
            )
            url = f"http://{args.host}:{args.port}/mcp"
            tokens = " and ".join(n for n, t in (("full", full), ("read", read)) if t) or "none"
            print(
                f"perf-mcp serving {url} (store: {monitor.db_path}; tokens: {tokens})",
                file=sys.stderr,
            )
            anyio.run(_serve_http, app, sock, args.log_level)
        else:
            if sys.stdin.isatty():
                print(
                    "perf-mcp: serving MCP over stdio (MCP clients start this command "
                    "themselves; for a server clients connect to, add --transport http). "
                    "Ctrl-C stops it.",
                    file=sys.stderr,
                )
            logger.info("perf-mcp serving stdio (store: %s)", monitor.db_path)
            anyio.run(_serve_stdio, server, monitor)
    except (KeyboardInterrupt, _Stopped):
        pass
    finally:
        monitor.close()
        if sock is not None:
            sock.close()
    return 0


def _serve_settings(args: argparse.Namespace) -> Settings | None:
    """Settings from the environment with the flags given on top; None (after saying why)
    when a value is out of range."""
    from pydantic import ValidationError

    from perf_mcp.alerting import WebhookNotifier
    from perf_mcp.config import Settings
    from perf_mcp.core.models import InvalidInputError

    flags = {
        "sample_interval_s": ("--sample-interval", args.sample_interval),
        "alert_interval_s": ("--alert-interval", args.alert_interval),
        "webhook_url": ("--webhook-url", args.webhook_url),
        "watch_pids": ("--watch-pid", args.watch_pid),
        "disk_paths": ("--disk-path", args.disk_path),
        "allow_private_webhook": ("--allow-private-webhook", args.allow_private_webhook),
        "token": ("--token", args.token),
        "read_token": ("--read-token", args.read_token),
        "token_file": ("--token-file", args.token_file),
        "read_token_file": ("--read-token-file", args.read_token_file),
        "allowed_hosts": ("--allowed-host", args.allowed_host),
        "allowed_origins": ("--allowed-origin", args.allowed_origin),
        "toolsets": ("--toolsets", args.toolsets),
    }
    given = {name: value for name, (_, value) in flags.items() if value is not None}
    try:
        settings = Settings(**given)
        if settings.webhook_url:
            WebhookNotifier(settings.webhook_url, allow_private=settings.allow_private_webhook)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            name = str(error["loc"][0]) if error["loc"] else ""
            where = flags[name][0] if name in flags else f"PERF_MCP_{name.upper()}"
            print(f"perf-mcp: {where}: {error['msg']}", file=sys.stderr)
        return None
    except InvalidInputError as exc:
        print(f"perf-mcp: --webhook-url (or PERF_MCP_WEBHOOK_URL): {exc}", file=sys.stderr)
        return None
    return settings


def configure_logfire(environ: Mapping[str, str] = os.environ) -> None:
    """Alert transitions and the MCP SDK's span for each request go to Logfire when a token
    is set (or to an OTLP endpoint), never to stdout.

    With one, Logfire is configured at once, so spans are sent from the first request. Without,
    it is configured (and imported) at the first alert only, and records no span (head
    sampling 0): nothing would leave the process, and recording each request's span cost
    ~0.15 ms, a sixth of a tool call over HTTP. MCP clients propagate their trace context to
    the server on purpose, hence distributed tracing.
    """
    from perf_mcp import telemetry

    credentials = Path(environ.get("LOGFIRE_CREDENTIALS_DIR", ".logfire"), CREDENTIALS_FILE)
    sent = any(environ.get(name) for name in TELEMETRY_ENV) or credentials.exists()
    telemetry.configure(
        now=sent,
        record_spans=sent,
        send_to_logfire="if-token-present",
        console=False,
        service_name="perf-mcp",
        service_version=__version__,
        distributed_tracing=True,
    )


class _Stopped(BaseException):
    """SIGTERM arrived after a graceful stop: leave through the clean-up path."""


def _stop_quietly(signum: int, frame: object) -> None:
    raise _Stopped


def listen_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the heavy imports so a taken port fails fast.

    Made with proto=IPPROTO_TCP, not 0: accepted sockets inherit the proto, and asyncio sets
    TCP_NODELAY only on sockets whose proto says TCP. Without it Nagle's algorithm meets the
    client's delayed ACK and every sequential HTTP call waits ~40 ms.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


async def _serve_http(app: ASGIApp, sock: socket.socket, log_level: str) -> None:
    """Serve the HTTP app; uvicorn turns SIGINT/SIGTERM into a graceful stop."""
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level=log_level.lower(),
        timeout_graceful_shutdown=int(SHUTDOWN_GRACE_S),
        lifespan="on",
    )
    _freeze_start_up_objects()
    await uvicorn.Server(config).serve(sockets=[sock])


async def _serve_stdio(server: MCPServer[Any], monitor: Monitor) -> None:
    """Serve stdio until the client closes stdin, or a signal asks us to stop (then flush)."""
    import anyio
    import anyio.to_thread

    async with anyio.create_task_group() as tasks:

        async def stop_on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    logger.info("received %s: flushing and stopping", signal.Signals(signum).name)
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(monitor.flush)
                    # The stdin reader is a thread blocked in readline(): cancelling cannot
                    # interrupt it, so leave on a timer if the client keeps stdin open.
                    _exit_after(STDIO_EXIT_AFTER_S)
                    tasks.cancel_scope.cancel()
                    return

        tasks.start_soon(stop_on_signal)
        _freeze_start_up_objects()
        await server.run_stdio_async()
        tasks.cancel_scope.cancel()


def _freeze_start_up_objects() -> None:
    """Leave what start-up made (modules, classes, schemas: ~120k objects) out of every
    later garbage collection: they live as long as the server, and walking them made each
    full collection a 50-100 ms pause, every few seconds under load. No collection first:
    it would cost start-up as much, to free the few hundred objects start-up let go."""
    gc.freeze()


def _exit_after(seconds: float) -> None:
    timer = threading.Timer(seconds, os._exit, args=(0,))
    timer.daemon = True
    timer.start()
