"""Who may use `perf-mcp serve --transport http`: its tokens, and where it may listen.

Light on purpose (no MCP import): it runs before the socket is bound.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import SecretStr

    from perf_mcp.config import Settings

MIN_TOKEN_CHARS = 16
NEW_TOKEN_BYTES = 32  # 256 bits, 43 URL-safe characters


class AccessError(ValueError):
    """A token setting that cannot be used; the message names the flag and the fix."""


def new_token() -> str:
    """A strong random token for --token or --read-token."""
    return secrets.token_urlsafe(NEW_TOKEN_BYTES)


def tokens_of(settings: Settings) -> tuple[str | None, str | None]:
    """The full and the read token, from a flag, a variable or a file."""
    full = _token(settings.token, settings.token_file, "--token", "--token-file")
    read = _token(
        settings.read_token, settings.read_token_file, "--read-token", "--read-token-file"
    )
    if full is not None and full == read:
        raise AccessError("--token and --read-token are the same: give each its own token")
    return full, read


def bind_refusal(
    host: str, full: str | None, read: str | None, allowed_hosts: Sequence[str] = ()
) -> str | None:
    """Why serving on ``host`` is refused (None: it is allowed). A listed Host header means
    a reverse proxy brings other machines in, so it needs a token even on loopback."""
    from perf_mcp.config import LOOPBACK_HOSTS

    if full is not None or (host in LOOPBACK_HOSTS and not allowed_hosts):
        return None
    if host in LOOPBACK_HOSTS:
        return (
            f"refusing to answer Host {', '.join(allowed_hosts)} without a token: behind a "
            "reverse proxy anyone who reaches the proxy could read, record and change "
            "thresholds. Pass --token (or --token-file FILE, or set PERF_MCP_TOKEN)"
        )
    if read is not None:
        return (
            f"refusing to serve on {host} with only a read token: set --token too (or "
            "PERF_MCP_TOKEN / --token-file), or no one can record or change thresholds"
        )
    return (
        f"refusing to serve on {host} without a token: anyone who reaches it could read, "
        "record and change thresholds. Pass --token (or --token-file FILE, or set "
        "PERF_MCP_TOKEN; `perf-mcp token` prints a new one), or use --host 127.0.0.1"
    )


def _token(value: SecretStr | None, file: str | None, flag: str, file_flag: str) -> str | None:
    if value is not None and file is not None:
        raise AccessError(f"give {flag} or {file_flag}, not both")
    if file is not None:
        try:
            text = Path(file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise AccessError(f"{file_flag}: cannot read {file}: {exc}") from None
        where = f"{file_flag} {file}"
    elif value is not None:
        text, where = value.get_secret_value().strip(), flag
    else:
        return None
    if len(text) < MIN_TOKEN_CHARS or any(c.isspace() or not c.isprintable() for c in text):
        raise AccessError(
            f"{where}: a token must be at least {MIN_TOKEN_CHARS} printable characters without "
            "spaces; `perf-mcp token` prints a strong one"
        )
    return text
