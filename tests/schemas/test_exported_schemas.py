"""The checked-in JSON Schemas match the models, and editors checking with them agree with the loader."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from schemas.exporting import all_schemas

REPO = Path(__file__).resolve().parents[2]
CHECKED_IN = REPO / "schemas" / "json"


def test_checked_in_schema_files_are_up_to_date():
    wanted = {name: json.dumps(schema, indent=2, sort_keys=True) + "\n"
              for name, schema in all_schemas().items()}
    present = {path.name: path.read_text(encoding="utf-8") for path in CHECKED_IN.glob("*.json")}
    stale = sorted(name for name in wanted if present.get(name) != wanted[name])
    extra = sorted(set(present) - set(wanted))
    assert not stale and not extra, (
        f"stale: {stale}, extra: {extra}; run 'fleetward schemas export' and commit schemas/json")


def _example_documents():
    yaml = YAML(typ="safe")
    for folder in ("examples", "fleet-repo-template"):
        for path in sorted((REPO / folder).rglob("*.yaml")):
            if any(part.startswith(".") for part in path.relative_to(REPO / folder).parts):
                continue  # CI and tool configuration, not fleet resources
            for index, document in enumerate(yaml.load_all(path.read_text(encoding="utf-8"))):
                if document is not None:
                    yield pytest.param(document, id=f"{path.relative_to(REPO)}#{index}")


@pytest.mark.parametrize("document", list(_example_documents()))
def test_examples_validate_against_the_exported_schema(document):
    schema = json.loads((CHECKED_IN / f"{document['kind'].lower()}.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(document)


def test_schema_rejects_an_unknown_field_like_the_loader_does():
    schema = json.loads((CHECKED_IN / "package.schema.json").read_text())
    document = {"apiVersion": "fleetward/v1", "kind": "Package", "metadata": {"name": "x"},
                "spec": {"version": "1", "verison": "1", "installers": []}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(document)
