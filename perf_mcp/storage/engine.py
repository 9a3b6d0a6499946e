"""Which engine keeps a store: a SQLite file for a path, PostgreSQL for a ``postgresql://`` URL.

Everything above the storage package opens its store here and talks to the ``Storage``
interface; only this function knows that two engines exist.

>>> with open_storage(":memory:") as store:
...     store.known_names("request")
[]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from perf_mcp.storage.schema import StoreError
from perf_mcp.storage.store import Storage

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_storage(location: str | Path, **options: Any) -> Storage:
    """The store at ``location`` (a file path, ``:memory:`` or a ``postgresql://`` URL);
    ``options`` are Storage's keyword arguments."""
    if not str(location).lower().startswith(POSTGRES_SCHEMES):
        return Storage(location, **options)  # which refuses URLs of other databases
    try:
        from perf_mcp.storage.postgres import PostgresStorage
    except ImportError as exc:
        raise StoreError(
            "a postgresql:// store needs psycopg 3 and its pool: "
            f"pip install 'perf-mcp[postgres]' ({exc})"
        ) from exc
    return PostgresStorage(str(location), **options)


def without_password(location: str) -> str:
    """``location`` fit to show: a URL's password replaced by ``***``."""
    parts = urlsplit(location)
    if parts.password is None:
        return location
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
