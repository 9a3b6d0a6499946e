"""OpenTelemetry out: Logfire for the server, and recorded runs and calls as GenAI spans.

With a ``LOGFIRE_TOKEN`` the CLI configures Logfire at once (the MCP SDK's request spans are
sent from the first request); without one, importing Logfire (about 0.2 s) waits for the first
alert transition to log, and nothing is sent. Never to stdout: that is the stdio protocol's.
Alert transitions are Logfire logs (perf_mcp.alerting.announce).

Once telemetry is configured (Logfire recording spans, or ``emit_genai_spans`` with an app's
own tracer provider), every agent run and tool call a Monitor records becomes a span named per
the OpenTelemetry GenAI conventions, ``invoke_agent {agent}`` with its tool calls'
``execute_tool {tool}`` as children, at the run's real start and end. Records made inside
``received()`` (the OTLP receiver's) are not: they are OpenTelemetry already, and a server
exporting to itself would receive them again, without end. Each span carries this process's
random ``RECORDED_BY`` mark, so the process's own receiver knows the run is recorded already
(a server exporting its telemetry to itself counts a run once). Nothing of OpenTelemetry is
imported until then::

    from opentelemetry.sdk.trace import TracerProvider
    from perf_mcp import telemetry

    telemetry.emit_genai_spans(TracerProvider())  # or no argument: the global provider
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logfire
    from opentelemetry.context import Context
    from opentelemetry.trace import Tracer, TracerProvider

    from perf_mcp.core.validation import AgentRunSample, ToolCallSample

# configure()'s record_spans and options, waiting for the first use
_pending: tuple[bool, dict[str, Any]] | None = None


def configure(*, now: bool, record_spans: bool = True, **options: Any) -> None:
    """Configure Logfire with ``options``: at once, or when ``logfire_instance`` is first asked.

    ``record_spans=False`` records no span at all (head sampling 0): for when nothing would
    receive them.
    """
    global _pending
    _pending = record_spans, options
    if now:
        logfire_instance()


def logfire_instance() -> logfire.Logfire:
    """The default Logfire instance, configured as ``configure`` asked (if it did)."""
    global _pending
    import logfire

    if _pending is not None:
        (record_spans, options), _pending = _pending, None
        if not record_spans:
            options["sampling"] = logfire.SamplingOptions(head=0.0)
        logfire.configure(**options)
        if record_spans:
            emit_genai_spans()  # on the tracer provider Logfire just made global
    return logfire.DEFAULT_LOGFIRE_INSTANCE


# ---------------------------------------------------------------- GenAI spans

_spans: GenAISpans | None = None  # None: recorded runs and calls are not emitted
RECORDED_BY = "perf_mcp.recorded_by"
"""The span attribute holding the mark of the process whose Monitor recorded the run or call."""
PROCESS_MARK = secrets.token_hex(8)
"""This process's mark: spans carrying it came back to the process that recorded them."""
_received: ContextVar[bool] = ContextVar("perf_mcp_received", default=False)


def emit_genai_spans(tracer_provider: TracerProvider | None = None) -> None:
    """From now on, emit recorded agent runs and tool calls as spans of ``tracer_provider``
    (None: the global one, as the app's OpenTelemetry or Logfire set it up)."""
    global _spans
    _spans = GenAISpans(tracer_provider)


def stop_genai_spans() -> None:
    """Emit no more spans for recorded runs and calls."""
    global _spans
    _spans = None


@contextmanager
def received() -> Iterator[None]:
    """Runs and calls recorded inside came in as OpenTelemetry (OTLP): not emitted again."""
    token = _received.set(True)
    try:
        yield
    finally:
        _received.reset(token)


def recorded_run(run: AgentRunSample) -> None:
    """A Monitor recorded ``run``: emit it when telemetry is configured."""
    if _spans is not None and not _received.get():
        _spans.run(run)


def recorded_call(call: ToolCallSample) -> None:
    """A Monitor recorded a lone tool call: emit it when telemetry is configured."""
    if _spans is not None and not _received.get():
        _spans.call(call, None)


class GenAISpans:
    """Checked runs and calls (perf_mcp.core.validation's samples) as GenAI spans.

    A run ends at its timestamp and starts its duration earlier; its tool calls are its
    children. Attribute names are the current GenAI conventions' (OTLP-NOTES in the repo's
    issue 12): ``gen_ai.operation.name``, ``gen_ai.agent.name``, ``gen_ai.request.model``,
    ``gen_ai.provider.name``, ``gen_ai.usage.*``, ``gen_ai.tool.name``,
    ``gen_ai.tool.call.id``, ``gen_ai.conversation.id``, ``error.type`` with status ERROR,
    and Logfire's ``operation.cost`` in USD.
    """

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        from opentelemetry import trace

        self.trace = trace
        self.tracer: Tracer = trace.get_tracer("perf_mcp", tracer_provider=tracer_provider)

    def run(self, run: AgentRunSample) -> None:
        """One ``invoke_agent`` span, with an ``execute_tool`` child per tool call."""
        end, agent, duration_ms, success, error_type, model, provider = run[:7]
        input_tokens, output_tokens, cache_read, cache_write, cost = run[7:12]
        conversation, calls = run[13:]
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent,
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
            RECORDED_BY: PROCESS_MARK,
        }
        optional = {
            "gen_ai.request.model": model,
            "gen_ai.provider.name": provider,
            "gen_ai.usage.cache_read.input_tokens": cache_read or None,
            "gen_ai.usage.cache_write.input_tokens": cache_write or None,
            "gen_ai.conversation.id": conversation,
            "operation.cost": cost or None,
        }
        attributes |= {k: v for k, v in optional.items() if v is not None}
        span = self.tracer.start_span(
            f"invoke_agent {agent}", start_time=_ns(end - duration_ms / 1000), attributes=attributes
        )
        self._outcome(span, success, error_type)
        context = self.trace.set_span_in_context(span)
        for call in calls:
            self.call(call, context)
        span.end(end_time=_ns(end))

    def call(self, call: ToolCallSample, parent: Context | None) -> None:
        """One ``execute_tool`` span (a child of ``parent``, the run's, when given)."""
        end, tool, duration_ms, success, error_type, agent, call_id, _result_chars = call
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool,
            RECORDED_BY: PROCESS_MARK,
        }
        if call_id is not None:
            attributes["gen_ai.tool.call.id"] = call_id
        if agent is not None:
            attributes["gen_ai.agent.name"] = agent
        span = self.tracer.start_span(
            f"execute_tool {tool}",
            context=parent,
            start_time=_ns(end - duration_ms / 1000),
            attributes=attributes,
        )
        self._outcome(span, success, error_type)
        span.end(end_time=_ns(end))

    def _outcome(self, span: Any, success: bool, error_type: str | None) -> None:
        if not success:
            span.set_attribute("error.type", error_type or "_OTHER")
            span.set_status(self.trace.Status(self.trace.StatusCode.ERROR, error_type))


def _ns(seconds: float) -> int:
    """Unix nanoseconds, to the microsecond: a float of seconds holds no finer (and * 1e9
    would round to 256 ns steps)."""
    return round(seconds * 1_000_000) * 1000
