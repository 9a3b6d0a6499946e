"""Pydantic models for everything that crosses a boundary: inputs, query answers, units in names."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Window = Literal["1m", "5m", "15m", "1h", "24h", "7d"]
WINDOW_SECONDS: dict[str, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "1h": 3600,
    "24h": 86400,
    "7d": 604800,
}

MAX_DURATION_MS = 30 * 24 * 3600 * 1000.0  # 30 days: beyond this a duration is a bug
MAX_BYTES = 1 << 40  # 1 TiB: beyond this a body size is a bug
MAX_TOKENS = 1 << 40
MAX_COST_USD = 1e6
MAX_NAME_LENGTH = 200

EndpointSort = Literal[
    "p95_ms", "p99_ms", "p50_ms", "count", "error_rate", "error_count", "mean_ms"
]
RunSort = Literal["p95_ms", "p99_ms", "p50_ms", "runs", "failures", "error_rate", "cost_usd"]
ToolSort = Literal["p95_ms", "p99_ms", "p50_ms", "calls", "failures", "error_rate"]

Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
DurationMs = Annotated[float, Field(ge=0, le=MAX_DURATION_MS, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=MAX_TOKENS)]


class InvalidInputError(ValueError):
    """A recorded value or query argument was out of range; nothing was recorded."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


# ---------------------------------------------------------------- inputs


class RequestSample(_Strict):
    """One HTTP request, as sent in a batch by an app that is not Python."""

    endpoint: Annotated[str, Field(min_length=1, max_length=2000)]
    method: Annotated[str, Field(min_length=1, max_length=16)] = "GET"
    status_code: Annotated[int, Field(ge=100, le=599)]
    duration_ms: DurationMs
    request_bytes: Annotated[int, Field(ge=0, le=MAX_BYTES)] | None = None
    response_bytes: Annotated[int, Field(ge=0, le=MAX_BYTES)] | None = None
    timestamp: float | None = Field(default=None, description="Unix seconds; default now.")


class ToolCallRecord(_Strict):
    """One tool call, alone or inside an agent run."""

    tool_name: Name
    duration_ms: DurationMs
    success: bool = True
    error_type: Annotated[str, Field(max_length=MAX_NAME_LENGTH)] | None = None
    agent_name: Name | None = None
    call_id: Annotated[str, Field(max_length=MAX_NAME_LENGTH)] | None = None
    timestamp: float | None = Field(default=None, description="Unix seconds; default now.")

    @field_validator("tool_name", "agent_name")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        return _not_blank(value)


class AgentRunRecord(_Strict):
    """One agent run, named after the OpenTelemetry GenAI conventions.

    Give ``duration_ms``, or ``start_time`` and ``end_time`` (Unix seconds).
    """

    agent_name: Name
    duration_ms: DurationMs | None = None
    start_time: float | None = None
    end_time: float | None = None
    success: bool = True
    error_type: Annotated[str, Field(max_length=MAX_NAME_LENGTH)] | None = None
    model: Annotated[str, Field(max_length=MAX_NAME_LENGTH)] | None = None
    provider: Annotated[str, Field(max_length=MAX_NAME_LENGTH)] | None = None
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_read_tokens: Count = 0
    cost_usd: Annotated[float, Field(ge=0, le=MAX_COST_USD, allow_inf_nan=False)] = 0.0
    tool_calls: Annotated[list[ToolCallRecord], Field(max_length=1000)] = []
    run_id: Annotated[str, Field(max_length=MAX_NAME_LENGTH)] | None = None
    conversation_id: Annotated[str, Field(max_length=MAX_NAME_LENGTH)] | None = None

    @field_validator("agent_name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return _not_blank(value) or value

    @model_validator(mode="after")
    def _has_duration(self) -> AgentRunRecord:
        if self.duration_ms is None:
            if self.start_time is None or self.end_time is None:
                raise ValueError("give duration_ms, or both start_time and end_time")
            if not (math.isfinite(self.start_time) and math.isfinite(self.end_time)):
                raise ValueError("start_time and end_time must be finite Unix seconds")
            elapsed_ms = (self.end_time - self.start_time) * 1000
            if not 0 <= elapsed_ms <= MAX_DURATION_MS:
                raise ValueError(
                    f"end_time - start_time must be between 0 and {MAX_DURATION_MS:.0f} ms, "
                    f"got {elapsed_ms:.3f} ms"
                )
        return self

    @property
    def elapsed_ms(self) -> float:
        """The run's duration in milliseconds, from duration_ms or the two times."""
        if self.duration_ms is not None:
            return self.duration_ms
        return ((self.end_time or 0.0) - (self.start_time or 0.0)) * 1000


def _not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be blank")
    return value


# ---------------------------------------------------------------- answers


class LatencyStats(_Answer):
    """Latency percentiles in milliseconds (None when there were no samples)."""

    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None


class EndpointStats(LatencyStats):
    """One endpoint (route template + method) over the window."""

    endpoint: str
    method: str
    count: int
    requests_per_s: float
    error_count: int = Field(description="Responses with a 5xx status.")
    error_rate: float = Field(description="error_count / count, a fraction in [0, 1].")
    status_counts: dict[str, int] = Field(description='By class: "2xx", "3xx", "4xx", "5xx".')
    avg_request_bytes: float | None = None
    avg_response_bytes: float | None = None


class EndpointStatsList(_Answer):
    window: Window
    endpoints: list[EndpointStats]
    total_endpoints: int = Field(description="Endpoints with traffic in the window.")
    truncated: bool = Field(description="True when more endpoints matched than `limit`.")
    folded_series: int = Field(
        default=0, description="Endpoint names folded into __other__ by the series budget."
    )


class CountShare(_Answer):
    name: str
    count: int


class AgentStats(LatencyStats):
    """One agent over the window."""

    agent_name: str
    runs: int
    failures: int
    success_rate: float
    error_rate: float
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cost_usd: float
    tool_calls: int
    top_errors: list[CountShare] = Field(description="Most frequent error types, most first.")
    tool_usage: list[CountShare] = Field(description="Tools called during runs, most first.")


class ModelUsage(_Answer):
    """Runs and tokens per model (provider/model)."""

    model: str
    runs: int
    failures: int
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cost_usd: float


class AgentStatsList(_Answer):
    window: Window
    agents: list[AgentStats]
    models: list[ModelUsage]
    total_agents: int
    truncated: bool


class ToolStats(LatencyStats):
    """One tool over the window."""

    tool_name: str
    calls: int
    failures: int
    success_rate: float
    error_rate: float
    top_errors: list[CountShare]


class ToolStatsList(_Answer):
    window: Window
    tools: list[ToolStats]
    total_tools: int
    truncated: bool


class RequestTotals(LatencyStats):
    count: int = 0
    requests_per_s: float = 0.0
    error_count: int = 0
    error_rate: float = 0.0
    status_counts: dict[str, int] = {}


class AgentTotals(LatencyStats):
    runs: int = 0
    failures: int = 0
    success_rate: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float = 0.0


class ToolTotals(LatencyStats):
    calls: int = 0
    failures: int = 0
    success_rate: float | None = None


class SlowRequest(_Answer):
    """One of the slowest requests seen (an exemplar for drill-down)."""

    endpoint: str
    method: str
    status_code: int
    duration_ms: float
    timestamp: float


class PerformanceSummary(_Answer):
    """Everything at a glance for one window."""

    window: Window
    window_s: int
    generated_at: float = Field(description="Unix seconds.")
    requests: RequestTotals
    agents: AgentTotals
    tools: ToolTotals
    slowest_endpoints: list[EndpointStats] = Field(description="Top endpoints by p95.")
    most_errors: list[EndpointStats] = Field(description="Top endpoints by 5xx count.")
    slowest_requests: list[SlowRequest]
    folded_series: dict[str, int] = Field(
        description="Per kind, names folded into __other__ by the series budget."
    )
