"""Decorator overhead: a trivial function undecorated, under @monitor_tool and @monitor_agent.

Prints CPU µs per call (of this thread, so other processes on a shared machine don't count)
and the added cost next to the undecorated call, for sync and async functions, a tool called
inside a monitored agent run (it joins the run), and the ``with`` forms. Recording goes to a
real Monitor on a temporary SQLite file with its flusher running.

    python bench/decorators.py [--calls 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from perf_mcp import Monitor
from perf_mcp.integrations import monitor_agent, monitor_tool


class NoopRecorder:
    """Takes every record and keeps nothing: what is left is the decorators' own cost."""

    def record_tool_call(self, *args: object, **kwargs: object) -> None:
        pass

    def record_agent_run(self, *args: object, **kwargs: object) -> None:
        pass


def cases(monitor: Monitor) -> dict[str, tuple[Callable[[int], float], str]]:
    """Name -> (loop of n calls returning CPU seconds, the baseline it is compared with)."""

    def plain(x: int) -> int:
        return x + 1

    async def plain_async(x: int) -> int:
        return x + 1

    tool = monitor_tool("add", monitor=monitor)(plain)
    tool_async = monitor_tool("add_async", monitor=monitor)(plain_async)
    agent = monitor_agent("adder", monitor=monitor)(plain)
    agent_async = monitor_agent("adder_async", monitor=monitor)(plain_async)

    def sync_loop(func: Callable[[int], int]) -> Callable[[int], float]:
        def loop(n: int) -> float:
            start = time.thread_time()
            for i in range(n):
                func(i)
            return time.thread_time() - start

        return loop

    def async_loop(func: Callable[[int], object]) -> Callable[[int], float]:
        async def run(n: int) -> float:
            start = time.thread_time()
            for i in range(n):
                await func(i)  # type: ignore[misc]
            return time.thread_time() - start

        return lambda n: asyncio.run(run(n))

    def tool_in_run(n: int) -> float:
        # One run holds at most 1000 tool calls: a run per 1000 calls, its recording included.
        runs = max(1, n // 1000)
        start = time.thread_time()
        for _ in range(runs):
            with monitor_agent("looper", monitor=monitor):
                for i in range(1000):
                    tool(i)
        return (time.thread_time() - start) * n / (runs * 1000)

    def with_tool(n: int) -> float:
        context = monitor_tool("block", monitor=monitor)
        start = time.thread_time()
        for _ in range(n):
            with context:
                pass
        return time.thread_time() - start

    def empty_with(n: int) -> float:
        start = time.thread_time()
        for _ in range(n):
            pass
        return time.thread_time() - start

    return {
        "undecorated sync": (sync_loop(plain), ""),
        "@monitor_tool sync": (sync_loop(tool), "undecorated sync"),
        "@monitor_tool sync, inside a run": (tool_in_run, "undecorated sync"),
        "@monitor_agent sync": (sync_loop(agent), "undecorated sync"),
        "undecorated async": (async_loop(plain_async), ""),
        "@monitor_tool async": (async_loop(tool_async), "undecorated async"),
        "@monitor_agent async": (async_loop(agent_async), "undecorated async"),
        "empty loop": (empty_with, ""),
        "with monitor_tool(...)": (with_tool, "empty loop"),
    }


def measure(monitor: Monitor, calls: int, rounds: int) -> dict[str, float]:
    """Median CPU seconds per call of each case."""
    loops = cases(monitor)
    samples: dict[str, list[float]] = {name: [] for name in loops}
    for loop, _ in loops.values():
        loop(1000)  # warm up
    for _ in range(rounds):
        for name, (loop, _) in loops.items():
            gc.collect()
            samples[name].append(loop(calls) / calls)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=100_000, help="per case per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    db = Path(tempfile.mkdtemp(prefix="perf-mcp-bench-")) / "perf.db"
    with Monitor(db, flush_interval_s=1.0) as monitor:
        real = measure(monitor, args.calls, args.rounds)
        baselines = {name: baseline for name, (_, baseline) in cases(monitor).items()}
    own = measure(NoopRecorder(), args.calls, args.rounds)  # type: ignore[arg-type]

    print(f"python {sys.version.split()[0]}; {args.calls} calls x {args.rounds} rounds, median")
    print(f"  {'case':36} {'µs/call':>8} {'added µs':>9} {'decorator alone':>16}")
    for name, baseline in baselines.items():
        if not baseline:
            print(f"  {name:36} {real[name] * 1e6:8.2f}")
            continue
        added = (real[name] - real[baseline]) * 1e6
        alone = (own[name] - own[baseline]) * 1e6
        print(f"  {name:36} {real[name] * 1e6:8.2f} {added:+9.2f} {alone:+16.2f}")
    print("  (decorator alone: the same calls with a recorder that keeps nothing)")


if __name__ == "__main__":
    main()
