"""JSON Schema documents for every kind, generated from the models (no file I/O here)."""

from __future__ import annotations

from typing import Any

from schemas.kinds import KINDS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def kind_schema(kind: str) -> dict[str, Any]:
    model = KINDS[kind]
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = SCHEMA_DIALECT
    schema["$id"] = f"{kind.lower()}.schema.json"
    schema["title"] = f"fleetward/v1 {kind}"
    return schema


def all_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema: one per kind plus ``resource.schema.json`` accepting any kind."""
    files = {f"{kind.lower()}.schema.json": kind_schema(kind) for kind in sorted(KINDS)}
    files["resource.schema.json"] = {
        "$schema": SCHEMA_DIALECT,
        "$id": "resource.schema.json",
        "title": "fleetward/v1 resource (any kind)",
        "oneOf": [{"$ref": name} for name in sorted(files)],
    }
    return files
