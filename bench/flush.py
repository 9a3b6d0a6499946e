"""Flush speed: one flush of 2,000 request series into a real store file.

Builds FlushBatches as the Monitor hands them over every second (the default flush interval)
in an app serving 20k requests/s over 2,000 endpoints: 10 requests per endpoint spread over
~10 histogram bins, plus the all-endpoint total. Writes them with ``Storage.write`` one second
apart across a minute boundary (most flushes find their rows open; one in ten starts new 10 s
rows, one a new minute) and prints the median and the slowest flush, alone and with a
CPU-bound Python thread beside it (the busy app of issue 11). Next to it,
the peer: one transaction of a plain ``executemany`` insert of as many rows (one per series
and tier, same columns) into a bare sqlite3 table.

With ``--postgres URL`` (an empty database, or one this bench used before) the same flushes
also go to PostgreSQL, printed next to SQLite's.

``--writers N`` then also has N processes flush into it at once, back to back, and prints
their median flush and the rows per second the server took from all of them while they did.

    python bench/flush.py [--series 2000] [--runs 20] [--db-dir DIR] [--postgres URL] [--writers N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from perf_mcp.core.series import RequestAcc
from perf_mcp.core.window import TIERS, bucket_start
from perf_mcp.storage import FlushBatch, open_storage

T0 = 1_800_000_000  # a multiple of 3600


def make_batch(series: int, now: float, rng: random.Random) -> FlushBatch:
    """The second before ``now``: ``series`` endpoints with 10 requests each, and their total."""
    total, requests = RequestAcc(), {}
    for i in range(series):
        acc = requests[(f"/api/service{i % 20}/resource{i}/{{id}}", "GET")] = RequestAcc()
        for _ in range(10):
            ms = rng.lognormvariate(3.2, 0.3)  # ~10 distinct bins
            status = 500 if rng.random() < 0.01 else 200
            acc.add_samples([(now - rng.random(), "", "", status, ms, 300, 4000)])
        total.merge(acc)
    requests[("*", "")] = total
    return FlushBatch(requests={bucket_start(now - 1): requests})


@contextmanager
def busy_thread(on: bool) -> Iterator[None]:
    """A CPU-bound Python thread (the app's work) while the block runs."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(i * i for i in range(1000))

    thread = threading.Thread(target=spin, daemon=True)
    if on:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if on:
            thread.join()


def times_ms(runs: int, step: Callable[[int], None]) -> tuple[float, float]:
    """The median and the slowest of ``runs`` calls of ``step``."""
    times = []
    for run in range(runs):
        start = time.perf_counter()
        step(run)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def flush_ms(location: str | Path, series: int, runs: int, busy: bool) -> tuple[float, float, int]:
    """Median and slowest ``Storage.write`` time, and the rows one flush writes."""
    rng = random.Random(1)
    start = T0 + 3600 - runs // 2  # the middle flush starts a new hour
    batches = [make_batch(series, start + i, rng) for i in range(runs + 1)]
    now = [float(start)]
    with open_storage(location, clock=lambda: now[0]) as store:
        store.write(batches[0])  # the first flush also creates the series rows

        def step(run: int) -> None:
            now[0] = start + 1.0 + run
            store.write(batches[run + 1])

        with busy_thread(busy):
            median, slowest = times_ms(runs, step)
    return median, slowest, (series + 1) * len(TIERS)


def peer_ms(path: Path, rows: int, runs: int, busy: bool) -> float:
    """Median time of one transaction inserting ``rows`` new pre-built rows (executemany)."""
    acc = make_batch(1, T0 + 1, random.Random(1)).requests[T0][("*", "")]
    blob = acc.hist.to_bytes()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE t (tier, ts, series_id, source, count, s1xx, s2xx, s3xx, s4xx, s5xx, "
        "sum_ms, min_ms, max_ms, req_bytes, req_n, resp_bytes, resp_n, hist, "
        "PRIMARY KEY (tier, ts, series_id, source)) WITHOUT ROWID"
    )

    def step(run: int) -> None:
        values = [
            (10, T0 + 10 * run, i, 1, 20, 0, 20, 0, 0, 0, 600.0, 20.0, 40.0, 6000, 20, 8e4, 20)
            + (blob,)
            for i in range(rows)
        ]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(f"INSERT INTO t VALUES ({', '.join('?' * 18)})", values)
        conn.execute("COMMIT")

    with busy_thread(busy):
        median, _ = times_ms(runs, step)
    conn.close()
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--db-dir", type=Path, default=None)
    parser.add_argument("--postgres", default=None, help="a postgresql:// URL to flush into too")
    parser.add_argument("--writers", type=int, default=0, help="processes flushing at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.db_dir) as tmp:
        print(f"flush of {args.series} request series, {args.runs} flushes 1 s apart")
        for busy in (False, True):
            label = "with a CPU-bound thread" if busy else "alone"
            name = "busy" if busy else "idle"
            path = Path(tmp, f"{name}.db")
            flush, slowest, rows = flush_ms(path, args.series, args.runs, busy)
            peer = peer_ms(Path(tmp, f"{name}-peer.db"), rows, args.runs, busy)
            print(
                f"  {label:<24} Storage.write median {flush:6.1f} ms, slowest {slowest:6.1f} ms"
                f"   peer executemany of {rows} rows {peer:6.1f} ms   ratio {flush / peer:5.2f}x"
            )
            if args.postgres:
                flush, slowest, _ = flush_ms(args.postgres, args.series, args.runs, busy)
                print(f"  {'  on PostgreSQL':<24} Storage.write median {flush:6.1f} ms, "
                      f"slowest {slowest:6.1f} ms")  # fmt: skip
    if args.postgres and args.writers:
        writers(args.postgres, args.writers, args.series, args.runs)


def writers(url: str, count: int, series: int, runs: int) -> None:
    """``count`` processes flushing ``runs`` times each into ``url`` at once."""
    with multiprocessing.get_context("spawn").Pool(count) as pool:
        results = pool.starmap(flush_ms, [(url, series, runs, False)] * count)
    medians = sorted(median for median, _, _ in results)
    rate = sum(rows / (median / 1000) for median, _, rows in results)
    print(
        f"{count} writers x {series} series flushing at once: median flush "
        f"{medians[len(medians) // 2]:.0f} ms, {rate:,.0f} rows/s in all"
    )


if __name__ == "__main__":
    main()
