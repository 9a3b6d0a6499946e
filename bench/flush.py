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

``--cost`` instead has one writer flush ``--series`` endpoints every 10 s of bucket time,
``--runs`` times, into a SQLite file and then PostgreSQL (as ``--sustained`` finds it): the
writer's CPU per flush on each (SQLite's the peer), and the server's CPU and WAL per flush.

``--sustained N`` instead runs N writers (threads of ``--procs`` processes, each writer a store
of its own) flushing ``--series`` endpoints every ``--interval`` seconds, staggered, for
``--flushes`` rounds, into one SQLite file and then one PostgreSQL database (``--postgres``,
else a server of its own with PostgreSQL's default durability, fsync on): each writer's
flush time, how late a flush started, and whether every writer kept the cadence (each flush
done before its next one is due); for PostgreSQL, the CPU its server processes used.

    python bench/flush.py [--series 2000] [--runs 20] [--db-dir DIR] [--postgres URL] [--writers N]
    python bench/flush.py --sustained 100 --series 1000 [--interval 10] [--flushes 6] [--procs 10]
    python bench/flush.py --cost --series 1000 --runs 40
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

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
    parser.add_argument("--sustained", type=int, default=0, help="writers on a cadence")
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--flushes", type=int, default=6)
    parser.add_argument("--procs", type=int, default=10)
    parser.add_argument(
        "--engines", default="sqlite,postgresql", help="with --sustained: which stores, in order"
    )
    parser.add_argument("--cost", action="store_true", help="one writer's CPU, server CPU, WAL")
    args = parser.parse_args()
    if args.cost:
        one_writer_cost(args)
        return
    if args.sustained:
        sustained_on_both(args)
        return
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


def one_writer_cost(args: argparse.Namespace) -> None:
    """What one writer's flush costs: its CPU on each engine, the PostgreSQL server's CPU and
    WAL (the server's asked once before and once after the flushes: asking costs a
    connection, here shared by all of them)."""
    from query import throwaway_postgres  # bench/ is on sys.path when run as a script

    print(f"one writer, {args.series} endpoints, a flush every 10 s of bucket time, {args.runs}x")
    with tempfile.TemporaryDirectory(dir=args.db_dir) as tmp, ExitStack() as stack:
        peer, _, _ = _costs(Path(tmp, "cost.db"), args.series, args.runs, None)
        print(f"  SQLite      writer CPU per flush {peer:6.1f} ms (the peer)")
        postgres = args.postgres or stack.enter_context(throwaway_postgres())
        if postgres is None:
            return
        cpu, took, (server, wal) = _costs(
            postgres, args.series, args.runs, partial(_server_use, postgres)
        )
        rows = (args.series + 1) * len(TIERS) * args.runs
        print(
            f"  PostgreSQL  writer CPU per flush {cpu:6.1f} ms ({cpu / peer:.2f}x SQLite's), "
            f"wall {took:6.1f} ms; server CPU {server * 1000 / args.runs:5.1f} ms per flush, "
            f"WAL {wal / rows:.0f} bytes per row written"
        )


def _costs(
    location: str | Path, series: int, runs: int, server_use: Callable[[], tuple[float, int]] | None
) -> tuple[float, float, tuple[float, int]]:
    """Median CPU and wall ms of one writer's ``Storage.write``, one flush per 10 s bucket, and
    the server's CPU seconds and WAL bytes over all of them ((0, 0): not measured)."""
    rng = random.Random(1)
    batches = [make_batch(series, T0 + 10 * (k + 1), rng) for k in range(runs)]
    now = [float(T0)]
    cpu, wall = [], []
    with open_storage(location, clock=lambda: now[0]) as store:
        store.write(make_batch(series, T0 + 1, rng))  # the series rows, untimed
        before = server_use() if server_use else (0.0, 0)
        for k, batch in enumerate(batches):
            now[0] = T0 + 10 * (k + 1) + 1
            began, used = time.perf_counter(), time.process_time()
            store.write(batch)
            cpu.append((time.process_time() - used) * 1000)
            wall.append((time.perf_counter() - began) * 1000)
        after = server_use() if server_use else (0.0, 0)
    server = (after[0] - before[0], after[1] - before[1])
    return statistics.median(cpu), statistics.median(wall), server


def sustained_on_both(args: argparse.Namespace) -> None:
    """The cadence run on a SQLite file, then on PostgreSQL."""
    from query import throwaway_postgres  # bench/ is on sys.path when run as a script

    print(
        f"{args.sustained} writers x {args.series} endpoints, a flush every {args.interval:g} s "
        f"each (staggered), {args.flushes} rounds, in {args.procs} processes"
    )
    with tempfile.TemporaryDirectory(dir=args.db_dir) as tmp, ExitStack() as stack:
        postgres = args.postgres or stack.enter_context(throwaway_postgres())
        engines = args.engines.split(",")
        stores: dict[str, str | Path] = {}
        if "sqlite" in engines:
            stores["SQLite"] = Path(tmp, "cadence.db")
        if postgres is not None and "postgresql" in engines:
            stores["PostgreSQL"] = postgres
        for engine, location in stores.items():
            url = str(location)
            server = partial(_server_use, url) if "://" in url else None
            flushes, use = cadence(location, args, server)
            report(engine, flushes, args, use)


class Use(NamedTuple):
    """What the machine did while the writers flushed."""

    writers_cores: float  # the writers' processes' CPU
    server_cores: float | None  # the PostgreSQL server's processes' (None: not measured)
    wal_per_s: float | None  # bytes of WAL the server wrote per second
    load: tuple[float, float]  # the 1-minute load average as the flushes began, and ended


def cadence(
    location: str | Path,
    args: argparse.Namespace,
    server_use: Callable[[], tuple[float, int]] | None,
) -> tuple[list[tuple[float, float, bool]], Use]:
    """(flush ms, ms it started late, whether it failed) of every timed flush of every writer;
    the writers' processes' cores, and the server's cores and WAL bytes per second meanwhile
    (None: not measured)."""
    context = multiprocessing.get_context("spawn")
    ready, go, done, results = context.Queue(), context.Event(), context.Event(), context.Queue()
    writers = args.sustained
    groups = [list(range(writers))[i :: args.procs] for i in range(min(args.procs, writers))]
    start_at = context.Value("d", 0.0)
    plan = (location, writers, args.series, args.interval, args.flushes)
    workers = [
        context.Process(
            target=_writers_of_one_process,
            args=(plan, group, ready, go, done, start_at, results),
        )
        for group in groups
    ]
    for worker in workers:
        worker.start()
    failed = [problem for problem in (ready.get() for _ in workers) if problem is not None]
    if failed:  # the others wait for a start that will not come
        for worker in workers:
            worker.terminate()
        raise RuntimeError(f"a writer's set-up failed: {failed[0]}")
    start_at.value = time.time() + 1.0
    go.set()
    before, began = (server_use() if server_use else (0.0, 0)), time.perf_counter()
    load = os.getloadavg()[0]
    found = [results.get() for _ in workers]
    took = time.perf_counter() - began
    flushes = [flush for writer_flushes, _ in found for flush in writer_flushes]
    use = Use(sum(cpu for _, cpu in found) / took, None, None, (load, os.getloadavg()[0]))
    if server_use is not None:  # while every writer's connection is still open
        cpu, wal = server_use()
        use = use._replace(
            server_cores=(cpu - before[0]) / took, wal_per_s=(wal - before[1]) / took
        )
    done.set()
    for worker in workers:
        worker.join()
    return flushes, use


def _writers_of_one_process(
    plan: tuple[str | Path, int, int, float, int], group: list[int],
    ready: Any, go: Any, done: Any, start_at: Any, results: Any,
) -> None:  # fmt: skip
    """Each writer of ``group``: a store of its own, a thread flushing on its slot."""
    location, writers, series, interval, rounds = plan
    rng = random.Random(group[0])
    now = [float(T0)]
    stores, batches = [], []
    try:
        for _ in group:  # set-up, untimed: the series rows and every round's batch
            store = open_storage(location, clock=lambda: now[0], busy_timeout_s=60.0)
            stores.append(store)
            store.write(make_batch(series, T0 + 1, rng))
            batches.append(
                [make_batch(series, T0 + interval * (k + 1), rng) for k in range(rounds)]
            )
    except Exception as exc:  # said to the parent, which stops the run
        ready.put(repr(exc))
        return
    ready.put(None)
    go.wait()
    cpu_before = time.process_time()
    found: list[tuple[float, float, bool]] = []

    def flush_on_cadence(index: int, writer: int) -> None:
        for k in range(rounds):
            due = start_at.value + interval * (k + writer / writers)
            time.sleep(max(0.0, due - time.time()))
            late = max(0.0, time.time() - due)
            began = time.perf_counter()
            try:
                stores[index].write(batches[index][k])
                failed = False
            except Exception:
                failed = True
            found.append(((time.perf_counter() - began) * 1000, late * 1000, failed))

    threads = [threading.Thread(target=flush_on_cadence, args=pair) for pair in enumerate(group)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((found, time.process_time() - cpu_before))
    done.wait()
    for store in stores:
        store.close()


def report(
    engine: str, flushes: list[tuple[float, float, bool]], args: argparse.Namespace,
    use: Use,
) -> None:  # fmt: skip
    """Flush times, lateness, and whether every writer kept the cadence."""
    times = sorted(ms for ms, _, _ in flushes)
    late = max(lag for _, lag, _ in flushes)
    failed = sum(1 for *_, bad in flushes if bad)
    kept = failed == 0 and all(ms + lag < args.interval * 1000 for ms, lag, _ in flushes)
    rows = (args.series + 1) * len(TIERS) * (len(flushes) - failed)
    print(
        f"  {engine:<11} flush per writer median {statistics.median(times):6.0f} ms, p95 "
        f"{times[int(len(times) * 0.95)]:6.0f} ms, max {times[-1]:6.0f} ms; latest start "
        f"{late:6.0f} ms late; {failed} of {len(flushes)} failed; "
        f"{rows / (args.flushes * args.interval):,.0f} rows/s"
    )
    print(f"  {'':<11} {args.interval:g} s cadence sustained: {'yes' if kept else 'no'}")
    cores, wal = use.server_cores, use.wal_per_s
    print(
        f"  {'':<11} the writers meanwhile: {use.writers_cores:.2f} cores (their processes' "
        f"CPU); load average {use.load[0]:.1f} as they began, {use.load[1]:.1f} at the end"
    )
    if cores is not None and wal is not None:
        per_row = wal / (rows / (args.flushes * args.interval))
        print(
            f"  {'':<11} the server meanwhile: {cores:.2f} cores (its processes' CPU), "
            f"{wal / 1e6:.1f} MB/s of WAL ({per_row:.0f} bytes per row written)"
        )


def _server_use(url: str) -> tuple[float, int]:
    """CPU seconds used so far by the PostgreSQL server at ``url`` (a server on this machine)
    and its WAL position in bytes."""
    import psutil
    import psycopg

    with psycopg.connect(url) as conn:
        (data,) = conn.execute("SHOW data_directory").fetchone() or ("",)
        (wal,) = conn.execute("SELECT pg_current_wal_lsn() - '0/0'").fetchone() or (0,)
    postmaster = psutil.Process(int(Path(data, "postmaster.pid").read_text().split()[0]))
    used = 0.0
    for process in [postmaster, *postmaster.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        used += times.user + times.system
    return used, int(wal)


if __name__ == "__main__":
    main()
