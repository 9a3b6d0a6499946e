"""``@monitor_agent`` and ``@monitor_tool``: time a function, a generator or a ``with`` block.

Tool calls made while a monitored agent run is in progress (in the same task, or in tasks and
threads started from it with the context copied) become that run's ``tool_calls``.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from contextvars import ContextVar, Token
from time import perf_counter
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

if TYPE_CHECKING:
    from perf_mcp.monitor import Monitor

__all__ = ["AgentRun", "ToolCall", "current_run", "monitor_agent", "monitor_tool"]

F = TypeVar("F", bound=Callable[..., Any])


class _Opened(Protocol):
    """What an instrument's context gives (an AgentRun or a ToolCall): it keeps its token."""

    _token: Any


C = TypeVar("C", bound=_Opened)

MAX_TOOL_CALLS_PER_RUN = 1000
"""Tool calls kept on one run; calls beyond it are recorded on their own, naming the agent."""

_INPUT_KEYS = ("input_tokens", "prompt_tokens", "request_tokens")
_OUTPUT_KEYS = ("output_tokens", "completion_tokens", "response_tokens")
_CACHE_READ_KEYS = ("cache_read_input_tokens", "cache_read_tokens")
_CACHE_DETAIL_KEYS = ("prompt_tokens_details", "input_tokens_details")

_PLAIN_TYPES = frozenset({str, bytes, int, float, bool, type(None), list, tuple})
_log = logging.getLogger(__name__)
_current_run: ContextVar[AgentRun | None] = ContextVar("perf_mcp_agent_run", default=None)
_open_tool_call: ContextVar[ToolCall | None] = ContextVar("perf_mcp_tool_call", default=None)
_failures_logged: set[str] = set()


def current_run() -> AgentRun | None:
    """The monitored agent run in progress here, to add token usage or the model to it."""
    return _current_run.get()


class AgentRun:
    """One agent run in progress; set ``model``, or call :meth:`add_usage`, while it runs."""

    __slots__ = (
        "_monitor",
        "_token",
        "_usage_added",
        "agent_name",
        "cache_read_tokens",
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
    ) -> None:
        """Add tokens (and cost) spent so far; the result's own ``usage`` is then not read."""
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cache_read_tokens += cache_read_tokens
        self.cost_usd += cost_usd
        self._usage_added = True

    def _finish(self, error: BaseException | None, result: Any = None) -> None:
        duration_ms = (perf_counter() - self.start) * 1000
        try:
            if error is None:
                if result.__class__ not in _PLAIN_TYPES and not self._usage_added:
                    self._take_usage(result)  # not for None, a str, a number...
                fields: dict[str, Any] = {"agent_name": self.agent_name, "duration_ms": duration_ms}
            else:
                fields = {
                    "agent_name": self.agent_name,
                    "duration_ms": duration_ms,
                    "success": False,
                    "error_type": type(error).__name__,
                }
            # Only what differs from the defaults: fewer keyword arguments to pass and check.
            if self.input_tokens or self.output_tokens or self.cache_read_tokens or self.cost_usd:
                fields["input_tokens"] = self.input_tokens
                fields["output_tokens"] = self.output_tokens
                fields["cache_read_tokens"] = self.cache_read_tokens
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
            self.input_tokens, self.output_tokens, self.cache_read_tokens = usage
        if self.model is None:
            model = _field(result, "model")
            if isinstance(model, str) and model:
                self.model = model


class ToolCall:
    """One tool call in progress (what ``with monitor_tool(...)`` gives)."""

    __slots__ = ("_monitor", "_token", "start", "tool_name")

    def __init__(self, tool_name: str, monitor: Monitor | None) -> None:
        self.tool_name = tool_name
        self._monitor = monitor
        self._token: Token[ToolCall | None] | None = None
        self.start = perf_counter()


def _finish_tool(
    tool_name: str, monitor: Monitor | None, start: float, error: BaseException | None
) -> None:
    duration_ms = (perf_counter() - start) * 1000
    error_type = None if error is None else type(error).__name__
    run = _current_run.get()
    if run is not None and len(run.tool_calls) < MAX_TOOL_CALLS_PER_RUN:
        run.tool_calls.append(
            {
                "tool_name": tool_name,
                "duration_ms": duration_ms,
                "success": error is None,
                "error_type": error_type,
            }
        )
        return
    try:
        _resolve(monitor).record_tool_call(
            tool_name,
            duration_ms,
            error is None,
            error_type,
            None if run is None else run.agent_name,
        )
    except Exception:
        _log_failure_once("tool call", tool_name)


class _Instrument(Generic[C]):
    """What ``monitor_agent(...)`` and ``monitor_tool(...)`` return: a decorator and a context
    (``with`` or ``async with``) giving the run or call in progress."""

    def __init__(self, name: str | None, monitor: Monitor | None) -> None:
        self.name = name
        self.monitor = monitor

    def __call__(self, func: F) -> F:
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
        raise NotImplementedError

    def _wrap_async(self, func: Callable[..., Any], name: str) -> Callable[..., Any]:
        raise NotImplementedError

    def _wrap_gen(self, func: Callable[..., Any], name: str) -> Callable[..., Any]:
        raise NotImplementedError

    def _wrap_async_gen(self, func: Callable[..., Any], name: str) -> Callable[..., Any]:
        raise NotImplementedError

    _open: ContextVar[C | None]  # the run or call this context is in

    def _begin(self) -> C:
        """The run or call a ``with`` block starts."""
        raise NotImplementedError

    def _end(self, item: C, error: BaseException | None) -> None:
        """Record the run or call a ``with`` block ends."""
        raise NotImplementedError

    def __enter__(self) -> C:
        item = self._begin()
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
        self._end(item, exc)

    async def __aenter__(self) -> C:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)

    def _context_name(self) -> str:
        if not self.name:
            raise TypeError("give a name to use monitor_agent/monitor_tool as a context manager")
        return self.name


class AgentInstrument(_Instrument[AgentRun]):
    """``@monitor_agent(...)``: a decorator, and a context manager giving an :class:`AgentRun`."""

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

    def _start(self, name: str) -> AgentRun:
        return AgentRun(name, self.monitor, self.model, self.provider, self.conversation_id)

    _open = _current_run

    def _begin(self) -> AgentRun:
        return self._start(self._context_name())

    def _end(self, item: AgentRun, error: BaseException | None) -> None:
        item._finish(error)

    def _wrap_sync(self, func: Callable[..., Any], name: str) -> Callable[..., Any]:
        monitor, model, provider, conversation_id = (
            self.monitor,
            self.model,
            self.provider,
            self.conversation_id,
        )

        def run_agent(*args: Any, **kwargs: Any) -> Any:
            run = AgentRun(name, monitor, model, provider, conversation_id)
            token = _current_run.set(run)
            try:
                result = func(*args, **kwargs)
            except BaseException as error:
                _current_run.reset(token)
                run._finish(error)
                raise
            _current_run.reset(token)
            run._finish(None, result)
            return result

        return run_agent

    def _wrap_async(self, func: Callable[..., Any], name: str) -> Callable[..., Any]:
        monitor, model, provider, conversation_id = (
            self.monitor,
            self.model,
            self.provider,
            self.conversation_id,
        )

        async def run_agent(*args: Any, **kwargs: Any) -> Any:
            run = AgentRun(name, monitor, model, provider, conversation_id)
            token = _current_run.set(run)
            try:
                result = await func(*args, **kwargs)
            except BaseException as error:
                _current_run.reset(token)
                run._finish(error)
                raise
            _current_run.reset(token)
            run._finish(None, result)
            return result

        return run_agent

    def _wrap_gen(self, func: Callable[..., Any], name: str) -> Callable[..., Any]:
        def run_agent(*args: Any, **kwargs: Any) -> Generator[Any, None, None]:
            run = self._start(name)
            generator = func(*args, **kwargs)
            last: Any = None
            error: BaseException | None = None
            try:
                while True:
                    token = _current_run.set(run)  # only while the generator runs
                    try:
                        item = next(generator)
                    except StopIteration:
                        break
                    finally:
                        _current_run.reset(token)
                    last = item
                    yield item
            except GeneratorExit:
                generator.close()  # the consumer stopped early: a complete, shorter run
                raise
            except BaseException as exc:
                error = exc
                raise
            finally:
                run._finish(error, last)

        return run_agent

    def _wrap_async_gen(self, func: Callable[..., Any], name: str) -> Callable[..., Any]:
        async def run_agent(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
            run = self._start(name)
            generator = func(*args, **kwargs)
            last: Any = None
            error: BaseException | None = None
            try:
                while True:
                    token = _current_run.set(run)  # only while the generator runs
                    try:
                        item = await generator.__anext__()
                    except StopAsyncIteration:
                        break
                    finally:
                        _current_run.reset(token)
                    last = item
                    yield item
            except GeneratorExit:
                await generator.aclose()  # the consumer stopped early: a complete, shorter run
                raise
            except BaseException as exc:
                error = exc
                raise
            finally:
                run._finish(error, last)

        return run_agent


class ToolInstrument(_Instrument[ToolCall]):
    """``@monitor_tool(...)``: a decorator, and a context manager giving a :class:`ToolCall`."""

    _open = _open_tool_call

    def _begin(self) -> ToolCall:
        return ToolCall(self.name or self._context_name(), self.monitor)

    def _end(self, item: ToolCall, error: BaseException | None) -> None:
        _finish_tool(item.tool_name, item._monitor, item.start, error)

    def _wrap_sync(self, func: Callable[..., Any], name: str) -> Callable[..., Any]:
        monitor = self.monitor

        def call_tool(*args: Any, **kwargs: Any) -> Any:
            start = perf_counter()
            try:
                result = func(*args, **kwargs)
            except BaseException as error:
                _finish_tool(name, monitor, start, error)
                raise
            _finish_tool(name, monitor, start, None)
            return result

        return call_tool

    def _wrap_async(self, func: Callable[..., Any], name: str) -> Callable[..., Any]:
        monitor = self.monitor

        async def call_tool(*args: Any, **kwargs: Any) -> Any:
            start = perf_counter()
            try:
                result = await func(*args, **kwargs)
            except BaseException as error:
                _finish_tool(name, monitor, start, error)
                raise
            _finish_tool(name, monitor, start, None)
            return result

        return call_tool

    def _wrap_gen(self, func: Callable[..., Any], name: str) -> Callable[..., Any]:
        monitor = self.monitor

        def call_tool(*args: Any, **kwargs: Any) -> Generator[Any, None, None]:
            start = perf_counter()
            error: BaseException | None = None
            try:
                yield from func(*args, **kwargs)
            except GeneratorExit:
                raise
            except BaseException as exc:
                error = exc
                raise
            finally:
                _finish_tool(name, monitor, start, error)

        return call_tool

    def _wrap_async_gen(self, func: Callable[..., Any], name: str) -> Callable[..., Any]:
        monitor = self.monitor

        async def call_tool(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
            start = perf_counter()
            generator = func(*args, **kwargs)
            error: BaseException | None = None
            try:
                async for item in generator:
                    yield item
            except GeneratorExit:
                await generator.aclose()
                raise
            except BaseException as exc:
                error = exc
                raise
            finally:
                _finish_tool(name, monitor, start, error)

        return call_tool


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
    name: str | None = None, /, *, monitor: Monitor | None = None
) -> ToolInstrument: ...


def monitor_tool(
    name: str | Callable[..., Any] | None = None, /, *, monitor: Monitor | None = None
) -> Any:
    """Record each call as a tool call; inside a monitored agent run it joins that run.

    ```python
    @monitor_tool
    def search(query: str) -> list[str]: ...

    with monitor_tool("fetch_page"):
        page = httpx.get(url)
    ```
    """
    if callable(name):
        return ToolInstrument(None, None)(name)
    return ToolInstrument(name, monitor)


def usage_from(result: Any) -> tuple[int, int, int] | None:
    """(input, output, cache-read) tokens from a result's ``usage``, or None if it has none."""
    usage = _field(result, "usage")
    if callable(usage) and not isinstance(usage, Mapping):  # pydantic-ai: result.usage()
        usage = usage()
    if usage is None:
        return None
    input_tokens = _first_count(usage, _INPUT_KEYS)
    output_tokens = _first_count(usage, _OUTPUT_KEYS)
    cache_read = _first_count(usage, _CACHE_READ_KEYS)
    if cache_read is None:
        for key in _CACHE_DETAIL_KEYS:  # OpenAI: usage.prompt_tokens_details.cached_tokens
            cache_read = _first_count(_field(usage, key), ("cached_tokens",))
            if cache_read is not None:
                break
    if input_tokens is None and output_tokens is None:
        return None
    return input_tokens or 0, output_tokens or 0, cache_read or 0


def _field(container: Any, key: str) -> Any:
    """``container[key]`` for a mapping, else its attribute ``key``; None if missing."""
    if container is None:
        return None
    if isinstance(container, (dict, Mapping)):
        return container.get(key)
    return getattr(container, key, None)


def _first_count(container: Any, keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = _field(container, key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
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
