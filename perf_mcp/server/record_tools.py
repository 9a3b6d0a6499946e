"""The reporting tools: an agent's run, a lone tool call, a batch of HTTP requests."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from perf_mcp.core.models import AgentRunRecord, ToolCallRecord
from perf_mcp.core.validation import ByteCount, Count, DurationMs, Name
from perf_mcp.server.arguments import OptionalText, RequestArg, ToolCallArg
from perf_mcp.server.auth import require_write
from perf_mcp.server.calls import in_thread, invalid, tool_errors
from perf_mcp.server.runtime import Runtime

MAX_BATCH = 10_000
INLINE_BATCH = 100  # samples recorded on the event loop (~0.1 ms); bigger batches in a thread


class RecordResult(BaseModel):
    """What a reporting tool stored."""

    recorded: int = Field(description="Items recorded by this call.")
    kind: Literal["agent_run", "tool_call", "request"]


class RecordTools:
    """record_agent_run, record_tool_call and record_requests over one Runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def record_agent_run(
        self,
        agent_name: Annotated[Name, Field(description="gen_ai.agent.name")],
        duration_ms: Annotated[
            DurationMs | None,
            Field(description="Or give start_time and end_time."),
        ] = None,
        success: bool = True,
        error_type: Annotated[OptionalText, Field(description='e.g. "timeout".')] = None,
        model: Annotated[OptionalText, Field(description="gen_ai.request.model")] = None,
        provider: Annotated[OptionalText, Field(description="gen_ai.provider.name")] = None,
        input_tokens: Annotated[Count, Field(description="All input, cached included.")] = 0,
        output_tokens: Count = 0,
        cache_read_tokens: Count = 0,
        cache_write_tokens: Count = 0,
        cost_usd: Annotated[
            float,
            Field(ge=0, le=1e6, allow_inf_nan=False, description="0: estimated from tokens."),
        ] = 0.0,
        tool_calls: Annotated[
            list[ToolCallArg],
            Field(max_length=1000),
        ] = [],  # noqa: B006 - pydantic copies defaults, the list is never shared
        start_time: Annotated[float | None, Field(description="Unix seconds.")] = None,
        end_time: Annotated[float | None, Field(description="Unix seconds.")] = None,
        run_id: OptionalText = None,
        conversation_id: Annotated[
            OptionalText, Field(description="Conversation or session id.")
        ] = None,
    ) -> RecordResult:
        """Report one finished agent run, its tool calls nested; call once per run."""
        require_write("record_agent_run")
        try:
            run = AgentRunRecord(
                agent_name=agent_name,
                duration_ms=duration_ms,
                start_time=start_time,
                end_time=end_time,
                success=success,
                error_type=error_type,
                model=model,
                provider=provider,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cache_read_tokens=cache_read_tokens,
                cache_write_tokens=cache_write_tokens,
                cost_usd=cost_usd,
                tool_calls=list[ToolCallRecord](tool_calls),
                run_id=run_id,
                conversation_id=conversation_id,
            )
            self.runtime.monitor.record_agent_run(run)
        except ValueError as exc:
            raise invalid(exc) from exc
        return RecordResult(recorded=1, kind="agent_run")

    async def record_tool_call(
        self,
        tool_name: Annotated[Name, Field(description="gen_ai.tool.name")],
        duration_ms: DurationMs,
        success: bool = True,
        error_type: OptionalText = None,
        agent_name: Annotated[Name | None, Field(description="The caller, if an agent.")] = None,
        timestamp: Annotated[
            float | None, Field(description="End, Unix seconds; default now.")
        ] = None,
        result_chars: Annotated[ByteCount, Field(description="Size of the result, chars.")] = None,
    ) -> RecordResult:
        """Report a tool call made outside a reported agent run (those go in the run)."""
        require_write("record_tool_call")
        try:
            self.runtime.monitor.record_tool_call(
                tool_name,
                duration_ms,
                success=success,
                error_type=error_type,
                agent_name=agent_name,
                timestamp=timestamp,
                result_chars=result_chars,
            )
        except ValueError as exc:
            raise invalid(exc) from exc
        return RecordResult(recorded=1, kind="tool_call")

    async def record_requests(
        self,
        requests: Annotated[
            list[RequestArg],
            Field(
                min_length=1,
                max_length=MAX_BATCH,
                description="Ids in paths collapse to {id}; timestamp in Unix seconds.",
            ),
        ],
    ) -> RecordResult:
        """Report HTTP requests from an app that cannot use the Python library, in batches
        every few seconds; all or nothing."""
        require_write("record_requests")
        record = self.runtime.monitor.record_requests
        if len(requests) > INLINE_BATCH:
            count = await in_thread(record, requests)
        else:
            with tool_errors():
                count = record(requests)
        return RecordResult(recorded=count, kind="request")
