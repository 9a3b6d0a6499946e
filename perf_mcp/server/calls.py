"""Calling the Monitor from a tool: off the event loop, its errors told as tool errors; and
each of perf-mcp's own tool calls recorded as a tool call, with the size of its answer."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from typing import ParamSpec, TypeVar

import anyio.to_thread
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult
from pydantic import BaseModel, ValidationError

from perf_mcp.monitor import Monitor
from perf_mcp.server.arguments import plain_reasons, refusal
from perf_mcp.storage import StoreError

P = ParamSpec("P")
T = TypeVar("T")
Q = TypeVar("Q", bound=BaseModel)


def describe_invalid(exc: ValueError) -> str:
    """What was wrong with a call, one clause per bad field."""
    return plain_reasons(exc) if isinstance(exc, ValidationError) else str(exc)


def invalid(exc: ValueError) -> ToolError:
    """The tool error for input the Monitor refused."""
    return ToolError(refusal(describe_invalid(exc)))


def store_unusable(exc: StoreError) -> ToolError:
    """The tool error for a store that cannot be read or written."""
    return ToolError(f"the metrics store cannot be used: {exc}")


@contextmanager
def tool_errors() -> Iterator[None]:
    """Bad input and an unusable store become ToolErrors, the errors a client is shown."""
    try:
        yield
    except ValueError as exc:
        raise invalid(exc) from exc
    except StoreError as exc:
        raise store_unusable(exc) from exc


async def in_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking Monitor call off the event loop; bad input becomes a ToolError."""
    with tool_errors():
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


async def ask(monitor: Monitor, query: Callable[P, Q], *args: P.args, **kwargs: P.kwargs) -> Q:
    """A Monitor query's answer: at once when it is cached and current (no thread hop,
    no I/O), else from a worker thread."""
    call = functools.partial(query, *args, **kwargs)
    with tool_errors():
        answer = monitor.cached_answer(call)
    return answer if answer is not None else await in_thread(call)


def measured(tool: Tool, monitor: Callable[[], Monitor]) -> Tool:
    """``tool`` recording each call that answers in ``monitor()`` as a tool call: its
    duration and the characters of its answer's text (what it costs a model's context), so
    get_tool_stats shows what each perf-mcp tool costs a conversation. A refused call
    records nothing (its error says so); a store that takes no records (read-only, closed)
    loses the record, never the answer."""
    answer: Callable[..., Awaitable[CallToolResult]] = tool.fn
    name = tool.name

    @functools.wraps(answer)
    async def call(*args: object, **kwargs: object) -> CallToolResult:
        start = time.perf_counter()
        result = await answer(*args, **kwargs)
        duration_ms = (time.perf_counter() - start) * 1000
        chars = sum(len(block.text) for block in result.content if block.type == "text")
        with suppress(StoreError, RuntimeError, ToolError):
            monitor().record_tool_call(name, duration_ms, True, None, None, None, chars)
        return result

    return tool.model_copy(update={"fn": call})
