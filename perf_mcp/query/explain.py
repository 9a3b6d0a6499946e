"""explain: the window against the ``PAST_WINDOWS`` windows of the same length before it.

The past windows end on the whole minute (windows under an hour) or hour before the asked
one starts, so they read 1 min and 1 h rows rather than 10 s ones.

The asked window is read as compare_windows reads one (per-series sums, then the histograms of
the series with enough samples), plus the mean CPU and memory of its resource samples. The
past windows are read together, one statement per table for all of them (each window's sums
and encoded histogram rows of the series with enough samples now, looked up by key), then
their resource means; latencies are decoded only where explain looks, and kept per closed
window (``PastQuantiles``). Then ``perf_mcp.core.explain`` finds what is anomalous."""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from perf_mcp.core import explain as e
from perf_mcp.core.compare import MIN_COUNT, QUANTILES, Subject, metric_values, values_of
from perf_mcp.core.sketch import LogHistogram
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
from perf_mcp.storage.past import WindowSums

PAST_WINDOWS = 12  # comparable windows read before the asked one
MAX_PAST_QUANTILES = 20_000  # (window, series) quantiles kept between calls (a few MB)
_QS = tuple(QUANTILES.values())


class ExplainQuery:
    """Answers explain (flushing first; cached while the store is unchanged)."""

    def __init__(self, queries: WindowQueries) -> None:
        self.queries = queries
        self.storage = queries.storage
        self.past_quantiles = PastQuantiles()

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
            # Only subjects with enough samples now can be anomalous (core.explain's gate).
            series = read_series(self.storage, plans[0], min_requests=MIN_COUNT)
            wanted = {key: s for key, s in series.items() if s.acc.count >= MIN_COUNT}
            fill_histograms(self.storage, plans[0], list(wanted.values()))
            means = self.storage.resource_means(*spans[0], RESOURCE_METRICS)
            current = _observed(wanted, covered(plans[0], now), means)
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

        One statement per table reads every window's sums and histogram rows. Latencies are
        worked out only where explain looks: windows with enough samples, of subjects with
        enough such windows (``e.has_history``); a window's are kept while its sums stay the
        same (``PastQuantiles``), so later calls decode only new or changed windows.
        """
        found: list[dict[e.Key, e.Observed]] = [{} for _ in plans]
        seconds = [covered(plan, now) for plan in plans]
        for table, requests in (("request_buckets", True), ("run_buckets", False)):
            mine = {
                s.series_id: key for key, s in wanted.items() if (key[0] == "endpoint") == requests
            }
            sums = self.storage.sums_by_window(table, plans, mine)
            busy = Counter(sid for (_, sid), w in sums.items() if w.count >= MIN_COUNT)
            for (k, sid), w in sums.items():
                rate = w.count / seconds[k]
                if w.count >= MIN_COUNT and e.has_history(busy[sid], len(plans)):
                    quantiles = self.past_quantiles.get((table, *spans[k], sid), w)
                    usage = None if requests else (w.tokens, w.cost_usd)
                    values = values_of(w.count, w.errors, quantiles, usage)
                    values["rate_per_s"] = rate
                else:
                    values = {"rate_per_s": rate}
                found[k][mine[sid]] = e.Observed(w.count, values)
        resources = self.storage.resource_means_by_window(spans, RESOURCE_METRICS)
        for window, means in zip(found, resources, strict=True):
            _add_resources(window, means)
        return found


class PastQuantiles:
    """The latency quantiles of past windows' series, kept while their sums stay the same.

    A window in the past changes only when late records land in it (its count and summed
    milliseconds grow) or retention drops its rows (they shrink): either changes the sums
    read anyway, and then its histogram is decoded again. Bounded: the oldest entries go
    first.
    """

    def __init__(self, max_entries: int = MAX_PAST_QUANTILES) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()  # queries run in several threads
        self._kept: OrderedDict[tuple[Any, ...], tuple[Any, list[float | None]]] = OrderedDict()

    def get(self, key: tuple[Any, ...], sums: WindowSums) -> list[float | None]:
        """The quantiles of ``sums``' histogram rows: kept ones while its sums are the same."""
        fingerprint = sums.count, sums.total_ms
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and kept[0] == fingerprint:
            return kept[1]
        quantiles = LogHistogram.quantiles_of(sums.hists, _QS)
        with self._lock:
            self._kept[key] = (fingerprint, quantiles)
            while len(self._kept) > self.max_entries:
                self._kept.popitem(last=False)
        return quantiles


def _observed(
    series: Mapping[Subject, SeriesAgg],
    seconds: float,
    resources: tuple[dict[str, float | None], int],
) -> dict[e.Key, e.Observed]:
    """Each subject's rate and other metrics (histograms merged); the resource means."""
    found: dict[e.Key, e.Observed] = {}
    for key, s in series.items():
        values: dict[str, float | None] = {"rate_per_s": s.acc.count / seconds}
        values.update(metric_values(s.acc))
        found[key] = e.Observed(s.acc.count, values)
    _add_resources(found, resources)
    return found


def _add_resources(
    found: dict[e.Key, e.Observed], resources: tuple[dict[str, float | None], int]
) -> None:
    means, samples = resources
    for metric, mean in means.items():
        found["resource", metric] = e.Observed(samples, {"mean": mean})
