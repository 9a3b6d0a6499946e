"""Query speed over a large store: 10M requests across 1,000 endpoints over 24 hours.

Fills a fresh SQLite file through ``Monitor.record_request`` (a fake clock walks through the
day), then times ``get_endpoint_stats`` (sorted by p95, so every endpoint's histogram is
merged) and ``get_performance_summary`` (after another Monitor's flush, when it reads the
store again: the query alone; after its own write and flush, timed with them; and with the
write still in memory) for the 5-minute, 1-hour and 24-hour windows, from a second Monitor on
the same file, as another process would read it; then ``compare_windows`` (against
each baseline: previous, 24h, 7d, and a deploy marked half an hour before the end) and
``explain`` (against the 12 windows before), each as the first call of a new Monitor (as after
a server starts) and again later, each timed right after get_endpoint_stats over the same
window (the ratio is the median of those pairs; target: under 3x); and a
chart's series (``get_timeline``: the window split into points, for the hottest endpoint
and for all requests) next to the window query over the same rows. Prints the store's size.

It runs on both engines in one run and prints their window queries side by side: a SQLite
file, and a PostgreSQL database (``--db postgresql://...``, an empty database or one this
bench filled; without one, a server of its own started by initdb in a temporary directory
with PostgreSQL's default durability, when PostgreSQL is installed). ``--db PATH`` reuses or
creates that SQLite file; a store that already holds the day is not filled again.

``--windows-only`` times only get_endpoint_stats and the summary (the side-by-side figures).

    python bench/query.py [--requests 10000000] [--endpoints 1000] [--db PATH] [--db URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from perf_mcp import Monitor

T0 = 1_800_000_000.0  # midnight-aligned start of the simulated day
DAY_S = 86_400
FLUSH_S = 10  # the fill's flush interval, in the simulated day
TARGETS_MS = {"5m": 50, "1h": 100, "24h": 250}
SERIES_TARGET_MS = 100  # one chart's series over any window
HOT = "/api/service0/resource0/{id}"  # the busiest endpoint


def fill(path: str, requests: int, endpoints: int) -> float:
    """Record ``requests`` samples spread evenly over a day, flushed every 10 s of the day as
    a live Monitor's flusher would (at 10M; at least every 1,000 requests), so the rows lie
    in the store as a live one's do; returns the fake "now"."""
    rng = random.Random(1)
    names = [f"/api/service{i % 20}/resource{i}/{{id}}" for i in range(endpoints)]
    weights = [1 / (i + 1) ** 0.8 for i in range(endpoints)]  # a few hot endpoints
    clock = [T0]
    with Monitor(path, clock=lambda: clock[0], start_flusher=False) as monitor:
        record = monitor.record_request
        step = DAY_S / requests
        chunk = max(1000, requests * FLUSH_S // DAY_S)
        for first in range(0, requests, chunk):
            count = min(chunk, requests - first)
            picks = rng.choices(names, weights, k=count)
            clock[0] = T0 + (first + count) * step
            for i, name in enumerate(picks):
                ts = T0 + (first + i) * step
                ms = rng.lognormvariate(3.2, 0.8)
                status = 500 if rng.random() < 0.01 else 200
                record(name, "GET", status, ms, 300, 4000, ts)
            monitor.flush()
        return clock[0]


def time_query(
    label: str, run: object, repeat: int = 5, before: Callable[[], object] | None = None
) -> float:
    """The median ms of ``run`` (``before`` runs untimed ahead of each)."""
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    best, median = min(times), statistics.median(times)
    print(f"  {label:<56} median {median:7.1f} ms   best {best:7.1f} ms")
    return median


def seconds(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def paired(
    run: Callable[[], float], peer: Callable[[], object], repeat: int = 5
) -> tuple[float, float]:
    """The median ms ``run`` says it took, and its median ratio to ``peer`` timed right before
    each: on a shared machine the load changes within seconds, and a pair shares it."""
    times, ratios = [], []
    for _ in range(repeat):
        took = seconds(peer)
        spent = run()
        times.append(spent * 1000)
        ratios.append(spent / took)
    return statistics.median(times), statistics.median(ratios)


def investigation_rows(path: str, now: float, window: str, ask: Callable[..., None]) -> None:
    """compare_windows (every baseline) and explain as the first call of a new Monitor (a
    server just started: nothing cached, no past window's quantiles kept) and again later
    (a write before each), each timed next to get_endpoint_stats over the window."""
    deploy_at = now - 1800  # a deploy half an hour ago, in the middle of an hour
    with Monitor(path, clock=lambda: now, start_flusher=False) as probe:
        marked = any(d.at == deploy_at for d in probe.get_performance_summary("1h").deploys)
    if not marked:
        with Monitor(path, clock=lambda: deploy_at, start_flusher=False) as marker:
            marker.mark_deploy("bench-v2")

    def first(query: str, args: dict[str, str]) -> float:
        with Monitor(path, clock=lambda: now, start_flusher=False) as fresh:
            return seconds(lambda: getattr(fresh, query)(window=window, **args))

    worst = 0.0
    calls = [("compare_windows", {"baseline": b}) for b in ("previous", "24h", "7d", "deploy")]
    for query, args in [*calls, ("explain", {})]:
        peer = lambda: ask("get_endpoint_stats", window)  # noqa: E731
        cold, cold_ratio = paired(lambda q=query, a=args: first(q, a), peer)
        again = lambda q=query, a=args: seconds(lambda: ask(q, window, **a))  # noqa: E731
        warm, warm_ratio = paired(again, peer)
        label = f"{query}({', '.join(map(repr, args.values()))})"
        print(
            f"  {label:<46} first call {cold:6.1f} ms = {cold_ratio:.1f}x, "
            f"again {warm:6.1f} ms = {warm_ratio:.1f}x"
        )
        worst = max(worst, cold_ratio, warm_ratio)
    print(
        f"  {'':<46} x: get_endpoint_stats timed just before each; all under 3x: "
        f"{'yes' if worst < 3 else 'no'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000_000)
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument(
        "--db",
        action="append",
        default=[],
        help="a SQLite file to reuse or create, and/or a postgresql:// database to fill",
    )
    parser.add_argument("--windows-only", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        given = {"PostgreSQL" if "://" in db else "SQLite": db for db in args.db}
        stores = {"SQLite": given.get("SQLite", str(Path(tmp) / "bench.db"))}
        postgres = given.get("PostgreSQL") or stack.enter_context(throwaway_postgres())
        if postgres is not None:
            stores["PostgreSQL"] = postgres
        results = {}
        for engine, location in stores.items():
            print(f"=== {engine}")
            results[engine] = measure(location, args.requests, args.endpoints, args.windows_only)
    side_by_side(results)


def measure(path: str, requests: int, endpoints: int, windows_only: bool) -> dict[str, float]:
    """Fill the store unless it holds the day already, then time every query on it."""
    now = T0 + DAY_S
    with Monitor(path, clock=lambda: now, start_flusher=False) as probe:
        filled = probe.get_performance_summary(window="24h").requests.count >= requests
    if not filled:
        start = time.perf_counter()
        now = fill(path, requests, endpoints)
        print(
            f"filled {requests:,} requests across {endpoints:,} endpoints over "
            f"24 h in {time.perf_counter() - start:.0f} s"
        )

    with (
        Monitor(path, clock=lambda: now, start_flusher=False) as reader,
        Monitor(path, clock=lambda: now, start_flusher=False) as writer,
    ):
        size = reader.store_size_bytes()
        print(f"store: {size / 1e6:.1f} MB ({size / requests:.1f} bytes per request)\n")

        def ask(query: str, window: str, flush: bool = False, **args: str) -> None:
            """An answer after a write, as in a live store (so no answer is reused).

            The summary adds a write still in memory to what it last read; ``flush`` makes
            it read the store again, as it does once per flush interval.
            """
            reader.record_request(HOT, "GET", 200, 20.0)
            if flush:
                reader.flush()
            getattr(reader, query)(window=window, **args)

        def another_wrote() -> None:
            """An app's flush reaching the store (untimed): the reader must read it again."""
            writer.record_request(HOT, "GET", 200, 20.0)
            writer.flush()

        results: dict[str, float] = {}
        for window in ("5m", "1h", "24h"):
            print(f"window {window} (target {TARGETS_MS[window]} ms; a write before each):")
            results[window] = time_query(
                "get_endpoint_stats(sort_by='p95_ms', limit=20)",
                lambda w=window: ask("get_endpoint_stats", w),
            )
            results[window + " summary"] = time_query(
                "get_performance_summary(), after another's flush",
                lambda w=window: reader.get_performance_summary(window=w),
                before=another_wrote,
            )
            results[window + " own flush"] = time_query(
                "its own write and flush, then get_performance_summary()",
                lambda w=window: ask("get_performance_summary", w, flush=True),
            )
            if windows_only:
                continue
            time_query(
                "get_performance_summary(), write in memory",
                lambda w=window: ask("get_performance_summary", w),
            )
            investigation_rows(path, now, window, ask)
            series_next_to_its_window_query(window, ask, results)
        day = reader.get_performance_summary(window="24h")
        time_query(
            "get_performance_summary('24h'), store unchanged (reused)",
            lambda: reader.get_performance_summary(window="24h"),
        )
    print(f"\n24 h summary: {day.requests.count:,} requests, p95 {day.requests.p95_ms:.1f} ms")
    charts = {w: took for w, took in results.items() if w.endswith(" series")}
    answers = {w: took for w, took in results.items() if w.split()[1:] in ([], ["summary"])}
    verdict = all(took <= TARGETS_MS[w.split()[0]] for w, took in answers.items())
    print(f"endpoint stats and summary within targets: {'yes' if verdict else 'no'}")
    if charts:
        fast = max(charts.values()) <= SERIES_TARGET_MS
        print(f"chart series within {SERIES_TARGET_MS} ms: {'yes' if fast else 'no'}\n")
    return results


@contextmanager
def throwaway_postgres() -> Iterator[str | None]:
    """A PostgreSQL server of this run's own (tests/pg_server.py: initdb in a temporary
    directory, default durability); None, saying so, where PostgreSQL is not installed."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's tests/
    from tests.pg_server import find_binaries, running_server

    binaries = find_binaries()
    if binaries is None:
        print("PostgreSQL is not installed (apt-get install postgresql): SQLite only\n")
        yield None
        return
    with running_server(binaries, durable=True) as server:
        yield server.database("postgres")


def side_by_side(results: dict[str, dict[str, float]]) -> None:
    """Each engine's median per query, and PostgreSQL's over SQLite's (target: within 2x)."""
    if len(results) < 2:
        return
    sqlite, postgres = results["SQLite"], results["PostgreSQL"]
    print(f"{'median ms':<40} {'SQLite':>9} {'PostgreSQL':>11} {'ratio':>7}")
    groups = (
        ("", "get_endpoint_stats", "(a write before each, flushed by the query)"),
        (" summary", "get_performance_summary", "(after another Monitor's flush)"),
        (" own flush", "write + flush + summary", "(the reader's own; not a query alone)"),
    )
    for suffix, label, how in groups:
        print(f"  {how}")
        for window in ("5m", "1h", "24h"):
            key = window + suffix
            ratio = postgres[key] / sqlite[key]
            over = "  (over 2x)" if ratio > 2 else ""
            print(
                f"  {label + ' ' + window:<38} {sqlite[key]:9.1f} {postgres[key]:11.1f} "
                f"{ratio:6.2f}x{over}"
            )
    grouped = {w + suffix for w in ("5m", "1h", "24h") for suffix, _, _ in groups}
    for key in (k for k in sqlite if k not in grouped):
        print(
            f"  {key:<38} {sqlite[key]:9.1f} {postgres[key]:11.1f} "
            f"{postgres[key] / sqlite[key]:6.2f}x"
        )


def series_next_to_its_window_query(
    window: str, ask: Callable[..., None], results: dict[str, float]
) -> None:
    """The hottest endpoint's stats over the window, then its chart series (the same rows,
    split into points) and the series of all requests."""
    stats = time_query(
        "get_endpoint_stats(endpoint=hot), the window query",
        lambda: ask("get_endpoint_stats", window, endpoint=HOT),
    )
    series = time_query(
        "get_timeline('request', name=hot), its chart series",
        lambda: ask("get_timeline", window, kind="request", name=HOT),
    )
    print(
        f"  {'':<56} {series / stats:.1f}x the window query (target: under {SERIES_TARGET_MS} ms)"
    )
    total = time_query(
        "get_timeline('request'), all requests' series",
        lambda: ask("get_timeline", window, kind="request"),
    )
    results[f"{window} series"] = max(series, total)


if __name__ == "__main__":
    main()
