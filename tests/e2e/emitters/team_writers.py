"""The writers of a team's shared store, each a process of its own on ``$PERF_MCP_DB``.

``app PORT``: a FastAPI app with perf-mcp's ASGI middleware, served by uvicorn (GET
/items/{item_id} answers 500 for every fourth id). ``agent LOG RUNS``: an agent with the
decorators, running ``planner`` (one ``lookup`` tool call each, every tenth run failing) ``RUNS``
times (0: until killed), and after each run returns appending the time to ``LOG``: what it
knows it handed to perf-mcp.

    PERF_MCP_DB=postgresql://... python -m tests.e2e.emitters.team_writers app 8001
    PERF_MCP_DB=postgresql://... python -m tests.e2e.emitters.team_writers agent runs.log 50
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import time

from perf_mcp import Monitor

FAILING_EVERY = 10  # planner's run i fails when i % FAILING_EVERY == 0


def serve_app(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI, HTTPException

    from perf_mcp.integrations import PerformanceMiddleware

    app = FastAPI()
    app.add_middleware(PerformanceMiddleware, monitor=Monitor())

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        if item_id % 4 == 0:
            raise HTTPException(status_code=500, detail="no stock service")
        return {"item_id": item_id}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def run_agent(log_path: str, runs: int) -> None:
    from perf_mcp.integrations import monitor_agent, monitor_tool

    with Monitor() as monitor, open(log_path, "a") as log:

        @monitor_tool("lookup", monitor=monitor)
        def lookup(i: int) -> int:
            return i

        @monitor_agent("planner", monitor=monitor)
        def plan(i: int) -> int:
            lookup(i)
            if i % FAILING_EVERY == 0:
                raise ValueError("no plan")
            return i

        for i in itertools.count() if runs == 0 else range(runs):
            with contextlib.suppress(ValueError):
                plan(i)
            log.write(f"{time.time()}\n")
            log.flush()
            time.sleep(0.005)


if __name__ == "__main__":
    if sys.argv[1] == "app":
        serve_app(int(sys.argv[2]))
    else:
        run_agent(sys.argv[2], int(sys.argv[3]))
