"""Calling the Monitor from a tool: off the event loop, its errors told as tool errors."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import anyio.to_thread
from mcp.server.mcpserver.exceptions import ToolError
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
