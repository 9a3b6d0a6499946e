"""Starting `perf-mcp` as a real subprocess, the way an MCP client or a person does."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from mcp import StdioServerParameters

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def perf_mcp_command() -> list[str]:
    """The installed console script if there is one, else the module (a source checkout)."""
    script = Path(sys.executable).with_name("perf-mcp")
    if script.exists():
        return [str(script)]
    found = shutil.which("perf-mcp")
    return [found] if found else [sys.executable, "-m", "perf_mcp.cli"]


def server_env(**extra: str) -> dict[str, str]:
    """The environment for a child server: this one, importable from a checkout, no stray DB."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERF_MCP_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def stdio_params(db_path: Path, *args: str, **env: str) -> StdioServerParameters:
    command, *prefix = perf_mcp_command()
    return StdioServerParameters(
        command=command,
        args=[*prefix, "serve", "--db", str(db_path), *args],
        env=server_env(**env),
    )


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*perf_mcp_command(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=server_env(),
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read() if process.stderr else ""
            raise RuntimeError(f"perf-mcp exited with {process.returncode}: {stderr}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"perf-mcp did not listen on port {port} in {START_TIMEOUT_S} s")


@contextmanager
def http_server(
    db_path: Path, port: int | None = None, extra: Sequence[str] = (), **env: str
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`perf-mcp serve --transport http` on a free port; yields its /mcp URL and the process."""
    port = port or free_port()
    process = subprocess.Popen(
        [*perf_mcp_command(), "serve", "--transport", "http", "--port", str(port)]
        + ["--db", str(db_path), *extra],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=server_env(**env),
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp", process
    finally:
        stop(process)


def stop(process: subprocess.Popen[str]) -> None:
    """Terminate ``process`` and wait for it, killing it if it does not stop in time."""
    if process.poll() is None:
        process.terminate()
    try:
        process.communicate(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
