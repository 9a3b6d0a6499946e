"""A person confirms threshold changes through MCP elicitation; who changed what is stored.

A real `perf-mcp serve --transport http` and the SDK's client over HTTP: one that declares
elicitation and answers accept or decline, one that does not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitRequestParams, ElicitResult, Implementation

from tests.e2e.mcp_process import http_server
from tests.server.mcp_calls import call_error, call_ok

pytestmark = pytest.mark.anyio

TOKEN = "confirm-token-for-the-tests-0123456789"
CHANGE = {"name": "agent_avg_time_ms", "value": 900}


class Person:
    """The user behind a client: answers each question with ``action``, and remembers it."""

    def __init__(self, action: str, confirm: bool = True) -> None:
        self.action = action
        self.confirm = confirm
        self.asked: list[str] = []

    async def __call__(
        self, context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult:
        self.asked.append(params.message)
        content = {"confirm": self.confirm} if self.action == "accept" else None
        return ElicitResult(action=self.action, content=content)  # type: ignore[arg-type]


@asynccontextmanager
async def client(
    url: str, person: Person | None, name: str = "ops-bot", mode: str = "legacy"
) -> AsyncIterator[Client]:
    """Legacy mode: the server asks mid-call; "auto" (2026-07-28): through input_required."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http,
        Client(
            streamable_http_client(url, http_client=http),
            mode=mode,  # type: ignore[arg-type]
            client_info=Implementation(name=name, version="1.0"),
            elicitation_callback=person,
        ) as connected,
    ):
        yield connected


def row(thresholds: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in thresholds["thresholds"] if t["name"] == name)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_client_that_can_ask_gets_its_person_to_confirm(db_path: Path, mode: str) -> None:
    yes, no, unticked = Person("accept"), Person("decline"), Person("accept", confirm=False)
    with http_server(db_path, extra=["--token", TOKEN, "--toolsets", "all"]) as (url, _):
        async with client(url, no, mode=mode) as declined:
            refused = await call_error(declined, "set_threshold", CHANGE)
            after_no = await call_ok(declined, "list_thresholds")
        async with client(url, unticked, mode=mode) as half:
            untick = await call_error(half, "set_threshold", CHANGE)
        async with client(url, yes, mode=mode) as accepted:
            dry = await call_ok(accepted, "set_threshold", {**CHANGE, "dry_run": True})
            changed = await call_ok(accepted, "set_threshold", CHANGE)
            after_yes = await call_ok(accepted, "list_thresholds")
    assert no.asked == [
        "perf-mcp: change agent_avg_time_ms for every subject: warning from 10000 ms to 900 ms?"
    ]
    assert "not changed: the person asked declined the change" in refused
    assert "unticked" in untick
    assert row(after_no, "agent_avg_time_ms")["overridden"] is False
    assert dry["dry_run"] is True
    assert len(yes.asked) == 1  # the dry run asked no one
    assert changed["current"]["warning"] == 900
    stored = row(after_yes, "agent_avg_time_ms")
    assert stored["warning"] == 900
    assert stored["changed_by"] == "full token (client says it is 'ops-bot')"


async def test_a_client_without_elicitation_changes_as_before_unless_required(
    db_path: Path, tmp_path: Path
) -> None:
    with http_server(db_path, extra=["--token", TOKEN, "--toolsets", "all"]) as (url, _):
        async with client(url, None, name="plain") as plain:
            changed = await call_ok(plain, "set_threshold", CHANGE)
    with http_server(
        tmp_path / "required.db",
        extra=["--token", TOKEN, "--toolsets", "all"],
        PERF_MCP_CONFIRM_THRESHOLDS="require",
    ) as (url, _):
        async with client(url, None) as plain:
            refused = await call_error(plain, "set_threshold", CHANGE)
            dry = await call_ok(plain, "set_threshold", {**CHANGE, "dry_run": True})
        async with client(url, Person("accept")) as asking:
            allowed = await call_ok(asking, "set_threshold", CHANGE)
    assert changed["current"]["warning"] == 900
    assert "PERF_MCP_CONFIRM_THRESHOLDS=require" in refused
    assert "cannot ask" in refused
    assert dry["dry_run"] is True
    assert allowed["current"]["warning"] == 900


async def test_off_never_asks(db_path: Path) -> None:
    person = Person("decline")
    with http_server(
        db_path, extra=["--token", TOKEN, "--toolsets", "all"], PERF_MCP_CONFIRM_THRESHOLDS="off"
    ) as (
        url,
        _,
    ):
        async with client(url, person) as connected:
            changed = await call_ok(connected, "set_threshold", CHANGE)
    assert person.asked == []
    assert changed["current"]["warning"] == 900
