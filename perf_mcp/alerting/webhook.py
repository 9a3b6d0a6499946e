"""WebhookNotifier: POST the alert events people should hear about to a URL, within a bound."""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import anyio

from perf_mcp.core.alerts import AlertEvent, ComponentHealth
from perf_mcp.core.models import InvalidInputError

if TYPE_CHECKING:
    import httpx

DEFAULT_TIMEOUT_S = 3.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF_S = 0.5

# Names that always mean this machine or a cloud's instance metadata, whatever DNS says.
LOCAL_NAMES = frozenset({"localhost", "metadata.google.internal", "metadata", "instance-data"})
ALLOW_FLAG = "--allow-private-webhook (PERF_MCP_ALLOW_PRIVATE_WEBHOOK=1)"

logger = logging.getLogger(__name__)


class WebhookNotifier:
    """A subscriber that POSTs the events people should hear about as JSON to a URL.

    Each attempt gets ``timeout_s`` in all (a receiver that accepts the connection and never
    answers is given up then); connection errors, time-outs, 429 and 5xx are retried with
    exponential backoff, other 4xx are not, and one delivery never takes longer than
    ``budget_s``. The body carries ``text`` (one line per event, which Slack-style incoming
    webhooks show) and ``events`` (each AlertEvent as JSON)::

        hook = WebhookNotifier(url)
        manager.subscribe(hook, timeout_s=hook.budget_s)
        hook.health()  # ComponentHealth: ok, or degraded naming failures and time-outs

    A target on this machine, a private network or a cloud's metadata service is refused
    (at construction for an address or a local name, at each delivery for what a name
    resolves to) unless ``allow_private``. Logs and health show ``shown_url``: no
    credentials, no path (a Slack-style URL carries its secret there).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        backoff_s: float = DEFAULT_BACKOFF_S,
        headers: dict[str, str] | None = None,
        allow_private: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        import httpx

        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise InvalidInputError(f"webhook URL is not a URL: {url!r} ({exc})") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise InvalidInputError(
                f"webhook URL must be http:// or https://, got {shown_url(parsed)!r}"
            )
        if not allow_private and (problem := _local_target(parsed.host)):
            raise InvalidInputError(
                f"webhook URL {shown_url(parsed)} points at {problem}; such targets are "
                f"refused unless {ALLOW_FLAG}"
            )
        self.url = url
        self.shown_url = shown_url(parsed)
        self.allow_private = allow_private
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.headers = {"user-agent": "perf-mcp", **(headers or {})}
        self._transport = transport
        self._sleep = sleep
        self.sent = 0
        self.failures = 0  # deliveries given up
        self.timeouts = 0  # attempts that had no answer within timeout_s
        self.last_error: str | None = None  # why the latest failed delivery failed
        self.trying: str | None = None  # why an attempt of a delivery in progress failed
        self.last_failed = False  # the latest finished delivery gave up

    @property
    def budget_s(self) -> float:
        """The longest one delivery can take, every retry included."""
        waits = sum(self.backoff_s * 2.0**i for i in range(self.retries))
        return (self.retries + 1) * self.timeout_s + waits

    async def __call__(self, events: Sequence[AlertEvent]) -> None:
        wanted = [e for e in events if e.notify]
        if not wanted:
            return
        body: dict[str, object] = {
            "source": "perf-mcp",
            "text": "\n".join(f"[{e.severity or 'info'}] {e.message}" for e in wanted),
            "events": [e.model_dump(mode="json") for e in wanted],
        }
        delivered = False
        self.trying = None
        try:
            delivered = await self._deliver(body)
        finally:  # also when the caller cancels it: a delivery cut short failed
            self.last_failed = not delivered
            if delivered:
                self.sent += 1
            else:
                self.failures += 1
                self.last_error = self.trying or "cut short before any answer"
                logger.warning("alert webhook %s failed: %s", self.shown_url, self.last_error)
            self.trying = None

    async def _deliver(self, body: dict[str, object]) -> bool:
        """Try, and retry what may succeed later; True once the receiver took it."""
        import httpx

        if not self.allow_private and (problem := await _resolves_local(httpx.URL(self.url))):
            self.trying = f"refused: {problem} (allowed only with {ALLOW_FLAG})"
            return False
        async with httpx.AsyncClient(
            transport=self._transport, timeout=self.timeout_s, headers=self.headers
        ) as client:
            for attempt in range(self.retries + 1):
                if attempt:
                    await self._sleep(self.backoff_s * 2 ** (attempt - 1))
                try:
                    with anyio.fail_after(self.timeout_s):
                        response = await client.post(self.url, json=body)
                except (TimeoutError, httpx.TimeoutException):
                    self.timeouts += 1
                    self.trying = f"time-out: no answer within {self.timeout_s:g} s"
                    continue
                except httpx.HTTPError as exc:
                    self.trying = f"{type(exc).__name__}: {exc}"
                    continue
                if response.is_success:
                    return True
                self.trying = f"HTTP {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    return False  # the receiver refuses this request: trying again will not help
        return False

    def health(self) -> ComponentHealth:
        """ok, or degraded while the latest delivery failed (or one is being retried)."""
        timeouts = f", {self.timeouts} attempt(s) timed out" if self.timeouts else ""
        if self.trying is not None:
            failing = f"retrying after {self.trying}"
        elif self.last_failed:
            failing = f"last: {self.last_error}"
        else:
            failing = ""
        if failing:
            return ComponentHealth(
                name="webhook",
                status="degraded",
                detail=f"{self.failures} delivery(ies) failed{timeouts}; {failing} "
                f"({self.sent} sent)",
            )
        earlier = f"; {self.failures} failed earlier{timeouts}" if self.failures else ""
        return ComponentHealth(name="webhook", status="ok", detail=f"{self.sent} sent{earlier}")


def shown_url(url: httpx.URL) -> str:
    """The URL as logs and health show it: scheme, host and port only."""
    port = f":{url.port}" if url.port is not None else ""
    rest = "/..." if url.raw_path not in (b"", b"/") else url.raw_path.decode()
    return f"{url.scheme}://{url.host}{port}{rest}"


def _local_target(host: str) -> str | None:
    """What a URL's host is when it is not a public target (None: it may be public)."""
    name = host.lower().rstrip(".")
    if name in LOCAL_NAMES or name.endswith(".localhost"):
        return f"{name}, a name of this machine or of a cloud metadata service"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None  # a name: what it resolves to is checked at each delivery
    return _not_public(address)


def _not_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_global:
        return None
    kind = "loopback" if address.is_loopback else "link-local" if address.is_link_local else ""
    return f"{address}, a {kind or 'private or reserved'} address"


async def _resolves_local(url: httpx.URL) -> str | None:
    """Why a named host is refused: one of its addresses is not public (None: all are, or
    the name does not resolve, which the request itself then reports)."""
    try:
        ipaddress.ip_address(url.host)
        return None  # an address, checked at construction
    except ValueError:
        pass
    try:
        infos = await anyio.getaddrinfo(url.host, url.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        return None
    for *_, sockaddr in infos:
        problem = _not_public(ipaddress.ip_address(str(sockaddr[0]).split("%")[0]))
        if problem:
            return f"{url.host} resolves to {problem}"
    return None
