"""A plain `pip install .` into a fresh venv serves: every imported dependency is declared.

Undeclared imports hide in a development venv, where test and bench extras bring them (httpx
did: `perf-mcp serve --webhook-url URL` exited with ModuleNotFoundError after a plain install).
One venv, one real install from the package index configured for pip: about 20-40 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from tests.e2e.mcp_process import REPO, STOP_TIMEOUT_S, free_port, wait_for_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

INSTALL_TIMEOUT_S = 300
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
    "*.so", "*.db", "*.db-*", "node_modules", "tests", "bench", "examples",
)  # fmt: skip


def clean_env() -> dict[str, str]:
    """No PYTHONPATH to the checkout and no stray store: only what was installed counts."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PERF_MCP_")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with `pip install <a copy of the sources>`: no -e, no extras."""
    root = tmp_path_factory.mktemp("install")
    source = root / "src"
    shutil.copytree(REPO, source, ignore=NOT_SOURCES)  # the build writes beside its sources
    venv = root / "venv"
    env = clean_env()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(source)],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        env=env,
        cwd=root,
        check=False,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return venv


async def test_plain_install_serves_http_with_a_webhook(installed: Path, tmp_path: Path) -> None:
    port = free_port()
    hook = f"http://127.0.0.1:{free_port()}/hook"
    process = subprocess.Popen(
        [str(installed / "bin" / "perf-mcp"), "serve", "--transport", "http"]
        + ["--port", str(port), "--webhook-url", hook, "--allow-private-webhook"]
        + ["--db", str(tmp_path / "perf.db")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        cwd=tmp_path,
    )
    try:
        wait_for_port(port, process)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            health = await client.call_tool("health_check", {})
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=STOP_TIMEOUT_S)
    assert {"record_requests", "get_performance_summary", "health_check"} <= tools
    assert not health.is_error, health.content
    assert "Traceback" not in stderr, stderr


def test_the_installed_package_is_the_one_that_ran(installed: Path) -> None:
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import perf_mcp; print(perf_mcp.__file__)"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=installed,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(installed)
