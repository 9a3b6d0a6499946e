"""Endpoint naming: one series per route, not one per id.

>>> endpoint_name("/users/{user_id}")
'/users/{user_id}'
>>> endpoint_name("//api/v1/users/42/orders/?page=2")
'/api/v1/users/{id}/orders'
>>> normalize_method(" get ")
'GET'
"""

from __future__ import annotations

import re

MAX_ENDPOINT_LENGTH = 200
MAX_METHOD_LENGTH = 16
ID_SEGMENT = "{id}"

# A URL's scheme and authority, for callers that pass a full URL instead of a path.
_SCHEME_AND_HOST = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^/?#]*")
_QUERY_OR_FRAGMENT = re.compile(r"[?#]")
_ID_LIKE = re.compile(
    r"""
    \d+                                                         # 42
    | [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}  # UUID (dashless is hex)
    | [0-9a-f]{16,}                                             # hashes, dashless UUIDs
    | (?=[^0-9]*[0-9])[A-Za-z0-9_\-=]{24,}                      # ObjectIds, base64 tokens
    """,
    re.VERBOSE | re.IGNORECASE,
)
# RFC 9110 section 5.6.2: token = 1*tchar
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


RESERVED_NAMES = frozenset({"__unmatched__", "__other__"})  # groups, not paths


def endpoint_name(path: str) -> str:
    """The series name for a route template or a raw request path.

    Templates such as ``/users/{user_id}`` come back unchanged. Raw paths lose their scheme
    and host, query and fragment, empty segments (repeated and trailing slashes) and
    surrounding whitespace of segments; id-like segments become ``{id}``. The result starts
    with ``/``, is at most 200 characters, and ``endpoint_name`` of it is itself. The
    reserved group names ``__unmatched__`` and ``__other__`` pass through as they are.
    """
    if path in RESERVED_NAMES:
        return path
    match = _SCHEME_AND_HOST.match(path)
    if match:
        path = path[match.end() :]
    path = _QUERY_OR_FRAGMENT.split(path, maxsplit=1)[0]
    segments = [
        ID_SEGMENT if _ID_LIKE.fullmatch(segment) else segment
        for segment in (raw.strip() for raw in path.split("/"))
        if segment
    ]
    name = "/" + "/".join(segments)
    return name if len(name) <= MAX_ENDPOINT_LENGTH else _truncate(segments)


def _truncate(segments: list[str]) -> str:
    """Keep the segments that fit and the head of the next, so the result is a fixed point."""
    name = ""
    for segment in segments:
        room = MAX_ENDPOINT_LENGTH - len(name) - 1
        if len(segment) > room:
            head = segment[:room].strip()
            if head and room >= len(ID_SEGMENT):  # the head may itself read as an id
                name += "/" + (ID_SEGMENT if _ID_LIKE.fullmatch(head) else head)
            break
        name += "/" + segment
    return name


def normalize_method(method: str) -> str:
    """The HTTP method upper-cased, or ValueError if it is not an RFC 9110 token."""
    token = method.strip()
    if not token or len(token) > MAX_METHOD_LENGTH or not _TOKEN.fullmatch(token):
        raise ValueError(
            f"HTTP method must be 1-{MAX_METHOD_LENGTH} token characters "
            f"(letters, digits, !#$%&'*+-.^_`|~), got {method!r}"
        )
    return token.upper()
