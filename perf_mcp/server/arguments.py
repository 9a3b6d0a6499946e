"""Tool arguments: the types the tools share, and strict checking of what a client sends.

A client sends JSON, and a tool takes it as JSON means it: a number must be a JSON number
(``"5"`` is not 5 ms), a flag must be ``true`` or ``false`` (not ``1``, not ``"yes"``), and
an argument the tool does not have is an error that names it, not something ignored. Every
tool is registered through ``strict_tool``, which gives the SDK's argument model for the
function that strictness; the nested records use the strict ``RequestArg`` and ``ToolCallArg``.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, cast, get_args, get_origin, get_type_hints

from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)
from pydantic_core import ErrorDetails

from perf_mcp.core.models import RequestSample, ToolCallRecord, Window
from perf_mcp.server.answers import answered
from perf_mcp.server.schemas import slim_input, slim_output

MAX_LIMIT = 500
REFUSED = "__refused__"  # the one keyword a refused call hands the tool: what was wrong
_SHOWN_CHARS = 60  # of a rejected value, in an error message

WindowArg = Window  # its enum says it all: the last 1m, 5m, 15m, 1h, 24h or 7d
LimitArg = Annotated[
    int, Field(ge=1, le=MAX_LIMIT, description="Most rows; `truncated` says if more matched.")
]
OptionalText = Annotated[str, Field(max_length=200)] | None


class RequestArg(RequestSample):
    """One HTTP request of a record_requests batch, its numbers JSON numbers."""

    model_config = ConfigDict(strict=True)


class ToolCallArg(ToolCallRecord):
    """One tool call of a record_agent_run, its numbers JSON numbers."""

    model_config = ConfigDict(strict=True)


def refusal(reasons: str) -> str:
    """How every tool says it refused its arguments: what was wrong (and what is allowed),
    and that nothing happened."""
    return f"invalid arguments, nothing was recorded or changed: {reasons}"


def plain_reasons(exc: ValidationError, takes: Sequence[str] = ()) -> str:
    """What was wrong with the values ``exc`` refused, one clause per value:
    ``limit: must be ...; colour: unknown argument; this tool takes window, limit``."""
    parts = []
    for error in exc.errors(include_url=False):
        # An unknown argument's name is the caller's text, of any length: quote it short.
        loc = tuple(_shorter(part) if isinstance(part, str) else part for part in error["loc"])
        if error["type"] == "extra_forbidden" and len(loc) == 1:
            reason = f"unknown argument; this tool takes {', '.join(takes) or 'no arguments'}"
        elif error["type"] == "extra_forbidden":
            loc, reason = loc[:-1], f"unknown field {loc[-1]!r}"
        else:  # a check that names its field says it once: "duration_ms: must be ..."
            reason = explain(error).removeprefix(f"{loc[-1]} " if loc else "")
        parts.append(f"{where(loc)}: {reason}" if loc else reason)
    return "; ".join(parts)


class StrictArguments(ArgModelBase):
    """Mixed into a tool's argument model: no coercion, no unknown names, plain errors.

    The SDK would answer a refused argument with pydantic's own text (the model's class name,
    error types, links) and has no public hook to word it; so the model never fails in the
    SDK's hands: a refused call validates to an empty model that hands the tool only the
    reasons (``model_dump_one_level``, what the SDK calls the tool with), and the tool
    (``strict_tool``'s wrapper) raises them as its own error, worded like every other check.
    """

    model_config = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True)
    _refused: str | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _say_plainly(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            takes = [field.alias or name for name, field in cls.model_fields.items()]
            refused = cls.model_construct()
            refused._refused = plain_reasons(exc, takes)
            return refused

    def model_dump_one_level(self) -> dict[str, Any]:
        """The tool's keyword arguments; the reasons when the call was refused (with every
        argument None, for the SDK's resolvers, which run before the tool raises them)."""
        if self._refused is not None:
            return {**dict.fromkeys(type(self).model_fields), REFUSED: self._refused}
        return super().model_dump_one_level()


def strict_tool(fn: Callable[..., Any], annotations: ToolAnnotations) -> Tool:
    """The tool for ``fn`` (described by its docstring, structured output) with strict
    arguments (its input schema says ``additionalProperties: false``), answering in compact
    rounded JSON (``answers.answer``), and slim schemas (``schemas``)."""
    tool = Tool.from_function(
        fn,
        description=inspect.cleandoc(fn.__doc__ or ""),
        annotations=annotations,
        structured_output=True,
    )
    lax = tool.fn_metadata.arg_model
    config = ConfigDict(title=f"{tool.name} arguments")
    strict = cast(
        type[BaseModel],
        type(
            lax.__name__, (lax, StrictArguments), {"model_config": config, "__module__": __name__}
        ),
    )
    output = tool.fn_metadata.output_schema
    metadata = tool.fn_metadata.model_copy(
        update={
            "arg_model": strict,
            "output_schema": slim_output(output) if output else None,
            # An answer is dumped from the model it was built as: checking it against that
            # model again cost every call, and would refuse a list cut to its `fields`.
            "output_model": None,
        }
    )
    parameters = slim_input(strict.model_json_schema(by_alias=True))
    answering = fn if _answers_itself(fn) else answered(fn)
    return tool.model_copy(
        update={"fn": _refusing(answering), "fn_metadata": metadata, "parameters": parameters}
    )


def _refusing(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``fn``, raising the reasons instead when its arguments were refused."""

    @functools.wraps(fn)
    async def tool(*args: Any, **kwargs: Any) -> Any:
        refused = kwargs.pop(REFUSED, None)
        if refused is not None:
            raise ToolError(refusal(refused))
        return await fn(*args, **kwargs)

    return tool


def _answers_itself(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` returns ``Annotated[CallToolResult, AnswerModel]`` (a list tool that
    cuts its rows to `fields`) rather than the answer model."""
    returns = get_type_hints(fn, include_extras=True).get("return")
    return get_origin(returns) is Annotated and get_args(returns)[0] is CallToolResult


def explain(error: ErrorDetails) -> str:
    """One argument error in plain words: which argument, what was wrong, what is allowed."""
    kind, value, message = error["type"], error.get("input"), error["msg"]
    got = _shown(value)
    if kind in ("float_type", "int_type") and isinstance(value, str):
        return f"must be a JSON number, not the string {got}"
    if kind in ("float_type", "int_type") and isinstance(value, bool):
        return f"must be a number, not {got}"
    if kind == "int_type" and isinstance(value, float):
        return f"must be a whole number, got {got}"
    if kind == "bool_type":
        return f"must be true or false, got {got}"
    if kind == "string_type":
        return f"must be a string, got {got}"
    if message.startswith("Value error, "):
        return message.removeprefix("Value error, ")
    plain = message.replace("Input should be", "must be").replace("Input should", "should")
    return f"{plain}, got {got}" if "input" in error else plain


def where(loc: Sequence[int | str]) -> str:
    """``("requests", 0, "duration_ms")`` -> ``requests[0].duration_ms``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return _shorter(text)


def _shorter(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."
