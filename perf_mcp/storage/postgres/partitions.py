"""Time partitions of the bucket tables: retention drops whole partitions, no row is deleted.

Each bucket table is partitioned by tier (``request_buckets_10``), and each tier by ranges of
``ts`` of ``SPAN_S[tier]`` seconds (``request_buckets_10_1800000000`` holds the 10 s rows of
the hour starting then). A partition is dropped once all of it is older than the tier's
retention; until then its older rows stay, unread: a window plan never asks a tier for rows
older than its retention (``core/window.py``), so answers are as SQLite's, which deletes them
row by row. Partitions are created before a flush needs them (the next one of each tier at
every expiry tick, and any a late or early bucket needs), in their own short transaction,
attached with ``ATTACH PARTITION`` and detached with ``DETACH PARTITION ... CONCURRENTLY``
before they are dropped: neither stops the table's writers and readers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

# Seconds of ``ts`` one partition of a tier holds: a few partitions per retention period.
SPAN_S = {10: 3600, 60: 86400, 3600: 7 * 86400}
BUCKET_TABLES = ("request_buckets", "run_buckets")
# Room left free in each page of a partition: a flush rewrites a row of an open bucket by
# putting its new version beside the old one on the same page (a HOT update: no new index
# entry, less WAL), and there must be space for it there.
FILLFACTOR = 70
PARTITION_LOCK = 0x70657268  # one process at a time creates or drops partitions
LOCK_TIMEOUT = "2s"  # a partition change waits no longer for the table's readers, then retries

Partition = tuple[str, int, int]  # table, tier, start of its range


def partition_of(table: str, tier: int, ts: int) -> Partition:
    """The partition holding the row of ``table`` at (``tier``, ``ts``)."""
    return table, tier, ts - ts % SPAN_S[tier]


def name(partition: Partition) -> str:
    table, tier, start = partition
    return f"{table}_{tier}_{start}"


def partition_tables(conn: psycopg.Connection[Any]) -> None:
    """Migration: make the plain bucket tables partitioned ones, every row copied (a row of a
    tier with no partition fails the migration instead of being left behind)."""
    for table in BUCKET_TABLES:
        old = f"{table}_unpartitioned"
        conn.execute(f"ALTER TABLE {table} RENAME TO {old}")
        conn.execute(f"ALTER INDEX {table}_pkey RENAME TO {old}_pkey")
        conn.execute(
            f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS, "
            "PRIMARY KEY (tier, ts, series_id, source)) PARTITION BY LIST (tier)"
        )
        for tier in SPAN_S:
            conn.execute(
                f"CREATE TABLE {table}_{tier} PARTITION OF {table} FOR VALUES IN ({tier}) "
                "PARTITION BY RANGE (ts)"
            )
        buckets = conn.execute(f"SELECT DISTINCT tier, ts FROM {old} WHERE tier = ANY(%s)",
                               (list(SPAN_S),)).fetchall()  # fmt: skip
        _create(conn, {partition_of(table, tier, ts) for tier, ts in buckets})
        moved = conn.execute(f"INSERT INTO {table} SELECT * FROM {old}").rowcount
        (rows,) = conn.execute(f"SELECT count(*) FROM {old}").fetchone() or (0,)
        if moved != rows:  # cannot happen: INSERT ... SELECT fails whole; checked all the same
            raise RuntimeError(f"moved {moved} of {rows} rows of {table}; nothing changed")
        conn.execute(f"DROP TABLE {old}")


def create(conn: psycopg.Connection[Any], wanted: Iterable[Partition]) -> None:
    """Create the partitions of ``wanted`` that do not exist yet (``conn``: autocommit)."""
    missing = _missing(conn, wanted)
    if not missing:  # the usual case: asked without taking a lock or opening a transaction
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
        conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        _create(conn, missing)


def _missing(conn: psycopg.Connection[Any], wanted: Iterable[Partition]) -> list[Partition]:
    """The partitions of ``wanted`` not in the catalog, read as a query (``to_regclass``
    answers from the session's cache, which inside a transaction that waited for the lock
    has not yet heard of a partition another writer made meanwhile)."""
    wanted = sorted(set(wanted))
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = ANY(%s)",
        ([name(partition) for partition in wanted],),
    ).fetchall()
    present = {relname for (relname,) in rows}
    return [partition for partition in wanted if name(partition) not in present]


def _create(conn: psycopg.Connection[Any], wanted: Iterable[Partition]) -> None:
    for partition in _missing(conn, wanted):
        table, tier, start = partition
        # Made apart and attached: ATTACH takes a lock that lets the table's readers and
        # writers go on (CREATE ... PARTITION OF would stop them while it waits).
        conn.execute(
            f"CREATE TABLE {name(partition)} (LIKE {table} INCLUDING DEFAULTS, "
            f"CHECK (tier = {tier} AND ts >= {start} AND ts < {start + SPAN_S[tier]})) "
            f"WITH (fillfactor = {FILLFACTOR})"
        )
        conn.execute(
            f"ALTER TABLE {table}_{tier} ATTACH PARTITION {name(partition)} "
            f"FOR VALUES FROM ({start}) TO ({start + SPAN_S[tier]})"
        )


def drop_expired(
    conn: psycopg.Connection[Any], now: float, retention_s: dict[int, float]
) -> list[str]:
    """Drop every partition wholly older than its tier's retention, if no other process is
    doing it; return the names dropped (``conn``: autocommit, outside a transaction).

    ``DETACH PARTITION ... CONCURRENTLY`` first: it waits for the table's readers and writers
    without stopping them (a plain DROP would hold up every statement on the table while it
    waits). One interrupted half-way is finished (``FINALIZE``) at the next tick.
    """
    (mine,) = conn.execute("SELECT pg_try_advisory_lock(%s)", (PARTITION_LOCK,)).fetchone() or (
        False,
    )
    if not mine:
        return []
    dropped: list[str] = []
    try:
        conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        for partition, attached, pending in _named(conn):
            table, tier, start = partition
            keep_s = retention_s.get(tier)
            if keep_s is None or start + SPAN_S[tier] > now - keep_s:
                continue
            if attached:
                how = "FINALIZE" if pending else "CONCURRENTLY"
                conn.execute(f"ALTER TABLE {table}_{tier} DETACH PARTITION {name(partition)} {how}")
            conn.execute(f"DROP TABLE {name(partition)}")
            dropped.append(name(partition))
    finally:
        conn.execute("RESET lock_timeout")
        conn.execute("SELECT pg_advisory_unlock(%s)", (PARTITION_LOCK,))
    return dropped


def _named(conn: psycopg.Connection[Any]) -> list[tuple[Partition, bool, bool]]:
    """Every table named as a time partition, whether it is attached, and whether a detach of
    it is under way (or was interrupted)."""
    found: list[tuple[Partition, bool, bool]] = []
    for table in BUCKET_TABLES:
        for tier in SPAN_S:
            rows = conn.execute(
                "SELECT c.relname, c.relispartition, coalesce(i.inhdetachpending, false) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "LEFT JOIN pg_inherits i ON i.inhrelid = c.oid "
                "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname ~ %s",
                (f"^{table}_{tier}_[0-9]+$",),
            ).fetchall()
            prefix = f"{table}_{tier}_"
            found += [
                ((table, tier, int(relname.removeprefix(prefix))), attached, pending)
                for relname, attached, pending in rows
            ]
    return sorted(found)


def existing(conn: psycopg.Connection[Any]) -> list[Partition]:
    """The time partitions of every bucket table and tier."""
    return [partition for partition, attached, pending in _named(conn) if attached and not pending]
