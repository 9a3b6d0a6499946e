"""Crash window: how much recorded data a SIGKILL loses, and how long a flush takes.

A writer child process records 20k requests/s over 2,000 endpoints through a real Monitor on
a real file (the default flush interval, 1 s, on the Monitor's own flusher thread), alone or
with a CPU-bound Python thread beside it (the busy app of issue 11). It reports over a pipe
how many requests it has recorded (every 20 ms) and how long each flush's fold
(``Pending.fold`` + ``Pending.take``) and ``Storage.write`` took (the first flush, which
also creates the series, apart). After a few seconds the
parent SIGKILLs it, reads the store, and prints the seconds of data lost (recorded by then
minus stored, at the rate recorded; target <= 2 flush intervals) and the flush times, as the
medians of several kills per case.

    python bench/crash_window.py [--kills 3] [--rate 20000] [--endpoints 2000] [--db-dir DIR]
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPORT_EVERY_S = 0.02
TICK_S = 0.005


def child(path: str, rate: int, endpoints: int, busy: bool) -> None:
    """Record at ``rate`` requests/s until killed, reporting counts and flush times."""
    from perf_mcp import Monitor
    from perf_mcp.recording.pending import Pending
    from perf_mcp.storage import Storage

    out = sys.stdout
    lock = threading.Lock()

    def report(line: str) -> None:
        with lock:
            out.write(line + "\n")
            out.flush()

    fold_s = [0.0]  # this flush's fold and take, reported with its write

    def timed(method: Callable[..., Any], kind: str) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args)
            finally:
                elapsed = time.perf_counter() - start
                if kind == "fold":
                    fold_s[0] += elapsed
                else:  # a write that returned or raised: one flush
                    report(f"flush {fold_s[0] * 1000:.1f} {elapsed * 1000:.1f}")
                    fold_s[0] = 0.0

        return run

    Pending.fold = timed(Pending.fold, "fold")  # type: ignore[method-assign]
    Pending.take = timed(Pending.take, "fold")  # type: ignore[method-assign]
    Storage.write = timed(Storage.write, "write")  # type: ignore[method-assign]

    if busy:
        threading.Thread(target=spin, daemon=True).start()
    names = [f"/api/service{i % 20}/resource{i}/{{id}}" for i in range(endpoints)]
    rng = random.Random(1)
    durations = [rng.lognormvariate(3.2, 0.3) for _ in range(9973)]
    monitor = Monitor(path)
    record = monitor.record_request
    report("ready")
    start = time.perf_counter()
    sent = 0
    next_report = start
    while True:
        now = time.perf_counter()
        due = int((now - start) * rate)
        for i in range(sent, due):
            status = 500 if i % 100 == 0 else 200
            record(names[i % endpoints], "GET", status, durations[i % 9973])
        sent = due
        if now >= next_report:
            report(f"recorded {sent} {now - start:.4f}")
            next_report = now + REPORT_EVERY_S
        time.sleep(TICK_S)


def spin() -> None:
    """The app's CPU-bound work: pure Python, holding the GIL as much as it can."""
    while True:
        sum(i * i for i in range(1000))


def one_kill(path: Path, args: argparse.Namespace, busy: bool, after_s: float) -> dict[str, Any]:
    """Run a writer for ``after_s`` seconds, SIGKILL it; what it recorded, flushed and lost."""
    from perf_mcp import Monitor

    writer = subprocess.Popen(
        [sys.executable, __file__, "--child", str(path), str(args.rate), str(args.endpoints)]
        + (["--busy"] if busy else []),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    if writer.stdout.readline().strip() != "ready":
        raise RuntimeError("the writer did not start")
    time.sleep(after_s)
    writer.send_signal(signal.SIGKILL)
    rest, _ = writer.communicate(timeout=60)
    recorded, elapsed, folds, writes = 0, 0.0, [], []
    for line in rest.splitlines():
        word, *values = line.split()
        if word == "recorded":
            recorded, elapsed = int(values[0]), float(values[1])
        elif word == "flush":
            folds.append(float(values[0]))
            writes.append(float(values[1]))
    if not writes:
        raise RuntimeError(f"the writer was killed after {after_s:.1f} s before any flush")
    flushes = [fold + write for fold, write in zip(folds, writes, strict=True)]
    with Monitor(path, start_flusher=False) as reader:
        stored = reader.get_performance_summary("1h").requests.count
    rate = recorded / elapsed
    return {
        "lost_s": (recorded - stored) / rate,
        "rate": rate,
        "first": flushes[0],  # it also creates the 2,000 series
        "flush_median": statistics.median(flushes[1:] or flushes),
        "flush_max": max(flushes[1:] or flushes),
        "fold_median": statistics.median(folds[1:] or folds),
        "write_median": statistics.median(writes[1:] or writes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs per case")
    parser.add_argument("--rate", type=int, default=20_000, help="requests/s recorded")
    parser.add_argument("--endpoints", type=int, default=2000)
    parser.add_argument("--db-dir", type=Path, default=None)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--busy", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, rate, endpoints = args.child
        child(path, int(rate), int(endpoints), args.busy)
        return
    chance = random.Random(7)
    print(
        f"crash window: {args.rate:,} requests/s over {args.endpoints:,} endpoints, "
        f"flush every 1 s, SIGKILL after 3-6 s, {args.kills} kills per case (medians)"
    )
    with tempfile.TemporaryDirectory(dir=args.db_dir) as tmp:
        for label, busy in (("alone", False), ("with a CPU-bound thread", True)):
            runs = [
                one_kill(Path(tmp) / f"{busy}-{k}.db", args, busy, chance.uniform(3, 6))
                for k in range(args.kills)
            ]

            def median(key: str, runs: list[dict[str, Any]] = runs) -> float:
                return statistics.median(run[key] for run in runs)

            print(
                f"  {label:<24} lost {median('lost_s'):.2f} s (worst "
                f"{max(r['lost_s'] for r in runs):.2f} s; target <= 2 intervals)   flush median "
                f"{median('flush_median'):5.0f} ms (fold {median('fold_median'):4.0f} + "
                f"Storage.write {median('write_median'):4.0f}), max "
                f"{max(r['flush_max'] for r in runs):5.0f} ms; first flush (new series) "
                f"{median('first'):5.0f} ms   recorded at {median('rate'):,.0f}/s"
            )


if __name__ == "__main__":
    main()
