"""A Starlette app whose perf-mcp Monitor pushes to ``$PERF_MCP_URL`` (no store of its own),
served by uvicorn.

``PerformanceMiddleware`` records ``GET /items/{item_id}`` (404 for multiples of 7).
``POST /record?n=N&seed=S`` records N requests of ``POST /recorded`` (status 200 or 500,
log-normal durations), one agent run with two tool calls and one tool call of its own, and
appends what it recorded to ``$RECORDED_OUT`` (JSON lines): what the server should hold.
``POST /record?spread=N`` records one request in each of the last N 10 s buckets.
``POST /flush`` pushes now; ``GET /state`` answers the Monitor's drops and flush failure.

    export PERF_MCP_URL=http://127.0.0.1:8765 RECORDED_OUT=out.jsonl
    python -m tests.e2e.emitters.push_app PORT
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from perf_mcp import Monitor, StoreError
from perf_mcp.integrations import PerformanceMiddleware

monitor = Monitor()  # PERF_MCP_URL and PERF_MCP_TOKEN come from the environment


async def item(request: Request) -> PlainTextResponse:
    found = int(request.path_params["item_id"]) % 7 != 0
    return PlainTextResponse("ok" if found else "no such item", 200 if found else 404)


async def record(request: Request) -> JSONResponse:
    spread = int(request.query_params.get("spread", 0))
    now = time.time()
    for k in range(spread):
        monitor.record_request("/spread", "GET", 200, 5.0, timestamp=now - 10 * k)
    n = int(request.query_params.get("n", 0))
    rng = random.Random(int(request.query_params.get("seed", 0)))
    recorded = [
        (200 if rng.random() < 0.9 else 500, rng.lognormvariate(3.0, 1.0)) for _ in range(n)
    ]
    for status, duration_ms in recorded:
        monitor.record_request("/recorded", "POST", status, duration_ms)
    if n:
        calls = [{"tool_name": "search", "duration_ms": 20.0 + i} for i in range(2)]
        monitor.record_agent_run(
            agent_name="planner", duration_ms=300.0, input_tokens=100, output_tokens=40,
            model="gpt-4o", provider="openai", tool_calls=calls,
        )  # fmt: skip
        monitor.record_tool_call("fetch", 12.0, success=False, error_type="timeout")
        with open(os.environ["RECORDED_OUT"], "a") as out:
            out.write(json.dumps(recorded) + "\n")
    return JSONResponse({"recorded": n, "spread": spread})


async def flush(request: Request) -> JSONResponse:
    try:
        await anyio.to_thread.run_sync(monitor.flush)
    except StoreError as exc:
        return JSONResponse({"pushed": False, "error": str(exc)})
    return JSONResponse({"pushed": True, "error": None})


async def state(request: Request) -> JSONResponse:
    failure = monitor.flush_failure
    return JSONResponse({"drops": monitor.drops, "failure": failure and failure.error})


app = Starlette(
    routes=[
        Route("/items/{item_id}", item),
        Route("/record", record, methods=["POST"]),
        Route("/flush", flush, methods=["POST"]),
        Route("/state", state),
    ]
)
app.add_middleware(PerformanceMiddleware, monitor=monitor, exclude=["/record", "/flush", "/state"])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
