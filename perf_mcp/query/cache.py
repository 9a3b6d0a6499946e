"""Answers reused while the store does not change, and asking without I/O on an event loop."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any, TypeVar, cast

from pydantic import BaseModel

ANSWER_CACHE = 64  # recent query answers kept until the store changes

Q = TypeVar("Q", bound=BaseModel)
# Set by cached_only(): a query must answer from what it holds or raise NotCached.
_CACHED_ONLY = contextvars.ContextVar("perf_mcp_cached_only", default=False)


class NotCached(Exception):
    """The query needs I/O or a lock (nothing current is cached): ask it in a thread."""


def cached_only() -> bool:
    """Whether the query being answered may not do I/O or wait for a lock."""
    return _CACHED_ONLY.get()


def without_io(query: Callable[[], Q]) -> Q | None:
    """``query()``'s answer if it can be given without I/O or waiting, else None."""
    token = _CACHED_ONLY.set(True)
    try:
        return query()
    except NotCached:
        return None
    finally:
        _CACHED_ONLY.reset(token)


class AnswerCache:
    """The last answers, each kept with the store version it was computed at.

    An assistant often asks several questions in a row, and a dashboard polls: between two
    writes (this process's, or any other's: SQLite's data_version) the answer is the same.
    """

    def __init__(self, version: Callable[..., tuple[int, int] | None]) -> None:
        self._version = version
        self._answers: dict[tuple[Any, ...], tuple[tuple[int, int], BaseModel]] = {}

    def answer(self, key: tuple[Any, ...], compute: Callable[[], Q]) -> Q:
        """The cached answer for ``key`` while the store is unchanged, else ``compute()``."""
        only_cached = cached_only()
        version = self._version(wait=not only_cached)
        cached = self._answers.get(key)
        if cached is not None and cached[0] == version:
            return cast(Q, cached[1])
        if only_cached or version is None:
            raise NotCached
        answer = compute()
        if len(self._answers) >= ANSWER_CACHE:
            del self._answers[next(iter(self._answers))]
        self._answers[key] = (version, answer)
        return answer
