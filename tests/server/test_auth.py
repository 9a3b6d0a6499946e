"""Tokens, the read token kept from writing, and how a caller is named in the history."""

from __future__ import annotations

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from perf_mcp.server.auth import Tokens, describe_caller, require_write

FULL = "a-full-token-0123456789"
READ = "a-read-token-0123456789"


def test_a_presented_token_is_the_full_one_the_read_one_or_neither() -> None:
    tokens = Tokens(full=FULL, read=READ)
    assert tokens.required
    assert (tokens.caller(FULL), tokens.caller(READ)) == ("full", "read")
    assert tokens.caller(FULL[:-1]) is None
    assert tokens.caller("") is None
    assert tokens.caller("é" + FULL) is None  # non-ASCII compares as bytes, never raises
    assert Tokens(read=READ).caller(FULL) is None
    assert not Tokens().required


def test_outside_http_every_caller_may_write_and_is_named_stdio() -> None:
    require_write("set_threshold")  # the contextvar's default: a stdio client
    assert describe_caller(None) == "stdio client"


def test_the_client_name_is_quoted_capped_and_stripped_of_control_characters() -> None:
    described = describe_caller("bot\n" + "x" * 500)
    assert described.startswith("stdio client (client says it is 'bot?xxx")
    assert len(described) < 150
    assert "\n" not in described


def test_the_read_token_error_names_the_tool_and_the_fix() -> None:
    from perf_mcp.server import auth

    reset = auth._caller.set("read")
    try:
        with pytest.raises(ToolError, match=r"forbidden: record_requests .* \(--token"):
            require_write("record_requests")
    finally:
        auth._caller.reset(reset)
