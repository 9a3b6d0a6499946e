"""Idle overhead: CPU the real `perf-mcp serve` uses when nobody records or asks anything.

Starts the server on a fresh store with the resource sampler every 1 s and alert evaluation
every 10 s (its background work: sampling, storing samples, evaluating every rule, the
flusher), lets it settle, then measures its CPU time with psutil over ``--seconds`` and
prints it as a percentage of one core. Exits 1 when it is above ``--limit`` (default 2%).

    python bench/idle_overhead.py [--seconds 60] [--transport http|stdio]
    python bench/idle_overhead.py --cmd "perf-mcp serve --transport http --port 9999"
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import psutil


def perf_mcp() -> list[str]:
    """The installed console script, else the module from this checkout."""
    script = Path(sys.executable).with_name("perf-mcp")
    if script.exists():
        return [str(script)]
    found = shutil.which("perf-mcp")
    return [found] if found else [sys.executable, "-m", "perf_mcp.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], log: IO[bytes], timeout_s: float = 30
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            said = log.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"the server exited with {process.returncode}:\n{said}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server did not listen on {port} within {timeout_s:g} s")


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


def measure(
    command: list[str], seconds: float, settle_s: float, port: int | None
) -> tuple[float, float]:
    """(percent of one core, RSS MiB) of ``command`` over ``seconds`` after ``settle_s``.

    stdin stays open and silent, as an MCP client that launched a stdio server and is idle.
    """
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log
        )
        try:
            if port is not None:
                wait_for_port(port, proc, log)
            time.sleep(settle_s)
            watched = psutil.Process(proc.pid)
            cpu0, t0 = cpu_seconds(watched), time.monotonic()
            time.sleep(seconds)
            cpu1, t1 = cpu_seconds(watched), time.monotonic()
            family = [watched, *watched.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in family)
            if proc.poll() is not None:
                raise SystemExit(f"the measured process exited early with {proc.returncode}")
            return 100 * (cpu1 - cpu0) / (t1 - t0), rss / (1 << 20)
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
    parser.add_argument("--alert-interval", type=float, default=10.0)
    parser.add_argument("--transport", choices=("http", "stdio"), default="http")
    parser.add_argument("--cmd", help="measure this command instead of perf-mcp serve")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        port = None
        if args.cmd:
            command = shlex.split(args.cmd)
            what = args.cmd
        else:
            command = [
                *perf_mcp(),
                "serve",
                "--db",
                str(Path(tmp) / "perf.db"),
                "--sample-interval",
                f"{args.sample_interval:g}",
                "--alert-interval",
                f"{args.alert_interval:g}",
            ]
            if args.transport == "http":
                port = free_port()
                command += ["--transport", "http", "--port", str(port)]
            what = (
                f"perf-mcp serve ({args.transport}), sampler every {args.sample_interval:g} s, "
                f"alert evaluation every {args.alert_interval:g} s"
            )
        percent, rss = measure(command, args.seconds, args.settle, port)
    verdict = "ok" if percent < args.limit else "OVER"
    print(f"idle overhead of {what}")
    print(
        f"  cpu: {percent:.2f}% of one core over {args.seconds:g} s "
        f"(limit {args.limit:g}%: {verdict}); rss {rss:.0f} MiB"
    )
    return 0 if percent < args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
