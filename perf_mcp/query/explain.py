"""explain: the window against the ``PAST_WINDOWS`` windows of the same length before it.

The past windows end on the whole minute (windows under an hour) or hour before the asked
one starts, so they read 1 min and 1 h rows rather than 10 s ones.

Each window is read as compare_windows reads one (per-series sums, then the histograms of the
series with enough samples now), plus the mean CPU and memory of its resource samples; then
``perf_mcp.core.explain`` finds what is anomalous.
"""

from __future__ import annotations

from perf_mcp.core import explain as e
from perf_mcp.core.compare import MIN_COUNT, metric_values
from perf_mcp.core.validation import MAX_NAME_LENGTH, InvalidInputError, name
from perf_mcp.core.window import HOUR_S, MINUTE_S, TierRange, bucket_start, plan_window
from perf_mcp.query.cache import NotCached, cached_only
from perf_mcp.query.compare import RESOURCE_METRICS, covered, fill_histograms, read_series
from perf_mcp.query.windows import MAX_LIMIT, WindowQueries

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
            current = self._values(spans[0], plans[0], now, None)
            wanted = {key for key, seen in current.items() if seen.count >= MIN_COUNT}
            values = [current] + [
                self._values(span, plan, now, wanted)
                for span, plan in zip(spans[1:], plans[1:], strict=True)
            ]
            findings = e.first_about(e.explain(values[0], values[1:]), subject)
            return e.Explanation(
                window=window,  # type: ignore[arg-type]
                subject=subject,
                past_windows=PAST_WINDOWS,
                findings=findings[:limit],
                truncated=len(findings) > limit,
                deploys=self.storage.deploy_markers(start, limit=limit),
            )

        return self.queries.cache.answer(key, compute)

    def _values(
        self,
        span: tuple[float, float],
        plan: list[TierRange],
        now: float,
        wanted: set[e.Key] | None,
    ) -> dict[e.Key, e.Observed]:
        """Every subject's values over one window; latencies only of the ``wanted`` ones
        (None: all with enough samples)."""
        series = read_series(self.storage, plan)
        seconds = covered(plan, now)
        enough = {
            key
            for key, s in series.items()
            if s.acc.count >= MIN_COUNT and (wanted is None or key in wanted)
        }
        fill_histograms(self.storage, plan, [series[key] for key in enough])
        found: dict[e.Key, e.Observed] = {}
        for key, s in series.items():
            acc = s.acc
            values: dict[str, float | None] = {"rate_per_s": acc.count / seconds}
            if key in enough:
                values.update(metric_values(acc))
            found[key] = e.Observed(acc.count, values)
        means, samples = self.storage.resource_means(*span, RESOURCE_METRICS)
        for metric, mean in means.items():
            found["resource", metric] = e.Observed(samples, {"mean": mean})
        return found
