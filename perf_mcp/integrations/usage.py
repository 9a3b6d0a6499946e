"""Token usage and the model name, read from the results the LLM SDKs return.

OpenAI (chat completions and responses), Anthropic, Google Gen AI and pydantic-ai shapes, as
objects or dicts. Input tokens count every input token, cache reads and writes included (the
OpenTelemetry GenAI convention, which perf_mcp.core.pricing prices): Anthropic's own
``input_tokens`` leave the cached ones out, so they are added back.

>>> usage_from({"usage": {"prompt_tokens": 12, "completion_tokens": 3}})
(12, 3, 0, 0)
>>> usage_from({"usage": {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 90}})
(100, 3, 90, 0)
>>> model_from({"model": "gpt-4o"})
'gpt-4o'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_USAGE_KEYS = ("usage", "usage_metadata")  # Google Gen AI: response.usage_metadata
_INPUT_KEYS = ("input_tokens", "prompt_tokens", "request_tokens", "prompt_token_count")
_OUTPUT_KEYS = ("output_tokens", "completion_tokens", "response_tokens", "candidates_token_count")
_CACHE_READ_KEYS = ("cache_read_tokens", "cached_content_token_count")
_CACHE_DETAIL_KEYS = ("prompt_tokens_details", "input_tokens_details")
_CACHE_WRITE_KEY = "cache_write_tokens"
# Anthropic's names: their tokens are not in its input_tokens
_ANTHROPIC_READ, _ANTHROPIC_WRITE = "cache_read_input_tokens", "cache_creation_input_tokens"


def usage_from(result: Any) -> tuple[int, int, int, int] | None:
    """(input, output, cache-read, cache-write) tokens from a result's usage, or None if it
    has none."""
    usage = None
    for key in _USAGE_KEYS:
        usage = _field(result, key)
        if usage is not None:
            break
    if callable(usage) and not isinstance(usage, Mapping):  # pydantic-ai: result.usage()
        usage = usage()
    if usage is None:
        return None
    input_tokens = _first_count(usage, _INPUT_KEYS)
    output_tokens = _first_count(usage, _OUTPUT_KEYS)
    if input_tokens is None and output_tokens is None:
        return None
    input_tokens = input_tokens or 0
    cache_read = _first_count(usage, _CACHE_READ_KEYS)
    cache_write = _first_count(usage, (_CACHE_WRITE_KEY,))
    anthropic_read = _first_count(usage, (_ANTHROPIC_READ,))
    anthropic_write = _first_count(usage, (_ANTHROPIC_WRITE,))
    if anthropic_read is not None or anthropic_write is not None:
        cache_read, cache_write = anthropic_read or 0, anthropic_write or 0
        input_tokens += cache_read + cache_write
    if cache_read is None:
        for key in _CACHE_DETAIL_KEYS:  # OpenAI: usage.prompt_tokens_details.cached_tokens
            cache_read = _first_count(_field(usage, key), ("cached_tokens",))
            if cache_read is not None:
                break
    return input_tokens, output_tokens or 0, cache_read or 0, cache_write or 0


def _field(container: Any, key: str) -> Any:
    """``container[key]`` for a mapping, else its attribute ``key``; None if missing."""
    if container is None:
        return None
    if isinstance(container, (dict, Mapping)):
        return container.get(key)
    return getattr(container, key, None)


def _first_count(container: Any, keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = _field(container, key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def model_from(result: Any) -> str | None:
    """The result's ``model`` if it names one."""
    model = _field(result, "model")
    return model if isinstance(model, str) and model else None
