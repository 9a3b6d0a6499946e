"""``@monitor_agent`` and ``@monitor_tool``: time a function, a generator or a ``with`` block.

Tool calls made while a monitored agent run is in progress (in the same task, or in tasks and
threads started from it with the context copied) become that run's ``tool_calls``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from perf_mcp.integrations.runs import (
    AgentRun,
    Opened,
    ToolCall,
    UnmeasuredToolCall,
    current_run,
    open_run,
    open_tool_call,
)
from perf_mcp.integrations.usage import usage_from as usage_from  # re-exported

if TYPE_CHECKING:
    from perf_mcp.monitor import Monitor

__all__ = ["AgentRun", "ToolCall", "current_run", "monitor_agent", "monitor_tool"]

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=Opened)


class _Instrument(Generic[C]):
    """What ``monitor_agent(...)`` and ``monitor_tool(...)`` return: a decorator and a context
    (``with`` or ``async with``) giving the run or call in progress.

    Each shim opens the run or call (``_begin``), makes it current only while the wrapped code
    runs, and has it record itself with the error or the result (a generator's last item).
    """

    _open: ContextVar[C | None]  # the run or call the code running here is in

    def __init__(self, name: str | None, monitor: Monitor | None) -> None:
        self.name = name
        self.monitor = monitor

    def _begin(self, name: str) -> C:
        """A new run or call named ``name``, its clock started."""
        raise NotImplementedError

    def __call__(self, func: F) -> F:
        return self._wrap(func)

    def _wrap(self, func: F) -> F:
        name = self.name or func.__name__
        if inspect.isasyncgenfunction(func):
            wrapper: Callable[..., Any] = self._wrap_async_gen(func, name)
        elif inspect.iscoroutinefunction(func):
            wrapper = self._wrap_async(func, name)
        elif inspect.isgeneratorfunction(func):
            wrapper = self._wrap_gen(func, name)
        else:
            wrapper = self._wrap_sync(func, name)
        return functools.wraps(func)(wrapper)  # type: ignore[return-value]

    def _wrap_sync(self, func: Callable[..., Any], name: str) -> Callable[..., Any]:
        begin, opened = self._begin, self._open

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            item = begin(name)
            token = opened.set(item)
            try:
                result = func(*args, **kwargs)
            except BaseException as error:
                opened.reset(token)
                item._finish(error)
                raise
            opened.reset(token)
            item._finish(None, result)
            return result

        return wrapper

    def _wrap_async(self, func: Callable[..., Any], name: str) -> Callable[..., Any]:
        begin, opened = self._begin, self._open

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            item = begin(name)
            token = opened.set(item)
            try:
                result = await func(*args, **kwargs)
            except BaseException as error:
                opened.reset(token)
                item._finish(error)
                raise
            opened.reset(token)
            item._finish(None, result)
            return result

        return wrapper

    def _wrap_gen(self, func: Callable[..., Any], name: str) -> Callable[..., Any]:
        begin, opened = self._begin, self._open

        def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, None]:
            item = begin(name)
            generator = func(*args, **kwargs)
            last: Any = None
            sent: Any = None
            thrown: BaseException | None = None
            error: BaseException | None = None
            try:
                while True:
                    token = opened.set(item)  # only while the generator runs
                    try:
                        last = generator.send(sent) if thrown is None else generator.throw(thrown)
                    except StopIteration:
                        break
                    finally:
                        opened.reset(token)
                    sent = thrown = None
                    try:
                        sent = yield last
                    except GeneratorExit:
                        raise
                    except BaseException as exc:  # thrown in: the generator's to handle
                        thrown = exc
            except GeneratorExit:
                generator.close()  # the consumer stopped early: a complete, shorter run
                raise
            except BaseException as exc:
                error = exc
                raise
            finally:
                item._finish(error, last)

        return wrapper

    def _wrap_async_gen(self, func: Callable[..., Any], name: str) -> Callable[..., Any]:
        begin, opened = self._begin, self._open

        async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
            item = begin(name)
            generator = func(*args, **kwargs)
            last: Any = None
            sent: Any = None
            thrown: BaseException | None = None
            error: BaseException | None = None
            try:
                while True:
                    token = opened.set(item)  # only while the generator runs
                    try:
                        step = generator.asend(sent) if thrown is None else generator.athrow(thrown)
                        last = await step
                    except StopAsyncIteration:
                        break
                    finally:
                        opened.reset(token)
                    sent = thrown = None
                    try:
                        sent = yield last
                    except GeneratorExit:
                        raise
                    except BaseException as exc:  # thrown in: the generator's to handle
                        thrown = exc
            except GeneratorExit:
                await generator.aclose()  # the consumer stopped early: a complete, shorter run
                raise
            except BaseException as exc:
                error = exc
                raise
            finally:
                item._finish(error, last)

        return wrapper

    def __enter__(self) -> C:
        if not self.name:
            raise TypeError("give a name to use monitor_agent/monitor_tool as a context manager")
        item = self._begin(self.name)
        item._token = self._open.set(item)
        return item

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        item = self._open.get()
        if item is None or item._token is None:
            raise RuntimeError(
                "a monitor_agent/monitor_tool context exited where it was not entered"
            )
        self._open.reset(item._token)
        item._finish(exc)

    async def __aenter__(self) -> C:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)


class AgentInstrument(_Instrument[AgentRun]):
    """``@monitor_agent(...)``: a decorator, and a context manager giving an :class:`AgentRun`."""

    _open = open_run

    def __init__(
        self,
        name: str | None,
        monitor: Monitor | None,
        model: str | None = None,
        provider: str | None = None,
        conversation_id: str | None = None,
    ) -> None:
        super().__init__(name, monitor)
        self.model = model
        self.provider = provider
        self.conversation_id = conversation_id

    def _begin(self, name: str) -> AgentRun:
        return AgentRun(name, self.monitor, self.model, self.provider, self.conversation_id)


class ToolInstrument(_Instrument[ToolCall]):
    """``@monitor_tool(...)``: a decorator, and a context manager giving a :class:`ToolCall`."""

    _open = open_tool_call

    def __init__(self, name: str | None, monitor: Monitor | None, measure_results: bool) -> None:
        super().__init__(name, monitor)
        self.measure_results = measure_results

    def __call__(self, func: F) -> F:
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            # A stream's last item is not what the tool returned: measure nothing.
            return ToolInstrument(self.name, self.monitor, False)._wrap(func)
        return self._wrap(func)

    def _begin(self, name: str) -> ToolCall:
        return (ToolCall if self.measure_results else UnmeasuredToolCall)(name, self.monitor)


@overload
def monitor_agent(name: F, /) -> F: ...


@overload
def monitor_agent(
    name: str | None = None,
    /,
    *,
    monitor: Monitor | None = None,
    model: str | None = None,
    provider: str | None = None,
    conversation_id: str | None = None,
) -> AgentInstrument: ...


def monitor_agent(
    name: str | Callable[..., Any] | None = None,
    /,
    *,
    monitor: Monitor | None = None,
    model: str | None = None,
    provider: str | None = None,
    conversation_id: str | None = None,
) -> Any:
    """Record each call as an agent run: duration, success or the exception's class, tokens.

    ```python
    @monitor_agent("planner", model="gpt-4o", provider="openai")
    async def plan(question: str) -> ChatCompletion:
        return await client.chat.completions.create(...)  # usage read from the result

    with monitor_agent("summariser") as run:
        run.add_usage(input_tokens=812, output_tokens=95)
    ```

    Token usage comes from the result's ``usage`` (OpenAI, Anthropic, pydantic-ai shapes),
    unless the run was given it with :meth:`AgentRun.add_usage`. Works on functions, coroutine
    functions, generators and async generators (the last item's ``usage`` counts).
    """
    if callable(name):
        return AgentInstrument(None, None)(name)
    return AgentInstrument(name, monitor, model, provider, conversation_id)


@overload
def monitor_tool(name: F, /) -> F: ...


@overload
def monitor_tool(
    name: str | None = None, /, *, monitor: Monitor | None = None, measure_results: bool = True
) -> ToolInstrument: ...


def monitor_tool(
    name: str | Callable[..., Any] | None = None,
    /,
    *,
    monitor: Monitor | None = None,
    measure_results: bool = True,
) -> Any:
    """Record each call as a tool call; inside a monitored agent run it joins that run.

    A function's result that is text, a JSON-serialisable list or dict, or a pydantic model
    is measured: its size in characters is what the call costs a model's context
    (get_tool_stats shows it; a number, a few characters, is not measured).
    ``measure_results=False`` skips that; a ``with`` block sets ``call.result_chars`` itself.

    ```python
    @monitor_tool
    def search(query: str) -> list[str]: ...

    with monitor_tool("fetch_page") as call:
        page = httpx.get(url).text
        call.result_chars = len(page)
    ```
    """
    if callable(name):
        return ToolInstrument(None, None, True)(name)
    return ToolInstrument(name, monitor, measure_results)
