"""Another process holding a SQLite store locked (BEGIN EXCLUSIVE) until the block ends."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_LOCKER = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    sys.stdin.readline()
    conn.execute("ROLLBACK")
    conn.close()
    """
)


@contextmanager
def held_locked(db_path: Path) -> Iterator[None]:
    """The store is locked by another process inside the block, and released after it."""
    locker = subprocess.Popen(
        [sys.executable, "-c", _LOCKER, str(db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdin is not None
    assert locker.stdout is not None
    try:
        assert locker.stdout.readline().strip() == "locked"
        yield
    finally:
        locker.stdin.write("release\n")
        locker.stdin.close()
        locker.wait(timeout=30)
        locker.stdout.close()
