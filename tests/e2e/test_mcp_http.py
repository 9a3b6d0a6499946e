"""`perf-mcp serve --transport http`: one long-running server shared by many clients."""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from tests.e2e.mcp_process import STOP_TIMEOUT_S, free_port, http_server, run_cli
from tests.server.mcp_calls import their_tools

pytestmark = pytest.mark.anyio

CHECKOUT = [
    {"endpoint": "/checkout", "method": "POST", "status_code": 201, "duration_ms": 100.0 + i}
    for i in range(40)
]


async def structured(client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


def stop(process: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> str:
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=STOP_TIMEOUT_S)
    assert process.returncode == 0, stderr
    return stderr


async def test_record_on_one_connection_read_on_another_then_restart(db_path: Path) -> None:
    with http_server(db_path, PERF_MCP_FLUSH_INTERVAL_S="60") as (url, process):
        async with Client(url, mode="legacy") as writer, Client(url, mode="auto") as reader:
            assert (writer.protocol_version, reader.protocol_version) == (
                "2025-11-25",
                "2026-07-28",
            )
            await structured(writer, "record_requests", {"requests": CHECKOUT})
            before = await structured(reader, "get_endpoint_stats", {"method": "POST"})
        # Only the shutdown flush can have written: the flusher runs once a minute.
        stderr = stop(process)
    assert "Traceback" not in stderr

    with http_server(db_path) as (url, _):
        async with Client(url) as again:
            after = await structured(again, "get_endpoint_stats", {"method": "POST"})
    assert after["endpoints"] == before["endpoints"]
    assert after["endpoints"][0]["count"] == 40


async def test_many_clients_at_once(db_path: Path) -> None:
    with http_server(db_path) as (url, _):
        clients = [Client(url, mode="legacy" if i % 2 else "auto") for i in range(6)]
        for client in clients:
            await client.__aenter__()
        try:
            for i, client in enumerate(clients):
                call = {"tool_name": f"tool{i % 3}", "duration_ms": 1.0 + i}
                await structured(client, "record_tool_call", call)
            stats = await structured(clients[0], "get_tool_stats", {"sort_by": "calls"})
        finally:
            for client in reversed(clients):
                await client.__aexit__(None, None, None)
    assert sorted((name, t["calls"]) for name, t in their_tools(stats).items()) == [
        ("tool0", 2),
        ("tool1", 2),
        ("tool2", 2),
    ]


async def test_rejects_a_foreign_host_header(db_path: Path) -> None:
    """DNS-rebinding protection: a page on evil.example cannot drive the local server."""
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {
            "name": "x", "version": "0"
        }},
    }  # fmt: skip
    headers = {"Accept": "application/json, text/event-stream"}
    with http_server(db_path) as (url, _):
        async with httpx.AsyncClient() as http:
            evil = await http.post(
                url, json=initialize, headers={**headers, "Host": "evil.example"}
            )
            origin = {**headers, "Origin": "http://evil.example"}
            cross_site = await http.post(url, json=initialize, headers=origin)
            fine = await http.post(url, json=initialize, headers=headers)
    assert evil.status_code == 421
    assert cross_site.status_code == 403
    assert fine.status_code == 200


def test_port_in_use_names_the_flag(db_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--transport", "http", "--port", str(port), "--db", str(db_path))
    assert result.returncode == 2
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_refuses_a_public_bind_without_auth(db_path: Path) -> None:
    result = run_cli(
        "serve", "--transport", "http", "--host", "0.0.0.0", "--port", str(free_port()),
        "--db", str(db_path),
    )  # fmt: skip
    assert result.returncode == 2
    assert "--host 127.0.0.1" in result.stderr


def test_ctrl_c_stops_cleanly(db_path: Path) -> None:
    with http_server(db_path) as (_, process):
        stderr = stop(process, signal.SIGINT)
    assert "Traceback" not in stderr
