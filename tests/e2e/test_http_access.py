"""One HTTP server for a team: tokens, Host/Origin allow-list, /health, safe webhooks.

Each test starts the real `perf-mcp serve --transport http` and calls it over real HTTP:
raw routes with httpx, tools with the SDK's Client sending the Authorization header.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import Implementation

from tests.e2e.mcp_process import (
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    free_port,
    http_server,
    perf_mcp_command,
    run_cli,
    server_env,
)

pytestmark = pytest.mark.anyio

FULL = "full-token-for-the-tests-0123456789"
READ = "read-token-for-the-tests-0123456789"
ACCEPT = {"Accept": "application/json, text/event-stream"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {
        "name": "raw", "version": "0"
    }},
}  # fmt: skip
CALL = {"tool_name": "search", "duration_ms": 12.5}


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with both tokens (the full one from a file) and one extra Host and Origin."""
    tmp = tmp_path_factory.mktemp("team")
    token_file = tmp / "token"
    token_file.write_text(FULL + "\n")
    extra = ["--token-file", str(token_file), "--allowed-host", "perf.example.com"]
    extra += ["--toolsets", "all"]
    extra += ["--allowed-origin", "https://dash.example.com"]
    with http_server(tmp / "perf.db", extra=extra, PERF_MCP_READ_TOKEN=READ) as (url, _):
        yield url


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def client(
    url: str, token: str, mode: str = "legacy", host: str | None = None
) -> AsyncIterator[Client]:
    """The SDK's client over HTTP, sending the token, the name "team-bot" and, when given, a
    Host header other than the URL's (a public name in front of a proxy)."""
    headers = bearer(token) | ({"Host": host} if host else {})
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(
            streamable_http_client(url, http_client=http),
            mode=mode,
            client_info=Implementation(name="team-bot", version="1.0"),
        ) as connected,
    ):
        yield connected


async def structured(connected: Client, tool: str, arguments: dict[str, Any]) -> Any:
    result = await connected.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def refusal(connected: Client, tool: str, arguments: dict[str, Any]) -> str:
    result = await connected.call_tool(tool, arguments)
    assert result.is_error
    return " ".join(getattr(part, "text", "") for part in result.content)


async def test_no_token_or_a_wrong_one_gets_401_with_a_bearer_challenge(team_server: str) -> None:
    async with httpx.AsyncClient() as http:
        missing = await http.post(team_server, json=INITIALIZE, headers=ACCEPT)
        wrong = await http.post(
            team_server, json=INITIALIZE, headers={**ACCEPT, **bearer(FULL[:-1] + "x")}
        )
        other_route = await http.get(team_server.replace("/mcp", "/anything"))
        right = await http.post(team_server, json=INITIALIZE, headers={**ACCEPT, **bearer(FULL)})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="perf-mcp"'
    assert "no token was sent" in missing.json()["detail"]
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert other_route.status_code == 401
    assert right.status_code == 200


async def test_health_is_open_and_tells_token_holders_more(team_server: str) -> None:
    health = team_server.replace("/mcp", "/health")
    async with httpx.AsyncClient() as http:
        anonymous = await http.get(health)
        wrong = await http.get(health, headers=bearer("not-the-token-at-all"))
        reader = await http.get(health, headers=bearer(READ))
    assert anonymous.status_code == 200
    assert anonymous.json() in ({"status": "ok"}, {"status": "degraded"})
    assert wrong.json().keys() == {"status"}
    assert reader.status_code == 200
    assert {"status", "components", "db_path"} <= reader.json().keys()


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_read_token_queries_but_cannot_write(team_server: str, mode: str) -> None:
    async with client(team_server, READ, mode) as reader:
        before = await structured(reader, "get_tool_stats", {"tool_name": "readonly"})
        record = await refusal(reader, "record_tool_call", {**CALL, "tool_name": "readonly"})
        change = await refusal(reader, "set_threshold", {"name": "tool_error_rate", "value": 0.5})
        ack = await refusal(reader, "acknowledge_alert", {"alert_id": 1})
        deploy = await refusal(reader, "mark_deploy", {"version": "v-by-a-reader"})
        dry = await structured(
            reader, "set_threshold", {"name": "tool_error_rate", "value": 0.5, "dry_run": True}
        )
        after = await structured(reader, "get_tool_stats", {"tool_name": "readonly"})
    for refused, tool in [(record, "record_tool_call"), (change, "set_threshold")]:
        assert f"forbidden: {tool}" in refused
        assert "read token may only query" in refused
        assert "--token" in refused
    assert "forbidden: acknowledge_alert" in ack
    assert "forbidden: mark_deploy" in deploy
    assert dry["dry_run"] is True
    assert before["tools"] == after["tools"] == []


async def test_the_full_token_does_everything_and_is_named_in_the_audit(db_path: Path) -> None:
    tokens = ["--token", FULL, "--read-token", READ, "--toolsets", "all"]
    with http_server(db_path, extra=tokens) as (url, process):
        async with client(url, FULL) as writer:
            await structured(writer, "record_tool_call", CALL)
            stats = await structured(writer, "get_tool_stats", {"tool_name": "search"})
            change = {"name": "agent_avg_time_ms", "value": 900}
            changed = await structured(writer, "set_threshold", change)
        process.terminate()
        _, stderr = process.communicate(timeout=STOP_TIMEOUT_S)
    assert stats["tools"][0]["calls"] == 1
    assert changed["current"]["warning"] == 900
    assert "threshold agent_avg_time_ms for every subject set to warning=900" in stderr
    assert "by full token (client says it is 'team-bot')" in stderr


async def test_foreign_host_and_origin_are_refused_listed_ones_accepted(team_server: str) -> None:
    port = team_server.split(":")[2].split("/")[0]
    headers = {**ACCEPT, **bearer(FULL)}
    cases = {
        "foreign host": ({"Host": "evil.example"}, 421),
        "listed host": ({"Host": "perf.example.com"}, 200),
        "bound address": ({"Host": f"127.0.0.1:{port}"}, 200),
        "another local port": ({"Origin": "http://localhost:9999"}, 403),
        "foreign origin": ({"Origin": "https://evil.example"}, 403),
        "listed origin": ({"Origin": "https://dash.example.com"}, 200),
        "same origin": ({"Origin": f"http://localhost:{port}"}, 200),
    }
    statuses = {}
    async with httpx.AsyncClient() as http:
        for case, (extra, _) in cases.items():
            answer = await http.post(team_server, json=INITIALIZE, headers={**headers, **extra})
            statuses[case] = answer.status_code
    assert statuses == {case: status for case, (_, status) in cases.items()}


def test_a_public_bind_without_a_token_refuses_and_names_token(db_path: Path) -> None:
    result = run_cli(
        "serve", "--transport", "http", "--host", "0.0.0.0", "--port", str(free_port()),
        "--db", str(db_path),
    )  # fmt: skip
    assert result.returncode == 2
    assert "--token" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_non_loopback_bind_with_a_token_serves(db_path: Path, tmp_path: Path) -> None:
    """127.0.0.2 is not one of the loopback names, so it needs a token (and stays local)."""
    port = free_port()
    token_file = tmp_path / "token"
    token_file.write_text(FULL)
    command = [*perf_mcp_command(), "serve", "--transport", "http", "--host", "127.0.0.2"]
    command += ["--port", str(port), "--db", str(db_path)]
    refused = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=server_env(), check=False
    )
    assert refused.returncode == 2
    assert "--token" in refused.stderr
    process = subprocess.Popen(
        [*command, "--token-file", str(token_file)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=server_env(),
    )
    try:
        health = _wait_for_health(f"http://127.0.0.2:{port}/health", process)
        initialize = httpx.post(
            f"http://127.0.0.2:{port}/mcp", json=INITIALIZE, headers={**ACCEPT, **bearer(FULL)}
        )
    finally:
        process.terminate()
        process.communicate(timeout=STOP_TIMEOUT_S)
    assert health.status_code == 200
    assert initialize.status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1:9/hook",
        "http://10.0.0.5/hook",
        "http://[::1]:9/hook",
        "http://metadata.google.internal/x",
    ],
)
def test_a_private_webhook_target_is_refused_unless_allowed(db_path: Path, url: str) -> None:
    result = run_cli("serve", "--db", str(db_path), "--webhook-url", url, timeout=30)
    assert result.returncode == 2
    assert "--allow-private-webhook" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_webhook_url_credentials_are_never_echoed(db_path: Path) -> None:
    url = "http://user:hunter2hunter2@127.0.0.1:9/services/SECRETPATH"
    result = run_cli("serve", "--db", str(db_path), "--webhook-url", url, timeout=30)
    assert result.returncode == 2
    assert "hunter2" not in result.stderr
    assert "SECRETPATH" not in result.stderr
    assert "http://127.0.0.1:9/..." in result.stderr


def test_token_prints_a_strong_new_token_each_time() -> None:
    first, second = run_cli("token"), run_cli("token")
    assert first.returncode == second.returncode == 0
    assert len(first.stdout.strip()) >= 43
    assert first.stdout != second.stdout


def test_a_weak_token_is_refused_with_the_fix(db_path: Path) -> None:
    result = run_cli("serve", "--transport", "http", "--token", "short", "--db", str(db_path))
    assert result.returncode == 2
    assert "at least 16" in result.stderr
    assert "perf-mcp token" in result.stderr


def _wait_for_health(url: str, process: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"perf-mcp exited: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(url)
