"""Chart series: a window split into points for requests, agent runs or tool calls.

One query per series reads every stored row the points need (``Grid.plan``); the points are
shaped in ``perf_mcp.core.timeline``.
"""

from __future__ import annotations

from perf_mcp.core.paths import endpoint_name
from perf_mcp.core.timeline import Timeline, grid, timeline_points
from perf_mcp.core.validation import MAX_PATH_LENGTH, InvalidInputError, http_method
from perf_mcp.core.validation import name as checked_name
from perf_mcp.query.windows import WindowQueries

KINDS = ("request", "agent", "tool")


class TimelineQuery:
    """Answers Monitor.get_timeline (flushing first, cached while the store is unchanged)."""

    def __init__(self, queries: WindowQueries) -> None:
        self.queries = queries

    def answer(self, kind: str, window: str, name: str | None, method: str | None) -> Timeline:
        """The window's points for one series, or for the kind's total when no name is given."""
        if kind not in KINDS:
            raise InvalidInputError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if method is not None and kind != "request":
            raise InvalidInputError(f"method applies to kind 'request' only, not {kind!r}")
        if name is not None and kind == "request":
            name = endpoint_name(checked_name("name", name, MAX_PATH_LENGTH))
        elif name is not None:
            name = checked_name("name", name)
        verb = None if method is None else http_method(method)
        seconds, _ = self.queries.plan(window)  # checks the window
        queries, storage = self.queries, self.queries.storage
        g = grid(seconds, queries.clock())
        plan = g.plan(queries.clock(), queries.settings.retention_s)
        queries.flush()

        def compute() -> Timeline:
            totals = name is None and verb is None
            ids = storage.series_ids(kind, name=name, method=verb, totals=totals)
            table, column = (
                ("request_buckets", "s5xx") if kind == "request" else ("run_buckets", "failures")
            )
            rows = storage.rows_over_time(table, column, plan, ids) if plan else []
            return Timeline(
                kind=kind,  # type: ignore[arg-type]
                name=name,
                method=verb,
                window=window,
                step_s=g.step_s,
                start=g.start,
                end=g.end,
                points=timeline_points(g, rows),
            )

        return queries.cache.answer(("timeline", kind, name, verb, window, g), compute)
