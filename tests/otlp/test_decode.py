"""OTLP/HTTP bodies: the encodings taken, and a clear refusal for everything else."""

from __future__ import annotations

import gzip
import json

import pytest

from perf_mcp.otlp.decode import MAX_BODY_BYTES, BadBody, body_format, parse_traces, read_body


def test_protobuf_and_json_content_types_are_taken_with_parameters() -> None:
    assert body_format("application/x-protobuf") == "protobuf"
    assert body_format("Application/JSON; charset=utf-8") == "json"


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/grpc"])
def test_another_content_type_is_415_naming_the_ones_taken(content_type: str | None) -> None:
    with pytest.raises(BadBody, match="send application/x-protobuf") as refused:
        body_format(content_type)
    assert refused.value.status == 415


def test_gzip_is_inflated_and_a_gzip_bomb_stops_at_the_limit() -> None:
    body = b'{"resourceSpans": []}'
    assert read_body(gzip.compress(body), "application/json", "gzip") == body
    with pytest.raises(BadBody, match="inflated body is over 4 MiB") as refused:
        read_body(gzip.compress(b"\0" * (MAX_BODY_BYTES + 1)), "application/json", "gzip")
    assert refused.value.status == 413
    with pytest.raises(BadBody, match="Content-Encoding 'br'") as refused:
        read_body(body, "application/json", "br")
    assert refused.value.status == 415
    with pytest.raises(BadBody, match="not valid gzip"):
        read_body(b"not gzip", "application/json", "gzip")


def test_otlp_json_hex_ids_and_string_integers_are_read() -> None:
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "GET /",
        "endTimeUnixNano": "1700000000000000000",
        "futureField": 1,  # unknown fields are ignored, as OTLP asks
    }
    export = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    request = parse_traces(json.dumps(export).encode(), "json")
    parsed = request.resource_spans[0].scope_spans[0].spans[0]
    assert parsed.span_id.hex() == "eee19b7ec3c1b174"
    assert parsed.end_time_unix_nano == 1_700_000_000_000_000_000


@pytest.mark.parametrize(
    ("body", "fmt", "says"),
    [
        (b"\x0a\xff\xff", "protobuf", "binary protobuf"),
        (b"[1]", "json", "not an object"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "zz"}]}]}]}', "json", "hex"),
    ],
)
def test_a_body_that_does_not_parse_is_400_saying_why(body: bytes, fmt: str, says: str) -> None:
    with pytest.raises(BadBody, match=says) as refused:
        parse_traces(body, fmt)  # type: ignore[arg-type]
    assert refused.value.status == 400
