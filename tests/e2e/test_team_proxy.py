"""The README's reverse-proxy snippets (nginx and Caddy) in front of perf-mcp work: an MCP
client reaches the server through each on 127.0.0.1 with the public Host forwarded and its
token passed through (the proxies from Debian: .ci/run installs them; elsewhere a test is
skipped when its proxy is missing, under CI=true it fails)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.mcp_process import free_port, http_server
from tests.e2e.proxies import PROXIES, PUBLIC_HOST, Proxy, proxied, required_binary
from tests.e2e.test_http_access import ACCEPT, FULL, INITIALIZE, bearer, client, structured

pytestmark = pytest.mark.anyio

SESSIONS = 60


@pytest.fixture(params=PROXIES, ids=[proxy.name for proxy in PROXIES])
def proxy(request: pytest.FixtureRequest) -> Proxy:
    installed: Proxy = request.param
    required_binary(installed)
    return installed


async def test_an_mcp_client_works_through_the_readme_snippet(
    proxy: Proxy, db_path: Path, tmp_path: Path
) -> None:
    upstream = free_port()
    extra = ["--token", FULL, "--allowed-host", PUBLIC_HOST]
    with (
        http_server(db_path, port=upstream, extra=extra),
        proxied(proxy, tmp_path, upstream) as url,
    ):
        async with client(url, FULL, host=PUBLIC_HOST) as via:
            await structured(via, "record_tool_call", {"tool_name": "proxied", "duration_ms": 3})
            stats = await structured(via, "get_tool_stats", {"tool_name": "proxied"})
        async with httpx.AsyncClient() as http:
            no_token = await http.post(
                url, json=INITIALIZE, headers={**ACCEPT, "Host": PUBLIC_HOST}
            )
    assert stats["tools"][0]["calls"] == 1
    assert no_token.status_code == 401  # the proxy lets nobody in without the token


async def test_every_answer_comes_through(proxy: Proxy, db_path: Path, tmp_path: Path) -> None:
    """Many short sessions in a row each get their server-sent answers. Caddy 2.6 without
    `buffer_requests` cut about one answer in 30 ("SSE stream ended without a response"):
    Go's HTTP/1 server closed the request body under the upstream write when the answer's
    headers came first, and Caddy dropped the upstream connection mid-answer."""
    upstream = free_port()
    extra = ["--token", FULL, "--allowed-host", PUBLIC_HOST]
    with (
        http_server(db_path, port=upstream, extra=extra),
        proxied(proxy, tmp_path, upstream) as url,
    ):
        for _ in range(SESSIONS):  # a new session (and connection) is where it bit most
            async with client(url, FULL, host=PUBLIC_HOST) as via:
                await structured(via, "record_tool_call", {"tool_name": "row", "duration_ms": 1})
        async with client(url, FULL, host=PUBLIC_HOST) as via:
            stats = await structured(via, "get_tool_stats", {"tool_name": "row"})
    assert stats["tools"][0]["calls"] == SESSIONS


async def test_the_public_host_must_be_listed(proxy: Proxy, db_path: Path, tmp_path: Path) -> None:
    """Without --allowed-host the forwarded public Host is refused (421), as the README says."""
    upstream = free_port()
    with (
        http_server(db_path, port=upstream, extra=["--token", FULL]),
        proxied(proxy, tmp_path, upstream) as url,
    ):
        async with httpx.AsyncClient() as http:
            refused = await http.post(
                url, json=INITIALIZE, headers={**ACCEPT, **bearer(FULL), "Host": PUBLIC_HOST}
            )
    assert refused.status_code == 421
