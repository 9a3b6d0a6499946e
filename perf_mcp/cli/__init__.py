"""perf-mcp: the command line. Parses, builds objects, calls the library.

perf-mcp serve                          # stdio, as MCP clients launch it
perf-mcp serve --transport http         # streamable HTTP on http://127.0.0.1:8765/mcp
perf-mcp serve --alert-interval 5 --webhook-url https://hooks.example/perf
perf-mcp serve --transport http --host 0.0.0.0 --token-file /etc/perf-mcp/token
perf-mcp summary --window 1h            # a table for a person at a terminal
perf-mcp dashboard --db PATH            # the dashboard in a browser, read-only
perf-mcp token                          # a new random token for --token / --read-token
perf-mcp slo set availability 0.999 --endpoint "POST /checkout"   # an SLO with burn alerts
perf-mcp db check --db URL              # connection, schema version, rows and bytes per table
perf-mcp db migrate --db URL            # bring the store's schema up to date
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from perf_mcp import __version__
from perf_mcp.cli import dashboard, db, deploys, slo
from perf_mcp.cli.access import new_token
from perf_mcp.cli.serve import DEFAULT_HOST, DEFAULT_PORT, TOOLSETS_HELP, serve
from perf_mcp.cli.summary import summary
from perf_mcp.core.models import WINDOW_SECONDS

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command (also used by the docs test)."""
    parser = argparse.ArgumentParser(
        prog="perf-mcp",
        description="Performance monitoring for web apps and AI agents, served over MCP.",
    )
    parser.add_argument("--version", action="version", version=f"perf-mcp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve_command = commands.add_parser(
        "serve",
        help="run the MCP server (stdio by default, as MCP clients launch it)",
        description="Run the MCP server. stdio speaks to the one client that launched it; "
        "http serves many clients at http://HOST:PORT/mcp (streamable HTTP).",
    )
    serve_command.add_argument(
        "--transport", choices=("stdio", "http"), default="stdio", help="default: stdio"
    )
    serve_command.add_argument(
        "--host", default=DEFAULT_HOST, help=f"HTTP bind address (default: {DEFAULT_HOST})"
    )
    serve_command.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"HTTP port (default: {DEFAULT_PORT})"
    )
    _add_db(serve_command)
    watch = serve_command.add_argument_group(
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
        "--allow-private-webhook",
        action="store_true",
        default=None,
        help="let --webhook-url reach loopback, private, link-local or cloud-metadata addresses",
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
    serve_command.add_argument("--toolsets", metavar="NAMES", help=TOOLSETS_HELP)
    _add_access(serve_command)
    serve_command.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default="WARNING",
        help="log level on stderr (default: WARNING)",
    )

    summary_command = commands.add_parser(
        "summary",
        help="print the performance summary of a store",
        description="Print requests, agents, tools and the worst endpoints over a window.",
    )
    summary_command.add_argument(
        "--window", choices=tuple(WINDOW_SECONDS), default="5m", help="default: 5m"
    )
    summary_command.add_argument("--json", action="store_true", help="print JSON instead of tables")
    _add_db(summary_command)
    deploys.add_commands(commands, summary_command, _add_db)
    _add_db(dashboard.add_command(commands))
    slo.add_command(commands, _add_db)
    _add_db(db.add_command(commands))
    commands.add_parser(
        "token",
        help="print a new random token for --token or --read-token",
        description="Print a strong random token (256 bits, URL-safe) and exit.",
    )
    return parser


def _add_access(parser: argparse.ArgumentParser) -> None:
    access = parser.add_argument_group(
        "access (HTTP)",
        "who may call the HTTP server: with a token set, every route but /health and the "
        "dashboard page needs 'Authorization: Bearer TOKEN' (defaults: PERF_MCP_* variables)",
    )
    access.add_argument(
        "--token", metavar="TOKEN", help="full token: query, record and change (PERF_MCP_TOKEN)"
    )
    access.add_argument(
        "--read-token",
        metavar="TOKEN",
        help="read token: queries only (PERF_MCP_READ_TOKEN)",
    )
    access.add_argument(
        "--token-file", metavar="FILE", help="read the full token from FILE (keeps it out of ps)"
    )
    access.add_argument("--read-token-file", metavar="FILE", help="read the read token from FILE")
    access.add_argument(
        "--allowed-host",
        action="append",
        metavar="HOST[:PORT]",
        help="also answer this Host header, e.g. perf.example.com or perf.example.com:* "
        "(repeat; default: the bound address only)",
    )
    access.add_argument(
        "--allowed-origin",
        action="append",
        metavar="ORIGIN",
        help="also accept this Origin header, e.g. https://dash.example.com (repeat)",
    )


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH-OR-URL",
        default=None,
        help="SQLite store file or postgresql:// URL (default: $PERF_MCP_DB, else a file in "
        "your user data directory)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the perf-mcp console script."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "token":
        print(new_token())
        return 0
    if args.command == "dashboard":
        return dashboard.dashboard(args)
    if args.command == "mark-deploy":
        return deploys.mark_deploy(args)
    if args.command == "slo":
        return slo.run(args)
    if args.command == "db":
        return db.check(args)
    return deploys.compare(args) if args.baseline else summary(args)
