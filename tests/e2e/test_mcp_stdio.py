"""`perf-mcp serve` over stdio, launched the way Claude Desktop or Cursor launch it."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from perf_mcp import Monitor
from tests.e2e.mcp_process import STOP_TIMEOUT_S, perf_mcp_command, server_env, stdio_params
from tests.server.mcp_calls import their_tools

pytestmark = pytest.mark.anyio

PROTOCOLS = ["legacy", "auto"]
SEARCH = [
    {"endpoint": "/search", "status_code": 200 if i % 10 else 500, "duration_ms": 5.0 + i}
    for i in range(50)
]


async def structured(client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_record_in_one_process_read_in_the_next(db_path: Path, protocol: str) -> None:
    params = stdio_params(db_path)
    async with Client(params, mode=protocol) as writer:
        await structured(writer, "record_requests", {"requests": SEARCH})
        run = {"agent_name": "triage", "duration_ms": 900, "tool_calls": [
            {"tool_name": "grep", "duration_ms": 40}
        ]}  # fmt: skip
        await structured(writer, "record_agent_run", run)
        before = await structured(writer, "get_endpoint_stats", {"endpoint": "/search"})

    async with Client(params, mode=protocol) as reader:
        after = await structured(reader, "get_endpoint_stats", {"endpoint": "/search"})
        agents = await structured(reader, "get_agent_stats", {})
        tools = await structured(reader, "get_tool_stats", {})

    assert after["endpoints"] == before["endpoints"]
    (search,) = after["endpoints"]
    assert (search["count"], search["error_count"]) == (50, 5)
    assert [(a["agent_name"], a["runs"]) for a in agents["agents"]] == [("triage", 1)]
    assert [(name, t["calls"]) for name, t in their_tools(tools).items()] == [("grep", 1)]
    # What each perf-mcp tool the writer called cost its conversation, in the answer's size
    own = {t["tool_name"]: t for t in tools["tools"] if t["tool_name"] not in their_tools(tools)}
    text = json.dumps(before, separators=(",", ":"), ensure_ascii=False)  # the answer's text
    assert own["get_endpoint_stats"]["result_chars_mean"] == pytest.approx(len(text), rel=0.005)
    assert own["record_agent_run"]["result_tokens_mean"] > 0


async def test_two_processes_on_one_store_see_each_other(db_path: Path) -> None:
    async with (
        Client(stdio_params(db_path)) as first,
        Client(stdio_params(db_path), mode="legacy") as second,
    ):
        await structured(first, "record_tool_call", {"tool_name": "fetch", "duration_ms": 7})
        deadline = time.monotonic() + 10  # the writer's flusher runs every second
        calls = 0
        while calls != 1 and time.monotonic() < deadline:
            stats = await structured(second, "get_tool_stats", {"tool_name": "fetch"})
            calls = sum(t["calls"] for t in stats["tools"])
        assert calls == 1


def _rpc(id_: int, method: str, params: dict[str, Any]) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}) + "\n"


INITIALIZE = _rpc(
    1,
    "initialize",
    {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"},
    },
)
INITIALIZED = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n"


def _start_raw(db_path: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*perf_mcp_command(), "serve", "--db", str(db_path), "--log-level", "DEBUG"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=server_env(**env),
    )


def _read_response(process: subprocess.Popen[str], id_: int) -> dict[str, Any]:
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        assert line, "server closed stdout"
        message = json.loads(line)
        if message.get("id") == id_:
            return dict(message)


def test_stdout_carries_nothing_but_protocol(db_path: Path) -> None:
    process = _start_raw(db_path)
    requests = [
        INITIALIZE,
        INITIALIZED,
        _rpc(2, "tools/list", {}),
        _rpc(3, "tools/call", {"name": "get_performance_summary", "arguments": {"window": "2m"}}),
        _rpc(4, "tools/call", {"name": "record_requests", "arguments": {"requests": SEARCH}}),
        _rpc(5, "resources/read", {"uri": "perf://summary"}),
    ]
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write("".join(requests))
    process.stdin.flush()
    lines = []
    while len([line for line in lines if '"id"' in line]) < 5:
        lines.append(process.stdout.readline())
        assert lines[-1], "server closed stdout early"
    stdout, stderr = process.communicate(timeout=60)  # closes stdin: the client is done

    assert process.returncode == 0, stderr
    lines += stdout.splitlines()
    messages = [json.loads(line) for line in lines]  # every line is JSON...
    assert all(m["jsonrpc"] == "2.0" for m in messages)  # ...and JSON-RPC
    by_id = {m["id"]: m for m in messages if "id" in m}
    assert set(by_id) == {1, 2, 3, 4, 5}
    assert by_id[3]["result"]["isError"] is True
    assert by_id[4]["result"]["structuredContent"] == {"recorded": 50, "kind": "request"}
    assert "DEBUG" in stderr  # the logs went somewhere else


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_with_stdin_open_flushes_and_exits(db_path: Path, sig: signal.Signals) -> None:
    # A 60 s flush interval: only the shutdown flush can have written the batch.
    process = _start_raw(db_path, PERF_MCP_FLUSH_INTERVAL_S="60")
    assert process.stdin is not None
    process.stdin.write(INITIALIZE)
    process.stdin.flush()
    _read_response(process, 1)
    call = {"name": "record_requests", "arguments": {"requests": SEARCH}}
    process.stdin.write(INITIALIZED + _rpc(2, "tools/call", call))
    process.stdin.flush()
    assert _read_response(process, 2)["result"]["isError"] is False

    started = time.monotonic()
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=STOP_TIMEOUT_S)
    assert time.monotonic() - started < STOP_TIMEOUT_S
    assert process.returncode == 0, stderr
    with Monitor(db_path, start_flusher=False) as reader:
        assert reader.get_performance_summary("5m").requests.count == 50
