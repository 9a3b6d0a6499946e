"""Reading many windows at once: each series' sums, histograms and the resource means of
every window in one statement per table (explain reads the 12 windows before the asked one).

A window is a plan (the rows that cover it, ``core.window.plan_window``). Rows are told to
their window by a CASE over the plans' ranges, so SQLite sums them per (window, series).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from perf_mcp.core.sketch import LogHistogram
from perf_mcp.core.window import TierRange
from perf_mcp.storage.buckets import TABLES, BucketTables, SeriesAgg, plan_clause


def _window_of(plans: Sequence[Sequence[TierRange]]) -> tuple[str, list[int]]:
    """A CASE giving the index of the plan a row belongs to (the first, should two overlap)."""
    cases = " ".join("WHEN tier = ? AND ts >= ? AND ts < ? THEN ?" for plan in plans for _ in plan)
    params = [
        v for k, plan in enumerate(plans) for r in plan for v in (r.tier_s, r.start, r.end, k)
    ]
    return f"CASE {cases} END", params


class PastWindowTables(BucketTables):
    """Per-series sums and histograms, and resource means, of many windows at once."""

    def sums_by_window(
        self, table: str, plans: Sequence[Sequence[TierRange]], ids: Mapping[int, tuple[str, str]]
    ) -> list[dict[int, SeriesAgg]]:
        """For each plan, the sums of each series in ``ids`` with rows in it (histograms
        not merged), by series id."""
        found: list[dict[int, SeriesAgg]] = [{} for _ in plans]
        rows = self._by_window(table, TABLES[table].sums, plans, ids, group=True)
        decode = TABLES[table].decode
        for k, sid, *values in rows:
            found[k][sid] = SeriesAgg(sid, *ids[sid], decode(values))
        return found

    def histograms_by_window(
        self, table: str, plans: Sequence[Sequence[TierRange]], wanted: Iterable[tuple[int, int]]
    ) -> dict[tuple[int, int], LogHistogram]:
        """The merged histogram of each wanted (plan index, series id)."""
        wanted = set(wanted)
        ids = {sid for _, sid in wanted}
        blobs: dict[tuple[int, int], list[bytes]] = {}
        for k, sid, hist in self._by_window(table, "hist", plans, ids, group=False):
            if (k, sid) in wanted:
                blobs.setdefault((k, sid), []).append(hist)
        return {key: LogHistogram.merged(group) for key, group in blobs.items()}

    def _by_window(
        self,
        table: str,
        columns: str,
        plans: Sequence[Sequence[TierRange]],
        ids: Iterable[int],
        *,
        group: bool,
    ) -> list[Any]:
        ids_sql = self._window_ids(ids)
        if not ids_sql or not any(plans):
            return []
        window, window_params = _window_of(plans)
        where, params = plan_clause([r for plan in plans for r in plan])
        sql = (
            f"SELECT {window} AS k, series_id, {columns} FROM {table} "
            f"WHERE {where} AND series_id IN ({ids_sql})"
            + (" GROUP BY k, series_id" if group else "")
        )
        with self._lock:
            return self._conn.execute(sql, [*window_params, *params]).fetchall()

    def resource_means_by_window(
        self, spans: Sequence[tuple[float, float]], metrics: tuple[str, ...]
    ) -> list[tuple[dict[str, float | None], int]]:
        """For each [start, end) span, the mean of each metric of its resource samples and
        how many there were (as ``resource_means``), in one statement."""
        found: list[tuple[dict[str, float | None], int]] = [
            (dict.fromkeys(metrics), 0) for _ in spans
        ]
        if not spans:
            return found
        cases = " ".join("WHEN ts >= ? AND ts < ? THEN ?" for _ in spans)
        params = [v for k, (start, end) in enumerate(spans) for v in (start, end, k)]
        columns = "".join(f", avg({self._json_number('sample', metric)})" for metric in metrics)
        sql = (
            f"SELECT CASE {cases} END AS k, count(*){columns} FROM resource_samples "
            "WHERE ts >= ? AND ts < ? GROUP BY k"
        )
        low, high = min(s for s, _ in spans), max(e for _, e in spans)
        with self._lock:
            rows = self._conn.execute(sql, [*params, low, high]).fetchall()
        for k, count, *means in rows:
            if k is not None:
                found[k] = (dict(zip(metrics, means, strict=True)), int(count))
        return found
