"""perf-mcp serve's listening socket."""

from __future__ import annotations

import asyncio
import socket

import pytest

from perf_mcp.cli.serve import listen_socket

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
