"""compare_windows: a window against a baseline, read as two sets of merged series.

Each window is read with the store's per-series readers (one statement per kind for the
sums, one per table for the histograms, of only the series with enough samples on both
sides), then ``perf_mcp.core.compare`` finds and ranks what changed.
"""

from __future__ import annotations

from typing import get_args

from perf_mcp.core import compare as c
from perf_mcp.core import models as m
from perf_mcp.core.series import RequestAcc
from perf_mcp.core.validation import InvalidInputError
from perf_mcp.core.window import TierRange, bucket_start, plan_window
from perf_mcp.query.cache import NotCached, cached_only
from perf_mcp.query.windows import MAX_LIMIT, WindowQueries
from perf_mcp.storage import SeriesAgg, Storage

RESOURCE_METRICS = ("cpu_percent", "memory_percent")
RUN_KINDS = ("agent", "tool")
Span = tuple[float, float]  # [start, end) in Unix seconds


class CompareQuery:
    """Answers compare_windows (flushing first; cached while the store is unchanged)."""

    def __init__(self, queries: WindowQueries) -> None:
        self.queries = queries
        self.storage = queries.storage

    def answer(self, window: str, baseline: str, limit: int) -> c.WindowComparison:
        """The window against its baseline: the ``limit`` subjects that changed most."""
        if baseline not in get_args(c.Baseline):
            raise InvalidInputError(
                f"baseline must be one of {', '.join(get_args(c.Baseline))}, got {baseline!r}"
            )
        if limit.__class__ is not int or not 1 <= limit <= MAX_LIMIT:
            raise InvalidInputError(
                f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}"
            )
        seconds, _ = self.queries.plan(window)  # checks the window
        if cached_only():  # finding the deploy marker reads the store
            raise NotCached
        self.queries.flush()
        now = self.queries.clock()
        current, before, deploy = self._spans(seconds, baseline, now)
        plans = self._plan(current, now), self._plan(before, now)
        key = ("compare", window, baseline, limit, deploy, *plans[0], None, *plans[1])
        return self.queries.cache.answer(
            key,
            lambda: self._compute(window, baseline, limit, (current, before), plans, deploy, now),
        )

    def _spans(
        self, seconds: int, baseline: str, now: float
    ) -> tuple[Span, Span, m.DeployMarker | None]:
        """The window compared, its baseline, and the deploy marker that splits them."""
        if baseline == "deploy":
            deploy = self.storage.last_deploy_marker(now)
            if deploy is None:
                raise InvalidInputError(
                    "baseline 'deploy' needs a deploy marker, and the store has none: mark "
                    "one with mark_deploy (perf-mcp mark-deploy VERSION), or compare with "
                    "baseline previous, 24h or 7d"
                )
            split = bucket_start(deploy.at)  # the deploy's own 10 s bucket counts as after
            return (split, min(split + seconds, now)), (split - seconds, split), deploy
        start = bucket_start(now - seconds)
        offset = c.BASELINE_OFFSETS_S.get(baseline, seconds)  # "previous": right before
        return (start, now), (start - offset, min(now - offset, start)), None

    def _plan(self, span: Span, now: float) -> list[TierRange]:
        start, end = span
        retention = self.queries.settings.retention_s
        return plan_window(start, None if end >= now else end, now=now, retention_s=retention)

    def _compute(
        self,
        window: str,
        baseline: str,
        limit: int,
        spans: tuple[Span, Span],
        plans: tuple[list[TierRange], list[TierRange]],
        deploy: m.DeployMarker | None,
        now: float,
    ) -> c.WindowComparison:
        (current, before), (current_plan, before_plan) = spans, plans
        after_series, before_series = (
            read_series(self.storage, current_plan),
            read_series(self.storage, before_plan),
        )
        counts_before = {key: s.acc.count for key, s in before_series.items()}
        comparable = [
            key
            for key, s in after_series.items()
            if c.comparable(counts_before.get(key, 0), s.acc.count)
        ]
        for plan, series in ((current_plan, after_series), (before_plan, before_series)):
            fill_histograms(self.storage, plan, [series[key] for key in comparable])
        changes = c.compare(
            c.Side({k: s.acc for k, s in before_series.items()}, covered(before_plan, now)),
            c.Side({k: s.acc for k, s in after_series.items()}, covered(current_plan, now)),
        )
        return c.WindowComparison(
            window=window,  # type: ignore[arg-type]
            baseline=baseline,  # type: ignore[arg-type]
            start=current[0],
            end=current[1],
            baseline_start=before[0],
            baseline_end=before[1],
            deploy=deploy,
            changes=changes[:limit],
            total_changed=len(changes),
            truncated=len(changes) > limit,
            resources=self._resources(before, current),
        )

    def _resources(self, before: Span, after: Span) -> list[c.ResourceSide]:
        means_before, n_before = self.storage.resource_means(*before, RESOURCE_METRICS)
        means_after, n_after = self.storage.resource_means(*after, RESOURCE_METRICS)
        return [
            c.ResourceSide(
                metric=metric,
                before=means_before[metric],
                after=means_after[metric],
                samples_before=n_before,
                samples_after=n_after,
            )
            for metric in RESOURCE_METRICS
        ]


def read_series(
    storage: Storage, plan: list[TierRange], min_requests: int = 0
) -> dict[c.Subject, SeriesAgg]:
    """Every endpoint's (with at least ``min_requests``), agent's and tool's sums over the
    plan (histograms not merged).

    Of requests only what compares is summed (count, 5xx, summed ms): a window of 1 min rows
    has tens of thousands of rows, and each column summed costs on every one.
    """
    found: dict[c.Subject, SeriesAgg] = {}
    names = storage.series_ids("request")
    for sid, (count, errors, total_ms) in storage.request_counts(plan, names).items():
        if count < min_requests:
            continue
        acc = RequestAcc()
        acc.hist.count, acc.status[5], acc.sum_ms = count, errors, total_ms
        name, method = names[sid]
        found["endpoint", f"{method} {name}"] = SeriesAgg(sid, name, method, acc)
    for kind in RUN_KINDS:
        for s in storage.run_series(kind, plan):
            found[kind, s.name] = s  # type: ignore[index]
    return found


def fill_histograms(storage: Storage, plan: list[TierRange], series: list[SeriesAgg]) -> None:
    """Merge the histograms of ``series`` (from ``read_series``) over the plan's rows."""
    requests = [s for s in series if s.method]  # only request series have a method
    storage.fill_histograms("request_buckets", plan, requests)
    storage.fill_histograms("run_buckets", plan, [s for s in series if not s.method])


def covered(plan: list[TierRange], now: float) -> float:
    """The seconds a plan's rows cover, up to now (at least one bucket)."""
    if not plan:
        return 10.0
    return max(min(plan[-1].end, now) - plan[0].start, 10.0)
