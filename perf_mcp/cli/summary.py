"""perf-mcp summary: a store's performance summary as tables for a person, or as JSON."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perf_mcp.core.models import EndpointSummary, LatencyStats, PerformanceSummary


def summary(args: argparse.Namespace) -> int:
    """Print the summary of the store at ``args.db`` over ``args.window``; 2 if unreadable."""
    from perf_mcp.monitor import Monitor
    from perf_mcp.storage import without_password

    try:
        with Monitor(args.db, start_flusher=False) as monitor:
            answer = monitor.get_performance_summary(args.window)
            db_path = monitor.db_path
    except Exception as exc:  # a store we cannot read: say which and why, no traceback
        print(
            f"perf-mcp: cannot read the store {without_password(args.db or '(default)')}: {exc}",
            file=sys.stderr,
        )
        return 2
    if args.json:
        print(answer.model_dump_json(indent=2))
    else:
        _print_summary(answer, db_path)
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
