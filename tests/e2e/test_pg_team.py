"""A team on one PostgreSQL store: four writer processes (two apps with the middleware, an
agent with the decorators, a server taking record_* calls) and two servers reading.

Every count is exact on both readers, one server evaluates the alerts (each fires once), and a
writer killed with SIGKILL and started again loses at most two flush intervals of records.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from tests.e2e.emitters.team_writers import FAILING_EVERY
from tests.e2e.mcp_process import (
    REPO,
    free_port,
    http_server,
    server_env,
    stdio_params,
    wait_for_port,
)
from tests.pg_server import Server, require_postgres, running_server
from tests.quiet_machine import quiet_machine
from tests.server.mcp_calls import call_ok

pytestmark = pytest.mark.anyio

FLUSH_S = 1.0
SERVE = ["--alert-interval", "1", "--sample-interval", "1"]
AGAIN_RUNS = 50  # the restarted agent's runs, all stored: it closes its Monitor
CHECKOUT = {"endpoint": "/checkout", "method": "POST", "duration_ms": 40.0}
SETTLE_S = 20.0  # a loaded 2-core machine: time for the last flushes and alert evaluations


@pytest.fixture(scope="module")
def postgres() -> Iterator[Server]:
    with running_server(require_postgres()) as server:
        yield server


@pytest.fixture
def team_url(postgres: Server) -> str:
    """A fresh database whose machine alert rules stay quiet (the machine is shared)."""
    import psycopg

    from perf_mcp.storage import open_storage

    with psycopg.connect(postgres.database("postgres"), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS team WITH (FORCE)")
        conn.execute("CREATE DATABASE team")
    url = postgres.database("team")
    with open_storage(url) as store:
        quiet_machine(store)
    return url


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts, killed at its end if still running."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate()


def writer(started: list[subprocess.Popen[str]], url: str, *args: str) -> subprocess.Popen[str]:
    """One of team_writers' processes on ``url``, flushing every FLUSH_S."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.emitters.team_writers", *args],
        cwd=REPO,
        env=server_env(PERF_MCP_DB=url, PERF_MCP_FLUSH_INTERVAL_S=f"{FLUSH_S:g}"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    started.append(process)
    return process


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM: uvicorn's lifespan shutdown flushes the middleware's monitor, then uvicorn
    ends by the signal it caught."""
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGTERM, stderr


def logged(log: Path) -> list[float]:
    return [float(line) for line in log.read_text().split()]


async def until(client: Client, tool: str, args: dict[str, Any], ready: Any) -> Any:
    """The tool's answer once ``ready(answer)`` holds (the writers' last flushes landed)."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        answer = await call_ok(client, tool, args)
        if ready(answer) or time.monotonic() > deadline:
            return answer
        await anyio.sleep(0.5)


def row(answer: dict[str, Any], rows: str, name: str) -> dict[str, Any]:
    """The one row of ``answer[rows]`` named ``name`` (an endpoint, agent or tool)."""
    keys = ("endpoint", "agent_name", "tool_name")
    (found,) = [r for r in answer[rows] if name in (r.get(key) for key in keys)]
    return dict(found)


async def test_four_writers_and_two_readers_share_one_postgres_store(
    team_url: str, tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    import psycopg

    ports = free_port(), free_port()
    apps = [writer(started, team_url, "app", str(port)) for port in ports]
    first_log = tmp_path / "agent-1.log"
    agent = writer(started, team_url, "agent", str(first_log), "0")
    with (
        http_server(team_url, extra=SERVE, PERF_MCP_FLUSH_INTERVAL_S=f"{FLUSH_S:g}") as (
            recorder_url,
            _,
        ),
        http_server(team_url, extra=SERVE) as (reader_url, _),
    ):
        for port, app in zip(ports, apps, strict=True):
            wait_for_port(port, app)
        sent = {"2xx": 0, "5xx": 0}
        async with httpx.AsyncClient() as http:
            for i in range(1, 301):
                response = await http.get(f"http://127.0.0.1:{ports[i % 2]}/items/{i}")
                sent[f"{response.status_code // 100}xx"] += 1
        async with Client(recorder_url) as recorder:
            checkout = [{**CHECKOUT, "status_code": 500 if i < 20 else 201} for i in range(40)]
            await call_ok(recorder, "record_requests", {"requests": checkout})

        # The agent has been running since the start: kill it, then run it again.
        while len(logged(first_log)) < 200 or time.time() - logged(first_log)[0] < 3 * FLUSH_S:
            assert agent.poll() is None, agent.stderr.read() if agent.stderr else ""
            await anyio.sleep(0.2)
        killed_at = time.time()
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait()
        before_kill = logged(first_log)
        second_log = tmp_path / "agent-2.log"
        again = writer(started, team_url, "agent", str(second_log), str(AGAIN_RUNS))
        assert again.wait(timeout=60) == 0, again.stderr.read() if again.stderr else ""
        for app in apps:
            stop(app)

        async with Client(reader_url) as http_reader, Client(stdio_params(team_url)) as stdio:
            answers = []
            for reader in (http_reader, stdio):
                hour = {"window": "1h"}
                endpoints = await until(
                    reader,
                    "get_endpoint_stats",
                    hour,
                    lambda a: sum(r["count"] for r in a["endpoints"]) >= 340,
                )
                agents = await call_ok(reader, "get_agent_stats", hour)
                tools = await call_ok(reader, "get_tool_stats", hour)
                alerts = await until(
                    reader,
                    "list_alerts",
                    {},
                    lambda a: any(x["subject"] == "POST /checkout" for x in a["alerts"]),
                )
                answers.append((endpoints, agents, tools, alerts))
            async with Client(recorder_url) as recorder:
                servers = (http_reader, stdio, recorder)
                evaluation = [(await call_ok(c, "list_alerts", {}))["evaluation"] for c in servers]

    # Both readers answer the same (besides the tools, each counts its own answered calls).
    mine = [
        (row(e, "endpoints", "/items/{item_id}"), row(e, "endpoints", "/checkout"),
         row(a, "agents", "planner"), row(t, "tools", "lookup"))
        for e, a, t, _ in answers
    ]  # fmt: skip
    assert mine[0] == mine[1]
    (items, checkout, planner, lookup), alerts = mine[0], [a for *_, a in answers]
    assert sent == {"2xx": 225, "5xx": 75}
    assert (items["count"], items["error_count"]) == (300, 75)
    assert (checkout["count"], checkout["error_count"]) == (40, 20)

    # The killed agent lost only what it recorded in its last two flush intervals.
    runs, failures = planner["runs"], planner["failures"]
    kept = runs - AGAIN_RUNS
    assert kept <= len(before_kill)
    assert kept >= sum(1 for at in before_kill if at <= killed_at - 2 * FLUSH_S)
    # Flushes store what was recorded in order: the first ``kept`` runs, no more, no fewer.
    failing = sum(1 for i in range(kept) if i % FAILING_EVERY == 0)
    assert failures == failing + sum(1 for i in range(AGAIN_RUNS) if i % FAILING_EVERY == 0)
    assert (lookup["calls"], lookup["failures"]) == (runs, 0)

    # One server evaluated the alerts: /checkout's fired once, seen alike by both readers.
    (alert,), (same,) = [
        [a for a in answer["alerts"] if a["subject"] == "POST /checkout"] for answer in alerts
    ]
    assert (alert["id"], alert["threshold"], alert["state"]) == (
        same["id"],
        "error_rate_5min",
        "firing",
    )
    assert sorted(evaluation) == ["another server", "another server", "this server"]
    with psycopg.connect(team_url) as conn:
        (fired,) = conn.execute(
            "SELECT count(*) FROM alert_events WHERE subject = 'POST /checkout' AND kind = 'fired'"
        ).fetchone()
        (rows,) = conn.execute(
            "SELECT count(*) FROM alerts WHERE subject = 'POST /checkout'"
        ).fetchone()
    assert (fired, rows) == (1, 1)
