"""One document to one validated resource, or problems pointing at the offending nodes.

The envelope (``apiVersion``, ``kind``) is checked first so an unknown kind gets a
suggestion instead of a wall of pydantic errors; ``metadata`` is still checked then.
A known kind is validated by its pydantic model and every error is mapped back to the
node it is about (:mod:`~controller.loading.locating`) and reworded
(:mod:`~controller.loading.messages`): the key itself for an unknown field, the value
for a wrong value, the enclosing mapping for a missing field.

An invalid document still tells what it meant to declare (its ``claim``), so the
cross-resource checks do not add "no Package 'x'" to a Package that failed on its own.
"""

from __future__ import annotations

import difflib
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap

from controller.loading.locating import Loc, node_position, written_text
from controller.loading.messages import describe, reword
from controller.loading.parsing import Document
from controller.loading.problems import Problem, problem
from schemas import API_VERSION
from schemas.kinds import KINDS
from schemas.resources import Metadata, Resource

M = TypeVar("M", bound=BaseModel)


class Validated(NamedTuple):
    """What one document turned out to be.

    ``claim`` is (kind, name) when the document says what it declares, valid or not; it is
    None when even that cannot be told (no kind, unknown kind or no usable name).
    """

    resource: Resource | None
    problems: list[Problem]
    claim: tuple[str, str] | None


def plain(node: Any) -> Any:
    """The round-trip tree as plain Python (dict, list, str, int, float, bool, None, dates).

    Aliases are copied out here; the parser has bounded how many nodes that can make.
    """
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


def _claim(tree: CommentedMap) -> tuple[str, str] | None:
    kind, metadata = tree.get("kind"), tree.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if isinstance(kind, str) and kind in KINDS and isinstance(name, str):
        return kind, name
    return None


def _envelope_problems(document: Document) -> list[Problem]:
    tree = document.tree
    found: list[Problem] = []

    def at(key: str, message: str) -> Problem:
        line, column = (node_position(tree, (key,)) if key in tree
                        else (document.line, document.column))
        return problem(document.path, line, column, message)

    api_version = tree.get("apiVersion")
    if "apiVersion" not in tree:
        found.append(at("apiVersion", f"missing 'apiVersion'; every document starts with "
                                      f"apiVersion: {API_VERSION}"))
    elif api_version != API_VERSION:
        found.append(at("apiVersion", f"apiVersion must be {API_VERSION}, got {describe(api_version)}"))
    kind = tree.get("kind")
    known = ", ".join(sorted(KINDS))
    if "kind" not in tree:
        found.append(at("kind", f"missing 'kind'; it says what the document declares, one of {known}"))
    elif not isinstance(kind, str):
        found.append(at("kind", f"kind must be one of {known}; got {describe(kind)}"))
    elif kind not in KINDS:
        close = difflib.get_close_matches(kind, list(KINDS), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        found.append(at("kind", f"unknown kind {describe(kind)}; {hint}known kinds: {known}"))
    return found


def _validate(document: Document, model: type[M], data: Any,
              prefix: Loc = ()) -> tuple[M | None, list[Problem]]:
    try:
        return model.model_validate(data), []
    except ValidationError as error:
        found = []
        for item in error.errors(include_url=False):
            loc: Loc = prefix + tuple(item["loc"])
            item["loc"] = loc
            if loc[:1] == ("apiVersion",):
                continue  # the envelope check said it better
            kind = item["type"]
            line, column = node_position(document.tree, loc[:-1] if kind == "missing" else loc,
                                         at_key=kind in ("extra_forbidden", "invalid_key"))
            written = written_text(document.source, line, column)
            found.append(problem(document.path, line, column, reword(item, model, written)))
        return None, found


def validate_document(document: Document) -> Validated:
    """The resource a document declares, or every problem with it."""
    tree = document.tree
    claim = _claim(tree)
    envelope = _envelope_problems(document)
    kind = tree.get("kind")
    if isinstance(kind, str) and kind in KINDS:
        resource, problems = _validate(document, KINDS[kind], plain(tree))
        problems = envelope + problems
        return Validated(None if problems else resource, problems, claim)
    # Without a kind there is no spec model, but the envelope's metadata can still be checked.
    if "metadata" not in tree:
        envelope.append(problem(document.path, document.line, document.column,
                                "missing required field 'metadata'"))
    else:
        envelope += _validate(document, Metadata, plain(tree["metadata"]), ("metadata",))[1]
    return Validated(None, envelope, claim)
