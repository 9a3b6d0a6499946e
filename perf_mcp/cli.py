"""perf-mcp: the command line. Parses, builds objects, calls the library.

perf-mcp serve                          # stdio, as MCP clients launch it
perf-mcp serve --transport http         # streamable HTTP on http://127.0.0.1:8765/mcp
perf-mcp serve --alert-interval 5 --webhook-url https://hooks.example/perf
perf-mcp summary --window 1h            # a table for a person at a terminal
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from perf_mcp.core.models import WINDOW_SECONDS

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from perf_mcp.config import Settings
    from perf_mcp.core.models import EndpointSummary, LatencyStats, PerformanceSummary
    from perf_mcp.monitor import Monitor

logger = logging.getLogger("perf_mcp.cli")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SHUTDOWN_GRACE_S = 3.0  # HTTP: time for open streams to close after a signal
STDIO_EXIT_AFTER_S = 1.0  # stdio: time to unwind after a signal once the store is flushed


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("perf-mcp")
    except PackageNotFoundError:
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command (also used by the docs test)."""
    parser = argparse.ArgumentParser(
        prog="perf-mcp",
        description="Performance monitoring for web apps and AI agents, served over MCP.",
    )
    parser.add_argument("--version", action="version", version=f"perf-mcp {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the MCP server (stdio by default, as MCP clients launch it)",
        description="Run the MCP server. stdio speaks to the one client that launched it; "
        "http serves many clients at http://HOST:PORT/mcp (streamable HTTP).",
    )
    serve.add_argument(
        "--transport", choices=("stdio", "http"), default="stdio", help="default: stdio"
    )
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help=f"HTTP bind address (default: {DEFAULT_HOST})"
    )
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"HTTP port (default: {DEFAULT_PORT})"
    )
    _add_db(serve)
    watch = serve.add_argument_group(
        "watching", "what the server samples and how it alerts (defaults: PERF_MCP_* variables)"
    )
    watch.add_argument(
        "--sample-interval",
        type=float,
        metavar="SECONDS",
        help="seconds between resource samples, at least 1 (default: 30)",
    )
    watch.add_argument(
        "--alert-interval",
        type=float,
        metavar="SECONDS",
        help="seconds between alert rule evaluations, at least 1 (default: 10)",
    )
    watch.add_argument(
        "--webhook-url", metavar="URL", help="POST every alert people should hear about here"
    )
    watch.add_argument(
        "--watch-pid",
        type=int,
        action="append",
        metavar="PID",
        help="also sample this process (repeat for more)",
    )
    watch.add_argument(
        "--disk-path",
        action="append",
        metavar="PATH",
        help="also sample the disk usage of this mount point (repeat for more)",
    )
    serve.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default="WARNING",
        help="log level on stderr (default: WARNING)",
    )

    summary = commands.add_parser(
        "summary",
        help="print the performance summary of a store",
        description="Print requests, agents, tools and the worst endpoints over a window.",
    )
    summary.add_argument(
        "--window", choices=tuple(WINDOW_SECONDS), default="5m", help="default: 5m"
    )
    summary.add_argument("--json", action="store_true", help="print JSON instead of tables")
    _add_db(summary)
    return parser


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=None,
        help="SQLite store (default: $PERF_MCP_DB, else a file in your user data directory)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the perf-mcp console script."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _summary(args)


# ---------------------------------------------------------------- serve


def _serve(args: argparse.Namespace) -> int:
    # stdout belongs to the protocol in stdio mode: every log line goes to stderr.
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="perf-mcp %(levelname)s %(message)s"
    )
    if args.transport == "http" and args.host not in LOOPBACK_HOSTS:
        print(
            f"perf-mcp: refusing to serve on {args.host}: only a loopback address "
            f"({', '.join(LOOPBACK_HOSTS)}) is allowed until bearer-token auth exists; "
            "use --host 127.0.0.1 and a tunnel or reverse proxy",
            file=sys.stderr,
        )
        return 2
    sock = None
    if args.transport == "http":
        try:
            sock = _bind(args.host, args.port)
        except OSError as exc:
            hint = " (pass --port N to use another port)" if exc.errno == errno.EADDRINUSE else ""
            print(
                f"perf-mcp: cannot listen on {args.host}:{args.port}: {exc}{hint}", file=sys.stderr
            )
            return 2

    import anyio

    from perf_mcp.monitor import Monitor
    from perf_mcp.server import build_server

    settings = _serve_settings(args)
    if settings is None:
        return 2
    _configure_logfire()
    try:
        monitor = Monitor(args.db, settings=settings)
    except Exception as exc:  # a store we cannot open: say which and why, no traceback
        print(f"perf-mcp: cannot open the store {args.db or '(default)'}: {exc}", file=sys.stderr)
        return 2
    try:
        server = build_server(monitor, log_level=args.log_level, settings=settings)
        if sock is not None:
            # uvicorn stops gracefully on SIGTERM, then raises it again: make that an exit.
            signal.signal(signal.SIGTERM, _stop_quietly)
            url = f"http://{args.host}:{args.port}/mcp"
            print(f"perf-mcp serving {url} (store: {monitor.db_path})", file=sys.stderr)
            anyio.run(_serve_http, server, sock, args.log_level)
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
    }
    given = {name: value for name, (_, value) in flags.items() if value is not None}
    try:
        settings = Settings(**given)
        if settings.webhook_url:
            WebhookNotifier(settings.webhook_url)
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


def _configure_logfire() -> None:
    """Alert transitions go to Logfire: sent only with a LOGFIRE_TOKEN, never to stdout.

    MCP clients propagate their trace context to the server on purpose, hence distributed
    tracing.
    """
    import logfire

    logfire.configure(
        send_to_logfire="if-token-present",
        console=False,
        service_name="perf-mcp",
        service_version=_version(),
        distributed_tracing=True,
    )


class _Stopped(BaseException):
    """SIGTERM arrived after a graceful stop: leave through the clean-up path."""


def _stop_quietly(signum: int, frame: object) -> None:
    raise _Stopped


def _bind(host: str, port: int) -> socket.socket:
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


async def _serve_http(server: MCPServer[Any], sock: socket.socket, log_level: str) -> None:
    """Serve streamable HTTP at /mcp; uvicorn turns SIGINT/SIGTERM into a graceful stop."""
    import uvicorn

    host = sock.getsockname()[0]
    app = server.streamable_http_app(host=host)
    config = uvicorn.Config(
        app,
        log_level=log_level.lower(),
        timeout_graceful_shutdown=int(SHUTDOWN_GRACE_S),
        lifespan="on",
    )
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
        await server.run_stdio_async()
        tasks.cancel_scope.cancel()


def _exit_after(seconds: float) -> None:
    timer = threading.Timer(seconds, os._exit, args=(0,))
    timer.daemon = True
    timer.start()


# ---------------------------------------------------------------- summary


def _summary(args: argparse.Namespace) -> int:
    from perf_mcp.monitor import Monitor

    try:
        with Monitor(args.db, start_flusher=False) as monitor:
            summary = monitor.get_performance_summary(args.window)
            db_path = monitor.db_path
    except Exception as exc:  # a store we cannot read: say which and why, no traceback
        print(f"perf-mcp: cannot read the store {args.db or '(default)'}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(summary.model_dump_json(indent=2))
    else:
        _print_summary(summary, db_path)
    return 0


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _latency(stats: LatencyStats | EndpointSummary) -> list[str]:
    return [_ms(stats.p50_ms), _ms(stats.p95_ms), _ms(stats.p99_ms)]


def _print_summary(summary: PerformanceSummary, db_path: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    req, agents, tools = summary.requests, summary.agents, summary.tools
    totals = Table(title=f"perf-mcp summary, last {summary.window}", title_justify="left")
    for column in ("", "count", "rate/s", "errors", "error rate", "p50 ms", "p95 ms", "p99 ms"):
        totals.add_column(column, justify="left" if not column else "right")
    totals.add_row(
        "requests",
        f"{req.count:,}",
        f"{req.requests_per_s:,.2f}",
        f"{req.error_count:,}",
        _pct(req.error_rate if req.count else None),
        *_latency(req),
    )
    totals.add_row(
        "agent runs",
        f"{agents.runs:,}",
        f"{agents.runs / summary.window_s:,.2f}",
        f"{agents.failures:,}",
        _pct(agents.failures / agents.runs if agents.runs else None),
        *_latency(agents),
    )
    totals.add_row(
        "tool calls",
        f"{tools.calls:,}",
        f"{tools.calls / summary.window_s:,.2f}",
        f"{tools.failures:,}",
        _pct(tools.failures / tools.calls if tools.calls else None),
        *_latency(tools),
    )
    console.print(totals)
    if agents.runs:
        console.print(
            f"tokens: {agents.input_tokens:,} in, {agents.output_tokens:,} out, "
            f"{agents.cache_read_tokens:,} cached; cost ${agents.cost_usd:,.4f}"
        )

    if summary.slowest_endpoints:
        slow = Table(title="slowest endpoints (by p95)", title_justify="left")
        for column in ("endpoint", "count", "5xx", "p50 ms", "p95 ms", "p99 ms"):
            slow.add_column(column, justify="left" if column == "endpoint" else "right")
        for ep in summary.slowest_endpoints:
            slow.add_row(
                f"{ep.method} {ep.endpoint}", f"{ep.count:,}", f"{ep.error_count:,}", *_latency(ep)
            )
        console.print(slow)
    if summary.most_errors:
        errors = Table(title="most 5xx errors", title_justify="left")
        for column in ("endpoint", "count", "5xx", "error rate"):
            errors.add_column(column, justify="left" if column == "endpoint" else "right")
        for ep in summary.most_errors:
            errors.add_row(
                f"{ep.method} {ep.endpoint}",
                f"{ep.count:,}",
                f"{ep.error_count:,}",
                _pct(ep.error_rate),
            )
        console.print(errors)
    if not req.count and not agents.runs and not tools.calls:
        console.print(f"no traffic recorded in the last {summary.window}.")
    console.print(f"store: {db_path}", style="dim")


if __name__ == "__main__":
    sys.exit(main())
