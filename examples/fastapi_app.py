"""A small shop API that reports its performance to perf-mcp, and a support agent inside it.

Run the app, send it traffic, then ask an assistant connected to ``perf-mcp serve``:

    PERF_MCP_DB=./perf.db python examples/fastapi_app.py             # serves 127.0.0.1:8000
    PERF_MCP_DB=./perf.db python examples/fastapi_app.py --traffic 300  # in another terminal

Every request is timed by ``PerformanceMiddleware`` under its route template; the agent and its
tools are timed by ``@monitor_agent`` / ``@monitor_tool``. All of it lands in ``$PERF_MCP_DB``,
the file the MCP server reads. ``GET /performance`` shows the same summary as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from perf_mcp.integrations import PerformanceMiddleware, monitor_agent, monitor_tool
from perf_mcp.integrations.fastapi import performance_router

USERS = {user_id: f"user{user_id}@example.com" for user_id in range(1, 101)}
ORDERS: dict[int, dict[str, Any]] = {}

app = FastAPI(title="Shop")
app.add_middleware(PerformanceMiddleware)  # writes to $PERF_MCP_DB (or the user data dir)
app.include_router(performance_router())  # GET /health and GET /performance


class NewOrder(BaseModel):
    user_id: int
    items: list[str]


class Question(BaseModel):
    user_id: int
    text: str


@app.get("/users/{user_id}")
async def get_user(user_id: int) -> dict[str, Any]:
    if user_id not in USERS:
        raise HTTPException(status_code=404, detail="no such user")
    return {"id": user_id, "email": USERS[user_id]}


@app.get("/search")
async def search(q: str = "") -> dict[str, Any]:
    """The slow one: a pretend full-text search taking 20-150 ms."""
    await asyncio.sleep(random.uniform(0.02, 0.15))
    return {"query": q, "hits": [u for u in USERS.values() if q in u][:10]}


@app.post("/orders", status_code=201)
async def create_order(order: NewOrder) -> dict[str, Any]:
    """The flaky one: about 1 in 10 fails with a 503, as a payment provider might."""
    if random.random() < 0.1:
        raise HTTPException(status_code=503, detail="payment provider timed out")
    order_id = len(ORDERS) + 1
    ORDERS[order_id] = {"id": order_id, **order.model_dump()}
    return ORDERS[order_id]


@app.get("/orders/{order_id}")
def get_order(order_id: int) -> dict[str, Any]:  # a sync route: runs in the thread pool
    if order_id not in ORDERS:
        raise HTTPException(status_code=404, detail="no such order")
    return ORDERS[order_id]


@app.get("/export.csv")
async def export() -> StreamingResponse:
    """The streaming one: a CSV sent in chunks (response bytes are counted as they go)."""

    async def rows() -> AsyncIterator[str]:
        yield "id,email\n"
        for user_id, email in USERS.items():
            yield f"{user_id},{email}\n"
            if user_id % 25 == 0:
                await asyncio.sleep(0)

    return StreamingResponse(rows(), media_type="text/csv")


# ------------------------------------------------------------------ the support agent


@monitor_tool("lookup_user")
async def lookup_user(user_id: int) -> str | None:
    await asyncio.sleep(random.uniform(0.001, 0.01))
    return USERS.get(user_id)


@monitor_tool("search_docs")
async def search_docs(text: str) -> list[str]:
    await asyncio.sleep(random.uniform(0.005, 0.05))
    if random.random() < 0.05:
        raise TimeoutError("docs index did not answer")
    return [f"doc about {word}" for word in text.split()[:3]]


@monitor_agent("support-bot", model="gpt-4o-mini", provider="openai")
async def answer(question: Question) -> dict[str, Any]:
    """A stand-in for an LLM agent: two tool calls, then a result carrying ``usage``."""
    email = await lookup_user(question.user_id)
    try:
        docs = await search_docs(question.text)
    except TimeoutError:
        docs = []
    await asyncio.sleep(random.uniform(0.05, 0.3))  # the model thinking
    prompt_tokens = 200 + 4 * len(question.text)
    return {
        "answer": f"Hi {email}, see: {', '.join(docs) or 'our FAQ'}",
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": random.randint(40, 200)},
    }


@app.post("/ask")
async def ask(question: Question) -> dict[str, Any]:
    result = await answer(question)  # tool calls inside are attributed to this agent run
    return {"answer": result["answer"]}


# ------------------------------------------------------------------ traffic


async def send_traffic(
    base_url: str, requests: int, concurrency: int = 8, transport: Any = None
) -> None:
    """A mixed workload: reads, searches, orders, exports, questions and some 404s."""
    import httpx

    async def one(client: httpx.AsyncClient) -> None:
        roll = random.random()
        if roll < 0.4:
            await client.get(f"/users/{random.randint(1, 110)}")  # ids > 100 are 404s
        elif roll < 0.6:
            await client.get("/search", params={"q": random.choice("abcdef")})
        elif roll < 0.75:
            await client.post("/orders", json={"user_id": 1, "items": ["book"]})
        elif roll < 0.85:
            await client.get(f"/orders/{random.randint(1, 20)}")
        elif roll < 0.9:
            await client.get("/export.csv")
        elif roll < 0.97:
            await client.post("/ask", json={"user_id": 7, "text": "where is my parcel"})
        else:
            await client.get(f"/wp-admin/{random.randint(1, 9)}.php")  # scanners: __unmatched__

    async with httpx.AsyncClient(base_url=base_url, timeout=30, transport=transport) as client:
        semaphore = asyncio.Semaphore(concurrency)

        async def bounded() -> None:
            async with semaphore:
                await one(client)

        await asyncio.gather(*(bounded() for _ in range(requests)))
    print(f"sent {requests} requests to {base_url}")


def main() -> None:
    parser = argparse.ArgumentParser(description="The perf-mcp example shop.")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--traffic", type=int, metavar="N", help="send N requests to the app")
    args = parser.parse_args()
    if args.traffic:
        asyncio.run(send_traffic(f"http://127.0.0.1:{args.port}", args.traffic))
        return
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
