"""Start-up, timed the way an MCP client sees it, next to a minimal server on the same SDK.

Each run spawns the server, writes one `initialize` request to its stdin and stops the clock
when the answer's line arrives on stdout; then closes stdin and waits for the exit. Both
servers are started the same way: their console-script-style entry (`perf-mcp serve`, and
`python bench/startup_minimal.py`). Imports are timed as `python -c "import X"` wall time,
next to `import prometheus_client` (python's own start-up included in both).

    python bench/startup.py [--runs 15]

Target: `perf-mcp serve` answers `initialize` within 1.5x of the minimal server (shown with
and without pydantic plugins, see PLUGINS_OFF).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TARGET_RATIO = 1.5
HERE = Path(__file__).resolve().parent
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "bench-startup", "version": "0"},
    },
}
IMPORTS = ("perf_mcp", "perf_mcp.integrations", "prometheus_client")
# logfire's pydantic plugin is installed with perf-mcp, so the minimal server in the same venv
# loads it on its first model (perf-mcp skips it when idle): the stricter peer runs without.
PLUGINS_OFF = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}
NO_PLUGINS = "minimal MCPServer, no pydantic plugins"
PEERS = ("perf-mcp serve", "minimal MCPServer", NO_PLUGINS)


def perf_mcp_command() -> list[str]:
    script = Path(sys.executable).with_name("perf-mcp")
    found = str(script) if script.exists() else shutil.which("perf-mcp")
    return [found] if found else [sys.executable, "-m", "perf_mcp.cli"]


def time_to_initialize(command: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning ``command`` to the answer to `initialize` on its stdout."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
    process.stdin.flush()
    answer = json.loads(process.stdout.readline())
    elapsed = time.perf_counter() - start
    assert "result" in answer, answer
    process.stdin.close()
    process.wait(timeout=30)
    return elapsed


def time_command(command: list[str], env: dict[str, str]) -> float:
    # python -c puts the working directory first on sys.path: run where it holds no package.
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, cwd=tempfile.gettempdir())
    return time.perf_counter() - start


def median_ms(runs: int, measure: Callable[..., float], *args: object) -> float:
    return statistics.median(measure(*args) for _ in range(runs)) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per measurement (median)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERF_MCP_")}

    with tempfile.TemporaryDirectory() as tmp:
        serve = [*perf_mcp_command(), "serve", "--db", str(Path(tmp) / "perf.db")]
        minimal = [sys.executable, str(HERE / "startup_minimal.py")]
        time_to_initialize(serve, env)  # create the store, warm the OS caches
        time_to_initialize(minimal, env)
        runs: dict[str, list[float]] = {name: [] for name in PEERS}
        for _ in range(args.runs):  # alternate, so a busy moment hits all three
            runs["perf-mcp serve"].append(time_to_initialize(serve, env))
            runs["minimal MCPServer"].append(time_to_initialize(minimal, env))
            runs[NO_PLUGINS].append(time_to_initialize(minimal, {**env, **PLUGINS_OFF}))
    ms = {name: statistics.median(times) * 1000 for name, times in runs.items()}

    print(f"start-up to the answer to initialize over stdio, median of {args.runs} runs")
    for name in PEERS:
        print(f"  {name:40}{ms[name]:8.1f} ms")
    for peer in PEERS[1:]:
        ratio = ms["perf-mcp serve"] / ms[peer]
        verdict = "ok" if ratio <= TARGET_RATIO else "OVER TARGET"
        print(f"  ratio to {peer:31}{ratio:8.2f}x  (target <= {TARGET_RATIO}x: {verdict})")

    print(f"\nimport time, python -c 'import X' wall time, median of {args.runs} runs")
    times = {}
    for module in ("", *IMPORTS):
        code = f"import {module}" if module else "pass"
        times[module] = median_ms(args.runs, time_command, [sys.executable, "-c", code], env)
    peer_import = times["prometheus_client"]
    print(f"  {'python -c pass':24}{times['']:8.1f} ms")
    for module in IMPORTS:
        ratio = times[module] / peer_import
        print(f"  {module:24}{times[module]:8.1f} ms  {ratio:5.2f}x prometheus_client")
    return 0


if __name__ == "__main__":
    sys.exit(main())
