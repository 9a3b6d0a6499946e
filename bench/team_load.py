"""One team's server under load: 8 MCP clients recording agent runs with the token, one reading
the summary, and an app's middleware writing the same store, next to a minimal server.

`perf-mcp serve --transport http` runs with a full token on a prepared store (as
bench/mcp_load.py prepares it). An app (Starlette under uvicorn, wrapped in perf-mcp's
PerformanceMiddleware, its own Monitor on the same store file) serves /checkout, which a
thread of this process calls ``--app-rate`` times a second for the whole run. In rounds that
alternate between the servers (bench/mcp_load.py's rounds), 9 sessions call at once: on
perf-mcp, 8 send `record_agent_run` (2 nested tool calls each) and the 9th
`get_performance_summary`; on the minimal server (the same SDK, uvicorn, one no-op
`record_agent_run` taking the same arguments) all 9 call that tool. At the end the app is
stopped (its Monitor flushes) and perf-mcp is asked for every agent's runs and the app's
requests: each must be counted exactly once.

Targets: perf-mcp >= 0.8x the minimal server's calls/s, perf-mcp's p99 under 50 ms.

    python bench/team_load.py [--requests 1000000] [--rounds 5] [--calls 150] [--seconds 20]
    python bench/team_load.py --quick    # CI: 100k requests, 3 rounds of 60 calls a session
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client
from mcp_latency import free_port, http_server, prepared_store
from mcp_load import CLIENTS, MINIMAL, PERF_MCP, Round, compare, run_rounds, session

SESSIONS = CLIENTS + 1  # the last one reads the summary
APP_PATH = "/checkout"
HERE = Path(__file__).resolve()


def agent_name(index: int) -> str:
    return f"team-agent-{index}"


def agent_run(index: int, i: int) -> dict[str, Any]:
    """One run as an assistant reports it: tokens, cost and two tool calls."""
    return {
        "agent_name": agent_name(index),
        "duration_ms": 200.0 + (i * 37 + index) % 900,
        "success": i % 25 != 0,
        "model": "claude-sonnet",
        "input_tokens": 1200,
        "output_tokens": 300,
        "cost_usd": 0.004,
        "tool_calls": [
            {"tool_name": "search", "duration_ms": 40.0 + i % 60},
            {"tool_name": "read_file", "duration_ms": 5.0, "success": i % 40 != 0},
        ],
    }


async def team_call(client: Client, index: int, i: int) -> tuple[str, int]:
    """perf-mcp's load: 8 sessions record runs, the 9th reads the summary."""
    if index == CLIENTS:
        tool, arguments, recorded = "get_performance_summary", {"window": "5m"}, 0
    else:
        tool, arguments, recorded = "record_agent_run", agent_run(index, i), 1
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return tool, recorded


async def minimal_call(client: Client, index: int, i: int) -> tuple[str, int]:
    result = await client.call_tool("record_agent_run", agent_run(index, i))
    assert not result.is_error, result.content
    return "record_agent_run", 0


async def counted(url: str, token: str) -> tuple[dict[int, int], int]:
    """The runs perf-mcp counts per agent, and the app's requests."""
    runs = {}
    async with session(url, token) as client:
        for index in range(CLIENTS):
            arguments = {"agent_name": agent_name(index), "window": "1h"}
            result = await client.call_tool("get_agent_stats", arguments)
            assert result.structured_content is not None, result.content
            runs[index] = sum(row["runs"] for row in result.structured_content["agents"])
        result = await client.call_tool(
            "get_endpoint_stats", {"endpoint": APP_PATH, "window": "1h"}
        )
        assert result.structured_content is not None, result.content
        requests = sum(row["count"] for row in result.structured_content["endpoints"])
    return runs, requests


class AppLoad(threading.Thread):
    """Calls the app ``rate`` times a second until stopped (or ``most`` calls); counts the
    2xx answers and the calls that got none (timed out: their record may or may not exist)."""

    def __init__(self, url: str, rate: float, most: int) -> None:
        super().__init__(daemon=True)
        self.url, self.rate, self.most = url, rate, most
        self.stop = threading.Event()
        self.answered = self.unanswered = 0

    def run(self) -> None:
        with httpx.Client(timeout=10) as http:
            next_at = time.monotonic()
            for _ in range(self.most):
                if self.stop.wait(max(0.0, next_at - time.monotonic())):
                    return
                next_at += 1 / self.rate
                try:
                    self.answered += http.get(self.url).is_success
                except httpx.HTTPError:
                    self.unanswered += 1


def serve_app(port: int, db: str) -> None:
    """The app: Starlette under uvicorn with PerformanceMiddleware on its own Monitor."""
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from perf_mcp import Monitor
    from perf_mcp.integrations import PerformanceMiddleware

    monitor = Monitor(db_path=db)

    async def checkout(_: Request) -> JSONResponse:
        return JSONResponse({"order": "ok"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        monitor.close()  # the last records reach the store before the process ends

    app = Starlette(routes=[Route(APP_PATH, checkout)], lifespan=lifespan)
    uvicorn.run(
        PerformanceMiddleware(app, monitor), host="127.0.0.1", port=port, log_level="warning"
    )


def serve_minimal(port: int) -> None:
    """The peer: a minimal server on the same SDK, one no-op tool with the same arguments."""
    import uvicorn
    from mcp.server import MCPServer

    server = MCPServer("minimal", log_level="WARNING")

    @server.tool()
    def record_agent_run(  # the same arguments as perf-mcp's tool
        agent_name: str,
        duration_ms: float | None = None,
        success: bool = True,
        error_type: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cost_usd: float = 0.0,
        tool_calls: list[dict[str, Any]] | None = None,
        start_time: float | None = None,
        end_time: float | None = None,
        run_id: str | None = None,
        conversation_id: str | None = None,
    ) -> dict[str, Any]:
        """Take a run and keep nothing."""
        return {"recorded": 1, "kind": "agent_run"}

    app = server.streamable_http_app(host="127.0.0.1")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=150, help="most calls per session a round")
    parser.add_argument("--seconds", type=float, default=20, help="longest round")
    parser.add_argument("--app-rate", type=float, default=100, help="app requests a second")
    parser.add_argument("--quick", action="store_true", help="100k requests, 3 short rounds (CI)")
    parser.add_argument("--serve-app", nargs=2, metavar=("PORT", "DB"), help=argparse.SUPPRESS)
    parser.add_argument("--serve-minimal", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_app:
        return serve_app(int(args.serve_app[0]), args.serve_app[1])
    if args.serve_minimal:
        return serve_minimal(args.serve_minimal)
    if args.quick:
        args.requests, args.rounds, args.calls, args.seconds = 100_000, 3, 60, 10

    token = secrets.token_urlsafe(32)
    most_app_calls = int(args.app_rate * args.rounds * 2 * (args.seconds + 30))
    with tempfile.TemporaryDirectory() as tmp:
        db = prepared_store(tmp, args.requests, args.endpoints)
        perf_port, minimal_port, app_port = free_port(), free_port(), free_port()
        perf_mcp = [str(Path(sys.executable).with_name("perf-mcp")), "serve", "--db", str(db)]
        perf_mcp += ["--transport", "http", "--port", str(perf_port)]
        me = [sys.executable, str(HERE)]
        app = [*me, "--serve-app", str(app_port), str(db)]
        with (
            http_server(perf_mcp, perf_port, {"PERF_MCP_TOKEN": token}) as perf_server,
            http_server([*me, "--serve-minimal", str(minimal_port)], minimal_port) as peer,
        ):
            with http_server(app, app_port):
                app_url = f"http://127.0.0.1:{app_port}{APP_PATH}"
                load = AppLoad(app_url, args.app_rate, most_app_calls)
                load.start()
                servers = {MINIMAL: (*peer, minimal_call), PERF_MCP: (*perf_server, team_call)}
                plan = Round(args.calls, args.seconds, SESSIONS, token)
                totals = run_rounds(servers, plan, args.rounds)
                load.stop.set()
                load.join()
            runs, requests = anyio.run(counted, perf_server[0], token)

    met = compare(totals, SESSIONS)
    recorded = {i: n for i, n in totals[PERF_MCP].recorded.items() if i < CLIENTS}
    exact = runs == recorded and requests == load.answered and not load.unanswered
    print(
        f"agent runs recorded {sum(recorded.values()):,}, counted {sum(runs.values()):,}; "
        f"app requests answered {load.answered:,} ({load.unanswered} unanswered), counted "
        f"{requests:,} ({'each exactly once' if exact else f'MISMATCH: runs {recorded} vs {runs}'})"
    )
    print(f"targets: {'met' if met and exact else 'MISSED'}")
    if not exact:  # a count is a correctness check, unlike the timing targets
        sys.exit(1)
    return None


if __name__ == "__main__":
    main()
