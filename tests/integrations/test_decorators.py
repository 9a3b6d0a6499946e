"""@monitor_agent and @monitor_tool, read back from a real SQLite store."""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
import pytest

from perf_mcp import Monitor
from perf_mcp.core.models import AgentStats, CountShare, ToolStats
from perf_mcp.integrations import current_run, monitor_agent, monitor_tool
from perf_mcp.integrations.decorators import usage_from


class QuotaExceeded(Exception):
    pass


def agent(monitor: Monitor, name: str) -> AgentStats:
    (stats,) = monitor.get_agent_stats(agent_name=name).agents
    return stats


def tool(monitor: Monitor, name: str) -> ToolStats:
    (stats,) = monitor.get_tool_stats(tool_name=name).tools
    return stats


# ------------------------------------------------------------ result shapes, as the SDKs build them


@dataclass
class PromptTokensDetails:  # openai.types.completion_usage.PromptTokensDetails
    cached_tokens: int | None = None
    audio_tokens: int | None = None


@dataclass
class CompletionUsage:  # openai.types.CompletionUsage
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails | None = None


@dataclass
class ChatCompletion:  # openai.types.chat.ChatCompletion (the fields read here)
    id: str
    model: str
    usage: CompletionUsage | None


@dataclass
class ResponseUsage:  # openai.types.responses.ResponseUsage
    input_tokens: int
    output_tokens: int
    total_tokens: int


@dataclass
class Response:  # openai.types.responses.Response
    model: str
    usage: ResponseUsage


@dataclass
class AnthropicUsage:  # anthropic.types.Usage
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


@dataclass
class AnthropicMessage:  # anthropic.types.Message
    model: str
    usage: AnthropicUsage
    content: list[Any] = field(default_factory=list)


@dataclass
class RunUsage:  # pydantic_ai.usage.RunUsage (>= 1.0)
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass
class LegacyUsage:  # pydantic_ai.usage.Usage (< 1.0)
    requests: int = 0
    request_tokens: int | None = None
    response_tokens: int | None = None
    total_tokens: int | None = None


@dataclass
class AgentRunResult:  # pydantic_ai.agent.AgentRunResult: usage is a method
    output: str
    _usage: Any

    def usage(self) -> Any:
        return self._usage


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (
            ChatCompletion(
                "c1", "gpt-4o", CompletionUsage(120, 30, 150, PromptTokensDetails(cached_tokens=64))
            ),
            (120, 30, 64, 0),
        ),
        (Response("gpt-4.1", ResponseUsage(80, 20, 100)), (80, 20, 0, 0)),
        (  # Anthropic's input_tokens leave out the cached ones: they are added back
            AnthropicMessage("claude-sonnet-4", AnthropicUsage(50, 70, 300, 1000)),
            (1350, 70, 1000, 300),
        ),
        (AgentRunResult("ok", RunUsage(2, 300, 40, 12, 5)), (300, 40, 12, 5)),
        (AgentRunResult("ok", LegacyUsage(1, 90, 9, 99)), (90, 9, 0, 0)),
        ({"usage": {"prompt_tokens": 5, "completion_tokens": 6}}, (5, 6, 0, 0)),
        (  # google-genai: response.usage_metadata, cached tokens inside the prompt's
            {
                "usage_metadata": {
                    "prompt_token_count": 900,
                    "candidates_token_count": 40,
                    "cached_content_token_count": 600,
                }
            },
            (900, 40, 600, 0),
        ),
        ({"output": "no usage"}, None),
        ("plain text", None),
        (ChatCompletion("c2", "gpt-4o", None), None),
    ],
)
def test_usage_is_read_from_common_result_shapes(
    result: Any, expected: tuple[int, int, int, int] | None
) -> None:
    assert usage_from(result) == expected


# ------------------------------------------------------------ agents


def test_sync_agent_run_with_usage_and_model_from_the_result(monitor: Monitor) -> None:
    @monitor_agent("support", provider="openai", monitor=monitor)
    def answer(question: str) -> ChatCompletion:
        return ChatCompletion("c1", "gpt-4o", CompletionUsage(100, 20, 120))

    assert answer("hi").model == "gpt-4o"
    answer("again")

    stats = agent(monitor, "support")
    assert (stats.runs, stats.failures, stats.input_tokens, stats.output_tokens) == (2, 0, 200, 40)
    (model,) = monitor.get_agent_stats().models
    assert (model.model, model.runs) == ("openai/gpt-4o", 2)


@pytest.mark.anyio
async def test_async_agent_failure_records_the_exception_class_and_propagates(
    monitor: Monitor,
) -> None:
    @monitor_agent("planner", monitor=monitor)
    async def plan(ok: bool) -> str:
        await anyio.sleep(0)
        if not ok:
            raise QuotaExceeded("429")
        return "plan"

    assert inspect.iscoroutinefunction(plan)
    assert await plan(True) == "plan"
    with pytest.raises(QuotaExceeded, match="429"):
        await plan(False)

    stats = agent(monitor, "planner")
    assert (stats.runs, stats.failures) == (2, 1)
    assert stats.top_errors == [CountShare(name="QuotaExceeded", count=1)]


def test_bare_decorator_names_the_agent_after_the_function(monitor: Monitor) -> None:
    from perf_mcp.integrations import set_default_monitor

    previous = set_default_monitor(monitor)
    try:

        @monitor_agent
        def triage() -> str:
            return "done"

        @monitor_tool
        def lookup() -> int:
            return 1

        assert triage.__name__ == "triage"
        triage()
        lookup()
    finally:
        set_default_monitor(previous)

    assert agent(monitor, "triage").runs == 1
    assert tool(monitor, "lookup").calls == 1


@pytest.mark.anyio
async def test_async_generator_agent_reads_usage_from_the_last_item(monitor: Monitor) -> None:
    @monitor_agent("streamer", monitor=monitor)
    async def stream() -> AsyncIterator[Any]:
        yield "Hel"
        yield "lo"
        yield {"usage": {"input_tokens": 10, "output_tokens": 2}}

    items = [item async for item in stream()]

    assert items[:2] == ["Hel", "lo"]
    stats = agent(monitor, "streamer")
    assert (stats.runs, stats.failures, stats.input_tokens, stats.output_tokens) == (1, 0, 10, 2)


@pytest.mark.anyio
async def test_async_generator_agent_failure_mid_stream(monitor: Monitor) -> None:
    @monitor_agent("streamer", monitor=monitor)
    async def stream() -> AsyncIterator[str]:
        yield "partial"
        raise ConnectionError("upstream closed")

    with pytest.raises(ConnectionError):
        async for _ in stream():
            pass

    stats = agent(monitor, "streamer")
    assert stats.top_errors == [CountShare(name="ConnectionError", count=1)]


@pytest.mark.anyio
async def test_consumer_stopping_early_is_a_successful_run(monitor: Monitor) -> None:
    closed: list[bool] = []

    @monitor_agent("streamer", monitor=monitor)
    async def stream() -> AsyncIterator[int]:
        try:
            for n in range(100):
                yield n
        finally:
            closed.append(True)

    generator = stream()
    async for n in generator:
        if n == 3:
            break
    await generator.aclose()  # type: ignore[attr-defined]

    assert closed == [True]
    stats = agent(monitor, "streamer")
    assert (stats.runs, stats.failures) == (1, 0)


def test_sync_generator_agent(monitor: Monitor) -> None:
    @monitor_agent("counter", monitor=monitor)
    def count() -> Iterator[int]:
        yield from range(3)

    assert list(count()) == [0, 1, 2]
    assert agent(monitor, "counter").runs == 1


def test_explicit_usage_wins_over_the_result(monitor: Monitor) -> None:
    @monitor_agent("writer", monitor=monitor)
    def write() -> ChatCompletion:
        run = current_run()
        assert run is not None
        run.add_usage(input_tokens=7, output_tokens=3, cost_usd=0.25)
        run.model = "local-llama"
        return ChatCompletion("c1", "gpt-4o", CompletionUsage(1000, 1000, 2000))

    write()

    stats = agent(monitor, "writer")
    assert (stats.input_tokens, stats.output_tokens, stats.cost_usd) == (7, 3, 0.25)
    assert [m.model for m in monitor.get_agent_stats().models] == ["local-llama"]


def test_agent_context_manager(monitor: Monitor) -> None:
    with monitor_agent("summariser", monitor=monitor) as run:
        run.add_usage(input_tokens=812, output_tokens=95)
    with pytest.raises(KeyError), monitor_agent("summariser", monitor=monitor):
        raise KeyError("missing")

    stats = agent(monitor, "summariser")
    assert (stats.runs, stats.failures, stats.input_tokens) == (2, 1, 812)
    assert stats.top_errors == [CountShare(name="KeyError", count=1)]
    assert current_run() is None


def test_a_context_manager_needs_a_name() -> None:
    with pytest.raises(TypeError, match="give a name"), monitor_agent():
        pass


# ------------------------------------------------------------ tools


@pytest.mark.anyio
async def test_tools_outside_a_run_are_recorded_on_their_own(monitor: Monitor) -> None:
    @monitor_tool("search", monitor=monitor)
    async def search(query: str) -> list[str]:
        if not query:
            raise ValueError("empty query")
        return [query]

    @monitor_tool("parse", monitor=monitor)
    def parse(text: str) -> int:
        return len(text)

    await search("cats")
    with pytest.raises(ValueError, match="empty"):
        await search("")
    parse("x")

    stats = tool(monitor, "search")
    assert (stats.calls, stats.failures) == (2, 1)
    assert stats.top_errors == [CountShare(name="ValueError", count=1)]
    assert tool(monitor, "parse").calls == 1
    assert monitor.get_agent_stats().agents == []


@pytest.mark.anyio
async def test_tool_calls_inside_a_run_become_its_tool_calls(monitor: Monitor) -> None:
    @monitor_tool("search", monitor=monitor)
    async def search(query: str) -> str:
        await anyio.sleep(0)
        return query

    @monitor_tool("fetch", monitor=monitor)
    def fetch(url: str) -> str:  # called in a worker thread
        return url

    @monitor_agent("researcher", monitor=monitor)
    async def research() -> str:
        async with anyio.create_task_group() as tg:
            for query in ("a", "b", "c"):
                tg.start_soon(search, query)
        await anyio.to_thread.run_sync(fetch, "https://example.org")
        with monitor_tool("think", monitor=monitor):
            pass
        return "report"

    await research()
    await search("after the run")

    stats = agent(monitor, "researcher")
    assert stats.tool_calls == 5
    assert stats.tool_usage == [
        CountShare(name="search", count=3),
        CountShare(name="fetch", count=1),
        CountShare(name="think", count=1),
    ]
    assert tool(monitor, "search").calls == 4  # three in the run, one on its own


@pytest.mark.anyio
async def test_concurrent_runs_keep_their_own_tools(monitor: Monitor) -> None:
    @monitor_tool("step", monitor=monitor)
    async def step() -> None:
        await anyio.sleep(0)

    async def worker(steps: int) -> None:
        for _ in range(steps):
            await step()

    async with anyio.create_task_group() as tg:
        tg.start_soon(monitor_agent("left", monitor=monitor)(worker), 2)
        tg.start_soon(monitor_agent("right", monitor=monitor)(worker), 5)

    assert agent(monitor, "left").tool_calls == 2
    assert agent(monitor, "right").tool_calls == 5


@pytest.mark.anyio
async def test_a_failed_tool_inside_a_run(monitor: Monitor) -> None:
    @monitor_tool("flaky", monitor=monitor)
    async def flaky() -> None:
        raise TimeoutError("slow upstream")

    async with monitor_agent("caller", monitor=monitor):
        with pytest.raises(TimeoutError):
            await flaky()

    stats = tool(monitor, "flaky")
    assert (stats.calls, stats.failures) == (1, 1)
    assert stats.top_errors == [CountShare(name="TimeoutError", count=1)]
    assert agent(monitor, "caller").failures == 0  # the agent handled it


@pytest.mark.anyio
async def test_async_generator_tool(monitor: Monitor) -> None:
    @monitor_tool("pages", monitor=monitor)
    async def pages() -> AsyncIterator[int]:
        for n in range(3):
            yield n

    assert [n async for n in pages()] == [0, 1, 2]
    assert tool(monitor, "pages").calls == 1


def test_a_monitor_that_refuses_does_not_break_the_call(monitor: Monitor) -> None:
    @monitor_agent("   ", monitor=monitor)  # a blank name is refused by the monitor
    def nameless() -> int:
        return 42

    assert nameless() == 42
    assert monitor.get_agent_stats().agents == []


# ------------------------------------------------------------ generators, driven by their consumer


def test_a_generator_gets_what_its_consumer_sends_and_throws(monitor: Monitor) -> None:
    @monitor_agent("echo", monitor=monitor)
    def echo() -> Generator[str, int, None]:
        received = yield "ready"
        while True:
            try:
                received = yield f"got {received}"
            except KeyError:
                received = yield "handled"

    generator = echo()
    assert next(generator) == "ready"
    assert generator.send(1) == "got 1"
    assert generator.throw(KeyError("k")) == "handled"
    assert generator.send(2) == "got 2"
    generator.close()

    stats = agent(monitor, "echo")
    assert (stats.runs, stats.failures) == (1, 0)


def test_a_tool_under_contextmanager_records_the_with_blocks_error(monitor: Monitor) -> None:
    released: list[str] = []

    @contextmanager
    @monitor_tool("session", monitor=monitor)
    def session() -> Iterator[str]:
        try:
            yield "connection"
        finally:
            released.append("connection")

    with pytest.raises(TimeoutError), session():
        raise TimeoutError("upstream")

    assert released == ["connection"]
    stats = tool(monitor, "session")
    assert (stats.calls, stats.failures) == (1, 1)
    assert stats.top_errors == [CountShare(name="TimeoutError", count=1)]


@pytest.mark.anyio
async def test_an_async_generator_gets_what_its_consumer_sends_and_throws(
    monitor: Monitor,
) -> None:
    @monitor_agent("echo", monitor=monitor)
    async def echo() -> AsyncGenerator[str, int]:
        received = yield "ready"
        while True:
            try:
                received = yield f"got {received}"
            except KeyError:
                received = yield "handled"

    generator = echo()
    assert await anext(generator) == "ready"
    assert await generator.asend(1) == "got 1"
    assert await generator.athrow(KeyError("k")) == "handled"
    await generator.aclose()

    stats = agent(monitor, "echo")
    assert (stats.runs, stats.failures) == (1, 0)


def test_only_the_generators_own_tool_calls_join_its_run(monitor: Monitor) -> None:
    @monitor_tool("inside", monitor=monitor)
    def inside() -> None:
        pass

    @monitor_tool("between", monitor=monitor)
    def between() -> None:
        pass

    @monitor_agent("producer", monitor=monitor)
    def produce() -> Iterator[int]:
        inside()
        yield 1
        inside()
        yield 2

    for _ in produce():
        between()  # the consumer's, not the run's

    assert agent(monitor, "producer").tool_usage == [CountShare(name="inside", count=2)]
    assert tool(monitor, "between").calls == 2


# ------------------------------------------------------------ result sizes and costs


class Hit:  # a pydantic-style result: measured as its JSON
    def model_dump_json(self) -> str:
        return '{"title":"cats"}'


@pytest.mark.anyio
async def test_tool_results_are_measured_as_text_or_compact_json(monitor: Monitor) -> None:
    @monitor_tool("read", monitor=monitor)
    def read(text: str) -> str:
        return text

    @monitor_tool("search", monitor=monitor)
    async def search() -> list[dict[str, str]]:
        return [{"title": "cats"}, {"title": "dogs"}]

    @monitor_tool("hit", monitor=monitor)
    def hit() -> Hit:
        return Hit()

    @monitor_tool("opaque", monitor=monitor)
    def opaque() -> object:
        return object()

    read("x" * 300)
    read("y" * 100)
    await search()
    hit()
    opaque()

    assert tool(monitor, "read").result_chars_mean == 200
    assert tool(monitor, "read").result_chars_p95 == pytest.approx(300, rel=0.01)
    assert tool(monitor, "search").result_chars_mean == len('[{"title":"cats"},{"title":"dogs"}]')
    assert tool(monitor, "hit").result_chars_mean == len('{"title":"cats"}')
    assert tool(monitor, "opaque").result_chars_mean is None  # not text, not JSON: unknown


@pytest.mark.anyio
async def test_result_sizes_can_be_turned_off_given_by_hand_and_join_a_run(
    monitor: Monitor,
) -> None:
    @monitor_tool("secret", monitor=monitor, measure_results=False)
    def secret() -> str:
        return "not measured"

    @monitor_tool("lines", monitor=monitor)
    def lines() -> Iterator[str]:  # a stream: its last item is not its result
        yield "a"
        yield "b"

    secret()
    assert list(lines()) == ["a", "b"]
    async with monitor_agent("reader", monitor=monitor):
        with monitor_tool("fetch_page", monitor=monitor) as call:
            call.result_chars = 4_321

    assert tool(monitor, "secret").result_chars_mean is None
    assert tool(monitor, "lines").result_chars_mean is None
    assert tool(monitor, "fetch_page").result_chars_mean == 4_321  # recorded with the run
    assert agent(monitor, "reader").tool_calls == 1


def test_a_decorated_run_without_a_cost_is_priced_from_its_usage(monitor: Monitor) -> None:
    @monitor_agent("writer", provider="anthropic", monitor=monitor)
    def write() -> AnthropicMessage:
        return AnthropicMessage("claude-sonnet-4-5", AnthropicUsage(500, 500, 300, 200))

    write()
    stats = agent(monitor, "writer")
    # Anthropic leaves cached tokens out of input_tokens: 500 + 300 written + 200 read
    assert (stats.input_tokens, stats.cache_read_tokens, stats.cache_write_tokens) == (
        1_000,
        200,
        300,
    )
    by_hand = (500 * 3 + 200 * 0.3 + 300 * 3.75 + 500 * 15) / 1e6
    assert stats.cost_usd == stats.estimated_cost_usd == pytest.approx(by_hand)
    assert stats.estimated_runs == 1
