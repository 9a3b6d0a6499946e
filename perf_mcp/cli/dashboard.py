"""perf-mcp dashboard: the dashboard page over a store, for people whose assistant runs the
server over stdio. It only looks: no recording, sampling, alert evaluation or acknowledging."""

from __future__ import annotations

import argparse
import errno
import logging
import sys
import threading
import webbrowser
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from perf_mcp.cli.serve import DEFAULT_HOST, listen_socket

DEFAULT_DASHBOARD_PORT = 8766  # beside perf-mcp serve's 8765


def add_command(commands: Any) -> argparse.ArgumentParser:
    """Register ``perf-mcp dashboard``; returns its parser (the caller adds --db)."""
    command: argparse.ArgumentParser = commands.add_parser(
        "dashboard",
        help="open the dashboard in a browser, read-only over a store",
        description="Serve the dashboard page on 127.0.0.1 over a store (read-only) and open "
        "it in the browser. With perf-mcp serve --transport http, the page is at its / already.",
    )
    command.add_argument(
        "--port",
        type=int,
        default=DEFAULT_DASHBOARD_PORT,
        help=f"port on 127.0.0.1 (default: {DEFAULT_DASHBOARD_PORT}; 0 picks a free one)",
    )
    command.add_argument("--no-browser", action="store_true", help="only print the address")
    return command


def dashboard(args: argparse.Namespace) -> int:
    """Serve the read-only dashboard until Ctrl-C; 2 when the port or store cannot be used."""
    logging.basicConfig(level="WARNING", stream=sys.stderr, format="perf-mcp %(message)s")
    try:
        sock = listen_socket(DEFAULT_HOST, args.port)
    except OSError as exc:
        hint = " (pass --port N to use another port)" if exc.errno == errno.EADDRINUSE else ""
        print(
            f"perf-mcp: cannot listen on {DEFAULT_HOST}:{args.port}: {exc}{hint}", file=sys.stderr
        )
        return 2
    import anyio
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Route

    from perf_mcp.monitor import Monitor
    from perf_mcp.server.http import transport_security
    from perf_mcp.server.runtime import Runtime
    from perf_mcp.server.web import HostGuard, web_routes
    from perf_mcp.storage import without_password

    try:
        monitor = Monitor(args.db, start_flusher=False)
    except Exception as exc:  # a store we cannot open: say which and why, no traceback
        print(
            f"perf-mcp: cannot open the store {without_password(args.db or '(default)')}: {exc}",
            file=sys.stderr,
        )
        sock.close()
        return 2
    runtime = Runtime(monitor, None, None, monitor.settings)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await runtime.open()  # the alert list, without evaluating or sampling
        try:
            yield
        finally:
            await runtime.release()

    routes = [
        Route(path, handler, methods=methods)
        for path, methods, handler in web_routes(runtime, read_only=True)
    ]
    port = sock.getsockname()[1]
    app = HostGuard(
        Starlette(routes=routes, lifespan=lifespan), transport_security(DEFAULT_HOST, port)
    )
    url = f"http://{DEFAULT_HOST}:{port}/"
    print(f"perf-mcp dashboard at {url} (store: {monitor.db_path}; read-only)", file=sys.stderr)
    sock.listen(128)  # before the browser asks: its request waits for the server to start
    if not args.no_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    try:
        anyio.run(uvicorn.Server(config).serve, [sock])
    except KeyboardInterrupt:
        pass
    finally:
        monitor.close()
        sock.close()
    return 0
