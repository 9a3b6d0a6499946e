"""The performance summary of a window: its stored rows, plus the records still in memory.

An assistant asks for the summary after nearly every write, so it is built in two parts. The
Monitor reads a ``StoredSummary`` once per change of the store; a ``Head`` adds the records
held in memory since the last flush, like a time-series database's in-memory head block.
Between two summaries only a few endpoints get new records, so the head re-merges only those.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import chain, compress
from operator import attrgetter, ne
from typing import Any, TypeVar

from perf_mcp.core import models as m
from perf_mcp.core.series import RequestAcc, RunAcc
from perf_mcp.core.sketch import LogHistogram
from perf_mcp.core.stats import SUMMARY_QUANTILES, percentiles, rate

EndpointKey = tuple[str, str]  # (endpoint name, METHOD)
Row = tuple[LogHistogram, int, float]  # an endpoint's merged histogram, 5xx count and p95
Exemplar = tuple[float, float, int, str, str]  # duration_ms, ts, status, endpoint, method
_NO_COUNTS: list[int] = []
_COUNT = attrgetter("hist.count")
A = TypeVar("A", RequestAcc, RunAcc)
T = TypeVar("T")
_FEW = 64  # candidates sorted outright rather than heaped
_NO_ROW: Row = (LogHistogram(), 0, 0.0)  # never changed: a head copies a row before changing it


@dataclass(frozen=True)
class StoredSummary:
    """A window's summary parts as the store had them: totals, every endpoint's row and the
    slowest requests."""

    window: m.Window
    seconds: int
    generated_at: float
    requests: RequestAcc | None
    agents: RunAcc | None
    tools: RunAcc | None
    endpoints: dict[EndpointKey, Row]
    slowest: list[m.SlowRequest]
    folded: dict[str, int]
    large_results: list[str]  # tools whose results are large for a context
    deploys: list[m.DeployMarker] = field(default_factory=list)


@dataclass
class PendingBucket:
    """The records of one 10 s bucket held in memory since the last flush."""

    start: int
    requests: Mapping[EndpointKey, RequestAcc]
    runs: Mapping[tuple[str, str], RunAcc]  # by (kind, name)


@dataclass
class Changes:
    """Copies of what changed in the pending buckets, taken while they were held still."""

    requests: list[tuple[int, EndpointKey, RequestAcc]]  # (bucket start, endpoint, copy)
    counts: dict[int, list[int]]  # by bucket start: every accumulator's count, in order
    runs: dict[str, RunAcc] | None  # every pending run merged, by kind; None: unchanged
    run_counts: dict[str, int]


class Head:
    """A StoredSummary with the pending records added, and the summary they make.

    Pending accumulators only grow until the flush that brings a new StoredSummary (and a new
    Head), so each update adds only what an accumulator gained since the last one, re-merges
    only the endpoints that gained, and re-ranks the rest only when it must.
    """

    def __init__(self, stored: StoredSummary) -> None:
        self.stored = stored
        self._endpoints = dict(stored.endpoints)
        self._own: set[EndpointKey] = set()  # rows copied from the stored ones, ours to change
        self._seen: dict[int, dict[EndpointKey, RequestAcc]] = {}  # by bucket: copies added
        self._counts: dict[int, list[int]] = {}  # by bucket: the counts of those copies
        self._exemplars: dict[tuple[int, EndpointKey], Exemplar] = {}  # each pending one's
        self._slowest: list[tuple[int, EndpointKey]] = []  # the slowest exemplars' keys
        self._stored_slowest: list[Exemplar] = [
            (r.duration_ms, r.timestamp, r.status_code, r.endpoint, r.method)
            for r in stored.slowest
        ]
        self._slow_models = dict(zip(self._stored_slowest, stored.slowest, strict=True))
        self._requests = stored.requests.copy() if stored.requests is not None else None
        self._run_counts: dict[str, int] = {}
        self._rows: dict[EndpointKey, m.EndpointSummary] = {}  # built rows, until touched
        self._by_p95 = self._top(self._endpoints, by_errors=False)
        self._by_errors = self._top(self._endpoints, by_errors=True)
        self._answer = m.PerformanceSummary(
            window=stored.window,
            window_s=stored.seconds,
            generated_at=stored.generated_at,
            requests=_request_totals(stored.requests, stored.seconds),
            agents=_agent_totals(stored.agents),
            tools=_tool_totals(stored.tools),
            slowest_endpoints=[self._row(k) for k in self._by_p95],
            most_errors=[self._row(k) for k in self._by_errors],
            slowest_requests=stored.slowest,
            folded_series=stored.folded,
            large_results=stored.large_results,
            deploys=stored.deploys,
        )

    def changes(self, buckets: Iterable[PendingBucket]) -> Changes | None:
        """Copies of what changed since the last update (None: nothing did). The caller holds
        the recording lock meanwhile, so this only compares counts and copies."""
        requests: list[tuple[int, EndpointKey, RequestAcc]] = []
        counts: dict[int, list[int]] = {}
        runs: list[tuple[str, RunAcc]] = []
        run_counts: dict[str, int] = {}
        for bucket in buckets:
            start = bucket.start
            # A bucket's accumulators keep their order and only grow, so a list of their
            # counts, compared at C speed with the last one, finds the (few) that did.
            accs = list(bucket.requests.values())
            now = list(map(_COUNT, accs))
            before = self._counts.get(start, _NO_COUNTS)
            if now != before:
                counts[start] = now
                grew = compress(range(len(before)), map(ne, now, before))
                keys = list(bucket.requests)
                for i in chain(grew, range(len(before), len(now))):
                    requests.append((start, keys[i], accs[i].copy()))
            for (kind, _name), run in bucket.runs.items():
                if kind in ("agent", "tool"):
                    runs.append((kind, run))
                    run_counts[kind] = run_counts.get(kind, 0) + run.hist.count
        if run_counts == self._run_counts:
            if not requests:
                return None
            return Changes(requests, counts, None, run_counts)
        merged: dict[str, RunAcc] = {}
        for kind, run in runs:
            _merge_copy(merged, kind, run, RunAcc)
        return Changes(requests, counts, merged, run_counts)

    def update(self, changes: Changes | None, now: float) -> m.PerformanceSummary:
        """The summary with ``changes`` (from ``changes()``) added."""
        if changes is None:
            return self._answer
        update: dict[str, Any] = {"generated_at": now}
        if changes.requests:
            self._add_requests(changes.requests)
            self._counts.update(changes.counts)
            update.update(
                requests=_request_totals(self._requests, self.stored.seconds),
                slowest_endpoints=[self._row(k) for k in self._by_p95],
                most_errors=[self._row(k) for k in self._by_errors],
            )
            slowest = self._slowest_requests()
            if slowest != self._answer.slowest_requests:
                update["slowest_requests"] = slowest
        if changes.runs is not None:
            stored, runs = self.stored, changes.runs
            update.update(
                agents=_agent_totals(_combined(RunAcc, stored.agents, runs.get("agent"))),
                tools=_tool_totals(_combined(RunAcc, stored.tools, runs.get("tool"))),
            )
            self._run_counts = changes.run_counts
        # Every part is a checked model already: the answer is copied, not validated anew.
        self._answer = self._answer.model_copy(update=update)
        return self._answer

    def _add_requests(self, copies: list[tuple[int, EndpointKey, RequestAcc]]) -> None:
        touched: set[EndpointKey] = set()
        gained: set[tuple[int, EndpointKey]] = set()
        for start, key, acc in copies:
            seen = self._seen.setdefault(start, {})
            before = seen.get(key)
            seen[key] = acc
            added = acc.since(before) if before is not None else acc
            self._add_to_row(key, added)
            if self._requests is None:
                self._requests = RequestAcc()
            self._requests.merge(added)
            if acc.count:
                self._exemplars[(start, key)] = (*_exemplar(acc), *key)
                gained.add((start, key))
            touched.add(key)
        for key in touched:
            hist, errors, _ = self._endpoints[key]
            self._endpoints[key] = (hist, errors, hist.quantile(0.95) or 0.0)
            self._rows.pop(key, None)
        # An endpoint outside the top rows enters them only if it gained, unless one in them
        # got faster (a p95 can fall). A 5xx count and a slowest request only grow.
        endpoints = self._endpoints
        p95_candidates = endpoints if touched & set(self._by_p95) else {*self._by_p95, *touched}
        self._by_p95 = self._top(p95_candidates, by_errors=False)
        self._by_errors = self._top({*self._by_errors, *touched}, by_errors=True)
        exemplars = self._exemplars
        self._slowest = _first({*self._slowest, *gained}, key=lambda k: _slower(exemplars[k]))

    def _add_to_row(self, key: EndpointKey, added: RequestAcc) -> None:
        hist, errors, p95 = self._endpoints.get(key, _NO_ROW)
        if key not in self._own:  # the stored row is shared: change a copy
            hist = hist.copy()
            self._own.add(key)
        hist.merge(added.hist)
        self._endpoints[key] = (hist, errors + added.status[5], p95)

    def _top(self, keys: Collection[EndpointKey], *, by_errors: bool) -> list[EndpointKey]:
        """The summary's rows by p95 (slowest first) or by 5xx count (most first, failing)."""
        endpoints = self._endpoints
        if by_errors:
            failing = [k for k in keys if endpoints[k][1]]
            return _first(failing, key=lambda k: (-endpoints[k][1], k))
        return _first(keys, key=lambda k: (-endpoints[k][2], k))

    def _row(self, key: EndpointKey) -> m.EndpointSummary:
        row = self._rows.get(key)
        if row is None:
            hist, errors, _ = self._endpoints[key]
            row = self._rows[key] = _endpoint_summary(key, hist, errors)
        return row

    def _slowest_requests(self) -> list[m.SlowRequest]:
        """The stored slowest requests and the pending ones, slowest first."""
        pending = [self._exemplars[k] for k in self._slowest]
        top = _first([*self._stored_slowest, *pending], key=_slower)
        models = self._slow_models
        return [models.get(e) or models.setdefault(e, _slow_request(e)) for e in top]


def _first(items: Collection[T], key: Callable[[T], Any]) -> list[T]:
    """The summary's rows: the first few of ``items`` in ``key`` order (a sort of a few
    candidates is quicker than a heap; a heap is quicker for all the endpoints)."""
    if len(items) <= _FEW:
        return sorted(items, key=key)[: m.SUMMARY_ROWS]
    return heapq.nsmallest(m.SUMMARY_ROWS, items, key=key)


def _slower(exemplar: Exemplar) -> tuple[float, float]:
    """Sorts the slowest request first (the newest of equally slow ones)."""
    return (-exemplar[0], -exemplar[1])


def _slow_request(exemplar: Exemplar) -> m.SlowRequest:
    d, t, c, e, v = exemplar
    return m.SlowRequest(endpoint=e, method=v, status_code=c, duration_ms=d, timestamp=t)


def _exemplar(acc: RequestAcc) -> tuple[float, float, int]:
    """An accumulator's slowest request: duration_ms, ts, status (as a flush keeps it)."""
    return (acc.max_ms, acc.slowest_ts, acc.slowest_status)


def _merge_copy(table: dict[str, A], key: str, acc: A, factory: Callable[[], A]) -> None:
    """Merge ``acc`` into ``table[key]``, starting from an empty one (``acc`` is untouched)."""
    into = table.get(key)
    if into is None:
        into = table[key] = factory()
    into.merge(acc)


def _combined(factory: Callable[[], A], *accs: A | None) -> A | None:
    """A new accumulator holding every given one (None when none is given)."""
    given = [acc for acc in accs if acc is not None]
    if not given:
        return None
    total = factory()
    for acc in given:
        total.merge(acc)
    return total


def _endpoint_summary(key: EndpointKey, hist: LogHistogram, errors: int) -> m.EndpointSummary:
    return m.EndpointSummary(
        endpoint=key[0],
        method=key[1],
        count=hist.count,
        error_count=errors,
        error_rate=rate(errors, hist.count),
        **percentiles(hist, SUMMARY_QUANTILES),
    )


def _request_totals(acc: RequestAcc | None, seconds: int) -> m.RequestTotals:
    if acc is None:
        return m.RequestTotals()
    return m.RequestTotals(
        count=acc.count,
        requests_per_s=acc.count / seconds,
        error_count=acc.status[5],
        error_rate=rate(acc.status[5], acc.count),
        status_counts=acc.status_classes(),
        **percentiles(acc.hist, SUMMARY_QUANTILES),
    )


def _agent_totals(acc: RunAcc | None) -> m.AgentTotals:
    if acc is None:
        return m.AgentTotals()
    return m.AgentTotals(
        runs=acc.count,
        **acc.usage(),
        **_outcomes(acc),
    )


def _tool_totals(acc: RunAcc | None) -> m.ToolTotals:
    return m.ToolTotals() if acc is None else m.ToolTotals(calls=acc.count, **_outcomes(acc))


def _outcomes(acc: RunAcc) -> dict[str, Any]:
    """Failures, success rate and p50/p95/p99 of runs or calls."""
    error_rate = rate(acc.failures, acc.count)
    return {
        "failures": acc.failures,
        "success_rate": None if error_rate is None else 1 - error_rate,
        **percentiles(acc.hist, SUMMARY_QUANTILES),
    }
