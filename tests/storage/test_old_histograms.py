"""A schema-5 store of the old histogram format (gamma 1.0202) upgrades to OTel's buckets:
every count, min and max kept, percentiles within the old 1% plus the new 0.54%."""

from __future__ import annotations

import math
import random
import sqlite3
import struct
from collections import Counter
from pathlib import Path

import pytest

from perf_mcp import Monitor, StoreError
from perf_mcp.storage import MIGRATIONS, SCHEMA_VERSION
from perf_mcp.storage.old_histograms import convert_store

T0 = 1_800_000_000.0
OLD_HEADER = struct.Struct("<BBHHQdd")  # the old format: version 1, kind, lo, n, count, min, max
OLD_GAMMA = 1.01 / 0.99
OLD_OFFSET = 1 - math.log(1e-3) / math.log(OLD_GAMMA)
OLD_SIZE = int(math.log(30 * 24 * 3600 * 1000.0) / math.log(OLD_GAMMA) + OLD_OFFSET) + 1
TOLERANCE = (1.01 * 1.0055 - 1) * (1 + 1e-9)  # the old bucket's error, then the new one's


def old_position(value: float) -> int:
    """Where the old code counted a value (its ``position``)."""
    if value < 1e-3:
        return 1 if value > 0 else 0
    return min(int(math.log(value) / math.log(OLD_GAMMA) + OLD_OFFSET), OLD_SIZE - 1)


def old_blob(values: list[float], dense: bool) -> bytes:
    """``values`` as the old code encoded them: sparse pairs or dense 32-bit counts."""
    bins = Counter(old_position(v) for v in values)
    low, high, lo = min(values), max(values), min(bins)
    if not dense:
        body = b"".join(struct.pack("<HQ", p, n) for p, n in bins.items())
        return OLD_HEADER.pack(1, 1, lo, len(bins), len(values), low, high) + body
    counts = [bins.get(p, 0) for p in range(lo, max(bins) + 1)]
    head = OLD_HEADER.pack(1, 3, lo, len(counts), len(values), low, high)
    return head + struct.pack(f"<{len(counts)}I", *counts)


BEFORE = MIGRATIONS.index(convert_store)  # the schema version the conversion starts from


def write_old_format_store(path: Path, values: dict[str, list[float]]) -> None:
    """Record ``values`` per endpoint in one 10 s bucket, then turn the file into what
    the last perf-mcp of the old format left: every histogram blob the old encoding of its
    values, the schema version before the conversion."""
    run_ms = [1234.5]
    with Monitor(path, clock=lambda: T0 + 60, start_flusher=False) as monitor:
        for name, durations in values.items():
            for ms in durations:
                monitor.record_request(name, "GET", 200, ms, timestamp=T0)
        monitor.record_agent_run(agent_name="planner", duration_ms=run_ms[0], end_time=T0)
    every = [v for durations in values.values() for v in durations]
    conn = sqlite3.connect(path)
    for table in ("request_buckets", "run_buckets"):
        rows = conn.execute(
            f"SELECT tier, ts, series_id, source, name FROM {table} JOIN series ON id = series_id"
        ).fetchall()
        assert rows
        for i, (*key, name) in enumerate(rows):
            of_row = run_ms if table == "run_buckets" else values.get(name, every)
            conn.execute(
                f"UPDATE {table} SET hist = ? WHERE tier = ? AND ts = ? AND series_id = ? "
                "AND source = ?",
                (old_blob(of_row, dense=i % 2 == 0), *key),
            )
    conn.execute(f"PRAGMA user_version = {BEFORE}")
    conn.commit()
    conn.close()


def exact(values: list[float], q: float) -> float:
    return sorted(values)[max(math.ceil(q * len(values) - 1e-9) - 1, 0)]


def test_a_version_5_store_keeps_every_count_and_its_percentiles(db_path: Path) -> None:
    rng = random.Random(3)
    values = {
        "/fast": [rng.lognormvariate(2.0, 0.5) for _ in range(400)],
        "/slow": [rng.lognormvariate(6.0, 1.2) for _ in range(300)] + [0.0],
        "/one": [42.0],
    }
    write_old_format_store(db_path, values)
    with Monitor(db_path, clock=lambda: T0 + 60, start_flusher=False) as monitor:
        stats = {row.endpoint: row for row in monitor.get_endpoint_stats(window="5m").endpoints}
        runs = monitor.get_agent_stats(window="5m").agents
    for name, durations in values.items():
        row = stats[name]
        assert row.count == len(durations)
        assert (row.min_ms, row.max_ms) == (min(durations), max(durations))
        for q, got in ((0.5, row.p50_ms), (0.95, row.p95_ms), (0.99, row.p99_ms)):
            truth = exact(durations, q)
            assert abs(got - truth) <= TOLERANCE * truth, (name, q, got, truth)
    assert [(run.runs, run.p50_ms) for run in runs] == [(1, 1234.5)]
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    blobs = conn.execute("SELECT hist FROM request_buckets UNION ALL SELECT hist FROM run_buckets")
    assert {blob[0] for (blob,) in blobs} == {2}
    conn.close()


def test_a_blob_that_cannot_be_converted_leaves_the_store_unchanged(db_path: Path) -> None:
    write_old_format_store(db_path, {"/a": [1.0, 2.0, 3.0]})
    conn = sqlite3.connect(db_path)
    conn.execute(
        "UPDATE request_buckets SET hist = ? WHERE tier = 10",
        (OLD_HEADER.pack(1, 1, 0, 1, 5, 1.0, 2.0),),
    )
    conn.commit()
    before = conn.execute("SELECT hist FROM request_buckets ORDER BY tier").fetchall()
    conn.close()
    with pytest.raises(
        StoreError, match=r"left unchanged: request_buckets row .* cannot be converted"
    ):
        Monitor(db_path)
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == BEFORE
    assert conn.execute("SELECT hist FROM request_buckets ORDER BY tier").fetchall() == before
    conn.close()
