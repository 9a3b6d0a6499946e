"""The OpenAPI 3.1 description of /api/v1/, made from the routes' own pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from perf_mcp import __version__
from perf_mcp.server.api import PREFIX, Operation

REF = "#/components/schemas/{model}"


def openapi(operations: list[Operation]) -> dict[str, Any]:
    """The OpenAPI document: one path item per operation, the models under components."""
    models: set[type[BaseModel]] = {op.answer for op in operations}
    models |= {op.body for op in operations if op.body is not None}
    refs, schema = models_json_schema(
        [(model, "serialization") for model in sorted(models, key=lambda m: m.__name__)],
        ref_template=REF,
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path = PREFIX + op.path.replace(":int}", "}")
        item: dict[str, Any] = {
            "summary": op.summary,
            "parameters": _parameters(op),
            "responses": {
                "200": _content(refs[(op.answer, "serialization")]),
                "400": {
                    "description": "Bad input: `detail` says what was wrong and what is allowed."
                },
                "401": {"description": "No valid bearer token."},
            },
        }
        if op.body is not None:
            item["requestBody"] = _content(refs[(op.body, "serialization")])
            item["responses"]["403"] = {"description": "The read token, or a read-only dashboard."}
        paths.setdefault(path, {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "perf-mcp dashboard API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": schema.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    if "{alert_id" in op.path:
        params.append(
            {"name": "alert_id", "in": "path", "required": True, "schema": {"type": "integer"}}
        )
    if op.params is None:
        return params
    schema = op.params.model_json_schema()
    required = set(schema.get("required", []))
    for name, spec in schema["properties"].items():
        params.append({"name": name, "in": "query", "required": name in required, "schema": spec})
    return params


def _content(ref: dict[str, Any]) -> dict[str, Any]:
    return {"description": "JSON", "content": {"application/json": {"schema": ref}}}
