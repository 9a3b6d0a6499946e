"""A Monitor with a url: a bad url is refused at once, an unreachable receiver costs the app
nothing but counted data, pushes back off, nothing delivered is sent twice, and queries say
where the data is."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import suppress

import httpx
import pytest

from perf_mcp import InvalidInputError, Monitor, StoreError
from perf_mcp.recording.flusher import THREAD_NAME, Flusher
from perf_mcp.recording.push import MAX_BACKOFF_S, PushPending, PushTarget
from tests.e2e.mcp_process import free_port

NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def closed_url() -> str:
    """A URL nothing listens on (connections are refused at once)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pushing(closed_url: str, clock: Clock) -> Iterator[Monitor]:
    monitor = Monitor(url=closed_url, clock=clock, start_flusher=False)
    yield monitor
    with suppress(StoreError):  # the receiver is down: the last records are dropped
        monitor.close()


@pytest.mark.parametrize("url", ["localhost:8765", "ftp://host/", "http://", "8765"])
def test_a_bad_url_is_refused_saying_what_is_expected(url: str) -> None:
    with pytest.raises(InvalidInputError, match=r"PERF_MCP_URL .* http:// or https:// URL"):
        Monitor(url=url, start_flusher=False)


def test_the_mcp_path_of_a_server_url_is_dropped() -> None:
    assert PushTarget("https://perf.example.com/mcp/", None, Clock()).url == (
        "https://perf.example.com"
    )


def test_an_unreachable_receiver_keeps_the_records_and_says_why(
    pushing: Monitor, closed_url: str
) -> None:
    pushing.record_request("/a", "GET", 200, 1.0)
    pushing.record_tool_call("search", 3.0)
    with pytest.raises(StoreError, match=f"could not reach {closed_url}/v1/traces"):
        pushing.flush()
    failure = pushing.flush_failure
    assert failure is not None
    assert (failure.waiting_buckets, failure.waiting_raw) == (1, 1)
    assert pushing.drops == {"samples": 0, "rejected": 0, "raw": 0, "buckets": 0}


def flush_on_the_flusher_thread(monitor: Monitor) -> str:
    """What a flush on the flusher's own thread raised (as the periodic flushes do)."""
    raised: list[BaseException] = []

    def flush() -> None:
        try:
            monitor.flush()
        except StoreError as exc:
            raised.append(exc)

    thread = threading.Thread(target=flush, name=THREAD_NAME)
    thread.start()
    thread.join()
    return str(raised[0]) if raised else ""


def test_the_flusher_backs_off_after_a_failure_and_a_flush_asked_for_tries(
    pushing: Monitor, clock: Clock
) -> None:
    pushing.record_request("/a", "GET", 200, 1.0)
    with pytest.raises(StoreError, match="could not reach"):
        pushing.flush()
    clock.now += 0.5
    assert flush_on_the_flusher_thread(pushing).endswith("(tried again in 0 s)")
    with pytest.raises(StoreError, match="could not reach") as raised:
        pushing.flush()  # asked for (at shutdown, say): tries at once
    assert "tried again" not in str(raised.value)
    waits = []
    for _ in range(10):  # each failure doubles the wait, up to a minute
        clock.now += MAX_BACKOFF_S
        assert "tried again" not in flush_on_the_flusher_thread(pushing)
        clock.now += 0.01
        skipped = flush_on_the_flusher_thread(pushing)
        waits.append(int(skipped.rsplit("tried again in ", 1)[1].split()[0]))
    assert waits[:3] == [4, 8, 16]
    assert waits[-1] == MAX_BACKOFF_S
    assert pushing.flush_failure is not None
    assert pushing.flush_failure.waiting_buckets == 1  # kept all along


def test_a_query_says_the_data_is_on_the_server(pushing: Monitor, closed_url: str) -> None:
    for query in (pushing.get_endpoint_stats, pushing.get_performance_summary):
        with pytest.raises(StoreError, match=f"pushes its records to {closed_url}"):
            query()
    assert pushing.store_size_bytes() == 0
    assert pushing.db_path == closed_url


def test_what_was_delivered_is_not_sent_again(clock: Clock) -> None:
    """Traces taken, metrics refused (a fault): the next push sends only the metrics."""
    posted: list[str] = []
    refuse_metrics = True

    def receiver(request: httpx.Request) -> httpx.Response:
        posted.append(request.url.path)
        if request.url.path == "/v1/metrics" and refuse_metrics:
            return httpx.Response(503, text="overloaded")
        return httpx.Response(200)

    target = PushTarget("http://collector:4318", "t0k", clock, httpx.MockTransport(receiver))
    flusher = Flusher(target, PushPending(100), clock)  # type: ignore[arg-type]
    flusher.requests.append((NOW, "/a", "GET", 200, 1.0, None, None))
    flusher.tools.append((NOW, "search", 3.0, True, None, None, None, None))
    with pytest.raises(StoreError, match="answered 503: overloaded"):
        flusher.flush()
    assert posted == ["/v1/traces", "/v1/metrics"]
    refuse_metrics, posted[:] = False, []
    clock.now += MAX_BACKOFF_S
    flusher.flush()
    assert posted == ["/v1/metrics"]
    assert not flusher.pending
    assert target.last_flush_at == clock.now


def test_a_refusal_names_what_to_do(clock: Clock) -> None:
    def receiver(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, text="")

    target = PushTarget("http://perf:8765", None, clock, httpx.MockTransport(receiver))
    flusher = Flusher(target, PushPending(100), clock)  # type: ignore[arg-type]
    flusher.requests.append((NOW, "/a", "GET", 200, 1.0, None, None))
    with pytest.raises(StoreError, match=r"answered 401: .*set PERF_MCP_TOKEN"):
        flusher.flush()
