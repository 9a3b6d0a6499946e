"""The bucket tables' time partitions: retention drops whole partitions, a flush finds the
partitions it needs whatever its buckets' times, and a store of an older schema keeps every
row when its tables become partitioned."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from perf_mcp.core.window import TierRange
from perf_mcp.storage import FlushBatch, open_storage
from perf_mcp.storage.buckets import REQUESTS
from perf_mcp.storage.postgres import partitions as parts
from perf_mcp.storage.postgres.partitions import FILLFACTOR, SPAN_S
from perf_mcp.storage.postgres.schema import MIGRATIONS
from perf_mcp.storage.store import EXPIRE_EVERY_S
from tests.storage.test_buckets import T0, hour, request_delta

psycopg = pytest.importorskip("psycopg")

RETENTION = {10: 3600.0, 60: 86400.0, 3600: 7 * 86400.0}


def partitions(url: str, tier: int) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass ORDER BY 1",
            (f"request_buckets_{tier}",),
        ).fetchall()
    return [name for (name,) in rows]


def test_retention_drops_the_partitions_wholly_past_it_and_keeps_the_rest(
    postgres_url: str,
) -> None:
    now = [T0 + 5.0]
    with open_storage(postgres_url, clock=lambda: now[0], retention_s=RETENTION) as store:
        store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(1.0)}}))
        assert f"request_buckets_10_{T0}" in partitions(postgres_url, 10)
        # Two hours on, all of T0's hour of 10 s rows is past the 1 h retention: dropped; the
        # hour now being written is kept, and so are the 1 min rows (1 day's retention).
        now[0] = T0 + 2 * 3600 + EXPIRE_EVERY_S
        late = int(now[0]) // 10 * 10
        store.write(FlushBatch(requests={late: {("/b", "GET"): request_delta(1.0)}}))
        tens = partitions(postgres_url, 10)
        assert f"request_buckets_10_{T0}" not in tens
        assert f"request_buckets_10_{T0 + 7200}" in tens
        assert f"request_buckets_60_{T0 - T0 % SPAN_S[60]}" in partitions(postgres_url, 60)
        assert store.request_series(hour(10)) == []
        assert [s.name for s in store.request_series(hour(60))] == ["/a"]


def test_a_partition_left_detached_by_a_writer_that_stopped_is_dropped(postgres_url: str) -> None:
    now = [T0 + 5.0]
    with open_storage(postgres_url, clock=lambda: now[0], retention_s=RETENTION) as store:
        store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(1.0)}}))
        with psycopg.connect(postgres_url, autocommit=True) as conn:  # detached, not dropped
            conn.execute(f"ALTER TABLE request_buckets_10 DETACH PARTITION request_buckets_10_{T0}")
        now[0] = T0 + 2 * 3600 + EXPIRE_EVERY_S
        store.write(FlushBatch(requests={T0 + 7200: {("/b", "GET"): request_delta(1.0)}}))
    with psycopg.connect(postgres_url) as conn:
        (left,) = conn.execute("SELECT to_regclass(%s)", (f"request_buckets_10_{T0}",)).fetchone()
    assert left is None


def test_the_next_partition_of_each_tier_is_made_before_a_flush_needs_it(
    postgres_url: str,
) -> None:
    with open_storage(postgres_url, clock=lambda: T0 + 5.0) as store:
        store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(1.0)}}))
    assert f"request_buckets_10_{T0 + 3600}" in partitions(postgres_url, 10)
    week = T0 - T0 % SPAN_S[3600]
    assert f"request_buckets_3600_{week + SPAN_S[3600]}" in partitions(postgres_url, 3600)


def test_buckets_far_from_now_get_their_partitions_and_count(postgres_url: str) -> None:
    far = [T0 - 3 * 86400, T0 + 2 * 86400]  # a late batch, and a host whose clock runs ahead
    with open_storage(postgres_url, clock=lambda: T0 + 5.0) as store:
        for ts in far:
            store.write(FlushBatch(requests={ts: {("/a", "GET"): request_delta(1.0, 2.0)}}))
        for ts in far:
            (series,) = store.request_series([TierRange(60, ts, ts + 60)])
            assert series.acc.count == 2


def test_each_bucket_table_is_one_table_in_the_sizes_with_its_tiers(postgres_url: str) -> None:
    with open_storage(postgres_url, clock=lambda: T0 + 5.0) as store:
        store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(1.0)}}))
        sizes = {name: (rows, size) for name, rows, size in store.table_sizes()}
    assert sizes["request_buckets"][0] == 3
    assert (sizes["request_buckets"][1] or 0) > 0
    assert (sizes["series"][1] or 0) > 0  # a plain table, sized as before
    assert sizes["request_buckets, tier 10 s"][0] == 1
    assert not [name for name in sizes if name.startswith("request_buckets_")]


def _store_of_schema_2(url: str, rows: list[tuple[Any, ...]]) -> None:
    """A store as perf-mcp left it before partitions, holding ``rows`` of /a GET."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE perf_mcp_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO perf_mcp_schema VALUES (2)")
        for step in MIGRATIONS[:2]:
            assert isinstance(step, str)
            conn.execute(step.encode())
        conn.execute("INSERT INTO series (kind, name, method) VALUES ('request', '/a', 'GET')")
        columns = ", ".join(("tier", "ts", "series_id", "source", *REQUESTS.columns))
        marks = ", ".join(["%s"] * (4 + len(REQUESTS.columns)))
        conn.cursor().executemany(f"INSERT INTO request_buckets ({columns}) VALUES ({marks})", rows)


def test_an_older_store_keeps_every_row_when_its_tables_become_partitioned(
    postgres_url: str,
) -> None:
    old = [T0 - 40 * 86400, T0 - 86400, T0]  # rows in three weeks' partitions
    rows = [
        (tier, ts - ts % tier, 1, source, *REQUESTS.encode(request_delta(1.0, 3.0)))
        for ts in old
        for tier in (10, 60, 3600)
        for source in (7, 8)
    ]
    _store_of_schema_2(postgres_url, rows)
    with open_storage(postgres_url, clock=lambda: T0 + 5.0) as store:
        assert store.schema_version() == len(MIGRATIONS)
        for ts in old:
            (series,) = store.request_series([TierRange(3600, ts - ts % 3600, ts + 3600)])
            assert (series.acc.count, series.acc.sum_ms) == (4, 8.0)
        assert next(n for name, n, _ in store.table_sizes() if name == "request_buckets") == 18
    with psycopg.connect(postgres_url) as conn:
        (left,) = conn.execute("SELECT to_regclass('request_buckets_unpartitioned')").fetchone()
    assert left is None


def test_partitions_leave_room_in_each_page_for_a_rows_next_version(postgres_url: str) -> None:
    """A flush rewrites the rows of open buckets: with room on their page the new version
    goes beside the old one (a HOT update, no new index entry), so every tier's partitions
    are made with a fillfactor below 100."""
    with open_storage(postgres_url, clock=lambda: T0 + 5.0) as store:
        store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(1.0)}}))
        store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(2.0)}}))
    with psycopg.connect(postgres_url) as conn:
        for tier in SPAN_S:
            names = partitions(postgres_url, tier)
            assert names
            options = conn.execute(
                "SELECT reloptions FROM pg_class WHERE relname = ANY(%s)", (names,)
            ).fetchall()
            assert [o for (o,) in options] == [[f"fillfactor={FILLFACTOR}"]] * len(names)


def test_a_writer_that_waited_while_another_made_the_partition_does_not_make_it_again(
    postgres_url: str,
) -> None:
    """Writers starting at once: one makes a partition while the other waits for the lock;
    the other then finds it (not "relation already exists", a failed flush)."""
    open_storage(postgres_url).close()
    wanted = {("request_buckets", 10, T0)}
    failed: list[Exception] = []
    with (
        psycopg.connect(postgres_url, autocommit=True) as first,
        psycopg.connect(postgres_url, autocommit=True) as second,
    ):
        with first.transaction():
            first.execute("SELECT pg_advisory_xact_lock(%s)", (parts.PARTITION_LOCK,))

            def create() -> None:
                try:
                    parts.create(second, wanted)
                except psycopg.Error as exc:
                    failed.append(exc)

            waiting = threading.Thread(target=create)
            waiting.start()
            while not first.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND wait_event = 'advisory'",
                (second.info.backend_pid,),
            ).fetchone():
                time.sleep(0.01)
            parts.create(first, wanted)
        waiting.join()
    assert failed == []
    assert f"request_buckets_10_{T0}" in partitions(postgres_url, 10)
