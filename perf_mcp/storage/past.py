"""Reading many windows at once: each series' sums and histogram rows, and the resource
means, of every window in one statement per table (explain reads the 12 windows before the
asked one).

A window is a plan (the rows that cover it, ``core.window.plan_window``). The rows are looked
up by key, (tier, row start, series), walking the plans' row starts rather than scanning every
series' rows in the range, and summed here per (window, series): a closed hour is one row.
Histograms stay encoded, for the caller to decode only those it needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from perf_mcp.core.window import TierRange
from perf_mcp.storage.buckets import BucketTables
from perf_mcp.storage.series import id_list

# count, errors, summed ms, tokens, cost, histogram: of a request row, of a run row
_COLUMNS = {
    "request_buckets": "b.count, b.s5xx, b.sum_ms, 0, 0.0, b.hist",
    "run_buckets": "b.count, b.failures, b.sum_ms, b.input_tokens + b.output_tokens, "
    "b.cost_usd, b.hist",
}


@dataclass(slots=True)
class WindowSums:
    """One series over one window: summed counts, and its histogram rows still encoded."""

    count: int = 0
    errors: int = 0  # 5xx responses, or failed runs and calls
    total_ms: float = 0.0
    tokens: int = 0  # input and output tokens of runs
    cost_usd: float = 0.0
    hists: list[bytes] = field(default_factory=list)


class PastWindowTables(BucketTables):
    """Per-series sums and histogram rows, and resource means, of many windows at once."""

    def sums_by_window(
        self, table: str, plans: Sequence[Sequence[TierRange]], ids: Iterable[int]
    ) -> dict[tuple[int, int], WindowSums]:
        """What each series in ``ids`` has in each plan, by (plan index, series id); a row
        in two plans counts in both."""
        if table not in _COLUMNS:
            raise ValueError(f"no bucket table {table!r}; the tables are {sorted(_COLUMNS)}")
        ids_sql = id_list(ids)
        ranges = [
            (r.tier_s, -(-r.start // r.tier_s) * r.tier_s, r.end, k)
            for k, plan in enumerate(plans)
            for r in plan
        ]
        if not ids_sql or not ranges:
            return {}
        sql = (
            "WITH RECURSIVE starts(tier, ts, stop, k) AS ("
            f"VALUES {', '.join('(?, ?, ?, ?)' for _ in ranges)} "
            "UNION ALL SELECT tier, ts + tier, stop, k FROM starts WHERE ts + tier < stop) "
            f"SELECT starts.k, b.series_id, {_COLUMNS[table]} FROM starts "
            f"CROSS JOIN {table} AS b WHERE b.tier = starts.tier AND b.ts = starts.ts "
            f"AND b.series_id IN ({ids_sql}) AND starts.ts < starts.stop"
        )
        with self._lock:
            rows = self._conn.execute(sql, [v for r in ranges for v in r]).fetchall()
        found: dict[tuple[int, int], WindowSums] = {}
        for k, sid, count, errors, total_ms, tokens, cost, hist in rows:
            sums = found.get((k, sid))
            if sums is None:
                sums = found[k, sid] = WindowSums()
            sums.count += count
            sums.errors += errors
            sums.total_ms += total_ms
            sums.tokens += tokens
            sums.cost_usd += cost
            sums.hists.append(hist)
        return found

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
