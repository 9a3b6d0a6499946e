"""explain: the window against the ``PAST_WINDOWS`` windows of the same length before it.

The past windows end on the whole minute (windows under an hour) or hour before the asked
one starts, so they read 1 min and 1 h rows rather than 10 s ones.

The asked window is read as compare_windows reads one (per-series sums, then the histograms of
the series with enough samples), plus the mean CPU and memory of its resource samples. The
past windows are read together, one statement per table for all of them (sums by window and
series, then the histograms of the series with enough samples now and then, then the resource
means); then ``perf_mcp.core.explain`` finds what is anomalous.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from perf_mcp.core import explain as e
from perf_mcp.core.compare import MIN_COUNT, Subject, metric_values
from perf_mcp.core.validation import MAX_NAME_LENGTH, InvalidInputError, name
from perf_mcp.core.window import HOUR_S, MINUTE_S, TierRange, bucket_start, plan_window
from perf_mcp.query.cache import NotCached, cached_only
from perf_mcp.query.compare import (
    RESOURCE_METRICS,
    covered,
    fill_histograms,
    read_series,
)
from perf_mcp.query.windows import MAX_LIMIT, WindowQueries
from perf_mcp.storage import SeriesAgg

PAST_WINDOWS = 12  # comparable windows read before the asked one
MAX_PAST_METRICS = 20_000  # (window, series) metrics kept between calls (a few MB)


class ExplainQuery:
    """Answers explain (flushing first; cached while the store is unchanged)."""

    def __init__(self, queries: WindowQueries) -> None:
        self.queries = queries
        self.storage = queries.storage
        self.past_metrics = PastMetrics()

    def answer(self, window: str, subject: str | None, limit: int) -> e.Explanation:
        """What is anomalous in the window, ``subject``'s findings first, at most ``limit``."""
        if subject is not None:
            subject = name("subject", subject, MAX_NAME_LENGTH)
        if limit.__class__ is not int or not 1 <= limit <= MAX_LIMIT:
            raise InvalidInputError(
                f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}"
            )
        seconds, _ = self.queries.plan(window)  # checks the window
        if cached_only():
            raise NotCached
        self.queries.flush()
        now = self.queries.clock()
        start = bucket_start(now - seconds)
        # Past windows end on a whole minute or hour, so they read the coarse rows.
        edge = bucket_start(start, HOUR_S if seconds >= HOUR_S else MINUTE_S)
        spans = [(start, now)] + [
            (edge - k * seconds, edge - (k - 1) * seconds) for k in range(1, PAST_WINDOWS + 1)
        ]
        retention = self.queries.settings.retention_s
        plans = [
            plan_window(lo, None if hi >= now else hi, now=now, retention_s=retention)
            for lo, hi in spans
        ]
        key = ("explain", window, subject, limit, *(r for plan in plans for r in (*plan, None)))

        def compute() -> e.Explanation:
            series = read_series(self.storage, plans[0])
            wanted = {key: s for key, s in series.items() if s.acc.count >= MIN_COUNT}
            fill_histograms(self.storage, plans[0], list(wanted.values()))
            metrics = {key: metric_values(s.acc) for key, s in wanted.items()}
            means = self.storage.resource_means(*spans[0], RESOURCE_METRICS)
            current = _observed(series, metrics, covered(plans[0], now), means)
            past = self._past(spans[1:], plans[1:], now, wanted)
            findings = e.first_about(e.explain(current, past), subject)
            return e.Explanation(
                window=window,  # type: ignore[arg-type]
                subject=subject,
                past_windows=PAST_WINDOWS,
                findings=findings[:limit],
                truncated=len(findings) > limit,
                deploys=self.storage.deploy_markers(start, limit=limit),
            )

        return self.queries.cache.answer(key, compute)

    def _past(
        self,
        spans: Sequence[tuple[float, float]],
        plans: list[list[TierRange]],
        now: float,
        wanted: Mapping[Subject, SeriesAgg],
    ) -> list[dict[e.Key, e.Observed]]:
        """The values of the ``wanted`` subjects (those with enough samples now: only they
        can be anomalous) over each past window, and the resource means.

        The sums are read every time; a window's metrics are reused while its sums are the
        same (``PastMetrics``), so only new or changed windows merge their histograms.
        """
        storage = self.storage
        windows: list[dict[Subject, SeriesAgg]] = [{} for _ in plans]
        metrics: list[dict[Subject, dict[str, float | None]]] = [{} for _ in plans]
        for table, requests in (("request_buckets", True), ("run_buckets", False)):
            mine = {
                s.series_id: key for key, s in wanted.items() if (key[0] == "endpoint") == requests
            }
            ids = {sid: (wanted[key].name, wanted[key].method) for sid, key in mine.items()}
            for window, found in zip(
                windows, storage.sums_by_window(table, plans, ids), strict=True
            ):
                window.update({mine[sid]: s for sid, s in found.items()})
            missing = []
            subjects = set(mine.values())
            for k, window in enumerate(windows):
                for key, s in window.items():
                    if key in subjects and s.acc.count >= MIN_COUNT:
                        known = self.past_metrics.get((table, *plans[k]), s)
                        if known is None:
                            missing.append((k, s.series_id))
                        else:
                            metrics[k][key] = known
            for (k, sid), hist in storage.histograms_by_window(table, plans, missing).items():
                then = windows[k][mine[sid]]
                then.acc.hist = hist
                metrics[k][mine[sid]] = self.past_metrics.put((table, *plans[k]), then)
        resources = storage.resource_means_by_window(spans, RESOURCE_METRICS)
        return [
            _observed(window, found, covered(plan, now), means)
            for window, found, plan, means in zip(windows, metrics, plans, resources, strict=True)
        ]


class PastMetrics:
    """The metrics of past windows' series, kept while their sums stay the same.

    A window in the past changes only when late records land in it (its count and summed
    milliseconds grow) or retention drops its rows (they shrink): either changes the sums
    a window query reads anyway, and then its histogram is merged again. Bounded: the
    oldest entries go first.
    """

    def __init__(self, max_entries: int = MAX_PAST_METRICS) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()  # queries run in several threads
        self._kept: OrderedDict[tuple[Any, ...], tuple[Any, dict[str, float | None]]] = (
            OrderedDict()
        )

    def get(self, window: tuple[Any, ...], series: SeriesAgg) -> dict[str, float | None] | None:
        """The metrics kept for ``series`` in ``window``, if its sums are unchanged."""
        with self._lock:
            kept = self._kept.get((*window, series.series_id))
        if kept is None or kept[0] != _sums(series):
            return None
        return kept[1]

    def put(self, window: tuple[Any, ...], series: SeriesAgg) -> dict[str, float | None]:
        """The metrics of ``series`` (its histogram merged), kept for ``window``."""
        values = metric_values(series.acc)
        with self._lock:
            self._kept[(*window, series.series_id)] = (_sums(series), values)
            while len(self._kept) > self.max_entries:
                self._kept.popitem(last=False)
        return values


def _sums(series: SeriesAgg) -> tuple[Any, ...]:
    acc = series.acc
    return acc.count, acc.sum_ms, acc.min_ms, acc.max_ms


def _observed(
    series: Mapping[Subject, SeriesAgg],
    metrics: Mapping[Subject, Mapping[str, float | None]],
    seconds: float,
    resources: tuple[dict[str, float | None], int],
) -> dict[e.Key, e.Observed]:
    """Each subject's rate and the ``metrics`` read for it; the means of the resources."""
    found: dict[e.Key, e.Observed] = {}
    for key, s in series.items():
        values: dict[str, float | None] = {"rate_per_s": s.acc.count / seconds}
        values.update(metrics.get(key, {}))
        found[key] = e.Observed(s.acc.count, values)
    means, samples = resources
    for metric, mean in means.items():
        found["resource", metric] = e.Observed(samples, {"mean": mean})
    return found
