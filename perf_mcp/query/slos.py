"""SLOs over the store: bad and all events of an SLO in a window, its status now, and the
burn rates it had over the stored past (a ``set_slo`` dry run).

Each window is read as a window query reads it (``plan_window``: whole hours, then minutes,
then 10 s rows): availability sums counts in SQL, latency merges the histograms.
"""

from __future__ import annotations

from perf_mcp.core.alerts import ReplaySummary, Threshold, effective_threshold, replay
from perf_mcp.core.alerts import slo as s
from perf_mcp.core.paths import endpoint_name
from perf_mcp.core.validation import http_method
from perf_mcp.core.window import plan_window
from perf_mcp.query.windows import WindowQueries

HISTORY_HOURS = 24.0  # what a dry run replays


class SloQuery:
    """Reads SLOs' events from the store (flushing first for answers about now)."""

    def __init__(self, queries: WindowQueries) -> None:
        self.queries = queries
        self.storage = queries.storage

    def listed(self) -> s.SloList:
        """Every stored SLO's budget and burn rates now."""
        self.queries.flush()
        slos = [self.status(slo) for slo in self.storage.load_slos()]
        return s.SloList(slos=slos, note="" if slos else "no SLOs yet: set one with set_slo")

    def set(
        self, slo: s.Slo, dry_run: bool, levels: dict[str, Threshold] | None = None
    ) -> s.SloChange:
        """Store ``slo`` (replacing one of its name); a dry run stores nothing and replays
        the rules over the stored past instead."""
        if dry_run:
            replays = self.replay(slo, levels)
            replaced = any(slo.name == known.name for known in self.storage.load_slos())
        else:
            replaced = self.storage.save_slo(slo)
            self.queries.flush()
        return s.SloChange(
            slo=slo,
            status=self.status(slo),
            dry_run=dry_run,
            replaced=replaced,
            replay=replays if dry_run else None,
            note=s.replay_note(replays, HISTORY_HOURS) if dry_run else "",
        )

    def status(self, slo: s.Slo) -> s.SloStatus:
        """``slo``'s error budget over its period and its burn rates, up to now."""
        now = self.queries.clock()
        ids = self._ids(slo)
        windows = sorted(set(s.window_seconds(slo).values()))
        counts = {w: self.counts(slo, ids, now - w, None) for w in windows}
        return s.slo_status(slo, self.counts(slo, ids, now - slo.period_s, None), counts)

    def replay(
        self, slo: s.Slo, levels: dict[str, Threshold] | None = None
    ) -> dict[str, ReplaySummary]:
        """Each rule's alerts had ``slo`` been evaluated over the last HISTORY_HOURS."""
        levels = levels or {}
        return {
            rule: replay(levels.get(rule) or effective_threshold(rule, slo.name), slo.name, found)
            for rule, found in self.history(slo).items()
        }

    def history(self, slo: s.Slo) -> dict[str, list[tuple[float, float | None, int]]]:
        """Each rule's (time, burn, events in the short window) over the last HISTORY_HOURS,
        as the alert manager would have seen them."""
        self.queries.flush()
        ids = self._ids(slo)
        windows = sorted(set(s.window_seconds(slo).values()))
        points: dict[str, list[tuple[float, float | None, int]]] = {
            r.rule: [] for r in s.BURN_RULES
        }
        for t in s.history_times(slo, self.queries.clock(), HISTORY_HOURS):
            counts = {w: self.counts(slo, ids, t - w, t) for w in windows}
            for rule, value, events in s.rule_values(slo, counts):
                points[rule].append((t, value, events))
        return points

    def counts(
        self, slo: s.Slo, ids: dict[int, tuple[str, str]], start: float, end: float | None
    ) -> s.Counts:
        """(bad, all) events of ``slo``'s series ``ids`` over [start, end) (None: up to now)."""
        plan = plan_window(
            start, end, now=self.queries.clock(), retention_s=self.queries.settings.retention_s
        )
        table = "request_buckets" if slo.scope in ("endpoint", "all") else "run_buckets"
        if slo.threshold_ms is not None:
            hists = self.storage.histograms(table, plan, ids).values()
            return (
                sum(s.slow_count(h, slo.threshold_ms) for h in hists),
                sum(h.count for h in hists),
            )
        if table == "request_buckets":
            sums = self.storage.request_counts(plan, ids).values()
            return sum(errors for _, errors, _ in sums), sum(count for count, _, _ in sums)
        runs = self.storage.run_series(slo.scope, plan, ids=ids)
        return sum(r.acc.failures for r in runs), sum(r.acc.count for r in runs)

    def _ids(self, slo: s.Slo) -> dict[int, tuple[str, str]]:
        """The series an SLO counts: an endpoint (one method or all), an agent, a tool, or
        the all-request total."""
        if slo.scope == "all":
            return self.storage.series_ids("request", totals=True)
        subject = slo.subject or ""
        if slo.scope != "endpoint":
            return self.storage.series_ids(slo.scope, name=subject)
        method, _, path = subject.partition(" ")
        if not path:
            return self.storage.series_ids("request", name=endpoint_name(method))
        return self.storage.series_ids(
            "request", name=endpoint_name(path), method=http_method(method)
        )
