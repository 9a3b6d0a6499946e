"""perf-mcp serve's listening socket and its telemetry."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from perf_mcp.cli.serve import TELEMETRY_ENV, listen_socket

pytestmark = pytest.mark.anyio


async def test_accepted_connections_have_nagle_turned_off() -> None:
    """Without TCP_NODELAY, each HTTP answer waits for the client's delayed ACK (~40 ms)."""
    sock = listen_socket("127.0.0.1", 0)
    accepted: asyncio.Queue[int] = asyncio.Queue()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = writer.get_extra_info("socket")
        await accepted.put(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connection, sock=sock)
    async with server:
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        nodelay = await asyncio.wait_for(accepted.get(), timeout=5)
        writer.close()
        await writer.wait_closed()
    assert nodelay != 0


def test_a_taken_port_fails_at_bind() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="in use"):
            listen_socket("127.0.0.1", taken.getsockname()[1])


# Whether the MCP SDK's span for a request is recorded once serve has configured Logfire
# (in a child: the configuration is global; it leaves without shutting exporters down).
SPAN_RECORDED = """
import os, sys
from opentelemetry import trace
from perf_mcp.cli.serve import configure_logfire
configure_logfire()
print(trace.get_tracer("mcp-python-sdk").start_span("tools/call echo").is_recording())
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.parametrize(
    ("telemetry", "recorded"),
    [
        ({}, "False"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:9/v1/traces"}, "True"),
    ],
)
def test_request_spans_are_recorded_only_when_they_can_be_sent(
    telemetry: dict[str, str], recorded: str, tmp_path: Path
) -> None:
    """Nobody receives spans without a token or an endpoint: recording them only costs time."""
    env = {k: v for k, v in os.environ.items() if k not in TELEMETRY_ENV} | telemetry
    env["LOGFIRE_CREDENTIALS_DIR"] = str(tmp_path)  # no credentials file
    child = subprocess.run(
        [sys.executable, "-c", SPAN_RECORDED],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert child.stdout.strip() == recorded, child.stderr
