"""One document to one validated resource, or problems pointing at the offending nodes.

Pydantic reports errors by ``loc`` (field aliases, list indexes); :func:`node_position`
walks the same path through the round-trip tree to find the line and column: the
key itself for an unknown field, the value for a wrong value, the enclosing mapping
for a missing field. Messages are rewritten where pydantic's wording would not tell
a YAML author what to do.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from controller.loading.parsing import Document, position
from controller.loading.problems import Problem, problem
from schemas import API_VERSION
from schemas.kinds import KINDS
from schemas.resources import Resource

_PATTERN_HINTS = {
    "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$":
        "must be lower-case letters, digits and '-', 1-63 characters, starting and ending with a "
        "letter or digit",
    "^[0-9a-f]{64}$": "must be 64 lower-case hex digits (the output of sha256sum)",
}


def plain(node: Any) -> Any:
    """The round-trip tree as plain Python (dict, list, str, int, float, bool, None, dates)."""
    if isinstance(node, dict):
        return {plain(key): plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(item) for item in node]
    if isinstance(node, bool) or node is None:
        return node
    for base in (str, int, float):
        if isinstance(node, base):
            return base(node)
    return node


def node_position(tree: CommentedMap, loc: Sequence[int | str], *, at_key: bool) -> tuple[int, int]:
    """Line and column of the node at ``loc``: its key when ``at_key``, else its value."""
    current: Any = tree
    found = position(tree)
    for depth, part in enumerate(loc):
        last = depth == len(loc) - 1
        if isinstance(current, CommentedMap) and part in current:
            line, column = current.lc.key(part) if (last and at_key) else current.lc.value(part)
            found = (line + 1, column + 1)
            current = current[part]
        elif isinstance(current, CommentedSeq) and isinstance(part, int) and 0 <= part < len(current):
            line, column = current.lc.item(part)
            found = (line + 1, column + 1)
            current = current[part]
        elif isinstance(current, CommentedMap) and not last:
            continue  # a union tag or model name pydantic puts in loc; not in the YAML
        else:
            break
    return found


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [inner for arg in typing.get_args(annotation) for inner in _unwrap(arg)]
    return [annotation]


def model_at(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at ``loc`` (for "did you mean")."""
    current: list[Any] = [model]
    for part in loc:
        following: list[Any] = []
        for candidate in current:
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                for name, info in candidate.model_fields.items():
                    if part in (name, info.alias):
                        following.extend(_unwrap(info.annotation))
            else:
                origin = typing.get_origin(candidate)
                args = typing.get_args(candidate)
                if origin in (list, tuple, Sequence) and args and isinstance(part, int):
                    following.extend(_unwrap(args[0]))
                elif origin is dict and len(args) == 2:
                    following.extend(_unwrap(args[1]))
        current = following
    for candidate in current:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _field_names(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"{str(value)[:60]!r}"


def _message(error: Any, model: type[Resource]) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    field = str(loc[-1]) if loc else "document"
    value = error.get("input")
    if kind == "extra_forbidden":
        names = _field_names(model_at(model, loc[:-1]))
        close = difflib.get_close_matches(field, names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else (
            f"; known fields: {', '.join(names)}" if names else "")
        return f"unknown field '{field}'{hint}"
    if kind == "missing":
        return f"missing required field '{field}'"
    if kind == "string_type":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f"expected a string, got {_describe(value)}: quote it (\"{value}\")"
        return f"'{field}' must be a string, got {_describe(value)}"
    if kind == "string_pattern_mismatch":
        pattern = str(error.get("ctx", {}).get("pattern", ""))
        hint = _PATTERN_HINTS.get(pattern, f"must match {pattern}")
        return f"'{field}' {hint}, got {_describe(value)}"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"'{field}' must be {expected}, got {_describe(value)}"
    message = str(error["msg"])
    message = re.sub(r"^(Value|Assertion) error, ", "", message)
    if kind in ("model_type", "dict_type"):
        message = f"'{field}' must be a mapping, got {_describe(value)}"
    elif kind == "list_type":
        message = f"'{field}' must be a list, got {_describe(value)}"
    return message


def _envelope_problems(document: Document) -> list[Problem]:
    tree = document.tree
    found: list[Problem] = []

    def at(key: str | None, message: str) -> Problem:
        if key is not None and key in tree:
            line, column = node_position(tree, (key,), at_key=False)
        else:
            line, column = document.line, document.column
        return problem(document.path, line, column, message)

    api_version = tree.get("apiVersion")
    if api_version is None:
        found.append(at(None, f"missing 'apiVersion'; every document starts with apiVersion: {API_VERSION}"))
    elif api_version != API_VERSION:
        found.append(at("apiVersion", f"apiVersion must be {API_VERSION}, got {_describe(api_version)}"))
    kind = tree.get("kind")
    if kind is None:
        found.append(at(None, f"missing 'kind'; one of {', '.join(sorted(KINDS))}"))
    elif kind not in KINDS:
        close = difflib.get_close_matches(str(kind), list(KINDS), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        found.append(at("kind", f"unknown kind {_describe(kind)}; {hint}known kinds: "
                                 f"{', '.join(sorted(KINDS))}"))
    return found


def validate_document(document: Document) -> tuple[Resource | None, list[Problem]]:
    envelope = _envelope_problems(document)
    if envelope:
        return None, envelope
    model = KINDS[str(document.tree["kind"])]
    try:
        resource = model.model_validate(plain(document.tree))
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False):
            loc = tuple(item["loc"])
            at_key = item["type"] == "extra_forbidden"
            missing = item["type"] == "missing"
            line, column = node_position(document.tree, loc[:-1] if missing else loc, at_key=at_key)
            problems.append(problem(document.path, line, column, _message(item, model)))
        return None, problems
    return resource, []
