"""Hostile requests at every HTTP route: /mcp, /api/v1/*, /v1/traces, /health, / and its files.

Raw bodies no client would send (invalid JSON and UTF-8, lone surrogates, NaN, deep nesting,
batches, oversized bodies), hostile query strings and paths. Every answer is a 2xx or a 4xx
that says what was wrong, never a 5xx or a traceback; the server keeps answering and what
the store holds does not change.
"""

from __future__ import annotations

import json
import subprocess
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.e2e.hostile import (
    CONTROL,
    HOSTILE,
    INJECTION,
    SQL,
    TRAVERSAL,
    Cases,
    RawSession,
    rpc_answer,
    snapshot,
)
from tests.e2e.mcp_process import STOP_TIMEOUT_S
from tests.e2e.test_http_access import FULL, bearer

MIB = 1 << 20
CALL = {"name": "record_tool_call", "arguments": {"tool_name": "t", "duration_ms": 1}}
QUERY_VALUES = [*SQL, *TRAVERSAL, *CONTROL, *INJECTION, "NaN", "Infinity", "-1", "1e309"]
QUERY_VALUES += ["9" * 400, "", "%ff%fe", "%ed%a0%80", "%00", "5m&window=7d"]


class Body(bytes):
    """A request body that hypothesis shows by its kind and size."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes>"


@pytest.fixture(scope="module")
def initial(raw: RawSession) -> dict[str, object]:
    """What the store held before the hostile requests."""
    return snapshot(raw.structured)


@pytest.fixture(scope="module")
def cases() -> Cases:
    return Cases("hostile HTTP requests (route / status)")


def mcp_bodies() -> st.SearchStrategy[tuple[str, bytes]]:
    """(kind, body) for POST /mcp."""
    call = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": CALL})
    rpc_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=10,
    )

    def as_params(value: object) -> str:
        return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": value})

    def oversized(size: int) -> bytes:
        return b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"' + b"x" * size + b'"}}'

    kinds: dict[str, st.SearchStrategy[bytes]] = {
        "random bytes": st.binary(max_size=200),
        "invalid UTF-8": st.just(call.replace('"t"', '"\xff\xfe"').encode("latin-1")),
        "lone surrogate": st.just(call.replace('"t"', '"\\ud800"').encode()),
        "NaN": st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999"]).map(
            lambda n: call.replace('"duration_ms": 1', f'"duration_ms": {n}').encode()
        ),
        "deep nesting": st.integers(100, 100_000).map(lambda n: b"[" * n),
        "batch": st.integers(2, 2000).map(lambda n: f"[{','.join([call] * n)}]".encode()),
        "wrong JSON-RPC shape": rpc_values.map(lambda v: json.dumps(v).encode()),
        "wrong params": rpc_values.map(lambda v: as_params(v).encode()),
        "oversized": st.sampled_from([4 * MIB + 1, 9 * MIB]).map(oversized),
    }
    return st.one_of(
        [bodies.map(lambda body, kind=kind: (kind, Body(body))) for kind, bodies in kinds.items()]
    )


def check_answer(answer: httpx.Response, door: str, cases: Cases) -> None:
    """A 2xx, or a 4xx that says something; never a 5xx or a traceback."""
    cases.add(door, str(answer.status_code))
    assert answer.status_code < 500, (door, answer.status_code, answer.text[:300])
    assert "Traceback" not in answer.text
    if answer.status_code >= 400 and answer.request.method != "HEAD":  # HEAD answers no body
        assert answer.text.strip(), (door, answer.status_code)


def test_mcp_answers_hostile_bodies_without_a_crash(
    raw: RawSession, initial: dict[str, object], cases: Cases
) -> None:
    @HOSTILE
    @given(mcp_bodies())
    def check(case: tuple[str, bytes]) -> None:
        kind, body = case
        answer = raw.post(body)
        check_answer(answer, f"POST /mcp {kind}", cases)
        if answer.status_code == 200 and answer.content:
            message = rpc_answer(answer)
            assert message.get("error", {}).get("code") != -32603, message  # internal error
            result = message.get("result", {})
            assert kind not in ("NaN", "lone surrogate", "batch") or result.get("isError", True)

    check()


def test_api_routes_answer_hostile_queries_with_400_not_500(
    served: tuple[str, subprocess.Popen[str]], cases: Cases
) -> None:
    base = served[0].removesuffix("/mcp")
    with httpx.Client(base_url=base, headers=bearer(FULL), timeout=30) as http:
        document = http.get("/api/v1/openapi.json").json()
        for path, item in document["paths"].items():
            for method, operation in item.items():
                names = [p["name"] for p in operation["parameters"]]
                run_route(http, method.upper(), path, names, cases)


def run_route(http: httpx.Client, method: str, path: str, names: list[str], cases: Cases) -> None:
    door = f"{method} {path}"
    values = st.one_of(st.sampled_from(QUERY_VALUES), st.text(max_size=20), st.integers().map(str))
    alert_ids = st.one_of(st.integers(-5, 5), st.just(10**30)).map(str) | st.sampled_from(TRAVERSAL)

    @HOSTILE
    @given(
        st.dictionaries(st.sampled_from([*names, "unknown", "window[]"]), values, max_size=4),
        alert_ids,
        st.one_of(
            st.binary(max_size=100),
            st.sampled_from([b"{}", b'{"until": NaN}', b"[]"]),
            st.just(b'{"until": "' + b"9" * 9 * MIB + b'"}'),
        ).map(Body),
    )
    def check(params: dict[str, str], alert_id: str, body: bytes) -> None:
        # %ff stays as written; a lone surrogate goes as its (invalid) UTF-8 bytes
        query = "&".join(f"{_sent(k)}={_sent(v)}" for k, v in params.items())
        url = path.replace("{alert_id}", alert_id) + (f"?{query}" if query else "")
        content = body if method == "POST" else None
        headers = {"Content-Type": "application/json"}
        check_answer(http.request(method, url, content=content, headers=headers), door, cases)

    check()


def _sent(text: str) -> str:
    return quote(text, safe="%&=/", errors="surrogatepass")


def test_the_otlp_receiver_answers_hostile_exports(
    served: tuple[str, subprocess.Popen[str]], cases: Cases
) -> None:
    url = served[0].replace("/mcp", "/v1/traces")
    kinds = st.sampled_from(["application/x-protobuf", "application/json", "text/plain", ""])
    bodies = st.one_of(
        st.binary(max_size=300),
        st.sampled_from([b"{}", b'{"resourceSpans": [[[[]]]]}', b'{"resourceSpans": NaN}']),
        st.sampled_from([4 * MIB + 1, 9 * MIB]).map(lambda n: b"\x0a" * n),
    ).map(Body)

    @HOSTILE
    @given(kinds, bodies, st.sampled_from(["", "gzip", "br"]))
    def check(kind: str, body: bytes, encoding: str) -> None:
        headers = {**bearer(FULL), "Content-Type": kind}
        if encoding:
            headers["Content-Encoding"] = encoding
        answer = httpx.post(url, content=body, headers=headers, timeout=30)
        check_answer(answer, "POST /v1/traces", cases)

    check()


def test_health_page_and_unknown_paths_answer_hostile_requests(
    served: tuple[str, subprocess.Popen[str]], cases: Cases
) -> None:
    base = served[0].removesuffix("/mcp")
    paths = st.one_of(
        st.sampled_from(["/health", "/", "/static/dashboard.js", "/mcp", "/api/v1/summary"]),
        st.sampled_from(TRAVERSAL).map(lambda p: f"/static/{p}"),
        st.sampled_from(["/%2e%2e/%2e%2e/etc/passwd", "/static/%00", "/%ff", "//health"]),
        st.text(alphabet="abc/%.~_-", max_size=30).map(lambda p: "/" + p),
    )
    methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])

    with httpx.Client(base_url=base, headers=bearer(FULL), timeout=30) as http:

        @HOSTILE
        @given(paths, methods, st.sampled_from(["", "?window=%ff", "?" + "a=1&" * 2000]))
        def check(path: str, method: str, query: str) -> None:
            door = f"{method} {path if path in ('/health', '/', '/mcp') else '(other path)'}"
            check_answer(http.request(method, path + query), door, cases)

        check()


def test_after_it_all_the_server_answers_and_the_store_is_unchanged(
    served: tuple[str, subprocess.Popen[str]],
    raw: RawSession,
    initial: dict[str, object],
    cases: Cases,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Runs last in this module: nothing of the hostile requests was recorded."""
    url, process = served
    cases.show(capsys)
    assert snapshot(raw.structured) == initial
    health = httpx.get(url.replace("/mcp", "/health"), headers=bearer(FULL), timeout=10).json()
    # Degraded only because it tells of the refused OTLP exports, as it should.
    troubled = {c["name"] for c in health["components"] if c["status"] != "ok"}
    assert troubled <= {"otlp"}, health
    process.terminate()
    _, stderr = process.communicate(timeout=STOP_TIMEOUT_S)
    assert "Traceback" not in stderr
