"""Push cost: one flush of an app's last second pushed over OTLP to a running perf-mcp server
(``Monitor(url=...)``: fold, encode, POST, and the server taking it in before it answers),
next to the peer, the same flush written to a SQLite store file (``Monitor(path)``).

Each run records ``--series`` endpoints with ``--per-series`` requests each (1% of them 500s,
log-normal durations) into both Monitors, then times each one's ``flush()`` on the caller's
thread (in an app the flusher thread does it: requests never wait for it). Prints the median
of the runs, the ratio to the peer and the requests per second each flush path carries.

    python bench/push.py [--series 500] [--per-series 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from perf_mcp import Monitor

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.mcp_process import http_server  # noqa: E402  (the tests' way to start one)


def record(monitor: Monitor, series: int, per_series: int, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(series):
        for _ in range(per_series):
            status = 500 if rng.random() < 0.01 else 200
            monitor.record_request(f"/api/r{i}", "GET", status, rng.lognormvariate(3.2, 0.6))


def flush_s(monitor: Monitor) -> float:
    start = time.perf_counter()
    monitor.flush()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--per-series", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, http_server(Path(tmp) / "server.db") as (url, _):
        pushing = Monitor(url=url, start_flusher=False)
        storing = Monitor(Path(tmp) / "app.db", start_flusher=False)
        pushed, stored = [], []
        for run in range(args.runs + 1):  # the first run warms both up and is not counted
            for monitor, times in ((pushing, pushed), (storing, stored)):
                record(monitor, args.series, args.per_series, run)
                took = flush_s(monitor)
                if run:
                    times.append(took)
        pushing.close()
        storing.close()
    n = args.series * args.per_series
    push_ms, store_ms = statistics.median(pushed) * 1000, statistics.median(stored) * 1000
    print(f"one flush of {n:,} requests over {args.series:,} series, median of {args.runs} runs")
    for label, ms in (("pushed over OTLP to perf-mcp", push_ms), ("SQLite store (peer)", store_ms)):
        print(f"  {label:30} {ms:8.1f} ms  ({n / ms * 1000:,.0f} requests/s)")
    load = os.getloadavg()[0]
    print(f"  push / SQLite: {push_ms / store_ms:.2f}x (load average {load:.2f})")


if __name__ == "__main__":
    main()
