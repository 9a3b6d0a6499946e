"""A FastAPI router with ``/health`` and ``/performance``, included in one line.

```python
from fastapi import FastAPI
from perf_mcp.integrations.fastapi import performance_router

app = FastAPI()
app.include_router(performance_router())
```
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, Field

from perf_mcp.core.models import PerformanceSummary, Window
from perf_mcp.integrations.asgi import in_flight_requests

try:
    from fastapi import APIRouter, Query, Response
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("perf_mcp.integrations.fastapi needs FastAPI: pip install fastapi") from exc

if TYPE_CHECKING:
    from perf_mcp.monitor import Monitor

__all__ = ["AppHealth", "performance_router", "router"]

WindowQuery = Annotated[Window, Query(description="How far back: 1m, 5m, 15m, 1h, 24h or 7d.")]


class AppHealth(BaseModel):
    """What ``GET /health`` answers: whether this app can still record its metrics."""

    status: Literal["ok", "error"]
    store: str = Field(description='"ok", or the error met writing to or reading the store.')
    db_path: str
    uptime_s: float = Field(description="Seconds since the router was created.")
    in_flight_requests: int = Field(description="Requests in progress in this process.")


def performance_router(
    monitor: Monitor | None = None,
    *,
    prefix: str = "",
    tags: list[str] | None = None,
    include_in_schema: bool = True,
) -> APIRouter:
    """An ``APIRouter`` with ``GET {prefix}/health`` and ``GET {prefix}/performance?window=5m``.

    ``/health`` answers 503 when the store cannot be written. Both run in the thread pool,
    since they touch SQLite. ``monitor`` defaults to :func:`perf_mcp.integrations.default_monitor`.
    """
    router = APIRouter(
        prefix=prefix, tags=list(tags or ["performance"]), include_in_schema=include_in_schema
    )
    started = time.monotonic()

    def resolve() -> Monitor:
        if monitor is not None:
            return monitor
        from perf_mcp.integrations import default_monitor

        return default_monitor()

    @router.get("/health", response_model=AppHealth, summary="Health check")
    def health(response: Response) -> AppHealth:
        current = resolve()
        try:
            current.flush()  # writes what is pending, then reads back: the store answers
            current.known_names("agent")
            status: Literal["ok", "error"] = "ok"
            store = "ok"
        except Exception as exc:  # the answer is the error: report it, don't fail the probe
            status, store = "error", f"{type(exc).__name__}: {exc}"
            response.status_code = 503
        return AppHealth(
            status=status,
            store=store,
            db_path=current.db_path,
            uptime_s=round(time.monotonic() - started, 3),
            in_flight_requests=in_flight_requests(current),
        )

    @router.get("/performance", response_model=PerformanceSummary, summary="Performance summary")
    def performance(window: WindowQuery = "5m") -> PerformanceSummary:
        return resolve().get_performance_summary(window)

    return router


router = performance_router()
"""The router on the default monitor: ``app.include_router(router)``."""
