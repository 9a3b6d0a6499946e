"""perf-mcp db check | migrate: can this process use the store, at which schema version, how
big is it; or just bring its schema up to date (before rolling out a new perf-mcp to many hosts).

perf-mcp db check --db postgresql://perf@db.internal/perf
perf-mcp db migrate --db postgresql://perf@db.internal/perf
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_command(commands: Any) -> argparse.ArgumentParser:
    """Add ``db check`` to ``commands``; return its parser (for ``--db``)."""
    db: argparse.ArgumentParser = commands.add_parser(
        "db",
        help="check the store (connection, schema version, rows and bytes per table) or migrate it",
        description="Open the store, migrating it if its schema is older than this perf-mcp's. "
        "check then prints its schema version, whether this process may write it, and rows and "
        "bytes per table and tier; migrate prints the schema version only.",
    )
    db.add_argument("action", choices=("check", "migrate"), help="what to do with the store")
    return db


def check(args: argparse.Namespace) -> int:
    """Open (so migrate) the store at ``args.db``, print its schema version and, for ``check``,
    its rows and bytes per table; 2 if it cannot be used."""
    from perf_mcp.config import Settings
    from perf_mcp.storage import StoreError, open_storage

    location = args.db or Settings().db
    try:
        with open_storage(location) as store:
            version = store.schema_version()
            sizes = store.table_sizes() if args.action == "check" else []
            access = "read-only: " + store.read_only if store.read_only else "writable"
            where = store.path
    except StoreError as exc:
        print(f"perf-mcp: cannot use the store: {exc}", file=sys.stderr)
        return 2
    print(f"store {where}: schema version {version}, {access}")
    if args.action == "migrate":
        return 0
    print(f"{'table':<32} {'rows':>12} {'MB':>10}")
    for name, rows, size in sizes:
        megabytes = "" if size is None else f"{size / 1e6:10.2f}"
        print(f"{name:<32} {rows:>12,} {megabytes:>10}")
    return 0
