"""A tool's answer as the model reads it: one compact JSON text block, numbers rounded to what a
person reads, and the same data as structured content.

The SDK would send a returned model twice, as indented JSON text with every float's 16 digits
and as structured content; a tool answers through ``answered`` instead.

>>> rounded({"p95_ms": 1234.5678, "error_rate": 0.0123456, "at": 1765000000.123456})
{'p95_ms': 1235, 'error_rate': 0.0123, 'at': 1765000000}
>>> rounded({"columns": ["endpoint", "p95_ms"], "rows": [["/search", 12.3456]]})
{'columns': ['endpoint', 'p95_ms'], 'rows': [['/search', 12.3]]}
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ParamSpec

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

P = ParamSpec("P")

SIGNIFICANT = 3  # digits a person reads of a latency, a size or a cost
RATE_PLACES = 4  # a fraction 0..1: 0.0123 is 1.23%
TIME_PLACES = 0  # Unix seconds: a person reads whole seconds
TIME_KEYS = frozenset({"at", "timestamp", "since", "until", "start", "end"})


def rounded(data: Any, key: str = "") -> Any:
    """``data`` (JSON-ready) with each float rounded by what its key says it is."""
    kind = data.__class__
    if kind is float:
        return _round_number(data, key) if math.isfinite(data) else data
    if kind is dict:
        rows, columns = data.get("rows"), data.get("columns")
        if rows.__class__ is list and columns.__class__ is list:
            names = tuple(str(c) for c in columns)
            table = [_rounded_row(names, row) for row in rows]
            rest = {k: rounded(v, k) for k, v in data.items() if k != "rows"}
            return {**rest, "rows": table}
        return {k: rounded(v, k) if v.__class__ in _CHANGED else v for k, v in data.items()}
    if kind is list:
        return [rounded(x, key) if x.__class__ in _CHANGED else x for x in data]
    return data


# The last answer given for a frozen model (it cannot change): a summary asked again with
# nothing new recorded is the same model.
_last: tuple[BaseModel, Any, str] | None = None
_CHANGED = frozenset({float, dict, list})  # what rounding can change; the rest passes as is


def _rounded_row(names: tuple[str, ...], row: list[Any]) -> list[Any]:
    """A table row, each cell rounded by its column's name. Rows of plain values are
    remembered: most of a table's rows are the same from one answer to the next."""
    try:
        return list(_rounded_cells(names, tuple(row)))
    except TypeError:  # a cell is a list or an object: not remembered
        return _round_cells(names, row)


@functools.lru_cache(maxsize=4096)
def _rounded_cells(names: tuple[str, ...], cells: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_round_cells(names, cells))


def _round_cells(names: tuple[str, ...], cells: Iterable[Any]) -> list[Any]:
    return [
        rounded(x, c) if x.__class__ in _CHANGED else x for c, x in zip(names, cells, strict=False)
    ]


def compact_json(data: Any) -> str:
    """JSON without indentation or spaces."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def answer(model: BaseModel) -> CallToolResult:
    """The tool result for ``model``: compact rounded JSON text, the same as structured content."""
    global _last
    last = _last
    if last is not None and last[0] is model:  # asked again, nothing new: the same answer
        _, data, text = last
    else:
        data = _rounded_dump(model)
        text = compact_json(data)
        if model.model_config.get("frozen"):
            _last = (model, data, text)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


def answer_text(model: BaseModel) -> str:
    """``model`` as a resource's text: the same compact rounded JSON as a tool's answer."""
    return compact_json(_rounded_dump(model))


def answered(fn: Callable[P, Awaitable[BaseModel]]) -> Callable[P, Awaitable[CallToolResult]]:
    """``fn`` (an async tool returning a model) answering through ``answer``."""

    @functools.wraps(fn)
    async def tool(*args: P.args, **kwargs: P.kwargs) -> CallToolResult:
        return answer(await fn(*args, **kwargs))

    return tool


def _rounded_dump(model: BaseModel) -> Any:
    return rounded(model.model_dump(mode="json", by_alias=True))


@functools.cache  # keys are field and column names: a small, fixed set
def _places(key: str) -> int | None:
    """Decimal places kept of a float under ``key``; None: three significant digits."""
    if key in TIME_KEYS or key.endswith(("_at", "_until", "_start", "_end")):
        return TIME_PLACES
    if key.endswith("rate"):
        return RATE_PLACES
    return None


def _round_number(value: float, key: str) -> float | int:
    places = _places(key)
    if places is None:  # three significant digits, never dropping a digit before the point
        if value == 0:
            return 0
        size = abs(value)
        if size >= 100:
            places = 0
        elif size >= 1:
            places = 1 if size >= 10 else 2
        else:
            places = SIGNIFICANT - 1 - math.floor(math.log10(size))
    result = round(value, places)
    return int(result) if result.is_integer() else result
