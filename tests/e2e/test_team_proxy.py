"""The README's nginx snippet in front of perf-mcp works: an MCP client reaches the server
through nginx on 127.0.0.1 with the public Host forwarded (nginx from Debian: .ci/run installs
it; elsewhere the test is skipped when there is no nginx)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.mcp_process import REPO, STOP_TIMEOUT_S, free_port, http_server, wait_for_port
from tests.e2e.test_http_access import ACCEPT, FULL, INITIALIZE, bearer, client, structured

pytestmark = pytest.mark.anyio

PUBLIC_HOST = "perf.example.com"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def readme_snippet() -> str:
    """The ```nginx block of the README's team section, as a reader copies it."""
    found = re.search(r"```nginx\n(.*?)```", (REPO / "README.md").read_text(), re.DOTALL)
    assert found, "the README shows an nginx snippet"
    return found.group(1)


@pytest.fixture
def nginx() -> str:
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    return NGINX


@contextmanager
def proxied(nginx: str, tmp: Path, upstream: int) -> Iterator[str]:
    """nginx in the foreground (one process, its files under ``tmp``) with the README's
    snippet in front of 127.0.0.1:``upstream``; yields the proxied /mcp URL."""
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(nginx_conf(readme_snippet(), port, upstream, tmp))
    proxy = subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(tmp)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port, proxy)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proxy.terminate()
        proxy.communicate(timeout=STOP_TIMEOUT_S)


def nginx_conf(snippet: str, listen: int, upstream: int, tmp: Path) -> str:
    temp = " ".join(
        f"{kind}_temp_path {tmp}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    location = snippet.replace("127.0.0.1:8765", f"127.0.0.1:{upstream}")
    return (
        f"daemon off; master_process off; pid {tmp}/nginx.pid; error_log {tmp}/error.log;\n"
        "events {}\n"
        f"http {{ access_log off; {temp}\n"
        f"  server {{ listen 127.0.0.1:{listen}; server_name {PUBLIC_HOST};\n{location}\n  }}\n}}\n"
    )


async def test_an_mcp_client_works_through_the_readme_nginx_snippet(
    nginx: str, db_path: Path, tmp_path: Path
) -> None:
    upstream = free_port()
    extra = ["--token", FULL, "--allowed-host", PUBLIC_HOST]
    with (
        http_server(db_path, port=upstream, extra=extra),
        proxied(nginx, tmp_path, upstream) as url,
    ):
        async with client(url, FULL, host=PUBLIC_HOST) as via:
            await structured(via, "record_tool_call", {"tool_name": "proxied", "duration_ms": 3})
            stats = await structured(via, "get_tool_stats", {"tool_name": "proxied"})
    assert stats["tools"][0]["calls"] == 1


async def test_the_public_host_must_be_listed(nginx: str, db_path: Path, tmp_path: Path) -> None:
    """Without --allowed-host the forwarded public Host is refused (421), as the README says."""
    upstream = free_port()
    with (
        http_server(db_path, port=upstream, extra=["--token", FULL]),
        proxied(nginx, tmp_path, upstream) as url,
    ):
        async with httpx.AsyncClient() as http:
            refused = await http.post(
                url, json=INITIALIZE, headers={**ACCEPT, **bearer(FULL), "Host": PUBLIC_HOST}
            )
    assert refused.status_code == 421
