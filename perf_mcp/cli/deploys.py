"""perf-mcp mark-deploy, and perf-mcp summary --baseline: deploys and what changed since.

perf-mcp mark-deploy v2.3.1 --note "new search index"
perf-mcp summary --window 1h --baseline deploy
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, get_args

from perf_mcp.core.compare import Baseline

if TYPE_CHECKING:
    from perf_mcp.core.compare import WindowComparison


def add_commands(commands: Any, summary_command: argparse.ArgumentParser, add_db: Any) -> None:
    """Add ``mark-deploy`` to ``commands`` and ``--baseline`` to the summary command."""
    mark = commands.add_parser(
        "mark-deploy",
        help="mark that a version went out now (a baseline for comparisons)",
        description="Store a deploy marker: summaries list it, and "
        "`perf-mcp summary --baseline deploy` compares either side of the last one.",
    )
    mark.add_argument("version", metavar="VERSION", help='what went out, e.g. "v2.3.1"')
    mark.add_argument("--note", help="what changed, in a few words")
    add_db(mark)
    summary_command.add_argument(
        "--baseline",
        choices=get_args(Baseline),
        help="instead of the summary, what changed against the previous window, the same "
        "window 24h or 7d earlier, or before the last deploy marker",
    )


def mark_deploy(args: argparse.Namespace) -> int:
    """Store a deploy marker in ``args.db``; 2 if the store cannot take it."""
    from perf_mcp.monitor import Monitor

    try:
        with Monitor(args.db, start_flusher=False) as monitor:
            marker = monitor.mark_deploy(args.version, args.note)
            db_path = monitor.db_path
    except Exception as exc:  # a bad version or an unusable store: say which, no traceback
        print(f"perf-mcp: cannot mark the deploy: {exc}", file=sys.stderr)
        return 2
    print(f"marked deploy {marker.version} at {marker.at:.0f} in {db_path}")
    return 0


def compare(args: argparse.Namespace) -> int:
    """Print what changed in ``args.db`` over ``args.window`` against ``args.baseline``."""
    from perf_mcp.monitor import Monitor

    try:
        with Monitor(args.db, start_flusher=False) as monitor:
            answer = monitor.compare_windows(args.window, args.baseline, limit=20)
    except Exception as exc:  # no deploy marker, an unreadable store: say which and why
        print(f"perf-mcp: cannot compare: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(answer.model_dump_json(indent=2))
    else:
        _print_comparison(answer)
    return 0


def _print_comparison(answer: WindowComparison) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    against = (
        f"before deploy {answer.deploy.version}"
        if answer.deploy is not None
        else f"baseline {answer.baseline}"
    )
    table = Table(title=f"what changed, last {answer.window} vs {against}", title_justify="left")
    for column in ("subject", "metric", "before", "after", "ratio", "count before", "after"):
        table.add_column(column, justify="left" if column in ("subject", "metric") else "right")
    for subject in answer.changes:
        for i, change in enumerate(subject.changes):
            first = i == 0
            table.add_row(
                f"{subject.kind} {subject.name}" if first else "",
                change.metric,
                f"{change.before:,.4g}",
                f"{change.after:,.4g}",
                "-" if change.ratio is None else f"x{change.ratio:.2f}",
                f"{subject.count_before:,}" if first else "",
                f"{subject.count_after:,}" if first else "",
            )
    if answer.changes:
        console.print(table)
    else:
        console.print(f"nothing changed past the gates, last {answer.window} vs {against}.")
    for side in answer.resources:
        if side.samples_before or side.samples_after:
            console.print(f"{side.metric}: mean {_mean(side.before)} -> {_mean(side.after)}")


def _mean(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
