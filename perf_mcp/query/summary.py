"""The performance summary: the stored part read once per store change, the head added.

It is asked after nearly every write, so it does not flush: it folds the buffered samples,
then adds what is in memory to what the store held (perf_mcp.core.summary's Head).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perf_mcp.core import models as m
from perf_mcp.core.series import RequestAcc
from perf_mcp.core.sketch import LogHistogram
from perf_mcp.core.summary import Head, PendingBucket, StoredSummary
from perf_mcp.core.window import TierRange, bucket_start
from perf_mcp.query import rows
from perf_mcp.query.cache import NotCached, cached_only
from perf_mcp.query.windows import WindowQueries
from perf_mcp.recording.flusher import Flusher
from perf_mcp.storage import SeriesAgg

RECENT_S = 30  # rows that ended this recently may still change (flush lag): re-read per summary


class SummaryQuery:
    """Answers get_performance_summary from one Head per window."""

    def __init__(self, queries: WindowQueries, flusher: Flusher) -> None:
        self.queries = queries
        self.storage = queries.storage
        self.flusher = flusher
        self._rankings: dict[str, _Ranking] = {}  # the endpoint ranking, per window
        # Per window: the summary of the stored rows, as of (store version, plan, put-backs),
        # and the records in memory added to it. One per window: each holds every endpoint.
        self._heads: dict[str, tuple[tuple[Any, ...], Head]] = {}
        self._deploys: dict[str, list[m.DeployMarker]] = {}  # per window, with its head

    def answer(self, window: str) -> m.PerformanceSummary:
        """Totals, the slowest and most failing endpoints, with what is still in memory."""
        seconds, plan = self.queries.plan(window)
        flusher = self.flusher
        only_cached = cached_only()
        if flusher.fold_lock.acquire(blocking=not only_cached):
            try:
                flusher.fold()
            finally:
                flusher.fold_lock.release()
        if flusher.pending.folded:  # the folded counts are the store's to give
            self.queries.flush()
        if not flusher.flush_lock.acquire(blocking=not only_cached):
            raise NotCached  # a flush is moving records from memory to the store
        try:  # held: no record is between memory and store, and the heads are ours
            version = self.storage.data_version(wait=not only_cached)
            if version is None:
                raise NotCached
            key = (version, flusher.put_backs, *plan)
            key_and_head = self._heads.get(window)
            if key_and_head is None or key_and_head[0] != key:
                if only_cached:
                    raise NotCached
                key_and_head = key, Head(self._stored(window, seconds, plan))
                self._heads[window] = key_and_head
                since = plan[0].start if plan else self.queries.clock()
                self._deploys[window] = self.storage.deploy_markers(since, limit=m.SUMMARY_DEPLOYS)
            head = key_and_head[1]
            lo, hi = (plan[0].start, plan[-1].end) if plan else (0, 0)  # [lo, hi) has no gap
            if not flusher.fold_lock.acquire(blocking=not only_cached):
                raise NotCached  # another thread is folding
            try:
                flusher.fold()
                changes = head.changes(
                    PendingBucket(start, bucket.requests, bucket.runs)
                    for start, bucket in flusher.pending.buckets.items()
                    if lo <= start < hi
                )
            finally:
                flusher.fold_lock.release()
            answer = head.update(changes, self.queries.clock())
            deploys = self._deploys[window]
            return answer.model_copy(update={"deploys": deploys}) if deploys else answer
        finally:
            flusher.flush_lock.release()

    def _stored(self, window: str, seconds: int, plan: list[TierRange]) -> StoredSummary:
        """The summary's parts as the store holds them now (the Head adds what is in memory)."""
        now = self.queries.clock()
        storage = self.storage
        request_total = storage.request_series(plan, totals=True)
        storage.fill_histograms("request_buckets", plan, request_total)
        agent_total = storage.run_series("agent", plan, totals=True)
        tool_total = storage.run_series("tool", plan, totals=True)
        storage.fill_histograms("run_buckets", plan, agent_total + tool_total)
        ids = storage.series_ids("request")
        ranking = self._ranking(window, plan, now, ids, _fingerprint(request_total))
        return StoredSummary(
            window=window,  # type: ignore[arg-type]
            seconds=seconds,
            generated_at=now,
            requests=request_total[0].acc if request_total else None,
            agents=agent_total[0].acc if agent_total else None,
            tools=tool_total[0].acc if tool_total else None,
            endpoints={ids[sid]: row for sid, row in ranking.merged.items()},
            # the rows of the plan's time, like every other number of the summary
            slowest=storage.slowest_requests(plan[0].start, m.SUMMARY_ROWS) if plan else [],
            folded=storage.folded_counts(since=plan[0].start if plan else None),
            large_results=rows.large_results(
                (s.name, rows.result_sizes(s.acc).get("result_tokens_p95"))
                for s in storage.run_series("tool", plan)
            ),
        )

    def _ranking(
        self,
        window: str,
        plan: list[TierRange],
        now: float,
        ids: dict[int, tuple[str, str]],
        total: tuple[int, int, float],
    ) -> _Ranking:
        """Every endpoint's merged histogram, 5xx count and p95 over the window's rows.

        Merging every endpoint's rows is most of a summary's cost, and after a write only the
        rows of the last minute or so change. So the older ("settled") rows are merged once per
        plan and kept; each summary re-reads the newer rows' sums and merges again only the
        endpoints whose newer rows changed. Rows only ever grow while they are in a plan (every
        write adds to the all-endpoint total too), so the settled rows are unchanged exactly
        when their total is: when it is not (late data, another process catching up),
        everything is merged anew. Likewise no endpoint changed when the window's total did not
        (the write was an agent run or a tool call).
        """
        storage = self.storage
        old = self._rankings.get(window)
        if old is not None and old.plan == plan and old.total == total:
            return old
        settled, recent = _split_plan(plan, now - RECENT_S)
        total_id = storage.series_ids("request", totals=True)
        settled_counts = storage.request_counts(settled, total_id)
        settled_total = next(iter(settled_counts.values()), (0, 0, 0.0))
        sums = storage.request_counts(recent, ids)
        if (
            old is None
            or old.plan != plan
            or old.settled_total != settled_total
            or not sums.keys() >= old.recent.keys()  # recent rows went away (expired)
        ):
            settled_rows = storage.histograms_and_errors(settled, ids)
            old = _Ranking.settled_only(plan, total, settled_total, settled_rows)
        changed = {sid: ids[sid] for sid, fp in sums.items() if old.recent.get(sid) != fp}
        ranking = _Ranking(plan, total, settled_total, old.settled, sums, dict(old.merged))
        for sid, (recent_hist, recent_errors) in storage.histograms_and_errors(
            recent, changed
        ).items():
            hist, errors = LogHistogram(), recent_errors
            hist.merge(recent_hist)
            if sid in old.settled:
                hist.merge(old.settled[sid][0])
                errors += old.settled[sid][1]
            ranking.merged[sid] = (hist, errors, hist.quantile(0.95) or 0.0)
        self._rankings[window] = ranking
        return ranking


Merged = dict[int, tuple[LogHistogram, int]]  # per series id: merged histogram, 5xx count


@dataclass(frozen=True)
class _Ranking:
    """The summary's per-endpoint data for one window plan (see SummaryQuery._ranking)."""

    plan: list[TierRange]
    total: tuple[int, int, float]  # the all-endpoint total of the plan's rows
    settled_total: tuple[int, int, float]  # the all-endpoint total of the settled rows
    settled: Merged  # per endpoint, its settled rows merged
    recent: dict[int, tuple[int, int, float]]  # per endpoint, its recent rows' sums
    merged: dict[int, tuple[LogHistogram, int, float]]  # per endpoint: all rows, 5xx, p95

    @classmethod
    def settled_only(
        cls,
        plan: list[TierRange],
        total: tuple[int, int, float],
        settled_total: tuple[int, int, float],
        settled: Merged,
    ) -> _Ranking:
        merged = {sid: (h, errors, h.quantile(0.95) or 0.0) for sid, (h, errors) in settled.items()}
        return cls(plan, total, settled_total, settled, {}, merged)


def _split_plan(plan: list[TierRange], cutoff: float) -> tuple[list[TierRange], list[TierRange]]:
    """The plan's rows that ended before ``cutoff``, and the rest."""
    settled, recent = [], []
    for r in plan:
        edge = min(max(bucket_start(cutoff, r.tier_s), r.start), r.end)
        if edge > r.start:
            settled.append(TierRange(r.tier_s, r.start, edge))
        if r.end > edge:
            recent.append(TierRange(r.tier_s, edge, r.end))
    return settled, recent


def _fingerprint(series: list[SeriesAgg]) -> tuple[int, int, float]:
    """Count, 5xx and summed time of a series' rows: any write to them changes the count."""
    if not series:
        return (0, 0, 0.0)
    acc: RequestAcc = series[0].acc
    return (acc.count, acc.status[5], acc.sum_ms)
