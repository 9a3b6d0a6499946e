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

from collections.abc import Collection, Mapping, Sequence

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


class ExplainQuery:
    """Answers explain (flushing first; cached while the store is unchanged)."""

    def __init__(self, queries: WindowQueries) -> None:
        self.queries = queries
        self.storage = queries.storage

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
            means = self.storage.resource_means(*spans[0], RESOURCE_METRICS)
            current = _observed(series, wanted, covered(plans[0], now), means)
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
        can be anomalous) over each past window, and the resource means."""
        storage = self.storage
        keys = {s.series_id: key for key, s in wanted.items()}
        windows: list[dict[int, SeriesAgg]] = [{} for _ in plans]
        for table, requests in (("request_buckets", True), ("run_buckets", False)):
            ids = {
                s.series_id: (s.name, s.method)
                for key, s in wanted.items()
                if (key[0] == "endpoint") == requests
            }
            for window, found in zip(
                windows, storage.sums_by_window(table, plans, ids), strict=True
            ):
                window.update(found)
            enough = [
                (k, sid)
                for k, window in enumerate(windows)
                for sid, series in window.items()
                if sid in ids and series.acc.count >= MIN_COUNT
            ]
            for (k, sid), hist in storage.histograms_by_window(table, plans, enough).items():
                windows[k][sid].acc.hist = hist
        resources = storage.resource_means_by_window(spans, RESOURCE_METRICS)
        past = []
        for window, plan, means in zip(windows, plans, resources, strict=True):
            series = {keys[sid]: s for sid, s in window.items()}
            enough_then = [key for key, s in series.items() if s.acc.count >= MIN_COUNT]
            past.append(_observed(series, enough_then, covered(plan, now), means))
        return past


def _observed(
    series: Mapping[Subject, SeriesAgg],
    enough: Collection[Subject],
    seconds: float,
    resources: tuple[dict[str, float | None], int],
) -> dict[e.Key, e.Observed]:
    """Each subject's rate, and its other metrics when it has ``enough`` samples; the means
    of the resource samples."""
    found: dict[e.Key, e.Observed] = {}
    for key, s in series.items():
        acc = s.acc
        values: dict[str, float | None] = {"rate_per_s": acc.count / seconds}
        if key in enough:
            values.update(metric_values(acc))
        found[key] = e.Observed(acc.count, values)
    means, samples = resources
    for metric, mean in means.items():
        found["resource", metric] = e.Observed(samples, {"mean": mean})
    return found
