"""A tool's schemas as few tokens as say the same: every tool list a client sends the model
carries them.

Input schemas keep what the model needs to call the tool (types, enums, defaults, the
descriptions written for it) and lose what pydantic derives from names: titles, and the
``null`` branch of an optional argument whose default is null (leaving it out means the same).
Output schemas are for a client checking structured content, not for the model: they keep
types and shapes and lose descriptions, titles, defaults and ``required`` (a list tool's
``fields`` leaves columns out), and ``anyOf`` a type or null becomes a list of two types.

>>> slim_input({"properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}],
...     "default": None, "title": "A"}}, "title": "f arguments", "type": "object"})
{'properties': {'a': {'type': 'string'}}, 'type': 'object'}
>>> slim_output({"properties": {"p95_ms": {"anyOf": [{"type": "number"}, {"type": "null"}],
...     "default": None, "description": "ms"}}, "type": "object"})
{'properties': {'p95_ms': {'type': ['number', 'null']}}, 'type': 'object'}
"""

from __future__ import annotations

from typing import Any

NULL = {"type": "null"}
_OUTPUT_DROPPED = frozenset({"title", "description", "default", "examples", "required"})


def slim_input(schema: dict[str, Any]) -> dict[str, Any]:
    """An argument schema without derived titles and without the null branch of optional
    arguments that default to null."""
    slimmed: dict[str, Any] = _walk(schema, _slim_input_node)
    return slimmed


def slim_output(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema with types and shapes only."""
    slimmed: dict[str, Any] = _walk(schema, _slim_output_node)
    return slimmed


def _walk(schema: Any, slim: Any) -> Any:
    """``slim`` applied to every schema node, innermost first; property names are kept."""
    if isinstance(schema, list):
        return [_walk(item, slim) for item in schema]
    if not isinstance(schema, dict):
        return schema
    node = {
        key: {name: _walk(sub, slim) for name, sub in value.items()}
        if key in ("properties", "$defs") and isinstance(value, dict)
        else _walk(value, slim)
        for key, value in schema.items()
    }
    return slim(node)


def _slim_input_node(node: dict[str, Any]) -> dict[str, Any]:
    node = {k: v for k, v in node.items() if not (k == "title" and isinstance(v, str))}
    if "default" in node and node["default"] is None:
        del node["default"]
        node = _without_null(node)
    return node


def _slim_output_node(node: dict[str, Any]) -> dict[str, Any]:
    node = {k: v for k, v in node.items() if k not in _OUTPUT_DROPPED}
    options = node.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and NULL in options:
        (other,) = [option for option in options if option != NULL]
        if set(other) == {"type"} and isinstance(other["type"], str):
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            return {**rest, "type": [other["type"], "null"]}
    return node


def _without_null(node: dict[str, Any]) -> dict[str, Any]:
    options = node.get("anyOf")
    if isinstance(options, list) and NULL in options:
        kept = [option for option in options if option != NULL]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        return {**rest, **kept[0]} if len(kept) == 1 else {**rest, "anyOf": kept}
    kind = node.get("type")
    if isinstance(kind, list) and "null" in kind:
        kept_types = [t for t in kind if t != "null"]
        return {**node, "type": kept_types[0] if len(kept_types) == 1 else kept_types}
    return node
