"""How answers' JSON Schemas are shaped for the clients that check every answer against them:
lists as tables, objects whose fields are named in their description, no ``$ref``.

An MCP client validates each answer against the tool's output schema, paying for each value
it descends into; these shapes keep that cost down and say the same to a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema


@dataclass(frozen=True)
class Tabular:
    """Marks a list of ``row`` models that JSON carries as a table: the column names once, then
    one array of cells per row. In Python it stays a list of models.

    A summary is read whole by a model and validated whole by its client. As a table it is a
    quarter smaller than a list of objects, and a client checks the table, not every cell:
    the SDK's jsonschema pays ~5 us for each value it descends into, which made the cells
    most of a summary's cost (and a per-row schema would still be a third of it). The schema
    fixes the columns and spells out each cell's type and meaning in its description.
    """

    row: type[BaseModel]

    @property
    def columns(self) -> list[str]:
        return list(self.row.model_fields)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_before_validator_function(
            self._from_table,
            handler(source),
            serialization=core_schema.plain_serializer_function_ser_schema(
                self._to_table, when_used="json"
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        fields = self.row.model_json_schema()["properties"]
        cells = "; ".join(_cell_doc(name, fields[name]) for name in self.columns)
        width = len(self.columns)
        return {
            "type": "object",
            "properties": {
                "columns": {"const": self.columns},
                "rows": {
                    "type": "array",
                    "description": f"One array of {width} cells per row, in column order: {cells}.",
                },
            },
            "required": ["columns", "rows"],
        }

    def _to_table(self, rows: list[BaseModel]) -> dict[str, Any]:
        columns = self.columns
        return {"columns": columns, "rows": [[getattr(r, c) for c in columns] for r in rows]}

    def _from_table(self, value: Any) -> Any:
        columns = self.columns
        if isinstance(value, dict) and value.get("columns") == columns:
            return [dict(zip(columns, cells, strict=True)) for cells in value.get("rows", [])]
        return value


def described(node: JsonSchemaValue) -> JsonSchemaValue:
    """An object's schema with its fields named in its description instead of listed."""
    fields = "; ".join(_cell_doc(name, spec) for name, spec in node["properties"].items())
    return {"type": "object", "description": f"{node['description']} Fields: {fields}."}


def _cell_doc(name: str, spec: dict[str, Any]) -> str:
    kind = spec["type"] if isinstance(spec["type"], str) else " or ".join(spec["type"])
    meaning = f": {spec['description'].rstrip('.')}" if "description" in spec else ""
    return f"{name} ({kind}{meaning})"


def inlined(node: Any, handler: GetJsonSchemaHandler) -> Any:
    """``node`` with every ``$ref`` replaced by what it points at."""
    if isinstance(node, dict):
        if "$ref" in node:
            return inlined(handler.resolve_ref_schema(node), handler)
        return {key: inlined(value, handler) for key, value in node.items()}
    if isinstance(node, list):
        return [inlined(item, handler) for item in node]
    return node
