"""Tool schemas say what a client needs in as few tokens as say it, and still hold every answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from mcp import Client

from tests.server.mcp_calls import QUERY_TOOLS, call_ok

pytestmark = pytest.mark.anyio


def nodes(schema: Any) -> Iterator[dict[str, Any]]:
    """Every schema node, property names skipped."""
    if isinstance(schema, list):
        for item in schema:
            yield from nodes(item)
    elif isinstance(schema, dict):
        yield schema
        for key, value in schema.items():
            if key in ("properties", "$defs"):
                for sub in value.values():
                    yield from nodes(sub)
            else:
                yield from nodes(value)


async def test_output_schemas_keep_types_and_shapes_only(client: Client) -> None:
    for tool in (await client.list_tools()).tools:
        assert tool.output_schema is not None, tool.name
        assert tool.output_schema["type"] == "object", tool.name
        for node in nodes(tool.output_schema):
            assert not {"title", "description", "default", "required"} & set(node), tool.name
            options = node.get("anyOf", [])  # a type or null is written as two types
            plain = [o for o in options if set(o) == {"type"} and o != {"type": "null"}]
            assert not (plain and {"type": "null"} in options), tool.name


async def test_input_schemas_lose_derived_titles_and_null_branches(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    for tool in tools.values():
        text = json.dumps(tool.input_schema)
        assert '"title"' not in text, tool.name
        assert '{"type": "null"}' not in text, tool.name
    endpoint = tools["get_endpoint_stats"].input_schema
    assert endpoint["properties"]["endpoint"]["type"] == "string"
    assert endpoint["properties"]["window"] == {
        "default": "5m",
        "enum": ["1m", "5m", "15m", "1h", "24h", "7d"],
        "type": "string",
    }
    assert tools["record_tool_call"].input_schema["required"] == ["tool_name", "duration_ms"]


async def test_every_default_answer_holds_to_its_schema(client: Client) -> None:
    await call_ok(client, "record_agent_run", {
        "agent_name": "bot", "duration_ms": 5,
        "tool_calls": [{"tool_name": "sql", "duration_ms": 2, "success": False}],
    })  # fmt: skip
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    for name in QUERY_TOOLS:
        answer = await call_ok(client, name)
        jsonschema.validate(answer, tools[name].output_schema)
