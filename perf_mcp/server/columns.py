"""A list tool's ``fields``: which columns of its rows to keep (the columns that name a row are
always kept), checked as an argument, cut from the answer; the rest of the answer stays.

>>> cut_rows([{"endpoint": "/a", "method": "GET", "count": 3, "p95_ms": 12}],
...     ["p95_ms"], ("endpoint", "method"))
[{'endpoint': '/a', 'method': 'GET', 'p95_ms': 12}]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from mcp.types import CallToolResult, TextContent
from pydantic import AfterValidator, BaseModel, Field

from perf_mcp.server.answers import answer, compact_json

FieldsArg = Annotated[
    list[str] | None,
    Field(max_length=64, description="Columns of each row to keep; all if omitted."),
]


def columns_of(row: type[BaseModel]) -> AfterValidator:
    """The check of a ``fields`` argument against the columns of ``row``: an unknown one is
    an argument error that lists the allowed ones."""
    columns = [field.alias or name for name, field in row.model_fields.items()]

    def check(fields: list[str] | None) -> list[str] | None:
        for field in fields or ():
            if field not in columns:
                raise ValueError(f"unknown column {field!r}; allowed: {', '.join(columns)}")
        return fields

    return AfterValidator(check)


def cut_rows(
    rows: list[dict[str, Any]], fields: Sequence[str], keys: Sequence[str]
) -> list[dict[str, Any]]:
    """Each row with only its ``keys`` and ``fields``, in the row's own order."""
    return [{k: v for k, v in row.items() if k in keys or k in fields} for row in rows]


def with_columns(
    result: BaseModel, rows: str, fields: Sequence[str] | None, keys: Sequence[str]
) -> CallToolResult:
    """``result`` answered (``answers.answer``), each row of its list ``rows`` cut to its
    ``keys`` and the ``fields`` asked for; the whole answer when ``fields`` is None."""
    answered = answer(result)
    if fields is None:
        return answered
    data: dict[str, Any] = {**(answered.structured_content or {})}
    data[rows] = cut_rows(data[rows], fields, keys)
    text = TextContent(type="text", text=compact_json(data))
    return CallToolResult(content=[text], structured_content=data)
