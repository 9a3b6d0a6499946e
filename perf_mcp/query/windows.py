"""Window queries: per endpoint, agent, tool and model, merged from the store's rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from perf_mcp.config import Settings
from perf_mcp.core import models as m
from perf_mcp.core.paths import endpoint_name
from perf_mcp.core.validation import MAX_PATH_LENGTH, InvalidInputError, http_method, name
from perf_mcp.core.window import TierRange, plan_window
from perf_mcp.query import rows
from perf_mcp.query.cache import AnswerCache, Q
from perf_mcp.storage import SeriesAgg, Storage

MAX_LIMIT = 500


class WindowQueries:
    """Answers get_endpoint_stats, get_agent_stats and get_tool_stats (flushing first)."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        clock: Callable[[], float],
        flush: Callable[[], None],
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.clock = clock
        self.flush = flush
        self.cache = AnswerCache(storage.data_version)

    def plan(self, window: str) -> tuple[int, list[TierRange]]:
        """The window's length in seconds and the store rows that cover it, ending now."""
        seconds = m.WINDOW_SECONDS.get(window)
        if seconds is None:
            raise InvalidInputError(
                f"window must be one of {', '.join(m.WINDOW_SECONDS)}, got {window!r}"
            )
        now = self.clock()
        return seconds, plan_window(
            now - seconds, None, now=now, retention_s=self.settings.retention_s
        )

    def endpoints(
        self, endpoint: str | None, method: str | None, window: str, sort_by: str, limit: int
    ) -> m.EndpointStatsList:
        """Per endpoint+method latency, throughput, errors and sizes, sorted and capped."""
        named = (
            None if endpoint is None else endpoint_name(name("endpoint", endpoint, MAX_PATH_LENGTH))
        )
        verb = None if method is None else http_method(method)

        def compute(seconds: int, plan: list[TierRange]) -> m.EndpointStatsList:
            ids = self.storage.series_ids("request", name=named, method=verb)
            top, total = self._top("request", ids, plan, sort_by, limit)
            return m.EndpointStatsList(
                window=window,  # type: ignore[arg-type]
                endpoints=[rows.endpoint_stats(s, seconds) for s in top],
                total_endpoints=total,
                truncated=total > limit,
                folded_series=self.storage.folded_counts(since=plan[0].start if plan else None).get(
                    "request", 0
                ),
            )

        return self._answer(
            ("endpoints", named, verb), window, sort_by, m.EndpointSort, limit, compute
        )

    def agents(
        self, agent_name: str | None, window: str, sort_by: str, limit: int
    ) -> m.AgentStatsList:
        """Per agent runs, success, latency, tokens, cost and tool usage; plus per model."""

        def compute(seconds: int, plan: list[TierRange]) -> m.AgentStatsList:
            ids = self.storage.series_ids("agent", name=agent_name)
            top, total = self._top("agent", ids, plan, sort_by, limit)
            models, _ = self._top("model", self.storage.series_ids("model"), plan, "runs", limit)
            conversations = self.storage.conversation_costs(
                self.clock() - seconds, agent_name, m.TOP_CONVERSATIONS
            )
            return m.AgentStatsList(
                window=window,  # type: ignore[arg-type]
                agents=[rows.agent_stats(s) for s in top],
                models=[rows.model_usage(s) for s in models],
                total_agents=total,
                truncated=total > limit,
                conversations=conversations,
                prices=rows.prices_of([*top, *models]),
            )

        return self._answer(("agents", agent_name), window, sort_by, m.RunSort, limit, compute)

    def tools(
        self, tool_name: str | None, window: str, sort_by: str, limit: int
    ) -> m.ToolStatsList:
        """Per tool calls, failures and latency, sorted and capped."""

        def compute(seconds: int, plan: list[TierRange]) -> m.ToolStatsList:
            ids = self.storage.series_ids("tool", name=tool_name)
            top, total = self._top("tool", ids, plan, sort_by, limit)
            return m.ToolStatsList(
                window=window,  # type: ignore[arg-type]
                tools=[rows.tool_stats(s) for s in top],
                total_tools=total,
                truncated=total > limit,
            )

        return self._answer(("tools", tool_name), window, sort_by, m.ToolSort, limit, compute)

    def series_between(
        self,
        kind: Literal["request", "agent", "tool", "model"],
        start: float,
        end: float,
        *,
        name: str | None = None,
        method: str | None = None,
        totals: bool = False,
    ) -> list[SeriesAgg]:
        """Each series' stored data over [start, end), histograms included (no flush)."""
        plan = plan_window(start, end, now=self.clock(), retention_s=self.settings.retention_s)
        if kind == "request":
            series = self.storage.request_series(plan, name=name, method=method, totals=totals)
        else:
            series = self.storage.run_series(kind, plan, name=name, totals=totals)
        self.storage.fill_histograms(_table(kind), plan, series)
        return series

    def _answer(
        self,
        key: tuple[Any, ...],
        window: str,
        sort_by: str,
        sorts: Any,
        limit: int,
        compute: Callable[[int, list[TierRange]], Q],
    ) -> Q:
        """Check the common arguments, flush, then answer (cached while nothing changed)."""
        if limit.__class__ is not int or not 1 <= limit <= MAX_LIMIT:
            raise InvalidInputError(
                f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}"
            )
        if sort_by not in sorts.__args__:
            raise InvalidInputError(
                f"sort_by must be one of {', '.join(sorts.__args__)}, got {sort_by!r}"
            )
        seconds, plan = self.plan(window)
        self.flush()
        full_key = (*key, window, sort_by, limit, *plan)
        return self.cache.answer(full_key, lambda: compute(seconds, plan))

    def _top(
        self,
        kind: str,
        ids: dict[int, tuple[str, str]],
        plan: list[TierRange],
        sort_by: str,
        limit: int,
    ) -> tuple[list[SeriesAgg], int]:
        """The ``limit`` series ranked first by ``sort_by``, and how many had data.

        A percentile ranking merges every series' histogram and sums only the chosen ones;
        any other ranking sums every series and merges only the chosen histograms.
        """
        storage, table = self.storage, _table(kind)

        def sums(chosen: dict[int, tuple[str, str]]) -> list[SeriesAgg]:
            if kind == "request":
                return storage.request_series(plan, ids=chosen)
            return storage.run_series(kind, plan, ids=chosen)

        q = rows.PERCENTILE_SORTS.get(sort_by)
        if q is not None:
            hists = storage.histograms(table, plan, ids)
            ranked = sorted(hists, key=lambda i: (-(hists[i].quantile(q) or 0.0), ids[i]))
            order = {sid: rank for rank, sid in enumerate(ranked[:limit])}
            chosen = sums({sid: ids[sid] for sid in order})
            for s in chosen:
                s.acc.hist = hists[s.series_id]
            chosen.sort(key=lambda s: order[s.series_id])
            return chosen, len(hists)
        key = rows.request_sort_key if kind == "request" else rows.run_sort_key
        series = sums(ids)
        series.sort(key=lambda s: (-key(s, sort_by), s.name, s.method))
        chosen = series[:limit]
        storage.fill_histograms(table, plan, chosen)
        return chosen, len(series)


def _table(kind: str) -> str:
    return "request_buckets" if kind == "request" else "run_buckets"
