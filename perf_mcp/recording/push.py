"""Pushing a Monitor's records over OTLP/HTTP to a perf-mcp server, or to any OTLP receiver.

``Monitor(url="http://perf-mcp.internal:8765")`` (or ``PERF_MCP_URL``) keeps no store: its
flusher thread hands each flush's batch to a ``PushTarget`` in place of the store, which
posts it (``perf_mcp.recording.otlp_out`` says how it is encoded) to ``<url>/v1/metrics``
and ``<url>/v1/traces`` with ``PERF_MCP_TOKEN`` as its bearer token. The app's threads only
append to the buffers, as with a store: no request waits for the network.

A push that fails raises StoreError like a store that cannot be written, so the flusher puts
what was not delivered back into Pending, within its bounds (an hour of 10 s buckets, 10,000
runs and calls), and ``Monitor.drops`` counts what those bounds drop. After a failure the
flusher's thread waits before it tries again (1 s, doubling up to a minute; a flush asked
for tries at once). What was delivered is taken out of the batch first, so nothing is sent
twice.

Queries on such a Monitor raise StoreError saying where the data is: on the server.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
from google.protobuf.message import DecodeError, Message
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from perf_mcp import __version__
from perf_mcp.core.validation import AgentRunSample, InvalidInputError, ToolCallSample
from perf_mcp.recording.flusher import THREAD_NAME
from perf_mcp.recording.otlp_out import (
    StatusRequestAcc,
    metrics_exports,
    resource,
    traces_exports,
)
from perf_mcp.recording.pending import Bucket, Pending
from perf_mcp.storage import FlushBatch, StoreError

log = logging.getLogger("perf_mcp")

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
TIMEOUT = httpx.Timeout(10.0, connect=3.0)
REASONS = {
    401: "the server wants a bearer token: set PERF_MCP_TOKEN to its full token",
    403: "the token may not record (a read token?): give the server's full token",
    404: "no OTLP receiver there: PERF_MCP_URL is the server's base URL "
    "(http://host:8765), without /mcp or /v1/...",
    413: "the export was too large for the receiver",
    415: "the receiver does not take OTLP protobuf",
}


class PushPending(Pending):
    """Pending for a pushing Monitor: requests by status code (``StatusRequestAcc``), runs
    kept whole with their tool calls (they travel as spans; the receiver accumulates them)."""

    request_acc = StatusRequestAcc

    def _add_run(self, run: AgentRunSample) -> None:
        self._keep(self.agent_runs, run)

    def _add_tool(self, call: ToolCallSample) -> None:
        self._keep(self.tool_calls, call)

    def put_back(self, buckets: dict[int, Bucket], batch: FlushBatch) -> None:
        """Return what a failed push left in the batch (the delivered part was taken out)."""
        left = {start: b for start, b in buckets.items() if start in batch.requests}
        super().put_back(left, batch)


class PushTarget:
    """Posts flushed batches as OTLP/HTTP protobuf to ``url``; says where the data is when
    asked a query.

    >>> PushTarget("http://127.0.0.1:8765/mcp", None, lambda: 0.0).url
    'http://127.0.0.1:8765'
    """

    read_only = None  # records are taken (and pushed)

    def __init__(
        self,
        url: str,
        token: str | None,
        clock: Callable[[], float],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.path = self.url = checked_url(url)
        self._clock = clock
        headers = {
            "Content-Type": "application/x-protobuf",
            "User-Agent": f"perf-mcp/{__version__}",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(headers=headers, timeout=TIMEOUT, transport=transport)
        self.resource = resource(
            {
                "service.name": os.environ.get("OTEL_SERVICE_NAME") or "unknown_service:python",
                "service.instance.id": str(uuid.uuid4()),
                "telemetry.sdk.name": "perf-mcp",
                "telemetry.sdk.version": __version__,
            }
        )
        self.last_flush_at: float | None = None
        self._pushed_until = 0.0  # the time of the last metrics pushed: the next deltas start
        self._retry_at = 0.0
        self._backoff = 0.0
        self._last_error = ""

    def write(self, batch: FlushBatch) -> None:
        """Deliver the batch, taking out of it what was delivered; StoreError if any is left.

        While the backoff after a failure lasts, the flusher's thread does not try; a flush
        asked for (``Monitor.flush``, the last one at shutdown) always does."""
        now = self._clock()
        if now < self._retry_at and threading.current_thread().name == THREAD_NAME:
            raise StoreError(f"{self._last_error} (tried again in {self._retry_at - now:.0f} s)")
        try:
            self._deliver(batch)
        except StoreError as exc:
            self._backoff = min(max(2 * self._backoff, FIRST_BACKOFF_S), MAX_BACKOFF_S)
            self._retry_at = self._clock() + self._backoff
            self._last_error = str(exc)
            raise
        self._backoff = 0.0
        self.last_flush_at = self._clock()

    def _deliver(self, batch: FlushBatch) -> None:
        """Post the runs and calls, then the request buckets, each part taken out once sent."""
        runs = cast(list[AgentRunSample], batch.agent_runs)
        calls = cast(list[ToolCallSample], batch.tool_calls)
        for n_runs, n_calls, export in traces_exports(list(runs), list(calls), self.resource):
            self._post("/v1/traces", export, ExportTraceServiceResponse())
            del runs[:n_runs], calls[:n_calls]
        requests = cast(dict[int, dict[tuple[str, str], StatusRequestAcc]], batch.requests)
        now = self._clock()
        for starts, metrics in metrics_exports(requests, self.resource, now, self._pushed_until):
            self._post("/v1/metrics", metrics, ExportMetricsServiceResponse())
            for start in starts:
                del requests[start]
        self._pushed_until = now

    def _post(self, path: str, export: Message, answer: Any) -> None:
        """POST one export; StoreError saying why it was not taken."""
        target = self.url + path
        try:
            response = self._client.post(target, content=export.SerializeToString())
        except httpx.HTTPError as exc:
            raise StoreError(
                f"could not reach {target}: {exc or type(exc).__name__}; "
                "the records wait in memory for the next try"
            ) from exc
        if response.status_code != 200:
            raise StoreError(
                f"{target} answered {response.status_code}: {_reason(response)}; "
                "the records wait in memory for the next try"
            )
        try:
            answer.ParseFromString(response.content)
        except DecodeError:
            return  # a 200 whose body is not the response: taken
        partial = answer.partial_success
        rejected = getattr(partial, "rejected_spans", 0) or getattr(
            partial, "rejected_data_points", 0
        )
        if rejected or partial.error_message:
            log.warning(
                "perf-mcp push to %s: %d refused: %s", target, rejected, partial.error_message
            )

    def close(self) -> None:
        self._client.close()

    def file_size_bytes(self) -> int:
        return 0  # nothing is stored here

    def data_version(self, *args: Any, **kwargs: Any) -> int:
        raise self.elsewhere()

    def elsewhere(self) -> StoreError:
        """What a query on a pushing Monitor is told."""
        return StoreError(
            f"this Monitor pushes its records to {self.url} (PERF_MCP_URL) and keeps none "
            "here: ask that server (its MCP tools, its /api/v1/ or `perf-mcp summary` there)"
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise self.elsewhere()


def checked_url(url: str) -> str:
    """``url`` without a trailing slash (or ``/mcp``), or InvalidInputError saying what is
    expected."""
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(
            "PERF_MCP_URL (a Monitor's url) must be an http:// or https:// URL of a perf-mcp "
            f"server or an OTLP/HTTP receiver, such as http://127.0.0.1:8765; got {url!r}"
        )
    return str(url).rstrip("/").removesuffix("/mcp")


def _reason(response: httpx.Response) -> str:
    """Why the receiver refused: what perf-mcp knows of the status, or what the body says."""
    known = REASONS.get(response.status_code)
    status = Status()
    try:
        status.ParseFromString(response.content)
        said = status.message
    except DecodeError:
        said = ""
    said = said or response.text[:200].strip()
    return "; ".join(filter(None, [known, said])) or response.reason_phrase
