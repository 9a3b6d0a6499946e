"""Who is calling: bearer tokens on the HTTP server, and the read token kept from writing.

The HTTP app is wrapped in ``BearerAuth``, which refuses a request without a valid token
(401, ``WWW-Authenticate: Bearer``) before the MCP transport reads it, and notes which token
came in. A tool that changes data calls ``require_write``: the read token gets a tool error
that says why, the same answer over every protocol revision and client::

    app = BearerAuth(server.streamable_http_app(), Tokens(full="s3cr3t...", read=None))
"""

from __future__ import annotations

import hmac
import json
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from mcp.server.mcpserver.exceptions import ToolError
from starlette.types import ASGIApp, Receive, Scope, Send

# "full" and "read": the token presented. "no token": an HTTP server started without tokens
# (loopback only). "anonymous": no valid token, on a route open to all (/health).
Caller = Literal["full", "read", "no token", "anonymous", "stdio"]
# The page and its files hold no data: they ask for the token, which /api/v1/ needs.
OPEN_PATHS = frozenset({"/health", "/", "/static/dashboard.js", "/static/dashboard.css"})
MAX_CLIENT_NAME = 80  # of the client's self-reported name, in the alert history

_caller: ContextVar[Caller] = ContextVar("perf_mcp_caller", default="stdio")


@dataclass(frozen=True)
class Tokens:
    """The full token (everything) and the read token (queries only); None = not set."""

    full: str | None = None
    read: str | None = None

    @property
    def required(self) -> bool:
        return self.full is not None or self.read is not None

    def caller(self, presented: str) -> Caller | None:
        """Which token ``presented`` is, compared in constant time; None if neither."""
        given = presented.encode()
        full = self.full is not None and hmac.compare_digest(given, self.full.encode())
        read = self.read is not None and hmac.compare_digest(given, self.read.encode())
        return "full" if full else "read" if read else None


class BearerAuth:
    """Pure ASGI: every HTTP route but the open ones needs ``Authorization: Bearer <token>``.

    Lifespan and other non-HTTP scopes pass straight through. Without tokens every request
    passes (the CLI allows that on loopback addresses only).
    """

    def __init__(self, app: ASGIApp, tokens: Tokens) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        caller: Caller | None = "no token"
        if self.tokens.required:
            caller = self.tokens.caller(_bearer(scope))
        if caller is None and scope["path"] in OPEN_PATHS:
            caller = "anonymous"
        if caller is None:
            await _unauthorized(scope, send)
            return
        reset = _caller.set(caller)
        try:
            await self.app(scope, receive, send)
        finally:
            _caller.reset(reset)


def current_caller() -> Caller:
    """The caller of the request being handled ("stdio" outside the HTTP server)."""
    return _caller.get()


def write_refusal(action: str) -> str | None:
    """Why the caller may not do ``action`` (it holds the read token); None when it may."""
    if _caller.get() != "read":
        return None
    return (
        f"forbidden: {action} changes what the server stores, and the read token may only "
        "query; use the full token (--token / PERF_MCP_TOKEN). Nothing was changed."
    )


def require_write(action: str) -> None:
    """Refuse ``action`` to a caller holding the read token."""
    refusal = write_refusal(action)
    if refusal is not None:
        raise ToolError(refusal)


def describe_caller(client_name: str | None) -> str:
    """Who made a change, for the alert history: the token, and the client's own name."""
    caller = _caller.get()
    who = "stdio client" if caller == "stdio" else f"{caller} token"
    if caller == "no token":
        who = "HTTP client without a token"
    if client_name:
        shown = "".join(c if c.isprintable() else "?" for c in client_name[:MAX_CLIENT_NAME])
        who += f" (client says it is {shown!r})"
    return who


def _bearer(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return ""


async def _unauthorized(scope: Scope, send: Send) -> None:
    presented = any(name == b"authorization" for name, _ in scope["headers"])
    challenge = 'Bearer realm="perf-mcp"' + (', error="invalid_token"' if presented else "")
    reason = "the token is not valid" if presented else "no token was sent"
    body = json.dumps(
        {
            "error": "unauthorized",
            "detail": f"{reason}: send 'Authorization: Bearer <token>' with the server's "
            "full or read token (only /health and the dashboard page are open)",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", challenge.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
