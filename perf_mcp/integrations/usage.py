"""Token usage and the model name, read from the results the LLM SDKs return.

OpenAI (chat completions and responses), Anthropic and pydantic-ai shapes, as objects or dicts:

>>> usage_from({"usage": {"prompt_tokens": 12, "completion_tokens": 3}})
(12, 3, 0)
>>> model_from({"model": "gpt-4o"})
'gpt-4o'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_INPUT_KEYS = ("input_tokens", "prompt_tokens", "request_tokens")
_OUTPUT_KEYS = ("output_tokens", "completion_tokens", "response_tokens")
_CACHE_READ_KEYS = ("cache_read_input_tokens", "cache_read_tokens")
_CACHE_DETAIL_KEYS = ("prompt_tokens_details", "input_tokens_details")


def usage_from(result: Any) -> tuple[int, int, int] | None:
    """(input, output, cache-read) tokens from a result's ``usage``, or None if it has none."""
    usage = _field(result, "usage")
    if callable(usage) and not isinstance(usage, Mapping):  # pydantic-ai: result.usage()
        usage = usage()
    if usage is None:
        return None
    input_tokens = _first_count(usage, _INPUT_KEYS)
    output_tokens = _first_count(usage, _OUTPUT_KEYS)
    cache_read = _first_count(usage, _CACHE_READ_KEYS)
    if cache_read is None:
        for key in _CACHE_DETAIL_KEYS:  # OpenAI: usage.prompt_tokens_details.cached_tokens
            cache_read = _first_count(_field(usage, key), ("cached_tokens",))
            if cache_read is not None:
                break
    if input_tokens is None and output_tokens is None:
        return None
    return input_tokens or 0, output_tokens or 0, cache_read or 0


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
