"""The webhook: what it posts, retries, time-outs, giving up within its budget, and its health."""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import anyio
import anyio.abc
import httpx
import pytest
from logfire.testing import CaptureLogfire

from perf_mcp.alerting import (
    AlertManager,
    WebhookNotifier,
)
from perf_mcp.core.alerts import AlertEvent
from perf_mcp.core.models import InvalidInputError
from tests.alerting.fakes import SEARCH, T0, Clock, World
from tests.step_sleep import StepSleep

pytestmark = pytest.mark.anyio


class Receiver:
    """An httpx mock transport answering with the given statuses (or raising), in turn."""

    def __init__(self, *answers: int | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


class NoSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def fired_event(notify: bool = True) -> AlertEvent:
    return AlertEvent(
        kind="fired",
        rule="error_rate_5min",
        subject=SEARCH,
        severity="critical",
        value=0.5,
        threshold=0.2,
        unit="fraction",
        samples=40,
        at=T0,
        notify=notify,
        message="error_rate_5min for GET /search is 50%",
    )


async def test_webhook_posts_json_with_a_text_line_per_event() -> None:
    receiver = Receiver(200)
    hook = WebhookNotifier("https://hooks.example/alerts", transport=receiver.transport)
    await hook([fired_event(), fired_event(notify=False)])
    [request] = receiver.requests
    body = json.loads(request.content)
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert body["text"] == "[critical] error_rate_5min for GET /search is 50%"
    assert [(e["kind"], e["rule"], e["value"]) for e in body["events"]] == [
        ("fired", "error_rate_5min", 0.5)
    ]
    assert (hook.sent, hook.failures) == (1, 0)
    await hook([fired_event(notify=False)])  # nothing anyone should hear about: no request
    assert len(receiver.requests) == 1


async def test_webhook_retries_errors_and_timeouts_with_backoff() -> None:
    receiver = Receiver(503, httpx.ConnectTimeout("slow"), 429, 204)
    sleep = NoSleep()
    hook = WebhookNotifier(
        "http://127.0.0.1:9/hook",
        allow_private=True,
        transport=receiver.transport,
        sleep=sleep,
        retries=3,
        backoff_s=1,
    )
    await hook([fired_event()])
    assert len(receiver.requests) == 4
    assert sleep.calls == [1, 2, 4]
    assert (hook.sent, hook.failures) == (1, 0)


async def test_webhook_gives_up_on_a_client_error_or_after_its_retries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refused = Receiver(404)
    hook = WebhookNotifier(
        "http://127.0.0.1:9/", allow_private=True, transport=refused.transport, sleep=NoSleep()
    )
    await hook([fired_event()])
    assert (len(refused.requests), hook.failures, hook.last_error) == (1, 1, "HTTP 404")
    down = Receiver(*[httpx.ConnectError("refused")] * 10)
    hook = WebhookNotifier(
        "http://127.0.0.1:9/",
        allow_private=True,
        transport=down.transport,
        sleep=NoSleep(),
        retries=2,
    )
    await hook([fired_event()])
    assert (len(down.requests), hook.failures) == (3, 1)
    assert hook.last_error == "ConnectError: refused"
    assert "alert webhook http://127.0.0.1:9/ failed" in caplog.text


def test_webhook_url_must_be_http() -> None:
    with pytest.raises(InvalidInputError, match="http:// or https://"):
        WebhookNotifier("ftp://example.com/x")
    with pytest.raises(InvalidInputError, match="http:// or https://"):
        WebhookNotifier("not a url")
    assert WebhookNotifier("http://x/", retries=2, timeout_s=5, backoff_s=1).budget_s == 18


async def test_a_webhook_that_hangs_does_not_hold_up_evaluation(
    world: World, clock: Clock, capfire: CaptureLogfire
) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await anyio.sleep_forever()
        raise AssertionError

    hook = WebhookNotifier(
        "http://127.0.0.1:9/", allow_private=True, transport=httpx.MockTransport(hang), timeout_s=30
    )
    sleep = StepSleep(stop_after=3)
    manager = AlertManager(world, clock=clock, sleep=sleep)
    manager.subscribe(hook, timeout_s=hook.budget_s)
    world.set("response_time_p95_ms", "overall", 5000)
    async with manager:
        with anyio.fail_after(10):
            await sleep.done.wait()
    assert manager.evaluations == 3


# ---------------------------------------------------------------- time-outs and health


@asynccontextmanager
async def silent_receiver() -> AsyncIterator[str]:
    """A real TCP server on 127.0.0.1 that accepts connections, reads, and never answers."""

    async def hold(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            with suppress(anyio.EndOfStream, anyio.BrokenResourceError):
                while True:
                    await stream.receive()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as serving:
        serving.start_soon(listener.serve, hold)
        yield f"http://127.0.0.1:{port}/hook"
        serving.cancel_scope.cancel()


def test_the_default_webhook_gives_up_within_seconds() -> None:
    hook = WebhookNotifier("http://127.0.0.1:9/", allow_private=True)
    assert hook.timeout_s <= 5
    assert hook.budget_s <= 15


async def test_a_receiver_that_never_answers_is_given_up_within_the_budget_and_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with silent_receiver() as url:
        hook = WebhookNotifier(url, allow_private=True, timeout_s=0.5, retries=1, backoff_s=0.1)
        with anyio.fail_after(hook.budget_s + 5):  # the receiver never answers: the bound does
            await hook([fired_event()])
    assert (hook.sent, hook.failures, hook.timeouts) == (0, 1, 2)
    assert hook.last_error == "time-out: no answer within 0.5 s"
    health = hook.health()
    assert health.status == "degraded"
    assert health.detail == (
        "1 delivery(ies) failed, 2 attempt(s) timed out; last: time-out: no answer within 0.5 s "
        "(0 sent)"
    )
    assert f"alert webhook {url.removesuffix('/hook')}/... failed: time-out" in caplog.text


async def test_a_delivery_cut_short_by_its_caller_counts_as_failed() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await anyio.sleep_forever()
        raise AssertionError

    hook = WebhookNotifier(
        "http://127.0.0.1:9/", allow_private=True, transport=httpx.MockTransport(hang), timeout_s=30
    )
    with anyio.move_on_after(0.05):  # as the manager's subscriber time-out or a shutdown does
        await hook([fired_event()])
    assert (hook.failures, hook.last_error) == (1, "cut short before any answer")
    assert hook.health().status == "degraded"


async def test_health_says_retrying_while_a_delivery_fails_and_recovers_on_success() -> None:
    seen: list[str] = []

    async def look(seconds: float) -> None:  # the backoff pause: ask health meanwhile
        seen.append(hook.health().detail)

    hook = WebhookNotifier(
        "http://127.0.0.1:9/",
        allow_private=True,
        transport=Receiver(503, 200).transport,
        sleep=look,
    )
    assert hook.health().model_dump() == {"name": "webhook", "status": "ok", "detail": "0 sent"}
    await hook([fired_event()])
    assert seen == ["0 delivery(ies) failed; retrying after HTTP 503 (0 sent)"]
    assert hook.health().status == "ok"
    refused = WebhookNotifier(
        "http://127.0.0.1:9/",
        allow_private=True,
        transport=Receiver(404, 200).transport,
        sleep=NoSleep(),
    )
    await refused([fired_event()])
    assert refused.health().status == "degraded"
    await refused([fired_event()])
    assert refused.health().model_dump() == {
        "name": "webhook",
        "status": "ok",
        "detail": "1 sent; 1 failed earlier",
    }


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254, a link-local address"),
        ("http://127.0.0.1:9/", "127.0.0.1, a loopback address"),
        ("https://10.0.0.5/hook", "a private or reserved address"),
        ("http://[::ffff:192.168.1.1]/", "192.168.1.1"),
        ("http://metadata.google.internal/x", "cloud metadata"),
        ("http://app.localhost/x", "a name of this machine"),
    ],
)
def test_local_and_metadata_targets_are_refused_unless_allowed(url: str, says: str) -> None:
    with pytest.raises(InvalidInputError, match="--allow-private-webhook") as refused:
        WebhookNotifier(url)
    assert says in str(refused.value)
    assert WebhookNotifier(url, allow_private=True).allow_private


async def test_a_name_that_resolves_to_a_local_address_is_refused_at_delivery() -> None:
    name = socket.gethostname()  # in a container or on a laptop: a loopback or private address
    address = ipaddress.ip_address(socket.getaddrinfo(name, 80)[0][4][0])
    if address.is_global:
        pytest.skip(f"{name} resolves to a public address here")
    receiver = Receiver(204)
    hook = WebhookNotifier(f"http://{name}:9/hook", transport=receiver.transport)
    await hook([fired_event()])
    assert receiver.requests == []
    assert hook.last_error is not None
    assert hook.last_error.startswith(f"refused: {name} resolves to {address}, a ")
    assert "--allow-private-webhook" in hook.last_error


def test_logs_and_errors_show_no_credentials_and_no_path() -> None:
    hook = WebhookNotifier("https://bot:s3cret@hooks.example/services/T0/B0/XYZ")
    assert hook.shown_url == "https://hooks.example/..."
    with pytest.raises(InvalidInputError) as refused:
        WebhookNotifier("ftp://bot:s3cret@hooks.example/services/XYZ")
    assert "s3cret" not in str(refused.value)
    assert "XYZ" not in str(refused.value)
