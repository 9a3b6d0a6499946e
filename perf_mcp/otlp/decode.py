"""OTLP/HTTP bodies: bytes or JSON in, ``Export{Trace,Metrics}ServiceRequest`` out, and the
answers back.

>>> body = b'{"resourceSpans": []}'
>>> request = parse_traces(read_body(body, "application/json", None), "json")
>>> len(request.resource_spans)
0
>>> encode(status_message("the body is over 4 MiB"), "json")
b'{"message": "the body is over 4 MiB"}'
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any, Literal, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

Request = TypeVar("Request", ExportTraceServiceRequest, ExportMetricsServiceRequest)

Format = Literal["protobuf", "json"]
MAX_BODY_BYTES = 4 << 20  # of the body as sent and as inflated: a gzip bomb stops here
MEDIA_TYPES: dict[str, Format] = {
    "application/x-protobuf": "protobuf",
    "application/protobuf": "protobuf",
    "application/json": "json",
}
MEDIA_TYPE_OF: dict[Format, str] = {
    "protobuf": "application/x-protobuf",
    "json": "application/json",
}
ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


class BadBody(ValueError):
    """A body the receiver refuses: the HTTP status to answer and why, in words."""

    def __init__(self, status: Literal[400, 413, 415], reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def body_format(content_type: str | None) -> Format:
    """Which OTLP encoding a Content-Type names (parameters such as charset are ignored)."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type not in MEDIA_TYPES:
        raise BadBody(
            415,
            f"Content-Type {content_type or '(none)'!r} is not OTLP: send application/x-protobuf "
            "(the SDKs' default) or application/json",
        )
    return MEDIA_TYPES[media_type]


def read_body(body: bytes, content_type: str | None, content_encoding: str | None) -> bytes:
    """The body as sent, inflated when gzip, within MAX_BODY_BYTES either way."""
    body_format(content_type)
    if len(body) > MAX_BODY_BYTES:
        raise too_large()
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding != "gzip":
        raise BadBody(
            415, f"Content-Encoding {content_encoding!r} is not supported: send gzip or none"
        )
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(body, MAX_BODY_BYTES + 1)
    except zlib.error as exc:
        raise BadBody(400, f"the body is not valid gzip: {exc}") from None
    if len(inflated) > MAX_BODY_BYTES:
        raise too_large("inflated ")
    if not inflater.eof:
        raise BadBody(400, "the gzip body ends before its end marker")
    return inflated


def too_large(which: str = "") -> BadBody:
    return BadBody(
        413,
        f"the {which}body is over {MAX_BODY_BYTES >> 20} MiB: export smaller batches "
        "(OTEL_BSP_MAX_EXPORT_BATCH_SIZE)",
    )


def parse_traces(body: bytes, fmt: Format) -> ExportTraceServiceRequest:
    """An ExportTraceServiceRequest from binary protobuf or OTLP JSON (hex ids)."""
    return parse(body, fmt, ExportTraceServiceRequest())


def parse_metrics(body: bytes, fmt: Format) -> ExportMetricsServiceRequest:
    """An ExportMetricsServiceRequest from binary protobuf or OTLP JSON (exemplars' hex ids)."""
    return parse(body, fmt, ExportMetricsServiceRequest())


def parse(body: bytes, fmt: Format, request: Request) -> Request:
    """``request`` filled from binary protobuf or OTLP JSON."""
    name = request.DESCRIPTOR.name
    try:
        if fmt == "protobuf":
            request.ParseFromString(body)
        else:
            tree = json.loads(body)
            if not isinstance(tree, dict):
                raise BadBody(400, f"the JSON body is not an object ({name})")
            json_format.ParseDict(_ids_to_base64(tree), request, ignore_unknown_fields=True)
    except (DecodeError, json_format.ParseError, ValueError, RecursionError) as exc:
        if isinstance(exc, BadBody):
            raise
        what = "binary protobuf" if fmt == "protobuf" else "OTLP JSON"
        raise BadBody(400, f"the body is not an {name} in {what}: {exc}") from None
    return request


def _ids_to_base64(tree: Any) -> Any:
    """OTLP JSON writes trace and span ids in hex; protobuf's JSON mapping reads base64."""
    if isinstance(tree, list):
        return [_ids_to_base64(item) for item in tree]
    if not isinstance(tree, dict):
        return tree
    converted = {}
    for key, value in tree.items():
        if key in ID_FIELDS and isinstance(value, str):
            try:
                value = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError:
                raise BadBody(400, f"{key} {value[:40]!r} is not hex") from None
        converted[key] = _ids_to_base64(value)
    return converted


def encode(message: Message, fmt: Format) -> bytes:
    """``message`` in the encoding the request came in."""
    if fmt == "protobuf":
        return message.SerializeToString()
    return json_format.MessageToJson(message, indent=None).encode()


def status_message(reason: str) -> Status:
    """The google.rpc.Status an OTLP error answer carries."""
    return Status(message=reason)
