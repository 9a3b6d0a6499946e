"""Idle overhead: CPU used by perf-mcp's background work when nothing is being recorded.

Starts a child process that holds a Monitor on a fresh file, the resource sampler every
1 s and the alert manager every 10 s (or any command given with ``--cmd``, e.g. the server),
lets it settle, then measures the child's CPU time with psutil over ``--seconds`` and prints
it as a percentage of one core. Exits 1 when it is above ``--limit`` (default 2%).

    python bench/idle_overhead.py [--seconds 60] [--cmd "perf-mcp serve --transport http"]
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil


def child(db: str, sample_interval_s: float, eval_interval_s: float) -> None:
    """The process being measured: the background work of a server, and nothing else."""
    import anyio
    import logfire

    from perf_mcp import Monitor
    from perf_mcp.alerting import AlertManager, monitor_source
    from perf_mcp.sampler import ResourceSample, ResourceSampler

    logfire.configure(send_to_logfire=False, console=False)
    kept: list[ResourceSample] = []

    def sink(sample: ResourceSample) -> None:  # stands in for the store until it takes samples
        kept.append(sample)
        del kept[:-100]

    async def main() -> None:
        with Monitor(db) as monitor:
            async with ResourceSampler(sink, interval_s=sample_interval_s) as sampler:
                source = monitor_source(monitor, sampler)
                async with AlertManager(source, interval_s=eval_interval_s):
                    print("ready", flush=True)
                    await anyio.sleep_forever()

    anyio.run(main)


def cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU of a process and its children."""
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def measure(command: list[str], seconds: float, settle_s: float) -> tuple[float, float]:
    """(percent of one core, RSS MiB) of ``command`` over ``seconds`` after ``settle_s``."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        if command[-1] == "--child":
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise SystemExit(f"the child did not start: exit code {proc.wait()}")
        time.sleep(settle_s)
        watched = psutil.Process(proc.pid)
        cpu0, t0 = cpu_seconds(watched), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = cpu_seconds(watched), time.monotonic()
        rss = watched.memory_info().rss / (1 << 20)
        if proc.poll() is not None:
            raise SystemExit(f"the measured process exited early with {proc.returncode}")
        return 100 * (cpu1 - cpu0) / (t1 - t0), rss
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measurement length")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--limit", type=float, default=2.0, help="percent of one core allowed")
    parser.add_argument("--sample-interval", type=float, default=1.0)
    parser.add_argument("--eval-interval", type=float, default=10.0)
    parser.add_argument("--cmd", help="measure this command instead of the built-in child")
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.db, args.sample_interval, args.eval_interval)
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "perf.db")
        if args.cmd:
            command = shlex.split(args.cmd)
            what = args.cmd
        else:
            command = [
                sys.executable,
                os.path.abspath(__file__),
                "--db",
                db,
                "--sample-interval",
                str(args.sample_interval),
                "--eval-interval",
                str(args.eval_interval),
                "--child",
            ]
            what = (
                f"Monitor + sampler every {args.sample_interval:g} s + alert evaluation "
                f"every {args.eval_interval:g} s"
            )
        percent, rss = measure(command, args.seconds, args.settle)
    verdict = "ok" if percent < args.limit else "OVER"
    print(f"idle overhead of {what}")
    print(
        f"  cpu: {percent:.2f}% of one core over {args.seconds:g} s "
        f"(limit {args.limit:g}%: {verdict}); rss {rss:.0f} MiB"
    )
    return 0 if percent < args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
