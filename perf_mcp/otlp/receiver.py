"""POST /v1/traces and /v1/metrics: the OTLP/HTTP receiver on perf-mcp's HTTP server.

An app exporting OpenTelemetry needs only ``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:8765``
(and ``OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer <token>`` when the server has tokens).
Answers as OTLP/HTTP says: 200 with an Export{Trace,Metrics}ServiceResponse (its partial_success
names the spans or data points refused and why), 400/413/415 with a google.rpc.Status saying
what was wrong, in the request's own encoding.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import anyio.to_thread
from google.protobuf.message import Message
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)
from starlette.requests import Request
from starlette.responses import Response

from perf_mcp.monitor import Monitor
from perf_mcp.otlp import mapping, metrics
from perf_mcp.otlp.decode import (
    MAX_BODY_BYTES,
    MEDIA_TYPE_OF,
    BadBody,
    Format,
    body_format,
    encode,
    parse_metrics,
    parse_traces,
    read_body,
    status_message,
    too_large,
)
from perf_mcp.otlp.metrics_points import Streams
from perf_mcp.otlp.stats import IGNORED, IngestStats
from perf_mcp.otlp.versions import VersionWatch
from perf_mcp.storage import StoreError

MAX_SPANS = 20_000  # in one export (the SDK sends 512 at most by default)


Ingest = Callable[[bytes, str | None, str | None, Monitor], mapping.Outcome]


class Receiver:
    """A POST handler over the Monitor ``monitor()`` returns: ``ingest`` records a body and
    says what it did; ``response`` is the signal's Export*ServiceResponse.

    ``may_write()`` gives the reason the caller may not record (None: it may).
    """

    def __init__(
        self,
        ingest: Ingest,
        response: Callable[[], ExportTraceServiceResponse | ExportMetricsServiceResponse],
        monitor: Callable[[], Monitor],
        may_write: Callable[[], str | None],
        stats: IngestStats,
    ) -> None:
        self.ingest = ingest
        self.response = response
        self.monitor = monitor
        self.may_write = may_write
        self.stats = stats

    async def __call__(self, request: Request) -> Response:
        content_type = request.headers.get("content-type")
        answer_in: Format = "protobuf" if "protobuf" in (content_type or "") else "json"
        refusal = self.may_write()
        if refusal is not None:
            return self._refuse(403, refusal, answer_in)
        try:
            answer_in = body_format(content_type)
            body = await _read(request)
            outcome = await anyio.to_thread.run_sync(
                self.ingest,
                body,
                content_type,
                request.headers.get("content-encoding"),
                self.monitor(),
            )
        except BadBody as exc:
            return self._refuse(exc.status, exc.reason, answer_in)
        except StoreError as exc:  # a read-only store: nothing can be recorded, retry later
            return self._refuse(503, f"the store cannot take records: {exc}", answer_in)
        self.stats.add(outcome)
        response = self.response()
        if outcome.rejected:
            partial = response.partial_success
            partial.error_message = _rejected(outcome)
            if isinstance(partial, ExportTracePartialSuccess):
                partial.rejected_spans = outcome.rejected
            else:
                partial.rejected_data_points = outcome.rejected
        return _answer(200, response, answer_in)

    def _refuse(self, status: int, reason: str, fmt: Format) -> Response:
        self.stats.refuse(status, reason)
        return _answer(status, status_message(reason), fmt)


def trace_receiver(
    monitor: Callable[[], Monitor], may_write: Callable[[], str | None], stats: IngestStats
) -> Receiver:
    """The POST /v1/traces handler (a new service.version in its spans marks a deploy)."""
    versions = VersionWatch()
    return Receiver(
        functools.partial(ingest, versions=versions),
        ExportTraceServiceResponse,
        monitor,
        may_write,
        stats,
    )


def metrics_receiver(
    monitor: Callable[[], Monitor],
    may_write: Callable[[], str | None],
    stats: IngestStats,
    listening_since_ns: int,
) -> Receiver:
    """The POST /v1/metrics handler; cumulative streams are remembered from its first export,
    and a stream that started before ``listening_since_ns`` only sets its baseline."""
    streams = Streams(listening_since_ns)
    return Receiver(
        functools.partial(ingest_metrics, streams=streams),
        ExportMetricsServiceResponse,
        monitor,
        may_write,
        stats,
    )


def ingest(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    monitor: Monitor,
    versions: VersionWatch | None = None,
) -> mapping.Outcome:
    """Decode an export, map its spans and record them (blocking: run it in a thread)."""
    fmt = body_format(content_type)
    export = parse_traces(read_body(body, content_type, content_encoding), fmt)
    spans = sum(len(s.spans) for r in export.resource_spans for s in r.scope_spans)
    if spans > MAX_SPANS:
        raise BadBody(
            413,
            f"{spans:,} spans in one export; at most {MAX_SPANS:,}: export smaller batches "
            "(OTEL_BSP_MAX_EXPORT_BATCH_SIZE)",
        )
    return mapping.record(mapping.plan(export), monitor, versions)


def ingest_metrics(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    monitor: Monitor,
    *,
    streams: Streams,
) -> mapping.Outcome:
    """Decode a metrics export, map its histogram points and record them (blocking)."""
    fmt = body_format(content_type)
    export = parse_metrics(read_body(body, content_type, content_encoding), fmt)
    return metrics.record(metrics.plan(export, streams), monitor)


async def _read(request: Request) -> bytes:
    """The body, refused as soon as it is larger than MAX_BODY_BYTES."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _rejected(outcome: mapping.Outcome) -> str:
    reasons = ", ".join(
        f"{n} {reason}" for reason, n in outcome.unused.items() if reason not in IGNORED
    )
    example = f" (first: {outcome.example})" if outcome.example else ""
    return f"not recorded: {reasons}{example}"


def _answer(status: int, message: Message, fmt: Format) -> Response:
    return Response(encode(message, fmt), status_code=status, media_type=MEDIA_TYPE_OF[fmt])
