"""The performance summary: the stored part read once per store change, the head added.

It is asked after nearly every write, so it does not flush: it folds the buffered samples,
then adds what is in memory to what the store held (perf_mcp.core.summary's Head).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perf_mcp.core import models as m
from perf_mcp.core.series import TOTAL, RequestAcc
from perf_mcp.core.sketch import LogHistogram
from perf_mcp.core.summary import Head, PendingBucket, StoredSummary
from perf_mcp.core.window import TierRange, bucket_start
from perf_mcp.query import rows
from perf_mcp.query.cache import NotCached, cached_only
from perf_mcp.query.windows import WindowQueries
from perf_mcp.recording.flusher import Flusher
from perf_mcp.storage.buckets import REQUESTS, RUNS

SUMMARY_KINDS = ("request", "agent", "tool")
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
        # The series of SUMMARY_KINDS by kind and id, as the last summary read them: a
        # series' id never changes, and the next summary reads them again to check.
        self._series: dict[str, dict[int, tuple[str, str]]] = {k: {} for k in SUMMARY_KINDS}

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
            key_and_head = self._heads.get(window)
            if key_and_head is None or not self._may_be_current(key_and_head[0], plan):
                version = None  # the stored part changed: its reads bring the version along
            else:
                version = self.storage.data_version(wait=not only_cached)
                if version is None:
                    raise NotCached
            if version is None or key_and_head is None or key_and_head[0][0] != version:
                if only_cached:
                    raise NotCached
                version, stored = self._stored(window, seconds, plan)
                key_and_head = (version, flusher.put_backs, *plan), Head(stored)
                self._heads[window] = key_and_head
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
            return head.update(changes, self.queries.clock())
        finally:
            flusher.flush_lock.release()

    def _may_be_current(self, key: tuple[Any, ...], plan: list[TierRange]) -> bool:
        """Whether a head made as of ``key`` may still hold the store's rows of ``plan``: not
        when this process wrote since, nor when the plan or the put-backs changed."""
        ours = key[0][1]  # the store version's count of this process's writes
        return key[1:] == (self.flusher.put_backs, *plan) and ours == self.storage.writes

    def _stored(
        self, window: str, seconds: int, plan: list[TierRange]
    ) -> tuple[tuple[int, int], StoredSummary]:
        """The store's version, and the summary's parts as the store holds them (the Head adds
        what is in memory).

        One batch of reads (one round trip on PostgreSQL) with the series known from the last
        summary, read again at once if the series it also reads differ (a series is new);
        then the histograms of the endpoints whose rows changed (see ``_ranking``).
        """
        now = self.queries.clock()
        storage = self.storage
        since = now if not plan else plan[0].start
        settled, recent = _split_plan(plan, now - RECENT_S)
        for _ in range(2):  # the second time with the series the first found
            known = self._series
            totals, named = _by_role(known)
            run_totals = {**totals["agent"], **totals["tool"]}
            version, series, slowest, folded, deploys, *sums = storage.read_all(
                storage.data_version_read(),
                storage.series_read(SUMMARY_KINDS),
                # the rows of the plan's time, like every other number of the summary
                storage.slowest_requests_read(since, m.SUMMARY_ROWS),
                storage.folded_counts_read(since=plan[0].start if plan else None),
                storage.deploy_markers_read(since, limit=m.SUMMARY_DEPLOYS),
                storage.sums_read(REQUESTS, plan, totals["request"], with_hist=True),
                storage.sums_read(RUNS, plan, run_totals, with_hist=True),
                storage.sums_read(RUNS, plan, named["tool"]),
                # the ranking's: every endpoint's recent rows' sums, and the total's
                storage.request_counts_read(recent, {**named["request"], **totals["request"]}),
            )
            self._series = series
            if series == known:
                break
        request_total, run_total, tools, recent_sums = sums
        accs = {s.series_id: s.acc for s in (*request_total, *run_total)}
        by_kind = {
            kind: next((accs[sid] for sid in of_kind if sid in accs), None)
            for kind, of_kind in totals.items()
        }
        ids = named["request"]
        total = _fingerprint(by_kind["request"])
        recent_total = [recent_sums.pop(sid) for sid in totals["request"] if sid in recent_sums]
        count, errors, _ = recent_total[0] if recent_total else (0, 0, 0.0)
        settled_total = (total[0] - count, total[1] - errors)  # exact: whole numbers
        ranking = self._ranking(
            window, (plan, settled, recent), ids, total, settled_total, recent_sums
        )
        return version, StoredSummary(
            window=window,  # type: ignore[arg-type]
            seconds=seconds,
            generated_at=now,
            requests=by_kind["request"],
            agents=by_kind["agent"],
            tools=by_kind["tool"],
            endpoints={ids[sid]: row for sid, row in ranking.merged.items()},
            slowest=slowest if plan else [],
            folded=folded,
            large_results=rows.large_results(
                (s.name, rows.result_sizes(s.acc).get("result_tokens_p95")) for s in tools
            ),
            deploys=deploys,
        )

    def _ranking(
        self,
        window: str,
        plans: tuple[list[TierRange], list[TierRange], list[TierRange]],
        ids: dict[int, tuple[str, str]],
        total: tuple[int, int, float],
        settled_total: tuple[int, int],
        sums: dict[int, tuple[int, int, float]],
    ) -> _Ranking:
        """Every endpoint's merged histogram, 5xx count and p95 over the window's rows.

        Merging every endpoint's rows is most of a summary's cost, and after a write only the
        rows of the last minute or so change. So the older ("settled") rows are merged once per
        plan and kept; each summary re-reads the newer rows' sums (``sums``) and merges again
        only the endpoints whose newer rows changed. Rows only ever grow while they are in a
        plan (every write adds to the all-endpoint total too), so the settled rows are unchanged
        exactly when their count is (``settled_total``: the window's total less the recent
        rows'): when it is not (late data, another process catching up), everything is merged
        anew. Likewise no endpoint changed when the window's ``total`` did not (the write was
        an agent run or a tool call).
        """
        storage = self.storage
        plan, settled, recent = plans
        old = self._rankings.get(window)
        if old is not None and old.plan == plan and old.total == total:
            return old
        renew = (
            old is None
            or old.plan != plan
            or old.settled_total != settled_total
            or not sums.keys() >= old.recent.keys()  # recent rows went away (expired)
        )
        known = {} if renew or old is None else old.recent
        changed = {sid: ids[sid] for sid, fp in sums.items() if known.get(sid) != fp}
        recent_read = storage.histograms_and_errors_read(recent, changed)
        if renew or old is None:
            settled_rows, recent_rows = storage.read_all(
                storage.histograms_and_errors_read(settled, ids), recent_read
            )
            old = _Ranking.settled_only(plan, total, settled_total, settled_rows)
        else:
            recent_rows = storage.read(recent_read)
        ranking = _Ranking(plan, total, settled_total, old.settled, sums, dict(old.merged))
        for sid, (recent_hist, recent_errors) in recent_rows.items():
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
    settled_total: tuple[int, int]  # the settled rows' all-endpoint count and 5xx count
    settled: Merged  # per endpoint, its settled rows merged
    recent: dict[int, tuple[int, int, float]]  # per endpoint, its recent rows' sums
    merged: dict[int, tuple[LogHistogram, int, float]]  # per endpoint: all rows, 5xx, p95

    @classmethod
    def settled_only(
        cls,
        plan: list[TierRange],
        total: tuple[int, int, float],
        settled_total: tuple[int, int],
        settled: Merged,
    ) -> _Ranking:
        merged = {sid: (h, errors, h.quantile(0.95) or 0.0) for sid, (h, errors) in settled.items()}
        return cls(plan, total, settled_total, settled, {}, merged)


def _by_role(
    series: dict[str, dict[int, tuple[str, str]]],
) -> tuple[dict[str, dict[int, tuple[str, str]]], dict[str, dict[int, tuple[str, str]]]]:
    """Per kind: its all-series total, and its named series."""
    totals = {
        kind: {i: n for i, n in of_kind.items() if n[0] == TOTAL}
        for kind, of_kind in series.items()
    }
    named = {
        kind: {i: n for i, n in of_kind.items() if n[0] != TOTAL}
        for kind, of_kind in series.items()
    }
    return totals, named


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


def _fingerprint(acc: RequestAcc | None) -> tuple[int, int, float]:
    """Count, 5xx and summed time of a series' rows: any write to them changes the count."""
    if acc is None:
        return (0, 0, 0.0)
    return (acc.count, acc.status[5], acc.sum_ms)
