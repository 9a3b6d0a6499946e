"""Pydantic models for everything that crosses a boundary: inputs, query answers, units in names."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from perf_mcp.core import validation as v
from perf_mcp.core.json_shapes import Tabular, described, inlined
from perf_mcp.core.validation import MAX_NAME_LENGTH as MAX_NAME_LENGTH  # re-exported
from perf_mcp.core.validation import InvalidInputError as InvalidInputError  # re-exported

Window = Literal["1m", "5m", "15m", "1h", "24h", "7d"]
WINDOW_SECONDS: dict[str, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "1h": 3600,
    "24h": 86400,
    "7d": 604800,
}

TOP_CONVERSATIONS = 5  # conversations get_agent_stats lists, costliest first
CHARS_PER_TOKEN = 3.5  # a tool result's estimated tokens: its characters / this
SUMMARY_ROWS = 4  # rows in each of the summary's lists: read first, so short
SUMMARY_DEPLOYS = 3  # deploy markers the summary lists
MAX_NOTE_LENGTH = 500  # of a deploy marker's note

EndpointSort = Literal[
    "p95_ms", "p99_ms", "p50_ms", "count", "error_rate", "error_count", "mean_ms"
]
RunSort = Literal["p95_ms", "p99_ms", "p50_ms", "runs", "failures", "error_rate", "cost_usd"]
ToolSort = Literal["p95_ms", "p99_ms", "p50_ms", "calls", "failures", "error_rate", "result_chars"]

# A number that is null when there was nothing to measure. Spelled as one JSON Schema type list
# rather than pydantic's anyOf: an MCP client validates every answer against the schema, and an
# anyOf costs it two or three sub-validations per field instead of one.
OptionalNumber = Annotated[float | None, WithJsonSchema({"type": ["number", "null"]})]
OptionalString = Annotated[str | None, WithJsonSchema({"type": ["string", "null"]})]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


# ---------------------------------------------------------------- inputs


class RequestSample(_Strict):
    """One HTTP request, as sent in a batch by an app that is not Python."""

    endpoint: v.Path
    method: v.Name = "GET"
    status_code: v.StatusCode
    duration_ms: v.DurationMs
    request_bytes: v.ByteCount = None
    response_bytes: v.ByteCount = None
    timestamp: v.UnixSeconds = Field(default=None, description="Unix seconds; default now.")


class ToolCallRecord(_Strict):
    """One tool call, alone or inside an agent run."""

    tool_name: v.Name
    duration_ms: v.DurationMs
    success: v.Flag = True
    error_type: v.OptionalName = None
    agent_name: v.OptionalName = None
    call_id: v.OptionalName = None
    timestamp: v.UnixSeconds = Field(default=None, description="Unix seconds; default now.")
    result_chars: v.ByteCount = Field(default=None, description="Size of the result, chars.")


class AgentRunRecord(_Strict):
    """One agent run, named after the OpenTelemetry GenAI conventions.

    Give ``duration_ms``, or ``start_time`` and ``end_time`` (Unix seconds).
    """

    agent_name: v.Name
    duration_ms: v.DurationMs | None = None
    start_time: v.UnixSeconds = None
    end_time: v.UnixSeconds = None
    success: v.Flag = True
    error_type: v.OptionalName = None
    model: v.OptionalName = None
    provider: v.OptionalName = None
    input_tokens: v.Count = 0
    output_tokens: v.Count = 0
    cache_read_tokens: v.Count = 0
    cache_write_tokens: v.Count = 0
    cost_usd: v.CostUsd = 0.0
    tool_calls: Annotated[list[ToolCallRecord], Field(max_length=v.MAX_TOOL_CALLS)] = []
    run_id: v.OptionalName = None
    conversation_id: v.OptionalName = None

    @model_validator(mode="after")
    def _has_duration(self) -> AgentRunRecord:
        if self.duration_ms is None:
            if self.start_time is None or self.end_time is None:
                raise ValueError("give duration_ms, or both start_time and end_time")
            v.duration("end_time - start_time", (self.end_time - self.start_time) * 1000)
        return self

    @property
    def elapsed_ms(self) -> float:
        """The run's duration in milliseconds, from duration_ms or the two times."""
        if self.duration_ms is not None:
            return self.duration_ms
        return ((self.end_time or 0.0) - (self.start_time or 0.0)) * 1000


# ---------------------------------------------------------------- answers


class LatencyStats(_Answer):
    """Latency percentiles in milliseconds (None when there were no samples)."""

    p50_ms: OptionalNumber = None
    p95_ms: OptionalNumber = None
    p99_ms: OptionalNumber = None


class LatencyDetail(_Answer):
    """Latency percentiles, mean, min and max in milliseconds (None when there were no samples)."""

    p50_ms: OptionalNumber = None
    p90_ms: OptionalNumber = None
    p95_ms: OptionalNumber = None
    p99_ms: OptionalNumber = None
    mean_ms: OptionalNumber = None
    min_ms: OptionalNumber = None
    max_ms: OptionalNumber = None


class EndpointStats(LatencyDetail):
    """One endpoint (route template + method) over the window."""

    endpoint: str
    method: str
    count: int
    requests_per_s: float
    error_count: int = Field(description="Responses with a 5xx status.")
    error_rate: OptionalNumber = Field(description="error_count / count, in [0, 1].")
    status_counts: dict[str, int] = Field(description='By class: "2xx", "3xx", "4xx", "5xx".')
    avg_request_bytes: OptionalNumber = None
    avg_response_bytes: OptionalNumber = None


class EndpointStatsList(_Answer):
    window: Window
    endpoints: list[EndpointStats]
    total_endpoints: int = Field(description="Endpoints with traffic in the window.")
    truncated: bool = Field(description="True when more endpoints matched than `limit`.")
    folded_series: int = Field(
        default=0,
        description="Requests recorded under __other__: their endpoint was past the series budget.",
    )


class CountShare(_Answer):
    name: str
    count: int


class _Cost(_Answer):
    """Tokens and cost; input_tokens include cache reads and writes."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float = Field(description="Reported costs plus estimated ones.")
    estimated_cost_usd: float = Field(description="Part of cost_usd estimated from tokens.")
    estimated_runs: int
    unpriced_runs: int = Field(description="Runs with tokens, no cost and no known price.")


class AgentStats(_Cost, LatencyDetail):
    """One agent over the window."""

    agent_name: str
    runs: int
    failures: int
    success_rate: OptionalNumber
    error_rate: OptionalNumber
    tool_calls: int
    top_errors: list[CountShare] = Field(description="Most frequent error types, most first.")
    tool_usage: list[CountShare] = Field(description="Tools called during runs, most first.")


class ModelUsage(_Cost):
    """Runs and tokens per model (provider/model)."""

    model: str
    runs: int
    failures: int
    error_rate: OptionalNumber
    p50_ms: OptionalNumber
    p95_ms: OptionalNumber


class ConversationCost(_Answer):
    conversation_id: str
    runs: int
    cost_usd: float
    estimated_cost_usd: float


class AgentStatsList(_Answer):
    window: Window
    agents: list[AgentStats]
    models: list[ModelUsage]
    total_agents: int
    truncated: bool
    conversations: list[ConversationCost] = Field(
        default=[],
        description=f"Up to {TOP_CONVERSATIONS} costliest conversations, of the raw runs kept.",
    )
    prices: OptionalString = Field(
        default=None, description="Price table of the estimated costs; null: none estimated."
    )


class ToolStats(LatencyDetail):
    """One tool over the window."""

    tool_name: str
    calls: int
    failures: int
    success_rate: OptionalNumber
    error_rate: OptionalNumber
    top_errors: list[CountShare]
    result_chars_mean: OptionalNumber = Field(default=None, description="null: not measured.")
    result_chars_p95: OptionalNumber = None
    result_tokens_mean: OptionalNumber = Field(
        default=None, description=f"Estimated tokens: characters / {CHARS_PER_TOKEN}."
    )
    result_tokens_p95: OptionalNumber = None


class ToolStatsList(_Answer):
    window: Window
    tools: list[ToolStats]
    total_tools: int
    truncated: bool


# ---------------------------------------------------------------- the summary
#
# The summary is what an assistant reads first, on every question, so it carries what a
# first answer needs and no more: totals, and short rows for the worst endpoints with the
# three percentiles a person quotes (p50, p95, p99). get_endpoint_stats, get_agent_stats and
# get_tool_stats give the full rows (p90, mean, min, max, sizes, status classes, top errors).


class RequestTotals(LatencyStats):
    """All HTTP requests in the window."""

    count: int = 0
    requests_per_s: float = 0.0
    error_count: int = Field(default=0, description="Responses with a 5xx status.")
    error_rate: OptionalNumber = Field(
        default=None, description="error_count / count, in [0, 1]; null: no requests."
    )
    status_counts: dict[str, int] = Field(
        default={}, description='By class: "2xx", "3xx", "4xx", "5xx" (classes seen only).'
    )


class AgentTotals(LatencyStats):
    """All agent runs in the window."""

    runs: int = 0
    failures: int = 0
    success_rate: OptionalNumber = Field(default=None, description="In [0, 1]; null: no runs.")
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float = 0.0


class ToolTotals(LatencyStats):
    """All tool calls in the window."""

    calls: int = 0
    failures: int = 0
    success_rate: OptionalNumber = Field(default=None, description="In [0, 1]; null: no calls.")


class EndpointSummary(_Answer):
    """One endpoint (route template + method) in a summary table; the full row is in
    get_endpoint_stats."""

    endpoint: str
    method: str
    count: int
    error_count: int = Field(description="Responses with a 5xx status.")
    error_rate: OptionalNumber = Field(description="error_count / count, in [0, 1].")
    p50_ms: OptionalNumber = None
    p95_ms: OptionalNumber = None
    p99_ms: OptionalNumber = None


class SlowRequest(_Answer):
    """One of the slowest requests seen (an exemplar for drill-down)."""

    endpoint: str
    method: str
    status_code: int
    duration_ms: float
    timestamp: float = Field(description="When it ended, Unix seconds.")


class DeployMarker(_Answer):
    """A deploy: when a version went out (mark_deploy), a baseline for compare_windows."""

    version: str
    at: float = Field(description="Unix seconds.")
    note: OptionalString = None


EndpointTable = Annotated[list[EndpointSummary], Tabular(EndpointSummary)]
SlowRequestTable = Annotated[list[SlowRequest], Tabular(SlowRequest)]


class PerformanceSummary(_Answer):
    """Everything at a glance for one window."""

    window: Window
    window_s: int
    generated_at: float = Field(description="Unix seconds.")
    requests: RequestTotals
    agents: AgentTotals
    tools: ToolTotals
    slowest_endpoints: EndpointTable = Field(
        description=f"Up to {SUMMARY_ROWS} endpoints with the highest p95, slowest first."
    )
    most_errors: EndpointTable = Field(
        description=f"Up to {SUMMARY_ROWS} endpoints with the most 5xx responses, most first."
    )
    slowest_requests: SlowRequestTable = Field(
        description=f"Up to {SUMMARY_ROWS} slowest single requests, slowest first."
    )
    folded_series: dict[str, int] = Field(
        description="Per kind, records folded into __other__ (names past the series budget)."
    )
    large_results: list[str] = Field(
        default=[],
        description="Tools whose results are large for a context (p95 over 2,000 tokens).",
    )
    deploys: list[DeployMarker] = Field(
        default=[], description=f"Up to {SUMMARY_DEPLOYS} deploys in the window, newest first."
    )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # One self-contained schema, without $defs: a client validating each answer resolves
        # every "$ref" anew (per list item), which costs more than the item's own checks.
        schema: JsonSchemaValue = inlined(handler.resolve_ref_schema(handler(core_schema)), handler)
        # The totals' fields are named in their descriptions, like a table's columns: a client
        # descends into each listed property (~5 us each), which made the three totals more than
        # half of what checking a summary costs it.
        properties = schema["properties"]
        for name in ("requests", "agents", "tools"):
            properties[name] = described(properties[name])
        return schema
