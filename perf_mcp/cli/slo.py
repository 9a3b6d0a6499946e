"""perf-mcp slo set | list | delete: service level objectives in a store.

perf-mcp slo set availability 0.999 --endpoint "POST /checkout" --name checkout
perf-mcp slo set latency 0.99 --threshold-ms 300 --dry-run
perf-mcp slo list
perf-mcp slo delete checkout
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, get_args

from perf_mcp.core.alerts.slo import SloKind

if TYPE_CHECKING:
    from perf_mcp.core.alerts.slo import SloStatus


def add_command(commands: Any, add_db: Any) -> None:
    """Add ``slo`` and its ``set``, ``list`` and ``delete`` subcommands to ``commands``."""
    slo = commands.add_parser(
        "slo",
        help="set, list or delete service level objectives (burn-rate alerts)",
        description="Objectives alert on the SRE workbook's burn rates (14.4x over 1 h and "
        "5 min or 6x over 6 h and 30 min page, 1x over 3 d and 6 h is a ticket; windows "
        "scaled to the period) in a running perf-mcp server.",
    )
    actions = slo.add_subparsers(dest="slo_command", required=True, metavar="ACTION")
    set_slo = actions.add_parser("set", help="set or replace an SLO")
    set_slo.add_argument("kind", choices=get_args(SloKind))
    set_slo.add_argument("objective", type=float, help="the good share, e.g. 0.999")
    target = set_slo.add_mutually_exclusive_group()
    for scope, example in (
        ("endpoint", '"POST /checkout"'),
        ("agent", "triage"),
        ("tool", "run_sql"),
    ):
        target.add_argument(f"--{scope}", metavar="NAME", help=f"e.g. {example} (default: all)")
    set_slo.add_argument("--threshold-ms", type=float, help="latency: fast means under this")
    set_slo.add_argument("--period-days", type=float, default=30.0, help="default: 30")
    set_slo.add_argument("--name", help="default: the subject and kind")
    set_slo.add_argument(
        "--dry-run", action="store_true", help="store nothing; replay its alerts over 24 h"
    )
    listed = actions.add_parser("list", help="each SLO's budget left and burn rates")
    listed.add_argument("--json", action="store_true", help="print JSON instead of a table")
    delete = actions.add_parser("delete", help="delete an SLO")
    delete.add_argument("name")
    for action in (set_slo, listed, delete):
        add_db(action)


def run(args: argparse.Namespace) -> int:
    """Carry out ``perf-mcp slo ...``; 2 with the reason when the input or store is refused."""
    from perf_mcp.monitor import Monitor

    try:
        with Monitor(args.db, start_flusher=False) as monitor:
            if args.slo_command == "set":
                print(_set(monitor, args).model_dump_json(indent=2))
            elif args.slo_command == "delete":
                if not monitor.delete_slo(args.name):
                    print(f"perf-mcp: no SLO named {args.name!r}", file=sys.stderr)
                    return 2
                print(f"deleted SLO {args.name}")
            else:
                answer = monitor.list_slos()
                if args.json:
                    print(answer.model_dump_json(indent=2))
                else:
                    _print(answer.slos)
    except Exception as exc:  # bad input or an unusable store: say which, no traceback
        print(f"perf-mcp: {exc}", file=sys.stderr)
        return 2
    return 0


def _set(monitor: Any, args: argparse.Namespace) -> Any:
    scope, subject = next(
        ((s, getattr(args, s)) for s in ("endpoint", "agent", "tool") if getattr(args, s)),
        ("all", None),
    )
    return monitor.set_slo(
        args.kind,
        args.objective,
        scope=scope,
        subject=subject,
        threshold_ms=args.threshold_ms,
        period_days=args.period_days,
        name=args.name,
        dry_run=args.dry_run,
    )


def _print(slos: list[SloStatus]) -> None:
    if not slos:
        print("no SLOs yet: perf-mcp slo set availability 0.999 --endpoint 'POST /checkout'")
    for s in slos:
        burns = ", ".join(f"{w} {'-' if b is None else f'{b:g}x'}" for w, b in s.burn.items())
        print(
            f"{s.name}: {s.objective:.4%} over {s.period_days:g} d, {s.events:,} events, "
            f"{s.bad:,} bad, budget left {s.budget_left:.1%}, alert {s.alert}; burn {burns}"
        )
