"""The argument types the tools share."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from perf_mcp.core.models import Window

MAX_LIMIT = 500

WindowArg = Annotated[
    Window, Field(description='Time window to aggregate: "1m", "5m", "15m", "1h", "24h" or "7d".')
]
LimitArg = Annotated[
    int, Field(ge=1, le=MAX_LIMIT, description=f"Most items to return, 1 to {MAX_LIMIT}.")
]
OptionalText = Annotated[str, Field(max_length=200)] | None
