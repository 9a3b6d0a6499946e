"""What a valid sample is: the one set of checks for every value perf-mcp records.

The record methods call these checks at the call (so a bad value raises there, naming its
field), and the pydantic input models use them too, as the ``Annotated`` types below: a value
is judged the same way whether it comes from Python or from an MCP client's JSON.

The rules:

- Durations, costs and timestamps are real numbers: an ``int`` or ``float`` is kept; a
  ``Decimal``, ``Fraction`` or numpy floating scalar is converted to ``float`` once, here.
- Counts (status codes, byte counts, tokens) are integers: an ``int`` is kept; a numpy
  integer is converted to ``int`` once, here. A float is not a count.
- ``bool`` is never a number, and a number or string is never a ``bool``; strings are never
  numbers. NaN and infinities are out of range.
- Names are non-blank strings within a length limit, with no lone surrogates (they cannot be
  stored as UTF-8).

So nothing but a plain ``int`` or ``float`` ever reaches an accumulator.

>>> duration("duration_ms", 12)
12
>>> flag("success", 1)
Traceback (most recent call last):
...
perf_mcp.core.validation.InvalidInputError: success must be true or false, got 1
"""

from __future__ import annotations

import math
import numbers
import operator
import reprlib
from decimal import Decimal
from typing import Annotated, Any, cast

from pydantic import BeforeValidator, WithJsonSchema

from perf_mcp.core.paths import normalize_method

MAX_DURATION_MS = 30 * 24 * 3600 * 1000.0  # 30 days: beyond this a duration is a bug
MAX_BYTES = 1 << 40  # 1 TiB: beyond this a body size is a bug
MAX_TOKENS = 1 << 40
MAX_COST_USD = 1e6
MAX_NAME_LENGTH = 200  # agent, tool, model and error names, ids
MAX_PATH_LENGTH = 2000  # a raw endpoint path before it is named
MAX_TOOL_CALLS = 1000  # tool calls reported inside one agent run
PAST_LIMIT_S = 90 * 86400  # timestamps older than the longest retention are refused
FUTURE_LIMIT_S = 300  # clock skew allowed for timestamps from other machines


class InvalidInputError(ValueError):
    """A recorded value or query argument was wrong; nothing was recorded or changed."""


_SHOWN = reprlib.Repr()  # a refused value is quoted short: it may be 100 kB of an attacker's text
_SHOWN.maxstring = _SHOWN.maxother = 60


def _fail(field: str, allowed: str, value: Any) -> InvalidInputError:
    return InvalidInputError(f"{field} must be {allowed}, got {_SHOWN.repr(value)}")


def _number(field: str, value: Any, allowed: str) -> float:
    """``value`` as an int or float, converting other real numbers once."""
    if value.__class__ is float or value.__class__ is int:
        return cast(float, value)
    if isinstance(value, bool | str | bytes) or not isinstance(value, numbers.Real | Decimal):
        raise _fail(field, allowed, value)
    return float(value)


def real(field: str, value: Any, high: float) -> float:
    """A real number from 0 to ``high`` (see the module's rules)."""
    allowed = f"a number from 0 to {high:.0f}"
    number = _number(field, value, allowed)
    if not 0 <= number <= high:  # NaN fails too
        raise _fail(field, allowed, number)
    return number


def duration(field: str, value: Any) -> float:
    """A duration in milliseconds, from 0 to 30 days."""
    return real(field, value, MAX_DURATION_MS)


def integer(field: str, value: Any, low: int, high: int) -> int:
    """An integer from ``low`` to ``high`` (see the module's rules)."""
    if value.__class__ is not int and (
        isinstance(value, bool) or not isinstance(value, numbers.Integral)
    ):
        raise _fail(field, f"an integer from {low} to {high}", value)
    number = operator.index(value)
    if not low <= number <= high:
        raise _fail(field, f"an integer from {low} to {high}", number)
    return number


def optional_bytes(field: str, value: Any) -> int | None:
    """A body size in bytes, or None when unknown."""
    return None if value is None else integer(field, value, 0, MAX_BYTES)


def flag(field: str, value: Any) -> bool:
    """True or False, and nothing else."""
    if value is not True and value is not False:
        raise _fail(field, "true or false", value)
    return value


def name(field: str, value: Any, max_length: int = MAX_NAME_LENGTH) -> str:
    """A non-blank string of at most ``max_length`` characters that UTF-8 can store."""
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise _fail(field, f"a non-blank string of at most {max_length} characters", value)
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise _fail(field, "text without lone surrogates", value) from None
    return str(value)  # a plain str, also for a subclass


def optional_name(field: str, value: Any) -> str | None:
    """A name, or None."""
    return None if value is None else name(field, value)


def unix_seconds(field: str, value: Any) -> float:
    """A finite number of Unix seconds (whether it is recent is for ``timestamp`` to say)."""
    seconds = _number(field, value, "Unix seconds")
    if not math.isfinite(seconds):
        raise _fail(field, "finite Unix seconds", seconds)
    return seconds


def timestamp(field: str, value: Any, now: float) -> float:
    """Unix seconds within the last 90 days (and at most a few minutes ahead)."""
    seconds = unix_seconds(field, value)
    if not now - PAST_LIMIT_S <= seconds <= now + FUTURE_LIMIT_S:
        raise _fail(
            field,
            f"Unix seconds within the last 90 days and at most {FUTURE_LIMIT_S} s ahead",
            seconds,
        )
    return seconds


def _annotated(check: Any, schema: dict[str, Any]) -> Any:
    """A pydantic type that runs ``check`` on the raw input (strings are never coerced)."""

    def validate(value: Any, info: Any) -> Any:
        return check(info.field_name or "value", value)

    return (BeforeValidator(validate), WithJsonSchema(schema))


DurationMs = Annotated[
    float, *_annotated(duration, {"type": "number", "minimum": 0, "maximum": MAX_DURATION_MS})
]
CostUsd = Annotated[
    float,
    *_annotated(
        lambda f, v: real(f, v, MAX_COST_USD),
        {"type": "number", "minimum": 0, "maximum": MAX_COST_USD},
    ),
]
Count = Annotated[
    int,
    *_annotated(
        lambda f, v: integer(f, v, 0, MAX_TOKENS),
        {"type": "integer", "minimum": 0, "maximum": MAX_TOKENS},
    ),
]
ByteCount = Annotated[
    int | None,
    *_annotated(optional_bytes, {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_BYTES}),
]
StatusCode = Annotated[
    int,
    *_annotated(
        lambda f, v: integer(f, v, 100, 599), {"type": "integer", "minimum": 100, "maximum": 599}
    ),
]
Flag = Annotated[bool, *_annotated(flag, {"type": "boolean"})]
Name = Annotated[
    str, *_annotated(name, {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH})
]
OptionalName = Annotated[
    str | None,
    *_annotated(optional_name, {"type": ["string", "null"], "maxLength": MAX_NAME_LENGTH}),
]
Path = Annotated[
    str,
    *_annotated(
        lambda f, v: name(f, v, MAX_PATH_LENGTH),
        {"type": "string", "minLength": 1, "maxLength": MAX_PATH_LENGTH},
    ),
]
UnixSeconds = Annotated[
    float | None,
    *_annotated(
        lambda f, v: None if v is None else unix_seconds(f, v), {"type": ["number", "null"]}
    ),
]


# ---------------------------------------------------------------- whole samples
# A checked sample is a plain tuple (cheap to make and to queue):
# request: (ts, endpoint, method, status_code, duration_ms, request_bytes, response_bytes)
# tool call: (ts, tool_name, duration_ms, success, error_type, agent_name, call_id,
#             result_chars)
# agent run: (ts, agent_name, duration_ms, success, error_type, model, provider,
#             input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd,
#             run_id, conversation_id, tool_calls), tool_calls a tuple of tool-call samples
RequestSample = tuple[float, str, str, int, float, int | None, int | None]
UncheckedRequest = tuple[Any, Any, Any, Any, Any, Any, None, float]
"""``request``'s arguments, kept to be checked when folded (``Monitor.request_recorder``)."""
ToolCallSample = tuple[float, str, float, bool, str | None, str | None, str | None, int | None]
AgentRunSample = tuple[
    float, str, float, bool, str | None, str | None, str | None,
    int, int, int, int, float, str | None, str | None, tuple[ToolCallSample, ...],
]  # fmt: skip

_COMMON_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def request(
    endpoint: Any,
    method: Any,
    status_code: Any,
    duration_ms: Any,
    request_bytes: Any,
    response_bytes: Any,
    ts: Any,
    now: float,
) -> RequestSample:
    """A checked request sample (``ts`` None: ``now``)."""
    if (
        duration_ms.__class__ is float
        and 0.0 <= duration_ms <= MAX_DURATION_MS
        and status_code.__class__ is int
        and 100 <= status_code <= 599
        and method in _COMMON_METHODS
        and endpoint.__class__ is str
        and endpoint[:1] == "/"
        and len(endpoint) <= MAX_PATH_LENGTH
        and endpoint.isascii()
        and ts is None
        and (
            request_bytes is None
            or (request_bytes.__class__ is int and 0 <= request_bytes <= MAX_BYTES)
        )
        and (
            response_bytes is None
            or (response_bytes.__class__ is int and 0 <= response_bytes <= MAX_BYTES)
        )
    ):
        return (now, endpoint, method, status_code, duration_ms, request_bytes, response_bytes)
    return (
        now if ts is None else timestamp("timestamp", ts, now),
        name("endpoint", endpoint, MAX_PATH_LENGTH),
        http_method(method),
        integer("status_code", status_code, 100, 599),
        duration("duration_ms", duration_ms),
        optional_bytes("request_bytes", request_bytes),
        optional_bytes("response_bytes", response_bytes),
    )


def http_method(value: Any) -> str:
    """An HTTP method token, upper-cased."""
    if value in _COMMON_METHODS:
        return str(value)
    try:
        return normalize_method(name("method", value))
    except ValueError as exc:
        raise InvalidInputError(f"method: {exc}") from None


def tool_call(
    tool_name: Any,
    duration_ms: Any,
    success: Any,
    error_type: Any,
    agent_name: Any,
    ts: Any,
    call_id: Any,
    result_chars: Any,
    now: float,
) -> ToolCallSample:
    """A checked tool-call sample (``ts`` None: ``now``); ``result_chars`` is the size of
    its result in characters, None when unknown."""
    return (
        now if ts is None else timestamp("timestamp", ts, now),
        name("tool_name", tool_name),
        duration("duration_ms", duration_ms),
        success if success is True else flag("success", success),
        None if error_type is None else name("error_type", error_type),
        None if agent_name is None else name("agent_name", agent_name),
        None if call_id is None else name("call_id", call_id),
        result_chars
        if result_chars is None
        or (result_chars.__class__ is int and 0 <= result_chars <= MAX_BYTES)
        else integer("result_chars", result_chars, 0, MAX_BYTES),
    )


TOOL_CALL_FIELDS = frozenset({
    "tool_name", "duration_ms", "success", "error_type", "agent_name", "timestamp", "call_id",
    "result_chars",
})  # fmt: skip
AGENT_RUN_FIELDS = frozenset({
    "agent_name", "duration_ms", "start_time", "end_time", "success", "error_type", "model",
    "provider", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "cost_usd",
    "tool_calls", "run_id", "conversation_id",
})  # fmt: skip


def _unknown(what: str, given: Any, allowed: frozenset[str]) -> None:
    if not allowed.issuperset(given):
        extra = ", ".join(sorted(map(str, set(given) - allowed)))
        raise InvalidInputError(
            f"{what} got unknown field(s) {extra}; allowed: {', '.join(sorted(allowed))}"
        )


def agent_run(fields: dict[str, Any], now: float) -> AgentRunSample:
    """A checked agent run, given as keyword fields (nested calls as dicts or models)."""
    _unknown("record_agent_run", fields, AGENT_RUN_FIELDS)
    get = fields.get
    start, end, elapsed = get("start_time"), get("end_time"), get("duration_ms")
    if start is not None:
        start = timestamp("start_time", start, now)
    if end is not None:
        end = timestamp("end_time", end, now)
    if elapsed is not None:
        elapsed = duration("duration_ms", elapsed)
    elif start is not None and end is not None:
        elapsed = duration("end_time - start_time", (end - start) * 1000)
    else:
        raise InvalidInputError("give duration_ms, or both start_time and end_time")
    ts = now if end is None else end
    calls = get("tool_calls") or ()
    if calls and (not isinstance(calls, list | tuple) or len(calls) > MAX_TOOL_CALLS):
        raise _fail("tool_calls", f"a list of at most {MAX_TOOL_CALLS} tool calls", calls)
    success, cost = get("success", True), get("cost_usd", 0.0)
    cache_write = get("cache_write_tokens", 0)  # mostly 0: the common case checked inline
    return (
        ts,
        name("agent_name", get("agent_name")),
        elapsed,
        success if success is True else flag("success", success),
        optional_name("error_type", get("error_type")),
        optional_name("model", get("model")),
        optional_name("provider", get("provider")),
        _count("input_tokens", get("input_tokens", 0)),
        _count("output_tokens", get("output_tokens", 0)),
        _count("cache_read_tokens", get("cache_read_tokens", 0)),
        cache_write
        if cache_write.__class__ is int and 0 <= cache_write <= MAX_TOKENS
        else _count("cache_write_tokens", cache_write),
        cost
        if cost.__class__ is float and 0.0 <= cost <= MAX_COST_USD
        else real("cost_usd", cost, MAX_COST_USD),
        optional_name("run_id", get("run_id")),
        optional_name("conversation_id", get("conversation_id")),
        tuple([_nested_call(i, call, ts, now) for i, call in enumerate(calls)]) if calls else (),
    )


def _count(field: str, value: Any) -> int:
    """A token count: an int from 0 to MAX_TOKENS (the common case checked first)."""
    if value.__class__ is int and 0 <= value <= MAX_TOKENS:
        return value
    return integer(field, value, 0, MAX_TOKENS)


def _nested_call(index: int, call: Any, run_ts: float, now: float) -> ToolCallSample:
    """A tool call reported inside a run; errors name it as ``tool_calls[index]``."""
    if not isinstance(call, dict):
        if not hasattr(call, "model_dump"):
            raise _fail(f"tool_calls[{index}]", "an object with tool_name and duration_ms", call)
        call = call.model_dump(exclude_none=True)
    get = call.get
    try:
        _unknown("", call, TOOL_CALL_FIELDS)
        sample = tool_call(
            get("tool_name"),
            get("duration_ms"),
            get("success", True),
            get("error_type"),
            get("agent_name"),
            get("timestamp"),
            get("call_id"),
            get("result_chars"),
            now,
        )
    except InvalidInputError as exc:
        raise InvalidInputError(f"tool_calls[{index}].{exc}".replace(". got", " got")) from None
    return sample if get("timestamp") is not None else (run_ts, *sample[1:])
