"""Flushes on PostgreSQL: the partitions a flush needs made first, and a flush whose COMMIT
went unanswered counted once.

A flush writes each bucket row whole (its value before the flush plus the flush's deltas), so
a retry after a failure adds nothing twice as long as it starts from the same values. When
the connection drops during COMMIT the writer cannot tell whether the server kept the flush;
the Flusher gives the same data again with what came since. Each flush therefore stores its
sequence number in ``perf_mcp_writes`` in its own transaction; before the next flush the
writer asks which one the server last kept. If that was the one in doubt, the retry starts
from the rows as they were before it (``_bases``) and leaves out the raw records it already
stored (``_stored_raw``); if not, the retry is an ordinary one.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg

from perf_mcp.core.series import RequestAcc
from perf_mcp.core.window import TIERS, bucket_start
from perf_mcp.storage.buckets import REQUESTS, RUNS, BucketTable, RowKey
from perf_mcp.storage.postgres import partitions
from perf_mcp.storage.postgres.connection import CommitInDoubt, PgConnection, failure
from perf_mcp.storage.raw import RawAgentRun, RawToolCall
from perf_mcp.storage.schema import StoreError
from perf_mcp.storage.store import EXPIRE_EVERY_S, FlushBatch, Storage

log = logging.getLogger("perf_mcp")
R = TypeVar("R", bound=tuple[Any, ...])
COPY_FROM_ROWS = 100  # upserts of fewer rows go as statements: COPY's round trips cost more
Bases = dict[str, dict[RowKey, Any]]  # table -> row -> its value before a flush (None: absent)


def _no_bases() -> Bases:
    return {REQUESTS.name: {}, RUNS.name: {}}


@dataclass
class _Flush:
    """One flush under way: its number, the stored rows it started from, its raw records."""

    seq: int
    bases: Bases = field(default_factory=_no_bases)
    raw: Counter[tuple[Any, ...]] = field(default_factory=Counter)


class PgWrites(Storage):
    """``Storage.write`` on PostgreSQL (see the module's docstring)."""

    _pg: PgConnection

    def __init__(self, *args: Any, **options: Any) -> None:
        self._flushes = 0  # the last flush the server kept
        self._flush: _Flush | None = None
        self._in_doubt: _Flush | None = None
        self._bases: Bases = _no_bases()
        self._stored_raw: Counter[tuple[Any, ...]] = Counter()
        self._partitions: set[partitions.Partition] = set()  # known to exist
        super().__init__(*args, **options)

    def write(self, batch: FlushBatch) -> None:
        if self.read_only is not None:
            raise self.read_only_error()
        with self._lock:
            self._settle()
            self._ready_partitions(batch)
            self._flush = flush = _Flush(self._flushes + 1)
            try:
                super().write(batch)
            except StoreError as exc:
                if isinstance(exc.__cause__, CommitInDoubt):
                    self._in_doubt = flush
                self._partitions.clear()  # one may have been dropped since: look again
                raise
            finally:
                self._flush = None
            # Kept: nothing of an earlier flush waits in memory to be written again.
            self._flushes = flush.seq
            self._bases = _no_bases()
            self._stored_raw.clear()

    def _flush_number(self) -> int:
        """The number a write stores as its writer's last flush (0: not a flush)."""
        return 0 if self._flush is None else self._flush.seq

    def _settle(self) -> None:
        """Find out whether the flush in doubt was kept (a StoreError if the server cannot
        say yet: the batch then waits for the next flush, still in doubt)."""
        doubt = self._in_doubt
        if doubt is None:
            return
        row = self._pg.execute(
            "SELECT flushes FROM perf_mcp_writes WHERE source = ?", (self.source,)
        ).fetchone()
        self._in_doubt = None
        if row is None or row[0] < doubt.seq:
            return  # not kept: the batch given again is all new to the store
        self._flushes = doubt.seq
        self._stored_raw += doubt.raw
        for table, bases in doubt.bases.items():
            for key, base in bases.items():
                self._bases[table].setdefault(key, base)

    def _ready_partitions(self, batch: FlushBatch) -> None:
        """Create the partitions the batch's rows go to; at each expiry tick also the next
        one of every tier, and drop those wholly past their retention."""
        now = self._clock()
        tick = now - self._last_expiry >= EXPIRE_EVERY_S
        wanted = {
            partitions.partition_of(table.name, tier, bucket_start(ts, tier))
            for table, deltas in ((REQUESTS, batch.requests), (RUNS, batch.runs))
            for ts in deltas
            for tier in TIERS
        }
        if tick:
            wanted |= {
                partitions.partition_of(table, tier, int(now) + ahead * partitions.SPAN_S[tier])
                for table in partitions.BUCKET_TABLES
                for tier in TIERS
                for ahead in (0, 1)
            }
        missing = wanted - self._partitions
        if not (missing or tick):
            return
        try:
            with self._pg.pool.connection() as conn:
                if tick:
                    self._drop_expired(conn, now)
                    self._partitions = set(partitions.existing(conn))
                    missing = wanted - self._partitions
                partitions.create(conn, missing)
        except psycopg.Error as exc:
            raise StoreError(
                f"could not write to {self.path}: {failure(exc)}; "
                f"nothing of this change was stored ({exc})"
            ) from exc
        self._partitions |= missing

    def _drop_expired(self, conn: psycopg.Connection[Any], now: float) -> None:
        """Drop expired partitions; a failure (a lock held too long, a role that does not own
        the tables) leaves them to a later tick and costs this flush nothing."""
        try:
            partitions.drop_expired(conn, now, self.retention_s)
        except psycopg.Error as exc:
            log.warning("perf-mcp could not drop expired partitions of %s: %s", self.path, exc)

    def _insert(self, head: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Upserts of many rows (a flush's bucket rows) go by COPY (``PgConnection.copy_in``)."""
        if len(rows) < COPY_FROM_ROWS or not head.startswith("INSERT OR REPLACE"):
            super()._insert(head, rows)
        else:
            self._pg.copy_in(head, rows)

    def _expire_buckets(self, now: float) -> None:
        """Nothing to delete: expired partitions are dropped whole (``_ready_partitions``)."""

    def _load_rows(self, table: BucketTable, keys: Iterable[RowKey]) -> dict[RowKey, Any]:
        keys = set(keys)
        bases = self._bases[table.name]
        rows = super()._load_rows(table, [key for key in keys if key not in bases])
        if self._flush is not None:  # what this flush starts from, should it end in doubt
            self._flush.bases[table.name].update(
                (key, table.copy(rows[key]) if key in rows else None)
                for key in keys
                if key not in bases
            )
        rows.update((key, table.copy(bases[key])) for key in keys if bases.get(key) is not None)
        return rows

    def _write_raw(
        self,
        requests: Mapping[int, Mapping[tuple[str, str], RequestAcc]],
        agent_runs: Sequence[RawAgentRun],
        tool_calls: Sequence[RawToolCall],
    ) -> None:
        if self._stored_raw:  # stored by a flush whose COMMIT went unanswered: not again
            agent_runs = _unstored(agent_runs, self._stored_raw)
            tool_calls = _unstored(tool_calls, self._stored_raw)
        if self._flush is not None:
            self._flush.raw = Counter(agent_runs) + Counter(tool_calls)
        super()._write_raw(requests, agent_runs, tool_calls)


def _unstored(records: Sequence[R], stored: Counter[tuple[Any, ...]]) -> list[R]:
    """``records`` without as many of each as ``stored`` counts."""
    left = Counter(stored)
    kept: list[R] = []
    for record in records:
        if left[record] > 0:
            left[record] -= 1
        else:
            kept.append(record)
    return kept
