"""Bucket rows: each flush adds its deltas to the row of every tier, and queries sum rows.

Request and run buckets share one tiered writer and one reader; a ``BucketTable`` says how an
accumulator maps to its table's columns. Rows are keyed by (tier, bucket start, series, source):
a writer only ever changes its own rows, and keeps the ones still open in memory so a flush
writes them without reading them first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from perf_mcp.core.series import RequestAcc, RunAcc
from perf_mcp.core.sketch import LogHistogram
from perf_mcp.core.window import TIERS, TierRange, bucket_start
from perf_mcp.storage.base import Read
from perf_mcp.storage.series import SeriesKey, SeriesTables, id_list

RowKey = tuple[int, int, int]  # tier, bucket start, series id
Deltas = Mapping[int, Mapping[tuple[str, str], Any]]  # bucket start -> series -> accumulator
T = TypeVar("T")
OPEN_ROWS_KEPT_S = 60  # cached rows are forgotten this long after their bucket ended


@dataclass(frozen=True)
class BucketTable:
    """How one bucket table stores an accumulator."""

    name: str
    series_key: Callable[[tuple[str, str]], SeriesKey]  # a batch's key -> the series row
    columns: tuple[str, ...]  # the value columns, ``hist`` last
    sums: str  # SQL merging rows' value columns (all but ``hist``), in ``columns`` order
    encode: Callable[[Any], tuple[Any, ...]]  # accumulator -> values of ``columns``
    decode: Callable[[Sequence[Any]], Any]  # values of ``sums`` -> accumulator, hist empty
    copy: Callable[[Any], Any]  # an independent accumulator with the same samples

    def insert_head(self) -> str:
        names = ", ".join(("tier", "ts", "series_id", "source", *self.columns))
        return f"INSERT OR REPLACE INTO {self.name} ({names})"


def _encode_request(acc: RequestAcc) -> tuple[Any, ...]:
    return (
        acc.count,
        *acc.status[1:],
        acc.sum_ms,
        _finite(acc.min_ms),
        _finite(acc.max_ms),
        acc.req_bytes,
        acc.req_n,
        acc.resp_bytes,
        acc.resp_n,
        acc.hist.to_bytes(),
    )


def _decode_request(row: Sequence[Any]) -> RequestAcc:
    acc = RequestAcc()
    acc.hist.count = row[0]
    acc.status = [0, *row[1:6]]
    acc.sum_ms, acc.hist.min, acc.hist.max = row[6], row[7], row[8]
    acc.req_bytes, acc.req_n, acc.resp_bytes, acc.resp_n = row[9:13]
    return acc


def _encode_run(acc: RunAcc) -> tuple[Any, ...]:
    return (
        acc.count,
        acc.failures,
        acc.sum_ms,
        _finite(acc.min_ms),
        _finite(acc.max_ms),
        acc.input_tokens,
        acc.output_tokens,
        acc.cache_read_tokens,
        acc.cache_write_tokens,
        acc.cost_usd,
        acc.estimated_cost_usd,
        acc.estimated_runs,
        acc.unpriced_runs,
        acc.tool_calls,
        json.dumps(acc.errors),
        json.dumps(acc.tools),
        acc.result_chars,
        None if acc.result_hist is None else acc.result_hist.to_bytes(),
        acc.hist.to_bytes(),
    )


def _decode_run(row: Sequence[Any]) -> RunAcc:
    acc = RunAcc()
    acc.hist.count, acc.failures, acc.sum_ms, acc.hist.min, acc.hist.max = row[:5]
    acc.input_tokens, acc.output_tokens, acc.cache_read_tokens, acc.cache_write_tokens = row[5:9]
    acc.cost_usd, acc.estimated_cost_usd, acc.estimated_runs, acc.unpriced_runs = row[9:13]
    acc.tool_calls = row[13]
    acc.errors, acc.tools = _sum_labels(json.loads(row[14])), _sum_labels(json.loads(row[15]))
    acc.result_chars = row[16]
    acc.result_hist = merged_hist(row[17])
    return acc


def merged_hist(value: bytes | list[bytes | None] | None) -> LogHistogram | None:
    """A ``merge_hist`` column as a histogram (None: the group had none): one blob (a row, or
    SQLite's merge_hist), or PostgreSQL's array of a group's (NULLs too)."""
    given = value if isinstance(value, list) else [value]
    blobs = [blob for blob in given if blob is not None]
    return LogHistogram.merged(blobs) if blobs else None


def _copy_run(acc: RunAcc) -> RunAcc:
    copy = RunAcc()
    copy.merge(acc)
    return copy


REQUESTS = BucketTable(
    name="request_buckets",
    series_key=lambda key: ("request", key[0], key[1]),
    columns=(
        *("count", "s1xx", "s2xx", "s3xx", "s4xx", "s5xx", "sum_ms", "min_ms", "max_ms"),
        *("req_bytes", "req_n", "resp_bytes", "resp_n", "hist"),
    ),
    sums="SUM(count), SUM(s1xx), SUM(s2xx), SUM(s3xx), SUM(s4xx), SUM(s5xx), SUM(sum_ms), "
    "MIN(min_ms), MAX(max_ms), SUM(req_bytes), SUM(req_n), SUM(resp_bytes), SUM(resp_n)",
    encode=_encode_request,
    decode=_decode_request,
    copy=RequestAcc.copy,
)
RUNS = BucketTable(
    name="run_buckets",
    series_key=lambda key: (key[0], key[1], ""),
    columns=(
        *("count", "failures", "sum_ms", "min_ms", "max_ms", "input_tokens", "output_tokens"),
        *("cache_read_tokens", "cache_write_tokens", "cost_usd", "estimated_cost_usd"),
        *("estimated_runs", "unpriced_runs", "tool_calls", "errors", "tools", "result_chars"),
        *("result_hist", "hist"),
    ),
    sums="SUM(count), SUM(failures), SUM(sum_ms), MIN(min_ms), MAX(max_ms), "
    "SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens), "
    "SUM(cost_usd), SUM(estimated_cost_usd), SUM(estimated_runs), SUM(unpriced_runs), "
    "SUM(tool_calls), json_group_array(json(errors)), json_group_array(json(tools)), "
    "SUM(result_chars), merge_hist(result_hist)",
    encode=_encode_run,
    decode=_decode_run,
    copy=_copy_run,
)
TABLES = {table.name: table for table in (REQUESTS, RUNS)}


@dataclass
class SeriesAgg:
    """One series merged over a window; ``acc.hist`` is filled only when asked for."""

    series_id: int
    name: str
    method: str
    acc: Any  # RequestAcc or RunAcc


def plan_clause(plan: Sequence[TierRange]) -> tuple[str, list[int]]:
    """A WHERE clause selecting the rows a window plan names."""
    if not plan:
        return "1 = 0", []
    parts = " OR ".join("(tier = ? AND ts >= ? AND ts < ?)" for _ in plan)
    params = [v for r in plan for v in (r.tier_s, r.start, r.end)]
    return f"({parts})", params


class BucketTables(SeriesTables):
    """Writing and reading request and run buckets."""

    _open_rows: dict[str, dict[RowKey, Any]]  # per table: this writer's rows still open
    _forgotten_before: float  # rows ending before this may have left ``_open_rows``

    # ------------------------------------------------------------ writing

    def _stage_rows(
        self, table: BucketTable, deltas: Deltas, ids: Mapping[SeriesKey, int]
    ) -> dict[RowKey, Any]:
        """Write each delta into its row of every tier (inside the caller's transaction) and
        return the new rows; the caller caches them once the transaction commits."""
        cached = self._open_rows[table.name]
        targets: list[tuple[RowKey, Any]] = []
        for ts, series in deltas.items():
            starts = [(tier, bucket_start(ts, tier)) for tier in TIERS]
            for name, delta in series.items():
                sid = ids[table.series_key(name)]
                targets += [((tier, start, sid), delta) for tier, start in starts]
        # Only this writer writes its rows, so one that is not cached is in the file only if
        # it was forgotten. Rows read from the file are ours to change; cached ones are copied
        # (a failed transaction must leave them as the file has them), and so are the deltas.
        horizon = self._forgotten_before
        staged = self._load_rows(
            table, {key for key, _ in targets if key[1] + key[0] < horizon and key not in cached}
        )
        for key, delta in targets:
            row = staged.get(key)
            if row is not None:
                row.merge(delta)
            elif key in cached:
                staged[key] = row = table.copy(cached[key])
                row.merge(delta)
            else:  # a new row: just this delta
                staged[key] = table.copy(delta)
        source = self.source
        self._insert(
            table.insert_head(),
            [(*key, source, *table.encode(row)) for key, row in staged.items()],
        )
        return staged

    def _load_rows(self, table: BucketTable, keys: Iterable[RowKey]) -> dict[RowKey, Any]:
        """This writer's stored rows of ``keys`` (absent ones left out)."""
        by_bucket: dict[tuple[int, int], list[int]] = {}
        for tier, ts, sid in keys:
            by_bucket.setdefault((tier, ts), []).append(sid)
        rows: dict[RowKey, Any] = {}
        for (tier, ts), sids in by_bucket.items():
            sql = (
                f"SELECT series_id, {table.sums}, hist FROM {table.name} WHERE tier = ? "
                f"AND ts = ? AND source = ? AND series_id IN ({id_list(sids)}) "
                "GROUP BY series_id, hist"  # one row each: the key is (tier, ts, series, source)
            )
            for sid, *values, hist in self._conn.execute(sql, (tier, ts, self.source)):
                acc = rows[(tier, ts, sid)] = table.decode(values)
                acc.hist = LogHistogram.from_bytes(hist)
        return rows

    def _cache_rows(self, table: BucketTable, staged: Mapping[RowKey, Any], now: float) -> None:
        """Remember committed rows; forget those whose bucket ended a while ago (late data
        reloads them)."""
        cached = self._open_rows[table.name]
        cached.update(staged)
        horizon = now - OPEN_ROWS_KEPT_S
        for key in [key for key in cached if key[1] + key[0] < horizon]:
            del cached[key]
        self._forgotten_before = max(self._forgotten_before, horizon)

    def _expire_buckets(self, now: float) -> None:
        for tier, keep_s in self.retention_s.items():
            for table in TABLES:
                self._conn.execute(
                    f"DELETE FROM {table} WHERE tier = ? AND ts < ?", (tier, int(now - keep_s))
                )

    # ------------------------------------------------------------ reading

    def request_series(
        self,
        plan: Sequence[TierRange],
        *,
        name: str | None = None,
        method: str | None = None,
        totals: bool = False,
        ids: Mapping[int, tuple[str, str]] | None = None,
    ) -> list[SeriesAgg]:
        """Per endpoint+method sums over the plan's rows (histograms not merged).

        Reads the series in ``ids`` if given, else those the filters select; ``totals=True``
        selects the all-endpoint total series instead of the endpoints.
        """
        if ids is None:
            ids = self.series_ids("request", name=name, method=method, totals=totals)
        return self._series_sums(REQUESTS, plan, ids)

    def run_series(
        self,
        kind: str,
        plan: Sequence[TierRange],
        *,
        name: str | None = None,
        totals: bool = False,
        ids: Mapping[int, tuple[str, str]] | None = None,
    ) -> list[SeriesAgg]:
        """Per agent / model / tool sums over the plan's rows, labels merged (histograms not)."""
        if ids is None:
            ids = self.series_ids(kind, name=name, totals=totals)
        return [
            SeriesAgg(s.series_id, s.name, "", s.acc) for s in self._series_sums(RUNS, plan, ids)
        ]

    def _series_sums(
        self, table: BucketTable, plan: Sequence[TierRange], ids: Mapping[int, tuple[str, str]]
    ) -> list[SeriesAgg]:
        return self.read(self.sums_read(table, plan, ids))

    def sums_read(
        self,
        table: BucketTable,
        plan: Sequence[TierRange],
        ids: Mapping[int, tuple[str, str]],
        *,
        with_hist: bool = False,
    ) -> Read[list[SeriesAgg]]:
        """Each series' sums over the plan's rows, as a Read; its histograms merged too if
        ``with_hist`` (worth it for a few series: SQLite merges them in ``merge_hist``)."""
        ids = dict(ids)

        def decode(rows: list[Any]) -> list[SeriesAgg]:
            found = []
            for sid, *values in rows:
                acc = table.decode(values)
                hist = merged_hist(values[-1]) if with_hist else None
                if hist is not None:
                    acc.hist = hist
                found.append(SeriesAgg(sid, *ids[sid], acc))
            return found

        sums = f"{table.sums}, merge_hist(hist)" if with_hist else table.sums
        return self._sums(table.name, sums, plan, ids, decode)

    def request_counts(
        self, plan: Sequence[TierRange], ids: Iterable[int]
    ) -> dict[int, tuple[int, int, float]]:
        """Each request series' count, 5xx count and summed ms over the plan's rows: enough to
        tell whether they changed, without building accumulators."""
        return self.read(self.request_counts_read(plan, ids))

    def request_counts_read(
        self, plan: Sequence[TierRange], ids: Iterable[int]
    ) -> Read[dict[int, tuple[int, int, float]]]:
        """``request_counts`` as a Read."""

        def decode(rows: list[Any]) -> dict[int, tuple[int, int, float]]:
            return {sid: (count, errors, total_ms) for sid, count, errors, total_ms in rows}

        return self._sums(REQUESTS.name, "SUM(count), SUM(s5xx), SUM(sum_ms)", plan, ids, decode)

    def _sums(
        self,
        table: str,
        sums: str,
        plan: Sequence[TierRange],
        ids: Iterable[int],
        decode: Callable[[list[Any]], T],
    ) -> Read[T]:
        ids_sql = self._window_ids(ids)
        if not ids_sql:
            return Read(None, (), decode)
        where, params = plan_clause(plan)
        sql = (
            f"SELECT series_id, {sums} FROM {table} "
            f"WHERE {where} AND series_id IN ({ids_sql}) GROUP BY series_id"
        )
        return Read(sql, params, decode)

    def histograms(
        self, table: str, plan: Sequence[TierRange], ids: Iterable[int]
    ) -> dict[int, LogHistogram]:
        """The merged latency histogram of each series in ``ids`` that has rows in the plan."""
        merged = self.read(self._histograms(table, "0", plan, ids))
        return {sid: hist for sid, (hist, _) in merged.items()}

    def histograms_and_errors_read(
        self, plan: Sequence[TierRange], ids: Iterable[int]
    ) -> Read[dict[int, tuple[LogHistogram, int]]]:
        """Each request series' merged histogram and 5xx count, in one pass over its rows."""
        return self._histograms(REQUESTS.name, "s5xx", plan, ids)

    def _histograms(
        self, table: str, column: str, plan: Sequence[TierRange], ids: Iterable[int]
    ) -> Read[dict[int, tuple[LogHistogram, int]]]:
        if table not in TABLES:
            raise ValueError(f"no bucket table {table!r}; the tables are {sorted(TABLES)}")
        ids_sql = self._window_ids(ids)
        if not ids_sql:
            return Read(None, (), _merged)
        where, params = plan_clause(plan)
        sql = (
            f"SELECT series_id, {column}, hist FROM {table} "
            f"WHERE {where} AND series_id IN ({ids_sql})"
        )
        return Read(sql, params, _merged)

    def rows_over_time(
        self, table: str, column: str, plan: Sequence[TierRange], ids: Iterable[int]
    ) -> list[tuple[int, int, bytes]]:
        """(row start, ``column``, histogram) of every row of ``ids`` in the plan, for a chart.

        A day of 1-minute rows holds every series' rows: instead of scanning them, the query
        walks the plan's row starts and looks each (tier, start, series) up by primary key.
        """
        if table not in TABLES or column not in TABLES[table].columns:
            raise ValueError(f"no column {column!r} in bucket table {table!r}")
        ids_sql = id_list(ids)
        if not ids_sql or not plan:
            return []
        ranges = [(r.tier_s, -(-r.start // r.tier_s) * r.tier_s, r.end) for r in plan]
        sql = (
            "WITH RECURSIVE starts(tier, ts, stop) AS ("
            f"VALUES {', '.join('(?, ?, ?)' for _ in ranges)} "
            "UNION ALL SELECT tier, ts + tier, stop FROM starts WHERE ts + tier < stop) "
            f"SELECT b.ts, b.{column}, b.hist FROM starts CROSS JOIN {table} AS b "
            f"WHERE b.tier = starts.tier AND b.ts = starts.ts AND b.series_id IN ({ids_sql}) "
            "AND starts.ts < starts.stop"
        )
        with self._lock:
            return self._conn.execute(sql, [v for r in ranges for v in r]).fetchall()

    def fill_histograms(
        self, table: str, plan: Sequence[TierRange], series: Iterable[SeriesAgg]
    ) -> None:
        """Merge the histogram rows of each given series into its ``acc.hist``."""
        by_id = {s.series_id: s for s in series}
        for sid, hist in self.histograms(table, plan, by_id).items():
            by_id[sid].acc.hist = hist


def _merged(rows: list[Any]) -> dict[int, tuple[LogHistogram, int]]:
    """Per series: its rows' histograms merged, and their ``column`` summed."""
    blobs: dict[int, list[bytes]] = {}
    sums: dict[int, int] = {}
    for sid, value, hist in rows:
        blobs.setdefault(sid, []).append(hist)
        sums[sid] = sums.get(sid, 0) + value
    return {sid: (LogHistogram.merged(group), sums[sid]) for sid, group in blobs.items()}


def _sum_labels(dicts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for d in dicts:
        for label, n in d.items():
            total[label] = total.get(label, 0) + n
    return total


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0
