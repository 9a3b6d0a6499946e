"""The run-context objects: an agent run or a tool call in progress, and how each records itself.

A tool call that ends while an agent run is current joins that run's ``tool_calls``; otherwise
it is recorded on its own. Recording goes to the run's monitor, else the default one, and never
breaks the caller: a refusal is logged once per name.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar, Token
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol

from perf_mcp.integrations.usage import model_from, usage_from

if TYPE_CHECKING:
    from perf_mcp.monitor import Monitor


class Opened(Protocol):
    """What an instrument opens (an AgentRun or a ToolCall): it keeps its token and records
    itself when it finishes."""

    _token: Any

    def _finish(self, error: BaseException | None, result: Any = None) -> None: ...


MAX_TOOL_CALLS_PER_RUN = 1000
"""Tool calls kept on one run; calls beyond it are recorded on their own, naming the agent."""

_PLAIN_TYPES = frozenset({str, bytes, int, float, bool, type(None), list, tuple})
# Results not measured: no result (or an error), bytes, and numbers (a few characters)
_UNMEASURED = frozenset({type(None), bytes, int, float, bool})
_log = logging.getLogger(__name__)
open_run: ContextVar[AgentRun | None] = ContextVar("perf_mcp_agent_run", default=None)
open_tool_call: ContextVar[ToolCall | None] = ContextVar("perf_mcp_tool_call", default=None)
_failures_logged: set[str] = set()


def current_run() -> AgentRun | None:
    """The monitored agent run in progress here, to add token usage or the model to it."""
    return open_run.get()


class AgentRun:
    """One agent run in progress; set ``model``, or call :meth:`add_usage`, while it runs."""

    __slots__ = (
        "_monitor",
        "_token",
        "_usage_added",
        "agent_name",
        "cache_read_tokens",
        "cache_write_tokens",
        "conversation_id",
        "cost_usd",
        "input_tokens",
        "model",
        "output_tokens",
        "provider",
        "run_id",
        "start",
        "tool_calls",
    )

    def __init__(
        self,
        agent_name: str,
        monitor: Monitor | None,
        model: str | None = None,
        provider: str | None = None,
        conversation_id: str | None = None,
    ) -> None:
        self.agent_name = agent_name
        self.model = model
        self.provider = provider
        self.conversation_id = conversation_id
        self.run_id: str | None = None
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_read_tokens = 0
        self.cache_write_tokens = 0
        self.cost_usd = 0.0
        self.tool_calls: list[dict[str, Any]] = []
        self._monitor = monitor
        self._usage_added = False
        self._token: Token[AgentRun | None] | None = None
        self.start = perf_counter()

    def add_usage(
        self,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cost_usd: float = 0.0,
        cache_write_tokens: int = 0,
    ) -> None:
        """Add tokens (and cost) spent so far; the result's own ``usage`` is then not read.

        ``input_tokens`` include the cache reads and writes. Without a cost, perf-mcp prices
        the tokens of a known model (perf_mcp.core.pricing).
        """
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cache_read_tokens += cache_read_tokens
        self.cache_write_tokens += cache_write_tokens
        self.cost_usd += cost_usd
        self._usage_added = True

    def _finish(self, error: BaseException | None, result: Any = None) -> None:
        """Record the run; its usage comes from ``result`` unless :meth:`add_usage` gave it."""
        duration_ms = (perf_counter() - self.start) * 1000
        try:
            fields: dict[str, Any] = {"agent_name": self.agent_name, "duration_ms": duration_ms}
            if error is not None:
                fields["success"] = False
                fields["error_type"] = type(error).__name__
            elif result.__class__ not in _PLAIN_TYPES and not self._usage_added:
                self._take_usage(result)  # not for None, a str, a number...
            # Only what differs from the defaults: fewer keyword arguments to pass and check.
            if self.input_tokens or self.output_tokens or self.cost_usd:
                fields["input_tokens"] = self.input_tokens
                fields["output_tokens"] = self.output_tokens
                fields["cache_read_tokens"] = self.cache_read_tokens
                fields["cache_write_tokens"] = self.cache_write_tokens
                fields["cost_usd"] = self.cost_usd
            if self.tool_calls:
                fields["tool_calls"] = self.tool_calls
            if self.model is not None:
                fields["model"] = self.model
            if self.provider is not None:
                fields["provider"] = self.provider
            if self.run_id is not None:
                fields["run_id"] = self.run_id
            if self.conversation_id is not None:
                fields["conversation_id"] = self.conversation_id
            _resolve(self._monitor).record_agent_run(**fields)
        except Exception:
            _log_failure_once("agent run", self.agent_name)

    def _take_usage(self, result: Any) -> None:
        usage = usage_from(result)
        if usage is not None:
            (
                self.input_tokens,
                self.output_tokens,
                self.cache_read_tokens,
                self.cache_write_tokens,
            ) = usage
        if self.model is None:
            self.model = model_from(result)


class ToolCall:
    """One tool call in progress (what ``with monitor_tool(...)`` gives).

    Set ``result_chars`` to the size of what the tool returns to a model, if known; a
    decorated function's result is measured unless ``measure_results=False``.
    """

    __slots__ = ("_monitor", "_token", "result_chars", "start", "tool_name")
    measure_results = True

    def __init__(self, tool_name: str, monitor: Monitor | None) -> None:
        self.tool_name = tool_name
        self._monitor = monitor
        self.result_chars: int | None = None
        self._token: Token[ToolCall | None] | None = None
        self.start = perf_counter()

    def _finish(self, error: BaseException | None, result: Any = None) -> None:
        """Join the agent run in progress, else record the call on its own."""
        duration_ms = (perf_counter() - self.start) * 1000
        error_type = None if error is None else type(error).__name__
        chars = self.result_chars
        if chars is None and result.__class__ not in _UNMEASURED and self.measure_results:
            chars = result_size(result)
        run = open_run.get()
        if run is not None and len(run.tool_calls) < MAX_TOOL_CALLS_PER_RUN:
            call = {
                "tool_name": self.tool_name,
                "duration_ms": duration_ms,
                "success": error is None,
                "error_type": error_type,
            }
            if chars is not None:
                call["result_chars"] = chars
            run.tool_calls.append(call)
            return
        agent = None if run is None else run.agent_name
        try:
            record = _resolve(self._monitor).record_tool_call
            if chars is None:  # the common arguments only: fewer to pass and check
                record(self.tool_name, duration_ms, error is None, error_type, agent)
            else:
                record(self.tool_name, duration_ms, error is None, error_type, agent, None, chars)
        except Exception:
            _log_failure_once("tool call", self.tool_name)


class UnmeasuredToolCall(ToolCall):
    """A tool call whose result is not measured (``measure_results=False``, a stream)."""

    __slots__ = ()
    measure_results = False


def result_size(result: Any) -> int | None:
    """The characters a result takes as text or compact JSON (None: not text, a JSON list or
    object, or a pydantic model). Text costs a ``len``, a container one ``json.dumps``."""
    kind = result.__class__
    if kind is str:
        return len(result)
    try:
        if kind is dict or kind is list or kind is tuple:
            return len(json.dumps(result, separators=(",", ":"), ensure_ascii=False))
        as_json = getattr(result, "model_dump_json", None)  # a pydantic model
        return len(as_json()) if callable(as_json) else None
    except (TypeError, ValueError, RecursionError):  # not JSON: size unknown
        return None


def _resolve(monitor: Monitor | None) -> Monitor:
    if monitor is not None:
        return monitor
    from perf_mcp.integrations import default_monitor

    return default_monitor()


def _log_failure_once(kind: str, name: str) -> None:
    if kind + name not in _failures_logged:
        _failures_logged.add(kind + name)
        _log.warning("perf-mcp could not record %s %r", kind, name, exc_info=True)
