"""Toolsets: a server lists what an assistant needs first; the rest is one setting away."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from perf_mcp import Monitor
from perf_mcp.cli import build_parser
from perf_mcp.config import Settings
from perf_mcp.server import build_server
from perf_mcp.toolsets import DEFAULT, TOOLS, TOOLSETS, chosen_tools
from tests.e2e.mcp_process import run_cli
from tests.server.mcp_calls import call_ok

pytestmark = pytest.mark.anyio


async def listed(monitor: Monitor, toolsets: str | None = None) -> tuple[list[str], str]:
    """The tools a server lists and its instructions."""
    async with Client(build_server(monitor, toolsets=toolsets)) as client:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        return tools, client.instructions or ""


async def test_the_default_lists_core_and_record_and_says_how_to_turn_on_the_rest(
    monitor: Monitor,
) -> None:
    tools, instructions = await listed(monitor)
    assert DEFAULT == ("core", "record")
    assert tools == [name for name, (toolset, _) in TOOLS.items() if toolset in DEFAULT]
    assert {"get_performance_summary", "record_agent_run"} <= set(tools)
    assert "set_threshold" not in tools
    for off in set(TOOLSETS) - set(DEFAULT):
        assert f"{off} (" in instructions
    assert "turns them on with --toolsets all or PERF_MCP_TOOLSETS=all" in instructions


async def test_all_lists_every_tool_of_the_table_and_each_answers(monitor: Monitor) -> None:
    tools, instructions = await listed(monitor, "all")
    assert tools == list(TOOLS)
    assert "Off here" not in instructions
    async with Client(build_server(monitor, toolsets="all")) as client:
        assert (await call_ok(client, "explain"))["window"] == "1h"
        assert "thresholds" in await call_ok(client, "list_thresholds")


async def test_toolsets_are_chosen_by_name_in_any_case_and_order(monitor: Monitor) -> None:
    tools, _ = await listed(monitor, " Investigate ,core")
    assert set(tools) == set(chosen_tools(["core"])) | {"explain", "compare_windows", "mark_deploy"}


async def test_the_environment_variable_chooses_them(
    monitor: Monitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERF_MCP_TOOLSETS", "admin,resources")
    settings = Settings()
    assert settings.toolsets == ["admin", "resources"]
    async with Client(build_server(monitor, settings=settings)) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
    assert tools == {"set_threshold", "acknowledge_alert", "get_resource_usage"}


def test_an_unknown_toolset_is_refused_with_the_allowed_names(monitor: Monitor) -> None:
    with pytest.raises(ValueError, match="unknown toolset 'dashboards'; allowed: core, record"):
        build_server(monitor, toolsets="core,dashboards")


def test_serve_refuses_an_unknown_toolset_and_names_the_allowed_ones(tmp_path: Path) -> None:
    done = run_cli("serve", "--db", str(tmp_path / "perf.db"), "--toolsets", "core,nope")
    assert done.returncode == 2
    assert "--toolsets (or PERF_MCP_TOOLSETS): unknown toolset 'nope'" in done.stderr
    assert (
        "allowed: core, record, investigate, admin, resources, slo, dashboard, all" in done.stderr
    )
    assert done.stdout == ""


def test_the_serve_help_names_every_toolset(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    toolsets = help_text.split("--toolsets NAMES", 2)[-1]
    for name in [*TOOLSETS, "all"]:
        assert name in toolsets
