"""mcp.json.example: every entry starts or reaches a server that perf-mcp really serves."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from perf_mcp.cli import DEFAULT_HOST, DEFAULT_PORT, build_parser
from tests.e2e.mcp_process import REPO, perf_mcp_command, server_env

EXAMPLE = json.loads((REPO / "mcp.json.example").read_text())
CLIENTS = ["claude_desktop", "claude_desktop_http", "claude_code", "cursor", "vscode"]
DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/mcp"


def servers(client: str) -> dict[str, dict[str, Any]]:
    block = EXAMPLE[client]
    return dict(block.get("mcpServers") or block["servers"])


def test_has_every_client() -> None:
    assert [key for key in EXAMPLE if not key.startswith("_")] == CLIENTS
    assert all("_file" in EXAMPLE[client] for client in CLIENTS)


@pytest.mark.parametrize("client", CLIENTS)
def test_every_entry_is_a_perf_mcp_command_or_the_default_url(client: str) -> None:
    for name, entry in servers(client).items():
        if "url" in entry:
            assert entry["url"] == DEFAULT_URL, name
        elif entry["command"] == "perf-mcp":
            parsed = build_parser().parse_args(entry["args"])
            assert (parsed.command, parsed.transport) == ("serve", "stdio"), name
        else:  # a stdio bridge to the HTTP server
            assert entry["args"][-1] == DEFAULT_URL, name


def test_claude_code_commands_parse() -> None:
    stdio, http = (shlex.split(command) for command in EXAMPLE["claude_code"]["_commands"])
    assert stdio[:2] == ["claude", "mcp"]
    assert build_parser().parse_args(stdio[stdio.index("--") + 2 :]).command == "serve"
    assert http[-1] == DEFAULT_URL


@pytest.mark.anyio
async def test_the_stdio_entry_starts_a_working_server(tmp_path: Path) -> None:
    entry = servers("cursor")["perf-mcp"]
    command, *prefix = perf_mcp_command()
    params = StdioServerParameters(
        command=command,
        args=[*prefix, *entry["args"]],
        env=server_env(PERF_MCP_DB=str(tmp_path / "perf.db")),
    )
    async with Client(params) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
    assert "get_performance_summary" in tools
