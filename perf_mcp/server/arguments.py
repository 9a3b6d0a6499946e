"""Tool arguments: the types the tools share, and strict checking of what a client sends.

A client sends JSON, and a tool takes it as JSON means it: a number must be a JSON number
(``"5"`` is not 5 ms), a flag must be ``true`` or ``false`` (not ``1``, not ``"yes"``), and
an argument the tool does not have is an error that names it, not something ignored. Every
tool is registered through ``strict_tool``, which gives the SDK's argument model for the
function that strictness; the nested records use the strict ``RequestArg`` and ``ToolCallArg``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, cast

from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from perf_mcp.core.models import RequestSample, ToolCallRecord, Window
from perf_mcp.server.answers import answered

MAX_LIMIT = 500
_SHOWN_CHARS = 60  # of a rejected value, in an error message

WindowArg = Annotated[Window, Field(description="The last 1m, 5m, 15m, 1h, 24h or 7d.")]
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


class StrictArguments(BaseModel):
    """Mixed into a tool's argument model: no coercion, no unknown names, plain errors."""

    model_config = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True)

    @model_validator(mode="wrap")
    @classmethod
    def _say_plainly(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            takes = [field.alias or name for name, field in cls.model_fields.items()]
            errors = [_plain_error(error, takes) for error in exc.errors()]
            raise ValidationError.from_exception_data(exc.title, errors, hide_input=True) from None


def strict_tool(fn: Callable[..., Any], annotations: ToolAnnotations) -> Tool:
    """The tool for ``fn`` (described by its docstring, structured output) with strict
    arguments (its input schema says ``additionalProperties: false``), answering in compact
    rounded JSON (``answers.answer``)."""
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
        update={"arg_model": strict, "output_schema": untitled(output) if output else None}
    )
    parameters = untitled(strict.model_json_schema(by_alias=True))
    return tool.model_copy(
        update={"fn": answered(fn), "fn_metadata": metadata, "parameters": parameters}
    )


def untitled(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without the titles pydantic derives from names ("P95 Ms" for p95_ms): they
    repeat the name in every tool list a client sends the model."""
    return {
        key: _untitled_properties(value) if key == "properties" else _untitled_any(value)
        for key, value in schema.items()
        if not (key == "title" and isinstance(value, str))
    }


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


def _plain_error(error: ErrorDetails, takes: list[str]) -> InitErrorDetails:
    # An unknown argument's name is the caller's text, of any length: quote it short.
    loc = tuple(_shorter(part) if isinstance(part, str) else part for part in error["loc"])
    if error["type"] == "extra_forbidden":
        if len(loc) == 1:
            reason = f"unknown argument; this tool takes {', '.join(takes)}"
        else:
            reason = f"unknown field {loc[-1]!r} in {where(loc[:-1])}"
    else:
        reason = explain(error)
    kind = PydanticCustomError("invalid_argument", "{reason}", {"reason": reason})
    return InitErrorDetails(type=kind, loc=loc, input=error.get("input"))


def _untitled_any(value: Any) -> Any:
    if isinstance(value, dict):
        return untitled(value)
    if isinstance(value, list):
        return [_untitled_any(item) for item in value]
    return value


def _untitled_properties(properties: dict[str, Any]) -> dict[str, Any]:
    return {name: _untitled_any(schema) for name, schema in properties.items()}


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return _shorter(text)


def _shorter(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."
