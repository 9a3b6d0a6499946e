"""Docs that cannot drift: the README names every tool, resource, prompt and CLI command,
and its quick-start test command is the one CI runs."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from mcp import Client

from perf_mcp import Monitor
from perf_mcp.cli import build_parser
from perf_mcp.core.models import PerformanceSummary
from perf_mcp.server import build_server

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def fenced_commands(text: str) -> list[str]:
    """The lines of the README's ```bash blocks."""
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


@pytest.mark.anyio
async def test_readme_names_every_tool_resource_and_prompt(monitor: Monitor) -> None:
    async with Client(build_server(monitor)) as client:
        tools = [t.name for t in (await client.list_tools()).tools]
        resources = [str(r.uri) for r in (await client.list_resources()).resources]
        prompts = [p.name for p in (await client.list_prompts()).prompts]
    missing = [name for name in tools + resources + prompts if f"`{name}" not in README]
    assert tools
    assert missing == []


def test_readme_names_every_cli_command() -> None:
    parser = build_parser()
    (subcommands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(subcommands.choices) >= {"serve", "summary"}
    for command in subcommands.choices:
        assert f"`perf-mcp {command}" in README, command


def test_ci_runs_the_readme_test_command() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    install_and_serve, install_and_test = fenced_commands(quick_start)
    assert install_and_serve.startswith("pip install . && perf-mcp serve")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install_and_test in [line.strip() for line in ci]


def test_readme_shows_the_summary_table_as_it_is_sent() -> None:
    (example,) = [
        block
        for block in re.findall(r"```json\n(.*?)```", README, flags=re.S)
        if "columns" in block
    ]
    table = json.loads("{" + example + "}")["slowest_endpoints"]
    summary = PerformanceSummary.model_validate(
        {
            "window": "5m",
            "window_s": 300,
            "generated_at": 0.0,
            "requests": {},
            "agents": {},
            "tools": {},
            "slowest_endpoints": table,
            "most_errors": table,
            "slowest_requests": [],
            "folded_series": {},
        }
    )
    assert summary.model_dump(mode="json")["slowest_endpoints"] == table
