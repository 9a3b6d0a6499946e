"""Where a Monitor's flushes go: the store at its path, or a perf-mcp server it pushes to.

The push (perf_mcp.recording.push) and the OpenTelemetry classes it needs are imported only
for a Monitor with a url: an app that records into a store never loads them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import cast

from perf_mcp.config import Settings
from perf_mcp.core.validation import InvalidInputError
from perf_mcp.recording.pending import Pending
from perf_mcp.storage import Storage, open_storage


def open_target(
    db_path: str | os.PathLike[str] | None,
    url: str | None,
    settings: Settings,
    clock: Callable[[], float],
    series_budget: int | None,
) -> tuple[Storage, Pending]:
    """A Monitor's store and Pending: a PushTarget for ``url`` (or ``PERF_MCP_URL`` when no
    ``db_path`` is given), else the store at ``db_path`` with the series it already has."""
    budget = series_budget or settings.series_budget
    url = settings.url if url is None and db_path is None else url
    if url is not None:
        if db_path is not None:
            raise InvalidInputError("give a Monitor db_path or url, not both")
        from perf_mcp.recording.push import PushPending, PushTarget  # OTLP's classes, if asked

        token = None if settings.token is None else settings.token.get_secret_value()
        # Stands in for the Storage: the flusher writes to it, queries ask it (and are told).
        return cast(Storage, PushTarget(url, token, clock)), PushPending(budget)
    path = settings.db if db_path is None else os.fspath(db_path)
    store = open_storage(
        path, retention_s=settings.retention_s, raw_records=settings.raw_records, clock=clock
    )
    pending = Pending(budget)
    for kind in ("agent", "model", "tool"):
        known = store.known_names(kind, pending.registries[kind].budget)
        pending.load_known((kind, name) for name in known)
    return store, pending
